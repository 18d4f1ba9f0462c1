#include "oess/ensemble/ensemble.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "oess/calibration/platt.h"
#include "oess/calibration/temperature.h"
#include "oess/core/error.h"

namespace oess::ensemble {

Combined combine(const std::vector<torch::Tensor>& members, train::Task task) {
  if (members.empty()) throw Error("ensemble: no members");
  const int64_t n = members[0].size(0), k = members[0].size(1);
  for (const auto& m : members)
    if (m.dim() != 2 || m.size(0) != n || m.size(1) != k)
      throw Error(fmt::format("ensemble: member probabilities of shape [{}] differ from [{}, {}]",
                              fmt::join(m.sizes(), ", "), n, k));
  const bool four = task == train::Task::kOess4;
  if ((four && k != 4) || (!four && k != 2))
    throw Error("ensemble: probability columns do not match the task");
  Combined c;
  const auto stacked = torch::stack(members).to(torch::kFloat64);  // [M, N, K]
  c.mean = stacked.mean(0).to(torch::kFloat32);
  const auto mean64 = stacked.mean(0);
  const auto member_pred = stacked.argmax(2);  // [M, N]
  const auto p_dis = four ? (mean64.select(1, 2) + mean64.select(1, 3)) : mean64.select(1, 1);
  const auto calls = four ? member_pred.ge(2) : stacked.select(2, 1).gt(0.5);  // [M, N]
  const auto diseased_votes = calls.sum(0);
  const int64_t m = static_cast<int64_t>(members.size());
  for (int64_t i = 0; i < n; ++i) {
    c.pred.push_back(static_cast<int>(mean64[i].argmax().item<int64_t>()));
    const double pd = p_dis[i].item<double>();
    c.p_diseased.push_back(pd);
    const int64_t votes = diseased_votes[i].item<int64_t>();
    c.binary_vote.push_back(2 * votes > m ? 1 : 2 * votes < m ? 0 : (pd >= 0.5 ? 1 : 0));
    const auto counts = torch::bincount(member_pred.select(1, i), {}, k);
    c.disagreement.push_back(1.0 - counts.max().item<double>() / static_cast<double>(m));
  }
  return c;
}

std::vector<std::array<double, 4>> probability_rows(const torch::Tensor& p) {
  const auto d = p.to(torch::kFloat64).contiguous();
  const auto a = d.accessor<double, 2>();
  std::vector<std::array<double, 4>> rows(static_cast<size_t>(d.size(0)));
  for (int64_t i = 0; i < d.size(0); ++i)
    for (int64_t j = 0; j < d.size(1) && j < 4; ++j)
      rows[static_cast<size_t>(i)][static_cast<size_t>(j)] = a[i][j];
  return rows;
}

torch::Tensor probability_tensor(const std::vector<std::array<double, 4>>& rows, int64_t k) {
  auto t = torch::empty({static_cast<int64_t>(rows.size()), k}, torch::kFloat64);
  auto a = t.accessor<double, 2>();
  for (size_t i = 0; i < rows.size(); ++i)
    for (int64_t j = 0; j < k; ++j) a[static_cast<int64_t>(i)][j] = rows[i][static_cast<size_t>(j)];
  return t.to(torch::kFloat32);
}

void apply_temperature(Combined& c, double temperature, train::Task task) {
  if (temperature == 1.0) return;
  const bool four = task == train::Task::kOess4;
  const int k = four ? 4 : 2;
  const auto q = calibration::scale(probability_rows(c.mean), k, temperature);
  c.mean = probability_tensor(q, k);
  for (size_t i = 0; i < q.size(); ++i) c.p_diseased[i] = four ? q[i][2] + q[i][3] : q[i][1];
}

void apply_platt(Combined& c, double a, double b, train::Task task) {
  if (task != train::Task::kBinary) throw Error("Platt scaling is for the binary task");
  if (a == 1.0 && b == 0.0) return;
  const auto q = calibration::platt_scale(probability_rows(c.mean), a, b);
  c.mean = probability_tensor(q, 2);
  for (size_t i = 0; i < q.size(); ++i) {
    c.p_diseased[i] = q[i][1];
    c.pred[i] = q[i][1] > q[i][0] ? 1 : 0;
  }
}

std::vector<train::TrainOptions> member_grid(int members, const train::TrainOptions& base) {
  if (members < 1) throw UsageError("ensemble.members must be >= 1");
  const double lr[3] = {1, 0.5, 2}, wd[3] = {1, 0.1, 10}, batch[3] = {1, 2, 0.5};
  std::vector<train::TrainOptions> out;
  for (int i = 0; i < members; ++i) {
    train::TrainOptions o = base;
    o.lr = base.lr * lr[i % 3];
    o.weight_decay = base.weight_decay * wd[(i / 3) % 3];
    o.batch = std::max(1, static_cast<int>(std::lround(base.batch * batch[(i / 9 + i) % 3])));
    o.seed = base.seed + static_cast<uint64_t>(i);
    out.push_back(o);
  }
  return out;
}

}  // namespace oess::ensemble

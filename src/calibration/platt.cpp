#include "oess/calibration/platt.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "oess/core/error.h"

namespace oess::calibration {
namespace {

double logit(const std::array<double, 4>& row) {
  return std::log(std::max(row[1], kMinProbability)) - std::log(std::max(row[0], kMinProbability));
}

// log(1 + exp(x)) without overflow.
double softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

double sigmoid(double x) { return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x)); }

void check(const Probs& p, const std::vector<int>& truth) {
  if (p.size() != truth.size())
    throw Error(fmt::format("Platt scaling: {} probability rows but {} labels", p.size(), truth.size()));
  for (size_t i = 0; i < truth.size(); ++i)
    if (truth[i] != 0 && truth[i] != 1)
      throw Error(fmt::format("Platt scaling: label {} at row {} is not 0 or 1", truth[i], i));
}

// Mean NLL of sigmoid(a z + b) at labels y, with its gradient and Hessian in (a, b).
struct Objective {
  double value = 0, ga = 0, gb = 0, haa = 0, hab = 0, hbb = 0;
};

Objective objective(const std::vector<double>& z, const std::vector<int>& y, double a, double b) {
  Objective o;
  for (size_t i = 0; i < z.size(); ++i) {
    const double s = a * z[i] + b, q = sigmoid(s), r = q - y[i], w = q * (1 - q);
    o.value += softplus(s) - y[i] * s;
    o.ga += r * z[i];
    o.gb += r;
    o.haa += w * z[i] * z[i];
    o.hab += w * z[i];
    o.hbb += w;
  }
  const double n = static_cast<double>(z.size());
  for (double* v : {&o.value, &o.ga, &o.gb, &o.haa, &o.hab, &o.hbb}) *v /= n;
  return o;
}

std::vector<double> logits(const Probs& p) {
  std::vector<double> z;
  z.reserve(p.size());
  for (const auto& row : p) z.push_back(logit(row));
  return z;
}

}  // namespace

double platt_nll(const Probs& p, const std::vector<int>& truth, double a, double b) {
  check(p, truth);
  if (p.empty()) return NAN;
  return objective(logits(p), truth, a, b).value;
}

Probs platt_scale(const Probs& p, double a, double b) {
  Probs out(p.size());
  for (size_t i = 0; i < p.size(); ++i) {
    const double q = sigmoid(a * logit(p[i]) + b);
    out[i] = {1 - q, q, 0, 0};
  }
  return out;
}

PlattFit fit_platt(const Probs& p, const std::vector<int>& truth) {
  check(p, truth);
  if (p.empty())
    throw UsageError("Platt scaling: no validation images to fit on (the split has no validation part)");
  const auto z = logits(p);
  PlattFit f;
  f.n = p.size();
  double a = 1, b = 0;
  auto o = objective(z, truth, a, b);
  f.nll_before = o.value;
  for (; f.iterations < kMaxPlattIterations; ++f.iterations) {
    if (std::hypot(o.ga, o.gb) < 1e-10) {
      f.converged = true;
      break;
    }
    // Newton step (H d = -g), or the gradient's when H is (near) singular.
    const double det = o.haa * o.hbb - o.hab * o.hab;
    double da = -o.ga, db = -o.gb;
    if (det > 1e-14 * std::max(1.0, o.haa * o.hbb)) {
      da = -(o.hbb * o.ga - o.hab * o.gb) / det;
      db = -(o.haa * o.gb - o.hab * o.ga) / det;
    }
    double step = 1;
    auto next = objective(z, truth, a + da, b + db);
    while (!(next.value <= o.value) && step > 1e-12) {
      step /= 2;
      next = objective(z, truth, a + step * da, b + step * db);
    }
    if (!(next.value <= o.value)) break;  // no descent left at double precision
    a += step * da;
    b += step * db;
    o = next;
  }
  if (!f.converged && std::hypot(o.ga, o.gb) < 1e-8) f.converged = true;
  f.a = a;
  f.b = b;
  f.nll_after = o.value;
  return f;
}

}  // namespace oess::calibration

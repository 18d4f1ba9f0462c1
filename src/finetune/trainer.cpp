// Epochs of fine-tuning: schedule, validation, early stopping, checkpoints (finetune/trainer.h).
#include "oess/finetune/trainer.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>

#include "oess/core/error.h"
#include "oess/core/random.h"
#include "oess/io/weights.h"

namespace oess::finetune {

void validate(const TrainerOptions& o) {
  auto need = [](bool ok, const std::string& msg) {
    if (!ok) throw UsageError(msg);
  };
  need(o.epochs >= 1, fmt::format("finetune.epochs: {} (at least 1)", o.epochs));
  need(o.batch >= 1, fmt::format("finetune.batch: {} (at least 1)", o.batch));
  need(o.warmup_epochs >= 0 && o.warmup_epochs < o.epochs,
       fmt::format("finetune.warmup_epochs: {} warm-up epoch(s) leave none of finetune.epochs: {} for the "
                   "schedule (warm-up must be shorter than the epochs)",
                   o.warmup_epochs, o.epochs));
  need(o.step_every >= 1, fmt::format("finetune.step_every: {} (at least 1 epoch)", o.step_every));
  need(o.step_gamma > 0 && o.step_gamma <= 1,
       fmt::format("finetune.step_gamma: {} (a factor in (0, 1])", o.step_gamma));
  need(o.patience >= 1, fmt::format("finetune.patience: {} (at least 1)", o.patience));
}

double lr_factor(const TrainerOptions& o, int e) {
  if (e < o.warmup_epochs) return static_cast<double>(e + 1) / (o.warmup_epochs + 1);
  const int t = e - o.warmup_epochs, span = o.epochs - o.warmup_epochs;
  switch (o.schedule) {
    case config::Schedule::kCosine:
      return 0.5 * (1.0 + std::cos(M_PI * t / span));
    case config::Schedule::kStep:
      return std::pow(o.step_gamma, t / o.step_every);
    case config::Schedule::kConstant:
      break;
  }
  return 1.0;
}

torch::Tensor predict(FineTuner& tuner, const torch::Tensor& x, int batch) {
  std::vector<torch::Tensor> parts;
  for (int64_t s = 0; s < x.size(0); s += batch)
    parts.push_back(tuner.probabilities(x.slice(0, s, std::min<int64_t>(x.size(0), s + batch))));
  return torch::cat(parts);
}

namespace {

constexpr int kCurveColumns = 7;

// Better than `best` by the monitor (accuracy: higher, ties by lower loss; loss: lower); equal is not better.
bool improves(const EpochPoint& p, const EpochPoint& best, config::Monitor m) {
  if (m == config::Monitor::kValLoss) return p.val_loss < best.val_loss;
  if (p.val_accuracy != best.val_accuracy) return p.val_accuracy > best.val_accuracy;
  return p.val_loss < best.val_loss;
}

struct FitState {
  std::vector<EpochPoint> curve;
  int best = 0, bad = 0;  // the best epoch (0: the start), epochs since it
  io::StateDict best_state;
};

io::StateDict with_prefix(const io::StateDict& in, const std::string& prefix) {
  io::StateDict out;
  for (const auto& [k, v] : in) out.emplace_back(prefix + k, v);
  return out;
}

std::map<std::string, torch::Tensor> strip(const std::map<std::string, torch::Tensor>& in,
                                           const std::string& prefix) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [k, v] : in)
    if (k.rfind(prefix, 0) == 0) out.emplace(k.substr(prefix.size()), v);
  return out;
}

torch::Tensor text_tensor(const std::string& s) {
  return torch::from_blob(const_cast<char*>(s.data()), {static_cast<int64_t>(s.size())}, torch::kUInt8)
      .clone();
}

void save(const std::string& path, const FineTuner& tuner, const FitState& p,
          const std::string& fingerprint) {
  io::StateDict out = with_prefix(tuner.state(), "now/");
  for (auto& kv : with_prefix(p.best_state, "best/")) out.push_back(std::move(kv));
  auto curve = torch::zeros({static_cast<int64_t>(p.curve.size()), kCurveColumns}, torch::kFloat64);
  for (size_t i = 0; i < p.curve.size(); ++i) {
    const auto& c = p.curve[i];
    const double row[kCurveColumns] = {static_cast<double>(c.epoch),
                                       c.lr_backbone,
                                       c.lr_head,
                                       c.train_loss,
                                       c.val_loss,
                                       c.val_accuracy,
                                       c.seconds};
    for (int j = 0; j < kCurveColumns; ++j) curve[static_cast<int64_t>(i)][j] = row[j];
  }
  out.emplace_back("curve", curve);
  out.emplace_back("trainer", torch::tensor({static_cast<int64_t>(p.best), static_cast<int64_t>(p.bad)}));
  out.emplace_back("fingerprint", text_tensor(fingerprint));
  io::write_torch_dict(path, out);
}

// The progress a checkpoint holds, with the tuner set to its last epoch; false (nothing changed) when the
// file is absent or of another fine-tuning (fingerprint).
bool resume(const std::string& path, FineTuner& tuner, FitState& p, const std::string& fingerprint) {
  std::error_code ec;
  if (path.empty() || !std::filesystem::is_regular_file(path, ec)) return false;
  std::map<std::string, torch::Tensor> in;
  for (auto& [k, v] : io::read_weights(path).tensors) in.emplace(k, v);
  const auto fp = in.find("fingerprint");
  if (fp == in.end() || !in.count("curve") || !in.count("trainer")) return false;
  const auto f = fp->second.contiguous();
  if (std::string(static_cast<const char*>(f.data_ptr()), static_cast<size_t>(f.numel())) != fingerprint)
    return false;
  tuner.set_state(strip(in, "now/"), path);
  const auto curve = in.at("curve").to(torch::kFloat64).contiguous();
  p.curve.clear();
  for (int64_t i = 0; i < curve.size(0); ++i) {
    const auto* r = curve[i].data_ptr<double>();
    p.curve.push_back({static_cast<int>(r[0]), r[1], r[2], r[3], r[4], r[5], r[6]});
  }
  const auto t = in.at("trainer");
  p.best = static_cast<int>(t[0].item<int64_t>());
  p.bad = static_cast<int>(t[1].item<int64_t>());
  for (const auto& [k, v] : strip(in, "best/")) p.best_state.emplace_back(k, v);
  return true;
}

double train_epoch(FineTuner& tuner, const Labelled& train, const TrainerOptions& o, int epoch) {
  const int64_t n = train.x.size(0);
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  Rng rng(mix_seed(o.seed, 0x46696e65ull /* "Fine" */, static_cast<uint64_t>(epoch)));
  rng.shuffle(order);
  double loss = 0;
  for (int64_t s = 0; s < n; s += o.batch) {
    const int64_t e = std::min<int64_t>(n, s + o.batch);
    const auto idx = torch::tensor(std::vector<int64_t>(order.begin() + s, order.begin() + e));
    loss += tuner.step(train.x.index_select(0, idx), train.y.index_select(0, idx), train.class_weights) *
            static_cast<double>(e - s);
  }
  return loss / static_cast<double>(n);
}

// Validation loss and accuracy of the network as it stands.
void score(FineTuner& tuner, const Labelled& val, int batch, EpochPoint& pt) {
  const auto prob = predict(tuner, val.x, batch);
  pt.val_loss = -prob.clamp_min(1e-12).log().gather(1, val.y.unsqueeze(1)).mean().item<double>();
  pt.val_accuracy = prob.argmax(1).eq(val.y).to(torch::kFloat64).mean().item<double>();
}

// Epoch 0: the network as it starts (the linear probe on the frozen network), scored like an epoch, so
// that fine-tuning is kept only where it beats its start on validation.
void start(FineTuner& tuner, const Labelled& train, const Labelled& val, const TrainerOptions& o,
           FitState& p) {
  const auto t0 = std::chrono::steady_clock::now();
  EpochPoint pt;
  const auto prob = predict(tuner, train.x, o.batch);
  auto loss = -prob.clamp_min(1e-12).log().gather(1, train.y.unsqueeze(1)).squeeze(1);
  if (train.class_weights.defined()) {  // as cross_entropy weights rows: sum(w_y * l) / sum(w_y)
    const auto w = train.class_weights.to(loss.dtype()).index_select(0, train.y);
    loss = loss * w / w.sum() * static_cast<double>(loss.size(0));
  }
  pt.train_loss = loss.mean().item<double>();
  score(tuner, val, o.batch, pt);
  pt.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  p.curve = {pt};
  p.best = 0;
  p.bad = 0;
  p.best_state = tuner.state();
  for (auto& [k, v] : p.best_state) v = v.clone();
}

}  // namespace

FitResult fit(FineTuner& tuner, const Labelled& train, const Labelled& val, const TrainerOptions& o,
              const std::string& checkpoint, const std::string& fingerprint, const EpochFn& on_epoch,
              const std::function<torch::Tensor(int epoch)>& train_x_for_epoch) {
  validate(o);
  if (train.x.size(0) == 0 || val.x.size(0) == 0)
    throw Error("fine-tuning needs training and validation images (the split left none)");
  FitState p;
  FitResult r;
  if (resume(checkpoint, tuner, p, fingerprint))
    r.resumed_after = static_cast<int>(p.curve.size()) - 1;
  else
    start(tuner, train, val, o, p);
  const auto& opt = tuner.options();
  for (int e = static_cast<int>(p.curve.size()) - 1; e < o.epochs && p.bad < o.patience; ++e) {
    const auto t0 = std::chrono::steady_clock::now();
    const double f = lr_factor(o, e);
    tuner.set_learning_rates(opt.lr_backbone * f, opt.lr_head * f);
    EpochPoint pt;
    pt.epoch = e + 1;
    pt.lr_backbone = opt.lr_backbone * f;
    pt.lr_head = opt.lr_head * f;
    Labelled epoch_train = train;
    if (train_x_for_epoch) epoch_train.x = train_x_for_epoch(e);
    pt.train_loss = train_epoch(tuner, epoch_train, o, e);
    score(tuner, val, o.batch, pt);
    if (!std::isfinite(pt.train_loss) || !std::isfinite(pt.val_loss)) {
      r.diverged_at = e + 1;
      break;
    }
    pt.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (improves(pt, p.curve[static_cast<size_t>(p.best)], o.monitor)) {
      p.best = pt.epoch;
      p.bad = 0;
      p.best_state = tuner.state();
      for (auto& [k, v] : p.best_state) v = v.clone();
    } else {
      ++p.bad;
    }
    p.curve.push_back(pt);
    if (!checkpoint.empty()) save(checkpoint, tuner, p, fingerprint);
    if (on_epoch) on_epoch(pt, o.epochs);
  }
  r.curve = p.curve;
  r.best_epoch = p.best;
  r.stopped_early = static_cast<int>(p.curve.size()) - 1 < o.epochs && r.diverged_at == 0;
  std::map<std::string, torch::Tensor> best(p.best_state.begin(), p.best_state.end());
  tuner.set_state(best, checkpoint.empty() ? "the best epoch's state" : checkpoint);
  return r;
}

}  // namespace oess::finetune

#include "oess/train/classifier.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <numeric>

#include "oess/config/choices.h"
#include "oess/core/error.h"
#include "oess/core/random.h"

namespace oess::train {

Task parse_task(const std::string& s) {
  return config::tasks().index(s) == 0 ? Task::kOess4 : Task::kBinary;  // tasks()' order
}
std::string task_name(Task t) { return t == Task::kBinary ? "binary" : "oess4"; }
Head parse_head(const std::string& s) {
  if (s == "softmax") return Head::kSoftmax;
  if (s == "ordinal") return Head::kOrdinal;
  throw UsageError(fmt::format("classifier.head: \"{}\": softmax or ordinal", s));
}
std::string head_name(Head h) { return h == Head::kOrdinal ? "ordinal" : "softmax"; }
int num_classes(Task t) { return t == Task::kBinary ? 2 : 4; }
int target_of(int grade, Task t) { return t == Task::kBinary ? (grade >= 2 ? 1 : 0) : grade; }

void validate(const TrainOptions& o) {
  if (!(o.lr > 0)) throw UsageError("classifier.lr must be > 0");
  if (!(o.weight_decay >= 0)) throw UsageError("classifier.weight_decay must be >= 0");
  if (o.batch < 1) throw UsageError("classifier.batch must be >= 1");
  if (o.max_epochs < 1) throw UsageError("classifier.max_epochs must be >= 1");
  if (o.patience < 1) throw UsageError("classifier.early_stopping.patience must be >= 1");
  if (o.head == Head::kOrdinal && o.task != Task::kOess4)
    throw UsageError(
        "classifier.head: ordinal orders the four OESS grades; the binary task has two classes (use "
        "softmax, which is logistic regression there)");
}

namespace {

// theta_0 and log increments -> ordered thresholds theta_0 < theta_1 < theta_2.
torch::Tensor thresholds_of(const torch::Tensor& raw) {
  return torch::cat({raw.slice(0, 0, 1), raw.slice(0, 0, 1) + torch::cumsum(torch::exp(raw.slice(0, 1)), 0)});
}

// Class log-probabilities [N, 4] of the cumulative-link model; `raw`: bias holds theta_0 and log increments.
torch::Tensor ordinal_log_probs(const LinearModel& m, const torch::Tensor& z, bool raw) {
  const auto theta = raw ? thresholds_of(m.bias) : m.bias;
  const auto eta = torch::mm(z, m.weight.t());                // [N, 1]
  const auto cum = torch::sigmoid(theta.unsqueeze(0) - eta);  // [N, 3]: P(grade <= j)
  const auto ones = torch::ones({z.size(0), 1}, cum.options());
  const auto p = torch::cat({cum, ones}, 1) - torch::cat({torch::zeros_like(ones), cum}, 1);
  return torch::log(p.clamp_min(1e-30));
}

}  // namespace

torch::Tensor LinearModel::logits(const torch::Tensor& z) const { return torch::addmm(bias, z, weight.t()); }

namespace {

// Class probabilities [N, K] of standardised features z [N, F]; `raw`: the ordinal thresholds as trained.
torch::Tensor probs_of(const LinearModel& m, const torch::Tensor& z, bool raw) {
  if (m.head == Head::kOrdinal) return torch::exp(ordinal_log_probs(m, z, raw));
  const auto l = m.logits(z);
  if (m.task == Task::kBinary) {
    const auto p1 = torch::sigmoid(l.squeeze(1));
    return torch::stack({1 - p1, p1}, 1);
  }
  return torch::softmax(l, 1);
}

// Clips' aggregated probabilities from standardised frame rows z [N, F, C] (NaN rows: padding).
torch::Tensor clip_probs(const LinearModel& m, const torch::Tensor& z, const torch::Tensor& valid, bool raw) {
  const int64_t n = z.size(0), f = z.size(1);
  const auto p = probs_of(m, z.reshape({n * f, z.size(2)}).nan_to_num(0.0), raw);
  return aggregate_frames(p.view({n, f, p.size(1)}), valid, m.aggregate);
}

}  // namespace

torch::Tensor valid_frames(const torch::Tensor& x) { return x.select(2, 0).isnan().logical_not(); }

torch::Tensor aggregate_frames(const torch::Tensor& p, const torch::Tensor& valid, const std::string& rule) {
  if (p.dim() != 3 || valid.sizes() != p.sizes().slice(0, 2))
    throw Error(fmt::format("aggregate_frames: probabilities [{}] and frames [{}] do not match",
                            fmt::join(p.sizes(), ", "), fmt::join(valid.sizes(), ", ")));
  const auto count = valid.sum(1);
  if (p.size(0) > 0 && count.min().item<int64_t>() < 1) throw Error("aggregate_frames: a clip with no frame");
  const auto v = valid.to(p.scalar_type());
  if (rule == "mean_probability") return (p * v.unsqueeze(2)).sum(1) / count.to(p.scalar_type()).unsqueeze(1);
  if (rule != "max_grade")
    throw UsageError(fmt::format("data.clip.aggregate \"{}\": max_grade or mean_probability", rule));
  const int64_t k = p.size(2);
  // Predicted grade first, then the expected grade (< k, so it only breaks ties); padding never wins.
  const auto grades = torch::arange(k, p.options());
  const auto key = p.argmax(2).to(p.scalar_type()) * static_cast<double>(k) + (p * grades).sum(2);
  const auto masked =
      torch::where(valid, key, torch::full_like(key, -std::numeric_limits<double>::infinity()));
  const auto idx = masked.argmax(1);  // the first of equal maxima
  return p.gather(1, idx.view({-1, 1, 1}).expand({p.size(0), 1, k})).squeeze(1);
}

torch::Tensor LinearModel::probabilities(const torch::Tensor& x) const {
  if (x.dim() == 3) {
    if (aggregate == "none")
      throw Error("classifier: clip features [N, F, C] need a rule (data.clip.aggregate)");
    return clip_probs(*this, (x - mean) / std, valid_frames(x), false);
  }
  return probs_of(*this, (x - mean) / std, false);
}

torch::Tensor objective(const LinearModel& m, const torch::Tensor& z, const torch::Tensor& targets,
                        const torch::Tensor& row_weights, double weight_decay, bool raw_thresholds,
                        const torch::Tensor& soft) {
  torch::Tensor per_row;
  const bool by_soft = soft.defined();  // the readers' grade distribution [N, 4] instead of one class
  if (m.head == Head::kOrdinal) {
    const auto lp = ordinal_log_probs(m, z, raw_thresholds);
    per_row = by_soft ? -(soft * lp).sum(1) : torch::nll_loss(lp, targets, {}, at::Reduction::None);
    return (per_row * row_weights).sum() / row_weights.sum() + 0.5 * weight_decay * m.weight.pow(2).sum();
  }
  const auto l = m.logits(z);
  if (m.task == Task::kBinary)
    per_row = torch::binary_cross_entropy_with_logits(
        l.squeeze(1), by_soft ? soft.select(1, 2) + soft.select(1, 3) : targets.to(l.scalar_type()), {}, {},
        at::Reduction::None);
  else
    per_row = by_soft ? -(soft * torch::log_softmax(l, 1)).sum(1)
                      : torch::nll_loss(torch::log_softmax(l, 1), targets, {}, at::Reduction::None);
  return (per_row * row_weights).sum() / row_weights.sum() + 0.5 * weight_decay * m.weight.pow(2).sum();
}

size_t best_epoch_index(const std::vector<CurvePoint>& c, config::Monitor monitor) {
  const bool by_loss = monitor == config::Monitor::kValLoss;
  size_t best = 0;
  for (size_t i = 1; i < c.size(); ++i) {
    const bool better =
        by_loss ? c[i].val_loss < c[best].val_loss
                : (c[i].val_accuracy > c[best].val_accuracy ||
                   (c[i].val_accuracy == c[best].val_accuracy && c[i].val_loss < c[best].val_loss));
    if (better) best = i;
  }
  return best;
}

namespace {

torch::Tensor targets_tensor(const std::vector<int>& grades, Task t) {
  std::vector<int64_t> v;
  for (int g : grades) {
    if (g < 0 || g > 3) throw Error(fmt::format("grade {} outside 0..3", g));
    v.push_back(target_of(g, t));
  }
  return torch::tensor(v, torch::kLong);
}

// Balanced class weights (n / (classes present x count)) per row, or ones.
torch::Tensor row_weights(const torch::Tensor& t, const TrainOptions& o) {
  const int64_t n = t.size(0);
  if (!o.class_weights) return torch::ones({n});
  const auto counts = torch::bincount(t, {}, num_classes(o.task)).to(torch::kFloat32);
  const auto present = (counts > 0).sum().to(torch::kFloat32);
  const auto per_class = torch::where(counts > 0, n / (present * counts), torch::zeros_like(counts));
  return per_class.index_select(0, t);
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(LinearModel& m, const TrainOptions& o) {
  std::vector<torch::Tensor> params{m.weight, m.bias};
  if (o.optimizer == config::Optimizer::kAdam)
    return std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(o.lr));
  if (o.optimizer == config::Optimizer::kSgd)
    return std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(o.lr).momentum(o.momentum));
  return std::make_unique<torch::optim::LBFGS>(params, torch::optim::LBFGSOptions(o.lr)
                                                           .max_iter(20)
                                                           .history_size(20)
                                                           .tolerance_grad(1e-9)
                                                           .tolerance_change(1e-12)
                                                           .line_search_fn("strong_wolfe"));
}

// The standardised training set and what one epoch needs.
struct Fit {
  LinearModel& m;
  const TrainOptions& o;
  torch::Tensor z, t, w;  // standardised features, targets, row weights
  torch::Tensor soft;     // soft targets [N, 4], or undefined
  torch::optim::Optimizer& opt;
  Rng& rng;
  std::vector<int64_t>& order;
};

// One epoch: LBFGS on the whole set, else shuffled mini-batches; the mean training loss.
double train_epoch(Fit& f) {
  torch::GradMode::set_enabled(true);
  double train_loss = 0;
  if (f.o.optimizer == config::Optimizer::kLbfgs) {
    auto closure = [&] {
      f.opt.zero_grad();
      auto loss = objective(f.m, f.z, f.t, f.w, f.o.weight_decay, true, f.soft);
      loss.backward();
      return loss;
    };
    train_loss = static_cast<torch::optim::LBFGS&>(f.opt).step(closure).item<double>();
  } else {
    const int64_t n = f.z.size(0);
    f.rng.shuffle(f.order);
    const auto idx_all = torch::tensor(f.order, torch::kLong);
    double sum = 0;
    for (int64_t s = 0; s < n; s += f.o.batch) {
      const auto idx = idx_all.slice(0, s, std::min(n, s + f.o.batch));
      f.opt.zero_grad();
      auto loss = objective(f.m, f.z.index_select(0, idx), f.t.index_select(0, idx), f.w.index_select(0, idx),
                            f.o.weight_decay, true, f.soft.defined() ? f.soft.index_select(0, idx) : f.soft);
      loss.backward();
      f.opt.step();
      sum += loss.item<double>() * static_cast<double>(idx.size(0));
    }
    train_loss = sum / static_cast<double>(n);
  }
  torch::GradMode::set_enabled(false);
  return train_loss;
}

// Validation loss (data term only, comparable across runs) and accuracy; clips (`valid` defined): of the
// aggregated probabilities.
std::pair<double, double> val_figures(const LinearModel& m, const torch::Tensor& zv, const torch::Tensor& tv,
                                      const torch::Tensor& wv, const torch::Tensor& valid) {
  if (valid.defined()) {
    const auto p = clip_probs(m, zv, valid, true);
    const auto loss = torch::nll_loss(torch::log(p.clamp_min(1e-12)), tv).item<double>();
    return {loss, p.argmax(1).eq(tv).to(torch::kFloat64).mean().item<double>()};
  }
  const auto loss = objective(m, zv, tv, wv, 0.0, true).item<double>();
  const auto pred = m.head == Head::kOrdinal  ? ordinal_log_probs(m, zv, true).argmax(1)
                    : m.task == Task::kBinary ? (m.logits(zv).squeeze(1) > 0).to(torch::kLong)
                                              : m.logits(zv).argmax(1);
  return {loss, pred.eq(tv).to(torch::kFloat64).mean().item<double>()};
}

void check_inputs(const torch::Tensor& x_train, const std::vector<int>& y_train, const torch::Tensor& x_val,
                  const std::vector<int>& y_val, const TrainOptions& o, const torch::Tensor& soft_train) {
  validate(o);
  if (x_train.size(0) == 0 || x_val.size(0) == 0)
    throw Error("train_classifier: empty training or validation set");
  if (x_train.size(0) != static_cast<int64_t>(y_train.size()) ||
      x_val.size(0) != static_cast<int64_t>(y_val.size()))
    throw Error("train_classifier: feature rows and labels differ in number");
  if (soft_train.defined() &&
      (soft_train.dim() != 2 || soft_train.size(0) != x_train.size(0) || soft_train.size(1) != 4))
    throw Error("train_classifier: soft targets must be [training rows, 4]");
}

// Clips' frames as rows [frames, C] (padding left out), each with its clip's grade in y_frames.
torch::Tensor frame_rows(const torch::Tensor& clips, const std::vector<int>& y, std::vector<int>& y_frames) {
  const auto valid = valid_frames(clips);
  const auto per_clip = valid.sum(1);
  for (size_t i = 0; i < y.size(); ++i)
    y_frames.insert(y_frames.end(), static_cast<size_t>(per_clip[static_cast<int64_t>(i)].item<int64_t>()),
                    y[i]);
  return clips.reshape({-1, clips.size(2)}).index({valid.reshape({-1})});
}

}  // namespace

TrainResult train_classifier(const torch::Tensor& x_train, const std::vector<int>& y_train,
                             const torch::Tensor& x_val, const std::vector<int>& y_val, const TrainOptions& o,
                             const torch::Tensor& soft_train) {
  check_inputs(x_train, y_train, x_val, y_val, o, soft_train);
  if (x_train.dim() == 3) {  // clips: train on every frame with its clip's grade, validate on the clips
    if (soft_train.defined()) throw UsageError("data.label: soft with data.clip.aggregate is not supported");
    if (o.aggregate == "none" || x_val.dim() != 3)
      throw Error("train_classifier: clip features [N, F, C] need classifier aggregate and clip validation");
    std::vector<int> y_frames;
    const auto frames = frame_rows(x_train, y_train, y_frames);
    return train_classifier(frames, y_frames, x_val, y_val, o);
  }
  const int64_t n = x_train.size(0), f = x_train.size(1);
  const bool ordinal = o.head == Head::kOrdinal;
  const int k_out = o.task == Task::kBinary || ordinal ? 1 : 4;
  torch::NoGradGuard outer_no_grad;
  LinearModel m;
  m.task = o.task;
  m.head = o.head;
  const auto xt = x_train.to(torch::kFloat32);
  m.mean = xt.mean(0);
  m.std = xt.std(0, /*unbiased=*/false);
  m.std = torch::where(m.std > 0, m.std, torch::ones_like(m.std));
  m.aggregate = o.aggregate;
  const auto zv = (x_val.to(torch::kFloat32) - m.mean) / m.std;
  const torch::Tensor valid = x_val.dim() == 3 ? valid_frames(x_val) : torch::Tensor();
  const auto tv = targets_tensor(y_val, o.task);
  const auto wv = torch::ones({x_val.size(0)});  // validation rows weigh alike
  // Zero initial weights: deterministic, and the convex objective does not need symmetry breaking.
  m.weight = torch::zeros({k_out, f}).set_requires_grad(true);
  m.bias = torch::zeros({k_out}).set_requires_grad(true);
  const auto t = targets_tensor(y_train, o.task);
  if (ordinal) {  // thresholds start at the training grades' cumulative log-odds (beta = 0 fits them exactly)
    const auto share = torch::bincount(t, {}, 4).to(torch::kFloat64) / static_cast<double>(n);
    const auto cum = torch::cumsum(share, 0).slice(0, 0, 3).clamp(1e-3, 1 - 1e-3);
    const auto theta = torch::log(cum / (1 - cum));
    const auto steps = (theta.slice(0, 1) - theta.slice(0, 0, 2)).clamp_min(1e-2);
    m.bias =
        torch::cat({theta.slice(0, 0, 1), torch::log(steps)}).to(torch::kFloat32).set_requires_grad(true);
  }
  auto opt = make_optimizer(m, o);
  Rng rng(mix_seed(o.seed, 0xC1A5));
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  Fit fit{m,
          o,
          (xt - m.mean) / m.std,
          t,
          row_weights(t, o),
          soft_train.defined() ? soft_train.to(torch::kFloat32) : soft_train,
          *opt,
          rng,
          order};

  TrainResult r;
  torch::Tensor best_w = m.weight.detach().clone(), best_b = m.bias.detach().clone();
  int since_best = 0;
  for (int epoch = 1; epoch <= o.max_epochs; ++epoch) {
    const double train_loss = train_epoch(fit);
    const auto [val_loss, val_acc] = val_figures(m, zv, tv, wv, valid);
    r.curve.push_back({epoch, train_loss, val_loss, val_acc});
    if (best_epoch_index(r.curve, o.monitor) == r.curve.size() - 1) {
      best_w = m.weight.detach().clone();
      best_b = m.bias.detach().clone();
      since_best = 0;
    } else if (++since_best >= o.patience) {
      break;
    }
  }
  const size_t b = best_epoch_index(r.curve, o.monitor);
  r.best_epoch = r.curve[b].epoch;
  r.best_val_accuracy = r.curve[b].val_accuracy;
  r.best_val_loss = r.curve[b].val_loss;
  m.weight = best_w;
  m.bias = ordinal ? thresholds_of(best_b) : best_b;  // stored as the thresholds themselves
  r.model = m;
  return r;
}

}  // namespace oess::train

#pragma once
// oess/train/classifier.h — linear classifiers on backbone features, trained as the study did.
//
// Tasks: binary (healthy = grades 0-1 vs diseased = 2-3): logistic regression, one logit, P(diseased) =
// sigmoid(x.w + b); oess4 (grades 0-3): softmax regression, four logits — or, with head ordinal, a
// cumulative-link (proportional-odds, logit) model: one score eta = z.beta and three ordered thresholds
// theta_0 < theta_1 < theta_2, P(grade <= j) = sigmoid(theta_j - eta), so P(0) = sigmoid(theta_0 - eta),
// P(j) = sigmoid(theta_j - eta) - sigmoid(theta_{j-1} - eta), P(3) = 1 - sigmoid(theta_2 - eta). The
// thresholds are trained as theta_0 and log increments (statsmodels' OrderedModel parameterisation), so they
// stay ordered; weight decay penalises beta only. Stored as weight [1, F] = beta and bias [3] = thresholds.
// Features are standardised with the mean and standard deviation of the training rows only (a constant
// feature gets std 1). Objective: the mean (optionally class-weighted, weights normalised to mean 1 over
// the training rows) cross-entropy + weight_decay / 2 * ||W||^2 (the bias is not penalised) — so
// weight_decay = 1 / (C * n) reproduces scikit-learn's LogisticRegression(C) objective.
// Optimisers: adam and sgd (with momentum) in shuffled mini-batches (one seeded order per epoch); lbfgs on
// the full batch (strong-Wolfe line search) for fits to convergence.
// Early stopping: after every epoch the validation set is scored; the best epoch by the monitor
// (validation accuracy, ties broken by lower validation loss; or validation loss alone) is kept, training
// stops after `patience` epochs without improvement, and the best weights are restored. The curve
// (epoch, train loss, val loss, val accuracy) is returned for curve.csv.
// Deterministic: the same data, options and seed give bit-identical weights on the CPU (one thread).
//
// Clips with a frame-level classifier (data.clip.aggregate, issue #33): features [N, F, C], a clip's F frame
// rows (rows of NaN pad a clip with fewer frames). Training takes every frame with its clip's grade; the
// standardisation is over the training frames. A clip's probabilities come from its frames' by the rule:
//   max_grade         those of the frame with the highest predicted grade (argmax), ties the highest
//                     expected grade sum_k k p_k (binary: the highest P(diseased)), then the earliest frame
//                     — the examiner's "frame with the most Doppler";
//   mean_probability  the mean of the frames' probabilities.
// Early stopping and validation figures are the clips', from the aggregated probabilities (the loss is
// their negative log-likelihood).
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "oess/config/choices.h"

namespace oess::train {

enum class Task { kBinary, kOess4 };
Task parse_task(const std::string& s);  // binary | oess4
std::string task_name(Task t);
int num_classes(Task t);  // 2 | 4
// The class a grade is for this task.
int target_of(int grade, Task t);

enum class Head { kSoftmax, kOrdinal };
Head parse_head(const std::string& s);  // softmax | ordinal
std::string head_name(Head h);

struct TrainOptions {
  Task task = Task::kOess4;
  Head head = Head::kSoftmax;  // ordinal: oess4 only
  config::Optimizer optimizer = config::Optimizer::kAdam;
  double lr = 1e-3;
  double weight_decay = 1e-4;
  double momentum = 0.9;  // sgd
  int batch = 64;
  int max_epochs = 200;
  int patience = 10;
  config::Monitor monitor = config::Monitor::kValAccuracy;
  bool class_weights = false;  // weight rows n / (k n_c)
  uint64_t seed = 0;
  std::string aggregate = "none";  // features [N, F, C]: max_grade | mean_probability (data.clip.aggregate)
};
void validate(const TrainOptions& o);  // UsageError naming the option

struct LinearModel {
  Task task = Task::kOess4;
  Head head = Head::kSoftmax;
  torch::Tensor mean, std;         // [F] standardisation
  torch::Tensor weight;            // [K', F], K' = 1 (binary, ordinal) or 4
  torch::Tensor bias;              // [K'] (ordinal: [3], the thresholds)
  std::string aggregate = "none";  // a frame-level classifier's rule for [N, F, C] features
  // Class probabilities [N, K] (binary: [P(healthy), P(diseased)]) for raw (unstandardised) features [N, C],
  // or clips' [N, F, C] by `aggregate` (Error when it is none).
  torch::Tensor probabilities(const torch::Tensor& x) const;
  torch::Tensor logits(const torch::Tensor& standardised) const;
};

struct CurvePoint {
  int epoch;
  double train_loss, val_loss, val_accuracy;
};

struct TrainResult {
  LinearModel model;
  std::vector<CurvePoint> curve;
  int best_epoch = 0;
  double best_val_accuracy = 0, best_val_loss = 0;
};

// Clips' probabilities [N, K] from their frames' p [N, F, K], `valid` [N, F] (bool: a frame, not padding),
// by the rule (max_grade | mean_probability; UsageError otherwise). A clip needs one valid frame.
torch::Tensor aggregate_frames(const torch::Tensor& p, const torch::Tensor& valid, const std::string& rule);
// [N, F, C] clip features -> which frame rows are frames (not NaN padding): [N, F] bool.
torch::Tensor valid_frames(const torch::Tensor& x);

// x_*: [N, F] float (or clips [N, F, C] with o.aggregate); y_*: grades 0..3 (mapped to the task's classes
// here). requires: non-empty training and validation sets, same F.
// soft_train (data.label: soft, issue #34): [training rows, 4] grade distributions (the readers' shares) that
// replace the one-class targets in the training loss: cross-entropy -sum_k q_k log p_k (binary: the logistic
// loss on P(diseased) = q_2 + q_3); the class weights and the validation still use y (the consensus).
TrainResult train_classifier(const torch::Tensor& x_train, const std::vector<int>& y_train,
                             const torch::Tensor& x_val, const std::vector<int>& y_val, const TrainOptions& o,
                             const torch::Tensor& soft_train = {});

// The objective and its gradient for standardised features (exposed for the hand-computed tests).
// targets: the task's classes; row_weights: [N] (ones for unweighted). raw_thresholds (ordinal head, while
// training): m.bias holds theta_0 and the log increments instead of the thresholds.
torch::Tensor objective(const LinearModel& m, const torch::Tensor& standardised, const torch::Tensor& targets,
                        const torch::Tensor& row_weights, double weight_decay, bool raw_thresholds = false,
                        const torch::Tensor& soft = {});

// Index of the best epoch of a curve by the monitor (val_accuracy: highest, ties by lowest val_loss, then
// earliest; val_loss: lowest, then earliest).
size_t best_epoch_index(const std::vector<CurvePoint>& curve, config::Monitor monitor);

}  // namespace oess::train

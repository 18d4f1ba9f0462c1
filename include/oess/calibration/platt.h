#pragma once
// oess/calibration/platt.h — Platt scaling of binary probabilities (torch-free).
//
// Scaling: P(diseased) p becomes q = sigmoid(a * logit(p) + b), logit(p) = log p - log(1 - p) with both
// probabilities clamped below at kMinProbability (temperature.h). a = 1/T, b = 0 is temperature scaling; b
// moves the decision point too, so unlike temperature scaling Platt can change binary calls near 0.5.
//
// fit_platt(p, truth)
//   The (a, b) minimising the mean negative log-likelihood of q at the labels (0 or 1) on these images (the
//   validation set: never the test set): a logistic regression of the labels on logit(p), unpenalised, with
//   plain 0/1 targets (not Platt's smoothed ones). Newton's method on the convex objective with step halving,
//   to a gradient below 1e-10, at most kMaxPlattIterations steps; validation images that one threshold on p
//   separates perfectly have no finite optimum: the fit stops there with converged = false (the caller says
//   so).
//   errors: UsageError when there are no images; Error when truth and p differ in length or a label is not
//   0/1.
// platt_nll(p, truth, a, b): that objective. platt_scale(p, a, b): the scaled rows ([0] = 1 - q, [1] = q).
#include <cstddef>
#include <vector>

#include "oess/calibration/temperature.h"

namespace oess::calibration {

constexpr int kMaxPlattIterations = 100;

struct PlattFit {
  double a = 1, b = 0;
  double nll_before = 0, nll_after = 0;  // at (1, 0) and at the fit
  size_t n = 0;
  int iterations = 0;
  bool converged = false;
};

PlattFit fit_platt(const Probs& p, const std::vector<int>& truth);
double platt_nll(const Probs& p, const std::vector<int>& truth, double a, double b);
Probs platt_scale(const Probs& p, double a, double b);

}  // namespace oess::calibration

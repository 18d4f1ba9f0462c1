#pragma once
// oess/ensemble/ensemble.h — combining classifiers, as the study did and one step past it.
//
// combine(member_probs, task)
//   member_probs: one [N, K] probability tensor per member (K = 4 for oess4 members, 2 for binary members).
//   ensures:
//     mean         the mean of the members' probabilities [N, K]; pred = its argmax (the study's 4-class
//                  ensemble "combining the scores of each classifier in a single score")
//     binary_vote  the majority of the members' healthy/diseased calls (a member calls diseased when its
//                  own prediction is grade 2 or 3, or P(diseased) > 0.5 for binary members) — the study's
//                  Table 5; a tie (even N) goes to the mean P(diseased) >= 0.5
//     p_diseased   the mean P(diseased) (P2 + P3 for 4-class members)
//     disagreement 1 - (largest number of members agreeing on one class) / N: 0 when unanimous
// member_grid(n, base): the documented variation of training settings for member m (0-based):
//   lr = base.lr x {1, 0.5, 2}[m % 3], weight_decay = base.weight_decay x {1, 0.1, 10}[(m / 3) % 3],
//   batch = base.batch x {1, 2, 0.5}[(m / 9 + m) % 3] (at least 1), seed = base.seed + m.
#include <torch/types.h>

#include <array>
#include <vector>

#include "oess/train/classifier.h"

namespace oess::ensemble {

struct Combined {
  torch::Tensor mean;            // [N, K]
  std::vector<int> pred;         // argmax of mean
  std::vector<int> binary_vote;  // 0 healthy, 1 diseased
  std::vector<double> p_diseased;
  std::vector<double> disagreement;
};

Combined combine(const std::vector<torch::Tensor>& member_probs, train::Task task);

// Temperature scaling of a combination (calibration/temperature.h): mean <- softmax(log(mean) / T) and
// p_diseased from it; pred keeps (the most probable class does not change), and binary_vote and
// disagreement stay the members' own. T = 1 changes nothing.
void apply_temperature(Combined& c, double temperature, train::Task task);
// Platt scaling of a binary combination (calibration/platt.h): P(diseased) <- sigmoid(a logit + b), and
// pred from it (b can move the call); binary_vote and disagreement stay the members' own. (1, 0) changes
// nothing. requires: task binary (else Error).
void apply_platt(Combined& c, double a, double b, train::Task task);
// The [N, K] probability tensor as rows, and back (float32), for calibration's torch-free functions.
std::vector<std::array<double, 4>> probability_rows(const torch::Tensor& p);
torch::Tensor probability_tensor(const std::vector<std::array<double, 4>>& rows, int64_t k);

std::vector<train::TrainOptions> member_grid(int members, const train::TrainOptions& base);

}  // namespace oess::ensemble

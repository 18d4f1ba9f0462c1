#pragma once
// oess/metrics/readers.h — several readers' grades of the same images (issue #34): how much they agree, a
// consensus, and the model as one more reader (torch-free).
//
// ReaderTable: grades[subject][reader] in 0..k-1, or kMissing; units[subject] the patient (bootstrap unit;
// empty: each subject its own).
//
// cohen_kappa(a, b, k, w)      Cohen's kappa (metrics.h's definition and weights) on the subjects both
// graded;
//                              NaN when fewer than 2 or undefined.
// fleiss_kappa(t)              Fleiss (1971) on the subjects every reader graded: P_i = (sum_j n_ij^2 - m) /
//                              (m (m - 1)), P_bar their mean, p_j the grade shares, P_e = sum p_j^2,
//                              kappa = (P_bar - P_e) / (1 - P_e) (statsmodels' fleiss_kappa).
// krippendorff_alpha_ordinal(t) Krippendorff's alpha with the ordinal metric, on every subject with two
// grades
//                              or more (missing grades allowed): coincidences o_ck = sum_u (pairs of values
//                              c, k in unit u) / (m_u - 1); n_c = sum_k o_ck; delta_ck = (sum_{g from c to
//                              k} n_g - (n_c + n_k) / 2)^2; alpha = 1 - (n - 1) sum o_ck delta_ck / sum_{c,k}
//                              n_c n_k delta_ck.
// icc(t)                       Shrout & Fleiss (1979) on the subjects every reader graded, from the two-way
//                              ANOVA mean squares (subjects MSR, readers MSC, residual MSE; n subjects, m
//                              readers): ICC(2,1) = (MSR - MSE) / (MSR + (m - 1) MSE + m (MSC - MSE) / n)
//                              (random readers, absolute agreement), ICC(3,1) = (MSR - MSE) / (MSR + (m - 1)
//                              MSE) (fixed readers, consistency).
// consensus(t, rule)           each subject's consensus (data/readers.h's rules), kMissing when none graded.
// bootstrap_ci(t, stat, ...)   the percentile 95% interval of stat over resamples of the units (patients).
// model_as_reader(t, model, ...) the model beside the readers (below).
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "oess/data/readers.h"
#include "oess/metrics/metrics.h"

namespace oess::metrics {

inline constexpr int kMissing = data::kNoGrade;
using data::ConsensusRule;

struct ReaderTable {
  std::vector<std::string> readers;
  std::vector<std::vector<int>> grades;  // [subject][reader]
  std::vector<std::string> units;        // per subject (patients); empty: subjects are the units
  int k = 4;
  std::vector<int> column(size_t reader) const;
  // The subjects every reader graded.
  std::vector<size_t> complete() const;
  // The same readers on the subjects `rows` (repeats allowed: a bootstrap resample).
  ReaderTable rows(const std::vector<size_t>& rows) const;
};

// Two readers' confusion (rows a, columns b) on the subjects both graded; its n() is how many.
Confusion graded_confusion(const std::vector<int>& a, const std::vector<int>& b, int k);
double cohen_kappa(const std::vector<int>& a, const std::vector<int>& b, int k, KappaWeights w);
double fleiss_kappa(const ReaderTable& t);
double krippendorff_alpha_ordinal(const ReaderTable& t);
struct Icc {
  double icc_2_1 = 0, icc_3_1 = 0;
  int subjects = 0;
};
Icc icc(const ReaderTable& t);

std::vector<int> consensus(const ReaderTable& t, ConsensusRule rule);

// 95% percentile interval of stat(resample) over `resamples` resamples of t's units with replacement
// (every subject of a drawn unit); NaN values are left out.
std::pair<double, double> bootstrap_ci(const ReaderTable& t,
                                       const std::function<double(const ReaderTable&)>& stat, int resamples,
                                       uint64_t seed);

// The model as a reader, with quadratic-weighted kappa (the ordinal scale's):
//   model_kappa[r]   kappa(model, reader r); model_consensus  kappa(model, the readers' consensus);
//   pairs            kappa of each reader pair (i < j), in order;
//   reader_loo[r]    kappa(reader r, the consensus of the other readers)  — never a consensus holding r;
//   model_loo[r]     kappa(model, the same consensus of the others);
//   difference       mean_r (model_loo[r] - reader_loo[r]), with its percentile 95% interval over resamples
//                    of the patients (paired: the same subjects for model and readers);
//   verdict          "above" (interval above 0), "below" (below 0), "within" (holds 0).
// requires: two readers or more; model[i] a grade per subject.
struct ModelAsReader {
  std::vector<double> model_kappa, reader_loo, model_loo;
  std::vector<std::pair<std::pair<size_t, size_t>, double>> pairs;
  double model_consensus = 0;
  double difference = 0, lo = 0, hi = 0;
  std::string verdict;
  std::string sentence;  // the report's one sentence
};
ModelAsReader model_as_reader(const ReaderTable& t, const std::vector<int>& model, ConsensusRule rule,
                              int resamples, uint64_t seed);

// Everything `oess agreement` and a run's report say of the readers (resamples of the units for the CIs):
// per pair the three Cohen's kappas with 95% intervals; Fleiss' kappa, Krippendorff's alpha (ordinal),
// ICC(2,1) and ICC(3,1) with theirs; each reader's grade counts; with `model` (a grade per subject, or
// empty), the model as a reader.
struct PairAgreement {
  size_t a = 0, b = 0;
  int n = 0;                                                          // subjects both graded
  double kappa[3] = {0, 0, 0}, lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0};  // unweighted, linear, quadratic
};
struct Statistic {
  double value = 0, lo = 0, hi = 0;
  int n = 0;  // subjects it used
};
struct Agreement {
  ReaderTable table;
  int resamples = 0;
  uint64_t seed = 0;
  std::vector<PairAgreement> pairs;
  Statistic fleiss, alpha, icc21, icc31;
  std::vector<std::vector<int>> counts;  // [reader][grade]
  std::vector<int> graded;               // per reader
  bool has_model = false;
  ModelAsReader model;
};
Agreement agreement(const ReaderTable& t, const std::vector<int>& model, ConsensusRule rule, int resamples,
                    uint64_t seed);
// The figures as JSON (keys name each statistic: fleiss_kappa, krippendorff_alpha_ordinal, icc_2_1, icc_3_1,
// pairs[].kappa.unweighted|linear|quadratic, model_as_reader) and as console text; `pair` (two reader
// indices, or none) adds their confusion table.
std::string agreement_json(const Agreement& a, const std::pair<int, int>& pair = {-1, -1});
std::string agreement_text(const Agreement& a, const std::pair<int, int>& pair = {-1, -1});

}  // namespace oess::metrics

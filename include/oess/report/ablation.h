#pragma once
// oess/report/ablation.h — an ablation grid's summary: one row per variant, its figures and its paired
// difference from the reference (metrics/paired.h).
//
// write_ablation(dir, rows, about)
//   ensures: DIR/ablation.csv (one row per variant, in grid order: name, settings, n, accuracy and
//   quadratic kappa with their 95% CIs, the paired differences from the reference with their CIs, the
//   discordant pairs, McNemar p and Holm-adjusted p, flagged), DIR/ablation.md (the table sorted by the
//   accuracy difference, largest first, with how to read it) and DIR/ablation.html (the same with a forest
//   plot of the accuracy differences, also DIR/plots/ablation_forest.png). With `taps`: ablation_taps.csv
//   and a second table, each variant's taps against the tap it selected (Holm over the variant's taps).
// format_ablation(rows) — the console's table, sorted like ablation.md.
#include <string>
#include <vector>

#include "oess/metrics/paired.h"

namespace oess::report {

struct AblationRow {
  std::string name, settings;
  bool reference = false;
  bool paired = false;  // compared with the reference (else `note` says why not)
  std::string note;
  int64_t n = 0;
  double accuracy = 0, accuracy_lo = 0, accuracy_hi = 0;  // the variant's own figures (its metrics.json)
  double kappa = 0, kappa_lo = 0, kappa_hi = 0;           // quadratic
  metrics::PairedDifference diff;                         // variant - reference
  double holm_p = 1;
  bool flagged = false;  // Holm-adjusted McNemar p < 0.05
};

// One tap of a variant's sweep against the tap the variant selected, on the same test images.
struct TapComparison {
  std::string variant, tap, selected;
  metrics::PairedDifference diff;  // tap - selected
  double holm_p = 1;               // over the variant's taps
  bool flagged = false;
};

void write_ablation(const std::string& dir, const std::vector<AblationRow>& rows,
                    const std::vector<TapComparison>& taps, const std::string& about);
std::string format_ablation(const std::vector<AblationRow>& rows);

}  // namespace oess::report

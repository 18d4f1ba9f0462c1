// `oess sweep`'s chain: from a feature file rather than a config, and the cross-tap ensemble
// (experiment/chain.h).
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <numeric>
#include <unordered_set>

#include "oess/core/error.h"
#include "oess/experiment/chain.h"
#include "oess/features/feature_file.h"

namespace oess::experiment {

Chain chain_from_features(const std::string& features_file, const std::string& manifest, const Settings& s) {
  Chain c;
  c.s = s;
  c.features = features::read_feature_file(features_file);
  c.manifest = data::read_manifest(manifest, /*check_files=*/false);
  // Feature rows are matched to manifest rows by path, so the files need not be in the same order.
  std::unordered_set<std::string> have(c.features.paths.begin(), c.features.paths.end());
  for (const auto& smp : c.manifest.samples)
    if (!have.count(smp.rel_path))
      throw Error(
          fmt::format("{}:{}: {} has no row in {}", c.manifest.file, smp.line, smp.rel_path, features_file));
  if (config::cross_validated(s.split.method)) return c;  // kfold_data splits (experiment/kfold.h)
  c.split = data::make_split(c.manifest, s.split);
  const auto train_idx = c.split.indices(data::Part::kTrain);
  c.items = s.balance == config::Balance::kOversample
                ? data::oversample(train_idx, c.manifest.scores(), s.seed)
                : data::no_balancing(train_idx);
  return c;
}

Chain cross_tap_ensemble(const Chain& c, int k) {
  std::vector<size_t> order(c.sweep.taps.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    return c.sweep.taps[x].val_accuracy > c.sweep.taps[y].val_accuracy;
  });
  Chain cross = c;
  cross.members.clear();
  std::vector<torch::Tensor> probs;
  std::vector<std::string> names;
  for (size_t i = 0; i < std::min(order.size(), static_cast<size_t>(std::max(k, 0))); ++i) {
    const auto& t = c.sweep.taps[order[i]];
    cross.members.push_back({t.tap, c.s.train, t.fit.model, t.test_probabilities});
    probs.push_back(t.test_probabilities);
    names.push_back(t.tap);
  }
  cross.final = ensemble::combine(probs, c.s.train.task);
  cross.final_label = fmt::format("Cross-tap ensemble of the best {} taps on validation ({})", names.size(),
                                  fmt::join(names, ", "));
  return cross;
}

}  // namespace oess::experiment

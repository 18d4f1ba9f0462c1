// The readers of a run (data.readers, issue #34): their agreement on the images the run predicted, and the
// model as one more reader, into metrics.json, the console and the report (experiment/chain.h).
#include <fmt/format.h>
#include <torch/torch.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "oess/data/readers.h"
#include "oess/experiment/chain.h"
#include "oess/metrics/readers.h"

namespace oess::experiment {

// data.label: soft: each feature row's readers' grade distribution (an augmented copy its image's).
void soft_targets(Chain& c, const std::vector<int64_t>& manifest_row) {
  c.rows.soft = torch::zeros({c.features.rows(), 4}, torch::kFloat32);
  auto a = c.rows.soft.accessor<float, 2>();
  auto put = [&](int64_t row, size_t sample) {
    const auto q = data::grade_distribution(c.manifest.samples[sample].reader_grades);
    for (size_t g = 0; g < 4; ++g) a[row][static_cast<int64_t>(g)] = static_cast<float>(q[g]);
  };
  for (size_t i = 0; i < manifest_row.size(); ++i) put(manifest_row[i], i);
  // rows.train follows items one for one, augmented copies' own rows included (index_rows).
  for (size_t j = 0; j < c.items.size(); ++j) put(c.rows.train[j], c.items[j].sample);
}

void evaluate_readers(Chain& c) {
  const auto& m = c.manifest;
  if (m.readers.empty() || c.predictions.path.empty()) return;
  std::map<std::string, size_t> by_path;
  for (size_t i = 0; i < m.samples.size(); ++i) {
    by_path.emplace(m.samples[i].rel_path, i);
    by_path.emplace(m.samples[i].path, i);
  }
  metrics::ReaderTable t;
  t.readers = m.readers;
  std::vector<int> model;
  for (size_t k = 0; k < c.predictions.path.size(); ++k) {
    const auto it = by_path.find(c.predictions.path[k]);
    if (it == by_path.end()) continue;
    const auto& s = m.samples[it->second];
    t.grades.push_back(s.reader_grades);
    if (m.has_patient) t.units.push_back(s.patient);
    model.push_back(c.predictions.pred[k]);
  }
  data::ConsensusRule rule = data::ConsensusRule::kMajority;
  const bool named_rule = data::parse_consensus(c.s.columns.consensus, rule);
  if (c.predictions.binary || t.readers.size() < 2) model.clear();  // the readers grade 0-3
  const auto a = metrics::agreement(t, model, rule, std::min(c.s.bootstrap, 1000), c.s.seed);
  auto j = nlohmann::ordered_json::parse(c.metrics_text);
  auto r = nlohmann::ordered_json::parse(metrics::agreement_json(a));
  r["label"] = m.label;
  r["on"] = c.cross_validation.folds > 0 ? "every image, out of fold" : "the test images";
  if (!model.empty()) r["model_as_reader"]["consensus"] = named_rule ? c.s.columns.consensus : "majority";
  j["readers"] = r;
  c.metrics_text = j.dump(2) + "\n";
  c.readers_lines.clear();
  std::istringstream text(
      fmt::format("The run trained and tested on: {}. On {}:\n", m.label,
                  c.cross_validation.folds > 0 ? "every image, out of fold" : "the test images") +
      metrics::agreement_text(a));
  for (std::string line; std::getline(text, line);) c.readers_lines.push_back(line);
}

}  // namespace oess::experiment

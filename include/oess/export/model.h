#pragma once
// oess/export/model.h — exported models: one file that scores new images without the run that made it.
//
// The file is a torch zip holding a plain dict (Python: torch.load(path) -> dict), docs/formats.md:
//   "__meta__"            dict of str: format ("oess-model"), format_version, oess, task, classes (JSON
//   list),
//                         arch, weights (identity of the backbone weights), transform_input, preprocessing,
//                         crop, dicom_frame, taps (JSON list, the member taps: "mixed7" or "mixed7@max"),
//                         members (JSON: tap and training settings per member), config (the run's resolved
//                         YAML), metrics (the run's metrics.json)
//   "backbone.<key>"      the backbone's parameters and buffers up to the deepest tap the members use (the
//                         layers after it are left out: never run)
//   "member<i>.mean|std|weight|bias"   member i's standardisation and linear classifier
// export_run(run_dir, out): builds the file from a run folder (config.resolved.yaml, model/classifiers.pt,
//   model/model.json, metrics.json); the backbone is rebuilt from the run's weights (file or seeded init).
// read_model(path): errors (oess::Error naming the file): unreadable or truncated, not an oess model, a
//   format_version newer than this oess reads (kModelFormatVersion), missing or mis-shaped tensors.
// Scorer: the model in memory; score(paths) runs decode -> preprocess -> backbone -> pooling -> members ->
//   combine exactly as the run's extraction and ensemble did.
#include <torch/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "oess/ensemble/ensemble.h"
#include "oess/io/weights.h"
#include "oess/models/backbone.h"
#include "oess/train/classifier.h"

namespace oess::exporting {

inline constexpr int kModelFormatVersion = 1;

struct ModelFile {
  std::map<std::string, std::string> meta;
  io::StateDict backbone;                // keys without the "backbone." prefix
  std::vector<std::string> member_taps;  // per member
  std::vector<train::LinearModel> members;
};

void export_run(const std::string& run_dir, const std::string& out_file);
void write_model(const std::string& path, const ModelFile& m);
ModelFile read_model(const std::string& path);

struct ImageScore {
  std::string path;
  std::vector<double> p;  // class probabilities (4, or 2 for binary: healthy, diseased)
  int pred = 0;
  double p_diseased = 0, disagreement = 0;
  int binary_vote = 0;
};

class Scorer {
 public:
  Scorer(const ModelFile& m, const std::string& device = "cpu", int threads = 2, int batch = 16);
  ~Scorer();
  std::vector<ImageScore> score(const std::vector<std::string>& paths,
                                const std::function<void(int64_t, int64_t)>& progress = {});
  train::Task task() const { return task_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  train::Task task_;
};

}  // namespace oess::exporting

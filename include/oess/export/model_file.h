#pragma once
// oess/export/model_file.h — the exported model file: one torch zip holding a plain dict (Python:
// torch.load(path) -> dict), docs/formats.md:
//   "__meta__"            dict of str: format ("oess-model"), format_version, oess, task, classes (JSON
//                         list), arch, weights (identity of the backbone weights), transform_input, flavour,
//                         preprocessing, crop, dicom_frame, pooling, taps (JSON list, the member taps:
//                         "mixed7" or "mixed7@max"), members (JSON: tap and training settings per member),
//                         config (the run's resolved YAML), metrics (the run's metrics.json)
//   "backbone.<key>"      the backbone's parameters and buffers up to the deepest tap the members use (the
//                         layers after it are left out: never run)
//   "member<i>.mean|std|weight|bias"   member i's standardisation and linear classifier (member_key: the one
//                         place this layout is spelled; the run folder's model/classifiers.pt uses it too)
//   "reference.<tap>"     the mean activation map [1, C, h, w] of the tap over (up to 64 of) the run's
//                         training images: Grad-CAM's reference (export/heatmap.h)
//   "reference.input"     their mean preprocessed image [1, 3, H, W]: integrated gradients' baseline
//                         (optional: models written before it can still make Grad-CAM maps)
// read_model(path): errors (oess::Error naming the file): unreadable or truncated, not an oess model, a
//   format_version newer than this oess reads (kModelFormatVersion), missing or mis-shaped tensors.
#include <torch/types.h>

#include <map>
#include <string>
#include <vector>

#include "oess/ensemble/ensemble.h"
#include "oess/io/weights.h"
#include "oess/train/classifier.h"

namespace oess::exporting {

inline constexpr int kModelFormatVersion = 1;

struct ModelFile {
  std::map<std::string, std::string> meta;
  io::StateDict backbone;                // keys without the "backbone." prefix
  std::vector<std::string> member_taps;  // per member
  std::vector<train::LinearModel> members;
  std::map<std::string, torch::Tensor> reference;  // canonical tap -> [1, C, h, w]; "input" -> [1, 3, H, W]
};

// The __meta__ value of `key`, or `fallback` when the model file has none (older files lack newer keys).
std::string meta_or(const ModelFile& m, const std::string& key, const std::string& fallback);

void write_model(const std::string& path, const ModelFile& m);
ModelFile read_model(const std::string& path);

// The member layout: "member<i>.<part>" for part in kMemberParts, and for a frame-level classifier of clips
// (data.clip.aggregate) "member<i>.aggregate": int64 [1], 1 max_grade, 2 mean_probability (absent: none).
inline constexpr const char* kMemberParts[] = {"mean", "std", "weight", "bias"};
inline constexpr const char* kMemberAggregate = "aggregate";
std::string member_key(size_t i, const char* part);
// Appends member i's four tensors (CPU, contiguous) under member_key.
void put_member(io::StateDict& out, size_t i, const train::LinearModel& m);
// Member i from tensors by name; throws Error "<file>: no tensor member<i>.<part>" when one is missing.
train::LinearModel get_member(const std::map<std::string, torch::Tensor>& by_name, size_t i, train::Task task,
                              const std::string& file);

// How the run calibrated its ensemble: __meta__ "calibration" ({"method": "none"}, {"method": "temperature",
// "temperature": T, ...} or {"method": "platt", "a": A, "b": B, ...}); none when the key is absent (models
// before issue #32).
// errors: Error for a calibration entry that is not such JSON, a temperature that is not > 0, or a Platt
// entry without finite a and b.
struct ModelCalibration {
  enum class Method { kNone, kTemperature, kPlatt } method = Method::kNone;
  double temperature = 1;  // kTemperature
  double a = 1, b = 0;     // kPlatt: P(diseased) = sigmoid(a logit + b)
};
ModelCalibration model_calibration(const ModelFile& m);
// Applies it to a combination, as the run did (ensemble::apply_temperature / apply_platt).
void apply_calibration(ensemble::Combined& c, const ModelCalibration& cal, train::Task task);

// "mixed7@max" -> "mixed7"; a member tap's pooling: its "@how" suffix, else the model's pooling.
std::string base_tap(const std::string& member_tap);
std::string pooling_of(const std::string& member_tap, const std::string& model_pooling);

}  // namespace oess::exporting

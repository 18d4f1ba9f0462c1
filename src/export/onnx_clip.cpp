// A clip's probabilities from its frames' inside an ONNX graph (onnx_clip.h).
#include "onnx_clip.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include "oess/core/error.h"

namespace oess::exporting::onnxw {

std::string aggregate_frames(Graph& g, const std::string& probs, const std::string& rule, int64_t k,
                             const std::string& prefix) {
  if (rule == "mean_probability")
    return g.op("ReduceMean", {probs}, prefix + ".clip", {attr_ints("axes", {0}), attr_int("keepdims", 1)});
  if (rule != "max_grade")
    throw UsageError(fmt::format("onnx export: clip rule \"{}\": max_grade or mean_probability", rule));
  constexpr int64_t kOnnxFloat = 1;  // TensorProto.FLOAT
  const auto grade =
      g.op("Cast",
           {g.op("ArgMax", {probs}, prefix + ".frame_grade", {attr_int("axis", 1), attr_int("keepdims", 0)})},
           prefix + ".frame_grade_value", {attr_int("to", kOnnxFloat)});
  const auto expected =
      g.op("MatMul", {probs, g.constant(prefix + ".grades", torch::arange(k, torch::kFloat64))},
           prefix + ".expected");
  const auto scaled = g.op("Mul", {grade, g.constant(prefix + ".k", torch::tensor({static_cast<double>(k)}))},
                           prefix + ".grade_times_k");
  const auto key = g.op("Add", {scaled, expected}, prefix + ".frame_key");
  const auto frame =
      g.op("ArgMax", {key}, prefix + ".key_frame", {attr_int("axis", 0), attr_int("keepdims", 1)});
  return g.op("Gather", {probs, frame}, prefix + ".clip", {attr_int("axis", 0)});
}

std::string clip_metadata(const std::string& rule, const std::string& clip_text) {
  if (rule == "none")
    return fmt::format(
        "none: each batch row is one image, scored alone; oess scores a clip (video, multi-frame DICOM) from "
        "its sampled frames' features pooled over the frames ({}), which this graph does not do: score clips "
        "with oess score, or train with data.clip.aggregate for a graph that takes a clip",
        clip_text);
  return fmt::format(
      "one clip per run: image is its sampled frames [N = frames, 3, H, W] ({}); frame_probabilities [N, C] "
      "scores each frame (the members' mean, calibrated as probabilities); probabilities [1, C] is the clip: "
      "each member's frames combined by {} ({}), then the members' mean and the calibration",
      clip_text, rule,
      rule == "max_grade"
          ? "the frame with the highest predicted grade, ties the highest expected grade, then the earliest"
          : "the mean of the frames' probabilities");
}

}  // namespace oess::exporting::onnxw

#pragma once
// oess/export/onnx.h — an exported model (export/model_file.h) as one ONNX file that runs without oess
// (ONNX Runtime, OpenCV DNN, TensorRT, ...). docs/formats.md has the contract; docs/scoring.md examples.
//
// The graph (opset 13, IR version 8, batch dimension "N" dynamic):
//   input   image          float32 [N, 3, H, W]: RGB, values in [0, 1] (8-bit value / 255), already masked,
//                          cropped and resized to the model's input size as oess does (onnx_input below)
//   A frame-level classifier of clips (data.clip.aggregate): the batch is one clip's sampled frames; the
//   outputs are the clip's (probabilities [1, C], members [1, M, C], p_diseased [1]), each member's frames
//   combined by its rule (onnx_clip.h), and frame_probabilities [N, C] scores each frame; metadata "clip"
//   says so.
//   inside  the preprocessing of the weights (preset: Mul/Sub/Div per channel, BGR order by Gather), the
//           backbone up to the deepest tap the members use (Conv + BatchNorm folded into one Conv; Keras
//           flavour average pools with count_include_pad = 0, torchvision flavour 1), the global pooling of
//           each member tap, each member's standardisation, linear layer and softmax (binary: sigmoid)
//   outputs probabilities  float32 [N, C]     the ensemble: the members' mean (C = 4 grades, or 2 for binary)
//           members        float32 [N, M, C]  each member's probabilities
//           p_diseased     float32 [N]        P(grade 2 or 3) (binary: P(diseased))
//   metadata_props: oess version, task, classes, grades, input size and resize rule, flavour, weights and
//                   their provenance (which member taps are ImageNet), member taps, headline metrics, the
//                   run config's SHA-256 (OnnxKeys lists them).
//
// export_onnx(m, out_file)
//   ensures: the file passes onnx::checker::check_model and strict shape inference (every output's shape
//            inferred and equal to the declared one) before it is written, atomically: an error leaves no
//            file. Errors (oess::Error): a backbone tensor missing or mis-shaped (named), a tap no ONNX graph
//            here can express, the checker's message, an unwritable path.
// onnx_input(m, path): the image as the graph's input wants it: decoded, masked and cropped (the model's mask
// and crop), resized
//   as oess does, RGB / 255 — float32 [3, H, W]. write_onnx_inputs: those of `paths` stacked [N, 3, H, W]
//   into a NumPy .npy file (float32, little-endian, C order), what `oess score --save-input` writes.
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "oess/export/model_file.h"

namespace oess::exporting {

inline constexpr int kOnnxOpset = 13;

struct OnnxSummary {
  int64_t bytes = 0;       // file size
  int64_t parameters = 0;  // numbers stored in initializers
  int nodes = 0;
  int64_t height = 0, width = 0, classes = 0, members = 0;
  int folded = 0;  // Conv + BatchNorm pairs folded
};

OnnxSummary export_onnx(const ModelFile& m, const std::string& out_file);

torch::Tensor onnx_input(const ModelFile& m, const std::string& image_path);
// A clip model's input (members' aggregate set): the clip's sampled frames, each as onnx_input, [F, 3, H, W]
// (a still image: [1, 3, H, W]). write_onnx_inputs writes it for such a model, one path only (UsageError).
torch::Tensor onnx_clip_input(const ModelFile& m, const std::string& clip_path);
void write_onnx_inputs(const ModelFile& m, const std::vector<std::string>& paths,
                       const std::string& npy_file);

// How to score with the file from Python and Node (ONNX Runtime): printed by `oess export --format onnx`.
std::string onnx_usage(const std::string& onnx_file, const OnnxSummary& s);

// The metadata_props keys, in the order written.
const std::vector<std::string>& onnx_metadata_keys();

}  // namespace oess::exporting

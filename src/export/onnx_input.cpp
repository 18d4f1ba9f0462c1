// What an exported ONNX graph takes as input, written as NumPy files (export/onnx.h: onnx_input,
// onnx_clip_input, write_onnx_inputs): the model's framing, the preset's resize, RGB / 255.
#include <fmt/format.h>
#include <torch/torch.h>

#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/data/clip.h"
#include "oess/data/image.h"
#include "oess/data/preprocess.h"
#include "oess/export/onnx.h"
#include "oess/models/preprocessing.h"

namespace oess::exporting {
namespace {

// A NumPy .npy file (format 1.0) of a float32 tensor.
void write_npy(const std::string& path, const torch::Tensor& t) {
  const auto c = t.to(torch::kCPU, torch::kFloat32).contiguous();
  std::string shape;
  for (int64_t d : c.sizes()) shape += std::to_string(d) + ", ";
  if (c.dim() > 1) shape.erase(shape.size() - 2);
  std::string header = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}), }}", shape);
  // Magic, version 1.0, header length; the header padded with spaces to a multiple of 64 bytes, ending "\n".
  const size_t total = 10 + header.size() + 1;
  header += std::string((64 - total % 64) % 64, ' ') + "\n";
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.append(static_cast<const char*>(c.data_ptr()), static_cast<size_t>(c.numel()) * 4);
  write_file_atomic(path, out);
}

// The graph's input preprocessing (resize, RGB, / 255) and the model's framing.
std::pair<data::Preprocessing, data::Framing> input_rule(const ModelFile& m) {
  auto p = models::preprocessing_preset(meta_or(m, "preprocessing", "torchvision"),
                                        models::parse_arch(meta_or(m, "arch", "?")));
  p.bgr = false;
  p.scale = 1.0 / 255.0;
  p.mean = {0, 0, 0};
  p.std = {1, 1, 1};
  return {p, data::Framing{data::parse_mask_text(meta_or(m, "mask", "none")),
                           data::parse_crop(meta_or(m, "crop", "none"))}};
}

}  // namespace

torch::Tensor onnx_input(const ModelFile& m, const std::string& image_path) {
  const auto [p, framing] = input_rule(m);
  const auto image = data::apply_framing(
      data::decode_image(image_path, nullptr, std::stoi(meta_or(m, "dicom_frame", "0"))), framing);
  return data::preprocess(image, p);
}

torch::Tensor onnx_clip_input(const ModelFile& m, const std::string& clip_path) {
  const auto [p, framing] = input_rule(m);
  const auto clip =
      data::parse_clip_text(meta_or(m, "clip", "frames=8 every=0 max_frames=64 pooling=max dicom=0"));
  std::vector<torch::Tensor> frames;
  if (!data::is_clip(clip_path, clip)) return onnx_input(m, clip_path).unsqueeze(0);
  for (const auto& f : data::decode_clip(clip_path, clip.sampling).frames)
    frames.push_back(data::preprocess(data::apply_framing(f, framing), p));
  return torch::stack(frames);
}

void write_onnx_inputs(const ModelFile& m, const std::vector<std::string>& paths,
                       const std::string& npy_file) {
  if (!m.members.empty() && m.members.front().aggregate != "none") {
    if (paths.size() != 1)
      throw UsageError(fmt::format(
          "--save-input: the model's ONNX graph takes one clip at a time (its frames are the batch), and {} "
          "files were given: save them one by one",
          paths.size()));
    write_npy(npy_file, onnx_clip_input(m, paths.front()));
    return;
  }
  std::vector<torch::Tensor> inputs;
  for (const auto& p : paths) inputs.push_back(onnx_input(m, p));
  write_npy(npy_file, torch::stack(inputs));
}

}  // namespace oess::exporting

#pragma once
// oess/models/keras_import.h — Keras models' weights -> oess weights files (torchvision names, Keras
// flavour).
//
// import_keras(model, options)
//   Inception-v3: Keras `conv2d_k` + `batch_normalization_k` become the k-th BasicConv2d in torchvision's
//   module order (Conv2d_1a_3x3 = 1 ... Mixed_7c.branch_pool = 94, AuxLogits excluded), by the NUMBER in the
//   layer name — not by position in Keras's (depth-sorted) layer list, not by string order. tf.keras 2.x
//   names the first layer `conv2d` (no suffix): names are ranked by their number, the unsuffixed one first,
//   so both numberings (and a session's offset, conv2d_95...) map the same way. Kernels HWIO -> OIHW;
//   BatchNorm without gamma (Keras scale=False) gets gamma = 1; `predictions` (the ImageNet head), when
//   present, -> fc. VGG-16: block{b}_conv{c} -> features.N; fc1 / fc2 / predictions -> classifier.0 / 3 / 6,
//   fc1's inputs reordered from Keras's height-width-channel flattening to torchvision's
//   channel-height-width. With a topology (tfjs, whole-model h5) every conv's filters, kernel, strides and
//   padding, every BatchNorm's epsilon, the branch pools and each mixed block's concatenation order are
//   checked against the architecture; weights-only files are checked by shape. Layers of other heads
//   (nsfwjs's dense_1..3) are left out and listed. errors: oess::Error naming the file and the layer: a
//   missing layer or weight, a wrong shape, a topology that differs, a file of the other architecture.
//
// ImageNet provenance: options.imagenet says which layers hold ImageNet weights — "all" (Keras Applications
// files), "frozen" (the layers the topology marks trainable: false; for nsfwjs these are Keras's ImageNet
// layers its authors kept), "none", or "unknown". A tap counts as ImageNet when every layer up to it does.
#include <string>
#include <vector>

#include "oess/io/keras.h"
#include "oess/io/weights.h"
#include "oess/models/taps.h"

namespace oess::models {

struct KerasImportOptions {
  Arch arch = Arch::kInceptionV3;
  std::string imagenet = "unknown";  // all | frozen | none | unknown
  std::string note;                  // free text kept in the metadata (where the model came from)
};

struct KerasImport {
  io::StateDict state;               // torchvision names, float32, the metadata entry last
  std::string meta_json;             // what weights_semantics() reads back
  std::vector<std::string> ignored;  // Keras layers not part of the backbone
  std::vector<std::string> imagenet_taps, other_taps;
};

KerasImport import_keras(const io::KerasModel& model, const KerasImportOptions& options);

}  // namespace oess::models

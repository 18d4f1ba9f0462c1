#pragma once
// oess/models/taps.h — the backbones oess knows and the named layers ("taps") whose outputs it can return.
//
// Torch-free, so the command line, configs and docs can list and validate taps without LibTorch.
//
// Naming (one table per architecture, in forward order):
//   Inception-v3  mixed0..mixed10 are Keras's names for torchvision's Mixed_5b, 5c, 5d, 6a, 6b, 6c, 6d, 6e,
//                 7a, 7b, 7c; the stem layers keep torchvision's names (Conv2d_1a_3x3 ... maxpool2); then
//                 avgpool (global average, 2048) and logits (fc, 1000).
//   VGG-16        block{b}_conv{c} is the ReLU output after that convolution (a Keras conv includes its
//   ReLU),
//                 block{b}_pool the max-pool; every features.N is accepted and a conv's own features.N is its
//                 pre-ReLU output; fc1 / fc2 are the ReLU outputs of classifier.0 / classifier.3, logits is
//                 classifier.6.
// Either the canonical name or the torchvision module path (the alias) may be used wherever a tap is named.
#include <string>
#include <vector>

namespace oess::models {

enum class Arch { kVgg16, kInceptionV3 };

// "vgg16" | "inception_v3" (also "inception-v3", "inceptionv3"). requires: a known name, else UsageError
// listing the known ones.
Arch parse_arch(const std::string& name);
std::string arch_name(Arch arch);

struct TapInfo {
  std::string name;    // canonical: mixed4, block5_conv3, features.28, Conv2d_1a_3x3, logits
  std::string module;  // torchvision module path whose output this is: Mixed_6b, features.29, fc
  int channels;        // channels (or features, for fc layers) of the output
  int index;           // position in forward order (0 = first layer); deeper taps have larger indices
  bool classifier;     // needs the classification head (VGG classifier / Inception fc)
};

// Every tap of `arch`, in forward order.
const std::vector<TapInfo>& tap_table(Arch arch);

// Looks up a canonical name or alias. requires: a known tap, else UsageError listing the canonical names.
const TapInfo& resolve_tap(Arch arch, const std::string& name);

// Resolves a list (each entry a name, an alias, or "all" for the study's default set), keeping the order
// given, dropping repeats. ensures: non-empty result of canonical names, else UsageError.
std::vector<std::string> resolve_taps(Arch arch, const std::vector<std::string>& names);

// The study's default taps: Inception mixed0..mixed10; VGG-16 the 13 conv (ReLU) and 5 pool outputs.
std::vector<std::string> default_taps(Arch arch);

// The forward-order tap index of the layer a state-dict key belongs to (the deepest tap computed from
// layers up to it); -1 for parts outside the feature path (classification heads, AuxLogits).
int layer_index(Arch arch, const std::string& state_key);

// Input size (height = width) each architecture was trained at: 224 (VGG-16), 299 (Inception-v3).
int native_input_size(Arch arch);

}  // namespace oess::models

#pragma once
// oess/models/backbone.h — VGG-16 and Inception-v3 in LibTorch, exact to torchvision, with named taps.
//
// A Backbone represents one network in inference mode (eval(): BatchNorm uses running statistics, dropout
// is off) whose submodules carry torchvision's names, so torchvision state dicts load key for key
// (features.N.weight; Conv2d_1a_3x3.conv.weight, Mixed_5b.branch1x1.bn.running_mean, AuxLogits.*, fc.*).
//
// forward(x, taps)
//   requires: x is float [N, 3, H, W] on the backbone's device, already normalised (see preprocessing.h);
//             Inception needs H, W >= 75. taps: canonical names or aliases (taps.h).
//   ensures:  a map from each requested tap's canonical name to its output [N, C, h, w] ([N, C] for fc
//             taps); layers deeper than the deepest requested tap are not run. Gradients flow if the caller
//             enables them (Grad-CAM); feature extraction runs under torch::InferenceMode.
//
// load(state, strict)
//   Keys are first normalised: a "module." prefix (DataParallel) is dropped; timm's VGG names
//   (pre_logits.fc1/fc2 as convolutions, head.fc) become torchvision's classifier.0/3/6.
//   Keys of parts the backbone was built without (VGG classifier, Inception fc / AuxLogits) are ignored.
//   strict: every parameter and buffer of the built network must be present with its shape, and no other
//   key may be present; otherwise one oess::Error names every missing, unexpected and mis-shaped key.
//   non-strict: loads what fits and reports the rest (LoadReport). Values are cast to the parameter's dtype.
#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "oess/io/weights.h"
#include "oess/models/taps.h"

namespace oess::models {

class Engine;

// Which framework's semantics the weights were trained under. torchvision: the network exactly as
// torchvision defines it. keras: as Keras Applications builds it — for Inception-v3 the branch average
// pools divide by the pixels inside the image (TensorFlow 'same' pooling) instead of counting the padding
// (BatchNorm without gamma is gamma = 1 in the file, eps is 1e-3 in both); for VGG-16 nothing changes in
// the network (the import reorders fc1's inputs from Keras's height-width-channel flattening). The flavour
// travels with imported weights (weights_semantics below).
enum class Flavour { kTorchvision, kKeras };
std::string flavour_name(Flavour f);
// requires: "torchvision" or "keras", else UsageError listing them.
Flavour parse_flavour(const std::string& name);

struct BackboneOptions {
  Arch arch = Arch::kInceptionV3;
  // Build the classification head (VGG classifier, Inception fc). Off for feature extraction: VGG's head
  // alone holds 124 M of its 138 M parameters.
  bool classifier = true;
  // Inception only: build AuxLogits (unused in eval; present so full torchvision checkpoints load strictly).
  bool aux_logits = true;
  // Inception only: torchvision's transform_input — re-normalise inputs prepared with ImageNet mean/std to
  // the [-1, 1] range Google's weights expect (what torchvision does when it loads its Inception weights).
  bool transform_input = false;
  int64_t num_classes = 1000;
  Flavour flavour = Flavour::kTorchvision;  // last, so that aggregate initialisations keep their meaning
};

struct LoadReport {
  std::vector<std::string> missing;     // in the network, not in the file
  std::vector<std::string> unexpected;  // in the file, in no part of the network
  std::vector<std::string> mismatched;  // "name: file [a, b] vs network [c, d]"
  std::vector<std::string> ignored;     // keys of parts not built (classifier, AuxLogits)
  int64_t loaded = 0;                   // tensors copied
  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  // Only the classification head (fc., classifier.) and Inception's AuxLogits missing, nothing else wrong:
  // a features-only file, which loads into a backbone built without the head.
  bool only_head_missing() const;
  std::string summary() const;  // the loaded count, then details()
  std::string details() const;  // one indented line per non-empty category, every key named
};

class Backbone {
 public:
  virtual ~Backbone() = default;
  const BackboneOptions& options() const { return options_; }
  Arch arch() const { return options_.arch; }

  std::map<std::string, torch::Tensor> forward(const torch::Tensor& x, const std::vector<std::string>& taps);
  // The network from tap `from`'s output onward, for fine-tuning (the frozen part runs once, then only this).
  //   requires: x is `from`'s output as forward() returns it; every tap in `taps` deeper than `from`, else
  //             UsageError naming both. from "input" is forward().
  std::map<std::string, torch::Tensor> forward_from(const torch::Tensor& x, const std::string& from,
                                                    const std::vector<std::string>& taps);
  virtual torch::nn::Module& module() = 0;
  // Inference (extraction, scoring): forward()'s contract, without gradients. With fast_paths().engine, on
  // the CPU, for feature taps, the oneDNN engine (one per input size, built on first use, rebuilt after
  // load()); where the engine cannot run the network (runtime::Unsupported) LibTorch does, said once on the
  // log.
  std::map<std::string, torch::Tensor> infer(const torch::Tensor& x, const std::vector<std::string>& taps);
  // Builds the engine and its plan for [n, 3, height, width] inputs and these taps ahead of the first infer()
  // (at model load, as an ONNX Runtime session does, so that the first batch does not pay for it); nothing
  // where infer() would run LibTorch.
  void prepare_inference(int64_t n, int64_t height, int64_t width, const std::vector<std::string>& taps);
  // The engine's kernels for the last input size it ran, or why LibTorch ran instead ("" before any infer()).
  std::string engine_kernels() const { return engine_note_; }

  LoadReport load(const io::StateDict& state, bool strict, const std::string& source = "weights");

  // Inference fast paths, each checked by the parity tests at 1e-4 (docs/PERFORMANCE.md has their effect):
  //   fold_batchnorm  Inception: every conv + BatchNorm pair becomes one conv with bias (w * g / sqrt(v + e),
  //                   b - m * g / sqrt(v + e)), computed from the current weights; load() undoes it.
  //   channels_last   weights and inputs in NHWC memory layout, which oneDNN's kernels prefer from AVX up.
  //   engine          infer() runs the oneDNN engine (models/engine.h) on the CPU instead of the modules:
  //                   weights reordered once, ReLU fused, Winograd where oneDNN has it (parity at 1e-5).
  // for_this_cpu(): what extraction and scoring use — folding always (less work on any CPU), channels_last
  // where platform::channels_last_pays() (docs/PERFORMANCE.md, "Memory layout"), the engine always.
  struct FastPaths {
    bool fold_batchnorm = false;
    bool channels_last = false;
    bool engine = false;
    static FastPaths for_this_cpu();
  };
  void set_fast_paths(const FastPaths& f);
  const FastPaths& fast_paths() const { return fast_; }
  // Seeded random initialisation (Kaiming-normal convolutions, zero biases, unit BatchNorm): for tests and
  // for running without ImageNet weights. Results are then not ImageNet-based.
  void init_random(uint64_t seed);
  void to(const torch::Device& device);
  torch::Device device() const { return device_; }
  int64_t parameter_count();
  // Every parameter, then every buffer, by state-dict name: the live tensors (not copies), in the order
  // load() reports them.
  io::StateDict tensors();

 protected:
  explicit Backbone(BackboneOptions options) : options_(options) {}
  // Which canonical taps to return, and the deepest index to run to.
  struct Plan {
    std::vector<bool> want;  // by tap index
    int deepest = -1;
  };
  Plan plan(const std::vector<std::string>& taps) const;
  // Runs stages first..p.deepest on x, keeping p.want's outputs; first == 0: x is the network's input (its
  // preparation applies), else the output of stage first - 1.
  virtual std::map<std::string, torch::Tensor> run(const torch::Tensor& x, int first, const Plan& p) = 0;
  // Folds (true) or unfolds (false) BatchNorm into the convolutions; nets without BatchNorm ignore it.
  virtual void fold_batchnorm(bool /*on*/) {}
  torch::Tensor prepare_input(const torch::Tensor& x) const;
  Engine* engine_for(int64_t height, int64_t width);  // null where the engine cannot run
  bool engine_applies(const std::vector<std::string>& taps) const;
  void engine_refused(int64_t height, int64_t width, const std::string& why);  // LibTorch from now on, logged

 private:
  BackboneOptions options_;
  torch::Device device_{torch::kCPU};
  FastPaths fast_;
  std::map<std::pair<int64_t, int64_t>, std::shared_ptr<Engine>>
      engines_;  // by input size; null: unsupported
  std::string engine_note_;
};

std::unique_ptr<Backbone> make_backbone(const BackboneOptions& options);

// Builds a backbone and fills it: `weights` is a file (io::read_weights, then load(strict)), or "none" for
// init_random(seed) with a loud warning on the log that results are not ImageNet-based.
std::unique_ptr<Backbone> load_backbone(const BackboneOptions& options, const std::string& weights,
                                        bool strict = true, uint64_t seed = 0);

// What a weights file says about itself: files written by `oess weights import` carry a metadata entry
// (io::kWeightsMetaKey, JSON) with the flavour, the preprocessing preset, the provenance and which taps are
// known to be ImageNet. Other files (torchvision conversions) have none: torchvision flavour, preprocessing
// not stated. weights "none" (random) is torchvision with no metadata.
struct WeightsSemantics {
  bool has_meta = false;
  Flavour flavour = Flavour::kTorchvision;
  std::string preprocessing;  // preset named by the file, or empty
  std::string description;    // one line for logs and reports, e.g. "Keras ImageNet Inception-v3 (...)"
  std::vector<std::string> imagenet_taps;  // taps whose every layer is known to hold ImageNet weights
  std::vector<std::string> other_taps;     // taps with layers known not to (fine-tuned elsewhere)
  std::string meta_json;                   // the metadata as stored ("" without)
};
WeightsSemantics weights_semantics(const std::string& weights);
WeightsSemantics weights_semantics(const io::WeightsFile& file);

// Resolves the user's requests against the file: flavour "auto" | "torchvision" | "keras", preprocessing
// "auto" | a preset. auto takes what the file says (else torchvision / the torchvision preset); an explicit
// value that contradicts the file's metadata is a UsageError naming both and the file, never a silent choice.
// Also refuses transform_input with the Keras flavour. ensures: options.flavour and preprocessing concrete.
void resolve_semantics(const std::string& weights, const std::string& flavour_request,
                       std::string& preprocessing, BackboneOptions& options);

// The state-dict key normalisation load() applies (module. prefix, timm VGG names); exposed for tools.
io::StateDict normalize_state_dict(Arch arch, const io::StateDict& state);

// Parses "cpu", "cuda", "cuda:N". requires: CUDA devices only where LibTorch has CUDA and the device
// exists, else oess::UsageError saying so.
torch::Device parse_device(const std::string& spec);

}  // namespace oess::models

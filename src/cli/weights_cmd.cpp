// `oess weights inspect FILE` and `oess weights check --arch A FILE`; `oess taps --arch A`.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "oess/core/error.h"
#include "oess/core/text.h"
#include "oess/io/keras.h"
#include "oess/io/weights.h"
#include "oess/models/backbone.h"
#include "oess/models/keras_import.h"

namespace oess::cli {
namespace {

using models::Arch;

std::string human_bytes(std::uintmax_t n) {
  if (n >= (1u << 20)) return fmt::format("{:.1f} MiB", static_cast<double>(n) / (1 << 20));
  if (n >= (1u << 10)) return fmt::format("{:.1f} KiB", static_cast<double>(n) / (1 << 10));
  return fmt::format("{} B", n);
}

std::string dtype_name(const torch::Tensor& t) { return ascii_lower(c10::toString(t.scalar_type())); }

// How well a state dict fits each architecture, in words (without building VGG's 124 M-parameter head).
std::string describe_fit(const io::StateDict& state) {
  std::vector<std::string> lines;
  size_t tensors = 0;
  for (const auto& [name, t] : state) tensors += name != io::kWeightsMetaKey;
  for (Arch arch : {Arch::kInceptionV3, Arch::kVgg16}) {
    models::BackboneOptions o;
    o.arch = arch;
    o.classifier = arch == Arch::kInceptionV3;
    auto b = models::make_backbone(o);
    const auto r = b->load(state, /*strict=*/false);
    if (r.loaded == 0) continue;
    if (r.ok() && r.ignored.empty()) {
      lines.push_back(arch == Arch::kVgg16
                          ? "vgg16: every tensor fits the features (the file has no classifier)"
                          : "inception_v3: every tensor fits");
    } else if (r.ok()) {
      lines.push_back(
          fmt::format("{}: the features fit; {} classifier tensors present (check them with "
                      "`oess weights check --arch {}`)",
                      models::arch_name(arch), r.ignored.size(), models::arch_name(arch)));
    } else if (r.only_head_missing()) {
      lines.push_back(fmt::format("{}: every tensor fits the features (the file has no classifier{})",
                                  models::arch_name(arch),
                                  arch == Arch::kInceptionV3 ? " or AuxLogits" : ""));
    } else {
      lines.push_back(
          fmt::format("{}: partly ({} of {} tensors fit; {} missing, {} unexpected, {} mis-shaped)",
                      models::arch_name(arch), r.loaded, tensors, r.missing.size(), r.unexpected.size(),
                      r.mismatched.size()));
    }
  }
  if (lines.empty()) return "neither vgg16 nor inception_v3 (no tensor name and shape in common)";
  return fmt::format("{}", fmt::join(lines, "; "));
}

void inspect(const std::string& path, bool summary_only) {
  const io::WeightsFile f = io::read_weights(path);
  int64_t floats = 0;
  std::map<std::string, int> dtypes;
  size_t width = 4;
  for (const auto& [name, t] : f.tensors) {
    if (t.is_floating_point()) floats += t.numel();
    ++dtypes[dtype_name(t)];
    width = std::max(width, name.size());
  }
  std::vector<std::string> dt;
  for (const auto& [k, v] : dtypes) dt.push_back(fmt::format("{} x{}", k, v));
  fmt::print("file:       {}\n", path);
  fmt::print("format:     {}, {}\n", io::format_name(f.format), human_bytes(f.bytes));
  fmt::print("tensors:    {} ({})\n", f.tensors.size(), fmt::join(dt, ", "));
  fmt::print("parameters: {} floating-point values\n", floats);
  fmt::print("fits:       {}\n", describe_fit(f.tensors));
  const models::WeightsSemantics sem = models::weights_semantics(f);
  if (sem.has_meta) {
    const auto j = nlohmann::json::parse(sem.meta_json);
    fmt::print("flavour:    {} (preprocessing {})\n", models::flavour_name(sem.flavour), sem.preprocessing);
    fmt::print("what:       {}\n", sem.description);
    if (j.contains("source")) {
      const auto& src = j.at("source");
      fmt::print("source:     {}, Keras {}, quantisation {}\n", src.value("format", "?"),
                 src.value("keras_version", "?"), src.value("quantisation", "?"));
      for (const auto& file : src.value("files", nlohmann::json::array()))
        fmt::print("            {}  sha256 {}\n", file.value("name", "?"), file.value("sha256", "?"));
    }
    if (j.contains("imagenet")) {
      const auto& im = j.at("imagenet");
      fmt::print(
          "imagenet:   basis \"{}\"; ImageNet taps: {}; other taps: {}\n", im.value("basis", "?"),
          sem.imagenet_taps.empty() ? "none known" : fmt::format("{}", fmt::join(sem.imagenet_taps, " ")),
          sem.other_taps.empty() ? "none" : fmt::format("{}", fmt::join(sem.other_taps, " ")));
    }
    if (j.contains("ignored_layers") && !j.at("ignored_layers").empty())
      fmt::print("left out:   {} (layers of the source model outside the backbone)\n",
                 fmt::join(j.at("ignored_layers").get<std::vector<std::string>>(), ", "));
  } else {
    fmt::print("flavour:    torchvision (no oess metadata: a converted torchvision/timm file)\n");
  }
  if (summary_only) return;
  fmt::print("\n{:<{}}  {:<8}  {}\n", "name", width, "dtype", "shape");
  for (const auto& [name, t] : f.tensors)
    fmt::print("{:<{}}  {:<8}  [{}]\n", name, width, dtype_name(t), fmt::join(t.sizes(), ", "));
}

void check(const std::string& arch_name, const std::string& path, bool features_only) {
  models::BackboneOptions o;
  o.arch = models::parse_arch(arch_name);
  o.classifier = !features_only;
  o.aux_logits = !features_only;
  auto b = models::make_backbone(o);
  const io::WeightsFile f = io::read_weights(path);
  const auto r = b->load(f.tensors, /*strict=*/true, path);
  fmt::print("ok: {} fits {}{} strictly: {} tensors, {} parameters{}\n", path, models::arch_name(o.arch),
             features_only ? " (features only)" : "", r.loaded, b->parameter_count(),
             r.ignored.empty() ? "" : fmt::format("; {} head tensors ignored", r.ignored.size()));
}

void import_weights(const std::string& from, const std::string& arch, const std::string& input,
                    const std::string& out, const std::string& imagenet, const std::string& note) {
  if (from != "tfjs" && from != "keras-h5")
    throw UsageError(fmt::format("--from {}: expected tfjs or keras-h5", from));
  models::KerasImportOptions o;
  o.arch = models::parse_arch(arch);
  o.imagenet = imagenet;
  o.note = note;
  const io::KerasModel m = from == "tfjs" ? io::read_tfjs(input) : io::read_keras_h5(input);
  const models::KerasImport r = models::import_keras(m, o);
  // The result must load strictly into the Keras-flavour network it claims to be, before it is written.
  models::BackboneOptions bo;
  bo.arch = o.arch;
  bo.flavour = models::Flavour::kKeras;
  bo.aux_logits = false;
  bo.classifier = false;
  for (const auto& [k, v] : r.state)
    bo.classifier = bo.classifier || k == "fc.weight" || k == "classifier.0.weight";
  models::make_backbone(bo)->load(r.state, /*strict=*/true, input);
  io::write_torch_dict(out, r.state);
  io::WeightsFile written;  // what was just written, read from memory rather than from the 80 MiB file
  written.path = out;
  written.format = io::WeightsFormat::kTorchZip;
  written.tensors = r.state;
  const auto sem = models::weights_semantics(written);
  fmt::print("ok: {} -> {}\n  {} tensors{}; flavour keras, preprocessing {}\n  {}\n", input, out,
             r.state.size() - 1, bo.classifier ? " (with the ImageNet classifier)" : " (features only)",
             sem.preprocessing, sem.description);
  if (!r.ignored.empty())
    fmt::print("  left out (not part of {}): {}\n", models::arch_name(o.arch), fmt::join(r.ignored, ", "));
}

// "299" -> {299, 299}; "320x280" -> {320, 280} (height x width).
std::pair<int64_t, int64_t> parse_size(const std::string& s) {
  const auto x = s.find('x');
  try {
    size_t used = 0;
    const std::string hs = x == std::string::npos ? s : s.substr(0, x);
    const std::string ws = x == std::string::npos ? s : s.substr(x + 1);
    const int64_t h = std::stoll(hs, &used);
    if (used != hs.size()) throw std::invalid_argument(s);
    const int64_t w = std::stoll(ws, &used);
    if (used != ws.size()) throw std::invalid_argument(s);
    if (h < 1 || w < 1 || h > 8192 || w > 8192) throw std::out_of_range(s);
    return {h, w};
  } catch (const std::exception&) {
    throw UsageError(
        fmt::format("--input \"{}\": expected a size like 299 or 320x280 (height x width, 1..8192)", s));
  }
}

void taps(const std::string& arch_name, std::vector<std::string> sizes) {
  models::BackboneOptions o;
  o.arch = models::parse_arch(arch_name);
  o.classifier = o.arch == Arch::kInceptionV3;  // VGG's head: shapes are fixed, no need to build 124 M params
  auto b = models::make_backbone(o);
  b->init_random(0);
  if (sizes.empty()) sizes.push_back(std::to_string(models::native_input_size(o.arch)));
  const auto& table = models::tap_table(o.arch);
  std::vector<std::string> names;
  for (const auto& t : table)
    if (!t.classifier || o.classifier) names.push_back(t.name);
  std::vector<std::map<std::string, std::string>> shapes;
  for (const auto& s : sizes) {
    const auto [h, w] = parse_size(s);
    if (o.arch == Arch::kInceptionV3 && (h < 75 || w < 75))
      throw UsageError(fmt::format("--input {}: Inception-v3 needs at least 75x75", s));
    if (o.arch == Arch::kVgg16 && (h < 32 || w < 32))
      throw UsageError(fmt::format("--input {}: VGG-16 needs at least 32x32 (five 2x2 pools)", s));
    torch::InferenceMode guard;
    const auto out = b->forward(torch::zeros({1, 3, h, w}), names);
    std::map<std::string, std::string> m;
    for (const auto& [k, v] : out) {
      std::vector<int64_t> dims(v.sizes().begin() + 1, v.sizes().end());
      m[k] = fmt::format("{}", fmt::join(dims, "x"));
    }
    shapes.push_back(std::move(m));
  }
  fmt::print("{:<15} {:<15} {:>8}", "tap", "torchvision", "channels");
  for (const auto& s : sizes) fmt::print("  {:>14}", "at " + s);
  fmt::print("\n");
  for (const auto& t : table) {
    fmt::print("{:<15} {:<15} {:>8}", t.name, t.module, t.channels);
    for (size_t i = 0; i < sizes.size(); ++i) {
      auto it = shapes[i].find(t.name);
      fmt::print("  {:>14}", it != shapes[i].end() ? it->second : std::to_string(t.channels));
    }
    fmt::print("\n");
  }
}

}  // namespace

void add_weights_command(CLI::App& app) {
  CLI::App* weights =
      app.add_subcommand("weights", "Inspect, check or import weights files (torch zip, safetensors, Keras)");
  weights->require_subcommand(0, 1);
  weights->callback([weights] {
    if (weights->get_subcommands().empty())
      throw UsageError(
          "`oess weights` needs a subcommand: `inspect FILE`, `check --arch vgg16|inception_v3 FILE` or "
          "`import --from tfjs|keras-h5 --arch A INPUT --out FILE`");
  });
  weights->footer(
      "Files oess reads: a torch zip holding a plain dict of tensors, or safetensors. Convert anything else\n"
      "(state_dict() OrderedDicts, torchvision's legacy .pth downloads, timm files, whole pickled models) "
      "with\n"
      "  python3 tools/convert_weights.py INPUT OUTPUT.pt --arch vgg16|inception_v3\n"
      "See docs/weights.md.");

  auto* ins =
      weights->add_subcommand("inspect", "List a weights file's tensors: names, dtypes, shapes, counts");
  auto file_i = std::make_shared<std::string>();
  auto summary = std::make_shared<bool>(false);
  ins->add_option("FILE", *file_i, "weights file")->required();
  ins->add_flag("--summary", *summary, "only the summary, not every tensor");
  ins->callback([file_i, summary] { inspect(*file_i, *summary); });

  auto* chk = weights->add_subcommand(
      "check", "Load a weights file strictly into an architecture: exit 0 if every tensor fits, else 1");
  auto arch = std::make_shared<std::string>();
  auto file_c = std::make_shared<std::string>();
  auto features_only = std::make_shared<bool>(false);
  chk->add_option("--arch", *arch, "vgg16 | inception_v3")->required();
  chk->add_option("FILE", *file_c, "weights file")->required();
  chk->add_flag("--features-only", *features_only,
                "check only the convolutional part (files converted with --drop-head)");
  chk->callback([arch, file_c, features_only] { check(*arch, *file_c, *features_only); });

  auto* imp = weights->add_subcommand(
      "import", "Convert a Keras model's weights (TensorFlow.js or Keras .h5) into an oess weights file");
  struct ImportArgs {
    std::string from, arch, input, out, imagenet = "unknown", note;
  };
  auto ia = std::make_shared<ImportArgs>();
  imp->add_option("--from", ia->from, "tfjs | keras-h5")->required();
  imp->add_option("--arch", ia->arch, "inception_v3 | vgg16")->required();
  imp->add_option("INPUT", ia->input,
                  "tfjs: a model folder, model.json or nsfwjs-style model.min.js; keras-h5: the .h5 file")
      ->required();
  imp->add_option("--out", ia->out, "weights file to write (torch zip, with provenance metadata)")
      ->required();
  imp->add_option("--imagenet", ia->imagenet,
                  "which layers hold ImageNet weights: all (Keras Applications files) | frozen (layers the "
                  "topology marks trainable: false) | none | unknown")
      ->capture_default_str();
  imp->add_option("--note", ia->note, "free text kept in the metadata: where the model came from");
  imp->footer(
      "Keras conv2d_k / batch_normalization_k become the k-th conv of torchvision's Inception-v3 by the "
      "number\n"
      "in the name; kernels are transposed, BatchNorm without gamma gets gamma = 1, uint8/uint16/float16\n"
      "quantised weights are dequantised as TensorFlow.js does. The file records flavour keras and its\n"
      "preprocessing (keras_tf / keras_caffe), which oess extract, oess run and oess score then use.\n"
      "Example (what tools/get_weights.sh does):\n"
      "  oess weights import --from tfjs --arch inception_v3 --imagenet frozen \\\n"
      "      weights/nsfwjs-4.4.0/model.min.js --out weights/inception_v3_keras.pt");
  imp->callback([ia] { import_weights(ia->from, ia->arch, ia->input, ia->out, ia->imagenet, ia->note); });
}

void add_taps_command(CLI::App& app) {
  auto* sub =
      app.add_subcommand("taps", "List an architecture's taps: names, torchvision aliases, output shapes");
  auto arch = std::make_shared<std::string>();
  auto sizes = std::make_shared<std::vector<std::string>>();
  sub->add_option("--arch", *arch, "vgg16 | inception_v3")->required();
  sub->add_option("--input", *sizes, "input size(s), e.g. 299 or 320x280 (default: the network's own)");
  sub->footer(
      "Shapes are channels x height x width of one image's output (fc taps: features). Tap names work\n"
      "anywhere oess takes a layer list; aliases (torchvision module names) are accepted too.");
  sub->callback([arch, sizes] { taps(*arch, *sizes); });
}

}  // namespace oess::cli

// An exported model as one ONNX file (export/onnx.h): the preprocessing, the backbone cut after the deepest
// member tap, the pooling, the members and the ensemble, written with ONNX's protobuf classes and checked by
// ONNX's checker and shape inference before anything is written.
#include "oess/export/onnx.h"

#include <fmt/format.h>
#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>
#include <torch/torch.h>

#include <algorithm>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "oess/calibration/temperature.h"
#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/core/sha256.h"
#include "oess/data/image.h"
#include "oess/models/preprocessing.h"
#include "oess/models/taps.h"
#include "oess/version.h"
#include "onnx_backbone.h"
#include "onnx_clip.h"
#include "onnx_graph.h"

namespace oess::exporting {
namespace {

using onnxw::attr_int;
using onnxw::attr_ints;
using onnxw::Graph;

torch::Tensor per_channel(const std::array<double, 3>& v) {
  return torch::tensor(std::vector<double>(v.begin(), v.end()), torch::kFloat64).reshape({1, 3, 1, 1});
}

// image [N, 3, H, W] RGB in [0, 1] -> the network's input: value = 255 x, then the preset's
// (value * scale - mean) / std in its channel order; torchvision's transform_input after it when set.
std::string preprocessing(Graph& g, const ModelFile& m, const data::Preprocessing& p) {
  std::string x = "image";
  if (p.bgr)
    x = g.op("Gather", {x, g.constant("bgr_order", torch::tensor({2, 1, 0}, torch::kInt64))}, "image_bgr",
             {attr_int("axis", 1)});
  x = g.op("Mul", {x, g.constant("pre_scale", torch::full({1}, 255.0 * p.scale, torch::kFloat64))}, "scaled");
  x = g.op("Sub", {x, g.constant("pre_mean", per_channel(p.mean))}, "centred");
  x = g.op("Div", {x, g.constant("pre_std", per_channel(p.std))}, "normalised");
  if (meta_or(m, "transform_input", "false") == "true") {  // torchvision's _transform_input
    x = g.op("Mul", {x, g.constant("transform_scale", per_channel({0.229 / 0.5, 0.224 / 0.5, 0.225 / 0.5}))},
             "transform_scaled");
    x = g.op("Add",
             {x, g.constant("transform_shift",
                            per_channel({(0.485 - 0.5) / 0.5, (0.456 - 0.5) / 0.5, (0.406 - 0.5) / 0.5}))},
             "transformed");
  }
  return x;
}

// The headline figures of the run's metrics.json (accuracy, kappa, their intervals, n; binary's AUC).
std::string headline_metrics(const ModelFile& m) {
  const auto j = nlohmann::json::parse(meta_or(m, "metrics", "{}"), nullptr, false);
  if (!j.is_object()) return "{}";
  nlohmann::json h = nlohmann::json::object();
  for (const char* k : {"n", "accuracy", "accuracy_ci95", "mean_per_class_accuracy", "kappa", "kappa_ci95"})
    if (j.contains(k)) h[k] = j[k];
  if (j.contains("binary") && j["binary"].is_object())
    for (const char* k : {"accuracy", "auc", "auc_ci95", "sensitivity", "specificity"})
      if (j["binary"].contains(k)) h["binary_" + std::string(k)] = j["binary"][k];
  if (j.contains("cross_validation")) h["figures"] = "out-of-fold predictions of K-fold cross-validation";
  return h.dump();
}

std::string resize_rule(const ModelFile& m, const data::Preprocessing& p) {
  const std::string crop = meta_or(m, "crop", "none"), mask = meta_or(m, "mask", "none");
  return fmt::format(
      "decode (DICOM: frame {}), mask: {} (oess docs/data.md: hidden pixels filled from their "
      "surroundings), crop: {}, then the whole image resized to {}x{} (width x height) with "
      "bilinear interpolation (OpenCV INTER_LINEAR, 8-bit), aspect ratio not kept; RGB order, 8-bit value "
      "/ 255",
      meta_or(m, "dicom_frame", "0"), mask, crop, p.width, p.height);
}

// An ordinal member's probabilities [N, 4] from its standardised features z: P(grade <= j) =
// sigmoid(theta_j - z.beta), then the differences of [cumulative, 1] and [0, cumulative].
std::string ordinal_member(Graph& g, const std::string& mp, const std::string& z,
                           const train::LinearModel& lm) {
  const auto eta = g.op("MatMul", {z, g.constant(mp + ".beta", lm.weight.t().contiguous())}, mp + ".score");
  const auto cum =
      g.op("Sigmoid", {g.op("Sub", {g.constant(mp + ".thresholds", lm.bias), eta}, mp + ".margins")},
           mp + ".cumulative");
  const auto one = g.constant(mp + ".one", torch::ones({1, 1}, torch::kFloat64));
  const auto ones =
      g.op("Sub", {eta, g.op("Sub", {eta, one}, mp + ".eta_minus_one")}, mp + ".ones");  // [N, 1]
  const auto zeros = g.op("Sub", {eta, eta}, mp + ".zeros");
  const auto upper = g.op("Concat", {cum, ones}, mp + ".upper", {attr_int("axis", 1)});
  const auto lower = g.op("Concat", {zeros, cum}, mp + ".lower", {attr_int("axis", 1)});
  return g.op("Sub", {upper, lower}, mp + ".probabilities");
}

// The members' rows [N, M, C] averaged and, with calibration (model_calibration), scaled as the Scorer
// does: temperature: softmax(log(max(mean, 1e-12)) / T); Platt (binary): softmax(a log(max(mean, 1e-12)) +
// [0, b]), whose second column is sigmoid(a logit + b). `out` names the result, `prefix` the steps.
std::string mean_calibrated(Graph& g, const std::string& members, const ModelCalibration& cal,
                            const std::string& out, const std::string& prefix) {
  const bool scaled = cal.method != ModelCalibration::Method::kNone;
  auto probabilities = g.op("ReduceMean", {members}, scaled ? prefix + "mean_probabilities" : out,
                            {attr_ints("axes", {1}), attr_int("keepdims", 0)});
  if (!scaled) return probabilities;
  const auto floor =
      g.constant(prefix + "min_probability", torch::tensor({calibration::kMinProbability}, torch::kFloat64));
  const auto logp =
      g.op("Log", {g.op("Max", {probabilities, floor}, prefix + "mean_floored")}, prefix + "mean_log");
  std::string scaled_log;
  if (cal.method == ModelCalibration::Method::kTemperature) {
    const auto t = g.constant(prefix + "temperature", torch::tensor({cal.temperature}, torch::kFloat64));
    scaled_log = g.op("Div", {logp, t}, prefix + "scaled_log");
  } else {
    const auto a = g.constant(prefix + "platt_a", torch::tensor({cal.a}, torch::kFloat64));
    const auto b = g.constant(prefix + "platt_b", torch::tensor({0.0, cal.b}, torch::kFloat64));
    scaled_log = g.op("Add", {g.op("Mul", {logp, a}, prefix + "platt_slope"), b}, prefix + "scaled_log");
  }
  return g.op("Softmax", {scaled_log}, out, {attr_int("axis", 1)});
}

// Per (tap, pooling) the pooled features; per member standardisation, linear layer and softmax (binary:
// sigmoid); the members stacked and averaged; P(diseased). A frame-level classifier of clips (members'
// aggregate, onnx_clip.h) takes one clip's frames as the batch: each member's frames combined by the rule,
// and frame_probabilities scores each frame. Returns C.
int64_t add_ensemble(Graph& g, const ModelFile& m, models::Arch arch,
                     const std::map<std::string, std::string>& tap_value) {
  const bool binary = meta_or(m, "task", "?") == "binary";
  const std::string pooling = meta_or(m, "pooling", "avg");
  const std::string rule = m.members.front().aggregate;
  const bool clip = rule != "none";
  std::map<std::string, std::string> pooled;
  std::vector<std::string> member_probs, frame_probs;
  const int64_t classes = binary ? 2 : 4;
  const auto axis1 = g.constant("axis1", torch::tensor({1}, torch::kInt64));
  const auto one = binary ? g.constant("one", torch::ones({1}, torch::kFloat64)) : std::string();
  for (size_t i = 0; i < m.members.size(); ++i) {
    const std::string tap = models::resolve_tap(arch, base_tap(m.member_taps[i])).name;
    const std::string how = pooling_of(m.member_taps[i], pooling);
    const std::string key = tap + "@" + how;
    if (!pooled.count(key)) {
      if (how != "avg" && how != "max")
        throw Error(fmt::format("onnx export: member tap {}: pooling \"{}\" has no ONNX form here",
                                m.member_taps[i], how));
      const std::string v = tap_value.at(tap);
      pooled[key] =
          g.op("Flatten", {g.op(how == "avg" ? "GlobalAveragePool" : "GlobalMaxPool", {v}, key + ".pooled")},
               key + ".features", {attr_int("axis", 1)});
    }
    const auto& lm = m.members[i];
    if (lm.aggregate != rule) throw Error("onnx export: the members combine a clip's frames differently");
    const std::string mp = fmt::format("member{}", i);
    auto z = g.op("Sub", {pooled[key], g.constant(mp + ".mean", lm.mean)}, mp + ".centred");
    z = g.op("Div", {z, g.constant(mp + ".std", lm.std)}, mp + ".standardised");
    std::string probs;
    if (lm.head == train::Head::kOrdinal) {
      probs = ordinal_member(g, mp, z, lm);
    } else {
      const auto logits =
          g.op("Gemm", {z, g.constant(mp + ".weight", lm.weight), g.constant(mp + ".bias", lm.bias)},
               mp + ".logits", {attr_int("transB", 1)});
      if (binary) {
        const auto p1 = g.op("Sigmoid", {logits}, mp + ".p_diseased");
        const auto p0 = g.op("Sub", {one, p1}, mp + ".p_healthy");
        probs = g.op("Concat", {p0, p1}, mp + ".probabilities", {attr_int("axis", 1)});
      } else {
        probs = g.op("Softmax", {logits}, mp + ".probabilities", {attr_int("axis", 1)});
      }
    }
    if (clip) {
      frame_probs.push_back(g.op("Unsqueeze", {probs, axis1}, mp + ".frame_row"));
      probs = onnxw::aggregate_frames(g, probs, rule, classes, mp);
    }
    member_probs.push_back(g.op("Unsqueeze", {probs, axis1}, mp + ".row"));
  }
  const auto cal = model_calibration(m);
  const auto members = g.op("Concat", member_probs, "members", {attr_int("axis", 1)});
  const auto probabilities = mean_calibrated(g, members, cal, "probabilities", "");
  const auto diseased = binary ? torch::tensor({0.0, 1.0}, torch::kFloat64)
                               : torch::tensor({0.0, 0.0, 1.0, 1.0}, torch::kFloat64);
  g.op("MatMul", {probabilities, g.constant("diseased_classes", diseased)}, "p_diseased");
  const int64_t n_members = static_cast<int64_t>(m.members.size());
  const int64_t rows = clip ? 1 : -1;  // a clip graph: one clip, whatever its frames
  g.output("probabilities", {rows, classes},
           binary ? "the ensemble's [P(healthy), P(diseased)]" : "the ensemble's P(OESS grade 0..3)");
  g.output("members", {rows, n_members, classes}, "each member's probabilities");
  g.output("p_diseased", {rows}, binary ? "P(diseased)" : "P(grade 2 or 3)");
  if (clip) {
    mean_calibrated(g, g.op("Concat", frame_probs, "frame_members", {attr_int("axis", 1)}), cal,
                    "frame_probabilities", "frame_");
    g.output("frame_probabilities", {-1, classes}, "each frame's probabilities (members' mean, calibrated)");
  }
  return classes;
}

}  // namespace

namespace {

std::string outputs_text(const ModelCalibration& cal) {
  switch (cal.method) {
    case ModelCalibration::Method::kTemperature:
      return fmt::format(
          "probabilities [N, C]: the ensemble (members' mean, calibrated: softmax(log p / {:.6g}), the "
          "temperature fitted on validation); members [N, M, C] (uncalibrated); p_diseased [N] (calibrated)",
          cal.temperature);
    case ModelCalibration::Method::kPlatt:
      return fmt::format(
          "probabilities [N, 2]: the ensemble (members' mean, calibrated: P(diseased) = sigmoid({:.6g} logit "
          "+ {:.6g}), Platt scaling fitted on validation); members [N, M, 2] (uncalibrated); p_diseased [N] "
          "(calibrated)",
          cal.a, cal.b);
    case ModelCalibration::Method::kNone:
      break;
  }
  return "probabilities [N, C]: the ensemble (members' mean); members [N, M, C]; p_diseased [N]";
}

}  // namespace

const std::vector<std::string>& onnx_metadata_keys() {
  static const std::vector<std::string> k = {
      "oess_version", "format",        "task", "classes", "grades",        "input",
      "resize",       "preprocessing", "arch", "flavour", "weights",       "weights_note",
      "member_taps",  "pooling",       "clip", "metrics", "config_sha256", "outputs"};
  return k;
}

namespace {

// What the file is, how to feed it, where it came from (onnx_metadata_keys, in that order).
void add_metadata(onnx::ModelProto& model, const ModelFile& m, const data::Preprocessing& pre,
                  models::Arch arch, bool keras) {
  const std::string task = meta_or(m, "task", "?");
  const bool binary = task == "binary";
  const std::map<std::string, std::string> meta = {
      {"oess_version", meta_or(m, "oess", OESS_VERSION_STRING)},
      {"format", "oess-onnx 1"},
      {"task", task},
      {"classes", meta_or(m, "classes", "[]")},
      {"grades", binary ? R"({"healthy": "OESS Doppler grades 0-1", "diseased": "OESS Doppler grades 2-3"})"
                        : R"({"0": "OESS Doppler grade 0", "1": "grade 1", "2": "grade 2", "3": "grade 3"})"},
      {"input", fmt::format("image: float32 [N, 3, {}, {}], RGB, values in [0, 1]", pre.height, pre.width)},
      {"resize", resize_rule(m, pre)},
      {"preprocessing",
       fmt::format(
           "in the graph: preset {} (value = 255 * image; (value * {:.9g} - mean) / std{}){}", pre.preset,
           pre.scale, pre.bgr ? ", BGR order" : "",
           meta_or(m, "transform_input", "false") == "true" ? ", then torchvision's transform_input" : "")},
      {"arch", models::arch_name(arch)},
      {"flavour", keras ? "keras" : "torchvision"},
      {"weights", meta_or(m, "weights", "?")},
      {"weights_note", meta_or(m, "weights_note", "not recorded in this model file")},
      {"member_taps", nlohmann::json(m.member_taps).dump()},
      {"pooling", meta_or(m, "pooling", "avg")},
      {"clip", onnxw::clip_metadata(m.members.front().aggregate, meta_or(m, "clip", "?"))},
      {"metrics", headline_metrics(m)},
      {"config_sha256", sha256_hex(meta_or(m, "config", ""))},
      {"outputs", outputs_text(model_calibration(m))}};
  for (const auto& k : onnx_metadata_keys()) {
    auto* p = model.add_metadata_props();
    p->set_key(k);
    p->set_value(meta.at(k));
  }
  model.set_doc_string(
      fmt::format("oess {} model ({}, {} member(s) on {}); metadata_props say how to feed it", task,
                  models::arch_name(arch), m.members.size(), nlohmann::json(m.member_taps).dump()));
}

}  // namespace

OnnxSummary export_onnx(const ModelFile& m, const std::string& out_file) {
  const auto arch = models::parse_arch(meta_or(m, "arch", "?"));
  const std::string task = meta_or(m, "task", "?");
  if (task != "binary" && task != "oess4") throw Error(fmt::format("model: unknown task \"{}\"", task));
  const bool keras = meta_or(m, "flavour", "torchvision") == "keras";
  const auto pre = models::preprocessing_preset(meta_or(m, "preprocessing", "torchvision"), arch);
  if (pre.crop_fraction != 1.0 || pre.interpolation != data::Interpolation::kLinear)
    throw Error("onnx export: only the presets' whole-image bilinear resize is described by the contract");
  if (m.members.empty() || m.members.size() != m.member_taps.size()) throw Error("model: no members");

  onnx::ModelProto model;
  model.set_ir_version(8);
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOnnxOpset);
  model.set_producer_name("oess");
  model.set_producer_version(OESS_VERSION_STRING);
  model.set_model_version(1);
  auto* gp = model.mutable_graph();
  gp->set_name(fmt::format("oess_{}_{}", task, models::arch_name(arch)));
  Graph g(gp);
  g.input("image", {-1, 3, pre.height, pre.width},
          m.members.front().aggregate != "none"
              ? "one clip's sampled frames, float32 values in [0, 1] (8-bit / 255), cropped and resized as "
                "the metadata's `resize` says"
              : "RGB image batch, float32 values in [0, 1] (8-bit / 255), cropped and resized as the "
                "metadata's `resize` says");
  const std::string x = preprocessing(g, m, pre);
  // The backbone up to the deepest member tap, then the members and the ensemble.
  std::vector<std::string> taps;
  int deepest = -1;
  for (const auto& t : m.member_taps) {
    const auto& info = models::resolve_tap(arch, base_tap(t));
    deepest = std::max(deepest, info.index);
    taps.push_back(info.name);
  }
  const auto net = onnxw::add_backbone(g, m.backbone, arch, keras, x, deepest, taps);
  const int64_t classes = add_ensemble(g, m, arch, net.taps);
  add_metadata(model, m, pre, arch, keras);

  // The checker, then strict shape inference (type checks on, node errors thrown).
  try {
    onnx::checker::check_model(model);
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(/*check_type=*/true, /*error_mode=*/1));
  } catch (const std::exception& e) {
    throw Error(fmt::format("onnx export: the ONNX checker refused the graph: {}", e.what()));
  }
  OnnxSummary s;
  s.nodes = gp->node_size();
  s.parameters = g.parameters();
  s.height = pre.height;
  s.width = pre.width;
  s.classes = classes;
  s.members = static_cast<int64_t>(m.members.size());
  s.folded = net.folded;
  std::string bytes;
  if (!model.SerializeToString(&bytes)) throw Error("onnx export: the model could not be serialised");
  s.bytes = static_cast<int64_t>(bytes.size());
  write_file_atomic(out_file, bytes);
  return s;
}

std::string onnx_usage(const std::string& f, const OnnxSummary& s) {
  return fmt::format(
      "Score with ONNX Runtime; the input is the image masked and cropped as the model says, resized to "
      "{w}x{h} "
      "(bilinear), RGB, divided by 255 (`oess score --save-input X.npy` writes exactly that):\n"
      "  Python:  import onnxruntime as ort, numpy as np\n"
      "           s = ort.InferenceSession(\"{f}\")\n"
      "           p = s.run([\"probabilities\"], {{\"image\": np.load(\"X.npy\")}})[0]  # [N, {c}]\n"
      "  Node:    const ort = require(\"onnxruntime-node\");\n"
      "           const s = await ort.InferenceSession.create(\"{f}\");\n"
      "           const r = await s.run({{image: new ort.Tensor(\"float32\", data, [n, 3, {h}, {w}])}});\n"
      "           // r.probabilities.data: n x {c}; r.members, r.p_diseased\n"
      "docs/scoring.md has both in full.",
      fmt::arg("f", f), fmt::arg("w", s.width), fmt::arg("h", s.height), fmt::arg("c", s.classes));
}

}  // namespace oess::exporting

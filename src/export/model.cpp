// Exported models: writing, reading and scoring with them (docs/formats.md, "Exported models").
#include "oess/export/model.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <set>

#include "oess/config/config.h"
#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/data/image.h"
#include "oess/data/loader.h"
#include "oess/data/manifest.h"
#include "oess/experiment/chain.h"
#include "oess/features/extractor.h"
#include "oess/io/csv.h"
#include "oess/models/preprocessing.h"
#include "oess/models/taps.h"
#include "oess/version.h"

namespace oess::exporting {
namespace {

namespace fs = std::filesystem;

std::string base_tap(const std::string& member_tap) { return member_tap.substr(0, member_tap.find('@')); }

// A member tap's pooling: its "@how" suffix, else the model's pooling.
std::string pooling_of(const std::string& member_tap, const std::string& model_pooling) {
  const size_t at = member_tap.find('@');
  return at == std::string::npos ? model_pooling : member_tap.substr(at + 1);
}

// The score of row k of an ensemble's combined output.
ImageScore image_score(const std::string& path, const ensemble::Combined& c, size_t k) {
  ImageScore s;
  s.path = path;
  const auto row = c.mean[static_cast<int64_t>(k)].to(torch::kFloat64).contiguous();
  for (int64_t j = 0; j < row.size(0); ++j) s.p.push_back(row[j].item<double>());
  s.pred = c.pred[k];
  s.p_diseased = c.p_diseased[k];
  s.disagreement = c.disagreement[k];
  s.binary_vote = c.binary_vote[k];
  return s;
}

std::string meta_at(const ModelFile& m, const std::string& key, const std::string& file) {
  auto it = m.meta.find(key);
  if (it == m.meta.end())
    throw Error(fmt::format("{}: not an oess model (no \"{}\" in __meta__)", file, key));
  return it->second;
}

}  // namespace

void export_run(const std::string& run_dir, const std::string& out_file) {
  const fs::path dir(run_dir);
  for (const char* need : {"config.resolved.yaml", "model/classifiers.pt", "model/model.json"})
    if (!fs::is_regular_file(dir / need))
      throw Error(
          fmt::format("{}: no {} (is this an `oess run` folder whose export stage ran?)", run_dir, need));
  const auto cfg = config::load_config((dir / "config.resolved.yaml").string());
  const auto s = experiment::settings_from(cfg);
  const auto model_json = nlohmann::json::parse(read_file((dir / "model" / "model.json").string()));
  const auto classifiers = io::read_weights((dir / "model" / "classifiers.pt").string());
  std::map<std::string, torch::Tensor> by_name(classifiers.tensors.begin(), classifiers.tensors.end());

  ModelFile m;
  std::vector<std::string> taps;
  for (size_t i = 0; i < model_json.at("members").size(); ++i) {
    const std::string tap = model_json["members"][i].at("tap").get<std::string>();
    train::LinearModel lm;
    lm.task = s.train.task;
    const std::string p = fmt::format("member{}.", i);
    for (const char* part : {"mean", "std", "weight", "bias"})
      if (!by_name.count(p + part))
        throw Error(fmt::format("{}: no tensor {}{}", (dir / "model" / "classifiers.pt").string(), p, part));
    lm.mean = by_name.at(p + "mean");
    lm.std = by_name.at(p + "std");
    lm.weight = by_name.at(p + "weight");
    lm.bias = by_name.at(p + "bias");
    m.members.push_back(lm);
    m.member_taps.push_back(tap);
    if (std::find(taps.begin(), taps.end(), base_tap(tap)) == taps.end()) taps.push_back(base_tap(tap));
  }
  if (m.members.empty()) throw Error(fmt::format("{}: model/model.json lists no members", run_dir));

  const auto& e = s.extract;
  auto backbone = models::load_backbone(e.backbone, e.weights, /*strict=*/true, e.seed);
  int deepest = -1;
  for (const auto& t : taps) deepest = std::max(deepest, models::resolve_tap(e.backbone.arch, t).index);
  torch::NoGradGuard no_grad;
  auto& mod = backbone->module();
  for (const auto& item : mod.named_parameters(true)) {
    const int idx = models::layer_index(e.backbone.arch, item.key());
    if (idx >= 0 && idx <= deepest) m.backbone.emplace_back(item.key(), item.value().detach().clone());
  }
  for (const auto& item : mod.named_buffers(true)) {
    const int idx = models::layer_index(e.backbone.arch, item.key());
    if (idx >= 0 && idx <= deepest) m.backbone.emplace_back(item.key(), item.value().detach().clone());
  }
  const std::string metrics =
      fs::is_regular_file(dir / "metrics.json") ? read_file((dir / "metrics.json").string()) : "{}";
  m.meta = {{"format", "oess-model"},
            {"format_version", std::to_string(kModelFormatVersion)},
            {"oess", OESS_VERSION_STRING},
            {"task", train::task_name(s.train.task)},
            {"classes", model_json.at("classes").dump()},
            {"arch", models::arch_name(e.backbone.arch)},
            {"weights", e.weights == "none" ? fmt::format("none:{}", e.seed) : e.weights},
            {"transform_input", e.backbone.transform_input ? "true" : "false"},
            {"flavour", models::flavour_name(e.backbone.flavour)},
            {"preprocessing", e.preprocessing},
            {"crop", cfg.get_string("data.crop")},
            {"dicom_frame", std::to_string(e.dicom_frame)},
            {"pooling", s.poolings.front()},
            {"taps", nlohmann::json(m.member_taps).dump()},
            {"members", model_json.at("members").dump()},
            {"config", read_file((dir / "config.resolved.yaml").string())},
            {"metrics", metrics}};
  // Grad-CAM's reference: the mean activation maps over the first 64 training images (split.csv order).
  if (fs::is_regular_file(dir / "split.csv")) {
    const auto man = data::read_manifest(experiment::manifest_file(s), /*check_files=*/false);
    std::map<std::string, std::string> file_of;
    for (const auto& smp : man.samples) file_of[smp.rel_path] = smp.path;
    const auto split = io::read_csv((dir / "split.csv").string());
    std::vector<std::string> train;
    for (size_t r = 0; r < split.rows.size() && train.size() < 64; ++r)
      if (split.rows[r].size() >= 4 && split.rows[r][3] == "train" && file_of.count(split.rows[r][0]))
        train.push_back(file_of.at(split.rows[r][0]));
    if (!train.empty()) {
      Scorer scorer(m, e.device, e.threads, e.batch);
      m.reference = scorer.mean_maps(train);
    }
  }
  write_model(out_file, m);
}

void write_model(const std::string& path, const ModelFile& m) {
  c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
  c10::Dict<std::string, std::string> meta;
  for (const auto& [k, v] : m.meta) meta.insert(k, v);
  dict.insert("__meta__", meta);
  for (const auto& [k, t] : m.backbone) dict.insert("backbone." + k, t.cpu().contiguous());
  for (size_t i = 0; i < m.members.size(); ++i) {
    const auto& lm = m.members[i];
    const std::string p = fmt::format("member{}.", i);
    dict.insert(p + "mean", lm.mean.cpu().contiguous());
    dict.insert(p + "std", lm.std.cpu().contiguous());
    dict.insert(p + "weight", lm.weight.cpu().contiguous());
    dict.insert(p + "bias", lm.bias.cpu().contiguous());
  }
  for (const auto& [tap, t] : m.reference) dict.insert("reference." + tap, t.cpu().contiguous());
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  write_file_atomic(path, std::string_view(bytes.data(), bytes.size()));
}

ModelFile read_model(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return read_model((fs::path(path) / "model.pt").string());
  if (!fs::is_regular_file(path, ec)) throw Error(fmt::format("{}: no such model file", path));
  const c10::IValue v = io::read_torch_dict(path, "oess model");
  ModelFile m;
  std::map<std::string, torch::Tensor> members;
  for (const auto& item : v.toGenericDict()) {
    if (!item.key().isString())
      throw Error(fmt::format("{}: not an oess model (a key is not a string)", path));
    const std::string key = item.key().toStringRef();
    const c10::IValue& val = item.value();
    if (key == "__meta__") {
      if (!val.isGenericDict()) throw Error(fmt::format("{}: __meta__ is not a dict", path));
      for (const auto& kv : val.toGenericDict()) {
        if (!kv.key().isString() || !kv.value().isString())
          throw Error(fmt::format("{}: __meta__ holds a value that is not a string", path));
        m.meta[kv.key().toStringRef()] = kv.value().toStringRef();
      }
    } else if (!val.isTensor()) {
      throw Error(fmt::format("{}: entry \"{}\" is a {}, expected a tensor", path, key, val.tagKind()));
    } else if (key.rfind("backbone.", 0) == 0) {
      m.backbone.emplace_back(key.substr(9), val.toTensor());
    } else if (key.rfind("reference.", 0) == 0) {
      m.reference[key.substr(10)] = val.toTensor().to(torch::kFloat32);
    } else {
      members[key] = val.toTensor();
    }
  }
  if (meta_at(m, "format", path) != "oess-model")
    throw Error(fmt::format("{}: not an oess model (format \"{}\")", path, m.meta["format"]));
  int version = 0;
  try {
    version = std::stoi(meta_at(m, "format_version", path));
  } catch (const std::logic_error&) {
    throw Error(fmt::format("{}: format_version \"{}\" is not a number", path, m.meta["format_version"]));
  }
  if (version > kModelFormatVersion)
    throw Error(
        fmt::format("{}: model format version {} is newer than this oess reads ({}): it was written by oess "
                    "{}; upgrade oess to score with it",
                    path, version, kModelFormatVersion, m.meta.count("oess") ? m.meta["oess"] : "?"));
  const auto task = train::parse_task(meta_at(m, "task", path));
  nlohmann::json taps;
  try {
    taps = nlohmann::json::parse(meta_at(m, "taps", path));
  } catch (const nlohmann::json::exception&) {
    throw Error(fmt::format("{}: __meta__ taps is not a JSON list", path));
  }
  if (!taps.is_array() || taps.empty()) throw Error(fmt::format("{}: __meta__ taps lists no members", path));
  const auto arch = models::parse_arch(meta_at(m, "arch", path));
  for (size_t i = 0; i < taps.size(); ++i) {
    if (!taps[i].is_string()) throw Error(fmt::format("{}: __meta__ taps[{}] is not a string", path, i));
    const std::string tap = taps[i].get<std::string>();
    models::resolve_tap(arch, base_tap(tap));
    train::LinearModel lm;
    lm.task = task;
    const std::string p = fmt::format("member{}.", i);
    for (const char* part : {"mean", "std", "weight", "bias"})
      if (!members.count(p + part)) throw Error(fmt::format("{}: no tensor {}{}", path, p, part));
    lm.mean = members[p + "mean"].to(torch::kFloat32);
    lm.std = members[p + "std"].to(torch::kFloat32);
    lm.weight = members[p + "weight"].to(torch::kFloat32);
    lm.bias = members[p + "bias"].to(torch::kFloat32);
    const int64_t k = task == train::Task::kBinary ? 1 : 4;
    if (lm.mean.dim() != 1 || lm.std.sizes() != lm.mean.sizes() || lm.weight.dim() != 2 ||
        lm.weight.size(0) != k || lm.weight.size(1) != lm.mean.size(0) || lm.bias.dim() != 1 ||
        lm.bias.size(0) != k)
      throw Error(
          fmt::format("{}: member {} tensors do not fit together (mean {}, std {}, weight {}, bias {})", path,
                      i, lm.mean.sizes(), lm.std.sizes(), lm.weight.sizes(), lm.bias.sizes()));
    m.members.push_back(lm);
    m.member_taps.push_back(tap);
  }
  return m;
}

struct Scorer::Impl {
  std::unique_ptr<models::Backbone> backbone;
  models::Preprocessing pre;
  data::CropSpec crop;
  int frame = 0, batch = 16;
  torch::Device device{torch::kCPU};
  std::vector<std::string> taps;  // base taps to run
  std::string pooling;
  const ModelFile* model;
  std::vector<torch::Tensor> member_probabilities(const std::map<std::string, torch::Tensor>& acts) const;
  // The decoded, cropped image and its preprocessed batch of one on the device.
  torch::Tensor input(const std::string& path, cv::Mat& image) const;
  cv::Mat integrated_gradients(const torch::Tensor& x, int target, int steps,
                               std::pair<double, double>* p_ends);
};

Scorer::Scorer(const ModelFile& m, const std::string& device, int threads, int batch) : impl_(new Impl) {
  task_ = train::parse_task(m.meta.at("task"));
  auto& im = *impl_;
  im.model = &m;
  models::BackboneOptions o;
  o.arch = models::parse_arch(m.meta.at("arch"));
  o.classifier = false;
  o.aux_logits = false;
  o.transform_input = m.meta.at("transform_input") == "true";
  // Models exported before the Keras flavour existed have no "flavour": torchvision.
  if (auto f = m.meta.find("flavour"); f != m.meta.end()) o.flavour = models::parse_flavour(f->second);
  im.backbone = models::make_backbone(o);
  const auto report = im.backbone->load(m.backbone, /*strict=*/false, "model");
  if (!report.unexpected.empty() || !report.mismatched.empty() ||
      report.loaded != static_cast<int64_t>(m.backbone.size()))
    throw Error(fmt::format("model backbone does not fit {}: {}", m.meta.at("arch"), report.details()));
  im.backbone->set_fast_paths({/*fold_batchnorm=*/true, /*channels_last=*/true});  // as extraction
  im.device = models::parse_device(device);
  im.backbone->to(im.device);
  for (auto& p : im.backbone->module().parameters()) p.requires_grad_(false);  // heat maps: inputs only
  im.pre = models::preprocessing_preset(m.meta.at("preprocessing"), o.arch);
  im.crop = data::parse_crop(m.meta.at("crop"));
  im.frame = std::stoi(m.meta.at("dicom_frame"));
  im.pooling = m.meta.at("pooling");
  im.batch = batch;
  for (const auto& t : m.member_taps)
    if (std::find(im.taps.begin(), im.taps.end(), base_tap(t)) == im.taps.end())
      im.taps.push_back(base_tap(t));
  torch::set_num_threads(threads);
}

Scorer::~Scorer() = default;

std::vector<ImageScore> Scorer::score(const std::vector<std::string>& paths,
                                      const std::function<void(int64_t, int64_t)>& progress) {
  auto& im = *impl_;
  std::vector<data::LoadItem> load;
  for (const auto& p : paths) load.push_back({p, false, 0});
  data::BatchLoader loader(std::move(load), im.pre, im.crop, im.batch, /*threads=*/1, /*prefetch=*/2, nullptr,
                           im.frame);
  std::map<std::string, std::vector<torch::Tensor>> pooled;  // "tap@pooling" -> batches
  torch::InferenceMode guard;
  torch::Tensor batch;
  size_t first = 0;
  int64_t done = 0;
  while (loader.next(batch, first)) {
    const auto out = im.backbone->forward(batch.to(im.device), im.taps);
    std::set<std::string> this_batch;  // each (tap, pooling) once per batch, however many members use it
    for (const auto& t : im.model->member_taps) {
      const std::string tap = base_tap(t);
      const std::string how = pooling_of(t, im.pooling);
      if (!this_batch.insert(tap + "@" + how).second) continue;
      pooled[tap + "@" + how].push_back(
          features::pool(out.at(models::resolve_tap(im.backbone->arch(), tap).name), how)
              .to(torch::kCPU, torch::kFloat32));
    }
    done += batch.size(0);
    if (progress) progress(done, static_cast<int64_t>(paths.size()));
  }
  std::vector<torch::Tensor> probs;
  for (size_t i = 0; i < im.model->members.size(); ++i) {
    const auto& t = im.model->member_taps[i];
    const std::string how = pooling_of(t, im.pooling);
    const auto x = torch::cat(pooled.at(base_tap(t) + "@" + how));
    probs.push_back(im.model->members[i].probabilities(x));
  }
  const auto c = ensemble::combine(probs, task_);
  std::vector<ImageScore> out;
  for (size_t k = 0; k < paths.size(); ++k) out.push_back(image_score(paths[k], c, k));
  return out;
}

HeatMethod parse_heat_method(const std::string& name) {
  if (name == "gradcam") return HeatMethod::kGradCam;
  if (name == "ig") return HeatMethod::kIntegratedGradients;
  if (name == "gradcam-ig") return HeatMethod::kGradCamIg;
  throw UsageError(fmt::format("unknown heat-map method \"{}\": expected gradcam, ig or gradcam-ig", name));
}

std::string heat_method_name(HeatMethod m) {
  switch (m) {
    case HeatMethod::kGradCam:
      return "gradcam";
    case HeatMethod::kIntegratedGradients:
      return "ig";
    default:
      return "gradcam-ig";
  }
}

// Each member's class probabilities [N, K] from a forward pass's activations (canonical tap -> tensor).
std::vector<torch::Tensor> Scorer::Impl::member_probabilities(
    const std::map<std::string, torch::Tensor>& acts) const {
  std::vector<torch::Tensor> probs;
  for (size_t i = 0; i < model->members.size(); ++i) {
    const auto& t = model->member_taps[i];
    const auto& a = acts.at(models::resolve_tap(backbone->arch(), base_tap(t)).name);
    probs.push_back(model->members[i].probabilities(features::pool(a, pooling_of(t, pooling)).cpu()));
  }
  return probs;
}

namespace {

// Whether any member's tap has spatial maps (a convolutional tap, not fc1/fc2/logits): Grad-CAM needs one.
bool has_spatial_tap(const ModelFile& m) {
  const auto arch = models::parse_arch(m.meta.at("arch"));
  for (const auto& t : m.member_taps)
    if (!models::resolve_tap(arch, base_tap(t)).classifier) return true;
  return false;
}

}  // namespace

void check_heat_options(const ModelFile& m, const HeatOptions& o) {
  if (o.method == HeatMethod::kGradCam) {
    if (!has_spatial_tap(m))
      throw Error(fmt::format(
          "Grad-CAM needs a convolutional tap, and this model's members use only fully connected ones ({}): "
          "use --heatmap-method ig",
          m.meta.count("taps") ? m.meta.at("taps") : "?"));
    return;
  }
  if (!m.reference.count("input"))
    throw Error(
        "this model holds no reference input (reference.input), which the ig and gradcam-ig heat maps start "
        "from: it was exported by an older oess. Re-export it (oess export --run RUN --out FILE) or use "
        "--heatmap-method gradcam");
  if (o.steps < 1) throw UsageError(fmt::format("integrated gradients: steps {} must be >= 1", o.steps));
  if (!(o.smooth >= 0 && o.smooth < 1))
    throw UsageError(fmt::format("heat-map smoothing {} is outside [0, 1)", o.smooth));
}

torch::Tensor Scorer::Impl::input(const std::string& path, cv::Mat& image) const {
  image = data::apply_crop(data::decode_image(path, nullptr, frame), crop);
  return models::preprocess(image, pre).unsqueeze(0).to(device);
}

// Integrated gradients (see model.h) for a preprocessed input x [1, 3, H, W]; p_ends (optional) receives the
// target's probability at the reference and at the image. requires: check_heat_options passed.
cv::Mat Scorer::Impl::integrated_gradients(const torch::Tensor& x, int target, int steps,
                                           std::pair<double, double>* p_ends) {
  const auto x0 = model->reference.at("input").to(device, torch::kFloat32);
  if (x0.sizes() != x.sizes())
    throw Error(fmt::format("the model's reference input is {} but its preprocessing makes {}", x0.sizes(),
                            x.sizes()));
  const auto delta = (x - x0).to(torch::kFloat32);
  torch::Tensor grad_sum = torch::zeros_like(delta);
  for (int first = 0; first < steps; first += batch) {  // the path's points, a batch at a time
    const int n = std::min(batch, steps - first);
    const auto alpha =
        ((torch::arange(first, first + n, torch::kFloat32) + 0.5) / steps).view({n, 1, 1, 1}).to(device);
    auto xs = (x0 + alpha * delta).detach().requires_grad_(true);
    const auto p = torch::stack(member_probabilities(backbone->forward(xs, taps))).mean(0);
    p.select(1, target).sum().backward();
    grad_sum += xs.grad().sum(0, /*keepdim=*/true);
  }
  if (p_ends) {
    torch::NoGradGuard no_grad;
    const auto ends =
        torch::stack(member_probabilities(backbone->forward(torch::cat({x0, x}), taps))).mean(0);
    *p_ends = {ends[0][target].item<double>(), ends[1][target].item<double>()};
  }
  const auto ig = (grad_sum / steps * delta).sum(1)[0].to(torch::kCPU, torch::kFloat32).contiguous();
  return cv::Mat(static_cast<int>(ig.size(0)), static_cast<int>(ig.size(1)), CV_32F, ig.data_ptr<float>())
      .clone();
}

Scorer::Attribution Scorer::integrated_gradients(const std::string& path, int target, int steps) {
  auto& im = *impl_;
  check_heat_options(*im.model, {HeatMethod::kIntegratedGradients, steps});
  cv::Mat image;
  const auto x = im.input(path, image);
  Attribution a;
  std::pair<double, double> ends;
  a.map = im.integrated_gradients(x, target, steps, &ends);
  a.p_reference = ends.first;
  a.p_image = ends.second;
  return a;
}

Heatmap Scorer::heatmap(const std::string& path, const HeatOptions& o) {
  auto& im = *impl_;
  check_heat_options(*im.model, o);
  Heatmap h;
  const auto x = im.input(path, h.image);
  std::map<std::string, torch::Tensor> acts;
  {
    torch::NoGradGuard no_grad;  // the backbone's own parameters need no gradient
    acts = im.backbone->forward(x, im.taps);
  }
  std::map<std::string, torch::Tensor> leaf;  // canonical tap -> activation as a leaf with gradient
  for (auto& [tap, a] : acts) leaf[tap] = a.detach().to(torch::kFloat32).contiguous().requires_grad_(true);
  const auto probs = im.member_probabilities(leaf);
  std::vector<torch::Tensor> detached;
  for (const auto& p : probs) detached.push_back(p.detach());
  h.score = image_score(path, ensemble::combine(detached, task_), 0);
  const int64_t in_h = x.size(2), in_w = x.size(3);

  // gradcam-ig on a model with only fully connected taps: integrated gradients alone (docs/scoring.md).
  const bool cam = o.method != HeatMethod::kIntegratedGradients && has_spatial_tap(*im.model);
  cv::Mat heat(static_cast<int>(in_h), static_cast<int>(in_w), CV_32F, cv::Scalar(cam ? 0.0 : 1.0));
  if (cam) {
    torch::stack(probs).mean(0)[0][h.score.pred].backward();  // the target: the mean probability
    for (auto& [tap, a] : leaf) {
      if (!a.grad().defined() || a.dim() != 4) continue;  // not used by any member, or an fc tap
      const auto weights = a.grad().mean({2, 3}, /*keepdim=*/true);
      const auto& ref = im.model->reference;
      const auto centred = ref.count(tap) ? a.detach() - ref.at(tap).to(a.device()) : a.detach();
      const auto map =
          torch::relu((weights * centred).sum(1))[0].to(torch::kCPU, torch::kFloat32).contiguous();
      cv::Mat small(static_cast<int>(map.size(0)), static_cast<int>(map.size(1)), CV_32F,
                    map.data_ptr<float>());
      cv::Mat up;
      cv::resize(small, up, heat.size(), 0, 0, cv::INTER_LINEAR);
      heat += up;
    }
  }
  if (o.method != HeatMethod::kGradCam) {
    cv::Mat smooth;
    const cv::Mat ig = im.integrated_gradients(x, h.score.pred, o.steps, nullptr);
    const double sigma = o.smooth * static_cast<double>(std::max(in_h, in_w));
    if (sigma > 0)
      cv::GaussianBlur(ig, smooth, cv::Size(0, 0), sigma, sigma, cv::BORDER_REFLECT);
    else
      smooth = ig;
    cv::max(smooth, 0.0, smooth);
    heat = heat.mul(smooth);
  }

  // The preprocessed input covers the centre crop_fraction of the image: the map goes there.
  const int cw = static_cast<int>(std::lround(h.image.cols * im.pre.crop_fraction));
  const int ch = static_cast<int>(std::lround(h.image.rows * im.pre.crop_fraction));
  const cv::Rect roi((h.image.cols - cw) / 2, (h.image.rows - ch) / 2, cw, ch);
  h.heat = cv::Mat::zeros(h.image.rows, h.image.cols, CV_32F);
  cv::Mat target = h.heat(roi);
  cv::resize(heat, target, roi.size(), 0, 0, cv::INTER_LINEAR);
  double lo = 0, hi = 0;
  cv::minMaxLoc(h.heat, &lo, &hi);
  if (hi > 0) h.heat /= hi;
  return h;
}

std::map<std::string, torch::Tensor> Scorer::mean_maps(const std::vector<std::string>& paths) {
  auto& im = *impl_;
  std::vector<data::LoadItem> load;
  for (const auto& p : paths) load.push_back({p, false, 0});
  data::BatchLoader loader(std::move(load), im.pre, im.crop, im.batch, 1, 2, nullptr, im.frame);
  torch::InferenceMode guard;
  torch::Tensor batch;
  size_t first = 0;
  std::map<std::string, torch::Tensor> sum;
  while (loader.next(batch, first)) {
    auto acts = im.backbone->forward(batch.to(im.device), im.taps);
    acts["input"] = batch;
    for (const auto& [tap, a] : acts) {
      const auto s = a.to(torch::kFloat32).sum(0, /*keepdim=*/true);
      sum[tap] = sum.count(tap) ? sum[tap] + s : s;
    }
  }
  std::map<std::string, torch::Tensor> out;
  for (auto& [tap, s] : sum) out[tap] = (s / static_cast<double>(paths.size())).to(torch::kCPU).contiguous();
  return out;
}

double heat_fraction_inside(const cv::Mat& cam, const cv::Rect& region, double threshold) {
  cv::Mat hot;
  cv::threshold(cam, hot, threshold, 0, cv::THRESH_TOZERO);  // keeps values > threshold
  if (threshold <= 0) hot = cam;
  const double total = cv::sum(hot)[0];
  if (total <= 0) return NAN;
  return cv::sum(hot(region & cv::Rect(0, 0, cam.cols, cam.rows)))[0] / total;
}

cv::Mat heatmap_overlay(const Heatmap& h, double alpha) {
  cv::Mat heat8, colour, out;
  h.heat.convertTo(heat8, CV_8U, 255.0);
  cv::applyColorMap(heat8, colour, cv::COLORMAP_JET);
  cv::addWeighted(h.image, 1.0 - alpha, colour, alpha, 0.0, out);
  return out;
}

}  // namespace oess::exporting

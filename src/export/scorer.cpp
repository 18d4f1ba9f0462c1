// Scoring new images with an exported model (export/scorer.h).
#include <fmt/format.h>
#include <torch/torch.h>

#include <filesystem>
#include <set>

#include "oess/core/error.h"
#include "oess/data/loader.h"
#include "oess/export/scorer.h"
#include "oess/features/clip_features.h"
#include "oess/features/extractor.h"
#include "oess/models/taps.h"
#include "oess/platform/platform.h"
#include "scorer_impl.h"

namespace oess::exporting {

namespace fs = std::filesystem;

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
  im.backbone->set_fast_paths(models::Backbone::FastPaths::for_this_cpu());  // as extraction
  im.device = models::parse_device(device);
  im.backbone->to(im.device);
  for (auto& p : im.backbone->module().parameters()) p.requires_grad_(false);  // heat maps: inputs only
  im.pre = models::preprocessing_preset(m.meta.at("preprocessing"), o.arch);
  im.framing.crop = data::parse_crop(m.meta.at("crop"));
  // Models exported before data.mask existed have no "mask": none.
  if (auto k = m.meta.find("mask"); k != m.meta.end()) im.framing.mask = data::parse_mask_text(k->second);
  if (auto k = m.meta.find("clip"); k != m.meta.end()) im.clip = data::parse_clip_text(k->second);
  im.frame = std::stoi(m.meta.at("dicom_frame"));
  im.pooling = m.meta.at("pooling");
  im.calibration = model_calibration(m);
  im.batch = batch;
  for (const auto& t : m.member_taps)
    if (std::find(im.taps.begin(), im.taps.end(), base_tap(t)) == im.taps.end())
      im.taps.push_back(base_tap(t));
  torch::set_num_threads(threads);
  platform::set_blas_threads(threads);  // one computation at a time: all of its threads
}

void Scorer::prepare(int64_t images) {
  auto& im = *impl_;
  const int64_t n = std::min<int64_t>(im.batch, std::max<int64_t>(images, 1));
  im.backbone->prepare_inference(n, im.pre.height, im.pre.width, im.taps);
}

Scorer::~Scorer() = default;

ImageScore Scorer::frame_scores(const std::vector<int>& index,
                                const std::map<std::string, torch::Tensor>& per_frame) const {
  const auto& im = *impl_;
  std::vector<torch::Tensor> probs;
  for (size_t i = 0; i < im.model->members.size(); ++i) {
    const auto& t = im.model->member_taps[i];
    probs.push_back(
        im.model->members[i].probabilities(per_frame.at(base_tap(t) + "@" + pooling_of(t, im.pooling))));
  }
  auto c = ensemble::combine(probs, task_);
  apply_calibration(c, im.calibration, task_);
  ImageScore s;
  s.frame_index = index;
  double best = -1;
  for (size_t f = 0; f < index.size(); ++f) {
    const auto one = image_score("", c, f);
    s.frame_p.push_back(one.p);
    s.frame_p_diseased.push_back(one.p_diseased);
    if (one.p_diseased > best) {
      best = one.p_diseased;
      s.key_frame = index[f];
    }
  }
  return s;
}

std::vector<ImageScore> Scorer::score(const std::vector<std::string>& paths,
                                      const std::function<void(int64_t, int64_t)>& progress) {
  auto& im = *impl_;
  // Each (tap, pooling) the members read, once however many members use it: "tap@pooling" -> [N, C] rows.
  auto pool_members = [&im](const std::map<std::string, torch::Tensor>& out) {
    std::map<std::string, torch::Tensor> pooled;
    for (const auto& t : im.model->member_taps) {
      const std::string tap = base_tap(t), how = pooling_of(t, im.pooling), key = tap + "@" + how;
      if (!pooled.count(key))
        pooled[key] = features::pool(out.at(models::resolve_tap(im.backbone->arch(), tap).name), how)
                          .to(torch::kCPU, torch::kFloat32);
    }
    return pooled;
  };
  std::vector<size_t> stills, clips;
  for (size_t k = 0; k < paths.size(); ++k) (data::is_clip(paths[k], im.clip) ? clips : stills).push_back(k);
  std::map<std::string, std::vector<torch::Tensor>> rows;  // "tap@pooling" -> one [C] row per path
  auto put = [&rows, &paths](const std::string& key, size_t k, const torch::Tensor& row) {
    auto& v = rows[key];
    if (v.empty()) v.resize(paths.size());
    v[k] = row;
  };
  torch::InferenceMode guard;
  int64_t done = 0;
  std::map<size_t, ImageScore> frames_of;  // clips: the per-frame scores
  for (size_t k : clips) {  // a clip: its sampled frames, pooled over the frames as the run pooled them
    const auto r = features::run_clip(*im.backbone, paths[k], im.clip, im.framing, im.pre, im.taps,
                                      pool_members, im.batch, im.device);
    for (const auto& [key, t] : r.per_frame) put(key, k, features::clip_row(t, im.clip));
    frames_of[k] = frame_scores(r.index, r.per_frame);
    if (progress) progress(++done, static_cast<int64_t>(paths.size()));
  }
  std::vector<data::LoadItem> load;
  for (size_t k : stills) load.push_back({paths[k], false, 0});
  data::BatchLoader loader(std::move(load), im.pre, im.framing, im.batch, data::decode_workers(),
                           /*prefetch=*/2, nullptr, im.frame);
  torch::Tensor batch;
  size_t first = 0;
  while (loader.next(batch, first)) {
    for (const auto& [key, t] : pool_members(im.backbone->infer(batch.to(im.device), im.taps)))
      for (int64_t b = 0; b < t.size(0); ++b)
        put(key, stills[first + static_cast<size_t>(b)], features::still_row(t[b], im.clip));
    done += batch.size(0);
    if (progress) progress(done, static_cast<int64_t>(paths.size()));
  }
  std::vector<torch::Tensor> probs;
  for (size_t i = 0; i < im.model->members.size(); ++i) {
    const auto& t = im.model->member_taps[i];
    const auto x = torch::stack(rows.at(base_tap(t) + "@" + pooling_of(t, im.pooling)));
    probs.push_back(im.model->members[i].probabilities(x));
  }
  auto c = ensemble::combine(probs, task_);
  apply_calibration(c, im.calibration, task_);
  std::vector<ImageScore> out;
  for (size_t k = 0; k < paths.size(); ++k) {
    out.push_back(image_score(paths[k], c, k));
    if (auto f = frames_of.find(k); f != frames_of.end()) {
      auto& s = out.back();
      s.frame_index = f->second.frame_index;
      s.frame_p = f->second.frame_p;
      s.frame_p_diseased = f->second.frame_p_diseased;
      s.key_frame = f->second.key_frame;
    }
  }
  return out;
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

torch::Tensor Scorer::Impl::input(const std::string& path, cv::Mat& image) const {
  return input_of(data::decode_image(path, nullptr, frame), image);
}

torch::Tensor Scorer::Impl::input_of(const cv::Mat& decoded, cv::Mat& image) const {
  image = data::apply_crop(decoded, framing.crop);  // shown under the heat: the picture as it was
  return models::preprocess(data::apply_framing(decoded, framing), pre).unsqueeze(0).to(device);
}

std::map<std::string, torch::Tensor> Scorer::mean_maps(const std::vector<std::string>& paths) {
  auto& im = *impl_;
  std::vector<data::LoadItem> load;
  for (const auto& p : paths) load.push_back({p, false, 0});
  data::BatchLoader loader(std::move(load), im.pre, im.framing, im.batch, data::decode_workers(), 2, nullptr,
                           im.frame);
  torch::InferenceMode guard;
  torch::Tensor batch;
  size_t first = 0;
  std::map<std::string, torch::Tensor> sum;
  while (loader.next(batch, first)) {
    auto acts = im.backbone->infer(batch.to(im.device), im.taps);
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

bool UnsureRule::operator()(const ImageScore& s) const {
  return *std::max_element(s.p.begin(), s.p.end()) < below || s.disagreement >= disagreement;
}

std::vector<PatientSum> per_patient_sums(const std::vector<ImageScore>& scores,
                                         const data::Manifest& manifest) {
  if (!manifest.has_patient)
    throw Error(fmt::format("{}: no patient column for per-patient sums", manifest.file));
  std::map<std::string, std::string> patient_of;
  for (const auto& smp : manifest.samples) patient_of[fs::weakly_canonical(smp.path).string()] = smp.patient;
  std::map<std::string, PatientSum> sums;
  for (const auto& s : scores) {
    auto it = patient_of.find(fs::weakly_canonical(s.path).string());
    if (it == patient_of.end()) continue;
    auto& sum = sums[it->second];
    sum.patient = it->second;
    sum.images += 1;
    sum.sum += s.pred;
  }
  std::vector<PatientSum> out;
  for (auto& [p, sum] : sums) out.push_back(sum);
  return out;
}

}  // namespace oess::exporting

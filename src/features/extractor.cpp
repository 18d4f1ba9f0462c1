#include "oess/features/extractor.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "oess/config/choices.h"
#include "oess/core/allocator.h"
#include "oess/core/error.h"
#include "oess/core/parallel.h"
#include "oess/core/sha256.h"
#include "oess/data/loader.h"
#include "oess/features/cache.h"
#include "oess/features/clip_features.h"
#include "oess/models/preprocessing.h"
#include "oess/platform/platform.h"
#include "oess/version.h"

namespace oess::features {
namespace {

constexpr int kFeatureFormat = 1;

std::string item_key(const std::string& content_hash, const ExtractItem& it) {
  return entry_key(content_hash, it.augment, it.augment_seed);
}

}  // namespace

torch::Tensor pool(const torch::Tensor& t, const std::string& how) {
  if (t.dim() != 4 || how == "none") return t.contiguous();
  if (how == "avg") return t.mean({2, 3});
  return t.amax({2, 3});
}

std::string config_key(const ExtractOptions& o, const std::string& weights_id, std::string* description) {
  const auto p = models::preprocessing_preset(o.preprocessing, o.backbone.arch);
  const std::string crop = o.crop.kind == data::CropSpec::Kind::kNone ? "none"
                           : o.crop.kind == data::CropSpec::Kind::kColourBox
                               ? "colour_box"
                               : fmt::format("rect:{},{},{},{}", o.crop.rect.x, o.crop.rect.y,
                                             o.crop.rect.width, o.crop.rect.height);
  const std::string d0 = fmt::format(
      "feature format {}\narch {}\nweights {}\ntransform_input {}\npreprocessing {} {}x{} bgr={} "
      "scale={:.9g} "
      "mean={:.9g},{:.9g},{:.9g} std={:.9g},{:.9g},{:.9g} crop_fraction={:.9g} interpolation={}\ncrop {}\n"
      "dicom_frame {}\npooling {}",
      kFeatureFormat, models::arch_name(o.backbone.arch), weights_id, o.backbone.transform_input, p.preset,
      p.height, p.width, p.bgr, p.scale, p.mean[0], p.mean[1], p.mean[2], p.std[0], p.std[1], p.std[2],
      p.crop_fraction, static_cast<int>(p.interpolation), crop, o.dicom_frame, o.pooling);
  // Added only for Keras semantics and for a mask, so the keys (and caches) of runs without them stay what
  // they were.
  std::string d = o.backbone.flavour == models::Flavour::kKeras ? d0 + "\nflavour keras" : d0;
  if (!o.mask.empty()) d += "\nmask " + data::mask_text(o.mask);
  if (description) *description = d;
  return sha256_hex(d);
}

std::string entry_key(const std::string& content_hash, bool augment, uint64_t augment_seed) {
  return augment ? sha256_hex(content_hash + fmt::format("+augment:{}", augment_seed)) : content_hash;
}

std::string weights_id(const ExtractOptions& o) {
  return o.weights == "none" ? fmt::format("none:{}", o.seed) : "sha256:" + sha256_file(o.weights);
}

void resolve_weights_semantics(ExtractOptions& o) {
  models::resolve_semantics(o.weights, o.flavour, o.preprocessing, o.backbone);
  o.flavour = models::flavour_name(o.backbone.flavour);
}

namespace {

// validate: options a run cannot go on with are usage errors before any work.
void validate(const ExtractOptions& o) {
  config::extract_poolings().index(o.pooling);
  if (o.batch < 1) throw UsageError("batch size must be >= 1");
  if (o.threads < 1) throw UsageError("threads must be >= 1");
  if (o.shard_n < 1 || o.shard_k < 1 || o.shard_k > o.shard_n)
    throw UsageError(fmt::format("shard {}/{}: expected K/N with 1 <= K <= N", o.shard_k, o.shard_n));
}

// Full maps can be huge: say how big before any work, refuse past the limit.
void check_full_maps_fit(const ExtractOptions& o, const std::vector<std::string>& taps, int64_t n) {
  models::BackboneOptions probe_o = o.backbone;
  auto probe = models::make_backbone(probe_o);
  const auto pre = models::preprocessing_preset(o.preprocessing, o.backbone.arch);
  torch::InferenceMode guard;
  const auto out = probe->forward(torch::zeros({1, 3, pre.height, pre.width}), taps);
  double per_row = 0;
  for (const auto& [k, v] : out) per_row += static_cast<double>(v.numel()) * sizeof(float);
  const double total = per_row * static_cast<double>(n);
  spdlog::info("--pool none: {} rows x {:.1f} KiB = {:.2f} GiB of features", n, per_row / 1024,
               total / (1ull << 30));
  if (total > o.max_full_bytes)
    throw UsageError(
        fmt::format("--pool none would keep {:.2f} GiB of feature maps, over the {:.2f} GiB limit "
                    "(raise it with --max-full-gib, or pool)",
                    total / (1ull << 30), o.max_full_bytes / (1ull << 30)));
}

// plan: every row's content key; rows from the cache filled in; the rest to compute (plain duplicates once).
struct Plan {
  std::vector<std::string> keys;
  std::vector<char> clip;  // the row is a clip (data::is_clip: a DICOM's header is read once, here)
  std::vector<std::map<std::string, torch::Tensor>> rows;
  std::vector<size_t> todo;
  std::vector<std::pair<size_t, size_t>> copies;  // (duplicate, original)
};

Plan plan(const std::vector<ExtractItem>& items, const ExtractOptions& o,
          const std::vector<std::string>& taps, std::optional<FeatureCache>& cache) {
  Plan p;
  p.keys.resize(items.size());
  p.clip.resize(items.size());
  parallel_for(items.size(), o.threads, [&](size_t i) {
    p.keys[i] = item_key(sha256_file(items[i].path), items[i]);
    p.clip[i] = data::is_clip(items[i].path, o.clip);
    // A clip's row depends on how it is sampled and pooled over its frames.
    if (p.clip[i]) p.keys[i] = sha256_hex(p.keys[i] + "+clip:" + o.clip.feature_text());
  });
  p.rows.resize(items.size());
  std::map<std::string, size_t> first_with_key;
  for (size_t i = 0; i < items.size(); ++i) {
    if (cache)
      if (auto hit = cache->get(p.keys[i], taps)) {
        p.rows[i] = std::move(*hit);
        continue;
      }
    auto [it, inserted] = first_with_key.emplace(p.keys[i], i);
    if (inserted)
      p.todo.push_back(i);
    else
      p.copies.emplace_back(i, it->second);
  }
  return p;
}

// compute: the rows the plan left to do, a batch at a time, each into the cache as soon as it is made.
void compute(Plan& p, const std::vector<ExtractItem>& items, const ExtractOptions& o,
             const std::vector<std::string>& taps, std::optional<FeatureCache>& cache,
             data::DecodeNotes& notes, std::pair<int64_t, int64_t>& clip_stats, int64_t done, int64_t n,
             const std::function<void(int64_t, int64_t)>& progress) {
  const torch::Device device = models::parse_device(o.device);
  auto backbone = models::load_backbone(o.backbone, o.weights, /*strict=*/true, o.seed);
  backbone->set_fast_paths(o.fast);
  backbone->to(device);
  std::vector<size_t> stills, clips;
  for (size_t i : p.todo) (p.clip[i] ? clips : stills).push_back(i);
  std::vector<data::LoadItem> load;
  for (size_t i : stills) load.push_back({items[i].path, items[i].augment, items[i].augment_seed});
  const auto pre = models::preprocessing_preset(o.preprocessing, o.backbone.arch);
  const data::Framing framing{o.mask, o.crop};
  data::BatchLoader loader(std::move(load), pre, framing, o.batch, data::decode_workers(), /*prefetch=*/2,
                           &notes, o.dicom_frame);
  torch::InferenceMode guard;
  torch::Tensor batch;
  size_t first = 0;
  if (progress) progress(done, n);
  auto pool_all = [&o](const std::map<std::string, torch::Tensor>& out) {
    std::map<std::string, torch::Tensor> pooled;
    for (const auto& [tap, t] : out) pooled[tap] = pool(t, o.pooling).to(torch::kCPU, torch::kFloat32);
    return pooled;
  };
  for (size_t i : clips) {  // one row per clip: its frames' features pooled over the frames
    const auto r = run_clip(*backbone, items[i].path, o.clip, framing, pre, taps, pool_all, o.batch, device,
                            items[i].augment, items[i].augment_seed, &notes);
    for (const auto& [tap, t] : r.per_frame) p.rows[i][tap] = clip_row(t, o.clip).contiguous();
    if (cache) cache->put(p.keys[i], p.rows[i]);
    ++clip_stats.first;
    clip_stats.second += r.short_clip ? 1 : 0;
    if (progress) progress(++done, n);
  }
  while (loader.next(batch, first)) {
    const auto pooled = pool_all(backbone->infer(batch.to(device), taps));
    for (int64_t b = 0; b < batch.size(0); ++b) {
      const size_t i = stills[first + static_cast<size_t>(b)];
      for (const auto& [tap, t] : pooled) p.rows[i][tap] = t[b].clone();
      if (cache) cache->put(p.keys[i], p.rows[i]);
    }
    done += batch.size(0);
    if (progress) progress(done, n);
  }
  if (!backbone->engine_kernels().empty()) spdlog::info("extract: {}", backbone->engine_kernels());
}

// assemble: one [rows, ...] tensor per tap, and the meta that says where the features came from.
FeatureSet assemble(const Plan& p, const std::vector<ExtractItem>& items, size_t all_rows,
                    const ExtractOptions& o, const std::vector<std::string>& taps,
                    const std::string& weights_id, const std::string& config) {
  FeatureSet f;
  f.taps = taps;
  for (const auto& it : items) f.paths.push_back(it.label.empty() ? it.path : it.label);
  for (const auto& tap : taps) {
    std::vector<torch::Tensor> col;
    col.reserve(items.size());
    // With data.clip.aggregate every row is a clip's frames: a still image is a one-frame clip.
    for (size_t i = 0; i < p.rows.size(); ++i)
      col.push_back(p.clip[i] ? p.rows[i].at(tap) : still_row(p.rows[i].at(tap), o.clip));
    f.data[tap] = items.empty() ? torch::empty({0}) : torch::stack(col);
  }
  const auto pre = models::preprocessing_preset(o.preprocessing, o.backbone.arch);
  f.meta = {{"arch", models::arch_name(o.backbone.arch)},
            {"weights", o.weights == "none" ? weights_id : o.weights + " (" + weights_id + ")"},
            {"preprocessing", fmt::format("{} {}x{}{}", pre.preset, pre.height, pre.width,
                                          o.backbone.transform_input ? " transform_input" : "")},
            {"pooling", o.pooling},
            {"taps", fmt::format("{}", fmt::join(taps, ","))},
            {"config", config},
            {"shard", fmt::format("{}/{}", o.shard_k, o.shard_n)},
            {"rows_total", std::to_string(all_rows)},
            {"oess", OESS_VERSION_STRING}};
  if (o.backbone.flavour == models::Flavour::kKeras) f.meta["flavour"] = "keras";
  return f;
}

}  // namespace

FeatureSet extract_features(const std::vector<ExtractItem>& all_items, const ExtractOptions& options,
                            const std::function<void(int64_t, int64_t)>& progress, ExtractStats* stats) {
  const auto t0 = std::chrono::steady_clock::now();
  ExtractOptions o = options;
  resolve_weights_semantics(o);
  validate(o);
  const std::vector<std::string> taps = models::resolve_taps(o.backbone.arch, o.taps);
  models::parse_device(o.device);  // a usage error before any work
  tune_allocator();
  torch::set_num_threads(o.threads);
  platform::set_blas_threads(o.threads);  // the products oneDNN does not take: one computation, all threads

  std::vector<ExtractItem> items;  // this shard's
  for (size_t i = 0; i < all_items.size(); ++i)
    if (static_cast<int>(i % static_cast<size_t>(o.shard_n)) == o.shard_k - 1) items.push_back(all_items[i]);
  const auto n = static_cast<int64_t>(items.size());
  if (o.pooling == "none") check_full_maps_fit(o, taps, n);

  const std::string weights_id = features::weights_id(o);
  std::string description;
  const std::string config = config_key(o, weights_id, &description);
  std::optional<FeatureCache> cache;
  if (!o.cache_dir.empty()) cache.emplace(o.cache_dir, config, description);
  Plan p = plan(items, o, taps, cache);
  if (o.cache_only && !p.todo.empty())
    throw Error(fmt::format("{}: not in the feature cache {} ({} of {} rows missing): extract them first",
                            items[p.todo.front()].path, o.cache_dir.empty() ? "(none)" : o.cache_dir,
                            p.todo.size() + p.copies.size(), n));
  ExtractStats st;
  st.rows = n;
  st.from_cache = n - static_cast<int64_t>(p.todo.size() + p.copies.size());
  data::DecodeNotes notes;
  if (!p.todo.empty()) {
    std::pair<int64_t, int64_t> clip_stats{0, 0};
    compute(p, items, o, taps, cache, notes, clip_stats, st.from_cache, n, progress);
    st.computed = static_cast<int64_t>(p.todo.size());
    std::tie(st.clips, st.short_clips) = clip_stats;
  }
  for (const auto& [dup, orig] : p.copies) p.rows[dup] = p.rows[orig];
  if (progress) progress(n, n);

  FeatureSet f = assemble(p, items, all_items.size(), o, taps, weights_id, config);
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  st.notes = notes.summary();
  if (st.short_clips > 0)
    st.notes += fmt::format(
        "{}{} of {} clip(s) have fewer frames than data.clip.frames {} asks: all their "
        "frames used",
        st.notes.empty() ? "" : "; ", st.short_clips, st.clips, o.clip.sampling.frames);
  if (cache && cache->damaged_entries())
    st.notes += fmt::format("{}{} damaged cache entr(ies) recomputed", st.notes.empty() ? "" : "; ",
                            cache->damaged_entries());
  if (stats) *stats = st;
  return f;
}

std::string default_cache_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const std::filesystem::path base =
      xdg && *xdg ? std::filesystem::path(xdg) : std::filesystem::path(home && *home ? home : ".") / ".cache";
  return (base / "oess" / "features").string();
}

}  // namespace oess::features

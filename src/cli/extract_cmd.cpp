// `oess extract` and `oess features merge`.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "commands.h"
#include "oess/config/choices.h"
#include "oess/core/error.h"
#include "oess/core/progress.h"
#include "oess/data/manifest.h"
#include "oess/features/extractor.h"
#include "oess/models/preprocessing.h"
#include "options.h"

namespace oess::cli {
namespace {

namespace fs = std::filesystem;

struct ExtractArgs {
  features::ExtractOptions o;
  std::string arch = "inception_v3", manifest, out, layers = "all", shard, crop = "none", device = "cpu";
  std::vector<std::string> mask;
  bool no_cache = false, transform_input = false, no_fast = false;
  double max_full_gib = 4.0;
};

void run_extract(ExtractArgs a) {
  auto& o = a.o;
  o.backbone.arch = models::parse_arch(a.arch);
  o.backbone.classifier = false;
  o.backbone.aux_logits = false;
  o.backbone.transform_input = a.transform_input;
  if (o.pooling != "avg" && o.pooling != "max" && o.pooling != "none")
    throw UsageError(fmt::format("pooling \"{}\": expected avg, max or none", o.pooling));
  if (o.batch < 1 || o.threads < 1) throw UsageError("--batch and --threads must be >= 1");
  o.taps = split_list(a.layers);
  models::resolve_taps(o.backbone.arch, o.taps);  // bad tap names fail before any work
  if (o.preprocessing != "auto") models::preprocessing_preset(o.preprocessing, o.backbone.arch);
  if (o.flavour != "auto") models::parse_flavour(o.flavour);
  o.mask = data::parse_mask(a.mask, "--mask");
  o.crop = data::parse_crop(a.crop);
  o.device = a.device;
  models::parse_device(o.device);
  o.max_full_bytes = a.max_full_gib * (1ull << 30);
  if (a.no_fast) o.fast = {};
  parse_shard(a.shard, o.shard_k, o.shard_n);
  if (o.weights != "none" && !fs::exists(o.weights))
    throw Error(fmt::format("{}: no such weights file", o.weights));
  features::resolve_weights_semantics(o);  // flavour/preprocessing contradictions fail before any work
  o.cache_dir = a.no_cache ? "" : (o.cache_dir.empty() ? features::default_cache_dir() : o.cache_dir);

  const data::Manifest m = data::read_manifest(a.manifest);
  std::vector<features::ExtractItem> items;
  for (const auto& s : m.samples) items.push_back({s.path, s.rel_path, false, 0});
  Progress bar("extract", static_cast<int64_t>((items.size() + static_cast<size_t>(o.shard_n) - 1 -
                                                static_cast<size_t>(o.shard_k - 1)) /
                                               static_cast<size_t>(o.shard_n)));
  features::ExtractStats st;
  const auto f = features::extract_features(
      items, o, [&bar](int64_t d, int64_t) { bar.update(d); }, &st);
  bar.finish(fmt::format("{} from cache, {} computed{}{}", st.from_cache, st.computed,
                         st.notes.empty() ? "" : "; ", st.notes));
  features::write_feature_file(a.out, f);
  std::vector<std::string> shapes;
  for (const auto& tap : f.taps)
    shapes.push_back(fmt::format("{} [{}]", tap, fmt::join(f.data.at(tap).sizes(), "x")));
  fmt::print("wrote {}: {} rows; {}\n", a.out, f.rows(), fmt::join(shapes, ", "));
}

}  // namespace

void add_extract_command(CLI::App& app) {
  auto a = std::make_shared<ExtractArgs>();
  auto* sub =
      app.add_subcommand("extract", "Extract backbone features at named taps: one pass, pooled, cached");
  sub->add_option("--arch", a->arch, "inception_v3 | vgg16")->capture_default_str();
  sub->add_option("--weights", a->o.weights, "weights file (docs/weights.md), or none for seeded random init")
      ->required();
  sub->add_option("--manifest", a->manifest, "manifest CSV")->required();
  sub->add_option("--layers", a->layers,
                  "comma-separated taps (mixed0..mixed10, block5_conv3, ..., torchvision names too) or all")
      ->capture_default_str();
  sub->add_option("--pool", a->o.pooling,
                  fmt::format("{} (none: the full maps)", fmt::join(config::extract_poolings().names, " | ")))
      ->capture_default_str();
  sub->add_option("--out", a->out, "feature file to write (torch.load-able dict)")->required();
  sub->add_option("--batch", a->o.batch, "images per forward pass")->capture_default_str();
  sub->add_option("--threads", a->o.threads, "compute threads (decoding runs on one more)")
      ->capture_default_str();
  sub->add_option("--device", a->device, "cpu | cuda | cuda:N")->capture_default_str();
  sub->add_option("--cache", a->o.cache_dir, "feature cache folder (default ~/.cache/oess/features)");
  sub->add_flag("--no-cache", a->no_cache, "compute everything, keep nothing");
  sub->add_option("--shard", a->shard,
                  "K/N: extract only rows i with i % N == K - 1 (merge with `features merge`)");
  sub->add_option(
         "--preprocessing", a->o.preprocessing,
         "auto (what the weights file says, else torchvision) | torchvision | keras_tf | keras_caffe")
      ->capture_default_str();
  sub->add_option(
         "--flavour", a->o.flavour,
         "auto (what the weights file says, else torchvision) | torchvision | keras: network semantics "
         "(Keras: Inception's branch pools exclude padding)")
      ->capture_default_str();
  sub->add_flag("--transform-input", a->transform_input,
                "Inception: torchvision's transform_input (torchvision's own Inception weights need it)");
  sub->add_option("--mask", a->mask,
                  "outside_sector | annotations | rect:X,Y,W,H (repeatable): on-screen marks hidden before "
                  "the crop, as data.mask (docs/data.md)");
  sub->add_option("--crop", a->crop, "none | colour_box | rect:X,Y,W,H")->capture_default_str();
  sub->add_option("--seed", a->o.seed, "seed for --weights none")->capture_default_str();
  sub->add_option("--max-full-gib", a->max_full_gib, "--pool none: refuse above this many GiB")
      ->capture_default_str();
  sub->add_flag("--no-fast-paths", a->no_fast,
                "run LibTorch's plain modules: no inference engine, BatchNorm folding or channels_last (for "
                "comparison)");
  sub->footer(
      "The backbone runs once per image and every requested tap is kept. Only rows missing from the cache "
      "are\n"
      "computed; a killed run, rerun, continues where it stopped. Output: docs/formats.md (feature files).");
  sub->callback([a] { run_extract(*a); });
}

void add_features_command(CLI::App& app) {
  auto* sub = app.add_subcommand("features", "Feature files: merge shards");
  sub->require_subcommand(0, 1);
  sub->callback([sub] {
    if (sub->get_subcommands().empty())
      throw UsageError("`oess features` needs a subcommand: merge --out FILE SHARD...");
  });
  auto* merge = sub->add_subcommand("merge", "Join the shard files of one `oess extract --shard K/N` run");
  auto out = std::make_shared<std::string>();
  auto files = std::make_shared<std::vector<std::string>>();
  merge->add_option("--out", *out, "merged feature file")->required();
  merge->add_option("SHARDS", *files, "shard feature files, any order")->required();
  merge->callback([out, files] {
    std::vector<std::pair<std::string, features::FeatureSet>> shards;
    for (const auto& f : *files) shards.emplace_back(f, features::read_feature_file(f));
    const auto merged = features::merge_shards(shards);
    features::write_feature_file(*out, merged);
    fmt::print("wrote {}: {} rows from {} shards\n", *out, merged.rows(), shards.size());
  });
}

}  // namespace oess::cli

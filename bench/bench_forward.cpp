// oess_bench_forward — times Backbone::forward for one architecture and tap list; prints one JSON line.
// Driven by bench/bench_forward.py, which times torchvision eager on the same job in the same run.
#include <fmt/format.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>

#include "oess/models/backbone.h"

int main(int argc, char** argv) {
  CLI::App app{"Times oess backbone forward passes (seeded random weights)."};
  std::string arch = "inception_v3", taps = "all", weights, flavour = "torchvision";
  int batch = 8, iters = 5, warmup = 2, threads = 2;
  app.add_option("--arch", arch);
  app.add_option("--taps", taps, "comma-separated tap names, or all");
  app.add_option("--batch", batch);
  app.add_option("--iters", iters);
  app.add_option("--warmup", warmup);
  app.add_option("--threads", threads);
  app.add_option("--weights", weights, "weights file (default: seeded random init)");
  app.add_option("--flavour", flavour, "torchvision | keras (Inception's branch pools exclude padding)");
  bool fold = false, cl = false, engine = false;
  app.add_flag("--fold-bn", fold);
  app.add_flag("--channels-last", cl);
  app.add_flag("--engine", engine, "Backbone::infer on the oneDNN engine (models/engine.h)");
  CLI11_PARSE(app, argc, argv);

  torch::set_num_threads(threads);
  oess::models::BackboneOptions o;
  o.arch = oess::models::parse_arch(arch);
  o.classifier = false;
  o.flavour = oess::models::parse_flavour(flavour);
  auto b = oess::models::make_backbone(o);
  b->init_random(0);
  if (!weights.empty()) b->load(oess::io::read_weights(weights).tensors, /*strict=*/false);
  b->set_fast_paths({fold, cl, engine});
  std::vector<std::string> names;
  for (size_t s = 0, e; s <= taps.size(); s = e + 1) {
    e = std::min(taps.find(',', s), taps.size());
    names.push_back(taps.substr(s, e - s));
  }
  names = oess::models::resolve_taps(o.arch, names);
  const int64_t size = oess::models::native_input_size(o.arch);
  torch::manual_seed(1);
  const auto x = torch::randn({batch, 3, size, size});
  torch::InferenceMode guard;
  std::vector<double> ms;
  for (int i = 0; i < warmup + iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto out = engine ? b->infer(x, names) : b->forward(x, names);
    const auto t1 = std::chrono::steady_clock::now();
    if (i >= warmup) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count() / batch);
  }
  std::sort(ms.begin(), ms.end());
  // The engine's largest difference from LibTorch's plain forward, relative to each tap's largest value.
  double rel = 0;
  if (engine) {
    const auto fast = b->infer(x, names);
    b->set_fast_paths({});
    const auto plain = b->forward(x, names);
    for (const auto& [tap, t] : plain)
      rel = std::max(rel, ((fast.at(tap) - t).abs().max() / t.abs().max()).item<double>());
    fmt::print(stderr, "{}\n", b->engine_kernels());
  }
  fmt::print(
      "{{\"arch\": \"{}\", \"flavour\": \"{}\", \"taps\": {}, \"batch\": {}, \"threads\": {}, "
      "\"ms_per_image_median\": {:.3f}, \"ms_per_image_min\": {:.3f}, \"engine\": {}, \"max_rel_diff\": "
      "{:.3g}}}\n",
      arch, flavour, names.size(), batch, threads, ms[ms.size() / 2], ms.front(), engine, rel);
  return 0;
}

// oess_bench_finetune — times FineTuner steps (forward + backward + SGD update of the trained blocks and the
// head, on cached frozen activations) for one architecture; prints one JSON line. Driven by
// bench/bench_finetune.py, which times Python PyTorch doing the same steps in the same run.
#include <fmt/format.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>

#include "oess/finetune/finetune.h"

int main(int argc, char** argv) {
  CLI::App app{"Times oess fine-tuning steps (seeded random weights)."};
  std::string arch = "inception_v3", from = "mixed5", head = "mixed7";
  int batch = 8, steps = 5, warmup = 1, threads = 2, size = 0;
  app.add_option("--arch", arch);
  app.add_option("--train-from", from);
  app.add_option("--head-tap", head);
  app.add_option("--batch", batch);
  app.add_option("--steps", steps);
  app.add_option("--warmup", warmup);
  app.add_option("--threads", threads);
  app.add_option("--size", size, "input height = width (default: the network's own)");
  CLI11_PARSE(app, argc, argv);

  torch::set_num_threads(threads);
  oess::models::BackboneOptions o;
  o.arch = oess::models::parse_arch(arch);
  o.classifier = false;
  o.aux_logits = false;
  auto b = oess::models::make_backbone(o);
  b->init_random(0);
  const int64_t s = size > 0 ? size : oess::models::native_input_size(o.arch);
  oess::finetune::Options f;
  f.train_from = from;
  f.head_tap = head;
  f.lr_backbone = 1e-4;
  f.lr_head = 1e-3;
  const int64_t channels = oess::models::resolve_tap(o.arch, head).channels;
  torch::manual_seed(1);
  oess::finetune::FineTuner ft(*b, f, torch::nn::Linear(channels, 4));
  const auto x = ft.frozen(torch::randn({batch, 3, s, s}));
  const auto y = torch::randint(0, 4, {batch}, torch::kInt64);
  std::vector<double> ms;
  for (int i = 0; i < warmup + steps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    ft.step(x, y);
    const auto t1 = std::chrono::steady_clock::now();
    if (i >= warmup) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  fmt::print(
      "{{\"arch\": \"{}\", \"train_from\": \"{}\", \"head\": \"{}\", \"batch\": {}, \"threads\": {}, "
      "\"size\": {}, \"ms_per_step_median\": {:.2f}, \"ms_per_step_min\": {:.2f}}}\n",
      arch, from, head, batch, threads, s, ms[ms.size() / 2], ms.front());
  return 0;
}

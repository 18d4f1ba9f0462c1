#include "oess/cli/app.h"

#include <fmt/format.h>

#include <ATen/Parallel.h>
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "oess/core/error.h"
#include "oess/platform/platform.h"
#include "oess/version.h"

namespace oess::cli {
namespace {

// What this process computes with: CPU, oneDNN's ISA, the BLAS LibTorch loaded, the threads (issue #30).
std::string compute_info() {
  std::string out;
  for (const auto& [key, value] : platform::facts()) out += fmt::format("{}: {}\n", key, value);
  out += fmt::format(
      "threads: LibTorch {} by default, on {} CPU(s) this process may use (a run's features.threads and "
      "classifier.threads set its own)\n",
      at::get_num_threads(), platform::cpu().cores);
  const std::string warning = platform::reference_blas_warning(platform::blas());
  if (!warning.empty()) out += "warning: " + warning + "\n";
  return out;
}

std::unique_ptr<CLI::App> make_app() {
  auto holder = std::make_unique<CLI::App>(
      "oess: OMERACT-EULAR Synovitis Scoring (OESS) of colour-Doppler ultrasound with CNN features.\n"
      "Reproduces Andersen et al., RMD Open 2019: VGG-16 / Inception-v3 features, per-layer classifiers,\n"
      "ensembles, metrics with confidence intervals, exported models that score new images.",
      "oess");
  CLI::App& app = *holder;
  app.set_version_flag("--version", [] {  // asked only when --version is given
    std::string info = build_info() + compute_info();
    while (!info.empty() && info.back() == '\n') info.pop_back();
    return info;
  });
  app.require_subcommand(0, 1);
  app.footer("Each subcommand has its own --help. Exit codes: 0 success, 1 failed work, 2 bad usage.");
  // In the order of the work: data, weights, features, experiments, results, models.
  add_synth_command(app);
  add_manifest_command(app);
  add_baseline_command(app);
  add_weights_command(app);
  add_taps_command(app);
  add_extract_command(app);
  add_features_command(app);
  add_sweep_command(app);
  add_evaluate_command(app);
  add_compare_command(app);
  add_agreement_command(app);
  add_read_command(app);
  add_config_command(app);
  add_run_command(app);
  add_export_command(app);
  add_score_command(app);

  return holder;
}

}  // namespace

int run(int argc, char** argv) {
  spdlog::set_pattern("oess: %l: %v");  // log lines read like the error lines, on stderr
  spdlog::set_default_logger(spdlog::stderr_color_mt("oess"));
  // Building the command line cannot fail in a released binary, but a clash between two subcommands must
  // still end in a message and exit code, not an abort.
  std::unique_ptr<CLI::App> holder;
  try {
    holder = make_app();
  } catch (const std::exception& e) {
    fmt::print(stderr, "oess: internal error while building the command line: {}\n", e.what());
    return 1;
  }
  CLI::App& app = *holder;
  try {
    app.parse(argc, argv);
    if (app.get_subcommands().empty()) {
      std::fputs(app.help().c_str(), stderr);
      std::fputs("oess: error: no subcommand given\n", stderr);
      return 2;
    }
    return 0;
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints help/version (rc 0) or the parse error
    return rc == 0 ? 0 : 2;
  } catch (const Error& e) {
    fmt::print(stderr, "oess: error: {}\n", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    fmt::print(stderr, "oess: error: {}\n", e.what());
    return 1;
  }
}

}  // namespace oess::cli

// `oess config`: the experiment schema and resolved configs, without running anything.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <memory>

#include "commands.h"
#include "oess/config/config.h"
#include "oess/core/error.h"
#include "oess/experiment/grid.h"
#include "oess/settings/settings.h"

namespace oess::cli {
namespace {

namespace fs = std::filesystem;

// After the resolved config: the paths as `oess run` will use them, whether each is there, and what
// reading the config changed (settings::Settings::warnings).
void print_paths(const config::Config& cf) {
  const auto s = settings::settings_from(cf);
  fmt::print(
      "# paths as `oess run` uses them (a relative path in a config file resolves against its folder; "
      "from --set or a default, against the working directory):\n");
  auto line = [](const std::string& key, const std::string& path, const char* absent) {
    std::error_code ec;
    const std::string abs = fs::absolute(path).lexically_normal().string();
    fmt::print("#   {:<20} {}{}\n", key, abs, fs::exists(path, ec) ? "" : fmt::format("  ({})", absent));
  };
  if (s.manifest == "synthetic")
    line("data.synthetic.dir", s.synth.out_dir, "not there yet: made on first use");
  else
    line("data.manifest", s.manifest, "MISSING: `oess run` would stop");
  if (s.extract.weights != "none") line("backbone.weights", s.extract.weights, "MISSING");
  if (!s.extract.cache_dir.empty()) line("features.cache", s.extract.cache_dir, "not there yet");
  line("output.dir", s.out_dir, "not there yet");
  for (const auto& w : s.warnings) fmt::print("# warning [{}]: {}\n", w.code, w.message);
}

}  // namespace

void add_config_command(CLI::App& app) {
  auto* sub = app.add_subcommand("config", "Experiment configs: list every key, or show a config resolved");
  sub->require_subcommand(0, 1);
  sub->callback([sub] {
    if (sub->get_subcommands().empty())
      throw UsageError(
          "`oess config` needs a subcommand: keys [--markdown] | show CONFIG [--set key=value]...");
  });

  auto* keys = sub->add_subcommand("keys", "Every key an experiment may set, with its type and default");
  auto markdown = std::make_shared<bool>(false);
  keys->add_flag("--markdown", *markdown, "as the Markdown table of docs/config.md");
  keys->callback([markdown] {
    if (*markdown) {
      fmt::print("{}", config::schema_markdown());
      return;
    }
    for (const auto& k : config::schema()) fmt::print("{:<40} {:<20} {}\n", k.path, k.default_yaml, k.help);
  });

  auto* show = sub->add_subcommand(
      "show", "Print a config with its bases, overrides and defaults resolved (what `oess run` would use)");
  auto file = std::make_shared<std::string>();
  auto sets = std::make_shared<std::vector<std::string>>();
  show->add_option("CONFIG", *file, "experiment YAML")->required();
  show->add_option("--set", *sets, "key.path=value override (repeatable)");
  show->footer(
      "Each value carries a comment naming where it came from: FILE:LINE or --set (none: the default).");
  show->callback([file, sets] {
    const auto cf = config::load_config(*file, *sets);
    fmt::print("{}", cf.yaml());
    print_paths(cf);
    // A grid: every variant's settings, each checked against the schema as `oess run` would.
    const auto grid = experiment::read_grid(*file, {});
    if (grid.empty()) return;
    fmt::print("# grid: {} variant(s), reference {} (docs/ablation.md):\n", grid.variants.size(),
               grid.reference);
    for (const auto& v : grid.variants) {
      experiment::variant_config(cf, v);
      std::string sets;
      for (const auto& [key, value] : v.sets)
        sets += fmt::format("{}{}={}", sets.empty() ? "" : ", ", key, value);
      fmt::print("#   {:<40} {}\n", v.name, sets);
    }
  });
}

}  // namespace oess::cli

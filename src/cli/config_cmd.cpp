// `oess config`: the experiment schema and resolved configs, without running anything.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <memory>

#include "commands.h"
#include "oess/config/config.h"
#include "oess/core/error.h"

namespace oess::cli {

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
  show->callback([file, sets] { fmt::print("{}", config::load_config(*file, *sets).yaml()); });
}

}  // namespace oess::cli

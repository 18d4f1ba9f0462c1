#pragma once
// src/cli/options.h — command-line options several subcommands share, declared once.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "oess/config/choices.h"
#include "oess/core/warning.h"

namespace oess::data {
struct SplitOptions;
}

namespace oess::cli {

// --split-method, --val-per-class, --test-per-class, --val-fraction, --test-fraction, --seed,
// --allow-patient-overlap (data/split.h).
void add_split_options(CLI::App& sub, data::SplitOptions& split);

// --shard "K/N" (`oess extract`, `oess run`): k and n set when text is not empty; a value that is not K/N
// with 1 <= K <= N is a UsageError quoting it (exit 2).
void parse_shard(const std::string& text, int& k, int& n);

// "a,b,,c" -> {a, b, c}: a comma-separated list, empty items dropped.
std::vector<std::string> split_list(const std::string& s);

// A command's last words: "N warning(s)<where>:" and each as "  [code] message"; nothing when none.
void print_warnings(const std::vector<RunWarning>& warnings, const std::string& where);

// An option whose value is one of a closed set (config/choices.h): the help lists the names and shows the
// default; a name outside the set is a usage error `FLAG "x": expected a, b or c` (exit 2).
template <typename E>
CLI::Option* add_choice_option(CLI::App& sub, const std::string& flag, E& target, const std::string& help) {
  const std::string names = fmt::format("{}", fmt::join(config::choices_of<E>().names, " | "));
  return sub
      .add_option_function<std::string>(
          flag, [&target, flag](const std::string& v) { target = config::parse<E>(v, flag); },
          help.empty() ? names : help + ": " + names)
      ->default_str(config::name(target));
}

}  // namespace oess::cli

// Ablation grids: variants of one config, run one after another, compared with a reference (grid.h).
#include "oess/experiment/grid.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/core/sha256.h"
#include "oess/settings/settings.h"
#include "run_folder.h"

namespace oess::experiment {

void compare_variants(const config::Config& base, const Grid& grid, const std::string& dir);  // ablation.cpp

namespace {

namespace fs = std::filesystem;

std::string at(const std::string& file, const YAML::Node& n) {
  return n.Mark().is_null() ? file : fmt::format("{}:{}", file, n.Mark().line + 1);
}

std::string yaml_text(const YAML::Node& n) {
  if (n.IsScalar()) return n.Scalar();
  YAML::Emitter e;
  e.SetSeqFormat(YAML::Flow);
  e.SetMapFormat(YAML::Flow);
  e << n;
  return e.c_str();
}

// A folder-safe name part: "[mixed3, mixed4]" -> "mixed3-mixed4".
std::string slug(const std::string& text) {
  std::string out;
  for (char c : text) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    if (ok)
      out += c;
    else if (!out.empty() && out.back() != '-')
      out += '-';
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  while (!out.empty() && out.front() == '-') out.erase(out.begin());
  return out.empty() ? "empty" : out;
}

void check_key(const std::string& key, const std::string& where) {
  if (!config::find_key(key))
    throw UsageError(fmt::format("{}: grid: {}: unknown key (oess config keys lists them)", where, key));
  if (key == "name" || key.rfind("output.", 0) == 0)
    throw UsageError(
        fmt::format("{}: grid: {}: cannot vary (each variant runs into RUN/variants/<name>/)", where, key));
}

// "v1,v2,[a, b]" -> {"v1", "v2", "[a, b]"}: commas inside brackets stay.
std::vector<std::string> split_values(const std::string& s) {
  std::vector<std::string> out(1);
  int depth = 0;
  for (char c : s) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == ',' && depth == 0)
      out.emplace_back();
    else
      out.back() += c;
  }
  return out;
}

using Axis = std::pair<std::string, std::vector<std::string>>;  // key, YAML values

std::vector<GridVariant> cross_product(const std::vector<Axis>& axes) {
  std::vector<GridVariant> out(1);
  for (const auto& [key, values] : axes) {
    std::vector<GridVariant> next;
    const std::string part = key.substr(key.rfind('.') + 1);
    for (const auto& v : out)
      for (const auto& value : values) {
        GridVariant w = v;
        w.name += (w.name.empty() ? "" : "__") + part + "-" + slug(value);
        w.sets.emplace_back(key, value);
        next.push_back(std::move(w));
      }
    out = std::move(next);
  }
  return out;
}

std::vector<GridVariant> explicit_variants(const std::string& file, const YAML::Node& list) {
  if (!list.IsSequence() || list.size() == 0)
    throw UsageError(fmt::format("{}: grid: variants: expected a list of {{name, set}}", at(file, list)));
  std::vector<GridVariant> out;
  for (const auto& item : list) {
    if (!item.IsMap() || !item["name"] || !item["name"].IsScalar() || (item["set"] && !item["set"].IsMap()))
      throw UsageError(fmt::format("{}: grid: variants: each is {{name: NAME, set: {{key: value, ...}}}}",
                                   at(file, item)));
    GridVariant v;
    v.name = item["name"].Scalar();
    if (slug(v.name) != v.name)
      throw UsageError(fmt::format("{}: grid: variant name \"{}\": letters, digits, '.', '_' and '-' only",
                                   at(file, item), v.name));
    for (const auto& kv : item["set"]) {
      check_key(kv.first.Scalar(), at(file, kv.first));
      v.sets.emplace_back(kv.first.Scalar(), yaml_text(kv.second));
    }
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace

Grid read_grid(const std::string& file, const std::vector<std::string>& cli) {
  Grid g;
  std::vector<Axis> axes;
  YAML::Node node;
  if (!file.empty()) node = YAML::LoadFile(file)["grid"];
  if (node && !node.IsNull() && !node.IsMap())
    throw UsageError(fmt::format("{}: grid: expected a mapping of keys to lists of values", at(file, node)));
  if (node && node.IsMap()) {
    for (const auto& kv : node) {
      const std::string key = kv.first.Scalar();
      if (key == "reference" || key == "variants" || key == "export") continue;
      check_key(key, at(file, kv.first));
      std::vector<std::string> values;
      if (kv.second.IsSequence())
        for (const auto& v : kv.second) values.push_back(yaml_text(v));
      else if (!kv.second.IsNull())
        values.push_back(yaml_text(kv.second));
      if (values.empty()) throw UsageError(fmt::format("{}: grid: {}: no value", at(file, kv.first), key));
      axes.emplace_back(key, values);
    }
    if (node["reference"]) g.reference = node["reference"].Scalar();
    if (node["export"] && !YAML::convert<bool>::decode(node["export"], g.export_models))
      throw UsageError(fmt::format("{}: grid: export: expected true or false, not \"{}\"",
                                   at(file, node["export"]), yaml_text(node["export"])));
  }
  for (const auto& c : cli) {
    const size_t eq = c.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == c.size())
      throw UsageError(fmt::format("--grid \"{}\": expected key=v1,v2,...", c));
    const std::string key = c.substr(0, eq);
    check_key(key, "--grid " + c);
    const auto values = split_values(c.substr(eq + 1));
    auto it = std::find_if(axes.begin(), axes.end(), [&key](const Axis& a) { return a.first == key; });
    if (it != axes.end())
      it->second = values;
    else
      axes.emplace_back(key, values);
  }
  const bool listed = node && node.IsMap() && node["variants"];
  if (listed && !axes.empty())
    throw UsageError(
        fmt::format("{}: grid: give keys with values or a variants list, not both", at(file, node)));
  if (listed) g.variants = explicit_variants(file, node["variants"]);
  if (!axes.empty()) g.variants = cross_product(axes);
  if (g.variants.empty() && node)
    throw UsageError(fmt::format(
        "{}: grid: empty: list keys with values (e.g. data.balance: [oversample, none])", at(file, node)));
  std::set<std::string> names;
  for (const auto& v : g.variants)
    if (!names.insert(v.name).second)
      throw UsageError(
          fmt::format("{}: grid: two variants named \"{}\"", file.empty() ? "--grid" : file, v.name));
  if (g.reference.empty() && !g.variants.empty()) g.reference = g.variants[0].name;
  if (!g.variants.empty() && !names.count(g.reference))
    throw UsageError(fmt::format("{}: grid: reference \"{}\" is not a variant; the variants: {}",
                                 at(file, node["reference"]), g.reference, fmt::join(names, ", ")));
  return g;
}

config::Config variant_config(const config::Config& base, const GridVariant& v) {
  config::Config c = base;
  for (const auto& [key, value] : v.sets) c.set(key, value, "grid variant " + v.name);  // errors name it
  try {
    settings::settings_from(c);  // what the schema alone cannot check (taps, crop, weights ...)
  } catch (const std::exception& e) {
    throw UsageError(fmt::format("grid variant {}: {}", v.name, e.what()));
  }
  return c;
}

std::string grid_yaml(const Grid& grid) {
  std::string out = fmt::format("grid:\n  reference: {}\n{}  variants:\n", grid.reference,
                                grid.export_models ? "  export: true\n" : "");
  for (const auto& v : grid.variants) {
    out += fmt::format("    - name: {}\n      set:{}\n", v.name, v.sets.empty() ? " {}" : "");
    for (const auto& [key, value] : v.sets) out += fmt::format("        {}: {}\n", key, value);
  }
  return out;
}

void run_grid(const config::Config& base, const Grid& grid, const RunOptions& options) {
  const auto s = settings::settings_from(base);
  const std::string dir = options.out_dir.empty() ? s.out_dir : options.out_dir;
  std::vector<config::Config> configs;
  for (const auto& v : grid.variants) configs.push_back(variant_config(base, v));  // all checked first
  if (!options.variant.empty() &&
      std::none_of(grid.variants.begin(), grid.variants.end(),
                   [&](const GridVariant& v) { return v.name == options.variant; })) {
    std::vector<std::string> names;
    for (const auto& v : grid.variants) names.push_back(v.name);
    throw UsageError(fmt::format("--variant {}: not a variant of this grid ({})", options.variant,
                                 fmt::join(names, ", ")));
  }
  const auto& names = stage_names();
  const size_t report = static_cast<size_t>(std::find(names.begin(), names.end(), "report") - names.begin());
  fmt::print("grid: {} variant(s) into {}/variants/, reference {}; {}\n", grid.variants.size(), dir,
             grid.reference,
             grid.export_models ? "each variant exports its model (export: true)"
                                : "no variant exports a model (grid: export: true asks for them)");
  for (size_t i = 0; i < grid.variants.size(); ++i) {
    const auto& v = grid.variants[i];
    if (!options.variant.empty() && v.name != options.variant) continue;
    const std::string vdir = (fs::path(dir) / "variants" / v.name).string();
    config::Config resolved;
    const std::string text = resolved_config(configs[i], settings::settings_from(configs[i]), vdir, resolved);
    const std::string hash = sha256_hex(text);
    const fs::path done = fs::path(vdir) / "grid.done";
    std::error_code ec;
    if (fs::is_regular_file(done, ec) && read_file(done.string()) == hash + "\n") {
      fmt::print("\n=== variant {}/{} {}: finished before (same resolved config), skipped\n", i + 1,
                 grid.variants.size(), v.name);
      continue;
    }
    std::vector<std::string> sets;
    for (const auto& [key, value] : v.sets) sets.push_back(key + "=" + value);
    fmt::print("\n=== variant {}/{} {} ({})\n", i + 1, grid.variants.size(), v.name, fmt::join(sets, ", "));
    RunOptions o = options;
    o.out_dir = vdir;
    if (!grid.export_models) o.stages.last = std::min(o.stages.last, report);
    run_experiment(configs[i], o);
    write_file_atomic(done.string(), hash + "\n");
  }
  if (!options.variant.empty()) return;  // one variant alone: the comparison waits for all of them
  if (options.stages.last <
      static_cast<size_t>(std::find(names.begin(), names.end(), "evaluate") - names.begin())) {
    fmt::print("\ngrid: stages up to {} only: no predictions to compare yet (rerun without --stage)\n",
               names[options.stages.last]);
    return;
  }
  compare_variants(base, grid, dir);
}

}  // namespace oess::experiment

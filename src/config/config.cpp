// Loading experiment configs: bases, overrides, checking every value against the schema.
#include "oess/config/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/core/text.h"
#include "values.h"

namespace oess::config {
namespace {

namespace fs = std::filesystem;

struct Loader {
  std::map<std::string, Config::Value> values;
  std::vector<std::string> files;
  std::vector<std::string> stack;  // canonical paths being loaded, for cycles

  // Every key of one file's mapping, checked, into `values` (later files override earlier ones).
  void flatten(const YAML::Node& node, const std::string& prefix, const std::string& origin) {
    for (const auto& kv : node) {
      if (!kv.first.IsScalar())
        throw UsageError(fmt::format("{}: keys must be plain names", where(origin, kv.first)));
      const std::string path = prefix.empty() ? kv.first.Scalar() : prefix + "." + kv.first.Scalar();
      const std::string at = where(origin, kv.first);
      if (const Key* key = find_key(path)) {
        values[path] = to_value(*key, kv.second, at);
      } else if (is_section(path)) {
        if (kv.second.IsNull()) continue;  // an empty section sets nothing
        if (!kv.second.IsMap())
          throw UsageError(fmt::format("{}: {}: expected a mapping (a section of keys), got {}", at, path,
                                       describe(kv.second)));
        flatten(kv.second, path, origin);
      } else if (path == "base") {
        continue;  // the top level's base: read by load_text
      } else if (path == "grid") {
        if (stack.size() > 1)  // a base file's grid would run grids nobody asked for
          throw UsageError(fmt::format("{}: grid: only in the experiment file itself, not in a base", at));
        continue;  // read by experiment/grid.h
      } else {
        throw UsageError(fmt::format("{}: {}", at, unknown_key_message(path)));
      }
    }
  }

  void load_text(const std::string& text, const std::string& origin, const fs::path& folder) {
    const YAML::Node root = parse_yaml(text, origin);
    if (root.IsNull()) return;  // an empty file sets nothing
    if (!root.IsMap())
      throw UsageError(
          fmt::format("{}: expected a mapping of keys at the top level, got {}", origin, describe(root)));
    if (const YAML::Node base = root["base"]) {
      std::vector<std::string> bases;
      if (base.IsScalar()) {
        bases.push_back(base.Scalar());
      } else if (base.IsSequence()) {
        for (const auto& b : base) {
          if (!b.IsScalar())
            throw UsageError(fmt::format("{}: base: expected a path or a list of paths", where(origin, b)));
          bases.push_back(b.Scalar());
        }
      } else {
        throw UsageError(fmt::format("{}: base: expected a path or a list of paths, got {}",
                                     where(origin, base), describe(base)));
      }
      for (const auto& b : bases) {
        const fs::path p = fs::path(b).is_absolute() ? fs::path(b) : folder / b;
        std::error_code ec;  // a path too long or unreadable is "no such file", not an exception
        if (!fs::is_regular_file(p, ec))
          throw UsageError(fmt::format("{}: base: {}: no such config file", where(origin, base), p.string()));
        load_file(p.string());
      }
    }
    flatten(root, "", origin);
  }

  void load_file(const std::string& file) {
    std::error_code ec;
    if (fs::is_directory(file, ec)) throw UsageError(fmt::format("{}: is a folder, not a config file", file));
    if (!fs::is_regular_file(file, ec)) throw UsageError(fmt::format("{}: no such config file", file));
    const std::string canon = fs::weakly_canonical(file, ec).string();
    if (std::find(stack.begin(), stack.end(), canon) != stack.end()) {
      std::string cycle;
      auto it = std::find(stack.begin(), stack.end(), canon);
      for (; it != stack.end(); ++it) cycle += fs::path(*it).filename().string() + " -> ";
      throw UsageError(
          fmt::format("{}: circular base: {}{}", file, cycle, fs::path(canon).filename().string()));
    }
    const std::string text = read_file(file);
    stack.push_back(canon);
    load_text(text, file, fs::path(file).parent_path());
    stack.pop_back();
    files.push_back(file);
  }

  void apply_override(const std::string& o) {
    const size_t eq = o.find('=');
    if (eq == std::string::npos || eq == 0)
      throw UsageError(
          fmt::format("--set \"{}\": expected key.path=value, e.g. --set classifier.lr=0.01", o));
    const std::string path = o.substr(0, eq);
    const std::string at = fmt::format("--set {}", o);
    const Key* key = find_key(path);
    if (!key)
      throw UsageError(fmt::format("{}: {}", at,
                                   is_section(path) ? path + ": a section, not a key; set one of "
                                                             "its keys"
                                                    : unknown_key_message(path)));
    const std::string text = o.substr(eq + 1);
    YAML::Node n = text.empty() ? YAML::Node(std::string()) : parse_yaml(text, at);
    if (n.IsNull() && !text.empty()) n = YAML::Node(text);  // "~" or "null": the word itself
    values[path] = to_value(*key, n, at);
    values[path].origin = "--set";
  }

  Config finish(const std::string& file) {
    Config c;
    c.file = file;
    c.files = files;
    for (const auto& key : schema()) {
      auto it = values.find(key.path);
      if (it != values.end()) {
        c.values[key.path] = it->second;
      } else {
        Config::Value v = to_value(key, YAML::Load(key.default_yaml), "default");
        v.origin = "default";
        c.values[key.path] = v;
      }
    }
    return c;
  }
};

const Config::Value& value_of(const Config& c, const std::string& path, Type want) {
  const Key* key = find_key(path);
  auto it = c.values.find(path);
  if (!key || it == c.values.end()) throw Error(fmt::format("config: {}: no such key (internal)", path));
  if (key->type != want)
    throw Error(
        fmt::format("config: {}: read as {}, but it is {}", path, type_name(want), type_name(key->type)));
  return it->second;
}

void emit_scalar(YAML::Emitter& e, const std::string& s, Type t) {
  if (t == Type::kString && (s.empty() || ascii_lower(s) == "null" || s == "~")) {
    e << YAML::DoubleQuoted << s;
    return;
  }
  e << s;
}

}  // namespace

int64_t Config::get_int(const std::string& path) const {
  int64_t v = 0;
  parse_int(value_of(*this, path, Type::kInt).items.at(0), &v);
  return v;
}

double Config::get_number(const std::string& path) const {
  double v = 0;
  parse_number(value_of(*this, path, Type::kNumber).items.at(0), &v);
  return v;
}

bool Config::get_bool(const std::string& path) const {
  bool v = false;
  parse_bool(value_of(*this, path, Type::kBool).items.at(0), &v);
  return v;
}

std::string Config::get_string(const std::string& path) const {
  return value_of(*this, path, Type::kString).items.at(0);
}

std::vector<std::string> Config::get_strings(const std::string& path) const {
  return value_of(*this, path, Type::kStringList).items;
}

std::vector<int64_t> Config::get_ints(const std::string& path) const {
  std::vector<int64_t> out;
  for (const auto& s : value_of(*this, path, Type::kIntList).items) {
    int64_t v = 0;
    parse_int(s, &v);
    out.push_back(v);
  }
  return out;
}

void Config::set(const std::string& path, const std::string& yaml_value, const std::string& origin) {
  const Key* key = find_key(path);
  if (!key) throw Error(fmt::format("config: {}: no such key (internal)", path));
  Value v = to_value(*key, parse_yaml(yaml_value, origin), origin);
  v.origin = origin;
  values[path] = v;
}

std::string Config::origin_of(const std::string& path) const {
  auto it = values.find(path);
  return it == values.end() ? "" : it->second.origin;
}

std::string Config::yaml() const {
  YAML::Emitter e;
  e << YAML::BeginMap;
  std::vector<std::string> open;  // sections currently open
  for (const auto& key : schema()) {
    std::vector<std::string> parts;
    for (size_t start = 0;;) {
      const size_t dot = key.path.find('.', start);
      parts.push_back(key.path.substr(start, dot - start));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    const std::vector<std::string> sections(parts.begin(), parts.end() - 1);
    size_t common = 0;
    while (common < open.size() && common < sections.size() && open[common] == sections[common]) ++common;
    while (open.size() > common) e << YAML::EndMap, open.pop_back();
    while (open.size() < sections.size()) {
      e << YAML::Key << sections[open.size()] << YAML::Value << YAML::BeginMap;
      open.push_back(sections[open.size()]);
    }
    const Value& v = values.at(key.path);
    e << YAML::Key << parts.back() << YAML::Value;
    if (v.list) {
      e << YAML::Flow << YAML::BeginSeq;
      for (const auto& item : v.items)
        emit_scalar(e, item, key.type == Type::kIntList ? Type::kInt : Type::kString);
      e << YAML::EndSeq;
    } else {
      emit_scalar(e, v.items.at(0), key.type);
    }
    if (v.origin != "default") e << YAML::Comment(v.origin);
  }
  while (!open.empty()) e << YAML::EndMap, open.pop_back();
  e << YAML::EndMap;
  return std::string(e.c_str()) + "\n";
}

Config load_config(const std::string& file, const std::vector<std::string>& overrides) {
  Loader l;
  l.load_file(file);
  for (const auto& o : overrides) l.apply_override(o);
  return l.finish(file);
}

Config parse_config(const std::string& text, const std::string& origin,
                    const std::vector<std::string>& overrides) {
  Loader l;
  l.load_text(text, origin, fs::path(origin).parent_path());
  for (const auto& o : overrides) l.apply_override(o);
  return l.finish("");
}

}  // namespace oess::config

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

namespace oess::config {
namespace {

namespace fs = std::filesystem;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool parse_int(const std::string& s, int64_t* out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end != s.c_str() + s.size()) return false;
  *out = v;
  return true;
}

bool parse_number(const std::string& s, double* out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || end != s.c_str() + s.size() || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

bool parse_bool(const std::string& s, bool* out) {
  const std::string l = lower(s);
  if (l == "true" || l == "yes" || l == "on") return *out = true, true;
  if (l == "false" || l == "no" || l == "off") return *out = false, true;
  return false;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// Paths that are sections (a prefix of some key): "data", "data.split", ...
bool is_section(const std::string& path) {
  for (const auto& key : schema())
    if (key.path.size() > path.size() && key.path.compare(0, path.size(), path) == 0 &&
        key.path[path.size()] == '.')
      return true;
  return false;
}

std::string unknown_key_message(const std::string& path) {
  std::string best;
  size_t best_d = 4;  // suggest only close names
  std::set<std::string> names;
  for (const auto& key : schema()) {
    for (size_t dot = key.path.find('.'); dot != std::string::npos; dot = key.path.find('.', dot + 1))
      names.insert(key.path.substr(0, dot));
    names.insert(key.path);
  }
  for (const auto& n : names) {
    const size_t d = edit_distance(n, path);
    if (d < best_d) best_d = d, best = n;
  }
  return fmt::format("{}: unknown key{} (docs/config.md lists every key)", path,
                     best.empty() ? "" : fmt::format(", did you mean {}?", best));
}

std::string describe(const YAML::Node& n) {
  if (n.IsNull()) return "nothing";
  if (n.IsScalar()) return fmt::format("\"{}\"", n.Scalar());
  if (n.IsSequence()) return "a list";
  return "a mapping";
}

std::string where(const std::string& origin, const YAML::Node& n) {
  const auto mark = n.Mark();
  if (mark.line < 0) return origin;
  return fmt::format("{}:{}", origin, mark.line + 1);
}

// Checks one scalar item of `key`; returns an error text or "".
std::string check_item(const Key& key, const std::string& s, Type item_type) {
  const std::string what = item_type == key.type ? type_name(key.type) : type_name(item_type);
  double v = 0;
  switch (item_type) {
    case Type::kInt: {
      int64_t i = 0;
      if (!parse_int(s, &i)) return fmt::format("expected {}, got \"{}\"", what, s);
      v = static_cast<double>(i);
      break;
    }
    case Type::kNumber:
      if (!parse_number(s, &v)) return fmt::format("expected {}, got \"{}\"", what, s);
      break;
    case Type::kBool: {
      bool b = false;
      if (!parse_bool(s, &b)) return fmt::format("expected {}, got \"{}\"", what, s);
      return "";
    }
    default:
      if (!key.choices.empty() && std::find(key.choices.begin(), key.choices.end(), s) == key.choices.end()) {
        std::string list;
        for (const auto& c : key.choices) list += (list.empty() ? "" : ", ") + c;
        return fmt::format("expected one of {}, got \"{}\"", list, s);
      }
      return "";
  }
  if (v < key.min || (key.min_exclusive && v == key.min) || v > key.max)
    return fmt::format("{} is out of range (allowed: {} {}{})", s, key.min_exclusive ? ">" : ">=", key.min,
                       key.max < 1e300 ? fmt::format(", <= {}", key.max) : "");
  return "";
}

// A YAML value for `key` -> Config::Value, or UsageError "<at>: <path>: ...".
Config::Value to_value(const Key& key, const YAML::Node& n, const std::string& at) {
  auto fail = [&](const std::string& msg) { throw UsageError(fmt::format("{}: {}: {}", at, key.path, msg)); };
  Config::Value v;
  v.origin = at;
  const bool is_list = key.type == Type::kStringList || key.type == Type::kIntList;
  const Type item_type = key.type == Type::kIntList ? Type::kInt : Type::kString;
  if (n.IsScalar() && key.type == Type::kStringList) {  // "mixed3, mixed4" reads as [mixed3, mixed4]
    v.list = true;
    std::string item;
    for (size_t i = 0; i <= n.Scalar().size(); ++i) {
      const char c = i < n.Scalar().size() ? n.Scalar()[i] : ',';
      if (c != ',') {
        item += c;
        continue;
      }
      const size_t b = item.find_first_not_of(' '), e = item.find_last_not_of(' ');
      if (b == std::string::npos) fail("expected a list of strings, got an empty item");
      v.items.push_back(item.substr(b, e - b + 1));
      item.clear();
    }
  } else if (n.IsScalar()) {
    v.items.push_back(n.Scalar());
    v.list = is_list;
  } else if (n.IsSequence() && is_list) {
    v.list = true;
    for (const auto& e : n) {
      if (!e.IsScalar())
        fail(fmt::format("expected {}, got a list holding {}", type_name(key.type), describe(e)));
      v.items.push_back(e.Scalar());
    }
    if (v.items.empty()) fail(fmt::format("expected {}, got an empty list", type_name(key.type)));
  } else {
    fail(fmt::format("expected {}, got {}", type_name(key.type), describe(n)));
  }
  for (const auto& item : v.items) {
    const std::string err = check_item(key, item, is_list ? item_type : key.type);
    if (!err.empty()) fail(err);
  }
  return v;
}

YAML::Node parse_yaml(const std::string& text, const std::string& origin) {
  try {
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw UsageError(
        fmt::format("{}:{}:{}: YAML syntax: {}", origin, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
}

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
  if (t == Type::kString && (s.empty() || lower(s) == "null" || s == "~")) {
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

// Config values: YAML scalars and lists checked against the schema, and the messages that name them
// (values.h).
#include "values.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "oess/core/error.h"
#include "oess/core/text.h"

namespace oess::config {

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
  const std::string l = ascii_lower(s);
  if (l == "true" || l == "yes" || l == "on") return *out = true, true;
  if (l == "false" || l == "no" || l == "off") return *out = false, true;
  return false;
}

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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
    if (v.items.empty() && !key.empty_list_ok)
      fail(fmt::format("expected {}, got an empty list", type_name(key.type)));
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

}  // namespace oess::config

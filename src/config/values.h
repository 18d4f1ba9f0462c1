#pragma once
// src/config/values.h — what the config loader needs to read one value: number and boolean parsing, the
// schema check of a YAML value, YAML parsing with file:line:column errors, and messages that name the key
// (unknown keys get the nearest known one). Private to the config area.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>

#include "oess/config/config.h"

namespace oess::config {

bool parse_int(const std::string& s, int64_t* out);
bool parse_number(const std::string& s, double* out);
bool parse_bool(const std::string& s, bool* out);
// Paths that are sections (a prefix of some key): "data", "data.split", ...
bool is_section(const std::string& path);
std::string unknown_key_message(const std::string& path);
std::string describe(const YAML::Node& n);
std::string where(const std::string& origin, const YAML::Node& n);
// A YAML value for `key` -> Config::Value, or UsageError "<at>: <path>: ...".
Config::Value to_value(const Key& key, const YAML::Node& n, const std::string& at);
YAML::Node parse_yaml(const std::string& text, const std::string& origin);

}  // namespace oess::config

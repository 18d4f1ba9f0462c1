#pragma once
// oess/config/config.h — experiment configs: YAML files checked against one schema, with fragments pulled
// in by `base:` and command-line overrides (`--set key.path=value`).
//
// schema(): every key an experiment may set, in document order: its dotted path, type, default (YAML
//   text), allowed values or range, and what it means. The one source of defaults: docs/config.md is
//   generated from it (`oess config keys --markdown`) and a test keeps the two equal.
// load_config(file, overrides)
//   Reads `file`; its `base:` (a path or a list of paths, relative to the file's folder) are loaded first,
//   in order, each with its own bases, and the file's own keys override theirs; then each override
//   "key.path=value" (value read as YAML: 3, 1e-3, true, [mixed3, mixed4]); then every key not set takes
//   its default.
//   Values are typed by the schema, not by YAML's guess: `data.manifest: yes` is the string "yes".
//   errors (oess::UsageError; nothing is run): a missing or unreadable file, YAML syntax ("FILE:LINE:COL:
//   ..."), an unknown key ("FILE:LINE: classifier.early_stoping: unknown key, did you mean
//   classifier.early_stopping?"), a wrong type or value ("FILE:LINE: classifier.early_stopping.patience:
//   expected an integer, got \"ten\""), a section given a value, a circular base (the cycle, file by file),
//   an override without '=' or naming an unknown key.
// parse_config(text, origin, overrides): the same for YAML text (bases relative to origin's folder).
// Config::yaml(): the resolved config — every key, in schema order, each with a comment saying where its
//   value came from (default, FILE:LINE or --set); loading it again gives the same values.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace oess::config {

enum class Type { kInt, kNumber, kBool, kString, kStringList, kIntList };
// "an integer", "a number", "true or false", "a string", "a list of strings", "a list of integers"
std::string type_name(Type t);

struct Key {
  std::string path;
  Type type;
  std::string default_yaml;
  std::vector<std::string> choices;  // allowed values (strings, or each element of a string list)
  double min = -1e300;               // numbers and integers (each element of an integer list)
  bool min_exclusive = false;
  double max = 1e300;
  std::string help;
  bool empty_list_ok = false;  // lists: [] is a value (e.g. no columns), not a mistake
};

const std::vector<Key>& schema();
const Key* find_key(const std::string& path);  // nullptr when unknown

class Config {
 public:
  int64_t get_int(const std::string& path) const;
  double get_number(const std::string& path) const;
  bool get_bool(const std::string& path) const;
  std::string get_string(const std::string& path) const;
  std::vector<std::string> get_strings(const std::string& path) const;
  std::vector<int64_t> get_ints(const std::string& path) const;
  // Replaces a value (checked like an override); `origin` is what yaml() names as its source.
  void set(const std::string& path, const std::string& yaml_value, const std::string& origin);
  std::string origin_of(const std::string& path) const;
  std::string yaml() const;

  std::string file;                // the config loaded ("" for text)
  std::vector<std::string> files;  // every file read, bases first

  struct Value {
    std::vector<std::string> items;  // one item for scalars
    bool list = false;
    std::string origin;
  };
  std::map<std::string, Value> values;  // every schema key after resolution
};

Config load_config(const std::string& file, const std::vector<std::string>& overrides = {});
Config parse_config(const std::string& text, const std::string& origin,
                    const std::vector<std::string>& overrides = {});

// The schema as a Markdown table (key, type, default, allowed, meaning) — docs/config.md's table.
std::string schema_markdown();

}  // namespace oess::config

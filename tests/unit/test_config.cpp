// Experiment configs: schema types, bases, overrides and the errors a user meets (docs/config.md).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "oess/config/config.h"
#include "oess/core/error.h"

namespace fs = std::filesystem;
using oess::UsageError;
using oess::config::Config;
using oess::config::load_config;
using oess::config::parse_config;

namespace {

// A fresh folder per test case (ctest runs test cases of this executable in parallel).
fs::path scratch(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("oess-config-" + std::to_string(getpid())) / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

// The message of the UsageError `f` throws ("" when it throws none).
template <typename F>
std::string usage_error(F&& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("config: every key not set takes the default the schema documents") {
  const Config c = parse_config("", "empty.yaml");
  CHECK(c.get_int("seed") == 0);
  CHECK(c.get_string("data.manifest") == "synthetic");
  CHECK(c.get_ints("data.synthetic.counts") == std::vector<int64_t>{742, 425, 307, 220});  // Table 1
  CHECK(c.get_int("data.split.val_per_class") == 44);
  CHECK(c.get_strings("features.layers") == std::vector<std::string>{"all"});
  CHECK(c.get_int("ensemble.members") == 10);
  CHECK(c.get_number("classifier.lr") == Approx(1e-3));
  CHECK(c.get_bool("data.augment") == false);
  CHECK(c.origin_of("seed") == "default");
  CHECK(c.values.size() == oess::config::schema().size());
}

TEST_CASE("config: values are typed by the schema, not by YAML's guess") {
  const Config c = parse_config(
      "data:\n  manifest: yes\n  crop: rect:1,2,3,4\nfeatures:\n  layers: mixed3, mixed4\nseed: 7\n",
      "t.yaml");
  CHECK(c.get_string("data.manifest") == "yes");
  CHECK(c.get_string("data.crop") == "rect:1,2,3,4");
  CHECK(c.get_strings("features.layers") == std::vector<std::string>{"mixed3", "mixed4"});
  CHECK(c.get_int("seed") == 7);
  CHECK(c.origin_of("seed") == "t.yaml:6");
}

TEST_CASE("config: wrong types and values name the key path, the file and line, and the expected type") {
  CHECK(usage_error([] { parse_config("classifier:\n  early_stopping:\n    patience: ten\n", "x.yaml"); }) ==
        "x.yaml:3: classifier.early_stopping.patience: expected an integer, got \"ten\"");
  CHECK(usage_error([] { parse_config("classifier:\n  lr: fast\n", "x.yaml"); }) ==
        "x.yaml:2: classifier.lr: expected a number, got \"fast\"");
  CHECK(usage_error([] { parse_config("data:\n  augment: maybe\n", "x.yaml"); }) ==
        "x.yaml:2: data.augment: expected true or false, got \"maybe\"");
  CHECK(usage_error([] { parse_config("data:\n  split:\n    method: random\n", "x.yaml"); }) ==
        "x.yaml:3: data.split.method: expected one of per_class, stratified, grouped, column, kfold, "
        "leave_group_out, got "
        "\"random\"");
  CHECK(usage_error([] { parse_config("seed: [1, 2]\n", "x.yaml"); }) ==
        "x.yaml:1: seed: expected an integer, got a list");
  CHECK(usage_error([] { parse_config("ensemble:\n  members: -1\n", "x.yaml"); }) ==
        "x.yaml:2: ensemble.members: -1 is out of range (allowed: >= 0)");
  CHECK(usage_error([] { parse_config("data:\n  split: 3\n", "x.yaml"); }) ==
        "x.yaml:2: data.split: expected a mapping (a section of keys), got \"3\"");
  CHECK(usage_error([] { parse_config("features:\n  pooling: [avg, median]\n", "x.yaml"); }) ==
        "x.yaml:2: features.pooling: expected one of avg, max, got \"median\"");
  CHECK(usage_error([] { parse_config("- 1\n", "x.yaml"); }) ==
        "x.yaml: expected a mapping of keys at the top level, got a list");
}

TEST_CASE("config: unknown keys are refused, with the nearest known key") {
  CHECK(usage_error([] { parse_config("classifier:\n  early_stoping:\n    patience: 3\n", "x.yaml"); }) ==
        "x.yaml:2: classifier.early_stoping: unknown key, did you mean classifier.early_stopping? "
        "(docs/config.md lists every key)");
  CHECK(usage_error([] { parse_config("colour: red\n", "x.yaml"); }).find("x.yaml:1: colour: unknown key") ==
        0);
}

TEST_CASE("config: YAML syntax errors give file, line and column") {
  const std::string e = usage_error([] { parse_config("seed: 1\nfeatures: [mixed1\n", "bad.yaml"); });
  CHECK(e.find("bad.yaml:") == 0);
  CHECK(e.find("YAML syntax") != std::string::npos);
}

TEST_CASE("config: a missing file or base is named") {
  const fs::path d = scratch("missing");
  CHECK(usage_error([&] { load_config((d / "nope.yaml").string()); }) ==
        (d / "nope.yaml").string() + ": no such config file");
  write(d / "a.yaml", "base: gone.yaml\n");
  CHECK(usage_error([&] { load_config((d / "a.yaml").string()); }) ==
        (d / "a.yaml").string() + ":1: base: " + (d / "gone.yaml").string() + ": no such config file");
  CHECK(usage_error([&] { load_config(d.string()); }) == d.string() + ": is a folder, not a config file");
}

TEST_CASE("config: bases load first and in order, the file overrides them, --set overrides all") {
  const fs::path d = scratch("bases");
  fs::create_directories(d / "frag");
  write(d / "frag" / "one.yaml", "seed: 1\nclassifier:\n  lr: 0.5\n  batch: 8\n");
  write(d / "frag" / "two.yaml", "seed: 2\nensemble:\n  members: 4\n");
  write(d / "exp.yaml", "base: [frag/one.yaml, frag/two.yaml]\nclassifier:\n  batch: 16\n");
  const Config c = load_config((d / "exp.yaml").string());
  CHECK(c.get_int("seed") == 2);                        // the later base wins
  CHECK(c.get_number("classifier.lr") == Approx(0.5));  // kept from a base
  CHECK(c.get_int("classifier.batch") == 16);           // the file wins over its bases
  CHECK(c.get_int("ensemble.members") == 4);
  CHECK(c.files.size() == 3);
  const Config o =
      load_config((d / "exp.yaml").string(), {"classifier.batch=32", "features.layers=[mixed1, mixed2]"});
  CHECK(o.get_int("classifier.batch") == 32);
  CHECK(o.origin_of("classifier.batch") == "--set");
  CHECK(o.get_strings("features.layers") == std::vector<std::string>{"mixed1", "mixed2"});
  // A base reached twice without a cycle (a diamond) is fine.
  write(d / "frag" / "left.yaml", "base: one.yaml\n");
  write(d / "frag" / "right.yaml", "base: one.yaml\n");
  write(d / "diamond.yaml", "base: [frag/left.yaml, frag/right.yaml]\n");
  CHECK(load_config((d / "diamond.yaml").string()).get_int("seed") == 1);
}

TEST_CASE("config: a circular base names the cycle") {
  const fs::path d = scratch("circular");
  write(d / "a.yaml", "base: b.yaml\n");
  write(d / "b.yaml", "base: [c.yaml]\n");
  write(d / "c.yaml", "base: a.yaml\n");
  CHECK(usage_error([&] { load_config((d / "a.yaml").string()); }) ==
        (d / "a.yaml").string() + ": circular base: a.yaml -> b.yaml -> c.yaml -> a.yaml");
  write(d / "self.yaml", "base: self.yaml\n");
  CHECK(usage_error([&] {
          load_config((d / "self.yaml").string());
        }).find("circular base: self.yaml -> self.yaml") != std::string::npos);
}

TEST_CASE("config: bad overrides are refused naming the override") {
  CHECK(usage_error([] { parse_config("", "x.yaml", {"classifier.lr"}); }) ==
        "--set \"classifier.lr\": expected key.path=value, e.g. --set classifier.lr=0.01");
  CHECK(
      usage_error([] { parse_config("", "x.yaml", {"classifier.optimiser=sgd"}); }) ==
      "--set classifier.optimiser=sgd: classifier.optimiser: unknown key, did you mean classifier.optimizer? "
      "(docs/config.md lists every key)");
  CHECK(usage_error([] { parse_config("", "x.yaml", {"classifier.lr=0"}); }) ==
        "--set classifier.lr=0: classifier.lr: 0 is out of range (allowed: > 0)");
  CHECK(usage_error([] { parse_config("", "x.yaml", {"data=3"}); }) ==
        "--set data=3: data: a section, not a key; set one of its keys");
  CHECK(usage_error([] { parse_config("", "x.yaml", {"seed=[1"}); }).find("--set seed=[1:") == 0);
}

TEST_CASE("config: the resolved YAML loads back to the same values") {
  const Config c = parse_config(
      "name: t\ndescription: \"a: b # c\"\ndata:\n  manifest: \"\"\n  synthetic:\n    counts: [1, 2, 3, 4]\n"
      "features:\n  layers: [mixed0, mixed1]\n",
      "t.yaml", {"classifier.lr=0.25", "data.crop=rect:1,2,3,4"});
  const std::string text = c.yaml();
  const Config back = parse_config(text, "resolved.yaml");
  for (const auto& key : oess::config::schema()) {
    INFO(key.path);
    CHECK(back.values.at(key.path).items == c.values.at(key.path).items);
  }
  CHECK(text.find("lr: 0.25  # --set") != std::string::npos);
}

TEST_CASE("config: the schema's Markdown table lists every key once") {
  const std::string md = oess::config::schema_markdown();
  for (const auto& key : oess::config::schema()) {
    INFO(key.path);
    CHECK(md.find("| `" + key.path + "` |") != std::string::npos);
  }
}

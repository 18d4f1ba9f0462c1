// Experiment settings: schema defaults equal the defaults the code's option structs carry, and the checks
// the schema alone cannot make.
#include <catch2/catch.hpp>
#include <string>

#include "../../src/experiment/console.h"  // private to the experiment area: its log capture
#include "oess/config/config.h"
#include "oess/core/error.h"
#include "oess/experiment/chain.h"
#include "oess/experiment/experiment.h"

using oess::UsageError;
using oess::config::parse_config;
using oess::experiment::parse_stages;
using oess::settings::settings_from;

namespace {
std::string settings_error(const std::string& yaml) {
  try {
    settings_from(parse_config(yaml, "x.yaml"));
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("experiment: the schema's defaults are the option structs' defaults") {
  const auto s = settings_from(parse_config("", "defaults.yaml"));
  CHECK(s.name == "experiment");  // config text has no file name to take it from
  CHECK(s.out_dir == "runs/experiment");
  const oess::data::SplitOptions split;
  CHECK(s.split.method == split.method);
  CHECK(s.split.val_per_class == split.val_per_class);
  CHECK(s.split.test_per_class == split.test_per_class);
  CHECK(s.split.val_fraction == split.val_fraction);
  CHECK(s.split.test_fraction == split.test_fraction);
  const oess::train::TrainOptions t;
  CHECK(s.train.task == t.task);
  CHECK(s.train.optimizer == t.optimizer);
  CHECK(s.train.lr == t.lr);
  CHECK(s.train.weight_decay == t.weight_decay);
  CHECK(s.train.momentum == t.momentum);
  CHECK(s.train.batch == t.batch);
  CHECK(s.train.max_epochs == t.max_epochs);
  CHECK(s.train.patience == t.patience);
  CHECK(s.train.monitor == t.monitor);
  const oess::data::SynthOptions synth;
  CHECK(s.synth.counts == synth.counts);
  CHECK(s.synth.patients == synth.patients);
  CHECK(s.synth.label_noise == synth.label_noise);
  const oess::features::ExtractOptions e;
  CHECK(s.extract.batch == e.batch);
  CHECK(s.extract.threads == e.threads);
  oess::features::ExtractOptions resolved = e;  // settings_from resolves auto flavour / preprocessing
  oess::features::resolve_weights_semantics(resolved);
  CHECK(s.extract.preprocessing == resolved.preprocessing);
  CHECK(s.extract.flavour == resolved.flavour);
  CHECK(s.extract.backbone.flavour == resolved.backbone.flavour);
  CHECK(s.extract.weights == e.weights);
  CHECK(s.extract.backbone.arch == e.backbone.arch);
  CHECK(s.poolings == std::vector<std::string>{e.pooling});
  CHECK(s.extract.taps.size() == 11);  // all: mixed0..mixed10
  const oess::settings::Settings plain;
  CHECK(s.members == plain.members);
  CHECK(s.bootstrap == plain.bootstrap);
  CHECK(s.balance == plain.balance);
}

TEST_CASE("experiment: settings the schema cannot check are refused naming the key") {
  CHECK(settings_error("features:\n  layers: [mixed11]\n").find("features.layers: ") == 0);
  CHECK(
      settings_error("backbone:\n  arch: vgg16\nfeatures:\n  layers: [mixed4]\n").find("features.layers: ") ==
      0);
  CHECK(settings_error("data:\n  crop: rect:1,2\n").find("data.crop: ") == 0);
  CHECK(settings_error("backbone:\n  device: tpu\n").find("backbone.device: ") == 0);
  CHECK(settings_error("backbone:\n  weights: /no/such/file.pt\n")
            .find("backbone.weights: /no/such/file.pt: no such") == 0);
  CHECK(settings_error("data:\n  synthetic:\n    counts: [1, 2, 3]\n") ==
        "data.synthetic.counts: expected 4 counts (grades 0-3), got 3");
  CHECK(settings_error("data:\n  augment: true\n  balance: none\n").find("data.augment: ") == 0);
  CHECK(settings_error("output:\n  dir: out/{name}-x\nname: n1\n").empty());
}

TEST_CASE("experiment: --stage ranges") {
  CHECK(parse_stages("").first == 0);
  // data extract sweep select finetune ensemble evaluate report export: 0..8
  CHECK(parse_stages("").last == 8);
  CHECK(parse_stages("extract").last == 1);
  CHECK(parse_stages("..sweep").first == 0);
  CHECK(parse_stages("..sweep").last == 2);
  CHECK(parse_stages("sweep..").first == 2);
  CHECK(parse_stages("sweep..").last == 8);
  CHECK(parse_stages("extract..report").last == 7);
  CHECK(parse_stages("..finetune").last == 4);
  CHECK_THROWS_AS(parse_stages("report.."), UsageError);
  CHECK_THROWS_AS(parse_stages("bogus"), UsageError);
  CHECK_THROWS_AS(parse_stages(".."), UsageError);
  CHECK_THROWS_AS(parse_stages("sweep..data"), UsageError);
}

TEST_CASE("experiment: warnings logged during a run are kept for its result unless a code covers them") {
  using oess::experiment::Console;
  using oess::experiment::SinkGuard;
  Console con;
  {
    SinkGuard guard(con);
    spdlog::warn("plain {}", 1);
    {
      const oess::CodedWarning coded;
      spdlog::warn("already coded");
    }
    spdlog::info("only information");
    spdlog::warn("plain {}", 1);  // the same text twice: once
    spdlog::error("an error");
  }
  spdlog::warn("after the run");
  CHECK(con.logged_warnings() == std::vector<std::string>{"plain 1", "an error"});
  CHECK(con.text().find("already coded") != std::string::npos);  // log.txt still has every line
  CHECK(con.text().find("after the run") == std::string::npos);
  CHECK_FALSE(oess::CodedWarning::active());
}

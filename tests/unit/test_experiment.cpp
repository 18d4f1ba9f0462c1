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

// ---- report: the K-fold per-tap table keeps every column under its own header (issue #32: with imported
// weights, its last columns were shifted under the wrong headers)
#include <filesystem>
#include <fstream>
#include <sstream>

#include "oess/report/report.h"

namespace {

std::vector<std::string> cells(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line.substr(1));
  std::string c;
  while (std::getline(ss, c, '|')) {
    const auto a = c.find_first_not_of(' '), b = c.find_last_not_of(' ');
    out.push_back(a == std::string::npos ? "" : c.substr(a, b - a + 1));
  }
  return out;
}

// Eight 4-class predictions, image i of grade i % 4 called call(i) with probability 0.7; a report's inputs
// for them.
oess::report::ReportInputs report_of(int (*call)(int)) {
  oess::metrics::Predictions pr;
  pr.file = "t";
  for (int i = 0; i < 8; ++i) {
    pr.path.push_back("img" + std::to_string(i));
    pr.truth.push_back(i % 4);
    pr.pred.push_back(call(i));
    std::array<double, 4> p{0.1, 0.1, 0.1, 0.1};
    p[static_cast<size_t>(pr.pred.back())] = 0.7;
    pr.p.push_back(p);
  }
  oess::report::ReportInputs in;
  in.title = "t";
  in.metrics = oess::metrics::evaluate(pr, 0);
  in.beside_study = false;
  return in;
}

}  // namespace

TEST_CASE("report: the K-fold per-tap table with a weights column has each value under its header",
          "[report]") {
  auto in = report_of([](int i) { return (i + (i % 3 == 0)) % 4; });
  in.cross_validation.folds = 3;
  for (int t = 0; t < 2; ++t) {
    oess::report::TapRow r;
    r.tap = t ? "mixed5" : "mixed4";
    r.per_class = {0.5, 0.5, 0.5, 0.5};
    r.weights = "ImageNet";
    r.chosen = 7 + t;  // values no other column holds
    r.best_epoch = 42 + t;
    r.test_mean = 0.123;
    r.test_sd = 0.01;
    in.taps.push_back(r);
  }
  const auto dir = std::filesystem::temp_directory_path() / "oess_report_taps";
  std::filesystem::remove_all(dir);
  oess::report::write_report(dir.string(), in);
  std::ifstream f(dir / "report.md");
  std::string line, header;
  std::vector<std::vector<std::string>> rows;
  bool in_table = false;
  while (std::getline(f, line)) {
    if (line.rfind("| tap |", 0) == 0) {
      header = line;
      in_table = true;
    } else if (in_table && line.rfind("| mixed", 0) == 0) {
      rows.push_back(cells(line));
    } else if (in_table && line.empty() && !rows.empty()) {
      break;
    }
  }
  const auto head = cells(header);
  REQUIRE(rows.size() == 2);
  auto col = [&](const std::string& name) {
    for (size_t i = 0; i < head.size(); ++i)
      if (head[i].rfind(name, 0) == 0) return i;
    FAIL("no column " << name << " in " << header);
    return size_t{0};
  };
  for (size_t t = 0; t < 2; ++t) {
    REQUIRE(rows[t].size() == head.size());
    CHECK(rows[t][col("chosen by folds")] == std::to_string(7 + t));
    CHECK(rows[t][col("epoch")] == std::to_string(42 + t));
    CHECK(rows[t][col("weights")] == "ImageNet");
    CHECK(rows[t][col("test accuracy (mean")].rfind("12.3%", 0) == 0);
  }
}

TEST_CASE("report: the scale's name and the binary names are the config's (report.scale, binary_names)",
          "[report]") {
  auto in = report_of([](int i) { return i % 4; });
  in.scale = "BI-RADS";
  in.binary_names = {"benign-looking", "suspicious"};
  const auto dir = std::filesystem::temp_directory_path() / "oess_report_names";
  std::filesystem::remove_all(dir);
  oess::report::write_report(dir.string(), in);
  std::ifstream f(dir / "report.md");
  const std::string md((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  CHECK(md.find("images per split and BI-RADS grade") != std::string::npos);
  CHECK(md.find("BI-RADS 0–3, test set") != std::string::npos);
  CHECK(md.find("benign-looking (0–1) / suspicious (2–3)") != std::string::npos);
  CHECK(md.find("| Benign-looking |") != std::string::npos);
  CHECK(md.find("OESS") == std::string::npos);
  CHECK(md.find("healthy") == std::string::npos);
}

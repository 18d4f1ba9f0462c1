// The run folder before any stage (run_folder.h).
#include "run_folder.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "oess/core/error.h"
#include "oess/version.h"

namespace oess::experiment {
namespace {

namespace fs = std::filesystem;

std::string absolute(const std::string& p) { return fs::absolute(p).lexically_normal().string(); }

}  // namespace

std::string resolved_config(const config::Config& cf, const settings::Settings& s, const std::string& dir,
                            config::Config& resolved) {
  resolved = cf;
  auto resolve_path = [&](const std::string& key, const std::string& value) {
    if (value != absolute(value)) resolved.set(key, nlohmann::json(absolute(value)).dump(), "made absolute");
  };
  resolved.set("name", nlohmann::json(s.name).dump(), resolved.origin_of("name"));
  resolve_path("output.dir", dir);
  if (s.manifest != "synthetic") resolve_path("data.manifest", s.manifest);
  if (s.manifest == "synthetic") resolve_path("data.synthetic.dir", s.synth.out_dir);
  if (s.extract.weights != "none") resolve_path("backbone.weights", s.extract.weights);
  if (!s.extract.cache_dir.empty()) resolve_path("features.cache", s.extract.cache_dir);
  if (s.split.allow_patient_overlap != cf.get_bool("data.allow_patient_overlap"))
    resolved.set("data.allow_patient_overlap", "false", "synthetic-only setting, ignored on this manifest");
  return fmt::format("# oess {} resolved from {} ({})\n", OESS_VERSION_STRING,
                     cf.file.empty() ? "text" : cf.file, fmt::join(cf.files, ", ")) +
         resolved.yaml();
}

void check_before_run(const config::Config& cf, const settings::Settings& s, const std::string& dir,
                      const std::string& config_text, bool force) {
  std::error_code ec;
  if (s.manifest != "synthetic" && !fs::is_regular_file(s.manifest, ec)) {
    const std::string origin = cf.origin_of("data.manifest");
    throw Error(fmt::format("data.manifest: no such file {} (the path tried: {}; set by {}{})", s.manifest,
                            absolute(s.manifest), origin,
                            origin == "--set"
                                ? ", relative to the working directory"
                                : ", a relative path resolving against that config file's folder"));
  }
  const fs::path old = fs::path(dir) / "config.resolved.yaml";
  if (force) {  // a replaced run resumes no fine-tuning, its own or its folds'
    fs::remove_all(fs::path(dir) / "finetune", ec);
    if (fs::is_directory(fs::path(dir) / "folds", ec))
      for (const auto& f : fs::directory_iterator(fs::path(dir) / "folds", ec))
        fs::remove_all(f.path() / "finetune", ec);
  }
  if (force || !fs::exists(old, ec)) return;
  std::ifstream in(old, std::ios::binary);
  const std::string before((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (before != config_text)
    throw UsageError(fmt::format(
        "{} holds a run of another config (its config.resolved.yaml differs from this run's): give another "
        "folder with --out, or replace it with --force",
        dir));
}

std::filesystem::path first_missing_folder(const std::string& dir) {
  namespace fs = std::filesystem;
  fs::path p = fs::absolute(dir).lexically_normal(), missing;
  while (!p.empty() && !fs::exists(p)) {
    missing = p;
    if (p == p.parent_path()) break;
    p = p.parent_path();
  }
  return missing;
}

}  // namespace oess::experiment

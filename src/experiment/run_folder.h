#pragma once
// src/experiment/run_folder.h — the run folder before any stage: the resolved config and the checks that
// must pass before anything is written. Private to the experiment area.
#include <filesystem>
#include <string>

#include "oess/config/config.h"
#include "oess/settings/settings.h"

namespace oess::experiment {

// The resolved config's text: every key, paths made absolute so that it reruns from anywhere, and what
// settings_from decided (synthetic-only settings); `resolved` receives the config itself.
std::string resolved_config(const config::Config& cf, const settings::Settings& s, const std::string& dir,
                            config::Config& resolved);

// Before anything is written: the manifest exists (else Error naming data.manifest, the config line that
// set it and the path tried), and the run folder is new, holds a run of the same resolved config (a rerun
// or a resume), or `force` is set (else UsageError naming --out and --force). With `force`, the folder's
// finetune/ (its checkpoints) is removed: a replaced run resumes nothing of the old one.
void check_before_run(const config::Config& cf, const settings::Settings& s, const std::string& dir,
                      const std::string& config_text, bool force);

// The outermost folder of `dir` that does not exist yet ("" when dir exists): what creating dir makes,
// removed again when the run fails in its data stage.
std::filesystem::path first_missing_folder(const std::string& dir);

}  // namespace oess::experiment

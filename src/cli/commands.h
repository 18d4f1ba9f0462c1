#pragma once
// Internal: each implemented subcommand registers itself on the root app; its callback does the work and
// throws oess::Error / oess::UsageError, which app.cpp turns into exit codes.
namespace CLI {
class App;
}

namespace oess::cli {
void add_weights_command(CLI::App& app);
void add_taps_command(CLI::App& app);
void add_synth_command(CLI::App& app);
void add_baseline_command(CLI::App& app);
void add_extract_command(CLI::App& app);
void add_features_command(CLI::App& app);
void add_sweep_command(CLI::App& app);
void add_evaluate_command(CLI::App& app);
void add_config_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_export_command(CLI::App& app);
void add_score_command(CLI::App& app);
void add_manifest_command(CLI::App& app);
void add_compare_command(CLI::App& app);
void add_agreement_command(CLI::App& app);
void add_read_command(CLI::App& app);
void add_data_mask_command(CLI::App& data);    // `oess data mask`, under the `data` command
void add_data_frames_command(CLI::App& data);  // `oess data frames`
}  // namespace oess::cli

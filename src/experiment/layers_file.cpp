// layers.csv and curves/<tap>.csv: one row per tap of the sweep (experiment/chain.h, write_layers).
#include <fmt/format.h>

#include <cmath>
#include <filesystem>

#include "oess/experiment/chain.h"
#include "oess/io/csv.h"

namespace oess::experiment {

namespace fs = std::filesystem;

void write_layers(const Chain& c, const std::string& dir) {
  fs::create_directories(fs::path(dir) / "curves");
  io::CsvWriter layers({"tap", "val_accuracy", "test_accuracy", "test_accuracy_0", "test_accuracy_1",
                        "test_accuracy_2", "test_accuracy_3", "test_kappa_quadratic", "best_epoch",
                        "selected"});
  for (size_t i = 0; i < c.sweep.taps.size(); ++i) {
    const auto& t = c.sweep.taps[i];
    std::vector<std::string> row = {t.tap, fmt::format("{:.6f}", t.val_accuracy),
                                    fmt::format("{:.6f}", t.test_accuracy)};
    for (size_t k = 0; k < 4; ++k)
      row.push_back(k < t.test_per_class.size() && !std::isnan(t.test_per_class[k])
                        ? fmt::format("{:.6f}", t.test_per_class[k])
                        : "");
    row.push_back(fmt::format("{:.6f}", t.test_kappa_quadratic));
    row.push_back(std::to_string(t.fit.best_epoch));
    row.push_back(i == c.selected ? "1" : "0");
    layers.row(row);
    io::CsvWriter curve({"epoch", "train_loss", "val_loss", "val_accuracy"});
    for (const auto& p : t.fit.curve)
      curve.row({std::to_string(p.epoch), fmt::format("{:.6f}", p.train_loss),
                 fmt::format("{:.6f}", p.val_loss), fmt::format("{:.6f}", p.val_accuracy)});
    curve.write((fs::path(dir) / "curves" / (t.tap + ".csv")).string());
  }
  layers.write((fs::path(dir) / "layers.csv").string());
}

}  // namespace oess::experiment

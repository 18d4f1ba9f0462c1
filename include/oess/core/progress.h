#pragma once
// oess/core/progress.h — progress on stderr for long work.
//
// On a terminal: one self-rewriting line "label [#####     ] done/total  rate/s  ETA", at most 10 times a
// second. Otherwise (output to a file or pipe, CI): a logged line every 20 s ("label: done/total unit (P%),
// rate, ETA"; spdlog, so a run's log.txt has it too), nothing for work that ends sooner. finish() prints one
// summary line either way. Not thread-safe: callers serialise update().
#include <chrono>
#include <cstdint>
#include <string>

namespace oess {

class Progress {
 public:
  Progress(std::string label, int64_t total, std::string unit = "images");
  void update(int64_t done);
  void finish(const std::string& note = "");
  static bool on_terminal();
  static constexpr std::chrono::seconds kLogEvery{20};

 private:
  std::string label_, unit_;
  int64_t total_, done_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool tty_, finished_ = false;
};

}  // namespace oess

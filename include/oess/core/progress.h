#pragma once
// oess/core/progress.h — progress on stderr for long work.
//
// On a terminal: one self-rewriting line "label [#####     ] done/total  rate/s  ETA", at most 10 times a
// second. Otherwise (logs, CI): nothing until finish(), which prints one summary line. Not thread-safe:
// callers serialise update().
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

 private:
  std::string label_, unit_;
  int64_t total_, done_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool tty_, finished_ = false;
};

}  // namespace oess

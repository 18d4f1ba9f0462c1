#pragma once
// oess/core/warning.h — a warning that is part of a result: what a run allowed, ignored or could not
// guarantee (patient overlap, tiny grades, an uncertain tap choice, random weights). Runs list them in
// metrics.json ("warnings": code + message) and at the top of their report, besides the log.
//
// Codes are stable, machine-readable names (docs/data.md lists them); messages are for people.
#include <string>
#include <vector>

namespace oess {

struct RunWarning {
  std::string code;
  std::string message;
};

// Adds w unless a warning with the same code and message is there already.
inline void add_warning(std::vector<RunWarning>& list, RunWarning w) {
  for (const auto& x : list)
    if (x.code == w.code && x.message == w.message) return;
  list.push_back(std::move(w));
}

// While a CodedWarning is alive on a thread, warnings that thread logs are already recorded under a code
// (RunWarning): a run's log capture skips them, so they are not listed twice. Every other warning logged
// during a run becomes a "log_warning" in its result.
class CodedWarning {
 public:
  CodedWarning() { active() = true; }
  ~CodedWarning() { active() = false; }
  CodedWarning(const CodedWarning&) = delete;
  CodedWarning& operator=(const CodedWarning&) = delete;
  static bool& active() {
    thread_local bool on = false;
    return on;
  }
};

}  // namespace oess

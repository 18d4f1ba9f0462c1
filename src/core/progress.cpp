#include "oess/core/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace oess {

bool Progress::on_terminal() { return ::isatty(STDERR_FILENO) == 1; }

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_),
      tty_(on_terminal()) {}

void Progress::update(int64_t done) {
  done_ = done;
  if (!tty_) return;
  const auto now = std::chrono::steady_clock::now();
  if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double rate = secs > 0 ? done / secs : 0;
  const int width = 30;
  const int filled = total_ > 0 ? static_cast<int>(width * done / total_) : width;
  const double eta = rate > 0 ? (total_ - done) / rate : 0;
  fmt::print(stderr, "\r{} [{}{}] {}/{}  {:.1f} {}/s  ETA {:.0f}s   ", label_,
             std::string(static_cast<size_t>(filled), '#'),
             std::string(static_cast<size_t>(width - filled), ' '), done, total_, rate, unit_, eta);
  std::fflush(stderr);
}

void Progress::finish(const std::string& note) {
  if (finished_) return;
  finished_ = true;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (tty_) fmt::print(stderr, "\r\033[K");
  fmt::print(stderr, "{}: {} {} in {:.1f} s ({:.1f} {}/s){}{}\n", label_, done_, unit_, secs,
             secs > 0 ? done_ / secs : 0.0, unit_, note.empty() ? "" : "; ", note);
}

}  // namespace oess

#include "oess/core/progress.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>

namespace oess {

namespace {

std::string eta_text(double seconds) {
  const auto s = static_cast<long>(seconds + 0.5);
  if (s < 60) return fmt::format("{} s", s);
  if (s < 3600) return fmt::format("{} min {:02} s", s / 60, s % 60);
  return fmt::format("{} h {:02} min", s / 3600, (s % 3600) / 60);
}

}  // namespace

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
  const auto now = std::chrono::steady_clock::now();
  // A terminal's bar at most 10 times a second (and at the end); logs and pipes a line every kLogEvery
  // (stderr and, during a run, its log.txt), none for short work.
  if (tty_ ? done < total_ && now - last_draw_ < std::chrono::milliseconds(100)
           : done >= total_ || now - last_draw_ < kLogEvery)
    return;
  last_draw_ = now;
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double rate = secs > 0 ? done / secs : 0;
  const double eta = rate > 0 ? (total_ - done) / rate : 0;
  if (!tty_) {
    spdlog::info("{}: {}/{} {} ({:.0f}%), {:.1f} {}/s, ETA {}", label_, done, total_, unit_,
                 total_ > 0 ? 100.0 * done / total_ : 100.0, rate, unit_,
                 rate > 0 ? eta_text(eta) : "unknown");
    return;
  }
  const int width = 30;
  const int filled = total_ > 0 ? static_cast<int>(width * done / total_) : width;
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

#pragma once
// src/experiment/console.h — a run's console: text goes to stdout and into log.txt, and warnings logged
// anywhere during the run go into log.txt too and, when no code covers them, into the result as
// "log_warning". Private to the experiment area.
#include <fmt/format.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "oess/core/warning.h"

namespace oess::experiment {

class Console {
 public:
  void say(const std::string& text) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
    log_ += text;
  }
  void record(const std::string& text) {
    std::lock_guard<std::mutex> lock(mutex_);
    log_ += text;
  }
  std::string text() {
    std::lock_guard<std::mutex> lock(mutex_);
    return log_;
  }
  // Warnings logged during the run that no RunWarning code covers (see core/warning.h).
  void record_warning(const std::string& text) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (std::find(logged_.begin(), logged_.end(), text) == logged_.end()) logged_.push_back(text);
  }
  std::vector<std::string> logged_warnings() {
    std::lock_guard<std::mutex> lock(mutex_);
    return logged_;
  }

 private:
  std::mutex mutex_;
  std::string log_;
  std::vector<std::string> logged_;
};

class LogSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit LogSink(Console& c) : console_(c) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::string text(msg.payload.data(), msg.payload.size());
    console_.record(fmt::format("oess: {}: {}\n", spdlog::level::to_string_view(msg.level), text));
    if (msg.level >= spdlog::level::warn && !CodedWarning::active()) console_.record_warning(text);
  }
  void flush_() override {}

 private:
  Console& console_;
};

// Adds the log sink to the default logger for the run's lifetime.
class SinkGuard {
 public:
  explicit SinkGuard(Console& c) : sink_(std::make_shared<LogSink>(c)) {
    spdlog::default_logger()->sinks().push_back(sink_);
  }
  ~SinkGuard() {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }

 private:
  std::shared_ptr<LogSink> sink_;
};

}  // namespace oess::experiment

#pragma once
// oess/core/error.h — the two kinds of failure every oess entry point reports.
//
// Error       the work failed (unreadable file, bad CSV line, mis-shaped tensor): exit code 1.
// UsageError  the request itself is wrong (unknown option value, missing argument): exit code 2.
//
// Contract: what() names the thing at fault — file, line, YAML key or tensor — so the message alone says
// what to fix. Library code throws; only the command line turns these into exit codes.
#include <stdexcept>
#include <string>

namespace oess {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
  virtual int exit_code() const noexcept { return 1; }
};

class UsageError : public Error {
 public:
  explicit UsageError(const std::string& what) : Error(what) {}
  int exit_code() const noexcept override { return 2; }
};

}  // namespace oess

#pragma once
// oess/core/text.h — small text helpers every area needs.
#include <cctype>
#include <string>

namespace oess {

// s with ASCII letters in lower case (file extensions, column names, option names); other bytes unchanged.
inline std::string ascii_lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// s without leading and trailing spaces and tabs.
inline std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

}  // namespace oess

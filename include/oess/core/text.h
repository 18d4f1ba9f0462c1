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

}  // namespace oess

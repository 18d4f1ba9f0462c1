#include "oess/io/js_literal.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <cstdlib>

#include "oess/core/error.h"

namespace oess::io {
namespace {

class Reader {
 public:
  Reader(const std::string& s, const std::string& where, size_t at) : s_(s), where_(where), at_(at) {}

  nlohmann::json value(int depth = 0) {
    if (depth > 200) throw Error(fmt::format("{}: offset {}: nesting deeper than 200 levels", where_, at_));
    skip();
    if (at_ >= s_.size()) fail("a value, found the end of the text");
    const char c = s_[at_];
    if (c == '{') return object(depth);
    if (c == '[') return array(depth);
    if (c == '"' || c == '\'') return string();
    if (c == '!') {  // minified booleans: !0 true, !1 false
      if (at_ + 1 < s_.size() && (s_[at_ + 1] == '0' || s_[at_ + 1] == '1')) {
        const bool v = s_[at_ + 1] == '0';
        at_ += 2;
        return v;
      }
      fail("a value (only !0 and !1 are understood after '!')");
    }
    if (c == '-' || c == '+' || c == '.' || std::isdigit(static_cast<unsigned char>(c))) return number();
    const size_t word_at = at_;
    const std::string word = identifier();
    if (word == "true") return true;
    if (word == "false") return false;
    if (word == "null") return nullptr;
    if (word == "void") {
      skip();
      number();
      return nullptr;
    }
    at_ = word_at;  // errors point at the name, not past it
    if (word == "Infinity" || word == "NaN") fail("a finite number, found " + word);
    fail(word.empty() ? "a value" : "a literal value, found the name \"" + word + "\"");
  }

  size_t at() const { return at_; }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    size_t line = 1;
    for (size_t i = 0; i < at_ && i < s_.size(); ++i) line += s_[i] == '\n';
    throw Error(fmt::format("{}: offset {} (line {}): expected {}", where_, at_, line, what));
  }

  void skip() {
    while (at_ < s_.size()) {
      const char c = s_[at_];
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++at_;
      } else if (c == '/' && at_ + 1 < s_.size() && s_[at_ + 1] == '/') {
        while (at_ < s_.size() && s_[at_] != '\n') ++at_;
      } else if (c == '/' && at_ + 1 < s_.size() && s_[at_ + 1] == '*') {
        const size_t close = s_.find("*/", at_ + 2);
        if (close == std::string::npos) fail("the end of a /* comment */");
        at_ = close + 2;
      } else {
        return;
      }
    }
  }

  static bool ident_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$';
  }

  std::string identifier() {
    const size_t b = at_;
    while (at_ < s_.size() && ident_char(s_[at_])) ++at_;
    return s_.substr(b, at_ - b);
  }

  nlohmann::json object(int depth) {
    ++at_;  // {
    nlohmann::json out = nlohmann::json::object();
    for (;;) {
      skip();
      if (at_ >= s_.size()) fail("'}' or a key");
      if (s_[at_] == '}') {
        ++at_;
        return out;
      }
      std::string key;
      if (s_[at_] == '"' || s_[at_] == '\'') {
        key = string().get<std::string>();
      } else if (std::isdigit(static_cast<unsigned char>(s_[at_]))) {
        key = number().dump();
      } else {
        key = identifier();
        if (key.empty()) fail("a key");
      }
      skip();
      if (at_ >= s_.size() || s_[at_] != ':') fail("':' after key \"" + key + "\"");
      ++at_;
      out[key] = value(depth + 1);
      skip();
      if (at_ < s_.size() && s_[at_] == ',') {
        ++at_;
      } else if (at_ >= s_.size() || s_[at_] != '}') {
        fail("',' or '}' after the value of \"" + key + "\"");
      }
    }
  }

  nlohmann::json array(int depth) {
    ++at_;  // [
    nlohmann::json out = nlohmann::json::array();
    for (;;) {
      skip();
      if (at_ >= s_.size()) fail("']' or a value");
      if (s_[at_] == ']') {
        ++at_;
        return out;
      }
      out.push_back(value(depth + 1));
      skip();
      if (at_ < s_.size() && s_[at_] == ',') {
        ++at_;
      } else if (at_ >= s_.size() || s_[at_] != ']') {
        fail("',' or ']' in a list");
      }
    }
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  uint32_t hex4() {
    if (at_ + 4 > s_.size()) fail("four hex digits after \\u");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[at_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= static_cast<uint32_t>(c - 'A' + 10);
      else
        fail("a hex digit after \\u");
    }
    return v;
  }

  nlohmann::json string() {
    const char quote = s_[at_++];
    std::string out;
    for (;;) {
      if (at_ >= s_.size()) fail(std::string("the closing ") + quote);
      const char c = s_[at_++];
      if (c == quote) break;
      if (c == '\n') fail(std::string("the closing ") + quote + " before the end of the line");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_ >= s_.size()) fail("an escape after '\\'");
      const char e = s_[at_++];
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'v':
          out += '\v';
          break;
        case '0':
          out += '\0';
          break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && at_ + 1 < s_.size() && s_[at_] == '\\' && s_[at_ + 1] == 'u') {
            at_ += 2;
            const uint32_t low = hex4();
            if (low < 0xDC00 || low >= 0xE000) fail("a low surrogate after a high one");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        case '\n':
          break;  // line continuation
        default:
          out += e;  // \" \' \\ \/ and JavaScript's identity escapes
      }
    }
    return out;
  }

  nlohmann::json number() {
    const size_t b = at_;
    bool negative = false;
    if (s_[at_] == '-' || s_[at_] == '+') negative = s_[at_++] == '-';
    if (at_ + 1 < s_.size() && s_[at_] == '0' && (s_[at_ + 1] == 'x' || s_[at_ + 1] == 'X')) {
      at_ += 2;
      const size_t d = at_;
      while (at_ < s_.size() && std::isxdigit(static_cast<unsigned char>(s_[at_]))) ++at_;
      if (at_ == d || at_ - d > 15) fail("a hexadecimal number of 1 to 15 digits");
      const auto v = static_cast<int64_t>(std::strtoull(s_.substr(d, at_ - d).c_str(), nullptr, 16));
      return negative ? -v : v;
    }
    bool is_float = false;
    const size_t digits = at_;
    while (at_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[at_]))) ++at_;
    if (at_ < s_.size() && s_[at_] == '.') {
      is_float = true;
      ++at_;
      while (at_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[at_]))) ++at_;
    }
    if (at_ == digits || (at_ == digits + 1 && s_[digits] == '.')) fail("a number");
    if (at_ < s_.size() && (s_[at_] == 'e' || s_[at_] == 'E')) {
      is_float = true;
      ++at_;
      if (at_ < s_.size() && (s_[at_] == '-' || s_[at_] == '+')) ++at_;
      const size_t e = at_;
      while (at_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[at_]))) ++at_;
      if (at_ == e) fail("an exponent's digits");
    }
    const std::string text = s_.substr(b, at_ - b);
    if (!is_float && at_ - digits <= 18) return std::strtoll(text.c_str(), nullptr, 10);
    const double v = std::strtod(text.c_str(), nullptr);
    if (!std::isfinite(v)) fail("a finite number, found " + text);
    return v;
  }

  const std::string& s_;
  const std::string& where_;
  size_t at_;
};

}  // namespace

nlohmann::json parse_js_literal(const std::string& text, const std::string& where, size_t start,
                                size_t* end) {
  Reader r(text, where, start);
  nlohmann::json v = r.value();
  if (end) *end = r.at();
  return v;
}

nlohmann::json umd_export(const std::string& text, const std::string& where) {
  // The bundle's wrapper mentions module.exports too (`module.exports=a()`); the payload is the first
  // `.exports=` followed by a literal.
  for (size_t at = text.find(".exports="); at != std::string::npos; at = text.find(".exports=", at + 1)) {
    size_t v = at + 9;
    while (v < text.size() && std::isspace(static_cast<unsigned char>(text[v]))) ++v;
    if (v < text.size() && (text[v] == '{' || text[v] == '"' || text[v] == '\'' || text[v] == '['))
      return parse_js_literal(text, where, v);
  }
  throw Error(fmt::format(
      "{}: not a TensorFlow.js model bundle: no `module.exports = {{...}}` or `= \"...\"` assignment found",
      where));
}

std::string base64_decode(const std::string& text, const std::string& where) {
  std::string out;
  out.reserve(text.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+' || c == '-')
      v = 62;
    else if (c == '/' || c == '_')
      v = 63;
    else if (c == '=')
      break;
    else if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
      continue;
    else
      throw Error(fmt::format("{}: not base64: character {} at offset {}", where, static_cast<int>(c), i));
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

}  // namespace oess::io

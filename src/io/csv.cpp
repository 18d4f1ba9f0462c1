#include "oess/io/csv.h"

#include <fmt/format.h>

#include <fmt/ranges.h>
#include <algorithm>

#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/core/text.h"

namespace oess::io {

int CsvTable::column(const std::string& name) const {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return static_cast<int>(i);
  return -1;
}

int CsvTable::find_column(const std::string& want, const std::vector<std::string>& names) const {
  auto index_of = [&](const std::string& n) {
    for (size_t i = 0; i < header.size(); ++i)
      if (ascii_lower(header[i]) == ascii_lower(n)) return static_cast<int>(i);
    return -1;
  };
  if (!want.empty()) return index_of(want);
  for (const auto& n : names)
    if (const int i = index_of(n); i >= 0) return i;
  return -1;
}

CsvTable parse_csv(const std::string& text, const std::string& path, char delimiter) {
  CsvTable t;
  t.path = path;
  const size_t n = text.size();
  size_t i = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
  int line = 1;
  // A record ends at "\n", "\r\n", a final "\r", or the end of the text.
  auto at_eol = [&](size_t k) {
    return k >= n || text[k] == '\n' || (text[k] == '\r' && (k + 1 == n || text[k + 1] == '\n'));
  };
  bool have_header = false;
  while (i < n) {
    const int start_line = line;
    std::vector<std::string> fields;
    bool any_quoted = false;
    while (true) {  // one field per pass
      std::string field;
      if (text[i] == '"') {
        any_quoted = true;
        for (++i;; ++i) {
          if (i >= n) throw Error(fmt::format("{}:{}: unterminated quoted field", path, start_line));
          if (text[i] == '"') {
            if (i + 1 < n && text[i + 1] == '"') {
              field += '"';
              ++i;
              continue;
            }
            ++i;
            break;
          }
          if (text[i] == '\n') ++line;
          field += text[i];
        }
        if (!at_eol(i) && text[i] != delimiter)
          throw Error(fmt::format("{}:{}: unexpected character after a closing quote", path, start_line));
      } else {
        while (!at_eol(i) && text[i] != delimiter) field += text[i++];
      }
      fields.push_back(std::move(field));
      if (at_eol(i)) break;
      ++i;  // the delimiter
      if (i >= n) {
        fields.emplace_back();
        break;
      }
    }
    if (i < n) i += text[i] == '\r' ? (i + 1 < n ? 2 : 1) : 1;  // the line end
    ++line;
    if (fields.size() == 1 && fields[0].empty() && !any_quoted) continue;  // blank line
    if (!have_header) {
      t.header = std::move(fields);
      have_header = true;
      continue;
    }
    if (fields.size() != t.header.size())
      throw Error(fmt::format("{}:{}: {} field(s), but the header has {} ({})", path, start_line,
                              fields.size(), t.header.size(), fmt::join(t.header, ",")));
    t.rows.push_back(std::move(fields));
    t.lines.push_back(start_line);
  }
  if (!have_header) throw Error(fmt::format("{}: empty file (no header row)", path));
  return t;
}

CsvTable read_csv(const std::string& path, char delimiter) {
  return parse_csv(read_file(path), path, delimiter);
}

char detect_delimiter(const std::string& text) {
  const std::string first = text.substr(0, text.find('\n'));
  char best = ',';
  long most = 0;
  for (char d : {',', ';', '\t'}) {
    const long n = std::count(first.begin(), first.end(), d);
    if (n > most) {
      most = n;
      best = d;
    }
  }
  return best;
}

CsvWriter::CsvWriter(std::vector<std::string> header) : width_(header.size()) { row(header); }

std::string CsvWriter::quote(const std::string& f) {
  if (f.find_first_of(",\"\r\n") == std::string::npos) return f;
  std::string q = "\"";
  for (char c : f) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

void CsvWriter::row(const std::vector<std::string>& fields) {
  if (fields.size() != width_)
    throw Error(fmt::format("CSV row with {} fields, header has {}", fields.size(), width_));
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) text_ += ',';
    text_ += quote(fields[i]);
  }
  text_ += '\n';
}

void CsvWriter::write(const std::string& path) const { write_file_atomic(path, text_); }

}  // namespace oess::io

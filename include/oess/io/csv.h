#pragma once
// oess/io/csv.h — RFC 4180 CSV: a header row, then records; fields may be quoted ("a, b", "say ""hi""").
//
// read_csv(path)
//   ensures: header and rows with the same number of fields each, and for every row the 1-based line
//            number it starts on (for messages). Blank lines are skipped; CRLF and LF both end a line; a
//            UTF-8 byte-order mark is dropped.
//   errors (oess::Error, naming file and line): unreadable file, unterminated quote, a row with a different
//            number of fields than the header, an empty file (no header).
// CsvWriter builds a file in memory and writes it atomically; fields are quoted only when needed.
#include <string>
#include <vector>

namespace oess::io {

struct CsvTable {
  std::string path;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<int> lines;  // lines[i] = line number of rows[i]
  // Index of a header column, or -1.
  int column(const std::string& name) const;
  // The column named `want` (any case), else the first of `names` present (any case); -1 when none.
  int find_column(const std::string& want, const std::vector<std::string>& names) const;
};

// `delimiter`: ',' by default; ';' and '\t' for files from spreadsheets in other locales.
CsvTable read_csv(const std::string& path, char delimiter = ',');
CsvTable parse_csv(const std::string& text, const std::string& path_for_messages, char delimiter = ',');
// The delimiter of a header line: whichever of ',', ';', TAB it holds most of (',' when none).
char detect_delimiter(const std::string& text);

class CsvWriter {
 public:
  explicit CsvWriter(std::vector<std::string> header);
  void row(const std::vector<std::string>& fields);  // requires: header.size() fields
  std::string str() const { return text_; }
  void write(const std::string& path) const;  // atomic
  static std::string quote(const std::string& field);

 private:
  size_t width_;
  std::string text_;
};

}  // namespace oess::io

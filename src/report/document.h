#pragma once
// src/report/document.h — the report as sections of tables, paragraphs and plots, each rendered as
// Markdown and as HTML. Private to the report area.
#include <string>
#include <variant>
#include <vector>

namespace oess::report {

// Text from configs (run name, description) shown in HTML.
std::string html_escape(const std::string& s);

// A table; md() and html() render the same rows.
struct Table {
  std::vector<std::string> head;
  std::vector<std::vector<std::string>> rows;
  std::string md() const;
  std::string html() const;
};

struct Paragraph {
  std::string text;
};
struct Plot {
  std::string name, png;  // PNG bytes
};
using Part = std::variant<Table, Paragraph, Plot>;

// One section of the report, rendered twice: Markdown and HTML.
struct Section {
  std::string title;
  std::vector<Part> parts;
};

std::string render_md(const Section& s);
std::string render_html(const Section& s);

}  // namespace oess::report

#pragma once
// src/report/document.h — the report as sections of tables, paragraphs and plots, each rendered as
// Markdown and as HTML. Private to the report area.
#include <string>
#include <variant>
#include <vector>

#include "oess/metrics/evaluate.h"
#include "oess/report/report.h"

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

// Figures as the report writes them: "75.0%", "0.812", "–" for undefined; with the interval:
// "75.0% (68.2–81.1)" or "0.812 (0.741–0.870)".
std::string fmt_pct(double v);
std::string fmt_num(double v);
std::string pct(const metrics::Figure& f);
std::string num(const metrics::Figure& f);

// The sections of issue #32's evaluation (evaluation.cpp): the grade errors, per-grade sensitivity and
// specificity and calibration with its reliability diagram (written to dir/plots/reliability.png); and one
// table per evaluate.by column, each group's figures with CIs, groups too small to judge marked.
Section clinical_section(const ReportInputs& in, const std::string& dir);
Section group_section(const metrics::GroupTable& t);

}  // namespace oess::report

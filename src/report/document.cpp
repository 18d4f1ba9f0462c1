// The report's sections rendered as Markdown and HTML (document.h).
#include "document.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>

#include "oess/report/report.h"

namespace oess::report {

std::string html_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

std::string Table::md() const {
  std::string s = "| " + fmt::format("{}", fmt::join(head, " | ")) + " |\n|";
  for (size_t i = 0; i < head.size(); ++i) s += "---|";
  s += "\n";
  for (const auto& r : rows) s += "| " + fmt::format("{}", fmt::join(r, " | ")) + " |\n";
  return s;
}

std::string Table::html() const {
  std::string s = "<table><tr>";
  for (const auto& h : head) s += "<th>" + html_escape(h) + "</th>";
  s += "</tr>";
  for (const auto& r : rows) {
    s += "<tr>";
    for (const auto& c : r) s += "<td>" + html_escape(c) + "</td>";
    s += "</tr>";
  }
  return s + "</table>";
}

std::string render_md(const Section& s) {
  std::string body;
  for (size_t i = 0; i < s.parts.size(); ++i) {
    const Part& p = s.parts[i];
    if (i > 0 && !std::holds_alternative<Plot>(p)) body += "\n";
    if (const auto* t = std::get_if<Table>(&p)) body += t->md();
    if (const auto* t = std::get_if<Paragraph>(&p)) body += t->text + "\n";
    if (const auto* t = std::get_if<Plot>(&p))
      body += fmt::format("![{}](plots/{}.png)\n\n", t->name, t->name);
  }
  return "## " + s.title + "\n\n" + body + "\n";
}

std::string render_html(const Section& s) {
  std::string body;
  for (const Part& p : s.parts) {
    if (const auto* t = std::get_if<Table>(&p)) body += t->html();
    if (const auto* t = std::get_if<Paragraph>(&p)) body += "<p>" + html_escape(t->text) + "</p>";
    if (const auto* t = std::get_if<Plot>(&p))
      body += fmt::format("\n<figure><img alt=\"{}\" src=\"data:image/png;base64,{}\"></figure>", t->name,
                          base64(t->png));
  }
  return "<h2>" + html_escape(s.title) + "</h2>" + body + "\n";
}

std::string fmt_pct(double v) { return std::isnan(v) ? "–" : fmt::format("{:.1f}%", 100 * v); }
std::string fmt_num(double v) { return std::isnan(v) ? "–" : fmt::format("{:.3f}", v); }

namespace {
std::string fmt_ci(const metrics::Figure& f, bool pct) {
  if (!f.ci95 || std::isnan(f.ci95->lo)) return "";
  return pct ? fmt::format(" ({:.1f}–{:.1f})", 100 * f.ci95->lo, 100 * f.ci95->hi)
             : fmt::format(" ({:.3f}–{:.3f})", f.ci95->lo, f.ci95->hi);
}
}  // namespace

std::string pct(const metrics::Figure& f) { return fmt_pct(f.value) + fmt_ci(f, true); }
std::string num(const metrics::Figure& f) { return fmt_num(f.value) + fmt_ci(f, false); }

}  // namespace oess::report

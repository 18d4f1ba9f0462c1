// The error gallery: gallery.md and gallery.html (report.h, write_gallery).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "document.h"
#include "oess/core/atomic_file.h"
#include "oess/data/clip.h"
#include "oess/data/image.h"
#include "oess/report/report.h"
#include "plots.h"

namespace oess::report {
namespace {

namespace fs = std::filesystem;

constexpr int kThumbWidth = 260;

std::string thumbnail(const cv::Mat& image) {
  cv::Mat small;
  const double s = static_cast<double>(kThumbWidth) / std::max(1, image.cols);
  cv::resize(image, small, cv::Size(), s, s, cv::INTER_AREA);
  return png(small);
}

std::string thumbnail_of_png(const std::string& bytes) {
  const cv::Mat raw(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
  return thumbnail(cv::imdecode(raw, cv::IMREAD_COLOR));
}

std::string probabilities(const GalleryItem& it, const std::vector<std::string>& names) {
  std::vector<std::string> parts;
  for (size_t c = 0; c < it.p.size(); ++c)
    parts.push_back(
        fmt::format("{} {:.1f}%", c < names.size() ? names[c] : std::to_string(c), 100 * it.p[c]));
  return fmt::format("{}", fmt::join(parts, ", "));
}

}  // namespace

void write_gallery(const std::string& dir, const GalleryInputs& in) {
  const fs::path out = fs::path(dir) / "plots" / "gallery";
  fs::create_directories(out);
  std::string md = "# " + in.title + "\n\n",
              html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  html +=
      "<title>" + html_escape(in.title) +
      "</title>\n<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
      ".item{display:inline-block;vertical-align:top;width:540px;margin:8px;padding:6px;border:1px solid "
      "#ccc}"
      ".item img{width:260px;margin-right:4px}.off2{border-color:#c00}p.note{background:#f3f3f3;padding:6px}"
      "</style></head><body>\n<h1>" +
      html_escape(in.title) + "</h1>\n";
  for (const auto& n : in.notes) {
    md += n + "\n\n";
    html += "<p class=\"note\">" + html_escape(n) + "</p>\n";
  }
  for (size_t s = 0; s < in.sections.size(); ++s) {
    const auto& sec = in.sections[s];
    md += "## " + sec.title + "\n\n";
    html += "<h2>" + html_escape(sec.title) + "</h2>\n";
    if (sec.items.empty()) {
      md += "No wrong call here.\n\n";
      html += "<p>No wrong call here.</p>\n";
    }
    for (size_t i = 0; i < sec.items.size(); ++i) {
      const auto& it = sec.items[i];
      const std::string stem = fmt::format("s{}_{:02d}", s + 1, i + 1);
      const std::string image = thumbnail(data::decode_picture(it.file));
      write_file_atomic((out / (stem + "_image.png")).string(), image);
      std::string heat;
      if (!it.heat_png.empty()) {
        heat = thumbnail_of_png(it.heat_png);
        write_file_atomic((out / (stem + "_heat.png")).string(), heat);
      }
      const int off = std::abs(it.pred - it.truth);
      const std::string caption = fmt::format("{}: expert {}, oess {} (off by {}); {}", it.path, it.truth,
                                              it.pred, off, probabilities(it, in.class_names));
      md += fmt::format("![image](plots/gallery/{}_image.png){}\n\n{}\n\n", stem,
                        heat.empty() ? "" : fmt::format(" ![heat map](plots/gallery/{}_heat.png)", stem),
                        caption);
      html += fmt::format("<div class=\"item{}\"><img alt=\"{}\" src=\"data:image/png;base64,{}\">",
                          off >= 2 ? " off2" : "", html_escape(it.path), base64(image));
      if (!heat.empty())
        html += fmt::format("<img alt=\"heat map of {}\" src=\"data:image/png;base64,{}\">",
                            html_escape(it.path), base64(heat));
      html += "<p>" + html_escape(caption) + "</p></div>\n";
    }
  }
  write_file_atomic((fs::path(dir) / "gallery.md").string(), md);
  write_file_atomic((fs::path(dir) / "gallery.html").string(), html + "</body></html>\n");
}

}  // namespace oess::report

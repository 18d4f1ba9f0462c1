// `oess data mask`: what data.mask hides, side by side with the picture, before a run is spent on it.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <memory>
#include <opencv2/imgproc.hpp>

#include "commands.h"
#include "oess/core/error.h"
#include "oess/data/image.h"

namespace oess::cli {
namespace {

namespace fs = std::filesystem;

struct MaskArgs {
  std::vector<std::string> images, mask;
  std::string out, crop = "none";
  int frame = 0;
};

void run_mask(const MaskArgs& a) {
  data::Framing f;
  f.mask = data::parse_mask(a.mask, "--mask");
  f.crop = data::parse_crop(a.crop);
  if (f.mask.empty())
    throw UsageError("--mask: give at least one of outside_sector, annotations, rect:X,Y,W,H");
  if (a.frame < 0) throw UsageError("--frame must be >= 0");
  std::error_code ec;
  fs::create_directories(a.out, ec);
  if (!fs::is_directory(a.out)) throw Error(fmt::format("{}: cannot create the folder", a.out));
  for (const auto& path : a.images) {
    const cv::Mat image = data::decode_image(path, nullptr, a.frame);
    const cv::Mat shown = data::apply_crop(image, f.crop), masked = data::apply_framing(image, f);
    cv::Mat changed;
    cv::absdiff(shown, masked, changed);
    cv::cvtColor(changed, changed, cv::COLOR_BGR2GRAY);
    const double hidden = cv::countNonZero(changed) / static_cast<double>(changed.total());
    cv::Mat pair;
    cv::hconcat(shown, masked, pair);
    const std::string file = (fs::path(a.out) / (fs::path(path).stem().string() + "_mask.png")).string();
    data::write_image_atomic(file, pair);
    fmt::print("{}: {:.1f}% of the pixels changed -> {}\n", path, 100.0 * hidden, file);
  }
}

}  // namespace

void add_data_mask_command(CLI::App& data) {
  auto a = std::make_shared<MaskArgs>();
  auto* sub = data.add_subcommand(
      "mask", "Write each image beside itself as data.mask leaves it (what features and heat maps see)");
  sub->add_option("images", a->images, "image files")->required();
  sub->add_option("--mask", a->mask,
                  "outside_sector | annotations | rect:X,Y,W,H (repeatable; docs/data.md has the rules)")
      ->required();
  sub->add_option("--crop", a->crop, "none | colour_box | rect:X,Y,W,H (as data.crop)")
      ->capture_default_str();
  sub->add_option("--frame", a->frame, "frame of multi-frame DICOM files")->capture_default_str();
  sub->add_option("--out", a->out, "folder for NAME_mask.png: the picture (cropped) | the same, masked")
      ->required();
  sub->footer("Set the same entries as data.mask in the run config (or oess extract --mask).");
  sub->callback([a] { run_mask(*a); });
}

}  // namespace oess::cli

// One reader's blinded grading session: the order, the grades, the atomic file (reading/session.h).
#include "oess/reading/session.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <opencv2/imgcodecs.hpp>

#include "oess/core/error.h"
#include "oess/core/random.h"
#include "oess/data/clip.h"
#include "oess/data/readers.h"
#include "oess/io/csv.h"

namespace oess::reading {

namespace fs = std::filesystem;

namespace {

uint64_t name_hash(const std::string& s) {  // FNV-1a: the reader's own order, the same on every platform
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

Session::Session(data::Manifest m, std::string reader, std::string out_file, uint64_t seed)
    : m_(std::move(m)), reader_(std::move(reader)), out_(std::move(out_file)) {
  if (reader_.empty() || reader_.find_first_of(",\"\n") != std::string::npos)
    throw UsageError(fmt::format("--reader \"{}\": a name without commas, quotes or line breaks", reader_));
  order_.resize(m_.samples.size());
  std::iota(order_.begin(), order_.end(), 0);
  Rng rng(mix_seed(seed, name_hash(reader_)));
  rng.shuffle(order_);
  grades_.assign(order_.size(), data::kNoGrade);
  std::error_code ec;
  if (!fs::exists(out_, ec)) return;
  const auto previous = data::read_grade_files(m_, {out_});
  for (const auto& r : previous.readers)
    if (r != reader_)
      throw Error(fmt::format("{}: holds grades of reader {}, not {}: give each reader a file of their own",
                              out_, r, reader_));
  if (previous.readers.empty()) return;
  for (size_t pos = 0; pos < order_.size(); ++pos) grades_[pos] = previous.grades[order_[pos]][0];
}

size_t Session::graded() const {
  return static_cast<size_t>(std::count_if(grades_.begin(), grades_.end(), [](int g) { return g >= 0; }));
}

size_t Session::frontier() const {
  const auto it = std::find(grades_.begin(), grades_.end(), data::kNoGrade);
  return static_cast<size_t>(it - grades_.begin());
}

bool Session::show(size_t pos) {
  if (pos >= order_.size() || pos > frontier()) return false;
  shown_.insert(pos);
  return true;
}

std::optional<int> Session::grade_at(size_t pos) const {
  if (pos >= grades_.size() || grades_[pos] < 0) return std::nullopt;
  return grades_[pos];
}

void Session::grade(size_t pos, int g) {
  if (pos >= order_.size())
    throw Refused(fmt::format("image {}: there are {} images", pos + 1, order_.size()));
  if (!shown(pos)) throw Refused(fmt::format("image {} was not shown by this page: no grade taken", pos + 1));
  if (g < 0 || g > 3) throw Refused(fmt::format("grade {}: OESS grades are 0 to 3", g));
  const int before = grades_[pos];
  grades_[pos] = g;
  try {
    save();
  } catch (...) {
    grades_[pos] = before;
    throw;
  }
}

void Session::save() const {
  io::CsvWriter csv({"path", "reader", "grade"});
  for (size_t pos = 0; pos < order_.size(); ++pos)
    if (grades_[pos] >= 0)
      csv.row({fs::absolute(m_.samples[order_[pos]].path).lexically_normal().string(), reader_,
               std::to_string(grades_[pos])});
  csv.write(out_);
}

std::string Session::png(size_t pos) const {
  if (pos >= order_.size() || !shown(pos))
    throw Refused(fmt::format("image {} was not shown by this page", pos + 1));
  const cv::Mat image = data::decode_picture(m_.samples[order_[pos]].path);
  std::vector<uchar> bytes;
  if (!cv::imencode(".png", image, bytes)) throw Error("image could not be encoded as PNG");
  return std::string(bytes.begin(), bytes.end());
}

std::string Session::state_json(size_t pos) const {
  const auto g = grade_at(pos);
  return fmt::format(
      R"({{"reader": "{}", "total": {}, "graded": {}, "frontier": {}, "position": {}, "grade": {}}})",
      reader_, total(), graded(), frontier(), pos, g ? std::to_string(*g) : "null");
}

}  // namespace oess::reading

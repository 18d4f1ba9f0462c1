// Data: CSV, manifests, decoding, splits, balancing. Expected values are worked out by hand in comments.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>

#include "oess/core/error.h"
#include "oess/data/balance.h"
#include "oess/data/image.h"
#include "oess/data/manifest.h"
#include "oess/data/split.h"
#include "oess/io/csv.h"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using namespace oess::data;

namespace {

fs::path scratch(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / "oess_test_data" / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

void write(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

// A manifest of n_per_grade[g] images per grade, `patients` patients round-robin, image files present.
fs::path make_manifest(const std::string& name, std::vector<int> n_per_grade, int patients = 0) {
  const fs::path d = scratch(name);
  std::string csv = patients ? "path,score,patient\n" : "path,score\n";
  int k = 0;
  for (int g = 0; g < 4; ++g)
    for (int i = 0; i < n_per_grade[static_cast<size_t>(g)]; ++i, ++k) {
      const std::string f = "img" + std::to_string(k) + ".png";
      write(d / f, "x");
      csv += f + "," + std::to_string(g) + (patients ? ",P" + std::to_string(k % patients) : "") + "\n";
    }
  write(d / "m.csv", csv);
  return d / "m.csv";
}

}  // namespace

TEST_CASE("CSV: quotes, escaped quotes, CRLF, blank lines", "[csv]") {
  const auto t = oess::io::parse_csv("a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\r\n\r\n1,\n", "t.csv");
  REQUIRE(t.header == std::vector<std::string>{"a", "b"});
  REQUIRE(t.rows.size() == 2);
  CHECK(t.rows[0][0] == "x, y");
  CHECK(t.rows[0][1] == "say \"hi\"");
  CHECK(t.rows[1][0] == "1");
  CHECK(t.rows[1][1] == "");
  CHECK(t.lines == std::vector<int>{2, 4});
}

TEST_CASE("CSV errors name the file and line", "[csv]") {
  REQUIRE_THROWS_WITH(oess::io::parse_csv("a,b\n1,2\n3\n", "t.csv"),
                      Contains("t.csv:3: 1 field(s), but the header has 2"));
  REQUIRE_THROWS_WITH(oess::io::parse_csv("a,b\n1,\"2\n", "t.csv"),
                      Contains("t.csv:2: unterminated quoted field"));
  REQUIRE_THROWS_WITH(oess::io::parse_csv("", "t.csv"), Contains("t.csv: empty file"));
}

TEST_CASE("CSV writer quotes only what needs it and round-trips", "[csv]") {
  oess::io::CsvWriter w({"path", "note"});
  w.row({"a,b.png", "he said \"x\""});
  w.row({"plain.png", ""});
  CHECK(w.str() == "path,note\n\"a,b.png\",\"he said \"\"x\"\"\"\nplain.png,\n");
  const auto t = oess::io::parse_csv(w.str(), "w.csv");
  CHECK(t.rows[0][0] == "a,b.png");
  CHECK(t.rows[0][1] == "he said \"x\"");
}

TEST_CASE("manifest: paths relative to its folder, optional and unknown columns", "[manifest]") {
  const fs::path d = scratch("manifest_ok");
  write(d / "a.png", "x");
  fs::create_directories(d / "sub");
  write(d / "sub" / "b, c.png", "x");
  write(
      d / "m.csv",
      "path,score,patient,joint,split,probe\na.png,0,P1,mcp,train,L12\n\"sub/b, c.png\",3,P2,pip,test,L9\n");
  const Manifest m = read_manifest((d / "m.csv").string());
  REQUIRE(m.samples.size() == 2);
  CHECK(m.samples[0].path == (d / "a.png").string());
  CHECK(m.samples[1].path == (d / "sub" / "b, c.png").string());
  CHECK(m.samples[1].score == 3);
  CHECK(m.samples[1].patient == "P2");
  CHECK(m.samples[1].split == "test");
  CHECK(m.samples[1].line == 3);
  CHECK(m.extra_columns == std::vector<std::string>{"probe"});
  CHECK(m.samples[0].extra[0].second == "L12");
  CHECK(m.counts() == std::vector<int>{1, 0, 0, 1});
}

TEST_CASE("manifest errors name file and line", "[manifest]") {
  const fs::path d = scratch("manifest_bad");
  write(d / "a.png", "x");
  write(d / "b.png", "x");
  auto check = [&](const std::string& csv, const std::string& expected) {
    write(d / "m.csv", csv);
    INFO(csv);
    REQUIRE_THROWS_WITH(read_manifest((d / "m.csv").string()), Contains(expected));
  };
  const std::string f = (d / "m.csv").string();
  check("path,score\na.png,0\nmissing.png,1\n",
        f + ":3: image file " + (d / "missing.png").string() + " does not exist");
  check("path,score\na.png,4\n", f + ":2: score \"4\" is not an integer OESS grade 0..3");
  check("path,score\na.png,2.5\n", ":2: score \"2.5\" is not an integer");
  check("path,score\na.png,x\n", ":2: score \"x\"");
  check("path,score\na.png,1\nb.png,2\na.png,3\n", f + ":4: path \"a.png\" already listed on line 2");
  check("path,score\n", "empty manifest");
  check("file,grade\na.png,1\n",
        "missing required column(s) \"path\" and \"score\" (columns present: file, grade)");
  check("path,label\na.png,1\n", "missing required column(s) \"score\"");
  check("path,score,split\na.png,1,holdout\n", ":2: split \"holdout\" is not one of train, val, test");
}

TEST_CASE("decoding: grey and alpha become BGR, conversions are counted", "[decode]") {
  const fs::path d = scratch("decode");
  cv::Mat grey(5, 7, CV_8UC1, cv::Scalar(77));
  cv::imwrite((d / "grey.png").string(), grey);
  cv::Mat bgra(5, 7, CV_8UC4, cv::Scalar(10, 20, 30, 40));
  cv::imwrite((d / "bgra.png").string(), bgra);
  DecodeNotes notes;
  const cv::Mat g = decode_image((d / "grey.png").string(), &notes);
  REQUIRE(g.type() == CV_8UC3);
  CHECK(g.at<cv::Vec3b>(2, 3) == cv::Vec3b(77, 77, 77));
  const cv::Mat a = decode_image((d / "bgra.png").string(), &notes);
  REQUIRE(a.type() == CV_8UC3);
  CHECK(a.at<cv::Vec3b>(0, 0) == cv::Vec3b(10, 20, 30));
  CHECK(notes.grey == 1);
  CHECK(notes.alpha == 1);
  CHECK_THAT(notes.summary(), Contains("1 grey image(s)") && Contains("alpha dropped"));
}

TEST_CASE("decoding: 16-bit TIFF is scaled by 255/65535", "[decode]") {
  const fs::path d = scratch("decode16");
  cv::Mat m(1, 4, CV_16UC1);
  m.at<uint16_t>(0, 0) = 0;
  m.at<uint16_t>(0, 1) = 257;    // 257 * 255 / 65535 = 1
  m.at<uint16_t>(0, 2) = 32768;  // 127.50 -> 128
  m.at<uint16_t>(0, 3) = 65535;  // 255
  REQUIRE(cv::imwrite((d / "x.tif").string(), m));
  DecodeNotes notes;
  const cv::Mat img = decode_image((d / "x.tif").string(), &notes);
  CHECK(img.at<cv::Vec3b>(0, 0)[0] == 0);
  CHECK(img.at<cv::Vec3b>(0, 1)[0] == 1);
  CHECK(img.at<cv::Vec3b>(0, 2)[1] == 128);
  CHECK(img.at<cv::Vec3b>(0, 3)[2] == 255);
  CHECK(notes.sixteen_bit == 1);
}

TEST_CASE("decoding errors name the file", "[decode]") {
  const fs::path d = scratch("decode_bad");
  write(d / "text.png", "this is not a png");
  REQUIRE_THROWS_WITH(decode_image((d / "text.png").string()), Contains("text.png: cannot decode image"));
  REQUIRE_THROWS_WITH(decode_image((d / "none.png").string()),
                      Contains("none.png: image file does not exist"));
  REQUIRE_THROWS_WITH(decode_image(d.string()), Contains("not a regular file"));
}

TEST_CASE("crop specs and the colour box outline rule", "[decode]") {
  CHECK(parse_crop("none").kind == CropSpec::Kind::kNone);
  CHECK(parse_crop("rect:1,2,30,40").rect == cv::Rect(1, 2, 30, 40));
  REQUIRE_THROWS_AS(parse_crop("rect:1,2,0,4"), oess::UsageError);
  REQUIRE_THROWS_AS(parse_crop("box"), oess::UsageError);
  // Dark image with a light-grey 1-px outline at x 20..79, y 10..49: the inside is x 21..78, y 11..48.
  cv::Mat img(100, 120, CV_8UC3, cv::Scalar(30, 30, 30));
  cv::rectangle(img, cv::Rect(20, 10, 60, 40), cv::Scalar(200, 200, 200), 1);
  CHECK(find_colour_box(img) == cv::Rect(21, 11, 58, 38));
  DecodeNotes notes;
  CHECK(apply_crop(img, parse_crop("colour_box"), &notes).size() == cv::Size(58, 38));
  // No outline: whole image, counted.
  cv::Mat plain(100, 120, CV_8UC3, cv::Scalar(30, 30, 30));
  CHECK(apply_crop(plain, parse_crop("colour_box"), &notes).size() == plain.size());
  CHECK(notes.no_colour_box == 1);
}

TEST_CASE("per_class split: N of each grade to val and test, disjoint, seeded", "[split]") {
  const Manifest m = read_manifest(make_manifest("split_pc", {60, 50, 45, 40}).string());
  SplitOptions o;
  o.val_per_class = 10;
  o.test_per_class = 12;
  o.seed = 3;
  const Split s = make_split(m, o);
  const auto c = s.counts(m);
  CHECK(c[1] == std::vector<int>{10, 10, 10, 10});
  CHECK(c[2] == std::vector<int>{12, 12, 12, 12});
  CHECK(c[0] == std::vector<int>{38, 28, 23, 18});
  CHECK(s.indices(Part::kTrain).size() + s.indices(Part::kVal).size() + s.indices(Part::kTest).size() == 195);
  CHECK(make_split(m, o).part == s.part);
  o.seed = 4;
  CHECK(make_split(m, o).part != s.part);
  o.test_per_class = 40;
  REQUIRE_THROWS_WITH(make_split(m, o),
                      Contains("grade 2 has 45, grade 3 has 40 image(s), fewer than the 10 + 40"));
}

TEST_CASE("stratified split: round(fraction x count) per grade", "[split]") {
  const Manifest m = read_manifest(make_manifest("split_st", {100, 30, 21, 7}).string());
  SplitOptions o;
  o.method = oess::config::SplitMethod::kStratified;
  o.val_fraction = 0.2;   // 20, 6, 4.2 -> 4, 1.4 -> 1
  o.test_fraction = 0.1;  // 10, 3, 2.1 -> 2, 0.7 -> 1
  const auto c = make_split(m, o).counts(m);
  CHECK(c[1] == std::vector<int>{20, 6, 4, 1});
  CHECK(c[2] == std::vector<int>{10, 3, 2, 1});
}

TEST_CASE("grouped split never puts a patient in two parts", "[split]") {
  const Manifest m = read_manifest(make_manifest("split_gr", {120, 70, 50, 40}, 28).string());
  SplitOptions o;
  o.method = oess::config::SplitMethod::kGrouped;
  o.val_fraction = 0.15;
  o.test_fraction = 0.15;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    o.seed = seed;
    const Split s = make_split(m, o);
    std::map<std::string, std::set<int>> parts;
    for (size_t i = 0; i < m.samples.size(); ++i)
      parts[m.samples[i].patient].insert(static_cast<int>(s.part[i]));
    for (const auto& [p, set] : parts) CHECK(set.size() == 1);
    CHECK(patients_in_both(m, s, Part::kTrain, Part::kTest).empty());
    // 280 images, 10 per patient: each small part gets 4-5 patients, i.e. within 0.1 of its target fraction.
    const double test = static_cast<double>(s.indices(Part::kTest).size()) / 280;
    CHECK(test == Approx(0.15).margin(0.1));
    CHECK_FALSE(s.indices(Part::kVal).empty());
  }
  SplitOptions no_patients = o;
  const Manifest plain = read_manifest(make_manifest("split_gr2", {5, 5, 5, 5}).string());
  REQUIRE_THROWS_WITH(make_split(plain, no_patients), Contains("needs a patient column"));
}

TEST_CASE("column split and patient overlap detection", "[split]") {
  const fs::path d = scratch("split_col");
  for (auto f : {"a.png", "b.png", "c.png"}) write(d / f, "x");
  write(d / "m.csv", "path,score,patient,split\na.png,0,P1,train\nb.png,1,P1,test\nc.png,2,P2,val\n");
  const Manifest m = read_manifest((d / "m.csv").string());
  SplitOptions o;
  o.method = oess::config::SplitMethod::kColumn;
  // The leakage guard: P1 is in training and test.
  REQUIRE_THROWS_WITH(make_split(m, o),
                      Contains("m.csv: the column split puts 1 patient(s) in both training and "
                               "test: P1.") &&
                          Contains("data.allow_patient_overlap: true"));
  o.allow_patient_overlap = true;
  const Split s = make_split(m, o);
  CHECK(s.part == std::vector<Part>{Part::kTrain, Part::kTest, Part::kVal});
  CHECK(patients_in_both(m, s, Part::kTrain, Part::kTest) == std::vector<std::string>{"P1"});
  write_split_csv((d / "split.csv").string(), m, s);
  const auto t = oess::io::read_csv((d / "split.csv").string());
  CHECK(t.header == std::vector<std::string>{"path", "score", "patient", "split"});
  CHECK(t.rows[1] == std::vector<std::string>{"b.png", "1", "P1", "test"});
  o.allow_patient_overlap = false;  // no patient column: nothing to guard
  write(d / "m2.csv", "path,score,split\na.png,0,train\nb.png,1,\n");
  REQUIRE_THROWS_WITH(make_split(read_manifest((d / "m2.csv").string()), o),
                      Contains("m2.csv:3: empty split"));
}

TEST_CASE("oversampling evens the grades and keeps every original once", "[balance]") {
  std::vector<int> scores;
  std::vector<size_t> train;
  const int n[4] = {13, 5, 4, 1};
  for (int g = 0; g < 4; ++g)
    for (int i = 0; i < n[g]; ++i) {
      train.push_back(scores.size());
      scores.push_back(g);
    }
  const auto items = oversample(train, scores, 9);
  int per_grade[4] = {};
  std::map<size_t, int> originals, copies;
  for (const auto& it : items) {
    ++per_grade[scores[it.sample]];
    (it.copy == 0 ? originals : copies)[it.sample]++;
  }
  CHECK(per_grade[0] == 13);
  CHECK(per_grade[1] == 13);
  CHECK(per_grade[2] == 13);
  CHECK(per_grade[3] == 13);
  CHECK(originals.size() == train.size());
  for (const auto& [s, k] : originals) CHECK(k == 1);
  // Grade 1: 8 copies over 5 originals -> each copied once or twice.
  for (size_t s = 13; s < 18; ++s) CHECK((copies[s] == 1 || copies[s] == 2));
  CHECK(copies[22] == 12);  // the single grade-3 image is copied 12 times
  CHECK(oversample(train, scores, 9).size() == items.size());
}

TEST_CASE("class weights n / (k n_g)", "[balance]") {
  std::vector<int> scores = {0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 3};
  std::vector<size_t> train(scores.size());
  for (size_t i = 0; i < train.size(); ++i) train[i] = i;
  const auto w = class_weights(train, scores);  // 12 / (4*6), 12 / (4*3), 12 / (4*2), 12 / (4*1)
  CHECK(w[0] == Approx(0.5));
  CHECK(w[1] == Approx(1.0));
  CHECK(w[2] == Approx(1.5));
  CHECK(w[3] == Approx(3.0));
}

TEST_CASE("augmentation is deterministic per seed and changes the image", "[balance]") {
  cv::Mat img(64, 80, CV_8UC3);
  cv::randu(img, 0, 255);
  const cv::Mat a = augment(img, 42), b = augment(img, 42), c = augment(img, 43);
  CHECK(a.size() == img.size());
  CHECK(cv::norm(a, b, cv::NORM_INF) == 0);
  CHECK(cv::norm(a, c, cv::NORM_INF) > 0);
  CHECK(cv::norm(a, img, cv::NORM_INF) > 0);
}

// ---- the dataset check's near duplicates, confirmed at full resolution (issue #32)
#include "oess/data/dataset_check.h"

namespace {

// An ultrasound-like picture: a smooth layout and the probe's on-screen line, with speckle drawn from
// `speckle_seed` and that scan's patient and time written in. Two seeds: the same layout, two scans.
cv::Mat scan(uint64_t speckle_seed) {
  cv::Mat layout(288, 384, CV_32FC1);
  for (int y = 0; y < layout.rows; ++y)  // smooth tissue: bands across, a slow fall with depth
    for (int x = 0; x < layout.cols; ++x)
      layout.at<float>(y, x) = static_cast<float>(110 + 60 * std::sin(x / 30.0) + 30 * std::cos(y / 40.0));
  cv::Mat speckle(layout.size(), CV_32FC1);
  cv::RNG rng(0x9E3779B97F4A7C15ULL * (speckle_seed + 1));  // far-apart seeds: unrelated sequences
  rng.fill(speckle, cv::RNG::NORMAL, 0, 22);
  cv::GaussianBlur(speckle, speckle, cv::Size(0, 0), 0.8);  // grains a couple of pixels wide
  cv::Mat grey, img;
  cv::Mat(layout + speckle).convertTo(grey, CV_8UC1);
  cv::cvtColor(grey, img, cv::COLOR_GRAY2BGR);
  // The same probe and settings line, the scan's own patient and time (as two scans of two patients).
  cv::putText(img, "L12 CFM 10MHz", {10, 20}, cv::FONT_HERSHEY_SIMPLEX, 0.45, cv::Scalar(235, 235, 235), 1);
  cv::putText(img, speckle_seed == 1 ? "P0133 09:12" : "P0207 14:51", {250, 20}, cv::FONT_HERSHEY_SIMPLEX,
              0.45, cv::Scalar(235, 235, 235), 1);
  return img;
}

cv::Mat reencode(const cv::Mat& img, int quality, double scale) {
  cv::Mat s;
  cv::resize(img, s, cv::Size(), scale, scale, cv::INTER_AREA);
  std::vector<uchar> buf;
  cv::imencode(".jpg", s, buf, {cv::IMWRITE_JPEG_QUALITY, quality});
  return cv::imdecode(buf, cv::IMREAD_COLOR);
}

}  // namespace

TEST_CASE("near duplicates: copies keep their speckle, another scan of the same layout does not", "[check]") {
  const cv::Mat a = scan(1), other = scan(2);
  const double copy80 = oess::data::detail_correlation(a, reencode(a, 80, 1.0));
  const double half = oess::data::detail_correlation(a, reencode(a, 80, (384.0 - 2) / 384));  // 2 px smaller
  const double other_scan = oess::data::detail_correlation(a, other);
  INFO("JPEG q80 " << copy80 << ", 2 px smaller " << half << ", another scan " << other_scan);
  CHECK(copy80 >= oess::data::kNearDetailCorrelation);
  CHECK(half >= oess::data::kNearDetailCorrelation);  // (half size: docs/data.md's BUS-BRA figures)
  CHECK(other_scan < oess::data::kNearDetailCorrelation);
  CHECK(oess::data::detail_correlation(a, a) == Approx(1.0));

  // Through the whole check: the other scan passes the fingerprints (the rule before issue #32 flagged such
  // a pair) and is not a duplicate; the re-encoded copy is one, with its correlation said.
  const auto dir = std::filesystem::temp_directory_path() / "oess_near_dups";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  cv::imwrite((dir / "a.png").string(), a);
  cv::imwrite((dir / "b.png").string(), other);
  cv::imwrite((dir / "a_copy.jpg").string(), reencode(a, 80, 1.0));
  std::ofstream(dir / "labels.csv") << "path,score,patient\na.png,1,P1\nb.png,1,P2\na_copy.jpg,2,P3\n";
  const auto m = oess::data::read_manifest((dir / "labels.csv").string());
  const auto facts = oess::data::inspect_images(m, 2);
  REQUIRE(facts.size() == 3);
  CHECK(oess::data::hash_distance(facts[0].hash, facts[1].hash) <= oess::data::kNearHashBits);
  double thumb = 0;
  for (size_t i = 0; i < facts[0].thumb.size(); ++i)
    thumb += std::abs(static_cast<int>(facts[0].thumb[i]) - static_cast<int>(facts[1].thumb[i]));
  CHECK(thumb / static_cast<double>(facts[0].thumb.size()) <= oess::data::kNearThumbDiff);
  const auto groups = oess::data::find_duplicates(m, facts);
  REQUIRE(groups.size() == 1);
  CHECK(groups[0].samples == std::vector<size_t>{0, 2});
  CHECK_FALSE(groups[0].exact);
  CHECK(groups[0].detail_correlation >= oess::data::kNearDetailCorrelation);
  CHECK(groups[0].across_grades);
  const auto files = oess::data::write_duplicate_pairs(m, groups, (dir / "pairs").string());
  REQUIRE(files.size() == 1);
  const cv::Mat pair = cv::imread(files[0]);
  CHECK(pair.rows > 360);
  CHECK(pair.cols > 2 * 360);  // two images side by side
  // Grey images: no "Doppler colour box" however box-like their lines.
  CHECK_FALSE(facts[0].colour_box);
  CHECK(facts[0].mode == "grey");
}

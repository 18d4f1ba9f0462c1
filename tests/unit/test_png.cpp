// data::decode_png_fast against OpenCV's own PNG decoder (libpng + zlib), the oracle, on files made two ways:
// by OpenCV's encoder (libpng's filter choice, every compression level and strategy) and by a small encoder
// here that sets each row's filter type itself, so that all five filters are decoded on every colour type.
#include <libdeflate.h>
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "oess/data/png.h"

using oess::data::decode_png_fast;

namespace {

using Bytes = std::vector<uint8_t>;

void put32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}

void chunk(Bytes& png, const std::string& type, const Bytes& body) {
  put32(png, static_cast<uint32_t>(body.size()));
  Bytes typed(type.begin(), type.end());
  typed.insert(typed.end(), body.begin(), body.end());
  png.insert(png.end(), typed.begin(), typed.end());
  put32(png, libdeflate_crc32(0, typed.data(), typed.size()));
}

int predictor(int filter, int a, int b, int c) {
  switch (filter) {
    case 1:
      return a;
    case 2:
      return b;
    case 3:
      return (a + b) / 2;
    case 4: {
      const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
      return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
    default:
      return 0;
  }
}

// An 8-bit PNG of `img` (grey, BGR or BGRA, stored as grey, RGB or RGBA) with row y filtered by filter(y);
// `extra` chunks go between IHDR and IDAT; the IDAT stream is split in two chunks.
Bytes encode(const cv::Mat& img, int (*filter)(int),
             const std::vector<std::pair<std::string, Bytes>>& extra = {}, uint8_t interlace = 0) {
  const int ch = img.channels(), w = img.cols, h = img.rows;
  Bytes raw;
  std::vector<uint8_t> prev(static_cast<size_t>(w * ch), 0), cur(prev.size());
  for (int y = 0; y < h; ++y) {
    const uint8_t* p = img.ptr<uint8_t>(y);
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < ch; ++c) {  // BGR(A) -> RGB(A)
        const int from = ch >= 3 && c < 3 ? 2 - c : c;
        cur[static_cast<size_t>(x * ch + c)] = p[x * ch + from];
      }
    const int f = filter(y);
    raw.push_back(static_cast<uint8_t>(f));
    for (size_t i = 0; i < cur.size(); ++i) {
      const int a = i >= static_cast<size_t>(ch) ? cur[i - static_cast<size_t>(ch)] : 0;
      const int c = i >= static_cast<size_t>(ch) ? prev[i - static_cast<size_t>(ch)] : 0;
      raw.push_back(static_cast<uint8_t>(cur[i] - predictor(f, a, prev[i], c)));
    }
    prev = cur;
  }
  libdeflate_compressor* z = libdeflate_alloc_compressor(6);
  Bytes packed(libdeflate_zlib_compress_bound(z, raw.size()));
  packed.resize(libdeflate_zlib_compress(z, raw.data(), raw.size(), packed.data(), packed.size()));
  libdeflate_free_compressor(z);
  Bytes png{137, 80, 78, 71, 13, 10, 26, 10}, ihdr;
  put32(ihdr, static_cast<uint32_t>(w));
  put32(ihdr, static_cast<uint32_t>(h));
  ihdr.push_back(8);
  ihdr.push_back(static_cast<uint8_t>(ch == 1 ? 0 : ch == 3 ? 2 : 6));
  for (uint8_t v : {uint8_t{0}, uint8_t{0}, interlace}) ihdr.push_back(v);
  chunk(png, "IHDR", ihdr);
  for (const auto& [type, body] : extra) chunk(png, type, body);
  const size_t half = packed.size() / 2;
  chunk(png, "IDAT", Bytes(packed.begin(), packed.begin() + static_cast<long>(half)));
  chunk(png, "IDAT", Bytes(packed.begin() + static_cast<long>(half), packed.end()));
  chunk(png, "IEND", {});
  return png;
}

cv::Mat picture(int type, int w, int h, bool noisy) {
  cv::Mat m(h, w, type);
  if (noisy) {
    cv::randu(m, cv::Scalar::all(0), cv::Scalar::all(256));
  } else {  // smooth ramps: what makes encoders pick Sub, Up, Average and Paeth
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < m.channels(); ++c)
          m.ptr<uint8_t>(y)[x * m.channels() + c] =
              static_cast<uint8_t>((x * (c + 1) + y * (3 - c) + (x * y) / 7) & 255);
  }
  return m;
}

bool same(const cv::Mat& a, const cv::Mat& b) {
  return a.type() == b.type() && a.size() == b.size() && cv::norm(a, b, cv::NORM_INF) == 0;
}

cv::Mat oracle(const Bytes& png) { return cv::imdecode(png, cv::IMREAD_UNCHANGED); }

}  // namespace

TEST_CASE("decode_png_fast gives OpenCV's pixels for every row filter, grey, RGB and RGBA", "[png]") {
  for (int type : {CV_8UC1, CV_8UC3, CV_8UC4})
    for (bool noisy : {false, true})
      for (int (*filter)(int) :
           {+[](int y) { return y % 5; }, +[](int) { return 4; }, +[](int) { return 3; }}) {
        const cv::Mat img = picture(type, 37, 23, noisy);
        const Bytes png = encode(img, filter);
        const cv::Mat want = oracle(png);
        INFO("channels " << CV_MAT_CN(type) << (noisy ? ", noise" : ", ramps"));
        REQUIRE(same(want, img));  // the test's encoder is right, by OpenCV's decoder
        const auto got = decode_png_fast(png.data(), png.size());
        REQUIRE(got.has_value());
        CHECK(same(*got, want));
      }
}

TEST_CASE("decode_png_fast gives OpenCV's pixels for OpenCV-written PNGs at every level and strategy",
          "[png]") {
  for (int type : {CV_8UC1, CV_8UC3, CV_8UC4})
    for (int level : {0, 1, 6, 9})
      for (int strategy : {cv::IMWRITE_PNG_STRATEGY_DEFAULT, cv::IMWRITE_PNG_STRATEGY_FILTERED,
                           cv::IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY, cv::IMWRITE_PNG_STRATEGY_RLE,
                           cv::IMWRITE_PNG_STRATEGY_FIXED}) {
        const cv::Mat img = picture(type, 64 + level, 48, level % 2 == 1);
        Bytes png;
        REQUIRE(cv::imencode(".png", img, png,
                             {cv::IMWRITE_PNG_COMPRESSION, level, cv::IMWRITE_PNG_STRATEGY, strategy}));
        const auto got = decode_png_fast(png.data(), png.size());
        INFO("channels " << CV_MAT_CN(type) << ", level " << level << ", strategy " << strategy);
        REQUIRE(got.has_value());
        CHECK(same(*got, oracle(png)));
        CHECK(same(*got, img));
      }
}

TEST_CASE("decode_png_fast leaves every other PNG, and damaged files, to OpenCV", "[png]") {
  const cv::Mat img = picture(CV_8UC3, 20, 10, true);
  auto all_sub = +[](int) { return 1; };
  const Bytes good = encode(img, all_sub);
  REQUIRE(decode_png_fast(good.data(), good.size()).has_value());
  // Harmless chunks are read past; a text chunk before IDAT is common in exports.
  const Bytes text = encode(img, all_sub, {{"tEXt", {'k', 0, 'v'}}, {"pHYs", Bytes(9, 1)}});
  REQUIRE(decode_png_fast(text.data(), text.size()).has_value());

  std::vector<std::pair<std::string, Bytes>> refused = {
      {"16-bit", {}},       {"interlaced", {}},
      {"tRNS", {}},         {"unknown chunk", {}},
      {"bad CRC", {}},      {"truncated", {}},
      {"not a PNG", {}},    {"bad filter byte", {}},
      {"short stream", {}}, {"a header larger than its stream could hold", {}}};
  Bytes sixteen;
  REQUIRE(cv::imencode(".png", cv::Mat(8, 8, CV_16UC3, cv::Scalar(1000, 2000, 3000)), sixteen));
  refused[0].second = sixteen;
  refused[1].second = encode(img, all_sub, {}, /*interlace=*/1);
  refused[2].second = encode(img, all_sub, {{"tRNS", {0, 1, 0, 2, 0, 3}}});
  refused[3].second = encode(img, all_sub, {{"abCd", {1, 2, 3}}});
  refused[4].second = good;
  refused[4].second[45] ^= 0x10;  // inside the first IDAT's data (it starts at byte 41): its CRC fails
  refused[5].second = Bytes(good.begin(), good.begin() + static_cast<long>(good.size() / 2));
  refused[6].second = Bytes(good.size(), 7);
  {  // a 4x2 grey image's stream made by hand (the CRCs right): a filter type of 5; one byte missing
    const Bytes valid{0, 1, 2, 3, 4, 0, 5, 6, 7, 8};
    Bytes bad_filter = valid, short_raw(valid.begin(), valid.end() - 1);
    bad_filter[0] = 5;
    auto file = [](const Bytes& raw) {
      libdeflate_compressor* z = libdeflate_alloc_compressor(6);
      Bytes packed(libdeflate_zlib_compress_bound(z, raw.size()));
      packed.resize(libdeflate_zlib_compress(z, raw.data(), raw.size(), packed.data(), packed.size()));
      libdeflate_free_compressor(z);
      Bytes png{137, 80, 78, 71, 13, 10, 26, 10}, ihdr;
      put32(ihdr, 4);
      put32(ihdr, 2);
      for (uint8_t v : {8, 0, 0, 0, 0}) ihdr.push_back(v);
      chunk(png, "IHDR", ihdr);
      chunk(png, "IDAT", packed);
      chunk(png, "IEND", {});
      return png;
    };
    const Bytes ok = file(valid);
    REQUIRE(decode_png_fast(ok.data(), ok.size()).has_value());  // the hand-made file itself is fine
    refused[7].second = file(bad_filter);
    refused[8].second = file(short_raw);
  }
  {  // 60000 x 60000 RGBA claimed (14 GB once inflated) over a 13-byte stream: refused before allocating
    Bytes png{137, 80, 78, 71, 13, 10, 26, 10}, ihdr;
    put32(ihdr, 60000);
    put32(ihdr, 60000);
    for (uint8_t v : {8, 6, 0, 0, 0}) ihdr.push_back(v);
    chunk(png, "IHDR", ihdr);
    chunk(png, "IDAT", Bytes{0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 0, 0, 0});
    chunk(png, "IEND", {});
    refused[9].second = png;
  }
  for (const auto& [why, png] : refused) {
    INFO(why);
    CHECK_FALSE(decode_png_fast(png.data(), png.size()).has_value());
  }
}

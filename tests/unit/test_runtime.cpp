// runtime::Net (the oneDNN inference engine) on cases small enough to compute by hand.
#include <catch2/catch.hpp>
#include <vector>

#include "oess/runtime/net.h"

using oess::runtime::Net;

namespace {

// Image k of a batch: a 4x4 single-channel ramp 1..16 (row-major), times k + 1.
std::vector<float> ramps(int n) {
  std::vector<float> x;
  for (int k = 0; k < n; ++k)
    for (int i = 1; i <= 16; ++i) x.push_back(static_cast<float>(i * (k + 1)));
  return x;
}

}  // namespace

TEST_CASE("runtime::Net: convolution with bias and ReLU, pools, concatenation, by hand", "[runtime]") {
  Net net({1, 4, 4});
  const std::vector<float> ones(9, 1.f), minus(9, -1.f), half{0.5f}, zero{0.f};
  const int conv = net.conv(Net::kInput, ones.data(), half.data(), 1, 3, 3, 1, 1, 1, /*relu=*/true);
  const int dead = net.conv(Net::kInput, minus.data(), zero.data(), 1, 3, 3, 1, 1, 1, /*relu=*/true);
  const int avg_in = net.avg_pool(Net::kInput, 3, 1, 1, /*count_include_pad=*/false);
  const int avg_pad = net.avg_pool(Net::kInput, 3, 1, 1, /*count_include_pad=*/true);
  const int max2 = net.max_pool(Net::kInput, 2, 2);
  const int max3 = net.max_pool(Net::kInput, 3, 2);  // floor: one window, the last row and column unread
  const int cat = net.concat({max2, max2});
  const int gap = net.global_avg_pool(Net::kInput);
  CHECK(net.shape(max3).h == 1);
  CHECK(net.shape(cat).c == 2);

  const auto x = ramps(2);
  std::vector<float> c(2 * 16), d(2 * 16), a(2 * 16), p(2 * 16), m2(2 * 4), m3(2), ct(2 * 8), g(2);
  net.run(x.data(), 2, {conv, dead, avg_in, avg_pad, max2, max3, cat, gap},
          {c.data(), d.data(), a.data(), p.data(), m2.data(), m3.data(), ct.data(), g.data()});
  // 3x3 sums (zero padding) + 0.5: corner 1+2+5+6, centre 1+2+3+5+6+7+9+10+11, far corner 11+12+15+16.
  CHECK(c[0] == Approx(14.5));
  CHECK(c[5] == Approx(54.5));
  CHECK(c[15] == Approx(54.5));
  CHECK(c[16] == Approx(28.5));       // image 2 is image 1 doubled
  for (float v : d) CHECK(v == 0.f);  // all negative before ReLU
  CHECK(a[0] == Approx(3.5));         // (1+2+5+6) / 4 pixels inside the image
  CHECK(p[0] == Approx(14.0 / 9));    // ... / 9, the padding counted
  CHECK(a[5] == Approx(6.0));
  CHECK(m2 == std::vector<float>{6, 8, 14, 16, 12, 16, 28, 32});
  CHECK(m3 == std::vector<float>{11, 22});
  CHECK(ct == std::vector<float>{6, 8, 14, 16, 6, 8, 14, 16, 12, 16, 28, 32, 12, 16, 28, 32});
  CHECK(g[0] == Approx(8.5));
  CHECK(g[1] == Approx(17.0));

  // Another batch size plans again and gives the same numbers for the same image.
  std::vector<float> one(16);
  net.run(x.data(), 1, {conv}, {one.data()});
  CHECK(std::vector<float>(c.begin(), c.begin() + 16) == one);
  CHECK_THAT(net.kernels(), Catch::Matchers::Contains("convolution"));
}

TEST_CASE("runtime::Net: an average pool with a bias and ReLU fused, by hand", "[runtime]") {
  // Two channels (the ramp and the ramp times -1), so that the bias is per channel and ReLU has work to do.
  Net net({2, 4, 4});
  const std::vector<float> bias{-5.f, 1.f};
  const int ex = net.avg_pool(Net::kInput, 3, 1, 1, /*count_include_pad=*/false, bias.data(), /*relu=*/true);
  const int in = net.avg_pool(Net::kInput, 3, 1, 1, /*count_include_pad=*/true, bias.data(), /*relu=*/false);
  std::vector<float> x = ramps(1);
  for (int i = 1; i <= 16; ++i) x.push_back(-static_cast<float>(i));
  std::vector<float> a(32), b(32);
  net.run(x.data(), 1, {ex, in}, {a.data(), b.data()});
  CHECK(a[0] == 0.f);          // (1+2+5+6)/4 - 5 < 0
  CHECK(a[5] == Approx(1.0));  // 6 - 5
  CHECK(a[16 + 5] == 0.f);     // -6 + 1 < 0
  CHECK(b[0] == Approx(14.0 / 9 - 5));
  CHECK(b[16 + 0] == Approx(-14.0 / 9 + 1));
  CHECK(b[16 + 5] == Approx(-6.0 + 1));
}

TEST_CASE("runtime::Net refuses values it does not have and layers larger than their input", "[runtime]") {
  Net net({1, 4, 4});
  const std::vector<float> w(25, 1.f), b{0.f};
  CHECK_THROWS_AS(net.conv(Net::kInput, w.data(), b.data(), 1, 5, 5, 1, 0, 0, false),
                  oess::runtime::Unsupported);
  CHECK_THROWS_AS(net.max_pool(Net::kInput, 5, 1), oess::runtime::Unsupported);
  CHECK_THROWS_AS(net.relu(3), std::out_of_range);
  std::vector<float> out(16);
  const auto x = ramps(1);
  CHECK_THROWS_AS(net.run(x.data(), 1, {7}, {out.data()}), std::out_of_range);
}

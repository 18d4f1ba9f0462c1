// LibTorch is linked and computes: a 2x2 convolution checked against values worked out by hand.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "oess/version.h"

TEST_CASE("LibTorch conv2d forward matches a hand-computed result", "[link][torch]") {
  // x = [[1,2,3],[4,5,6],[7,8,9]], w = [[1,2],[3,4]], bias 0.5, stride 1, no padding:
  //   y00 = 1*1+2*2+4*3+5*4 = 37, y01 = 2+6+15+24 = 47, y10 = 4+10+21+32 = 67, y11 = 5+12+24+36 = 77.
  auto x = torch::arange(1, 10, torch::kFloat32).reshape({1, 1, 3, 3});
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(/*in=*/1, /*out=*/1, /*kernel_size=*/2));
  {
    torch::NoGradGuard no_grad;
    conv->weight.copy_(torch::tensor({1.f, 2.f, 3.f, 4.f}).reshape({1, 1, 2, 2}));
    conv->bias.fill_(0.5f);
  }
  auto y = conv->forward(x);
  REQUIRE(y.sizes() == torch::IntArrayRef({1, 1, 2, 2}));
  const float expected[] = {37.5f, 47.5f, 67.5f, 77.5f};
  auto flat = y.flatten();
  for (int i = 0; i < 4; ++i) CHECK(flat[i].item<float>() == Approx(expected[i]));
}

TEST_CASE("liboess reports the LibTorch it was built against", "[link][torch]") {
  const std::string info = oess::build_info();
  CHECK(info.find("LibTorch " TORCH_VERSION) != std::string::npos);
  CHECK(info.find("oess " OESS_VERSION_STRING) != std::string::npos);
}

// The batch loader gives the same tensors, in the same order, as one-by-one preprocessing, for any threads.
#include <torch/torch.h>
#include <catch2/catch.hpp>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>

#include "oess/data/balance.h"
#include "oess/data/loader.h"
#include "oess/models/preprocessing.h"
#include "oess/platform/platform.h"

namespace fs = std::filesystem;
using namespace oess::data;

TEST_CASE("batch loader: order, content, augmentation and errors", "[loader]") {
  const fs::path d = fs::temp_directory_path() / "oess_test_loader";
  fs::remove_all(d);
  fs::create_directories(d);
  std::vector<LoadItem> items;
  for (int i = 0; i < 11; ++i) {
    cv::Mat img(40 + i, 50, CV_8UC3, cv::Scalar(i * 20, 100, 255 - i * 20));
    const std::string p = (d / ("i" + std::to_string(i) + ".png")).string();
    cv::imwrite(p, img);
    items.push_back({p, i % 3 == 0, static_cast<uint64_t>(i)});
  }
  auto pre = oess::models::preprocessing_preset("torchvision", oess::models::Arch::kVgg16);
  pre.height = pre.width = 32;
  const Framing none;
  // 0: no workers, next() decodes each batch on LibTorch's threads into the batch's memory, reusing the last
  // batch's when nothing else holds it.
  torch::set_num_threads(2);
  for (int threads : {1, 3, 0}) {
    INFO("threads " << threads);
    BatchLoader loader(items, pre, none, /*batch_size=*/4, threads);
    torch::Tensor batch, held, held_copy;
    size_t first = 0, seen = 0;
    while (loader.next(batch, first)) {
      CHECK(first == seen);
      if (held.defined()) CHECK(torch::equal(held, held_copy));  // a view kept by the caller stays as it was
      if (first == 4) {
        held = batch[1];
        held_copy = held.clone();
      }
      for (int64_t b = 0; b < batch.size(0); ++b) {
        const auto& it = items[first + static_cast<size_t>(b)];
        cv::Mat img = decode_image(it.path);
        if (it.augment) img = augment(img, it.augment_seed);
        CHECK(torch::equal(batch[b], oess::models::preprocess(img, pre)));
      }
      seen += static_cast<size_t>(batch.size(0));
    }
    CHECK(seen == items.size());
  }
  items[6].path = (d / "missing.png").string();
  for (int threads : {2, 0}) {
    INFO("threads " << threads);
    BatchLoader broken(items, pre, none, 4, threads);
    torch::Tensor batch;
    size_t first, delivered = 0;
    REQUIRE_THROWS_WITH(
        [&] {
          while (broken.next(batch, first)) ++delivered;
        }(),
        Catch::Matchers::Contains("missing.png: image file does not exist"));
    CHECK(delivered == 1);  // the batch before the broken one
  }
}

TEST_CASE("decode workers: one where a core is spare, none where the forward pass has them all", "[loader]") {
  const int cores = oess::platform::cpu().cores;
  REQUIRE(cores >= 1);
  const int before = torch::get_num_threads();
  torch::set_num_threads(cores);
  CHECK(decode_workers() == 0);
  torch::set_num_threads(cores - 1 >= 1 ? cores - 1 : 1);
  CHECK(decode_workers() == (cores > 1 ? 1 : 0));
  torch::set_num_threads(before);
}

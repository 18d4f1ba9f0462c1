// What the process computes with (oess/platform): the BLAS LibTorch loaded, its thread setting, oneDNN's ISA.
// The suite runs after tools/setup.sh, which installs OpenBLAS: a process on the reference BLAS fails here.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "oess/core/parallel.h"
#include "oess/platform/platform.h"
#include "oess/train/sweep.h"

namespace fs = std::filesystem;

TEST_CASE("LibTorch runs on an optimised BLAS after set-up, not the reference one", "[platform][blas]") {
  torch::mm(torch::ones({8, 8}), torch::ones({8, 8}));  // the BLAS is loaded with LibTorch; use it once
  const auto b = oess::platform::blas();
  INFO("BLAS: " << b.vendor << " / " << b.config << " / " << b.library);
  REQUIRE_FALSE(b.library.empty());
  CHECK_FALSE(b.reference());
  CHECK(b.vendor == "OpenBLAS");
  CHECK(b.threading == "openmp");  // the flavour tools/setup.sh installs (docs/PERFORMANCE.md, "BLAS")
  // The file the loader mapped is the one Debian's libblas.so.3 alternative points to (unless the
  // environment points the loader elsewhere).
  if (std::getenv("LD_LIBRARY_PATH") == nullptr)
    CHECK(fs::canonical(b.library) == fs::canonical("/usr/lib/x86_64-linux-gnu/libblas.so.3"));
  CHECK(oess::platform::reference_blas_warning(b).empty());
}

TEST_CASE("oess sets the BLAS's thread count and restores it", "[platform][blas]") {
  const int before = oess::platform::blas().threads;
  {
    const int was = oess::platform::set_blas_threads(1);
    CHECK(was == before);
    CHECK(oess::platform::blas().threads == 1);
    {
      const int one = oess::platform::set_blas_threads(2);
      CHECK(oess::platform::blas().threads == 2);
      oess::platform::set_blas_threads(one);
    }
    CHECK(oess::platform::blas().threads == 1);
    oess::platform::set_blas_threads(was);
  }
  CHECK(oess::platform::blas().threads == before);
  const int torch_before = torch::get_num_threads();
  {
    oess::train::OneTorchThread single;  // what the sweep and the ensemble take around their parallel fits
    CHECK(oess::platform::blas().threads == 1);
    CHECK(torch::get_num_threads() == 1);
  }
  CHECK(oess::platform::blas().threads == before);
  CHECK(torch::get_num_threads() == torch_before);  // LibTorch's count restored after the BLAS's
}

TEST_CASE("the CPU facts come from /proc/cpuinfo", "[platform]") {
  const auto c = oess::platform::cpu();
  CHECK_FALSE(c.model.empty());
  CHECK(c.cores >= 1);
  std::vector<std::string> keys;  // the order oess --version, log.txt and metrics.json's build block use
  for (const auto& [key, value] : oess::platform::facts()) keys.push_back(key);
  CHECK(keys == std::vector<std::string>{"cpu", "cpu_isa", "onednn_isa", "blas", "blas_library",
                                         "blas_threading", "memory_layout"});
}

// Run by the platform.onednn_isa test with DNNL_VERBOSE=1: oneDNN prints the ISA it dispatches to in its own
// words, and the script compares them with what oess reports.
TEST_CASE("print oneDNN's ISA as oess reads it", "[.onednn]") {
  torch::NoGradGuard no_grad;
  torch::set_num_threads(2);
  auto y = torch::conv2d(torch::ones({16, 8, 16, 16}), torch::ones({8, 8, 3, 3}));
  REQUIRE(y.size(1) == 8);
  std::printf("oess onednn_isa: %s\n", oess::platform::onednn_isa().c_str());
}

TEST_CASE("parallel_for_openmp runs every index once, on more than one thread, and rethrows", "[platform]") {
  torch::set_num_threads(2);
  std::vector<std::atomic<int>> runs(40);
  std::mutex m;
  std::set<std::thread::id> threads;
  oess::parallel_for_openmp(runs.size(), 2, [&](size_t i) {
    ++runs[i];
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // long enough for the second thread to start
    std::lock_guard<std::mutex> lock(m);
    threads.insert(std::this_thread::get_id());
  });
  for (const auto& r : runs) CHECK(r == 1);
  // Built without -fopenmp, the pragma would be ignored and everything would run on the caller's thread.
  CHECK(threads.size() == 2);
  std::atomic<int> ran{0};
  REQUIRE_THROWS_WITH(oess::parallel_for_openmp(10, 2,
                                                [&](size_t i) {
                                                  ++ran;
                                                  if (i == 3) throw std::runtime_error("index 3 failed");
                                                  if (i == 8) throw std::runtime_error("index 8 failed");
                                                }),
                      "index 3 failed");  // the lowest failing index, whichever thread failed first
  CHECK(ran == 10);                       // the other indices still ran
}

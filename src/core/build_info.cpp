#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/version.h>
#include <yaml-cpp/yaml.h>
#include <opencv2/core/version.hpp>

#include <Eigen/Core>

#include "oess/version.h"

namespace oess {

std::string version() { return OESS_VERSION_STRING; }

std::string build_info() {
  const bool cuda = torch::cuda::is_available();
  return fmt::format(
      "oess {}\n"
      "LibTorch {} (CUDA {})\n"
      "OpenCV {}\n"
      "Eigen {}.{}.{}\n",
      OESS_VERSION_STRING, TORCH_VERSION,
      cuda ? fmt::format("available, {} device(s)", torch::cuda::device_count()) : "not available",
      CV_VERSION, EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION, EIGEN_MINOR_VERSION);
}

}  // namespace oess

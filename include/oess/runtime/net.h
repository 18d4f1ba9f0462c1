#pragma once
// oess/runtime/net.h — a forward-only convolutional network run by oneDNN directly (issue #30).
//
// LibTorch 1.13 runs each convolution through oneDNN too, but per call: it reorders the weights into the
// kernel's layout every time, applies ReLU as a separate pass over memory, and never picks Winograd. A Net is
// described once (convolutions with their bias and an optional fused ReLU, pools, concatenations), then
// planned for a batch size: every primitive created, the weights reordered once into the layout the chosen
// kernel wants, the activations in one channel-blocked layout for the CPU's kernels (nChw16c with AVX-512,
// nChw8c below: no reorders between layers, concatenations are plain copies), intermediate buffers reused
// once their last reader has run, one scratchpad shared by all primitives. Torch-free: weights and images are
// plain float arrays.
//
// Numbers: direct convolutions give what LibTorch gives up to summation order. Winograd (3x3, stride 1, on
// CPUs where oneDNN has it: AVX-512) transforms the tiles first and rounds differently: about 1e-6 relative
// per layer; the parity tests bound the whole network (docs/PERFORMANCE.md, "Inference engine").
//
// Threads: oneDNN's OpenMP runtime, the same pool as LibTorch's: set with torch::set_num_threads.
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace oess::runtime {

// The activations' layout the engine plans on this CPU: "nChw16c" (AVX-512) or "nChw8c".
std::string activation_layout();

// A network this engine cannot plan (a layer larger than its input, a kernel oneDNN lacks): the caller runs
// LibTorch instead.
struct Unsupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Shape {
  int64_t c = 0, h = 0, w = 0;
  int64_t size() const { return c * h * w; }
};

struct NetOptions {
  bool winograd = true;  // 3x3 stride-1 convolutions by Winograd where oneDNN has it for this CPU
};

class Net {
 public:
  explicit Net(Shape input, NetOptions options = {});
  ~Net();
  Net(const Net&) = delete;
  Net& operator=(const Net&) = delete;

  // Values are ints: 0 is the input; each call returns its output's value.
  static constexpr int kInput = 0;
  // weight [out, in, kh, kw] and bias [out], row-major (copied). Pads are symmetric.
  int conv(int x, const float* weight, const float* bias, int64_t out, int64_t kh, int64_t kw, int64_t stride,
           int64_t pad_h, int64_t pad_w, bool relu);
  int relu(int x);
  int max_pool(int x, int64_t kernel, int64_t stride);  // no padding, floor
  int avg_pool(int x, int64_t kernel, int64_t stride, int64_t pad, bool count_include_pad);
  // The same, then + bias[c] per channel (x.c values, copied) and ReLU where asked, fused into the pool.
  int avg_pool(int x, int64_t kernel, int64_t stride, int64_t pad, bool count_include_pad, const float* bias,
               bool relu);
  int concat(const std::vector<int>& xs);  // along channels
  int global_avg_pool(int x);
  Shape shape(int value) const;
  int values() const;

  // Plans the network for batch n with these outputs (run() plans on first use too); the plan is kept until
  // another (batch, outputs) is asked for — one plan at a time, for memory. throws
  // Unsupported when oneDNN cannot run a layer as described.
  void prepare(int64_t n, const std::vector<int>& outputs);
  // Runs n images (input: n x C x H x W floats, NCHW) and writes outputs[i] into out[i] as n x c x h x w
  // floats (NCHW).
  void run(const float* input, int64_t n, const std::vector<int>& outputs, const std::vector<float*>& out);
  // The layout and kernels of the first plan and the current plan's size, e.g. "activations nChw16c; concat
  // simple:any x9, convolution jit:avx512_core x34, convolution jit_wino_4x3:avx512_core x10, ...; plan 223
  // MiB".
  std::string kernels() const;
  // Bytes of activation buffers, reordered weights and scratchpad the current plan holds.
  int64_t plan_bytes() const;

  struct Impl;  // the layer list and its current plan (src/runtime/net_impl.h)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace oess::runtime

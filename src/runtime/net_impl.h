#pragma once
// src/runtime/net_impl.h — runtime::Net's state, shared by net.cpp (the layer list, running) and plan.cpp
// (planning); private to the runtime area.
#include <oneapi/dnnl/dnnl.hpp>

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "oess/runtime/net.h"

namespace oess::runtime {
namespace detail {

using dnnl::memory;
using Tag = memory::format_tag;
constexpr auto kF32 = memory::data_type::f32;

enum class Kind { kConv, kRelu, kMaxPool, kAvgPool, kConcat, kGlobalAvg };

struct Layer {
  Kind kind = Kind::kConv;
  std::vector<int> in;
  Shape out;
  int64_t kh = 0, kw = 0, stride = 1, pad_h = 0, pad_w = 0;
  bool relu = false, include_pad = false;
  std::vector<float> weight, bias;
};

inline Layer layer(Kind kind, std::vector<int> in, Shape out, int64_t kernel_h = 0, int64_t kernel_w = 0,
                   int64_t stride = 1, int64_t pad = 0) {
  Layer l;
  l.kind = kind;
  l.in = std::move(in);
  l.out = out;
  l.kh = kernel_h;
  l.kw = kernel_w;
  l.stride = stride;
  l.pad_h = l.pad_w = pad;
  return l;
}

// Where a primitive argument's memory lives while a plan runs.
struct Arg {
  int id = 0;  // DNNL_ARG_*
  // kScratch: the plan's one scratchpad, shared by every primitive (they run one after another)
  enum { kBuffer, kOwned, kInput, kOutput, kScratch } where = kBuffer;
  int index = 0;  // buffer number, or output number
  memory::desc md;
  memory owned;  // kOwned: reordered weights, bias
};

inline Arg arg(int id, decltype(Arg::kBuffer) where, int index, const memory::desc& md, memory owned = {}) {
  Arg a;
  a.id = id;
  a.where = where;
  a.index = index;
  a.md = md;
  a.owned = std::move(owned);
  return a;
}

struct Step {
  dnnl::primitive prim;
  std::vector<Arg> args;
  std::unordered_map<int, memory> bound;  // filled once buffers exist; inputs/outputs re-pointed per run
};

// Buffers reused once their value is dead: the smallest free one that fits, else the largest free one grown.
struct Pool {
  std::vector<size_t> cap;
  std::vector<bool> busy;
  int take(size_t bytes) {
    int best = -1;
    for (size_t b = 0; b < cap.size(); ++b) {
      if (busy[b]) continue;
      const bool fits = cap[b] >= bytes;
      if (best < 0) {
        best = static_cast<int>(b);
        continue;
      }
      const bool best_fits = cap[static_cast<size_t>(best)] >= bytes;
      if (fits && (!best_fits || cap[b] < cap[static_cast<size_t>(best)])) best = static_cast<int>(b);
      if (!fits && !best_fits && cap[b] > cap[static_cast<size_t>(best)]) best = static_cast<int>(b);
    }
    if (best < 0) {
      cap.push_back(0);
      busy.push_back(false);
      best = static_cast<int>(cap.size()) - 1;
    }
    cap[static_cast<size_t>(best)] = std::max(cap[static_cast<size_t>(best)], bytes);
    busy[static_cast<size_t>(best)] = true;
    return best;
  }
  void give(int b) { busy[static_cast<size_t>(b)] = false; }
};

struct Plan {
  std::vector<Step> steps;
  std::vector<std::vector<char, std::allocator<char>>> storage;
  std::vector<void*> base;  // 64-byte aligned start of each buffer; the last is the scratchpad
  int64_t bytes = 0;
};

// 16 floats to a channel block where oneDNN's kernels are AVX-512 ones, 8 below.
int activation_block();

}  // namespace detail

struct Net::Impl {
  Shape input;
  NetOptions options;
  std::vector<detail::Layer> layers;  // layer i makes value i + 1
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{eng};
  // The one plan kept (a plan holds a batch's activations and its own reordered weights) and what it is for.
  std::unique_ptr<detail::Plan> plan;
  int64_t plan_n = 0;
  std::vector<int> plan_outputs;
  std::map<std::string, int> kernels;  // of the first plan: kernel name -> layers

  const Shape& shape(int v) const {
    if (v < 0 || v > static_cast<int>(layers.size()))
      throw std::out_of_range("runtime::Net: no value " + std::to_string(v));
    return v == 0 ? input : layers[static_cast<size_t>(v) - 1].out;
  }
  int add(detail::Layer l) {
    for (int v : l.in) shape(v);  // checks the inputs exist
    layers.push_back(std::move(l));
    return static_cast<int>(layers.size());
  }
  detail::Plan make_plan(int64_t n, const std::vector<int>& outputs);  // plan.cpp
};

}  // namespace oess::runtime

// The oneDNN network (runtime/net.h): the layer list and running a plan (plan.cpp makes them).
#include <algorithm>
#include <sstream>

#include "net_impl.h"

namespace oess::runtime {

std::string activation_layout() { return "nChw" + std::to_string(detail::activation_block()) + "c"; }

using namespace detail;

Net::Net(Shape input, NetOptions options) : impl_(new Impl) {
  impl_->input = input;
  impl_->options = options;
}
Net::~Net() = default;

int Net::conv(int x, const float* weight, const float* bias, int64_t out, int64_t kh, int64_t kw,
              int64_t stride, int64_t pad_h, int64_t pad_w, bool relu) {
  const Shape in = impl_->shape(x);
  Layer l = layer(Kind::kConv, {x},
                  {out, (in.h + 2 * pad_h - kh) / stride + 1, (in.w + 2 * pad_w - kw) / stride + 1}, kh, kw,
                  stride);
  l.pad_h = pad_h;
  l.pad_w = pad_w;
  l.relu = relu;
  if (l.out.h < 1 || l.out.w < 1) throw Unsupported("convolution larger than its input");
  l.weight.assign(weight, weight + out * in.c * kh * kw);
  l.bias.assign(bias, bias + out);
  return impl_->add(std::move(l));
}

int Net::relu(int x) { return impl_->add(layer(Kind::kRelu, {x}, impl_->shape(x))); }

int Net::max_pool(int x, int64_t kernel, int64_t stride) {
  const Shape in = impl_->shape(x);
  Layer l = layer(Kind::kMaxPool, {x}, {in.c, (in.h - kernel) / stride + 1, (in.w - kernel) / stride + 1},
                  kernel, kernel, stride);
  if (l.out.h < 1 || l.out.w < 1) throw Unsupported("max pool larger than its input");
  return impl_->add(std::move(l));
}

int Net::avg_pool(int x, int64_t kernel, int64_t stride, int64_t pad, bool count_include_pad) {
  const Shape in = impl_->shape(x);
  Layer l = layer(Kind::kAvgPool, {x},
                  {in.c, (in.h + 2 * pad - kernel) / stride + 1, (in.w + 2 * pad - kernel) / stride + 1},
                  kernel, kernel, stride, pad);
  l.include_pad = count_include_pad;
  return impl_->add(std::move(l));
}

int Net::avg_pool(int x, int64_t kernel, int64_t stride, int64_t pad, bool count_include_pad,
                  const float* bias, bool relu) {
  const int v = avg_pool(x, kernel, stride, pad, count_include_pad);
  Layer& l = impl_->layers[static_cast<size_t>(v) - 1];
  l.bias.assign(bias, bias + l.out.c);
  l.relu = relu;
  return v;
}

int Net::concat(const std::vector<int>& xs) {
  if (xs.empty()) throw std::invalid_argument("runtime::Net::concat: no inputs");
  Shape s = impl_->shape(xs[0]);
  s.c = 0;
  for (int v : xs) {
    const Shape& t = impl_->shape(v);
    if (t.h != s.h || t.w != s.w) throw std::invalid_argument("runtime::Net::concat: inputs differ in size");
    s.c += t.c;
  }
  return impl_->add(layer(Kind::kConcat, xs, s));
}

int Net::global_avg_pool(int x) {
  const Shape in = impl_->shape(x);
  return impl_->add(layer(Kind::kGlobalAvg, {x}, {in.c, 1, 1}, in.h, in.w));
}

Shape Net::shape(int value) const { return impl_->shape(value); }
int Net::values() const { return static_cast<int>(impl_->layers.size()) + 1; }

void Net::prepare(int64_t n, const std::vector<int>& outputs) {
  if (impl_->plan && impl_->plan_n == n && impl_->plan_outputs == outputs) return;
  // One plan at a time: a plan holds a batch's activations and its own copy of the reordered weights
  // (hundreds of MB for Inception-v3 at batch 16); the short last batch of a run costs one re-plan instead.
  impl_->plan.reset();
  impl_->plan = std::make_unique<Plan>(impl_->make_plan(n, outputs));
  impl_->plan_n = n;
  impl_->plan_outputs = outputs;
}

void Net::run(const float* input, int64_t n, const std::vector<int>& outputs,
              const std::vector<float*>& out) {
  if (out.size() != outputs.size()) throw std::invalid_argument("runtime::Net::run: one array per output");
  prepare(n, outputs);
  for (auto& s : impl_->plan->steps) {
    for (auto& a : s.args)
      if (a.where == Arg::kInput)
        s.bound[a.id].set_data_handle(const_cast<float*>(input));
      else if (a.where == Arg::kOutput)
        s.bound[a.id].set_data_handle(out[static_cast<size_t>(a.index)]);
    s.prim.execute(impl_->stream, s.bound);
  }
  impl_->stream.wait();
}

std::string Net::kernels() const {
  std::ostringstream o;
  o << "activations nChw" << activation_block() << "c; ";
  bool first = true;
  for (const auto& [name, count] : impl_->kernels) {
    o << (first ? "" : ", ") << name << " x" << count;
    first = false;
  }
  if (const int64_t b = plan_bytes()) o << "; plan " << (b + (1 << 19)) / (1 << 20) << " MiB";
  return o.str();
}

int64_t Net::plan_bytes() const { return impl_->plan ? impl_->plan->bytes : 0; }

}  // namespace oess::runtime

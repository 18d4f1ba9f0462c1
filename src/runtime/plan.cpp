// Planning a runtime::Net (net_impl.h): per (batch, outputs), the primitives in order over pooled buffers.
#include <cstring>

#include "net_impl.h"

namespace oess::runtime {

using namespace detail;
using namespace dnnl;

int detail::activation_block() {
  switch (get_effective_cpu_isa()) {
    case cpu_isa::avx512_core:
    case cpu_isa::avx512_core_vnni:
    case cpu_isa::avx512_core_bf16:
    case cpu_isa::avx512_core_amx:
    case cpu_isa::avx512_mic:
    case cpu_isa::avx512_mic_4ops:
      return 16;
    default:
      return 8;
  }
}

namespace {

// One plan being made: each value's layout and buffer, the steps so far.
struct Planning {
  Net::Impl& net;
  int64_t n;
  Tag act;  // the activations' channel-blocked layout
  Plan plan;
  Pool pool;
  std::map<std::string, int> used;  // kernel name -> layers
  std::vector<memory::desc> md;
  std::vector<int> buf;  // -1: the caller's input
  size_t scratch = 0;    // the largest scratchpad a primitive asks for

  // Attributes of every primitive: the scratchpad is the plan's (oneDNN would otherwise keep one per
  // primitive, hundreds of MB for Inception-v3's Winograd convolutions).
  static primitive_attr attr() {
    primitive_attr a;
    a.set_scratchpad_mode(scratchpad_mode::user);
    return a;
  }
  // Step s's scratchpad argument, where its primitive needs one.
  void scratchpad(Step& s, const memory::desc& d) {
    if (d.get_size() == 0) return;
    scratch = std::max(scratch, d.get_size());
    s.args.push_back(arg(DNNL_ARG_SCRATCHPAD, Arg::kScratch, 0, d));
  }

  memory::desc desc(const Shape& s, Tag tag) const { return memory::desc({n, s.c, s.h, s.w}, kF32, tag); }
  Arg src(int id, int v) const {
    const int b = buf[static_cast<size_t>(v)];
    return b < 0 ? arg(id, Arg::kInput, 0, md[static_cast<size_t>(v)])
                 : arg(id, Arg::kBuffer, b, md[static_cast<size_t>(v)]);
  }
  void count(const std::string& what, const char* impl) { ++used[what + " " + impl]; }
};

// Value v in the layout `want`: itself, or a reorder into a pooled temporary (added to temps).
Arg as_layout(Planning& p, int v, const memory::desc& want, std::vector<int>& temps) {
  if (p.md[static_cast<size_t>(v)] == want) return p.src(DNNL_ARG_SRC, v);
  const int t = p.pool.take(want.get_size());
  temps.push_back(t);
  Step s;
  const reorder::primitive_desc pd(p.net.eng, p.md[static_cast<size_t>(v)], p.net.eng, want,
                                   Planning::attr());
  s.prim = reorder(pd);
  s.args = {p.src(DNNL_ARG_FROM, v), arg(DNNL_ARG_TO, Arg::kBuffer, t, want)};
  p.scratchpad(s, pd.scratchpad_desc());
  p.plan.steps.push_back(std::move(s));
  ++p.used["reorder"];
  return arg(DNNL_ARG_SRC, Arg::kBuffer, t, want);
}

// Kernels in order of preference: Winograd where eligible, then direct, both on the value as it is and
// writing the net's layout; last, oneDNN's own choice of layouts (with a reorder before). A reference kernel
// is taken only when nothing else is.
convolution_forward::primitive_desc conv_kernel(Planning& p, const Layer& l, int x) {
  const Shape& in = p.net.shape(x);
  const memory::desc bias({l.out.c}, kF32, Tag::x), weights({l.out.c, in.c, l.kh, l.kw}, kF32, Tag::any);
  primitive_attr attr = Planning::attr();
  if (l.relu) {
    post_ops po;
    po.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(po);
  }
  const bool wino = p.net.options.winograd && l.kh == 3 && l.kw == 3 && l.stride == 1;
  const algorithm algs[] = {algorithm::convolution_winograd, algorithm::convolution_direct,
                            algorithm::convolution_direct};
  convolution_forward::primitive_desc pd;
  for (int c = wino ? 0 : 1; c < 3; ++c) {
    const memory::desc src = c < 2 ? p.md[static_cast<size_t>(x)] : p.desc(in, Tag::any);
    try {
      const convolution_forward::desc d(prop_kind::forward_inference, algs[c], src, weights, bias,
                                        p.desc(l.out, c < 2 ? p.act : Tag::any), {l.stride, l.stride},
                                        {l.pad_h, l.pad_w}, {l.pad_h, l.pad_w});
      pd = convolution_forward::primitive_desc(d, attr, p.net.eng);
    } catch (const dnnl::error&) {  // not for this shape or CPU: the next
      if (c == 2) throw;
      continue;
    }
    if (std::string(pd.impl_info_str()).rfind("ref", 0) != 0) break;
  }
  return pd;
}

// The layer's bias, one value per output channel, copied into memory of shape `md` that the plan owns and
// counts (a convolution's bias argument, or a pool's per-channel addend).
Arg owned_bias(Planning& p, const Layer& l, const memory::desc& md, int id) {
  memory b(md, p.net.eng);
  std::memcpy(b.get_data_handle(), l.bias.data(), l.bias.size() * sizeof(float));
  p.plan.bytes += static_cast<int64_t>(md.get_size());
  return arg(id, Arg::kOwned, 0, md, b);
}

Step conv_step(Planning& p, const Layer& l, int x, std::vector<int>& temps, memory::desc& dst) {
  const auto pd = conv_kernel(p, l, x);
  p.count("convolution", pd.impl_info_str());
  Step step;
  const Arg src = as_layout(p, x, pd.src_desc(), temps);
  // The weights in the kernel's layout, once.
  const memory user_w({{l.out.c, p.net.shape(x).c, l.kh, l.kw}, kF32, Tag::oihw}, p.net.eng,
                      const_cast<float*>(l.weight.data()));
  memory w(pd.weights_desc(), p.net.eng);
  reorder(user_w, w).execute(p.net.stream, const_cast<memory&>(user_w), w);
  p.plan.bytes += static_cast<int64_t>(pd.weights_desc().get_size());
  dst = pd.dst_desc();
  step.prim = convolution_forward(pd);
  step.args = {src, arg(DNNL_ARG_WEIGHTS, Arg::kOwned, 0, w.get_desc(), w),
               owned_bias(p, l, memory::desc({l.out.c}, kF32, Tag::x), DNNL_ARG_BIAS)};
  p.scratchpad(step, pd.scratchpad_desc());
  return step;
}

// The end of every step but a convolution's: its kernel counted, its output's layout, its scratchpad.
template <typename Primitive, typename Desc>
void finish(Planning& p, Step& step, const Desc& pd, const char* what, memory::desc& dst) {
  p.count(what, pd.impl_info_str());
  dst = pd.dst_desc();
  step.prim = Primitive(pd);
  p.scratchpad(step, pd.scratchpad_desc());
}

// ReLU, concatenation and the pools: on their inputs as they are laid out.
Step other_step(Planning& p, const Layer& l, int x, memory::desc& dst) {
  Step step;
  const memory::desc& src = p.md[static_cast<size_t>(x)];
  if (l.kind == Kind::kRelu) {
    const eltwise_forward::desc d(prop_kind::forward_inference, algorithm::eltwise_relu, src, 0.f, 0.f);
    finish<eltwise_forward>(p, step, eltwise_forward::primitive_desc(d, Planning::attr(), p.net.eng), "relu",
                            dst);
    step.args.push_back(p.src(DNNL_ARG_SRC, x));
  } else if (l.kind == Kind::kConcat) {
    std::vector<memory::desc> srcs;
    for (int u : l.in) srcs.push_back(p.md[static_cast<size_t>(u)]);
    finish<concat>(p, step, concat::primitive_desc(1, srcs, p.net.eng, Planning::attr()), "concat", dst);
    for (size_t k = 0; k < l.in.size(); ++k)
      step.args.push_back(p.src(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(k), l.in[k]));
  } else {
    const algorithm alg = l.kind == Kind::kMaxPool ? algorithm::pooling_max
                          : l.include_pad          ? algorithm::pooling_avg_include_padding
                                                   : algorithm::pooling_avg_exclude_padding;
    // Floor mode: the last rows a window would not fill are left unread (no right padding).
    const Shape& in = p.net.shape(x);
    const int64_t pr_h = std::max<int64_t>(0, (l.out.h - 1) * l.stride + l.kh - in.h - l.pad_h);
    const int64_t pr_w = std::max<int64_t>(0, (l.out.w - 1) * l.stride + l.kw - in.w - l.pad_w);
    const pooling_forward::desc d(prop_kind::forward_inference, alg, src, p.desc(l.out, Tag::any),
                                  {l.stride, l.stride}, {l.kh, l.kw}, {l.pad_h, l.pad_w}, {pr_h, pr_w});
    // A bias per channel and a ReLU after the pool, as post-ops (an average pool moved after its 1x1
    // convolution: models/engine.cpp).
    primitive_attr attr = Planning::attr();
    post_ops po;
    const memory::desc bias_md({1, l.out.c, 1, 1}, kF32, Tag::abcd);
    if (!l.bias.empty()) po.append_binary(algorithm::binary_add, bias_md);
    if (l.relu) po.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(po);
    finish<pooling_forward>(p, step, pooling_forward::primitive_desc(d, attr, p.net.eng), "pool", dst);
    step.args.push_back(p.src(DNNL_ARG_SRC, x));
    if (!l.bias.empty())
      step.args.push_back(owned_bias(p, l, bias_md, DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1));
  }
  return step;
}

// Storage for the pooled buffers, then every argument's memory object.
void bind(Planning& p) {
  Plan& plan = p.plan;
  p.pool.cap.push_back(p.scratch);  // the scratchpad, last
  for (size_t b = 0; b < p.pool.cap.size(); ++b) {
    plan.storage.emplace_back(p.pool.cap[b] + 64);  // zero-filled: the pages are touched now, not in run()
    auto at = reinterpret_cast<uintptr_t>(plan.storage.back().data());
    plan.base.push_back(reinterpret_cast<void*>((at + 63) & ~uintptr_t{63}));
    plan.bytes += static_cast<int64_t>(p.pool.cap[b]);
  }
  for (auto& s : plan.steps)
    for (auto& a : s.args) {
      if (a.where == Arg::kOwned)
        s.bound[a.id] = a.owned;
      else if (a.where == Arg::kBuffer)
        s.bound[a.id] = memory(a.md, p.net.eng, plan.base[static_cast<size_t>(a.index)]);
      else if (a.where == Arg::kScratch)
        s.bound[a.id] = memory(a.md, p.net.eng, plan.base.back());
      else
        s.bound[a.id] = memory(a.md, p.net.eng, DNNL_MEMORY_NONE);
    }
}

// Value v into the caller's NCHW array of every output that asks for it, right after v is made (so that its
// buffer is free for reuse once its last reader has run, not held to the end).
void write_outputs(Planning& p, int v, const std::vector<int>& outputs) {
  for (size_t k = 0; k < outputs.size(); ++k) {
    if (outputs[k] != v) continue;
    const memory::desc want = p.desc(p.net.shape(v), Tag::nchw);
    Step s;
    const reorder::primitive_desc pd(p.net.eng, p.md[static_cast<size_t>(v)], p.net.eng, want,
                                     Planning::attr());
    s.prim = reorder(pd);
    s.args = {p.src(DNNL_ARG_FROM, v), arg(DNNL_ARG_TO, Arg::kOutput, static_cast<int>(k), want)};
    p.scratchpad(s, pd.scratchpad_desc());
    p.plan.steps.push_back(std::move(s));
  }
}

}  // namespace

Plan Net::Impl::make_plan(int64_t n, const std::vector<int>& outputs) {
  const size_t nv = layers.size() + 1;
  // The last layer that reads each value; the layers the outputs need.
  std::vector<int> last(nv, -1);
  for (size_t i = 0; i < layers.size(); ++i)
    for (int v : layers[i].in) last[static_cast<size_t>(v)] = static_cast<int>(i);
  std::vector<bool> needed(nv, false);
  for (int o : outputs) {
    shape(o);
    needed[static_cast<size_t>(o)] = true;
  }
  for (size_t v = nv - 1; v > 0; --v)
    if (needed[v])
      for (int u : layers[v - 1].in) needed[static_cast<size_t>(u)] = true;

  // Activations in the channel-blocked layout of oneDNN's kernels for this CPU (docs/PERFORMANCE.md,
  // "Inference engine": faster than letting each kernel choose, which costs reorders between layers).
  Planning p{*this, n, activation_block() == 16 ? Tag::nChw16c : Tag::nChw8c, {}, {}, {}, {}, {}};
  p.md.resize(nv);
  p.buf.assign(nv, -1);
  p.md[0] = p.desc(input, Tag::nchw);
  write_outputs(p, 0, outputs);
  for (size_t i = 0; i < layers.size(); ++i) {
    const Layer& l = layers[i];
    const size_t v = i + 1;
    if (!needed[v]) continue;
    std::vector<int> temps;
    memory::desc dst;
    Step step;
    try {
      step = l.kind == Kind::kConv ? conv_step(p, l, l.in[0], temps, dst) : other_step(p, l, l.in[0], dst);
    } catch (const dnnl::error& e) {
      throw Unsupported("oneDNN cannot plan layer " + std::to_string(i) + ": " + e.what());
    }
    p.md[v] = dst;
    p.buf[v] = p.pool.take(dst.get_size());  // before the inputs are given back: never in place
    step.args.push_back(arg(DNNL_ARG_DST, Arg::kBuffer, p.buf[v], dst));
    p.plan.steps.push_back(std::move(step));
    write_outputs(p, static_cast<int>(v), outputs);
    if (last[v] < 0) p.pool.give(p.buf[v]);  // an output no later layer reads
    for (int t : temps) p.pool.give(t);
    for (int u : l.in)
      if (last[static_cast<size_t>(u)] == static_cast<int>(i) && p.buf[static_cast<size_t>(u)] >= 0) {
        p.pool.give(p.buf[static_cast<size_t>(u)]);
        last[static_cast<size_t>(u)] = -2;  // given back once, even when this layer reads it twice
      }
  }
  if (kernels.empty()) kernels = p.used;
  bind(p);
  return std::move(p.plan);
}

}  // namespace oess::runtime

// A small ONNX graph writer (onnx_graph.h).
#include "onnx_graph.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include "oess/core/error.h"

namespace oess::exporting::onnxw {

Attr attr_int(const std::string& name, int64_t v) { return {name, Attr::Kind::kInt, v, 0.0f, {}}; }
Attr attr_float(const std::string& name, float v) { return {name, Attr::Kind::kFloat, 0, v, {}}; }
Attr attr_ints(const std::string& name, std::vector<int64_t> v) {
  return {name, Attr::Kind::kInts, 0, 0.0f, std::move(v)};
}

std::string Graph::unique(const std::string& name) {
  std::string n = name;
  for (int k = 1; used_.count(n); ++k) n = fmt::format("{}_{}", name, k);
  used_.insert(n);
  return n;
}

std::string Graph::constant(const std::string& name, const torch::Tensor& t) {
  const bool integer = !t.is_floating_point();
  const torch::Tensor c = t.detach().to(torch::kCPU, integer ? torch::kInt64 : torch::kFloat32).contiguous();
  auto* init = g_->add_initializer();
  const std::string n = unique(name);
  init->set_name(n);
  init->set_data_type(integer ? onnx::TensorProto::INT64 : onnx::TensorProto::FLOAT);
  for (int64_t d : c.sizes()) init->add_dims(d);
  // raw_data is little-endian, as this machine (x86-64, aarch64) stores the values.
  init->set_raw_data(std::string(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size()));
  if (!integer) parameters_ += c.numel();
  return n;
}

std::string Graph::op(const std::string& type, const std::vector<std::string>& inputs, const std::string& out,
                      const std::vector<Attr>& attrs) {
  auto* node = g_->add_node();
  const std::string name = unique(out);
  node->set_op_type(type);
  node->set_name(name);
  for (const auto& in : inputs) node->add_input(in);
  node->add_output(name);
  for (const auto& a : attrs) {
    auto* p = node->add_attribute();
    p->set_name(a.name);
    switch (a.kind) {
      case Attr::Kind::kInt:
        p->set_type(onnx::AttributeProto::INT);
        p->set_i(a.i);
        break;
      case Attr::Kind::kFloat:
        p->set_type(onnx::AttributeProto::FLOAT);
        p->set_f(a.f);
        break;
      case Attr::Kind::kInts:
        p->set_type(onnx::AttributeProto::INTS);
        for (int64_t v : a.ints) p->add_ints(v);
        break;
    }
  }
  return name;
}

namespace {
void describe(onnx::ValueInfoProto* v, const std::string& name, const std::vector<int64_t>& dims,
              const std::string& doc) {
  v->set_name(name);
  v->set_doc_string(doc);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = tt->mutable_shape();
  for (int64_t d : dims) {
    if (d < 0)
      shape->add_dim()->set_dim_param("N");
    else
      shape->add_dim()->set_dim_value(d);
  }
}
}  // namespace

void Graph::input(const std::string& name, const std::vector<int64_t>& dims, const std::string& doc) {
  used_.insert(name);
  describe(g_->add_input(), name, dims, doc);
}

void Graph::output(const std::string& name, const std::vector<int64_t>& dims, const std::string& doc) {
  describe(g_->add_output(), name, dims, doc);
}

}  // namespace oess::exporting::onnxw

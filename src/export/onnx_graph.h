#pragma once
// src/export/onnx_graph.h — a small writer of ONNX graphs on top of ONNX's protobuf classes (Debian's
// libonnx-dev): initializers from tensors, nodes with attributes, unique value names. Private to the export
// area (export/onnx.h is the public side).
#include <onnx/onnx_pb.h>
#include <torch/types.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace oess::exporting::onnxw {

// One node attribute: an int, a float or a list of ints.
struct Attr {
  std::string name;
  enum class Kind { kInt, kFloat, kInts } kind;
  int64_t i = 0;
  float f = 0;
  std::vector<int64_t> ints;
};
Attr attr_int(const std::string& name, int64_t v);
Attr attr_float(const std::string& name, float v);
Attr attr_ints(const std::string& name, std::vector<int64_t> v);

class Graph {
 public:
  explicit Graph(onnx::GraphProto* g) : g_(g) {}
  // A float32 (any floating tensor is cast) or int64 initializer; returns its name (made unique).
  std::string constant(const std::string& name, const torch::Tensor& t);
  // A node; its one output is named `out` (made unique); returns that name.
  std::string op(const std::string& type, const std::vector<std::string>& inputs, const std::string& out,
                 const std::vector<Attr>& attrs = {});
  // Declares a graph input or output: float32 with the given dims; a negative dim is the dynamic "N".
  void input(const std::string& name, const std::vector<int64_t>& dims, const std::string& doc);
  void output(const std::string& name, const std::vector<int64_t>& dims, const std::string& doc);
  int64_t parameters() const { return parameters_; }

 private:
  std::string unique(const std::string& name);
  onnx::GraphProto* g_;
  std::set<std::string> used_;
  int64_t parameters_ = 0;
};

}  // namespace oess::exporting::onnxw

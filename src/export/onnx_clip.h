#pragma once
// src/export/onnx_clip.h — the frame-level classifier's clip rule (data.clip.aggregate, train/classifier.h)
// as ONNX nodes, for a graph whose batch is one clip's frames. Private to the export area.
#include <cstdint>
#include <string>

#include "onnx_graph.h"

namespace oess::exporting::onnxw {

// A member's frame probabilities `probs` [N, K] -> the clip's [1, K]:
//   mean_probability  ReduceMean over the frames;
//   max_grade         the frame with the largest key = argmax class * K + sum_k k p_k (ArgMax over the
//                     frames keeps the first of equal keys), its row by Gather.
// `prefix` names the nodes. errors: UsageError for another rule.
std::string aggregate_frames(Graph& g, const std::string& probs, const std::string& rule, int64_t k,
                             const std::string& prefix);

// The metadata_props "clip" value: what the input batch is and how a clip's probabilities are made.
std::string clip_metadata(const std::string& rule, const std::string& clip_text);

}  // namespace oess::exporting::onnxw

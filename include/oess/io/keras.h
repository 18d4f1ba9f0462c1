#pragma once
// oess/io/keras.h — reading Keras models' weights as Keras names them, from the two forms they travel in.
//
// read_tfjs(path)
//   A TensorFlow.js Layers model: a folder (model.json, else model.min.js), a model.json, or a UMD bundle
//   (model.min.js exporting {modelTopology, weightsManifest}, each weight group's shards as files
//   `PATH`, `PATH.min.js` or `PATH.js`, the .js ones exporting one base64 string of the shard's bytes — the
//   form nsfwjs ships). Weights are dequantised exactly as TensorFlow.js does: uint8 / uint16 as
//   float32(q * scale + min) computed in double precision; float16 as IEEE half; plain float32 as stored.
// read_keras_h5(path)
//   An HDF5 file Keras wrote: `save_weights` / Keras Applications downloads (root attribute layer_names,
//   each layer group's weight_names) or a whole `model.save(...h5)` (the same under model_weights/, and
//   the topology in the root attribute model_config).
//
// Both give weights named LAYER/WEIGHT ("conv2d_1/kernel", "batch_normalization_1/moving_mean"): the layer's
// name, then the last part of the weight's own name without ":0". Values are float32 [Keras layout: conv
// kernels HWIO, dense kernels [in, out]].
//
// errors (oess::Error naming the file and, where one is at fault, the weight or shard): missing files, a
// manifest naming a missing shard, shards shorter than their weights (truncated), an unknown dtype or
// quantisation dtype, a weight named twice, not an HDF5 file, no layer_names, a dataset that is not
// numeric.
#include <torch/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace oess::io {

struct KerasModel {
  std::string format;  // "tfjs" | "keras-h5"
  std::string path;    // the file read (a folder given for tfjs: its model.json / model.min.js)
  // Every file read, with its SHA-256: the topology file first, then the weight shards.
  std::vector<std::pair<std::string, std::string>> files;
  std::vector<std::pair<std::string, torch::Tensor>> weights;
  // The Keras model config ({class_name, config: {layers: [...]}}), or null when the file has none (weights
  // only). Layer order and inbound_nodes are Keras's.
  nlohmann::json topology;
  std::string quantisation =
      "none";                 // none | uint8 | uint16 | float16 (the widest spread if mixed: "uint8+none")
  std::string keras_version;  // when recorded

  // The layer list of `topology` (empty without one).
  const nlohmann::json& layers() const;
};

KerasModel read_tfjs(const std::string& path);
KerasModel read_keras_h5(const std::string& path);

}  // namespace oess::io

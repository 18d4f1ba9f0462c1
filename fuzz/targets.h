#pragma once
// The entry points each libFuzzer target drives, shared with the regression test
// (tests/unit/test_fuzz_regressions.cpp), which replays the seed corpus and every saved crash on the normal
// build. Each takes a file holding the input; oess::Error is the designed outcome for bad input.
#include <filesystem>
#include <string>

#include "oess/core/atomic_file.h"

#include "oess/config/config.h"
#include "oess/core/error.h"
#include "oess/data/image.h"
#include "oess/data/manifest.h"
#include "oess/data/split.h"
#include "oess/experiment/chain.h"
#include "oess/export/model.h"
#include "oess/io/js_literal.h"
#include "oess/io/keras.h"
#include "oess/io/weights.h"
#include "oess/models/keras_import.h"

namespace oess::fuzz {

inline void swallow_oess_errors(void (*fn)(const std::string&), const std::string& file) {
  try {
    fn(file);
  } catch (const oess::Error&) {
  }
}

inline void manifest(const std::string& file) {
  const auto m = oess::data::read_manifest(file, /*check_files=*/false);
  for (const auto& method : oess::config::split_methods().names) {
    oess::data::SplitOptions o;
    o.method = oess::config::parse<oess::config::SplitMethod>(method);
    o.val_per_class = o.test_per_class = 1;
    o.allow_patient_overlap = true;
    try {
      (void)oess::data::make_split(m, o).counts(m);
    } catch (const oess::Error&) {
    }
  }
}

inline void config(const std::string& file) {
  const auto c = oess::config::load_config(file);
  (void)oess::config::parse_config(c.yaml(), "resolved.yaml");  // the resolved form must load back
  (void)oess::settings::settings_from(c);
}

inline void weights(const std::string& file) { (void)oess::io::read_weights(file); }

inline void image(const std::string& file) {
  const cv::Mat bgr = oess::data::decode_image(file);
  (void)oess::data::apply_crop(bgr, oess::data::parse_crop("colour_box"));
}

inline void model(const std::string& file) { (void)oess::exporting::read_model(file); }

// Both architectures' importers on whatever a Keras reader returned (topology checks, shapes, mapping).
inline void import_both(const oess::io::KerasModel& m) {
  for (auto arch : {oess::models::Arch::kInceptionV3, oess::models::Arch::kVgg16}) {
    oess::models::KerasImportOptions o;
    o.arch = arch;
    o.imagenet = m.topology.is_null() ? "unknown" : "frozen";
    try {
      (void)oess::models::import_keras(m, o);
    } catch (const oess::Error&) {
    }
  }
}

// A TensorFlow.js model.json (or UMD bundle text): the JavaScript-literal reader, the weights manifest
// against a fixed 4 KiB shard "group1-shard1of1.bin" beside it, dequantisation, then the importers.
inline void tfjs(const std::string& file) {
  const std::string text = oess::read_file(file);
  try {
    (void)oess::io::umd_export(text, file);
  } catch (const oess::Error&) {
  }
  const std::string dir = file + ".d";
  std::filesystem::create_directories(dir);
  std::string shard(4096, '\0');
  for (size_t i = 0; i < shard.size(); ++i) shard[i] = static_cast<char>((i * 37 + 11) & 0xFF);
  oess::write_file_atomic(dir + "/group1-shard1of1.bin", shard);
  const bool js = text.find("exports=") != std::string::npos;
  const std::string model = dir + (js ? "/model.min.js" : "/model.json");
  oess::write_file_atomic(model, text);
  import_both(oess::io::read_tfjs(model));
}

// A Keras .h5 file: libhdf5 through oess's reader, then the importers.
inline void h5(const std::string& file) { import_both(oess::io::read_keras_h5(file)); }

}  // namespace oess::fuzz

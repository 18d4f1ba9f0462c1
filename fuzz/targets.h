#pragma once
// The entry points each libFuzzer target drives, shared with the regression test
// (tests/unit/test_fuzz_regressions.cpp), which replays the seed corpus and every saved crash on the normal
// build. Each takes a file holding the input; oess::Error is the designed outcome for bad input.
#include <string>

#include "oess/config/config.h"
#include "oess/core/error.h"
#include "oess/data/image.h"
#include "oess/data/manifest.h"
#include "oess/data/split.h"
#include "oess/experiment/chain.h"
#include "oess/export/model.h"
#include "oess/io/weights.h"

namespace oess::fuzz {

inline void swallow_oess_errors(void (*fn)(const std::string&), const std::string& file) {
  try {
    fn(file);
  } catch (const oess::Error&) {
  }
}

inline void manifest(const std::string& file) {
  const auto m = oess::data::read_manifest(file, /*check_files=*/false);
  for (const char* method : {"per_class", "stratified", "grouped", "column"}) {
    oess::data::SplitOptions o;
    o.method = method;
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
  (void)oess::experiment::settings_from(c);
}

inline void weights(const std::string& file) { (void)oess::io::read_weights(file); }

inline void image(const std::string& file) {
  const cv::Mat bgr = oess::data::decode_image(file);
  (void)oess::data::apply_crop(bgr, oess::data::parse_crop("colour_box"));
}

inline void model(const std::string& file) { (void)oess::exporting::read_model(file); }

}  // namespace oess::fuzz

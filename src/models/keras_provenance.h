#pragma once
// src/models/keras_provenance.h — the metadata an imported Keras file carries (io::kWeightsMetaKey): which
// taps hold ImageNet weights (a tap does when every imported layer up to it does), a one-line description,
// the source files and their SHA-256. Private to the models area.
#include <map>
#include <string>

#include "oess/models/keras_import.h"

namespace oess::models {

// imagenet: per torchvision prefix, whether its weights are known to be ImageNet's. Fills out.imagenet_taps,
// out.other_taps and out.meta_json.
void describe_provenance(const io::KerasModel& m, const KerasImportOptions& o,
                         const std::map<std::string, bool>& imagenet, KerasImport& out);

}  // namespace oess::models

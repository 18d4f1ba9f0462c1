#pragma once
// Internal: the concrete backbones behind make_backbone().
#include <memory>

#include "oess/models/backbone.h"

namespace oess::models::detail {
std::unique_ptr<Backbone> make_vgg16(const BackboneOptions& options);
std::unique_ptr<Backbone> make_inception_v3(const BackboneOptions& options);
}  // namespace oess::models::detail

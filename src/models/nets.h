#pragma once
// Internal: the concrete backbones behind make_backbone().
#include <memory>

#include "oess/models/backbone.h"

namespace oess::models::detail {
std::unique_ptr<Backbone> make_vgg16(const BackboneOptions& options);
std::unique_ptr<Backbone> make_inception_v3(const BackboneOptions& options);
// torchvision's _transform_input: ImageNet mean/std normalised input -> (x - 0.5) / 0.5 per channel.
torch::Tensor inception_transform_input(const torch::Tensor& x);
}  // namespace oess::models::detail

// Precompiled for liboess and the torch tests: <torch/torch.h> costs ~25 s per translation unit otherwise.
#pragma once
#include <torch/torch.h>

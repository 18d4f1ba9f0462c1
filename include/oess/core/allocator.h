#pragma once
// oess/core/allocator.h — tune_allocator(): makes glibc keep large freed blocks instead of returning them to
// the kernel after every batch (each forward pass otherwise page-faults its activations afresh):
// M_MMAP_THRESHOLD 256 MiB, M_TRIM_THRESHOLD 1 GiB. Process-wide, idempotent; a no-op off glibc.
namespace oess {
void tune_allocator();
}  // namespace oess

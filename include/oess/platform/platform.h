#pragma once
// oess/platform/platform.h — the machine oess computes on, as the process finds it at run time: the CPU
// (model, vector ISA), the BLAS that LibTorch resolved (Debian's libblas.so.3 alternative: the reference
// netlib BLAS or OpenBLAS), the ISA oneDNN dispatches to, and the BLAS's thread count.
//
// Torch-free: the BLAS and oneDNN are asked through their C entry points (dlsym on the symbols already
// loaded with LibTorch; the BLAS is the file that defines the sgemm_ LibTorch calls), the CPU through
// /proc/cpuinfo. Where
// something cannot be found, the field is empty (never an exception): reporting must not stop a run.
//
// Threads (docs/PERFORMANCE.md, "BLAS"): oess sets the BLAS's own thread count per kind of work through
// set_blas_threads — one per classifier fit while fits run in parallel (two BLAS pools on two cores make
// every fit several times slower), all of the work's threads for one large computation.
#include <string>
#include <utility>
#include <vector>

namespace oess::platform {

struct Cpu {
  std::string model;             // /proc/cpuinfo "model name", e.g. "AMD EPYC 9R14"
  std::vector<std::string> isa;  // the vector extensions present, of: sse4_2 avx avx2 fma avx512f avx512_bf16
  int cores = 0;                 // logical CPUs this process may run on
  std::string isa_text() const;  // "avx2 fma avx512f" or "none of ..."
};
Cpu cpu();

struct Blas {
  std::string vendor;     // "OpenBLAS", "BLIS", "MKL", "reference" (netlib), "unknown", "" (no BLAS loaded)
  std::string config;     // the library's own description, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH ... SkylakeX"
  std::string threading;  // OpenBLAS: "openmp", "pthread" or "serial"; otherwise ""
  std::string library;    // the file whose sgemm_ LibTorch calls (dladdr), symlinks resolved
  int threads = 1;        // the BLAS's thread count now (1 where it has no thread setting)
  bool reference() const { return vendor == "reference"; }
};
Blas blas();

// The ISA oneDNN (LibTorch's convolution backend) dispatches to on this CPU, in oneDNN's words
// ("avx512_core_bf16", "avx2", ...); "" when oneDNN is not loaded or too old to say.
std::string onednn_isa();

// Whether convolutions run faster with activations in channels_last (NHWC) than in NCHW on this CPU, by the
// rule bench/bench_layout.py justifies (docs/PERFORMANCE.md, "Memory layout"): yes when oneDNN dispatches AVX
// or wider (AVX, AVX2, AVX-512, AMX: 0.62-0.83 of NCHW's time), no on SSE4.1 (1.16) or without oneDNN.
bool channels_last_pays();

// Sets the BLAS's own thread count (n >= 1) and returns the one before; where the BLAS has no such setting
// (the reference BLAS: single-threaded) nothing happens and 1 is returned. With OpenBLAS's OpenMP build this
// also sets the calling thread's OpenMP count, which is LibTorch's: callers set both to the same value, or
// LibTorch's after (as train::OneTorchThread restores them), never the BLAS's alone afterwards.
int set_blas_threads(int n);

// What this process computes with, as (key, value) pairs in a fixed order: cpu, cpu_isa, onednn_isa, blas,
// blas_library, blas_threading, memory_layout. `oess --version`, every run's log.txt and metrics.json "build"
// print them. Nothing in them depends on the process's CPU affinity (a SLURM job and a local run of one
// config on one machine write the same metrics.json).
std::vector<std::pair<std::string, std::string>> facts();

// The warning a run on the reference BLAS gets (code "reference_blas"): what is slow and the command that
// fixes it; "" when the BLAS is not the reference one.
std::string reference_blas_warning(const Blas& b);

}  // namespace oess::platform

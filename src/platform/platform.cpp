#include "oess/platform/platform.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <limits.h>
#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

namespace oess::platform {
namespace {

// A C entry point of a library already loaded into the process (LibTorch's BLAS, its oneDNN), or null.
template <typename F>
F symbol(const char* name) {
  return reinterpret_cast<F>(::dlsym(RTLD_DEFAULT, name));
}

std::string basename_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string folder_name(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return "";
  return basename_of(path.substr(0, slash));
}

// The file whose sgemm_ this process calls: the symbol as the dynamic loader resolves it for LibTorch, the
// file with the symlinks of Debian's libblas.so.3 alternative resolved (e.g. /usr/lib/x86_64-linux-gnu/blas/
// libblas.so.3.11.0 for the reference BLAS). Another BLAS loaded beside it (OpenBLAS's LAPACK, say) does not
// count: LibTorch's matrix products do not go there.
std::string blas_file() {
  const auto sgemm = symbol<void*>("sgemm_");
  Dl_info info;
  if (sgemm == nullptr || ::dladdr(sgemm, &info) == 0 || info.dli_fname == nullptr) return "";
  char resolved[PATH_MAX];
  return ::realpath(info.dli_fname, resolved) != nullptr ? resolved : info.dli_fname;
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

std::string Cpu::isa_text() const {
  if (isa.empty()) return "none of sse4_2 avx avx2 fma avx512f";
  std::string out;
  for (const auto& x : isa) out += (out.empty() ? "" : " ") + x;
  return out;
}

Cpu cpu() {
  Cpu c;
  std::ifstream info("/proc/cpuinfo");
  std::string line, flags;
  while (std::getline(info, line) && (c.model.empty() || flags.empty())) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    key.erase(key.find_last_not_of(" \t") + 1);
    const std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (key == "model name" && c.model.empty()) c.model = value;
    if (key == "flags" && flags.empty()) flags = " " + value + " ";
  }
  for (const char* x : {"sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16"})
    if (flags.find(fmt::format(" {} ", x)) != std::string::npos) c.isa.push_back(x);
  cpu_set_t set;
  c.cores = ::sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 0;
  return c;
}

Blas blas() {
  Blas b;
  b.library = blas_file();
  if (b.library.empty()) return b;
  // Debian installs each BLAS in a folder of its own behind the libblas.so.3 alternative: blas/ (the
  // reference, netlib), openblas-{openmp,pthread,serial}/, blis-*/, atlas/.
  const std::string folder = folder_name(b.library), name = basename_of(b.library);
  if (starts_with(folder, "openblas") || starts_with(name, "libopenblas")) {
    b.vendor = "OpenBLAS";
    if (const auto config = symbol<char* (*)()>("openblas_get_config")) b.config = config();
    if (const auto parallel = symbol<int (*)()>("openblas_get_parallel")) {
      const int p = parallel();
      b.threading = p == 2 ? "openmp" : p == 1 ? "pthread" : "serial";
    }
    if (const auto get = symbol<int (*)()>("openblas_get_num_threads")) b.threads = get();
  } else if (starts_with(folder, "blis") || starts_with(name, "libblis")) {
    b.vendor = "BLIS";
    if (const auto version = symbol<const char* (*)()>("bli_info_get_version_str"))
      b.config = std::string("BLIS ") + version();
    if (const auto get = symbol<long (*)()>("bli_thread_get_num_threads"))
      b.threads = static_cast<int>(get());
  } else if (starts_with(name, "libmkl")) {
    b.vendor = "MKL";
  } else if (folder == "blas") {
    b.vendor = "reference";
  } else {
    b.vendor = folder == "atlas" ? "ATLAS" : "unknown";
  }
  return b;
}

std::string onednn_isa() {
  const auto effective = symbol<int (*)()>("dnnl_get_effective_cpu_isa");
  if (!effective) return "";
  // dnnl_cpu_isa_t (oneDNN 2.x, dnnl_types.h): each ISA's bits include those of the ISAs below it.
  switch (effective()) {
    case 0x1:
      return "sse41";
    case 0x3:
      return "avx";
    case 0x7:
      return "avx2";
    case 0x407:
      return "avx2_vnni";
    case 0x27:
      return "avx512_core";
    case 0x67:
      return "avx512_core_vnni";
    case 0xe7:
      return "avx512_core_bf16";
    case 0x3e7:
      return "avx512_core_amx";
    default:
      return fmt::format("unknown ({:#x})", effective());
  }
}

bool channels_last_pays() {
  const std::string isa = onednn_isa();
  return starts_with(isa, "avx") || isa.find("amx") != std::string::npos;
}

int set_blas_threads(int n) {
  n = std::max(1, n);
  if (const auto get = symbol<int (*)()>("openblas_get_num_threads")) {
    const int before = get();
    if (before != n)
      if (const auto set = symbol<void (*)(int)>("openblas_set_num_threads")) set(n);
    return before;
  }
  if (const auto get = symbol<long (*)()>("bli_thread_get_num_threads")) {
    const int before = static_cast<int>(get());
    if (const auto set = symbol<void (*)(long)>("bli_thread_set_num_threads")) set(n);
    return std::max(1, before);
  }
  return 1;
}

std::vector<std::pair<std::string, std::string>> facts() {
  const Cpu c = cpu();
  const Blas b = blas();
  const std::string isa = onednn_isa();
  return {{"cpu", c.model.empty() ? "unknown" : c.model},
          {"cpu_isa", c.isa_text()},
          {"onednn_isa", isa.empty() ? "not loaded" : isa},
          {"blas", b.vendor.empty()   ? "none loaded"
                   : b.config.empty() ? b.vendor
                                      : b.config},
          {"blas_library", b.library.empty() ? "not found" : b.library},
          {"blas_threading", b.threading.empty() ? "n/a" : b.threading},
          {"memory_layout", channels_last_pays() ? "channels_last" : "nchw"}};
}

std::string reference_blas_warning(const Blas& b) {
  if (!b.reference()) return "";
  return fmt::format(
      "LibTorch runs on the reference (netlib) BLAS ({}): the classifiers' training and every matrix product "
      "outside oneDNN run several times slower than with an optimised BLAS. Fix: `sudo apt-get install "
      "libopenblas0-openmp` (bash tools/setup.sh does it), or pick it with `sudo update-alternatives "
      "--config "
      "libblas.so.3-x86_64-linux-gnu`; oess sets its thread count itself (docs/PERFORMANCE.md, \"BLAS\")",
      b.library);
}

}  // namespace oess::platform

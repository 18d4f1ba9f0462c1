#pragma once
// oess/core/random.h — a small seeded generator whose streams are the same on every platform and compiler
// (std::shuffle and std::uniform_int_distribution are not specified bit for bit, so splits would differ
// between libstdc++ and libc++). SplitMix64 state, Lemire's unbiased bounded integers.
#include <cstdint>
#include <utility>
#include <vector>

namespace oess {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n). requires: n > 0.
  uint64_t below(uint64_t n) {
    unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(next()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  template <class T>
  void shuffle(std::vector<T>& v) {  // Fisher-Yates
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[static_cast<size_t>(below(i))]);
  }

 private:
  uint64_t state_;
};

// Derives an independent seed from a base seed and up to three identifiers (sample, copy, member...).
inline uint64_t mix_seed(uint64_t seed, uint64_t a, uint64_t b = 0, uint64_t c = 0) {
  Rng r(seed ^ 0x6A09E667F3BCC909ull);
  uint64_t h = r.next();
  for (uint64_t v : {a, b, c}) h = Rng(h ^ (v * 0x9E3779B97F4A7C15ull)).next();
  return h;
}

}  // namespace oess

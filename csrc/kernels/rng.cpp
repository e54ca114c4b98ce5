// rng.cpp — counter-based random numbers (Philox4x32-10, Salmon et al., SC'11).
//
// Value i of a draw uses the 64 bits of half (i % 2) of Philox block (offset + i / 2)
// under key = seed, so a draw is a pure function of (seed, offset, i): reproducible,
// and identical for any number of threads. Normals use Box-Muller on one block per pair.
#include <cmath>

#include "cpu/parallel.h"
#include "kernels/kernel_api.h"

namespace gradcore::kernels {
namespace {

struct Block { uint32_t w[4]; };

inline Block philox(uint64_t counter, uint64_t key) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int r = 0; r < 10; ++r) {
    uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0;
    uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
    uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
    uint32_t n1 = static_cast<uint32_t>(p1);
    uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    uint32_t n3 = static_cast<uint32_t>(p0);
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Block{{c0, c1, c2, c3}};
}

// Uniform in [0, 1) from 64 random bits, with the resolution of T.
template <class T> T to_unit(uint64_t bits);
template <> float to_unit<float>(uint64_t bits) { return static_cast<float>(bits >> 40) * (1.0f / 16777216.0f); }
template <> double to_unit<double>(uint64_t bits) { return static_cast<double>(bits >> 11) * (1.0 / 9007199254740992.0); }

inline uint64_t half(const Block& b, int h) { return (static_cast<uint64_t>(b.w[2 * h]) << 32) | b.w[2 * h + 1]; }

constexpr int64_t kGrain = 1 << 14;

}  // namespace

int64_t rng_blocks(int64_t n) { return (n + 1) / 2; }

template <class T>
void rng_uniform(T* y, int64_t n, uint64_t seed, uint64_t offset, T low, T high) {
  const T span = high - low;
  cpu::parallel_range(rng_blocks(n), kGrain, [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j) {
      Block blk = philox(offset + j, seed);
      for (int h = 0; h < 2 && 2 * j + h < n; ++h) {
        T u = low + span * to_unit<T>(half(blk, h));
        y[2 * j + h] = u < high ? u : low;  // rounding can reach `high`: keep [low, high)
      }
    }
  });
}

template <class T>
void rng_normal(T* y, int64_t n, uint64_t seed, uint64_t offset, T mean, T std) {
  cpu::parallel_range(rng_blocks(n), kGrain, [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j) {
      Block blk = philox(offset + j, seed);
      double u1 = 1.0 - to_unit<double>(half(blk, 0));  // (0, 1]: log is finite
      double u2 = to_unit<double>(half(blk, 1));
      double r = std::sqrt(-2.0 * std::log(u1));
      double z0 = r * std::cos(2.0 * M_PI * u2), z1 = r * std::sin(2.0 * M_PI * u2);
      y[2 * j] = static_cast<T>(mean + std * z0);
      if (2 * j + 1 < n) y[2 * j + 1] = static_cast<T>(mean + std * z1);
    }
  });
}

template void rng_uniform<float>(float*, int64_t, uint64_t, uint64_t, float, float);
template void rng_uniform<double>(double*, int64_t, uint64_t, uint64_t, double, double);
template void rng_normal<float>(float*, int64_t, uint64_t, uint64_t, float, float);
template void rng_normal<double>(double*, int64_t, uint64_t, uint64_t, double, double);

}  // namespace gradcore::kernels

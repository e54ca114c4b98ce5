// checksum.cpp — a fast 64-bit hash of a byte range (see kernel_api.h).
//
// Four independent multiply-xorshift lanes over 8-byte words (so the loop is not one long
// dependency chain), folded with the length at the end. Bytes are read with memcpy: any
// alignment is fine.
#include <cstring>

#include "kernels/kernel_api.h"

namespace gradcore::kernels {
namespace {
constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
inline uint64_t mix(uint64_t h, uint64_t w) {
  h ^= w;
  h *= kMul;
  return h ^ (h >> 29);
}
}  // namespace

uint64_t checksum(const void* p, size_t nbytes) {
  const unsigned char* b = static_cast<const unsigned char*>(p);
  uint64_t h[4] = {0x243F6A8885A308D3ull, 0x13198A2E03707344ull, 0xA4093822299F31D0ull, 0x082EFA98EC4E6C89ull};
  size_t i = 0;
  for (; i + 32 <= nbytes; i += 32) {
    uint64_t w[4];
    std::memcpy(w, b + i, 32);
    for (int k = 0; k < 4; ++k) h[k] = mix(h[k], w[k]);
  }
  for (int k = 0; i + 8 <= nbytes; i += 8, ++k) {
    uint64_t w;
    std::memcpy(&w, b + i, 8);
    h[k] = mix(h[k], w);
  }
  uint64_t tail = 0;
  if (i < nbytes) std::memcpy(&tail, b + i, nbytes - i);
  uint64_t r = mix(h[0], tail) ^ (mix(h[1], nbytes) * 3) ^ (h[2] * 5) ^ (h[3] * 7);
  return mix(r, r >> 17);
}

}  // namespace gradcore::kernels

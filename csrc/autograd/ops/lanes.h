// lanes.h — a contiguous tensor seen as lanes along one dim, and the threaded loops over
// them shared by the ops that reduce, scan, sort or select along a dim (sort.cpp,
// reduce.cpp).
//
// A contiguous tensor of shape s, taken along dim d, is (outer, n, inner) with outer the
// product of s[:d], n = s[d] and inner the product of s[d+1:]. Lane l (of outer * inner)
// is the slice along d at outer index l / inner and inner index l % inner: its elements sit
// at base(l) + i * inner, i in [0, n). A 0-dim tensor is one lane of one element.
//
//   Lanes L = lanes_of(x->shape, d);
//   for_lanes(L, [&](int64_t l0, int64_t l1) { for (l = l0; l < l1; ++l) sort lane l; });
//   for_lane_blocks(L, [&](int64_t o, int64_t j0, int64_t j1) { scan lanes j0..j1 of o together; });
//
// Threads split the lanes, never a lane, so every result is the same for any thread count,
// and a task that writes only its own lanes of an output never races another. lane_extreme
// is the one kernel-like loop shared by several ops (max/min along a dim, amin).
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "core/tensor.h"
#include "cpu/parallel.h"

namespace gradcore::ops {

struct Lanes {
  int64_t outer = 1, n = 1, inner = 1;
  int64_t count() const { return outer * inner; }
  int64_t base(int64_t lane) const { return (lane / inner) * n * inner + lane % inner; }
};

inline Lanes lanes_of(const Shape& s, int64_t d) {
  Lanes L;
  if (s.empty()) return L;
  for (int64_t i = 0; i < d; ++i) L.outer *= s[i];
  L.n = s[d];
  for (size_t i = static_cast<size_t>(d) + 1; i < s.size(); ++i) L.inner *= s[i];
  return L;
}

// f(l0, l1) on ranges of whole lanes, threaded (about 16K elements per task at least).
template <class F>
inline void for_lanes(const Lanes& L, F&& f) {
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(1, L.n));
  cpu::parallel_range(L.count(), grain, f);
}

// Lanes of one outer index are adjacent in memory when inner > 1 (element i of lanes j0..j1
// is one contiguous run), so streaming ops take them in blocks of kLaneBlock: f(o, j0, j1)
// handles lanes j0 <= j < j1 of outer index o, with j1 - j0 <= kLaneBlock.
constexpr int64_t kLaneBlock = 256;
template <class F>
inline void for_lane_blocks(const Lanes& L, F&& f) {
  if (L.count() == 0) return;
  const int64_t bs = std::min(L.inner, kLaneBlock);
  const int64_t nb = (L.inner + bs - 1) / bs;
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(1, L.n * bs));
  cpu::parallel_range(L.outer * nb, grain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t o = t / nb, j0 = (t % nb) * bs;
      f(o, j0, std::min(j0 + bs, L.inner));
    }
  });
}

// The extreme (Max: largest) of n >= 1 contiguous values, NaN when any is NaN: 32 running
// extremes and 32 NaN catchers, each a plain select (GCC vectorises them into min/max and
// compare instructions even at the SSE2 baseline; fewer leave the loop latency bound).
template <class T, bool Max>
inline T lane_extreme(const T* p, int64_t n) {
  constexpr int K = 32;
  auto pick = [](T v, T m) { return (Max ? m < v : v < m) ? v : m; };
  T m[K], bad[K];
  for (int k = 0; k < K; ++k) { m[k] = p[0]; bad[k] = p[0]; }
  int64_t i = 0;
  for (; i + K <= n; i += K)
    for (int k = 0; k < K; ++k) {
      const T v = p[i + k];
      m[k] = pick(v, m[k]);
      if constexpr (std::is_floating_point_v<T>) bad[k] = v != v ? v : bad[k];
    }
  for (; i < n; ++i) {
    m[0] = pick(p[i], m[0]);
    if constexpr (std::is_floating_point_v<T>) bad[0] = p[i] != p[i] ? p[i] : bad[0];
  }
  for (int k = 1; k < K; ++k) {
    m[0] = pick(m[k], m[0]);
    if constexpr (std::is_floating_point_v<T>) bad[0] = bad[k] != bad[k] ? bad[k] : bad[0];
  }
  if constexpr (std::is_floating_point_v<T>) {
    if (bad[0] != bad[0]) return bad[0];
  }
  return m[0];
}

}  // namespace gradcore::ops

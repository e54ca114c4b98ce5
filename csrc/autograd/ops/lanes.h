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
// and a task that writes only its own lanes of an output never races another.
#pragma once
#include <algorithm>
#include <cstdint>

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

}  // namespace gradcore::ops

// strided.h — the strided elementwise engine: N operands of any layout, one pass.
//
//   // out[i] = a[i] < b[i] over broadcast, strided operands (strides in BYTES; 0 broadcasts)
//   char* ptrs[3] = {out, a, b};
//   const int64_t* strides[3] = {so, sa, sb};
//   for_each_row<3>(ndim, shape, ptrs, strides, [](char** p, const int64_t* s, int64_t n) {
//     for (int64_t i = 0; i < n; ++i) ... p[k] + i * s[k] ...
//   });
//
// Dims are put in the order of operand 0's strides (largest first), size-1 dims dropped and
// neighbours merged where every operand steps through them as one, so a contiguous or
// permuted-dense operand set becomes a single long row. Rows are split over the thread pool
// in contiguous ranges (elementwise results do not depend on the split). The row callback
// gets each operand's pointer and its byte stride along the row; `contig_row` below turns a
// typed element function into a row callback with a unit-stride fast path the compiler
// vectorises. Baseline code only (templates over lambdas): never included by ISA units.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "cpu/parallel.h"
#include "kernels/kernel_api.h"

namespace gradcore::kernels {

constexpr int64_t kStridedGrain = 1 << 15;  // elements per task below which one thread runs

template <int N>
struct StridedLayout {
  int nd = 0;
  int64_t shape[kMaxDims];
  int64_t strides[N][kMaxDims];  // bytes, innermost last
  int64_t numel = 1;

  StridedLayout(int ndim, const int64_t* shape_in, const int64_t* const* strides_in) {
    int order[kMaxDims];
    int m = 0;
    for (int d = 0; d < ndim; ++d) {
      numel *= shape_in[d];
      if (shape_in[d] != 1) order[m++] = d;
    }
    // Outermost first by operand 0's |stride| (stable: ties keep the logical order).
    std::stable_sort(order, order + m, [&](int x, int y) {
      int64_t a = strides_in[0][x] < 0 ? -strides_in[0][x] : strides_in[0][x];
      int64_t b = strides_in[0][y] < 0 ? -strides_in[0][y] : strides_in[0][y];
      return a > b;
    });
    for (int j = 0; j < m; ++j) {
      const int d = order[j];
      bool merge = nd > 0;
      for (int k = 0; k < N && merge; ++k) merge = strides[k][nd - 1] == strides_in[k][d] * shape_in[d];
      if (merge) {
        shape[nd - 1] *= shape_in[d];
        for (int k = 0; k < N; ++k) strides[k][nd - 1] = strides_in[k][d];
      } else {
        shape[nd] = shape_in[d];
        for (int k = 0; k < N; ++k) strides[k][nd] = strides_in[k][d];
        ++nd;
      }
    }
  }
};

// Runs row(ptrs, inner_strides, n) over every innermost row of the iteration space.
template <int N, class Row>
void for_each_row(int ndim, const int64_t* shape, char* const* base, const int64_t* const* strides, Row&& row,
                  int64_t grain = kStridedGrain) {
  StridedLayout<N> L(ndim, shape, strides);
  if (L.numel == 0) return;
  if (L.nd == 0) {  // a single element
    char* p[N];
    int64_t s[N];
    for (int k = 0; k < N; ++k) { p[k] = base[k]; s[k] = 0; }
    row(p, s, int64_t(1));
    return;
  }
  const int64_t inner = L.shape[L.nd - 1];
  const int64_t rows = L.numel / inner;
  int64_t inner_s[N];
  for (int k = 0; k < N; ++k) inner_s[k] = L.strides[k][L.nd - 1];
  // Rows per task so that each task has about `grain` elements.
  const int64_t rows_per = std::max<int64_t>(1, grain / std::max<int64_t>(inner, 1));
  auto run = [&](int64_t r0, int64_t r1) {
    int64_t idx[kMaxDims] = {0};
    char* p[N];
    int64_t rem = r0;
    for (int k = 0; k < N; ++k) p[k] = base[k];
    for (int d = L.nd - 2; d >= 0; --d) {
      idx[d] = rem % L.shape[d];
      rem /= L.shape[d];
      for (int k = 0; k < N; ++k) p[k] += idx[d] * L.strides[k][d];
    }
    for (int64_t r = r0; r < r1; ++r) {
      row(p, inner_s, inner);
      for (int d = L.nd - 2; d >= 0; --d) {  // odometer step
        for (int k = 0; k < N; ++k) p[k] += L.strides[k][d];
        if (++idx[d] < L.shape[d]) break;
        for (int k = 0; k < N; ++k) p[k] -= L.strides[k][d] * L.shape[d];
        idx[d] = 0;
      }
    }
  };
  if (L.numel < grain) { run(0, rows); return; }
  if (inner > grain) {
    // Long rows (one contiguous block, or a few): tasks are pieces of rows.
    const int64_t pieces = (inner + grain - 1) / grain;
    cpu::parallel_range(rows * pieces, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t r = t / pieces, c0 = (t % pieces) * grain, len = std::min(grain, inner - c0);
        char* p[N];
        int64_t rem = r;
        for (int k = 0; k < N; ++k) p[k] = base[k] + c0 * inner_s[k];
        for (int d = L.nd - 2; d >= 0; --d) {
          const int64_t i = rem % L.shape[d];
          rem /= L.shape[d];
          for (int k = 0; k < N; ++k) p[k] += i * L.strides[k][d];
        }
        row(p, inner_s, len);
      }
    });
    return;
  }
  if (rows <= rows_per) { run(0, rows); return; }
  const int64_t tasks = (rows + rows_per - 1) / rows_per;
  cpu::parallel_range(tasks, 1, [&](int64_t t0, int64_t t1) { run(t0 * rows_per, std::min(rows, t1 * rows_per)); });
}

// Row callbacks for out = f(a), f(a, b), f(a, b, c) over typed operands: unit-stride loops
// (and, for binary ops, a broadcast scalar operand hoisted out of the loop) that the
// compiler vectorises, else a strided loop.
#define GC_AT(T, k, i) (*reinterpret_cast<const T*>(p[k] + (i) * s[k]))
template <class Out, class A, class F>
auto typed_row(F f) {
  return [f](char** p, const int64_t* s, int64_t n) {
    Out* out = reinterpret_cast<Out*>(p[0]);
    if (s[0] == int64_t(sizeof(Out)) && s[1] == int64_t(sizeof(A))) {
      const A* a = reinterpret_cast<const A*>(p[1]);
      for (int64_t i = 0; i < n; ++i) out[i] = f(a[i]);
      return;
    }
    for (int64_t i = 0; i < n; ++i) *reinterpret_cast<Out*>(p[0] + i * s[0]) = f(GC_AT(A, 1, i));
  };
}

template <class Out, class A, class B, class F>
auto typed_row(F f) {
  return [f](char** p, const int64_t* s, int64_t n) {
    if (s[0] == int64_t(sizeof(Out))) {
      Out* out = reinterpret_cast<Out*>(p[0]);
      const A* a = reinterpret_cast<const A*>(p[1]);
      const B* b = reinterpret_cast<const B*>(p[2]);
      const bool ua = s[1] == int64_t(sizeof(A)), ub = s[2] == int64_t(sizeof(B));
      if (ua && ub) { for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]); return; }
      if (ua && s[2] == 0) { const B bv = *b; for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], bv); return; }
      if (s[1] == 0 && ub) { const A av = *a; for (int64_t i = 0; i < n; ++i) out[i] = f(av, b[i]); return; }
    }
    for (int64_t i = 0; i < n; ++i)
      *reinterpret_cast<Out*>(p[0] + i * s[0]) = f(GC_AT(A, 1, i), GC_AT(B, 2, i));
  };
}

// Three inputs: every combination of unit-stride and broadcast-scalar (stride 0) inputs
// gets its own loop (clamp(x, lo, hi) with number bounds, where(cond, x, 0), ...).
template <class Out, class A, class B, class C, bool SA, bool SB, bool SC, class F>
inline void typed_loop3(F& f, Out* out, const A* a, const B* b, const C* c, int64_t n) {
  const A a0 = *a;
  const B b0 = *b;
  const C c0 = *c;
  for (int64_t i = 0; i < n; ++i) out[i] = f(SA ? a0 : a[i], SB ? b0 : b[i], SC ? c0 : c[i]);
}

template <class Out, class A, class B, class C, class F>
auto typed_row(F f) {
  return [f](char** p, const int64_t* s, int64_t n) mutable {
    auto ok = [&](int k, int64_t size) { return s[k] == size || s[k] == 0; };
    if (s[0] == int64_t(sizeof(Out)) && ok(1, sizeof(A)) && ok(2, sizeof(B)) && ok(3, sizeof(C))) {
      Out* out = reinterpret_cast<Out*>(p[0]);
      const A* a = reinterpret_cast<const A*>(p[1]);
      const B* b = reinterpret_cast<const B*>(p[2]);
      const C* c = reinterpret_cast<const C*>(p[3]);
      const int mode = (s[1] == 0) * 4 + (s[2] == 0) * 2 + (s[3] == 0);
      switch (mode) {
        case 0: typed_loop3<Out, A, B, C, false, false, false>(f, out, a, b, c, n); return;
        case 1: typed_loop3<Out, A, B, C, false, false, true>(f, out, a, b, c, n); return;
        case 2: typed_loop3<Out, A, B, C, false, true, false>(f, out, a, b, c, n); return;
        case 3: typed_loop3<Out, A, B, C, false, true, true>(f, out, a, b, c, n); return;
        case 4: typed_loop3<Out, A, B, C, true, false, false>(f, out, a, b, c, n); return;
        case 5: typed_loop3<Out, A, B, C, true, false, true>(f, out, a, b, c, n); return;
        case 6: typed_loop3<Out, A, B, C, true, true, false>(f, out, a, b, c, n); return;
        default: typed_loop3<Out, A, B, C, true, true, true>(f, out, a, b, c, n); return;
      }
    }
    for (int64_t i = 0; i < n; ++i)
      *reinterpret_cast<Out*>(p[0] + i * s[0]) = f(GC_AT(A, 1, i), GC_AT(B, 2, i), GC_AT(C, 3, i));
  };
}
#undef GC_AT

// Branch-free c ? a : b (a random mask would mispredict a branch half the time, and the
// bit select vectorises).
template <class T>
inline T select_bits(bool c, T a, T b) {
  using U = std::conditional_t<sizeof(T) == 8, uint64_t, std::conditional_t<sizeof(T) == 4, uint32_t,
            std::conditional_t<sizeof(T) == 2, uint16_t, uint8_t>>>;
  U ua, ub;
  std::memcpy(&ua, &a, sizeof(T));
  std::memcpy(&ub, &b, sizeof(T));
  const U m = static_cast<U>(U(0) - static_cast<U>(c));
  const U r = static_cast<U>((ua & m) | (ub & static_cast<U>(~m)));
  T out;
  std::memcpy(&out, &r, sizeof(T));
  return out;
}

}  // namespace gradcore::kernels

// reduce.cpp — sum / max over an axis or over everything, with fixed-order combination.
//
// Note [Deterministic reductions]: a full reduction is cut into chunks of kChunk elements
// whatever the thread count; each chunk is reduced by the table's pairwise loop (Note
// [Pairwise summation], kernels_impl.inc) and the chunk results are combined pairwise in
// chunk order, in double. A sum over a non-last axis is a column sum in fixed row chunks
// (Note [Blocked column sums], column_sum.h); other axis reductions give each output element
// to exactly one thread. Results therefore never depend on GRADCORE_NUM_THREADS, and sums
// stay accurate over any length (the error grows like log n, not n).
#include <vector>

#include "cpu/parallel.h"
#include "kernels/column_sum.h"
#include "kernels/kernel_api.h"
#include "kernels/table.h"
#include "kernels/work.h"

namespace gradcore::kernels {
namespace {
constexpr int64_t kChunk = 1 << 16;

// part[0] + part[1] + ... pairwise (part is overwritten).
double pairwise_combine(std::vector<double>& part) {
  const size_t n = part.size();
  for (size_t w = 1; w < n; w *= 2)
    for (size_t c = 0; c + w < n; c += 2 * w) part[c] += part[c + w];
  return n ? part[0] : 0.0;
}

// f(b, e) over fixed chunks [b, e) of kChunk elements (each element `bytes` read),
// combined pairwise.
template <class T, class F>
T chunked_sum(int64_t n, double bytes, F&& f) {
  if (n <= kChunk) return n > 0 ? f(int64_t(0), n) : T(0);
  const int64_t nchunks = (n + kChunk - 1) / kChunk;
  std::vector<double> part(nchunks);
  cpu::parallel_for(nchunks, [&](int64_t c) {
    int64_t b = c * kChunk, e = b + kChunk < n ? b + kChunk : n;
    part[c] = static_cast<double>(f(b, e));
  }, stream_threads<T>(n, bytes));
  return static_cast<T>(pairwise_combine(part));
}
}  // namespace

template <class T>
T sum_all(const T* x, int64_t n) {
  const auto& k = table<T>();
  return chunked_sum<T>(n, sizeof(T), [&](int64_t b, int64_t e) { return k.sum(x + b, e - b); });
}

template <class T>
T dot(const T* x, const T* y, int64_t n) {
  const auto& k = table<T>();
  return chunked_sum<T>(n, 2 * sizeof(T), [&](int64_t b, int64_t e) { return k.dot(x + b, y + b, e - b); });
}

template <class T>
bool all_finite(const T* x, int64_t n) {
  // x - x is 0 for finite x and NaN for NaN or inf; a sum of those is NaN iff any is.
  const auto& k = table<T>();
  for (int64_t b = 0; b < n; b += kChunk) {
    const int64_t m = n - b < kChunk ? n - b : kChunk;
    T acc = T(0);
    for (int64_t i = 0; i < m; ++i) acc += x[b + i] - x[b + i];
    if (acc != acc) return false;
  }
  (void)k;
  return true;
}

template <class T>
T max_all(const T* x, int64_t n) {
  const auto& k = table<T>();
  if (n <= kChunk) return k.max(x, n);
  const int64_t nchunks = (n + kChunk - 1) / kChunk;
  std::vector<T> part(nchunks);
  cpu::parallel_for(nchunks, [&](int64_t c) {
    int64_t b = c * kChunk, e = b + kChunk < n ? b + kChunk : n;
    part[c] = k.max(x + b, e - b);
  }, stream_threads<T>(n, sizeof(T)));
  return k.max(part.data(), nchunks);
}

template <class T>
void sum_axis(const T* x, T* y, int64_t outer, int64_t n, int64_t inner) {
  const auto& k = table<T>();
  if (inner == 1) {
    parallel_split(outer, stream_threads<T>(outer * n, sizeof(T)), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) y[o] = n > 0 ? k.sum(x + o * n, n) : T(0);
    });
    return;
  }
  column_sums(x, y, outer, n, inner);  // y[o, :] = x[o, 0, :] + x[o, 1, :] + ..., blocked
}

template <class T>
void max_axis(const T* x, T* y, int64_t outer, int64_t n, int64_t inner) {
  const auto& k = table<T>();
  if (inner == 1) {
    parallel_split(outer, stream_threads<T>(outer * n, sizeof(T)), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) y[o] = k.max(x + o * n, n);
    });
    return;
  }
  parallel_split(outer, stream_threads<T>(outer * n * inner, sizeof(T)), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      T* dst = y + o * inner;
      const T* src = x + o * n * inner;
      for (int64_t j = 0; j < inner; ++j) dst[j] = src[j];
      for (int64_t r = 1; r < n; ++r) {
        const T* row = src + r * inner;
        for (int64_t j = 0; j < inner; ++j) {
          T v = row[j];
          // NaN propagates: once dst is NaN it stays NaN; a NaN in v replaces dst.
          dst[j] = (v > dst[j] || v != v) && dst[j] == dst[j] ? v : dst[j];
        }
      }
    }
  });
}

#define GC_INSTANTIATE(T)                                           \
  template T sum_all<T>(const T*, int64_t);                         \
  template T dot<T>(const T*, const T*, int64_t);                   \
  template T max_all<T>(const T*, int64_t);                         \
  template bool all_finite<T>(const T*, int64_t);                   \
  template void sum_axis<T>(const T*, T*, int64_t, int64_t, int64_t); \
  template void max_axis<T>(const T*, T*, int64_t, int64_t, int64_t);
GC_INSTANTIATE(float)
GC_INSTANTIATE(double)
#undef GC_INSTANTIATE

}  // namespace gradcore::kernels

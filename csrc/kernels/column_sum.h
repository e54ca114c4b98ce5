// column_sum.h — fixed-order column sums for the kernel drivers: sums over a non-last axis
// (reduce.cpp) and Linear's bias gradient (gemm.cpp).
//
// Note [Blocked column sums]: y[o, j] = sum_r x[o, r, j] for `outer` blocks of `rows` x `cols`
// values (row stride `cols`, block stride rows * cols). Blocks narrower than kColWide columns
// are first viewed as `m` rows side by side (m = ceil(kColWide / cols), the rows % m last
// rows apart), so that the vector loops run over at least kColWide values. The (wide) rows
// are cut into chunks of kColChunk rows whatever the thread count; inside a chunk the table's
// sum_cols adds groups of 8 rows as a balanced tree in T and accumulates the group sums in
// double. The chunk sums are combined pairwise in chunk order, the m side-by-side parts and
// the last rows in order, all in double, and the total is rounded once to T. The relative
// error (to sum |x|) is about 3 u_T + (kColChunk / 8 + log2(chunks) + m) u_double: it grows
// like log(rows), and in float32 it is that of three float adds. Column strips only split
// independent columns among tasks: they never change a result.
//
// prep(o, r0, r1, j0, j1), when given, runs on the task that then sums rows [r0, r1) x
// columns [j0, j1) of block o, right before it does (in pieces of kColPiece rows, so what
// prep writes is still in cache): Linear's backward computes gpre = g * act'(.) there.
#pragma once
#include <cstdint>
#include <type_traits>
#include <vector>

#include "cpu/parallel.h"
#include "kernels/table.h"
#include "kernels/work.h"

namespace gradcore::kernels {

constexpr int64_t kColChunk = 1024;  // rows per chunk (fixed: results do not depend on threads)
constexpr int64_t kColPiece = 64;    // rows per prep + sum step inside a task (a multiple of 8)
constexpr int64_t kColStrip = 1024;  // most columns per task (its double accumulators: 8 KiB)
constexpr int64_t kColWide = 256;    // narrower blocks are widened (see the Note)
constexpr int64_t kColTask = 1 << 17;  // elements per task below which plain sums stay on one thread
static_assert(kColStrip >= 2 * kColWide, "a widened block (< 2 kColWide columns) fits one task's accumulators");

struct NoPrep {
  void operator()(int64_t, int64_t, int64_t, int64_t, int64_t) const {}
};

template <class T, class Prep = NoPrep>
void column_sums(const T* x, T* y, int64_t outer, int64_t rows, int64_t cols, Prep prep = Prep()) {
  if (outer <= 0 || cols <= 0) return;
  const auto& k = table<T>();
  const int64_t m = cols < kColWide ? (kColWide + cols - 1) / cols : 1;
  const int64_t width = m * cols;             // columns of the (wide) view
  const int64_t wrows = rows / m;             // its rows
  const int64_t rest = rows - wrows * m;      // original rows left over (m > 1 only)
  const int64_t nchunks = wrows > kColChunk ? (wrows + kColChunk - 1) / kColChunk : 1;
  const bool direct = nchunks == 1;           // a task's sums are final: it writes y
  // Column strips (m == 1): kColStrip wide (long contiguous row segments stream best), and
  // narrower when there would be fewer than two tasks per thread. Strips only decide which
  // task sums which columns, so for plain sums their width may follow the thread count. With
  // a prep (which computes what it sums: the result must not depend on how the elementwise
  // loops are cut), the width is a function of the shape only.
  constexpr bool kPlain = std::is_same<Prep, NoPrep>::value;
  int64_t strip = width;
  if (m == 1) {
    const int64_t work = outer * rows * cols;
    const int64_t tasks_wanted = kPlain ? (work < kColTask ? 1 : 2 * cpu::get_num_threads())
                                        : (work + kColTask - 1) / kColTask;
    const int64_t per = (tasks_wanted + outer * nchunks - 1) / (outer * nchunks);
    strip = (cols + per - 1) / per;
    strip = (strip + 15) / 16 * 16;
    if (strip < kColWide) strip = kColWide;
    if (strip > kColStrip) strip = kColStrip;
    if (strip > cols) strip = cols;
  }
  const int64_t nstrips = (width + strip - 1) / strip;
  std::vector<double> part(direct ? 0 : static_cast<size_t>(outer * nchunks * width));
  const int64_t ntasks = outer * nstrips * nchunks;
  auto task = [&](int64_t t) {
    const int64_t c = t % nchunks, s = (t / nchunks) % nstrips, o = t / (nchunks * nstrips);
    const int64_t j0 = s * strip, j1 = j0 + strip < width ? j0 + strip : width;
    const int64_t r0 = c * kColChunk, r1 = r0 + kColChunk < wrows ? r0 + kColChunk : wrows;
    const T* src = x + o * rows * cols;
    double acc[kColStrip];
    for (int64_t j = 0; j < j1 - j0; ++j) acc[j] = 0.0;
    const int64_t piece = kPlain ? kColChunk : kColPiece;
    for (int64_t p = r0; p < r1; p += piece) {
      const int64_t pe = p + piece < r1 ? p + piece : r1;
      // wide rows [p, pe) are original rows [p m, pe m); widened blocks take whole rows
      if (m > 1) prep(o, p * m, pe * m, int64_t(0), cols);
      else prep(o, p, pe, j0, j1);
      k.sum_cols(src + p * width + j0, width, pe - p, j1 - j0, acc);
    }
    if (!direct) {
      double* dst = part.data() + (o * nchunks + c) * width + j0;
      for (int64_t j = 0; j < j1 - j0; ++j) dst[j] = acc[j];
      return;
    }
    if (m == 1) {
      T* dst = y + o * cols + j0;
      for (int64_t j = 0; j < j1 - j0; ++j) dst[j] = static_cast<T>(acc[j]);
      return;
    }
    // widened, one chunk: fold the m parts, add the last rows
    if (rest > 0) prep(o, rows - rest, rows, int64_t(0), cols);
    for (int64_t j = 0; j < cols; ++j) {
      double total = acc[j];
      for (int64_t g = 1; g < m; ++g) total += acc[g * cols + j];
      for (int64_t r = rows - rest; r < rows; ++r) total += static_cast<double>(src[r * cols + j]);
      y[o * cols + j] = static_cast<T>(total);
    }
  };
  // Contiguous runs of tasks per thread; the split does not change any result.
  // A prep reads g and the saved activation besides writing what is summed.
  const int threads = stream_threads<T>(outer * rows * cols, (kPlain ? 1 : 3) * sizeof(T));
  parallel_split(ntasks, threads, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) task(t);
  });
  if (direct) return;
  // Combine: chunks pairwise (in place, in chunk order), then the m parts, then the rest.
  parallel_split(outer, stream_threads<double>(outer * nchunks * width, sizeof(double)), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      double* pc = part.data() + o * nchunks * width;
      for (int64_t w = 1; w < nchunks; w *= 2)
        for (int64_t c = 0; c + w < nchunks; c += 2 * w)
          for (int64_t j = 0; j < width; ++j) pc[c * width + j] += pc[(c + w) * width + j];
      const T* src = x + o * rows * cols;
      if (rest > 0) prep(o, rows - rest, rows, int64_t(0), cols);
      for (int64_t j = 0; j < cols; ++j) {
        double total = pc[j];
        for (int64_t g = 1; g < m; ++g) total += pc[g * cols + j];
        for (int64_t r = rows - rest; r < rows; ++r) total += static_cast<double>(src[r * cols + j]);
        y[o * cols + j] = static_cast<T>(total);
      }
    }
  });
}

}  // namespace gradcore::kernels

// gemm.cpp — BLIS-structured GEMM driver over the dispatch table's micro-kernel.
//
//   for jc in N step NC:                 (5th loop)
//     for pc in K step KC:               (4th loop; never split across threads)
//       pack B[pc:pc+kc, jc:jc+nc] -> Bp as NR-column micro-panels   (threads share Bp)
//       parallel over ic in M step MC:   (3rd loop, one task per block)
//         pack A[ic:ic+mc, pc:pc+kc] -> Ap as MR-row micro-panels    (per-thread buffer)
//         for jr in nc step NR:          (2nd loop)
//           for ir in mc step MR:        (1st loop)
//             ukr(kc, Ap[ir], Bp[jr], C[ic+ir, jc+jr], ldc, alpha, pc == 0 ? beta : 1)
//
// Micro-panel layouts (BLIS KernelsHowTo):
//   Ap: panel r holds rows [r*MR, r*MR+MR) as  p0:[a0 a1 .. a(MR-1)] p1:[...] ... (kc steps)
//   Bp: panel s holds cols [s*NR, s*NR+NR) as  p0:[b0 b1 .. b(NR-1)] p1:[...] ... (kc steps)
// Edges are zero-padded, and edge tiles of C go through a small MR x NR scratch tile.
// Every C element is accumulated by one thread in one k order: results are bitwise
// identical for any thread count.
#include <atomic>
#include <chrono>
#include <cstring>

#include "cpu/allocator.h"
#include "kernels/dispatch.h"
#include "cpu/parallel.h"
#include "kernels/column_sum.h"
#include "kernels/gemm_plan.h"
#include "kernels/kernel_api.h"
#include "kernels/table.h"
#include "kernels/work.h"
#include "kernels/workspace.h"

namespace gradcore::kernels {
namespace {


thread_local Workspace tl_pack_a;
thread_local Workspace tl_pack_b;

template <class T>
inline T at_a(bool ta, const T* A, int64_t lda, int64_t i, int64_t p) { return ta ? A[p * lda + i] : A[i * lda + p]; }

template <class T>
void pack_a(bool ta, const T* A, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc, int mr, T* Ap) {
  if (ta) {
    // A^T stored K x M: each stored row p holds the block's mc values contiguously. Read it
    // once, left to right, dealing its mr-wide pieces to the micro-panels (panel-by-panel
    // reading took 24 bytes of every line per panel and re-read each line mc / mr times;
    // with a 4 KiB row stride the lines were gone by the next panel: 1024 x 256 x 3200
    // dW-shaped products ran 12 % slower than the same product without the transpose).
    for (int64_t p = 0; p < kc; ++p) {
      const T* src = A + (p0 + p) * lda + i0;
      for (int64_t r = 0; r < mc; r += mr) {
        const int64_t rows = mc - r < mr ? mc - r : mr;
        T* dst = Ap + r * kc + p * mr;
        for (int64_t i = 0; i < rows; ++i) dst[i] = src[r + i];
        for (int64_t i = rows; i < mr; ++i) dst[i] = T(0);
      }
    }
    return;
  }
  for (int64_t r = 0; r < mc; r += mr) {
    int64_t rows = mc - r < mr ? mc - r : mr;
    T* dst = Ap + r * kc;
    for (int64_t i = 0; i < rows; ++i) {
      const T* src = A + (i0 + r + i) * lda + p0;
      for (int64_t p = 0; p < kc; ++p) dst[p * mr + i] = src[p];
    }
    if (rows < mr)
      for (int64_t p = 0; p < kc; ++p)
        for (int64_t i = rows; i < mr; ++i) dst[p * mr + i] = T(0);
  }
}

template <class T>
void pack_b_panel(bool tb, const T* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t cols, int nr, T* dst) {
  if (!tb) {
    for (int64_t p = 0; p < kc; ++p) {
      const T* src = B + (p0 + p) * ldb + j0;
      for (int64_t j = 0; j < cols; ++j) dst[p * nr + j] = src[j];
      for (int64_t j = cols; j < nr; ++j) dst[p * nr + j] = T(0);
    }
  } else {
    // B^T: a blocked transpose. For 16 values of p at a time, read a cache line of each
    // stored row of B and write it down the panel column; the 16 x nr destination rows
    // stay in L1 while they are filled.
    for (int64_t pb = 0; pb < kc; pb += 16) {
      const int64_t pe = kc - pb < 16 ? kc - pb : 16;
      for (int64_t j = 0; j < cols; ++j) {
        const T* src = B + (j0 + j) * ldb + p0 + pb;
        T* d = dst + pb * nr + j;
        for (int64_t p = 0; p < pe; ++p) d[p * nr] = src[p];
      }
    }
    if (cols < nr)
      for (int64_t p = 0; p < kc; ++p)
        for (int64_t j = cols; j < nr; ++j) dst[p * nr + j] = T(0);
  }
}

// C = beta * C over an M x N block (beta == 0 writes zeros without reading C).
template <class T>
void scale_c(int64_t M, int64_t N, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    T* c = C + i * ldc;
    if (beta == T(0)) std::memset(c, 0, sizeof(T) * N);
    else if (beta != T(1)) for (int64_t j = 0; j < N; ++j) c[j] *= beta;
  }
}

// Bias + activation on a rows x cols block of C whose first column is column j0 of C.
template <class T>
void apply_epilogue(const GemmEpilogue<T>* ep, T* c, int64_t ldc, int64_t rows, int64_t cols, int64_t j0) {
  if (!ep) return;
  const auto& k = table<T>();
  for (int64_t i = 0; i < rows; ++i) {
    T* row = c + i * ldc;
    if (ep->bias) k.binary[BINARY_ADD][BMODE_VV](row, ep->bias + j0, row, cols);
    if (ep->act >= 0) k.unary[ep->act](row, row, cols);
  }
}

// Unpacked path for small products and for very few rows of C (batch-1 GEMV, where
// packing B would cost as much as the product): row-major loops over (row, column block)
// tasks. Column blocks keep the k order of every C element fixed, so the result does not
// depend on the thread count.
template <class T>
void gemm_small(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                const T* B, int64_t ldb, T beta, T* C, int64_t ldc, const GemmEpilogue<T>* ep, int threads) {
  const auto& k = table<T>();
  constexpr int64_t kColBlock = 256;
  const int64_t nblk = (N + kColBlock - 1) / kColBlock;
  // Rows of long vectors (batch-1 GEMV) use the table's SIMD axpy/dot; tiny products use
  // inline loops (a call per 2-element dot would cost more than the arithmetic).
  const bool simd_rows = N * K >= 4096;
  auto task = [&](int64_t t) {
    const int64_t i = t / nblk, j0 = (t % nblk) * kColBlock;
    const int64_t nj = N - j0 < kColBlock ? N - j0 : kColBlock;
    T* c = C + i * ldc + j0;
    if (!tb) {
      scale_c<T>(1, nj, beta, c, ldc);
      for (int64_t p = 0; p < K; ++p) {
        const T a = alpha * at_a(ta, A, lda, i, p);
        const T* b = B + p * ldb + j0;
        if (simd_rows) k.axpby(a, b, T(1), c, nj);
        else for (int64_t j = 0; j < nj; ++j) c[j] += a * b[j];
      }
    } else {
      for (int64_t j = 0; j < nj; ++j) {
        const T* b = B + (j0 + j) * ldb;
        T acc = T(0);
        if (!ta && simd_rows) acc = k.dot(A + i * lda, b, K);
        else for (int64_t p = 0; p < K; ++p) acc += at_a(ta, A, lda, i, p) * b[p];
        c[j] = beta == T(0) ? alpha * acc : alpha * acc + beta * c[j];
      }
    }
    apply_epilogue(ep, c, ldc, 1, nj, j0);
  };
  cpu::parallel_range(M * nblk, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) task(t);
  }, threads);
}

// Very narrow products (N <= g.rowdot_max_n, A not transposed): the row-dot tile over B^T's
// rows (B itself when transposed, else a transposed copy that each thread makes for itself:
// N x K values, far fewer than its rows of A, and not moved between cores on every call),
// row ranges split across threads (every C element is one dot product whatever the split).
template <class T>
void gemm_rowdot(const GemmConfig<T>& g, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                 int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc, const GemmEpilogue<T>* ep,
                 int threads) {
  cpu::parallel_range(M, 1, [&](int64_t b, int64_t e) {
    const T* bt = B;
    int64_t ldbt = ldb;
    if (!tb) {
      T* t = static_cast<T*>(tl_pack_b.get(sizeof(T) * N * K));
      if (g.transpose) g.transpose(B, ldb, K, N, t, K);
      else for (int64_t p = 0; p < K; ++p) for (int64_t j = 0; j < N; ++j) t[j * K + p] = B[p * ldb + j];
      bt = t;
      ldbt = K;
    }
    g.ukr_rowdot(e - b, N, K, A + b * lda, lda, bt, ldbt, C + b * ldc, ldc, alpha, beta);
    apply_epilogue(ep, C + b * ldc, ldc, e - b, N, 0);
  }, threads);
}

// Skinny products (N <= the narrow tile width, A not transposed): B is packed once into a
// K x NR panel (zero-padded), and the narrow kernel reads A's rows in place, MR rows per
// call, all of K at once. Row groups are split across threads; each C element is still
// summed by one thread in one k order.
template <class T>
void gemm_narrow_rows(const GemmConfig<T>& g, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                      int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc, const GemmEpilogue<T>* ep,
                      int threads) {
  const int mr = g.mr_narrow, nr = g.nr_narrow;
  T* Bp = static_cast<T*>(tl_pack_b.get(sizeof(T) * nr * K));
  pack_b_panel(tb, B, ldb, 0, K, 0, N, nr, Bp);
  const int64_t groups = (M + mr - 1) / mr;
  auto run = [&](int64_t grp) {
    const int64_t i0 = grp * mr, rows = M - i0 < mr ? M - i0 : mr;
    const T* a = A + i0 * lda;
    int64_t a_ld = lda;
    if (rows < mr) {  // last partial group: copy its rows into a zero-padded block
      T* pad = static_cast<T*>(tl_pack_a.get(sizeof(T) * mr * K));
      for (int64_t i = 0; i < mr; ++i)
        for (int64_t p = 0; p < K; ++p) pad[i * K + p] = i < rows ? a[i * lda + p] : T(0);
      a = pad;
      a_ld = K;
    }
    alignas(64) T tile[16 * 64];
    g.ukr_narrow_rows(K, a, a_ld, Bp, tile, nr, alpha, T(0));
    T* c = C + i0 * ldc;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < N; ++j)
        c[i * ldc + j] = beta == T(0) ? tile[i * nr + j] : tile[i * nr + j] + beta * c[i * ldc + j];
    apply_epilogue(ep, c, ldc, rows, N, 0);
  };
  // Contiguous row ranges per thread, the same on every call: a thread keeps reading the A
  // rows it read last time (pulled one by one, A's rows moved between the cores' L2s on
  // every call and 2 threads ran slower than 1 at (128, 256, 10)).
  cpu::parallel_range(groups, 1, [&](int64_t b, int64_t e) {
    for (int64_t grp = b; grp < e; ++grp) run(grp);
  }, threads);
}

// Small products without packing (A and B read in place by the direct tile): row blocks x
// column panels as tasks, each C element summed over K in equal passes of plan.kc.
template <class T>
void gemm_direct(const GemmConfig<T>& g, const GemmPlan& plan, bool ta, int64_t M, int64_t N, int64_t K, T alpha,
                 const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc,
                 const GemmEpilogue<T>* ep) {
  const int64_t mr = g.mr, nr = g.nr;
  constexpr int64_t kRowTiles = 8;  // rows per task: 8 tiles share the task's B panel in L1
  const int64_t row_blocks = (M + mr * kRowTiles - 1) / (mr * kRowTiles);
  const int64_t npanels = (N + nr - 1) / nr;
  // Task order: the operand that is re-read from cache should be the smaller one. Panel-
  // major (each thread takes a run of B panels and sweeps all rows) re-reads A; row-major
  // re-reads B. Either way each thread touches only its share of the other operand.
  const bool panel_major = M <= N;
  const int64_t KC = plan.kc;
  auto task = [&](int64_t t) {
    const int64_t rb = panel_major ? t % row_blocks : t / npanels;
    const int64_t j0 = (panel_major ? t / row_blocks : t % npanels) * nr;
    const int64_t cols = N - j0 < nr ? N - j0 : nr;
    const int64_t i_end = (rb + 1) * mr * kRowTiles < M ? (rb + 1) * mr * kRowTiles : M;
    // K in equal chunks: the task's B panel chunk and A rows stay in
    // L2 while its row tiles sweep them; the C tiles accumulate (beta = 1 after the first).
    for (int64_t p0 = 0; p0 < K; p0 += KC) {
      const int64_t kc = K - p0 < KC ? K - p0 : KC;
      const T* a0 = ta ? A + p0 * lda : A + p0;
      const T* b0 = B + p0 * ldb + j0;
      const T beta_eff = p0 == 0 ? beta : T(1);
      for (int64_t i0 = rb * mr * kRowTiles; i0 < i_end; i0 += mr) {
        const int64_t rows = M - i0 < mr ? M - i0 : mr;
        T* c = C + i0 * ldc + j0;
        g.ukr_direct(ta, rows, cols, kc, ta ? a0 + i0 : a0 + i0 * lda, lda, b0, ldb, c, ldc, alpha, beta_eff);
        if (p0 + kc == K) apply_epilogue(ep, c, ldc, rows, cols, j0);
      }
    }
  };
  // Contiguous runs of tasks per thread (not pulled one by one): a thread then keeps its
  // own B panels (panel-major) or A rows (row-major) in its L2 instead of sharing them all.
  cpu::parallel_range(row_blocks * npanels, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) task(t);
  }, plan.threads);
}

// The packed path (the loops in this file's header) for plan.path == GEMM_PACKED.
template <class T>
void gemm_packed(const GemmConfig<T>& g, const GemmPlan& plan, bool ta, bool tb, int64_t M, int64_t N, int64_t K,
                 T alpha, const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc,
                 const GemmEpilogue<T>* ep) {
  auto ukr = plan.narrow ? g.ukr_narrow : g.ukr;
  const int mr = plan.narrow ? g.mr_narrow : g.mr, nr = plan.narrow ? g.nr_narrow : g.nr;
  const int64_t KC = plan.kc, MC = plan.mc, NC = plan.blocking.nc;
  const int threads = plan.threads;
  const int64_t nblocks = (M + MC - 1) / MC;
  for (int64_t jc = 0; jc < N; jc += NC) {
    const int64_t nc = N - jc < NC ? N - jc : NC;
    const int64_t npanels = (nc + nr - 1) / nr;
    const int64_t ngroups = plan.ngroups < npanels ? plan.ngroups : npanels;
    const int64_t per_group = (npanels + ngroups - 1) / ngroups;
    for (int64_t pc = 0; pc < K; pc += KC) {
      const int64_t kc = K - pc < KC ? K - pc : KC;
      T* Bp = static_cast<T*>(tl_pack_b.get(sizeof(T) * npanels * nr * kc));
      cpu::parallel_range(npanels, 1, [&](int64_t b, int64_t e) {
        for (int64_t s = b; s < e; ++s) {
          int64_t j0 = jc + s * nr, cols = nc - s * nr < nr ? nc - s * nr : nr;
          pack_b_panel(tb, B, ldb, pc, kc, j0, cols, nr, Bp + s * nr * kc);
        }
      }, threads);
      const T beta_eff = pc == 0 ? beta : T(1);
      const GemmEpilogue<T>* tile_ep = pc + kc == K ? ep : nullptr;  // after the last K block
      cpu::parallel_for(nblocks * ngroups, [&](int64_t task) {
        const int64_t blk = task / ngroups, grp = task % ngroups;
        const int64_t s0 = grp * per_group, s1 = s0 + per_group < npanels ? s0 + per_group : npanels;
        const int64_t ic = blk * MC;
        const int64_t mc = M - ic < MC ? M - ic : MC;
        const int64_t mpanels = (mc + mr - 1) / mr;
        T* Ap = static_cast<T*>(tl_pack_a.get(sizeof(T) * mpanels * mr * kc));
        pack_a(ta, A, lda, ic, mc, pc, kc, mr, Ap);
        alignas(64) T tile[16 * 64];  // >= mr * nr for every table entry
        for (int64_t s = s0; s < s1; ++s) {
          const int64_t j0 = s * nr;
          const int64_t cols = nc - j0 < nr ? nc - j0 : nr;
          const T* bpanel = Bp + s * nr * kc;
          for (int64_t r = 0; r < mpanels; ++r) {
            const int64_t i0 = r * mr;
            const int64_t rows = mc - i0 < mr ? mc - i0 : mr;
            T* c = C + (ic + i0) * ldc + jc + j0;
            const T* apanel = Ap + r * mr * kc;
            if (rows == mr && cols == nr) {
              ukr(kc, apanel, bpanel, c, ldc, alpha, beta_eff);
            } else {
              ukr(kc, apanel, bpanel, tile, nr, alpha, T(0));
              for (int64_t i = 0; i < rows; ++i)
                for (int64_t j = 0; j < cols; ++j)
                  c[i * ldc + j] = beta_eff == T(0) ? tile[i * nr + j] : tile[i * nr + j] + beta_eff * c[i * ldc + j];
            }
            apply_epilogue(tile_ep, c, ldc, rows, cols, jc + j0);
          }
        }
      }, threads);
    }
  }
}

// One thread's multiply-adds per ns in the main micro-kernel, on L1-resident panels (the
// best of a few calls; measured once per micro-kernel, about 0.1 ms).
template <class T>
double measure_fma_rate(const GemmConfig<T>& g) {
  constexpr int64_t kK = 128;
  alignas(64) T a[16 * kK], b[64 * kK], c[16 * 64];
  for (int64_t i = 0; i < 16 * kK; ++i) a[i] = T(1) / T(i % 7 + 1);
  for (int64_t i = 0; i < 64 * kK; ++i) b[i] = T(1) / T(i % 5 + 2);
  double best = 1e300;
  for (int rep = 0; rep < 12; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 4; ++i) g.ukr(kK, a, b, c, g.nr, T(1), T(0));
    const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    if (ns < best) best = ns;
  }
  return best > 0 ? 4.0 * double(g.mr) * g.nr * kK / best : 0;
}

template <class T>
double fma_rate(const GemmConfig<T>& g) {
  auto measure = [&g] { return measure_fma_rate(g); };
  return cached_rate(reinterpret_cast<const void*>(g.ukr), measure);
}

}  // namespace

template <class T>
GemmMachine gemm_machine_for() {
  GemmMachine m = gemm_machine();
  if (m.threads > 1 && m.pool_fixed_ns > 0) m.fma_per_ns = fma_rate(table<T>().gemm);
  return m;
}

template <class T>
GemmPlan gemm_plan_for(bool ta, bool tb, int64_t M, int64_t N, int64_t K, bool alpha_zero) {
  return plan_gemm(ta, tb, M, N, K, alpha_zero, caps_of(table<T>().gemm), gemm_machine_for<T>());
}

template <class T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
          int64_t ldb, T beta, T* C, int64_t ldc, const GemmEpilogue<T>* ep) {
  if (M <= 0 || N <= 0) return;
  const GemmConfig<T>& g = table<T>().gemm;
  const GemmPlan plan = gemm_plan_for<T>(ta, tb, M, N, K, alpha == T(0));
  switch (plan.path) {
    case GEMM_SCALE:
      scale_c(M, N, beta, C, ldc);
      apply_epilogue(ep, C, ldc, M, N, 0);
      return;
    case GEMM_DIRECT:
      gemm_direct(g, plan, ta, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ep);
      return;
    case GEMM_TRANSPOSE: {
      // B^T (Linear's x @ W^T): one vectorised transpose of B into scratch, then the
      // direct tile. Row stride padded off powers of two (a 2 KiB stride makes the
      // transpose's 16 stores and the tile's B rows collide in the same cache sets).
      const int64_t ldt = (N + 15) / 16 * 16 + 16;
      T* Bt = static_cast<T*>(tl_pack_b.get(sizeof(T) * ldt * K));
      cpu::parallel_range((N + 15) / 16, 1, [&](int64_t b, int64_t e) {
        const int64_t r0 = b * 16, r1 = e * 16 < N ? e * 16 : N;
        g.transpose(B + r0 * ldb, ldb, r1 - r0, K, Bt + r0, ldt);
      }, plan.threads);
      gemm_direct(g, plan, ta, M, N, K, alpha, A, lda, Bt, ldt, beta, C, ldc, ep);
      return;
    }
    case GEMM_SMALL:
      gemm_small(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ep, plan.threads);
      return;
    case GEMM_ROWDOT:
      gemm_rowdot(g, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ep, plan.threads);
      return;
    case GEMM_NARROW_ROWS:
      gemm_narrow_rows(g, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ep, plan.threads);
      return;
    case GEMM_PACKED:
      gemm_packed(g, plan, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ep);
      return;
  }
}

// Below this many multiply-adds a product runs on one thread and the batch is split
// instead (gemm's own threading starts at 2^16..2^18 and pays off fully only well above).
constexpr int64_t kBatchSplitMaxWork = int64_t(1) << 22;

template <class T>
void gemm_batched(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                  const int64_t* a_off, const T* B, int64_t ldb, const int64_t* b_off, T beta, T* C, int64_t ldc,
                  int64_t c_stride, int64_t batch) {
  if (batch <= 0 || M <= 0 || N <= 0) return;
  auto one = [&](int64_t i) {
    gemm<T>(ta, tb, M, N, K, alpha, A + a_off[i], lda, B + b_off[i], ldb, beta, C + i * c_stride, ldc, nullptr);
  };
  const int threads = batch > 1 && M * N * K < kBatchSplitMaxWork
                          ? gemm_threads(double(batch) * M * N * K, double(batch) * moved_bytes(M, N, K, sizeof(T)),
                                         gemm_machine_for<T>())
                          : 1;
  if (threads > 1) {
    // gemm() called inside a pool task runs its own parallel loops inline.
    cpu::parallel_range(batch, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) one(i);
    }, threads);
  } else {
    for (int64_t i = 0; i < batch; ++i) one(i);
  }
}

template <class T>
void linear_act_backward(int act, const T* g, const T* saved, T* gpre, T* db, int64_t rows, int64_t cols) {
  const auto& k = table<T>();
  auto grad_fn = act >= 0 && act < ACT_COUNT ? k.act_backward[act] : nullptr;
  const bool copy_only = !grad_fn && gpre != g;
  // gpre[r0:r1, j0:j1] = g * act'(saved) (or a copy of g)
  auto prep = [&](int64_t, int64_t r0, int64_t r1, int64_t j0, int64_t j1) {
    if (!grad_fn && !copy_only) return;
    const bool whole = j0 == 0 && j1 == cols;  // contiguous rows: one call
    for (int64_t r = r0; r < (whole ? r0 + 1 : r1); ++r) {
      const int64_t off = r * cols + j0, n = whole ? (r1 - r0) * cols : j1 - j0;
      if (grad_fn) grad_fn(g + off, saved + off, gpre + off, n);
      else for (int64_t j = 0; j < n; ++j) gpre[off + j] = g[off + j];
    }
  };
  if (db) {
    // db = column sums of gpre, each block of gpre summed right after it is computed
    // (Note [Blocked column sums]: fixed row chunks, accurate for any batch size).
    column_sums(static_cast<const T*>(gpre), db, 1, rows, cols, prep);
    return;
  }
  cpu::parallel_range(rows, (int64_t(1) << 14) / (cols + 1) + 1, [&](int64_t b, int64_t e) { prep(0, b, e, 0, cols); });
}

template GemmMachine gemm_machine_for<float>();
template GemmMachine gemm_machine_for<double>();
template GemmPlan gemm_plan_for<float>(bool, bool, int64_t, int64_t, int64_t, bool);
template GemmPlan gemm_plan_for<double>(bool, bool, int64_t, int64_t, int64_t, bool);
template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                          int64_t, float, float*, int64_t, const GemmEpilogue<float>*);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, const double*,
                           int64_t, double, double*, int64_t, const GemmEpilogue<double>*);
template void gemm_batched<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                  const int64_t*, const float*, int64_t, const int64_t*, float, float*, int64_t,
                                  int64_t, int64_t);
template void gemm_batched<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                   const int64_t*, const double*, int64_t, const int64_t*, double, double*, int64_t,
                                   int64_t, int64_t);
template void linear_act_backward<float>(int, const float*, const float*, float*, float*, int64_t, int64_t);
template void linear_act_backward<double>(int, const double*, const double*, double*, double*, int64_t, int64_t);

}  // namespace gradcore::kernels

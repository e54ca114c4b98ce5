// AVX-512 kernels (compiled with -mavx512f/bw/dq/vl). Everything sits in an anonymous
// namespace so nothing here can be merged into baseline code (PACKAGING.md).
#include <immintrin.h>

#include "kernels/kernels.h"

namespace gradcore {
namespace avx512 {
namespace {
#define GC_FAST_MATH 1  // vectorised float32 exp/log/tanh (kernels_impl.inc)
#define GC_VMATH_AVX512 1  // AVX-512 loops for exp/log/log1p/tanh/sigmoid/silu
#include "kernels/kernels_impl.inc"

// sgemm micro-kernel, 6 x 64: 24 zmm accumulators (6 rows x 4 vectors of 16 floats), so
// two FMA pipes always have independent work (>= 12 chains are needed to hide latency).
// Per k step: 4 vector loads of the B panel row, 6 broadcasts from the A panel, 24 FMAs.
void sgemm_ukr_6x64(int64_t k, const float* __restrict a, const float* __restrict b, float* __restrict c,
                    int64_t ldc, float alpha, float beta) {
  __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c03 = c00;
  __m512 c10 = c00, c11 = c00, c12 = c00, c13 = c00;
  __m512 c20 = c00, c21 = c00, c22 = c00, c23 = c00;
  __m512 c30 = c00, c31 = c00, c32 = c00, c33 = c00;
  __m512 c40 = c00, c41 = c00, c42 = c00, c43 = c00;
  __m512 c50 = c00, c51 = c00, c52 = c00, c53 = c00;
  for (int64_t p = 0; p < k; ++p) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
    const __m512 b2 = _mm512_load_ps(b + 32), b3 = _mm512_load_ps(b + 48);
    _mm_prefetch(reinterpret_cast<const char*>(b + 64 * 8), _MM_HINT_T0);
    __m512 ai;
#define GC_ROW(i)                                   \
    ai = _mm512_set1_ps(a[i]);                      \
    c##i##0 = _mm512_fmadd_ps(ai, b0, c##i##0);     \
    c##i##1 = _mm512_fmadd_ps(ai, b1, c##i##1);     \
    c##i##2 = _mm512_fmadd_ps(ai, b2, c##i##2);     \
    c##i##3 = _mm512_fmadd_ps(ai, b3, c##i##3);
    GC_ROW(0) GC_ROW(1) GC_ROW(2) GC_ROW(3) GC_ROW(4) GC_ROW(5)
#undef GC_ROW
    a += 6;
    b += 64;
  }
  const __m512 va = _mm512_set1_ps(alpha);
  if (beta == 0.0f) {
#define GC_STORE(i)                                                      \
    _mm512_storeu_ps(c + i * ldc, _mm512_mul_ps(va, c##i##0));           \
    _mm512_storeu_ps(c + i * ldc + 16, _mm512_mul_ps(va, c##i##1));      \
    _mm512_storeu_ps(c + i * ldc + 32, _mm512_mul_ps(va, c##i##2));      \
    _mm512_storeu_ps(c + i * ldc + 48, _mm512_mul_ps(va, c##i##3));
    GC_STORE(0) GC_STORE(1) GC_STORE(2) GC_STORE(3) GC_STORE(4) GC_STORE(5)
#undef GC_STORE
  } else {
    const __m512 vb = _mm512_set1_ps(beta);
#define GC_UPDATE(i, j)                                                                        \
    _mm512_storeu_ps(c + i * ldc + 16 * j,                                                     \
                     _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + i * ldc + 16 * j), _mm512_mul_ps(va, c##i##j)));
#define GC_UPDATE_ROW(i) GC_UPDATE(i, 0) GC_UPDATE(i, 1) GC_UPDATE(i, 2) GC_UPDATE(i, 3)
    GC_UPDATE_ROW(0) GC_UPDATE_ROW(1) GC_UPDATE_ROW(2) GC_UPDATE_ROW(3) GC_UPDATE_ROW(4) GC_UPDATE_ROW(5)
#undef GC_UPDATE_ROW
#undef GC_UPDATE
  }
}

// dgemm micro-kernel, 6 x 32: 24 zmm accumulators of 8 doubles.
void dgemm_ukr_6x32(int64_t k, const double* __restrict a, const double* __restrict b, double* __restrict c,
                    int64_t ldc, double alpha, double beta) {
  __m512d c00 = _mm512_setzero_pd(), c01 = c00, c02 = c00, c03 = c00;
  __m512d c10 = c00, c11 = c00, c12 = c00, c13 = c00;
  __m512d c20 = c00, c21 = c00, c22 = c00, c23 = c00;
  __m512d c30 = c00, c31 = c00, c32 = c00, c33 = c00;
  __m512d c40 = c00, c41 = c00, c42 = c00, c43 = c00;
  __m512d c50 = c00, c51 = c00, c52 = c00, c53 = c00;
  for (int64_t p = 0; p < k; ++p) {
    const __m512d b0 = _mm512_load_pd(b), b1 = _mm512_load_pd(b + 8);
    const __m512d b2 = _mm512_load_pd(b + 16), b3 = _mm512_load_pd(b + 24);
    __m512d ai;
#define GC_ROW(i)                                   \
    ai = _mm512_set1_pd(a[i]);                      \
    c##i##0 = _mm512_fmadd_pd(ai, b0, c##i##0);     \
    c##i##1 = _mm512_fmadd_pd(ai, b1, c##i##1);     \
    c##i##2 = _mm512_fmadd_pd(ai, b2, c##i##2);     \
    c##i##3 = _mm512_fmadd_pd(ai, b3, c##i##3);
    GC_ROW(0) GC_ROW(1) GC_ROW(2) GC_ROW(3) GC_ROW(4) GC_ROW(5)
#undef GC_ROW
    a += 6;
    b += 32;
  }
  const __m512d va = _mm512_set1_pd(alpha);
  if (beta == 0.0) {
#define GC_STORE(i)                                                      \
    _mm512_storeu_pd(c + i * ldc, _mm512_mul_pd(va, c##i##0));           \
    _mm512_storeu_pd(c + i * ldc + 8, _mm512_mul_pd(va, c##i##1));       \
    _mm512_storeu_pd(c + i * ldc + 16, _mm512_mul_pd(va, c##i##2));      \
    _mm512_storeu_pd(c + i * ldc + 24, _mm512_mul_pd(va, c##i##3));
    GC_STORE(0) GC_STORE(1) GC_STORE(2) GC_STORE(3) GC_STORE(4) GC_STORE(5)
#undef GC_STORE
  } else {
    const __m512d vb = _mm512_set1_pd(beta);
#define GC_UPDATE(i, j)                                                                       \
    _mm512_storeu_pd(c + i * ldc + 8 * j,                                                     \
                     _mm512_fmadd_pd(vb, _mm512_loadu_pd(c + i * ldc + 8 * j), _mm512_mul_pd(va, c##i##j)));
#define GC_UPDATE_ROW(i) GC_UPDATE(i, 0) GC_UPDATE(i, 1) GC_UPDATE(i, 2) GC_UPDATE(i, 3)
    GC_UPDATE_ROW(0) GC_UPDATE_ROW(1) GC_UPDATE_ROW(2) GC_UPDATE_ROW(3) GC_UPDATE_ROW(4) GC_UPDATE_ROW(5)
#undef GC_UPDATE_ROW
#undef GC_UPDATE
  }
}

// Narrow sgemm micro-kernel, 12 x 16, for skinny products (N <= 16): 12 zmm accumulators
// (one per row), 1 B load and 12 broadcasts per k step.
void sgemm_ukr_12x16(int64_t k, const float* __restrict a, const float* __restrict b, float* __restrict c,
                     int64_t ldc, float alpha, float beta) {
  __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
  __m512 c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
  for (int64_t p = 0; p < k; ++p) {
    const __m512 bv = _mm512_load_ps(b);
    c0 = _mm512_fmadd_ps(_mm512_set1_ps(a[0]), bv, c0);
    c1 = _mm512_fmadd_ps(_mm512_set1_ps(a[1]), bv, c1);
    c2 = _mm512_fmadd_ps(_mm512_set1_ps(a[2]), bv, c2);
    c3 = _mm512_fmadd_ps(_mm512_set1_ps(a[3]), bv, c3);
    c4 = _mm512_fmadd_ps(_mm512_set1_ps(a[4]), bv, c4);
    c5 = _mm512_fmadd_ps(_mm512_set1_ps(a[5]), bv, c5);
    c6 = _mm512_fmadd_ps(_mm512_set1_ps(a[6]), bv, c6);
    c7 = _mm512_fmadd_ps(_mm512_set1_ps(a[7]), bv, c7);
    c8 = _mm512_fmadd_ps(_mm512_set1_ps(a[8]), bv, c8);
    c9 = _mm512_fmadd_ps(_mm512_set1_ps(a[9]), bv, c9);
    c10 = _mm512_fmadd_ps(_mm512_set1_ps(a[10]), bv, c10);
    c11 = _mm512_fmadd_ps(_mm512_set1_ps(a[11]), bv, c11);
    a += 12;
    b += 16;
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  const bool zero_beta = beta == 0.0f;
  __m512 acc[12] = {c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11};
  for (int i = 0; i < 12; ++i) {
    __m512 r = _mm512_mul_ps(va, acc[i]);
    if (!zero_beta) r = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + i * ldc), r);
    _mm512_storeu_ps(c + i * ldc, r);
  }
}

// 12 x 16 narrow tile with A read in place: row i of the tile is a + i * lda.
void sgemm_ukr_12x16_rows(int64_t k, const float* __restrict a, int64_t lda, const float* __restrict b,
                          float* __restrict c, int64_t ldc, float alpha, float beta) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_setzero_ps();
  const float* r0 = a;
  for (int64_t p = 0; p < k; ++p) {
    const __m512 bv = _mm512_load_ps(b + p * 16);
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(r0[i * lda + p]), bv, acc[i]);
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  const bool zero_beta = beta == 0.0f;
  for (int i = 0; i < 12; ++i) {
    __m512 r = _mm512_mul_ps(va, acc[i]);
    if (!zero_beta) r = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + i * ldc), r);
    _mm512_storeu_ps(c + i * ldc, r);
  }
}

// Lane j of the result = the sum of v[j]'s 16 lanes, for j < N (<= 16; the rest 0): a
// transpose-and-add tree, 45 shuffles and adds for 16 vectors instead of 8 per vector.
template <int N>
inline __m512 lane_sums(const __m512* v) {
  __m512 s[8], t[4];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {  // per 128-bit chunk: (v2i, v2i+1) halves summed, interleaved
    const __m512 a = 2 * i < N ? v[2 * i] : _mm512_setzero_ps();
    const __m512 b = 2 * i + 1 < N ? v[2 * i + 1] : _mm512_setzero_ps();
    s[i] = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {  // per chunk: the chunk sums of v4i .. v4i+3
    const __m512d c = _mm512_castps_pd(s[2 * i]), d = _mm512_castps_pd(s[2 * i + 1]);
    t[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(c, d)), _mm512_castpd_ps(_mm512_unpackhi_pd(c, d)));
  }
  const __m512 u0 = _mm512_add_ps(_mm512_shuffle_f32x4(t[0], t[1], 0x88), _mm512_shuffle_f32x4(t[0], t[1], 0xDD));
  const __m512 u1 = _mm512_add_ps(_mm512_shuffle_f32x4(t[2], t[3], 0x88), _mm512_shuffle_f32x4(t[2], t[3], 0xDD));
  return _mm512_add_ps(_mm512_shuffle_f32x4(u0, u1, 0x88), _mm512_shuffle_f32x4(u0, u1, 0xDD));
}

// Row-dot tile (GemmConfig::ukr_rowdot), R rows x N columns of 16-lane partial dot
// products: per 16 values of K, R loads of A, N loads of Bt and R * N FMAs, every lane
// useful; each accumulator is summed across its lanes at the end. R * N + R + 1 <= 32 zmm.
template <int R, int N>
void rowdot_tile(int64_t k, const float* __restrict a, int64_t lda, const float* __restrict bt, int64_t ldbt,
                 float* __restrict c, int64_t ldc, float alpha, float beta, int rows) {
  __m512 acc[R][N];
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < N; ++j) acc[i][j] = _mm512_setzero_ps();
  const float* ar[R];
  for (int i = 0; i < R; ++i) ar[i] = a + (i < rows ? i : 0) * lda;  // rows past `rows` are never stored
  const __mmask16 tail = __mmask16((1u << (k % 16)) - 1);
  for (int64_t p = 0; p < k; p += 16) {
    const __mmask16 m = p + 16 <= k ? __mmask16(0xffff) : tail;
    __m512 av[R];
#pragma GCC unroll 4
    for (int i = 0; i < R; ++i) av[i] = _mm512_maskz_loadu_ps(m, ar[i] + p);
#pragma GCC unroll 10
    for (int j = 0; j < N; ++j) {
      const __m512 bv = _mm512_maskz_loadu_ps(m, bt + j * ldbt + p);
#pragma GCC unroll 4
      for (int i = 0; i < R; ++i) acc[i][j] = _mm512_fmadd_ps(av[i], bv, acc[i][j]);
    }
  }
  // Constant indices only (fully unrolled), so the accumulators stay in registers.
  const __mmask16 cols = __mmask16((1u << N) - 1);
#pragma GCC unroll 4
  for (int i = 0; i < R; ++i) {
    if (i < rows) {
      __m512 r = _mm512_mul_ps(_mm512_set1_ps(alpha), lane_sums<N>(acc[i]));
      if (beta != 0.0f) r = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(cols, c + i * ldc), r);
      _mm512_mask_storeu_ps(c + i * ldc, cols, r);
    }
  }
}

template <int N>
void rowdot_rows(int64_t m, int64_t k, const float* a, int64_t lda, const float* bt, int64_t ldbt, float* c,
                 int64_t ldc, float alpha, float beta) {
  constexpr int R = (31 / (N + 1)) < 4 ? (31 / (N + 1)) : 4;
  for (int64_t i = 0; i < m; i += R)
    rowdot_tile<R, N>(k, a + i * lda, lda, bt, ldbt, c + i * ldc, ldc, alpha, beta, int(m - i < R ? m - i : R));
}

void sgemm_rowdot(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* bt, int64_t ldbt,
                  float* c, int64_t ldc, float alpha, float beta) {
  switch (n) {
#define GC_ROWDOT_CASE(N) \
  case N: rowdot_rows<N>(m, k, a, lda, bt, ldbt, c, ldc, alpha, beta); return;
    GC_ROWDOT_CASE(1) GC_ROWDOT_CASE(2) GC_ROWDOT_CASE(3) GC_ROWDOT_CASE(4) GC_ROWDOT_CASE(5)
    GC_ROWDOT_CASE(6) GC_ROWDOT_CASE(7) GC_ROWDOT_CASE(8) GC_ROWDOT_CASE(9) GC_ROWDOT_CASE(10)
#undef GC_ROWDOT_CASE
    default: return;
  }
}

// Direct (unpacked) tiles: A's rows and B's rows read in place. Rows past m reuse row 0's
// pointer (their results are never stored); columns past n are masked off (masked loads do
// not fault). One template for float (6 x 64) and double (6 x 32): V is the vector type.
template <class T>
struct Vec;
template <>
struct Vec<float> {
  using V = __m512;
  using M = __mmask16;
  static constexpr int kLanes = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V load(M m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(M m, float* p, V v) { _mm512_mask_storeu_ps(p, m, v); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
};
template <>
struct Vec<double> {
  using V = __m512d;
  using M = __mmask8;
  static constexpr int kLanes = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V set1(double x) { return _mm512_set1_pd(x); }
  static V load(M m, const double* p) { return _mm512_maskz_loadu_pd(m, p); }
  static void store(M m, double* p, V v) { _mm512_mask_storeu_pd(p, m, v); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
};

// TA: A is stored transposed (K x M), so the tile's six A values at step p are
// contiguous: a[p * lda + i] (the packed layout, with stride lda).
constexpr int64_t kDirectPrefetch = 8;
template <class T, bool TA>
void gemm_ukr_direct_6x4v(int64_t m, int64_t n, int64_t k, const T* __restrict a, int64_t lda,
                          const T* __restrict b, int64_t ldb, T* __restrict c, int64_t ldc, T alpha, T beta) {
  using W = Vec<T>;
  using V = typename W::V;
  using M = typename W::M;
  constexpr int L = W::kLanes;
  M mask[4];
  for (int j = 0; j < 4; ++j) {
    const int64_t cnt = n - j * L < 0 ? 0 : (n - j * L > L ? L : n - j * L);
    mask[j] = static_cast<M>((uint32_t(1) << cnt) - 1);
  }
  const T* r[6];
  for (int i = 0; i < 6; ++i) r[i] = a + (i < m ? i : 0) * (TA ? 1 : lda);
  V c00 = W::zero(), c01 = c00, c02 = c00, c03 = c00;
  V c10 = c00, c11 = c00, c12 = c00, c13 = c00;
  V c20 = c00, c21 = c00, c22 = c00, c23 = c00;
  V c30 = c00, c31 = c00, c32 = c00, c33 = c00;
  V c40 = c00, c41 = c00, c42 = c00, c43 = c00;
  V c50 = c00, c51 = c00, c52 = c00, c53 = c00;
  for (int64_t p = 0; p < k; ++p) {
    const T* bp = b + p * ldb;
    if (p + kDirectPrefetch < k) {
      const char* q = reinterpret_cast<const char*>(bp + kDirectPrefetch * ldb);
      _mm_prefetch(q, _MM_HINT_T0);
      _mm_prefetch(q + 64, _MM_HINT_T0);
      _mm_prefetch(q + 128, _MM_HINT_T0);
      _mm_prefetch(q + 192, _MM_HINT_T0);
      if (TA) _mm_prefetch(reinterpret_cast<const char*>(r[0] + (p + kDirectPrefetch) * lda), _MM_HINT_T0);
    }
    const V b0 = W::load(mask[0], bp), b1 = W::load(mask[1], bp + L);
    const V b2 = W::load(mask[2], bp + 2 * L), b3 = W::load(mask[3], bp + 3 * L);
    V ai;
#define GC_ROW(i)                          \
    ai = W::set1(TA ? r[i][p * lda] : r[i][p]); \
    c##i##0 = W::fma(ai, b0, c##i##0);     \
    c##i##1 = W::fma(ai, b1, c##i##1);     \
    c##i##2 = W::fma(ai, b2, c##i##2);     \
    c##i##3 = W::fma(ai, b3, c##i##3);
    GC_ROW(0) GC_ROW(1) GC_ROW(2) GC_ROW(3) GC_ROW(4) GC_ROW(5)
#undef GC_ROW
  }
  const V va = W::set1(alpha), vb = W::set1(beta);
  const bool zero_beta = beta == T(0);
#define GC_OUT(i, j)                                                              \
  if (i < m) {                                                                    \
    V v = W::mul(va, c##i##j);                                                    \
    if (!zero_beta) v = W::fma(vb, W::load(mask[j], c + i * ldc + j * L), v);     \
    W::store(mask[j], c + i * ldc + j * L, v);                                    \
  }
#define GC_OUT_ROW(i) GC_OUT(i, 0) GC_OUT(i, 1) GC_OUT(i, 2) GC_OUT(i, 3)
  GC_OUT_ROW(0) GC_OUT_ROW(1) GC_OUT_ROW(2) GC_OUT_ROW(3) GC_OUT_ROW(4) GC_OUT_ROW(5)
#undef GC_OUT_ROW
#undef GC_OUT
}

template <class T>
void gemm_ukr_direct(bool ta, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb,
                     T* c, int64_t ldc, T alpha, T beta) {
  if (ta) gemm_ukr_direct_6x4v<T, true>(m, n, k, a, lda, b, ldb, c, ldc, alpha, beta);
  else gemm_ukr_direct_6x4v<T, false>(m, n, k, a, lda, b, ldb, c, ldc, alpha, beta);
}

// 16 x 16 float transpose in registers: unpack pairs of rows (ps), then pairs of pairs (pd),
// then a 4 x 4 transpose of the 128-bit lanes. Edge blocks go element by element.
// (GCC 12's shuffle/unpack intrinsics pass an "undefined" vector that -Wmaybe-uninitialized
// reports as uninitialised once inlined: a known false positive, silenced here only.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
void transpose_f32(const float* __restrict src, int64_t lds, int64_t rows, int64_t cols, float* __restrict dst,
                   int64_t ldd) {
  int64_t r0 = 0;
  for (; r0 + 16 <= rows; r0 += 16) {
    int64_t c0 = 0;
    for (; c0 + 16 <= cols; c0 += 16) {
      const float* s = src + r0 * lds + c0;
      __m512 r[16], t[16], u[16];
      for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(s + i * lds);
      for (int i = 0; i < 8; ++i) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
      }
      for (int i = 0; i < 4; ++i) {
        const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
        const __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
        u[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));  // lane column 0 of rows 4i..4i+3
        u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));  // column 1
        u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));  // column 2
        u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));  // column 3
      }
      for (int k = 0; k < 4; ++k) {  // output rows 4 L + k gather lane L of u[k], u[4+k], u[8+k], u[12+k]
        const __m512 w0 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0x44), w1 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0xEE);
        const __m512 w2 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0x44);
        const __m512 w3 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0xEE);
        float* d = dst + (c0 + k) * ldd + r0;
        _mm512_storeu_ps(d, _mm512_shuffle_f32x4(w0, w2, 0x88));
        _mm512_storeu_ps(d + 4 * ldd, _mm512_shuffle_f32x4(w0, w2, 0xDD));
        _mm512_storeu_ps(d + 8 * ldd, _mm512_shuffle_f32x4(w1, w3, 0x88));
        _mm512_storeu_ps(d + 12 * ldd, _mm512_shuffle_f32x4(w1, w3, 0xDD));
      }
    }
    for (; c0 < cols; ++c0)
      for (int64_t i = r0; i < r0 + 16; ++i) dst[c0 * ldd + i] = src[i * lds + c0];
  }
  for (; r0 < rows; ++r0)
    for (int64_t c = 0; c < cols; ++c) dst[c * ldd + r0] = src[r0 * lds + c];
}
#pragma GCC diagnostic pop

// Non-temporal copy: 64-byte aligned destinations stream past the cache.
template <class T>
void stream_copy_avx512(const T* __restrict x, T* __restrict y, int64_t n) {
  const int64_t nb = n * static_cast<int64_t>(sizeof(T));
  int64_t i = 0;
  if ((reinterpret_cast<uintptr_t>(y) & 63) == 0) {
    const char* src = reinterpret_cast<const char*>(x);
    char* dst = reinterpret_cast<char*>(y);
    for (; i + 64 <= nb; i += 64)
      _mm512_stream_si512(reinterpret_cast<__m512i*>(dst + i), _mm512_loadu_si512(src + i));
    _mm_sfence();
  }
  for (int64_t e = i / static_cast<int64_t>(sizeof(T)); e < n; ++e) y[e] = x[e];
}


}  // namespace
}  // namespace avx512

void init_avx512(KernelTable& t) {
  t.isa = "avx512";
  t.fma_peak = avx512::fma_peak_loop<__m512, 16>;
  avx512::fill_portable(t.f32);
  avx512::fill_portable(t.f64);
  // Hand-written register-tiled micro-kernels (24 zmm accumulators); float32 also has the
  // 12x16 narrow tile (packed and row-reading forms), the vectorised transpose and the
  // row-dot tile for n <= 10.
  t.f32.gemm = {avx512::sgemm_ukr_6x64, 6, 64, avx512::sgemm_ukr_12x16, 12, 16, avx512::sgemm_ukr_12x16_rows,
                avx512::gemm_ukr_direct<float>, avx512::transpose_f32, avx512::sgemm_rowdot, 10};
  t.f64.gemm = {avx512::dgemm_ukr_6x32, 6, 32, nullptr, 6, 32, nullptr, avx512::gemm_ukr_direct<double>, nullptr};
  t.f32.stream_copy = avx512::stream_copy_avx512<float>;
  t.f64.stream_copy = avx512::stream_copy_avx512<double>;
}

}  // namespace gradcore

// AVX2 + FMA kernels (compiled with -mavx2 -mfma). Everything sits in an anonymous
// namespace so nothing here can be merged into baseline code (PACKAGING.md).
#include <immintrin.h>

#include "kernels/kernels.h"

namespace gradcore {
namespace avx2 {
namespace {
#define GC_FAST_MATH 1  // vectorised float32 exp/log/tanh (kernels_impl.inc)
#include "kernels/kernels_impl.inc"

// sgemm micro-kernel, 6 x 16 (BLIS haswell shape): 12 ymm accumulators, 2 B loads and
// 6 broadcasts per k step.
void sgemm_ukr_6x16(int64_t k, const float* __restrict a, const float* __restrict b, float* __restrict c,
                    int64_t ldc, float alpha, float beta) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int64_t p = 0; p < k; ++p) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    __m256 ai;
#define GC_ROW(i)                                 \
    ai = _mm256_broadcast_ss(a + i);              \
    c##i##0 = _mm256_fmadd_ps(ai, b0, c##i##0);   \
    c##i##1 = _mm256_fmadd_ps(ai, b1, c##i##1);
    GC_ROW(0) GC_ROW(1) GC_ROW(2) GC_ROW(3) GC_ROW(4) GC_ROW(5)
#undef GC_ROW
    a += 6;
    b += 16;
  }
  const __m256 va = _mm256_set1_ps(alpha);
  const __m256 vb = _mm256_set1_ps(beta);
  const bool zero_beta = beta == 0.0f;
#define GC_OUT(i, j)                                                                                 \
  {                                                                                                  \
    __m256 r = _mm256_mul_ps(va, c##i##j);                                                           \
    if (!zero_beta) r = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + i * ldc + 8 * j), r);                \
    _mm256_storeu_ps(c + i * ldc + 8 * j, r);                                                        \
  }
  GC_OUT(0, 0) GC_OUT(0, 1) GC_OUT(1, 0) GC_OUT(1, 1) GC_OUT(2, 0) GC_OUT(2, 1)
  GC_OUT(3, 0) GC_OUT(3, 1) GC_OUT(4, 0) GC_OUT(4, 1) GC_OUT(5, 0) GC_OUT(5, 1)
#undef GC_OUT
}

// dgemm micro-kernel, 6 x 8: 12 ymm accumulators of 4 doubles.
void dgemm_ukr_6x8(int64_t k, const double* __restrict a, const double* __restrict b, double* __restrict c,
                   int64_t ldc, double alpha, double beta) {
  __m256d c00 = _mm256_setzero_pd(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256d c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int64_t p = 0; p < k; ++p) {
    const __m256d b0 = _mm256_load_pd(b), b1 = _mm256_load_pd(b + 4);
    __m256d ai;
#define GC_ROW(i)                                 \
    ai = _mm256_broadcast_sd(a + i);              \
    c##i##0 = _mm256_fmadd_pd(ai, b0, c##i##0);   \
    c##i##1 = _mm256_fmadd_pd(ai, b1, c##i##1);
    GC_ROW(0) GC_ROW(1) GC_ROW(2) GC_ROW(3) GC_ROW(4) GC_ROW(5)
#undef GC_ROW
    a += 6;
    b += 8;
  }
  const __m256d va = _mm256_set1_pd(alpha);
  const __m256d vb = _mm256_set1_pd(beta);
  const bool zero_beta = beta == 0.0;
#define GC_OUT(i, j)                                                                                 \
  {                                                                                                  \
    __m256d r = _mm256_mul_pd(va, c##i##j);                                                          \
    if (!zero_beta) r = _mm256_fmadd_pd(vb, _mm256_loadu_pd(c + i * ldc + 4 * j), r);                \
    _mm256_storeu_pd(c + i * ldc + 4 * j, r);                                                        \
  }
  GC_OUT(0, 0) GC_OUT(0, 1) GC_OUT(1, 0) GC_OUT(1, 1) GC_OUT(2, 0) GC_OUT(2, 1)
  GC_OUT(3, 0) GC_OUT(3, 1) GC_OUT(4, 0) GC_OUT(4, 1) GC_OUT(5, 0) GC_OUT(5, 1)
#undef GC_OUT
}


}  // namespace
}  // namespace avx2

void init_avx2(KernelTable& t) {
  t.isa = "avx2";
  t.fma_peak = avx2::fma_peak_loop<__m256, 8>;
  avx2::fill_portable(t.f32);
  avx2::fill_portable(t.f64);
  // Hand-written register-tiled micro-kernels (BLIS haswell's 6x16 / 6x8 tiles).
  t.f32.gemm = {avx2::sgemm_ukr_6x16, 6, 16, nullptr, 6, 16, nullptr, nullptr, nullptr};
  t.f64.gemm = {avx2::dgemm_ukr_6x8, 6, 8, nullptr, 6, 8, nullptr, nullptr, nullptr};
}

}  // namespace gradcore

// ulp_check.cpp — max ulp error of the vectorised float32 math functions of
// csrc/kernels/vmath.inc (GC_FAST_MATH) against the double libm result, over every float32
// bit pattern (--all) or one pattern in 16 with varying low bits plus special values (the
// default). Built by tools/ulp_check.sh once per ISA flag set, including vmath.inc inside an
// anonymous namespace exactly as the kernel units do.
//
//   ulp_check [--all] [--threads N] [function ...]     exit status 1 if any is above 2 ulp
//
// Error of a result y at argument x: |y - ref| / ulp(float(ref)), where ref is the double
// libm value and ulp(a) = the float spacing above |a| (2^-149 at 0), as in
// tests/test_kernels.py, except that a result equal to float(ref) counts its true distance
// (<= 0.5: correctly rounded) where the test counts 0; NaN for NaN and equal infinities count
// 0, a NaN mismatch or a wrong sign of a zero result counts as an infinite error.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#ifdef __AVX512F__
#include <immintrin.h>
#endif

namespace {
#define GC_FAST_MATH 1
#include "kernels/vmath.inc"
#ifdef __AVX512F__
// The avx512 unit runs its own loops for these (kernels_impl.inc, GC_VMATH_AVX512).
#include "kernels/avx512/vmath_avx512.inc"
#define GC_V512(FN) static void loop(const float* x, float* y, int64_t n) { FN(x, y, n); }
#else
#define GC_V512(FN)
#endif

// exact_to: the |x| up to which the ulp bound is claimed (all of float by default).
struct Base { static constexpr float exact_to = INFINITY; };
struct FExp : Base { static float f(float x) { return k_exp(x); } static double r(double x) { return std::exp(x); } GC_V512(v512_exp_loop) };
struct FLog : Base { static float f(float x) { return k_log(x); } static double r(double x) { return std::log(x); } GC_V512(v512_log_loop) };
// sin/cos: the blocked loop (float reduction; blocks with a far argument go to libm).
struct FSin : Base {
  static float f(float x) { return k_sin(x); }
  static double r(double x) { return std::sin(x); }
  static void loop(const float* x, float* y, int64_t n) { k_sincos_loop(x, y, n, 0); }
};
struct FCos : Base {
  static float f(float x) { return k_cos(x); }
  static double r(double x) { return std::cos(x); }
  static void loop(const float* x, float* y, int64_t n) { k_sincos_loop(x, y, n, 1); }
};
struct FTanh : Base { static float f(float x) { return k_tanh(x); } static double r(double x) { return std::tanh(x); } GC_V512(v512_tanh_loop) };
struct FSigmoid : Base {
  static float f(float x) { return k_sigmoid(x); }
  static double r(double x) { return 1.0 / (1.0 + std::exp(-x)); }
  GC_V512(v512_sigmoid_loop)
};
struct FExpm1 : Base { static float f(float x) { return k_expm1(x); } static double r(double x) { return std::expm1(x); } };
struct FLog1p : Base { static float f(float x) { return k_log1p(x); } static double r(double x) { return std::log1p(x); } GC_V512(v512_log1p_loop) };
struct FErf : Base { static float f(float x) { return k_erf(x); } static double r(double x) { return std::erf(x); } GC_V512(v512_erf_loop) };
struct FErfc : Base { static float f(float x) { return k_erfc(x); } static double r(double x) { return std::erfc(x); } };

// The loop the kernel units run (unary_loop): this is what must vectorise.
// A function with its own loop (F::loop) is checked through that loop.
template <class F, class = void> struct HasLoop { static constexpr bool value = false; };
template <class F> struct HasLoop<F, decltype(void(&F::loop))> { static constexpr bool value = true; };
template <class F>
__attribute__((noinline)) void apply(const float* x, float* y, int64_t n) {
  if constexpr (HasLoop<F>::value) {
    F::loop(x, y, n);
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = F::f(x[i]);
  }
}

double ulp_err(float got, double ref) {
  const float r32 = static_cast<float>(ref);
  if (std::isnan(got) || std::isnan(r32)) return std::isnan(got) && std::isnan(r32) ? 0.0 : INFINITY;
  if (got == r32) {
    if (got == 0.0f && ref == 0.0 && std::signbit(got) != std::signbit(ref)) return INFINITY;
    if (std::isinf(got)) return 0.0;
  } else if (std::isinf(got)) {
    return INFINITY;
  }
  const float a = std::fabs(r32);
  double sp = a == INFINITY ? std::ldexp(1.0, 104) : static_cast<double>(std::nextafter(a, INFINITY) - a);
  if (sp == 0.0) sp = std::ldexp(1.0, -149);
  return std::fabs(static_cast<double>(got) - ref) / sp;
}

struct Result {
  double max_err = 0.0;
  uint32_t worst = 0;
  uint64_t over1 = 0, over2 = 0, count = 0, bounded = 0;
  void merge(const Result& o) {
    if (o.max_err > max_err) { max_err = o.max_err; worst = o.worst; }
    over1 += o.over1; over2 += o.over2; count += o.count; bounded += o.bounded;
  }
};

template <class F>
void check_block(const uint32_t* bits, int64_t n, Result& res) {
  std::vector<float> x(n), y(n);
  std::memcpy(x.data(), bits, n * 4);
  apply<F>(x.data(), y.data(), n);
  for (int64_t i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    double e;
    if (ax > F::exact_to && ax != INFINITY) {  // beyond the claimed range: finite, in [-1, 1]
      e = std::isfinite(y[i]) && std::fabs(y[i]) <= 1.0f ? 0.0 : INFINITY;
      ++res.bounded;
    } else {
      e = ulp_err(y[i], F::r(static_cast<double>(x[i])));
    }
    if (e > 1.0) ++res.over1;
    if (e > 2.0) ++res.over2;
    if (e > res.max_err) { res.max_err = e; res.worst = bits[i]; }
  }
  res.count += n;
}

float from_bits(uint32_t b) { float f; std::memcpy(&f, &b, 4); return f; }

template <class F>
Result run(bool all, int threads) {
  const uint64_t stride = all ? 1 : 16;
  const uint64_t total = (uint64_t(1) << 32) / stride;
  const uint64_t block = 1 << 16;
  std::vector<Result> part(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::vector<uint32_t> b(block);
      for (uint64_t start = uint64_t(t) * block; start < total; start += uint64_t(threads) * block) {
        const uint64_t n = total - start < block ? total - start : block;
        for (uint64_t i = 0; i < n; ++i) {
          const uint64_t k = start + i;
          // one pattern per group of 16, its low 4 bits varying from group to group
          b[i] = static_cast<uint32_t>(k * stride + (stride == 1 ? 0 : ((k * 2654435761u) >> 7) % stride));
        }
        check_block<F>(b.data(), static_cast<int64_t>(n), part[t]);
      }
    });
  }
  for (auto& th : pool) th.join();
  Result res;
  for (auto& p : part) res.merge(p);
  if (!all) {  // special values and their neighbours, every denormal power of two
    std::vector<uint32_t> s = {0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffc00000u,
                               0x7f7fffffu, 0xff7fffffu, 0x00800000u, 0x80800000u, 0x007fffffu, 0x807fffffu,
                               0x3f800000u, 0xbf800000u};
    for (int e = 0; e < 23; ++e) { s.push_back(1u << e); s.push_back(0x80000000u | (1u << e)); }
    for (uint32_t base : {0x3f800000u, 0xbf800000u, 0x42b17218u, 0xc2aeac50u, 0xc2cff1b5u, 0x4e800000u, 0xce800000u})
      for (uint32_t d = 0; d < 64; ++d) { s.push_back(base + d); s.push_back(base - d); }
    Result r2;
    check_block<F>(s.data(), static_cast<int64_t>(s.size()), r2);
    res.merge(r2);
  }
  return res;
}

template <class F>
bool report(const char* name, bool all, int threads) {
  const Result r = run<F>(all, threads);
  const float x = from_bits(r.worst);
  const float got = F::f(x);
  std::printf("%-8s max %.3f ulp at x = %.9g (0x%08x): got %.9g, ref %.17g; >1 ulp: %llu, >2 ulp: %llu of %llu",
              name, r.max_err, x, r.worst, got, F::r(x), (unsigned long long)r.over1,
              (unsigned long long)r.over2, (unsigned long long)r.count);
  if (r.bounded) std::printf(" (%llu beyond |x| = %g: finite and in [-1, 1] only)", (unsigned long long)r.bounded, F::exact_to);
  std::printf("\n");
  std::fflush(stdout);
  return r.max_err <= 2.0;
}
}  // namespace

int main(int argc, char** argv) {
  bool all = false;
  int threads = 2;
  std::vector<const char*> names;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--all")) all = true;
    else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = std::atoi(argv[++i]);
    else names.push_back(argv[i]);
  }
  auto want = [&](const char* n) {
    if (names.empty()) return true;
    for (auto* w : names) if (!std::strcmp(w, n)) return true;
    return false;
  };
  bool ok = true;
#define GC_CHECK(name, F) if (want(name)) ok = report<F>(name, all, threads) && ok;
  GC_CHECK("exp", FExp) GC_CHECK("log", FLog) GC_CHECK("sin", FSin) GC_CHECK("cos", FCos)
  GC_CHECK("tanh", FTanh) GC_CHECK("sigmoid", FSigmoid) GC_CHECK("expm1", FExpm1) GC_CHECK("log1p", FLog1p)
  GC_CHECK("erf", FErf) GC_CHECK("erfc", FErfc)
#undef GC_CHECK
  return ok ? 0 : 1;  // 1: some function is above 2 ulp
}

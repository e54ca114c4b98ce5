// Generic (baseline-ISA) kernels: every table entry; the fallback and the test oracle.
#include "kernels/kernels.h"

namespace gradcore {
namespace {
#include "kernels/kernels_impl.inc"
}  // namespace

void init_generic(KernelTable& t) {
  t.isa = "generic";
  t.fma_peak = fma_peak_loop<gc_v4f, 4>;
  fill_portable(t.f32);
  fill_portable(t.f64);
  // Register tiles for SSE2-width registers (block sizes: kernels/gemm_plan.h).
  t.f32.gemm = portable_gemm<float, 4, 8>();
  t.f64.gemm = portable_gemm<double, 4, 4>();
}

}  // namespace gradcore

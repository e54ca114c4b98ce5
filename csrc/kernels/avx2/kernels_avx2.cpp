// AVX2 + FMA kernels (compiled with -mavx2 -mfma). Everything sits in an anonymous
// namespace so nothing here can be merged into baseline code (PACKAGING.md).
#include "kernels/kernels.h"

namespace gradcore {
namespace avx2 {
namespace {
#include "kernels/kernels_impl.inc"
}  // namespace
}  // namespace avx2

void init_avx2(KernelTable& t) {
  t.isa = "avx2";
  // 6x16 float / 6x8 double: 12 ymm accumulators (BLIS haswell shapes).
  avx2::fill_portable<float, 6, 16>(t.f32, 144, 256, 4080);
  avx2::fill_portable<double, 6, 8>(t.f64, 72, 256, 4080);
}

}  // namespace gradcore

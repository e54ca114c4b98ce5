// AVX-512 kernels (compiled with -mavx512f/bw/dq/vl). Everything sits in an anonymous
// namespace so nothing here can be merged into baseline code (PACKAGING.md).
#include "kernels/kernels.h"

namespace gradcore {
namespace avx512 {
namespace {
#include "kernels/kernels_impl.inc"
}  // namespace
}  // namespace avx512

void init_avx512(KernelTable& t) {
  t.isa = "avx512";
  // 6x32 float / 6x16 double: 12 zmm accumulators.
  avx512::fill_portable<float, 6, 32>(t.f32, 144, 256, 4096);
  avx512::fill_portable<double, 6, 16>(t.f64, 72, 256, 4096);
}

}  // namespace gradcore

// Generic (baseline-ISA) kernels: every table entry; the fallback and the test oracle.
#include "kernels/kernels.h"

namespace gradcore {
namespace {
#include "kernels/kernels_impl.inc"
}  // namespace

void init_generic(KernelTable& t) {
  t.isa = "generic";
  // BLIS-style blocks sized for SSE2-width registers.
  fill_portable<float, 4, 8>(t.f32, 128, 256, 4096);
  fill_portable<double, 4, 4>(t.f64, 96, 256, 4096);
}

}  // namespace gradcore

// gemm_plan.h — the GEMM planner: (shape, transposes, micro-kernel, machine) -> a plan
// (path, cache blocks, thread count). Pure: it reads nothing but its arguments, so tests
// plan any shape on any simulated machine without running a kernel (gc._core._gemm_plan).
// gemm.cpp executes a plan; gemm_machine() describes the machine the process runs on.
//
// Paths, in the order the planner tries them (the numbers are in gemm_plan.cpp):
//   scale          K == 0 or alpha == 0: C = beta C
//   direct         the main tile reads A and B in place (no packing): B not transposed,
//                  and K short or the operand re-read from cache within one core's L2
//   transpose      B^T: one vectorised transpose of B into scratch, then direct
//   small          tiny products and GEMV-like ones (M <= 4): unpacked row loops
//   narrow_rows    skinny products (N <= the narrow tile's width): B packed once, A read
//                  in place by the narrow tile
//   packed         BLIS's five loops around the main (or narrow) micro-kernel, with
//                  packed A blocks (MC x KC, in L2) and B panels (KC x NC, in L3)
#pragma once
#include <cstdint>

#include "kernels/kernels.h"

namespace gradcore::kernels {

// Cache blocks of the packed path (MC multiple of MR, NC multiple of NR).
struct GemmBlocking {
  int64_t mc = 0, kc = 0, nc = 0;
};

// One core's share of each cache level, in bytes.
struct GemmCaches {
  int64_t l1d = 0, l2 = 0, l3 = 0;
};

// What the planner needs of a GemmConfig (kernels.h), dtype aside.
struct GemmCaps {
  int elem_size = 4;
  int mr = 1, nr = 1, mr_narrow = 1, nr_narrow = 1, rowdot_max_n = 0;
  bool narrow = false, narrow_rows = false, direct = false, transpose = false, rowdot = false;
};

template <class T>
GemmCaps caps_of(const GemmConfig<T>& g) {
  GemmCaps c;
  c.elem_size = sizeof(T);
  c.mr = g.mr;
  c.nr = g.nr;
  c.mr_narrow = g.mr_narrow;
  c.nr_narrow = g.nr_narrow;
  c.narrow = g.ukr_narrow != nullptr;
  c.narrow_rows = g.ukr_narrow_rows != nullptr;
  c.direct = g.ukr_direct != nullptr;
  c.transpose = g.transpose != nullptr;
  c.rowdot = g.ukr_rowdot != nullptr;
  c.rowdot_max_n = g.rowdot_max_n;
  return c;
}

// The machine as the planner sees it.
struct GemmMachine {
  GemmCaches caches;
  GemmBlocking override_blocking;  // GRADCORE_GEMM_BLOCKING: fields > 0 replace the derived ones
  int threads = 1;                 // the pool's size
  double pool_fixed_ns = 0;        // a parallel job's cost beyond its work (cpu::pool_cost):
  double pool_per_byte_ns = 0;     //   fixed, and per byte the workers read from the caller
  double fma_per_ns = 0;           // one thread's multiply-adds per ns in the micro-kernel
};

enum GemmPath : int { GEMM_SCALE = 0, GEMM_DIRECT, GEMM_TRANSPOSE, GEMM_SMALL, GEMM_NARROW_ROWS, GEMM_PACKED, GEMM_ROWDOT };
const char* gemm_path_name(GemmPath p);

struct GemmPlan {
  GemmPath path = GEMM_SCALE;
  bool narrow = false;     // packed: with the narrow micro-kernel
  GemmBlocking blocking;   // the cache blocks the machine gives this micro-kernel
  int64_t kc = 0;          // packed and direct: K in equal passes of kc
  int64_t mc = 0;          // packed: M in equal blocks of mc rows
  int64_t ngroups = 1;     // packed: B panel groups per M block (threads share few M blocks)
  int threads = 1;         // 1: everything on the calling thread
};

// BLIS's analytical model (Low et al., "Analytical modeling is enough for high-performance
// BLIS", 2016) fitted to this library's macro-kernel, whose wide tiles (NR = 64 floats)
// stream the B micro-panel from L2 while the A micro-panel stays in L1; one core's caches:
//   KC: the A micro-panel (MR x KC) in 3/4 of L1d, and the B micro-panel (KC x NR) in a
//       quarter of L2, whichever is smaller (longer KC: fewer passes over the C tiles)
//   MC: the A block (MC x KC) and one B micro-panel (KC x NR) in 5/8 of L2
//   NC: the B panel (KC x NC) in half of the core's L3 share, at most 4096
// rounded to multiples of 16 (KC), MR (MC) and NR (NC), within sane bounds. On Zen 5
// (48 KiB L1d, 1 MiB L2) this gives the float32 blocks tuned there by hand (KC 1024, MC
// 96); measured on Zen 4 (32 KiB L1d), float32 KC 672 is 3-4 % slower than 1024 at 1024^3
// and float64 KC 256 4-5 % slower than 512 (gemm_plan_test shapes, 1 thread).
GemmBlocking derive_blocking(int mr, int nr, int elem_size, const GemmCaches& c);
// derive_blocking, then the machine's override fields.
GemmBlocking machine_blocking(int mr, int nr, int elem_size, const GemmMachine& m);

GemmPlan plan_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, bool alpha_zero, const GemmCaps& caps,
                   const GemmMachine& m);

// Threads worth waking for `fmas` multiply-adds at `m.fma_per_ns` over `bytes` of operands
// (Note [Threads that pay], cpu/parallel.h).
int gemm_threads(double fmas, double bytes, const GemmMachine& m);
int64_t moved_bytes(int64_t M, int64_t N, int64_t K, int elem_size);

// The process's machine: detected (or simulated) caches, the override, the pool. The
// micro-kernel rate is measured once per micro-kernel on first use by gemm.cpp.
GemmMachine gemm_machine();
// Tests: plan as if the caches were these (bytes per core); all zero restores the detected.
void set_simulated_caches(int64_t l1d, int64_t l2, int64_t l3);
bool caches_simulated();
// GRADCORE_GEMM_BLOCKING as parsed ("mc=96,kc=512,nc=4096", any subset); throws
// ValueError on a malformed value.
GemmBlocking blocking_override();

}  // namespace gradcore::kernels

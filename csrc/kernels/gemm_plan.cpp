// gemm_plan.cpp — see gemm_plan.h. Every threshold of the GEMM driver lives here.
#include "kernels/gemm_plan.h"

#include <atomic>
#include <cstdlib>
#include <string>

#include "core/check.h"
#include "cpu/cpuid.h"
#include "cpu/parallel.h"

namespace gradcore::kernels {
namespace {

int64_t round_down(int64_t v, int64_t m) { return v / m * m; }
int64_t clamp(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

// The direct tile sums K in equal passes of at most this many (its B rows and A rows of
// one pass stay in L2 while its row tiles sweep them).
constexpr int64_t kDirectKC = 512;
// The direct tile replaces packing (B not transposed) for K <= kDirectMaxK always, and
// for longer K while the operand it re-reads from cache (the smaller of A and B, see
// gemm_direct) is at most kDirectRereadL2 times one core's L2 (the hardware prefetcher
// streams the rest). Measured on a 1 MiB-L2 Zen 5, float32, 1 thread: direct is 1.6x
// faster at 64^3, 1.3x at 128^3, 1.07x at 512^3 and (512, 784, 512), 1.45x for A^T
// (784, 128, 512), 1.12x at (256, 1024, 1024); at 1024^3 (4 MiB operands) packing is 5 %
// faster, at 2048^3 15 %. On an AVX-512 Intel core (2 MiB L2), with the tile prefetching
// B's rows (its hardware prefetcher does not follow a 4 KiB row stride), direct is 1.03x
// faster than packing at 512^3 and 1.09x at (128, 784, 512), but 1.2x slower at 1000^3
// (4 MB operands, within 2 of its L2s) and 2.3x slower at 1024^3 (B's rows alias in L2):
// hence one L2, not two.
constexpr int64_t kDirectMaxK = 512;
constexpr int64_t kDirectRereadL2 = 1;
// The row-dot tile (K along the lanes) for N <= its max, A not transposed, from this K up
// (below, its K lanes would be mostly masked off). Measured on Zen 4, float32, 1 thread:
// (128, 10, 256) 8.7 us against 13.5 us with the 12x16 narrow tile; (128, 1, 256) 3.2 us
// against 109 us with the row loops.
constexpr int64_t kRowdotMinK = 32;
// B^T through a transpose + the direct tile from this many rows of C (below, the GEMV-like
// small path reads B's rows in place). Measured, float32 1 thread: 2x faster than packing
// at M = 8, 1.6x at 16, 1.2-1.4x at 128 (512 x 784 and 1024 x 1024 B).
constexpr int64_t kTransposeMinM = 5;
// The unpacked row loops: products up to this many multiply-adds, and up to this many rows.
constexpr int64_t kSmallMaxWork = 32 * 32 * 32;
constexpr int64_t kSmallMaxM = 4;


std::atomic<int64_t> g_sim_l1d{0}, g_sim_l2{0}, g_sim_l3{0};

GemmBlocking parse_override() {
  GemmBlocking b;
  const char* env = std::getenv("GRADCORE_GEMM_BLOCKING");
  if (!env || !*env) return b;
  const std::string s(env);
  size_t p = 0;
  while (p <= s.size()) {
    size_t comma = s.find(',', p);
    std::string item = s.substr(p, comma == std::string::npos ? std::string::npos : comma - p);
    size_t eq = item.find('=');
    GC_CHECK(eq != std::string::npos, ValueError, "GRADCORE_GEMM_BLOCKING='", s,
             "': expected comma-separated mc=N, kc=N, nc=N (e.g. 'mc=96,kc=512,nc=4096')");
    const std::string key = item.substr(0, eq), val = item.substr(eq + 1);
    char* end = nullptr;
    long long v = std::strtoll(val.c_str(), &end, 10);
    GC_CHECK(!val.empty() && end && *end == '\0' && v >= 1 && v <= (1 << 20), ValueError,
             "GRADCORE_GEMM_BLOCKING='", s, "': '", item, "' needs a whole number in [1, 1048576]");
    if (key == "mc") b.mc = v;
    else if (key == "kc") b.kc = v;
    else if (key == "nc") b.nc = v;
    else GC_CHECK(false, ValueError, "GRADCORE_GEMM_BLOCKING='", s, "': unknown block '", key, "' (mc, kc or nc)");
    if (comma == std::string::npos) break;
    p = comma + 1;
  }
  return b;
}

}  // namespace

// The operand bytes a split makes the workers fetch from another core's cache: all but
// the largest operand. The largest (a layer's weights, or the batch of activations a
// skinny layer reads) is re-read in the same shares call after call, so in a loop each
// thread keeps its share in its own cache; the others (fresh activations, the output)
// move. Measured, float32, 2 threads on Zen 4: (16, 784, 128) runs 1.5x faster split,
// which counting every byte would have refused.
int64_t moved_bytes(int64_t M, int64_t N, int64_t K, int elem_size) {
  const int64_t a = M * K, b = K * N, c = M * N;
  const int64_t largest = a > b ? (a > c ? a : c) : (b > c ? b : c);
  return (a + b + c - largest) * elem_size;
}

const char* gemm_path_name(GemmPath p) {
  switch (p) {
    case GEMM_SCALE: return "scale";
    case GEMM_DIRECT: return "direct";
    case GEMM_TRANSPOSE: return "transpose";
    case GEMM_SMALL: return "small";
    case GEMM_NARROW_ROWS: return "narrow_rows";
    case GEMM_ROWDOT: return "rowdot";
    case GEMM_PACKED: return "packed";
  }
  return "?";
}

GemmBlocking derive_blocking(int mr, int nr, int elem_size, const GemmCaches& c) {
  GemmBlocking b;
  const int64_t s = elem_size;
  const int64_t kc_l1 = c.l1d * 3 / 4 / (mr * s), kc_l2 = c.l2 / (4 * nr * s);
  b.kc = clamp(round_down(kc_l1 < kc_l2 ? kc_l1 : kc_l2, 16), 64, 1024);
  b.mc = clamp(round_down((c.l2 * 5 / 8 - b.kc * nr * s) / (b.kc * s), mr), mr, 1024 / mr * mr);
  b.nc = clamp(round_down(c.l3 / (2 * b.kc * s), nr), 4 * int64_t(nr), 4096 / nr * nr);
  return b;
}

GemmBlocking machine_blocking(int mr, int nr, int elem_size, const GemmMachine& m) {
  GemmBlocking b = derive_blocking(mr, nr, elem_size, m.caches);
  const GemmBlocking& o = m.override_blocking;
  if (o.kc > 0) b.kc = o.kc;
  if (o.mc > 0) b.mc = (o.mc + mr - 1) / mr * mr;
  if (o.nc > 0) b.nc = (o.nc + nr - 1) / nr * nr;
  return b;
}

int gemm_threads(double fmas, double bytes, const GemmMachine& m) {
  if (m.threads <= 1) return 1;
  if (!(m.fma_per_ns > 0) || !(m.pool_fixed_ns > 0)) return m.threads;  // nothing measured
  return cpu::split_threads(fmas / m.fma_per_ns, bytes, m.threads, cpu::PoolCost{m.pool_fixed_ns, m.pool_per_byte_ns});
}

GemmPlan plan_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, bool alpha_zero, const GemmCaps& caps,
                   const GemmMachine& m) {
  GemmPlan plan;
  plan.blocking = machine_blocking(caps.mr, caps.nr, caps.elem_size, m);
  if (M <= 0 || N <= 0 || K <= 0 || alpha_zero) return plan;  // scale
  const double work = double(M) * double(N) * double(K);
  plan.threads = gemm_threads(work, double(moved_bytes(M, N, K, caps.elem_size)), m);
  if (caps.rowdot && !ta && N <= caps.rowdot_max_n && K >= kRowdotMinK) {
    plan.path = GEMM_ROWDOT;
    return plan;
  }
  // Skinny products (N within the narrow tile) keep the narrow tile: the direct tile would
  // spend three quarters of its FMAs on masked-off columns.
  const bool skinny = caps.narrow_rows && !ta && N <= caps.nr_narrow && M > kSmallMaxM;
  const bool direct_fits =
      K <= kDirectMaxK || (M < N ? M : N) * K * int64_t(caps.elem_size) <= kDirectRereadL2 * m.caches.l2;
  if (caps.direct && direct_fits && !skinny && (!tb || (caps.transpose && M >= kTransposeMinM))) {
    plan.path = tb ? GEMM_TRANSPOSE : GEMM_DIRECT;
    const int64_t kpasses = (K + kDirectKC - 1) / kDirectKC;
    plan.kc = (K + kpasses - 1) / kpasses;
    return plan;
  }
  if (M * N * K <= kSmallMaxWork || M <= kSmallMaxM) {
    plan.path = GEMM_SMALL;
    return plan;
  }
  if (caps.narrow_rows && !ta && N <= caps.nr_narrow) {
    plan.path = GEMM_NARROW_ROWS;
    return plan;
  }
  plan.path = GEMM_PACKED;
  plan.narrow = caps.narrow && N <= caps.nr_narrow;
  const int64_t mr = plan.narrow ? caps.mr_narrow : caps.mr, nr = plan.narrow ? caps.nr_narrow : caps.nr;
  // K in equal passes of at most KC (K = 512 with KC 384 would otherwise leave a short
  // second pass that pays the C-tile traffic for little work).
  const int64_t kpasses = (K + plan.blocking.kc - 1) / plan.blocking.kc;
  plan.kc = (K + kpasses - 1) / kpasses;
  // M blocks: at most MC rows, equal sizes (multiples of mr), and a multiple of the
  // thread count when M is small, so no thread idles behind a short last block.
  const int64_t t = plan.threads;
  int64_t mblocks = (M + plan.blocking.mc - 1) / plan.blocking.mc;
  if (t > 1 && mblocks > 1 && mblocks % t) mblocks += t - mblocks % t;
  plan.mc = ((M + mblocks - 1) / mblocks + mr - 1) / mr * mr;
  // Few M blocks (small batches): also split the B panels (the jr loop) into groups, so
  // every thread has work; each task packs its own copy of its (small) A block.
  const int64_t nblocks = (M + plan.mc - 1) / plan.mc;
  const int64_t nc = N < plan.blocking.nc ? N : plan.blocking.nc;
  const int64_t npanels = (nc + nr - 1) / nr;
  int64_t ngroups = t > 1 && nblocks < 2 * t ? (2 * t + nblocks - 1) / nblocks : 1;
  plan.ngroups = ngroups > npanels ? npanels : ngroups;
  return plan;
}

void set_simulated_caches(int64_t l1d, int64_t l2, int64_t l3) {
  g_sim_l1d.store(l1d);
  g_sim_l2.store(l2);
  g_sim_l3.store(l3);
}

bool caches_simulated() { return g_sim_l1d.load() > 0; }

GemmBlocking blocking_override() {
  static const GemmBlocking b = parse_override();
  return b;
}

GemmMachine gemm_machine() {
  GemmMachine m;
  if (caches_simulated()) {
    m.caches = {g_sim_l1d.load(), g_sim_l2.load(), g_sim_l3.load()};
  } else {
    const cpu::CacheInfo& c = cpu::detected_caches();
    m.caches = {c.l1d, c.l2, c.l3 / (c.l3_sharing > 0 ? c.l3_sharing : 1)};
  }
  m.override_blocking = blocking_override();
  m.threads = cpu::get_num_threads();
  if (m.threads > 1) {
    const cpu::PoolCost c = cpu::pool_cost();
    m.pool_fixed_ns = c.fixed_ns;
    m.pool_per_byte_ns = c.per_byte_ns;
  }
  return m;
}

}  // namespace gradcore::kernels

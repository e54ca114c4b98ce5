#include "kernels/dispatch.h"

#include <atomic>
#include <cstdlib>

#include "core/check.h"
#include "cpu/cpuid.h"
#include "cpu/fork.h"

namespace gradcore::kernels {
namespace {

// Only levels the CPU supports are ever built: an init_<isa> runs code compiled with
// that ISA's flags.
KernelTable make_table(int level) {
  KernelTable t{};
  init_generic(t);
#if defined(GRADCORE_X86)
  if (level >= 1) init_avx2(t);
  if (level >= 2) init_avx512(t);
#endif
  return t;
}

// One table per level, built once; `g_table` points at the chosen one.
KernelTable g_tables[3];
std::atomic<const KernelTable*> g_table{nullptr};

int level_of(const std::string& isa) {
  if (isa == "generic") return 0;
  if (isa == "avx2") return 1;
  if (isa == "avx512") return 2;
  return -1;
}

const KernelTable* init_tables() {
  auto isas = supported_isas();
  int best = static_cast<int>(isas.size()) - 1;
  for (int level = 0; level <= best; ++level) g_tables[level] = make_table(level);
  int chosen = best;
  if (const char* env = std::getenv("GRADCORE_ISA")) {
    int want = level_of(env);
    if (want >= 0 && want < chosen) chosen = want;
  }
  return &g_tables[chosen];
}

// A fork while another thread builds the tables (their function-local static) would leave
// the child waiting for that initialisation for ever: prepare completes it first.
[[maybe_unused]] const bool g_fork_registered =
    cpu::register_fork_lock(cpu::FORK_RANK_STATICS, [] { active(); }, nullptr, nullptr);

}  // namespace

std::vector<std::string> supported_isas() {
  std::vector<std::string> out{"generic"};
#if defined(GRADCORE_X86)
  static const cpu::CpuFeatures f = cpu::detect_cpu_features();
  if (f.avx2_fma) out.push_back("avx2");
  if (f.avx512) out.push_back("avx512");
#endif
  return out;
}

const KernelTable& active() {
  const KernelTable* t = g_table.load(std::memory_order_acquire);
  if (!t) {
    static const KernelTable* first = init_tables();
    const KernelTable* expected = nullptr;
    g_table.compare_exchange_strong(expected, first);
    t = g_table.load();
  }
  return *t;
}

std::string current_isa() { return active().isa; }

const KernelTable& kernels_for(const std::string& isa) {
  int want = level_of(isa);
  GC_CHECK(want >= 0, ValueError, "unknown ISA '", isa, "' (expected generic, avx2 or avx512)");
  auto isas = supported_isas();
  GC_CHECK(want < static_cast<int>(isas.size()), ValueError, "ISA '", isa,
           "' is not supported by this CPU (supported: up to ", isas.back(), ")");
  active();  // make sure the tables exist
  return g_tables[want];
}

void set_isa(const std::string& isa) { g_table.store(&kernels_for(isa), std::memory_order_release); }

}  // namespace gradcore::kernels

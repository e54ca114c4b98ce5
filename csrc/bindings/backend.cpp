// backend.cpp — backend_info, threads, ISA override for tests, allocator statistics.
#include "bindings/common.h"
#include "cpu/allocator.h"
#include "cpu/cpuid.h"
#include "kernels/dispatch.h"
#include "cpu/parallel.h"
#include "kernels/gemm_plan.h"
#include "kernels/kernel_api.h"

#ifndef GRADCORE_COMPILER
#define GRADCORE_COMPILER "unknown"
#endif
#ifndef GRADCORE_BUILD_TYPE
#define GRADCORE_BUILD_TYPE "unknown"
#endif

// threadpoolctl finds libraries by these exported C symbols (see gradcore/_threadpool.py).
extern "C" __attribute__((visibility("default"))) int gradcore_threadpool_get_num_threads() {
  return gradcore::cpu::get_num_threads();
}
extern "C" __attribute__((visibility("default"))) void gradcore_threadpool_set_num_threads(int n) {
  gradcore::cpu::set_num_threads(n < 1 ? 1 : (n > gradcore::cpu::kMaxThreads ? gradcore::cpu::kMaxThreads : n));
}

namespace gradcore::bindings {

void bind_backend(py::module_& m) {
  m.def("backend_info", []() {
    const KernelTable& k = kernels::active();
    py::dict d;
    d["isa"] = std::string(k.isa);
    d["supported_isas"] = kernels::supported_isas();
    d["num_threads"] = cpu::get_num_threads();
    d["compiler"] = GRADCORE_COMPILER;
    d["build_type"] = GRADCORE_BUILD_TYPE;
    const cpu::CacheInfo& c = cpu::detected_caches();
    const kernels::GemmMachine m = kernels::gemm_machine_for<float>();
    d["caches"] = py::dict(py::arg("l1d") = c.l1d, py::arg("l2") = c.l2, py::arg("l3") = c.l3,
                           py::arg("l3_sharing") = c.l3_sharing, py::arg("source") = c.source,
                           py::arg("simulated") = kernels::caches_simulated()
                               ? py::object(py::dict(py::arg("l1d") = m.caches.l1d, py::arg("l2") = m.caches.l2,
                                                     py::arg("l3") = m.caches.l3))
                               : py::object(py::none()));
    d["pool_cost"] = py::dict(py::arg("fixed_ns") = m.pool_fixed_ns, py::arg("per_byte_ns") = m.pool_per_byte_ns);
    d["gemm_fma_per_ns"] = m.fma_per_ns;
    py::dict gemm;
    auto entry = [&](const auto& g, int elem) {
      const kernels::GemmBlocking b = kernels::machine_blocking(g.mr, g.nr, elem, m);
      return py::dict(py::arg("mr") = g.mr, py::arg("nr") = g.nr, py::arg("mc") = b.mc, py::arg("kc") = b.kc,
                      py::arg("nc") = b.nc, py::arg("mr_narrow") = g.mr_narrow, py::arg("nr_narrow") = g.nr_narrow);
    };
    gemm["float32"] = entry(k.f32.gemm, 4);
    gemm["float64"] = entry(k.f64.gemm, 8);
    const kernels::GemmBlocking o = kernels::blocking_override();
    gemm["override"] = o.mc || o.kc || o.nc
                           ? py::object(py::dict(py::arg("mc") = o.mc, py::arg("kc") = o.kc, py::arg("nc") = o.nc))
                           : py::object(py::none());
    d["gemm_blocking"] = gemm;
    return d;
  }, "Chosen ISA, supported ISAs, threads, compiler, build type, the caches found and the GEMM blocking chosen.");
  m.def("_fma_peak", [](const std::string& isa, int threads, double seconds) {
    if (threads < 1 || threads > cpu::get_num_threads())
      throw ValueError("_fma_peak: threads must be in [1, get_num_threads()]");
    const KernelTable& t = kernels::kernels_for(isa);
    py::gil_scoped_release nogil;
    return kernels::fma_peak_gflops(t, threads, seconds);
  }, py::arg("isa"), py::arg("threads") = 1, py::arg("seconds") = 0.3,
        "GFLOP/s of independent multiply-add chains in the ISA's widest registers on `threads` threads.");
  m.def("_triad", [](int64_t n, int threads, double seconds) {
    if (threads < 1 || threads > cpu::get_num_threads())
      throw ValueError("_triad: threads must be in [1, get_num_threads()]");
    py::gil_scoped_release nogil;
    return kernels::triad_gbs(n, threads, seconds);
  }, py::arg("n") = int64_t(1) << 24, py::arg("threads") = 1, py::arg("seconds") = 0.3,
        "GB/s of the STREAM triad a = b + s c over n float32 (12 bytes per element).");
  m.def("_check_env", []() { kernels::blocking_override(); },
        "Raise ValueError for a malformed GRADCORE_GEMM_BLOCKING (called at import).");
  m.def("_set_gemm_caches", [](int64_t l1d, int64_t l2, int64_t l3) {
    if ((l1d || l2 || l3) && (l1d < 1024 || l2 < l1d || l3 < 0))
      throw ValueError("_set_gemm_caches: need l1d >= 1024 and l2 >= l1d (bytes), or all 0 to restore");
    kernels::set_simulated_caches(l1d, l2, l3);
  }, py::arg("l1d"), py::arg("l2"), py::arg("l3"),
        "Tests: plan GEMMs as if one core's caches were these sizes (bytes); 0, 0, 0 restores the detected.");
  m.def("_gemm_plan", [](int64_t M, int64_t N, int64_t K, bool trans_a, bool trans_b, const std::string& dtype,
                         py::object threads, py::object pool_cost, py::object fma_per_ns, py::object caches) {
    if (dtype != "float32" && dtype != "float64") throw ValueError("_gemm_plan: dtype must be float32 or float64");
    const bool f32 = dtype == "float32";
    kernels::GemmMachine m = f32 ? kernels::gemm_machine_for<float>() : kernels::gemm_machine_for<double>();
    if (!threads.is_none()) m.threads = threads.cast<int>();
    if (!pool_cost.is_none()) {
      auto c = pool_cost.cast<std::pair<double, double>>();
      m.pool_fixed_ns = c.first;
      m.pool_per_byte_ns = c.second;
    }
    if (!fma_per_ns.is_none()) m.fma_per_ns = fma_per_ns.cast<double>();
    if (!caches.is_none()) {
      auto t = caches.cast<std::tuple<int64_t, int64_t, int64_t>>();
      m.caches = {std::get<0>(t), std::get<1>(t), std::get<2>(t)};
    }
    const KernelTable& k = kernels::active();
    kernels::GemmCaps caps = f32 ? kernels::caps_of(k.f32.gemm) : kernels::caps_of(k.f64.gemm);
    const kernels::GemmPlan p = kernels::plan_gemm(trans_a, trans_b, M, N, K, false, caps, m);
    return py::dict(py::arg("path") = std::string(kernels::gemm_path_name(p.path)), py::arg("narrow") = p.narrow,
                    py::arg("mc") = p.blocking.mc, py::arg("kc") = p.blocking.kc, py::arg("nc") = p.blocking.nc,
                    py::arg("pass_kc") = p.kc, py::arg("block_mc") = p.mc, py::arg("ngroups") = p.ngroups,
                    py::arg("threads") = p.threads);
  }, py::arg("m"), py::arg("n"), py::arg("k"), py::arg("trans_a") = false, py::arg("trans_b") = false,
        py::arg("dtype") = "float32", py::arg("threads") = py::none(), py::arg("pool_cost") = py::none(),
        py::arg("fma_per_ns") = py::none(), py::arg("caches") = py::none(),
        "The plan (path, blocks, threads) gemm() would run for op(A) (m x k) @ op(B) (k x n) under the current "
        "ISA; keyword arguments replace parts of the machine. Runs no kernel.");
  m.def("set_num_threads", [](int64_t n) {
    if (n < 1) throw ValueError("set_num_threads: n must be >= 1, got " + std::to_string(n));
    if (n > cpu::kMaxThreads)
      throw ValueError("set_num_threads: n must be <= " + std::to_string(cpu::kMaxThreads) + ", got " + std::to_string(n));
    cpu::set_num_threads(n);
  }, py::arg("n"), "Set the size of gradcore's thread pool (the calling thread counts as one).");
  m.def("get_num_threads", &cpu::get_num_threads, "The size of gradcore's thread pool.");
  m.def("_set_isa", &kernels::set_isa, py::arg("isa"), "Switch the kernel table (tests); can only lower the level.");
  m.def("_allocator_stats", []() {
    auto s = cpu::allocator_stats();
    return py::dict(py::arg("live_bytes") = s.live_bytes, py::arg("cached_bytes") = s.cached_bytes,
                    py::arg("system_allocs") = s.system_allocs, py::arg("cache_hits") = s.cache_hits);
  });
  m.def("_empty_cache", &cpu::empty_cache);
}

}  // namespace gradcore::bindings

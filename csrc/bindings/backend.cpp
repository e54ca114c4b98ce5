// backend.cpp — backend_info, threads, ISA override for tests, allocator statistics.
#include "bindings/common.h"
#include "cpu/allocator.h"
#include "cpu/dispatch.h"
#include "cpu/parallel.h"

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
    const KernelTable& k = cpu::kernels();
    py::dict d;
    d["isa"] = std::string(k.isa);
    d["supported_isas"] = cpu::supported_isas();
    d["num_threads"] = cpu::get_num_threads();
    d["threads"] = cpu::get_num_threads();  // alias
    d["compiler"] = GRADCORE_COMPILER;
    d["build_type"] = GRADCORE_BUILD_TYPE;
    py::dict gemm;
    gemm["float32"] = py::dict(py::arg("mr") = k.f32.gemm_mr, py::arg("nr") = k.f32.gemm_nr, py::arg("mc") = k.f32.gemm_mc,
                               py::arg("kc") = k.f32.gemm_kc, py::arg("nc") = k.f32.gemm_nc);
    gemm["float64"] = py::dict(py::arg("mr") = k.f64.gemm_mr, py::arg("nr") = k.f64.gemm_nr, py::arg("mc") = k.f64.gemm_mc,
                               py::arg("kc") = k.f64.gemm_kc, py::arg("nc") = k.f64.gemm_nc);
    d["gemm_blocking"] = gemm;
    return d;
  }, "Chosen ISA, supported ISAs, threads, compiler, build type and GEMM blocking.");
  m.def("set_num_threads", [](int64_t n) {
    if (n < 1) throw ValueError("set_num_threads: n must be >= 1, got " + std::to_string(n));
    if (n > cpu::kMaxThreads)
      throw ValueError("set_num_threads: n must be <= " + std::to_string(cpu::kMaxThreads) + ", got " + std::to_string(n));
    cpu::set_num_threads(n);
  }, py::arg("n"), "Set the size of gradcore's thread pool (the calling thread counts as one).");
  m.def("get_num_threads", &cpu::get_num_threads, "The size of gradcore's thread pool.");
  m.def("_set_isa", &cpu::set_isa, py::arg("isa"), "Switch the kernel table (tests); can only lower the level.");
  m.def("_allocator_stats", []() {
    auto s = cpu::allocator_stats();
    return py::dict(py::arg("live_bytes") = s.live_bytes, py::arg("cached_bytes") = s.cached_bytes,
                    py::arg("system_allocs") = s.system_allocs, py::arg("cache_hits") = s.cache_hits);
  });
  m.def("_empty_cache", &cpu::empty_cache);
}

}  // namespace gradcore::bindings

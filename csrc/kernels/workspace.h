// workspace.h — a per-thread scratch buffer for kernels (GEMM packing, convolution
// column tiles): grown on demand and kept, so a steady state allocates nothing.
#pragma once
#include <cstddef>

#include "cpu/allocator.h"

namespace gradcore::kernels {

struct Workspace {
  void* p = nullptr;
  size_t n = 0;
  Workspace() = default;
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  ~Workspace() { cpu::free(p, n); }
  void* get(size_t bytes) {
    if (bytes > n) {
      cpu::free(p, n);
      p = nullptr;
      n = 0;
      p = cpu::alloc(bytes);
      n = bytes;
    }
    return p;
  }
};

}  // namespace gradcore::kernels

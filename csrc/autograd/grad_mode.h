// grad_mode.h — thread-local switch for graph recording (gc.no_grad / gc.enable_grad).
#pragma once
#if defined(GC_LAYER_CPU) || defined(GC_LAYER_KERNELS) || defined(GC_LAYER_CORE)
#error "the autograd layer is above cpu, kernels and core (layers: csrc/README.md)"
#endif
#include <string>

namespace gradcore::autograd {
bool grad_enabled();
void set_grad_enabled(bool enabled);

// Anomaly mode (gc.autograd.detect_anomaly): nodes remember where they were created and
// the engine checks every gradient it computes for NaN/Inf. Process-wide.
bool anomaly_enabled();
void set_anomaly_enabled(bool enabled);
// Where the op being recorded was called from ("file.py:12 in f"); installed by the
// bindings (it reads the Python stack), empty when none is installed.
using CreationSiteHook = std::string (*)();
void set_creation_site_hook(CreationSiteHook hook);
std::string creation_site();

struct GradModeGuard {
  explicit GradModeGuard(bool enabled) : prev_(grad_enabled()) { set_grad_enabled(enabled); }
  ~GradModeGuard() { set_grad_enabled(prev_); }
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;
 private:
  bool prev_;
};
}  // namespace gradcore::autograd

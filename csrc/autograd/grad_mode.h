// grad_mode.h — thread-local switch for graph recording (gc.no_grad / gc.enable_grad).
#pragma once

namespace gradcore::autograd {
bool grad_enabled();
void set_grad_enabled(bool enabled);

struct GradModeGuard {
  explicit GradModeGuard(bool enabled) : prev_(grad_enabled()) { set_grad_enabled(enabled); }
  ~GradModeGuard() { set_grad_enabled(prev_); }
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;
 private:
  bool prev_;
};
}  // namespace gradcore::autograd

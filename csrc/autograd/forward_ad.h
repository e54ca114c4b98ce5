// forward_ad.h — forward-mode AD: dual tensors and the per-op tangent rules' plumbing.
//
// A dual tensor is a primal Tensor whose `fw_grad` holds its tangent. Tangents count only
// while their dual level is active (gc.autograd.forward_ad.dual_level(); one level at a
// time, process-wide as in PyTorch). Every op declares its forward-mode rule next to its
// forward and backward (see csrc/autograd/ops/): after computing its output it calls
//
//   forward_rule(y, {x.get()}, [&] { return mul(tangent(x), y); });   // exp: dy = dx * y
//
// which, when an input carries a tangent, evaluates the rule with tangent propagation off
// (tangent-of-tangent is not computed) and attaches the result to the output. Rules are
// written with ops, so reverse mode can differentiate through a jvp. A fused op without a
// rule of its own takes its composed (unfused) path when an input carries a tangent, and
// the tangent then flows through the composed ops' rules.
#pragma once
#if defined(GC_LAYER_CPU) || defined(GC_LAYER_KERNELS) || defined(GC_LAYER_CORE)
#error "the autograd layer is above cpu, kernels and core (layers: csrc/README.md)"
#endif
#include <atomic>
#include <initializer_list>
#include <utility>

#include "core/tensor.h"

namespace gradcore::autograd::fw {

extern std::atomic<uint64_t> g_level;  // the active dual level, 0 when none
bool thread_enabled();                 // off while a rule (or a Function's forward) runs
bool set_thread_enabled(bool on);      // returns the previous value

// True when tangents may propagate on this thread (one relaxed load in the common case).
inline bool active() { return g_level.load(std::memory_order_relaxed) != 0 && thread_enabled(); }

// t's tangent at the active level, or null.
inline TensorPtr tangent(const Tensor* t) {
  uint64_t level = g_level.load(std::memory_order_relaxed);
  if (!level || !t || !t->fw_grad || t->fw_level != level) return nullptr;
  return t->fw_grad;
}
inline TensorPtr tangent(const TensorPtr& t) { return tangent(t.get()); }

inline bool any_tangent(std::initializer_list<const Tensor*> ts) {
  if (!active()) return false;
  for (const Tensor* t : ts)
    if (tangent(t)) return true;
  return false;
}

// Attach a tangent (same shape as t, broadcast up if needed; same dtype) at the active level.
void set_tangent(const TensorPtr& t, const TensorPtr& tangent);

uint64_t enter_level();  // RuntimeError when a level is already active
void exit_level(uint64_t level);

// forward_ad.make_dual: a view of primal (recorded when primal needs grad) whose tangent
// is `tangent` (same shape and dtype) at the active level.
TensorPtr make_dual(const TensorPtr& primal, const TensorPtr& tangent);
// forward_ad.unpack_dual: (a view of t that carries no tangent, t's tangent or null).
std::pair<TensorPtr, TensorPtr> unpack_dual(const TensorPtr& t);

struct DisableGuard {
  DisableGuard() : prev_(set_thread_enabled(false)) {}
  ~DisableGuard() { set_thread_enabled(prev_); }
  DisableGuard(const DisableGuard&) = delete;
  DisableGuard& operator=(const DisableGuard&) = delete;
 private:
  bool prev_;
};

template <class Rule>
inline void forward_rule(const TensorPtr& out, std::initializer_list<const Tensor*> inputs, Rule&& rule) {
  if (!any_tangent(inputs)) return;
  TensorPtr t;
  {
    DisableGuard off;
    t = rule();
  }
  if (t) set_tangent(out, t);
}

}  // namespace gradcore::autograd::fw

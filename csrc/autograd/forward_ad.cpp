#include "autograd/forward_ad.h"

#include <mutex>
#include <vector>

#include "autograd/ops.h"
#include "cpu/fork.h"

namespace gradcore::autograd::fw {

std::atomic<uint64_t> g_level{0};

namespace {
thread_local bool t_enabled = true;
std::atomic<uint64_t> g_next_level{0};
// Every tensor given a tangent at the active level; their tangents are dropped when the
// level exits (as in PyTorch). That frees them early and breaks the cycle a recorded rule
// creates (y -> tangent -> its grad_fn -> saved y).
std::mutex g_dual_mu;
std::vector<std::weak_ptr<Tensor>> g_duals;
// See Note [Fork safety] (cpu/fork.cpp).
[[maybe_unused]] const bool g_fork_registered = cpu::register_fork_lock(
    cpu::FORK_RANK_DUAL, [] { g_dual_mu.lock(); }, [] { g_dual_mu.unlock(); }, [] { g_dual_mu.unlock(); });
}  // namespace

bool thread_enabled() { return t_enabled; }
bool set_thread_enabled(bool on) {
  bool prev = t_enabled;
  t_enabled = on;
  return prev;
}

void set_tangent(const TensorPtr& t, const TensorPtr& tangent) {
  uint64_t level = g_level.load();
  GC_CHECK(level != 0, RuntimeError, "forward-mode AD: no dual level is active (use gc.autograd.forward_ad.dual_level())");
  GC_CHECK(tangent->dtype == t->dtype, TypeError, "tangent dtype ", dtype_name(tangent->dtype),
           " does not match the primal's dtype ", dtype_name(t->dtype));
  TensorPtr tg = tangent;
  if (tg->shape != t->shape) {
    // A rule may produce a tangent of a broadcast operand; expand it to the output.
    GC_CHECK(ops::broadcast_shapes(tg->shape, t->shape, "tangent") == t->shape, ValueError, "tangent of shape ",
             shape_str(tg->shape), " for a primal of shape ", shape_str(t->shape));
    tg = ops::expand(tg, t->shape);
  }
  t->fw_grad = std::move(tg);
  t->fw_level = level;
  std::lock_guard<std::mutex> lock(g_dual_mu);
  g_duals.push_back(t);
}

uint64_t enter_level() {
  uint64_t level = g_next_level.fetch_add(1) + 1;
  uint64_t expected = 0;
  GC_CHECK(g_level.compare_exchange_strong(expected, level), RuntimeError,
           "forward-mode AD: a dual level is already active; nested dual levels are not supported");
  return level;
}

void exit_level(uint64_t level) {
  uint64_t expected = level;
  GC_CHECK(level != 0 && g_level.compare_exchange_strong(expected, 0), RuntimeError,
           "forward-mode AD: exiting a dual level that is not the active one (no level is active, or another is)");
  std::vector<std::weak_ptr<Tensor>> duals;
  {
    std::lock_guard<std::mutex> lock(g_dual_mu);
    duals.swap(g_duals);
  }
  std::vector<TensorPtr> dropped;  // destroyed after the loop, outside any tensor's fields
  dropped.reserve(duals.size());
  for (auto& w : duals)
    if (TensorPtr t = w.lock(); t && t->fw_level == level) {
      dropped.push_back(std::move(t->fw_grad));
      t->fw_level = 0;
    }
}

namespace {
// A view of t (the same tensor to autograd: recorded when t needs grad) made with tangent
// propagation off, so it carries no tangent.
TensorPtr plain_view(const TensorPtr& t) {
  DisableGuard off;
  return ops::reshape(t, t->shape);
}
}  // namespace

TensorPtr make_dual(const TensorPtr& primal, const TensorPtr& tangent) {
  GC_CHECK(g_level.load() != 0, RuntimeError,
           "make_dual: no dual level is active; use `with gc.autograd.forward_ad.dual_level():`");
  GC_CHECK(tangent->shape == primal->shape, ValueError, "make_dual: tangent of shape ", shape_str(tangent->shape),
           " for a primal of shape ", shape_str(primal->shape));
  GC_CHECK(tangent->dtype == primal->dtype, TypeError, "make_dual: tangent dtype ", dtype_name(tangent->dtype),
           " for a primal of dtype ", dtype_name(primal->dtype));
  TensorPtr dual = plain_view(primal);
  set_tangent(dual, tangent);
  return dual;
}

std::pair<TensorPtr, TensorPtr> unpack_dual(const TensorPtr& t) {
  TensorPtr g = tangent(t);
  return {plain_view(t), std::move(g)};
}

}  // namespace gradcore::autograd::fw

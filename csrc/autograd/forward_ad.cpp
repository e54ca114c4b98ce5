#include "autograd/forward_ad.h"

#include "autograd/ops.h"

namespace gradcore::autograd::fw {

std::atomic<uint64_t> g_level{0};

namespace {
thread_local bool t_enabled = true;
std::atomic<uint64_t> g_next_level{0};
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
  GC_CHECK(g_level.compare_exchange_strong(expected, 0), RuntimeError,
           "forward-mode AD: exiting a dual level that is not the active one");
}

}  // namespace gradcore::autograd::fw

#include "autograd/grad_mode.h"

#include <atomic>

namespace gradcore::autograd {
namespace {
thread_local bool tl_grad_enabled = true;
std::atomic<bool> g_anomaly{false};
std::atomic<CreationSiteHook> g_site_hook{nullptr};
}  // namespace

bool grad_enabled() { return tl_grad_enabled; }
void set_grad_enabled(bool enabled) { tl_grad_enabled = enabled; }

bool anomaly_enabled() { return g_anomaly.load(std::memory_order_relaxed); }
void set_anomaly_enabled(bool enabled) { g_anomaly.store(enabled); }
void set_creation_site_hook(CreationSiteHook hook) { g_site_hook.store(hook); }
std::string creation_site() {
  CreationSiteHook h = g_site_hook.load();
  return h ? h() : std::string();
}

}  // namespace gradcore::autograd

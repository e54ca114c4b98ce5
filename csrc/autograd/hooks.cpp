#include "autograd/hooks.h"

#include <memory>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/ops.h"

namespace gradcore::autograd {
namespace {

void erase_hook(HookList* list, uint64_t id) {
  if (!list) return;
  for (auto it = list->begin(); it != list->end(); ++it)
    if (it->id == id) { list->erase(it); return; }
}

HookHandle add_hook(const TensorPtr& t, GradHook fn, bool retain, void* gc_object) {
  uint64_t id = next_hook_id();
  if (t->grad_fn) {
    std::shared_ptr<Node> node = t->grad_fn;
    if (!node->pre_hooks) node->pre_hooks = std::make_unique<HookList>();
    node->pre_hooks->push_back(HookEntry{id, t->output_nr, std::move(fn), retain, gc_object});
    std::weak_ptr<Node> weak = node;
    return HookHandle{[weak, id]() {
      if (auto n = weak.lock()) erase_hook(n->pre_hooks.get(), id);
    }, id};
  }
  if (!t->hooks) t->hooks = std::make_shared<HookList>();
  t->hooks->push_back(HookEntry{id, 0, std::move(fn), retain, gc_object});
  std::weak_ptr<Tensor> weak = t;
  return HookHandle{[weak, id]() {
    if (auto p = weak.lock()) erase_hook(p->hooks.get(), id);
  }, id};
}

// Note [Post-accumulate hook lists]: backward() runs a leaf's post-accumulate hooks without
// the GIL, maybe on another thread than one registering or removing hooks (which holds the
// GIL). So the list is never changed in place: registration and removal publish a new list
// (std::atomic_store), and AccumulateGrad takes a snapshot (std::atomic_load) that stays
// valid while its hooks run (and lets them remove themselves). Writers are serialised by
// the GIL.
void publish_post_accumulate_hooks(Tensor& t, uint64_t remove_id, HookEntry* add) {
  std::shared_ptr<HookList> old = std::atomic_load(&t.post_accumulate_hooks);
  auto list = old ? std::make_shared<HookList>(*old) : std::make_shared<HookList>();
  erase_hook(list.get(), remove_id);
  if (add) list->push_back(std::move(*add));
  std::atomic_store(&t.post_accumulate_hooks, std::move(list));
}

HookHandle add_post_accumulate_hook(const TensorPtr& t, GradHook fn, void* gc_object) {
  uint64_t id = next_hook_id();
  HookEntry entry{id, 0, std::move(fn), false, gc_object};
  publish_post_accumulate_hooks(*t, 0, &entry);
  std::weak_ptr<Tensor> weak = t;
  return HookHandle{[weak, id]() {
    if (auto p = weak.lock()) publish_post_accumulate_hooks(*p, id, nullptr);
  }, id};
}

// The retain_grad() hook: accumulates into self.grad (a graph of its own in grad mode,
// i.e. backward(create_graph=True); a detached copy otherwise).
GradHook retain_hook(const TensorPtr& t) {
  std::weak_ptr<Tensor> weak = t;
  return [weak](const TensorPtr& g) -> TensorPtr {
    TensorPtr self = weak.lock();
    if (!self) return nullptr;
    if (grad_enabled()) self->grad = self->grad ? ops::add(self->grad, g) : g;
    else self->grad = self->grad ? ops::add(ops::detach(self->grad), g) : ops::contiguous_copy(ops::detach(g));
    return nullptr;
  };
}

}  // namespace

void HookHandle::remove() {
  if (remover) remover();
  remover = nullptr;
}

HookHandle register_hook(const TensorPtr& t, GradHook fn, void* gc_object) {
  GC_CHECK(t->needs_grad(), RuntimeError, "cannot register a hook on a tensor that doesn't require gradient");
  return add_hook(t, std::move(fn), false, gc_object);
}

HookHandle register_post_accumulate_grad_hook(const TensorPtr& t, GradHook fn, void* gc_object) {
  GC_CHECK(t->needs_grad(), RuntimeError, "cannot register a hook on a tensor that doesn't require gradient");
  GC_CHECK(!t->grad_fn, RuntimeError, "post accumulate grad hooks cannot be registered on non-leaf tensors");
  return add_post_accumulate_hook(t, std::move(fn), gc_object);
}

void run_post_accumulate_hooks(const TensorPtr& leaf) {
  // A snapshot (Note [Post-accumulate hook lists]): hooks registered meanwhile run next time.
  std::shared_ptr<HookList> hooks = std::atomic_load(&leaf->post_accumulate_hooks);
  if (!hooks || hooks->empty()) return;
  TensorPtr arg = leaf;
  bool returned = false;
  for (const HookEntry& h : *hooks) {
    if (TensorPtr r = h.fn(arg)) {  // PyTorch hands a returned tensor on, then raises
      arg = std::move(r);
      returned = true;
    }
  }
  GC_CHECK(!returned, RuntimeError, "Tensor post accumulate grad hooks should return None.");
}

void retain_grad(const TensorPtr& t) {
  GC_CHECK(t->needs_grad(), RuntimeError, "can't retain_grad on a tensor that has requires_grad=False");
  if (!t->grad_fn || t->retains_grad) return;  // leaves keep their .grad anyway
  t->retains_grad = true;
  add_hook(t, retain_hook(t), true, nullptr);
}

const HookList* exclusive_hooks(const TensorPtr& t, HookSite site) {
  if (!t || t.use_count() != 1) return nullptr;
  switch (site) {
    case HookSite::Leaf: return t->hooks && t->hooks.use_count() == 1 ? t->hooks.get() : nullptr;
    case HookSite::Node: return t->grad_fn && t->grad_fn.use_count() == 1 ? t->grad_fn->pre_hooks.get() : nullptr;
    case HookSite::PostAccumulate:
      return t->post_accumulate_hooks && t->post_accumulate_hooks.use_count() == 1 ? t->post_accumulate_hooks.get()
                                                                                    : nullptr;
  }
  return nullptr;
}

void clear_exclusive_hooks(const TensorPtr& t) {
  if (exclusive_hooks(t, HookSite::Leaf)) t->hooks.reset();
  if (exclusive_hooks(t, HookSite::Node)) t->grad_fn->pre_hooks.reset();
  if (exclusive_hooks(t, HookSite::PostAccumulate)) std::atomic_store(&t->post_accumulate_hooks, {});
}

}  // namespace gradcore::autograd

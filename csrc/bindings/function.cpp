// function.cpp — the autograd pieces that call back into Python: tensor hooks
// (Tensor.register_hook, retain_grad) and the graph node of a gc.autograd.Function;
// and the forward-mode AD entry points (dual levels, make_dual / unpack_dual).
//
// The engine runs with the GIL released. A Python callback takes the GIL for exactly its
// own call (and for dropping its Python references), so the rest of the graph keeps
// running without it.
#include "autograd/forward_ad.h"
#include "autograd/function.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "bindings/common.h"

namespace gradcore::bindings {
namespace {

// A Python object owned from C++ code that may drop it on a thread without the GIL.
struct PyRef {
  py::object obj;
  explicit PyRef(py::object o) : obj(std::move(o)) {}
  PyRef(const PyRef&) = delete;
  PyRef& operator=(const PyRef&) = delete;
  ~PyRef() {
    if (!Py_IsInitialized()) {
      obj.release();  // the interpreter is gone: nothing to decrement
      return;
    }
    py::gil_scoped_acquire gil;
    obj = py::object();
  }
};

GradHook python_hook(py::function fn, void** gc_object) {
  *gc_object = fn.ptr();
  auto ref = std::make_shared<PyRef>(std::move(fn));
  return [ref](const TensorPtr& g) -> TensorPtr {
    py::gil_scoped_acquire gil;
    py::object r = ref->obj(g);
    if (r.is_none()) return nullptr;
    GC_CHECK(py::isinstance<Tensor>(r), TypeError, "a gradient hook must return a Tensor or None, got ",
             type_display_name(r));
    return r.cast<TensorPtr>();
  };
}

// What Tensor.register_hook returns: .remove() takes the hook out again (idempotent).
struct RemovableHandle {
  std::function<void()> remover;
  void remove() {
    if (remover) remover();
    remover = nullptr;
  }
};

void erase_hook(HookList* list, uint64_t id) {
  if (!list) return;
  for (auto it = list->begin(); it != list->end(); ++it)
    if (it->id == id) { list->erase(it); return; }
}

RemovableHandle add_hook(const TensorPtr& t, GradHook fn, bool retain, void* gc_object = nullptr) {
  uint64_t id = next_hook_id();
  if (t->grad_fn) {
    std::shared_ptr<Node> node = t->grad_fn;
    if (!node->pre_hooks) node->pre_hooks = std::make_unique<HookList>();
    node->pre_hooks->push_back(HookEntry{id, t->output_nr, std::move(fn), retain, gc_object});
    std::weak_ptr<Node> weak = node;
    return RemovableHandle{[weak, id]() {
      if (auto n = weak.lock()) erase_hook(n->pre_hooks.get(), id);
    }};
  }
  if (!t->hooks) t->hooks = std::make_shared<HookList>();
  t->hooks->push_back(HookEntry{id, 0, std::move(fn), retain, gc_object});
  std::weak_ptr<Tensor> weak = t;
  return RemovableHandle{[weak, id]() {
    if (auto p = weak.lock()) erase_hook(p->hooks.get(), id);
  }};
}

// The graph node of one gc.autograd.Function application. `backward` is the Python
// trampoline (gradcore.autograd.function._run_backward) that calls the user's backward
// and checks what it returns; it gets (ctx, saved tensors, output gradients) and returns
// one gradient (or None) per edge.
struct PyFunctionNode final : Node {
  std::string name_;
  std::unique_ptr<PyRef> ctx;
  std::unique_ptr<PyRef> backward;
  std::vector<autograd::SavedTensor> saved;
  uint32_t n_outputs = 1;

  const char* name() const override { return name_.c_str(); }
  uint32_t num_outputs() const override { return n_outputs; }
  void release_saved() override {
    for (auto& s : saved) s.reset();
  }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override {
    std::vector<std::pair<std::string, TensorPtr>> out;
    for (size_t i = 0; i < saved.size(); ++i) out.push_back({"saved_" + std::to_string(i), saved[i].raw()});
    return out;
  }
  tensor_list apply(tensor_list&& grads) override {
    py::gil_scoped_acquire gil;
    py::tuple saved_t(saved.size());
    for (size_t i = 0; i < saved.size(); ++i) {
      TensorPtr t = saved[i].unpack(this);
      saved_t[i] = t ? py::cast(t) : py::none();
    }
    py::tuple grads_t(n_outputs);
    for (uint32_t i = 0; i < n_outputs; ++i) grads_t[i] = i < grads.size() && grads[i] ? py::cast(grads[i]) : py::none();
    py::object res = backward->obj(ctx->obj, saved_t, grads_t);
    tensor_list out(next_edges.size());
    size_t i = 0;
    for (auto item : res) {
      if (i >= out.size()) break;
      if (!item.is_none()) out[i] = item.cast<TensorPtr>();
      ++i;
    }
    return out;
  }
};

// Note [Tensors in Python's GC]: a hook whose closure refers to its own tensor makes a
// cycle that runs through C++ (wrapper -> Tensor -> hook list -> closure -> wrapper), which
// reference counting alone never frees. The Tensor type takes part in Python's cycle
// collector: tp_traverse shows the collector the Python callables of the tensor's hooks
// (on the tensor for leaves, on its grad_fn for non-leaves), and tp_clear drops them. As
// in PyTorch, only references the wrapper owns exclusively are shown: the Tensor must be
// held by this wrapper alone (a graph or another C++ owner keeps it, and its hooks, alive
// for a reason the collector cannot see), and a grad_fn by this Tensor alone.
const HookList* exclusive_hooks(const TensorPtr& t, bool node) {
  if (!t || t.use_count() != 1) return nullptr;
  if (!node) return t->hooks && t->hooks.use_count() == 1 ? t->hooks.get() : nullptr;
  return t->grad_fn && t->grad_fn.use_count() == 1 ? t->grad_fn->pre_hooks.get() : nullptr;
}

TensorPtr* tensor_holder(PyObject* self) {
  if (!py::detail::is_holder_constructed(self)) return nullptr;
  auto* inst = reinterpret_cast<py::detail::instance*>(self);
  return &inst->get_value_and_holder().holder<TensorPtr>();
}

int tensor_traverse(PyObject* self, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(self));  // heap types own a reference to their type
  if (TensorPtr* h = tensor_holder(self)) {
    for (bool node : {false, true})
      if (const HookList* list = exclusive_hooks(*h, node))
        for (const HookEntry& e : *list)
          if (e.gc_object) Py_VISIT(static_cast<PyObject*>(e.gc_object));
  }
  return 0;
}

int tensor_clear(PyObject* self) {
  if (TensorPtr* h = tensor_holder(self)) {
    if (exclusive_hooks(*h, false)) (*h)->hooks.reset();
    if (exclusive_hooks(*h, true)) (*h)->grad_fn->pre_hooks.reset();
  }
  return 0;
}

}  // namespace

void tensor_type_setup(PyHeapTypeObject* heap_type) {
  PyTypeObject* type = &heap_type->ht_type;
  type->tp_flags |= Py_TPFLAGS_HAVE_GC;
  type->tp_traverse = tensor_traverse;
  type->tp_clear = tensor_clear;
  install_number_slots(heap_type);
}

void bind_function(py::module_& m, TensorClass& cls) {
  py::class_<RemovableHandle>(m, "RemovableHandle", "Returned by register_hook; .remove() unregisters the hook.")
      .def("remove", &RemovableHandle::remove, "Unregister the hook (a second call does nothing).");

  cls.def("register_hook", [](const TensorPtr& t, py::function fn) {
        GC_CHECK(t->needs_grad(), RuntimeError, "cannot register a hook on a tensor that doesn't require gradient");
        void* gc_object = nullptr;
        GradHook h = python_hook(std::move(fn), &gc_object);
        return add_hook(t, std::move(h), false, gc_object);
      }, py::arg("hook"),
      "Call hook(grad) each time the gradient w.r.t. this tensor is computed (backward and gc.grad).\n"
      "A hook may return a Tensor of the same shape and dtype to replace the gradient, or None.\n"
      "Returns a handle whose .remove() unregisters it.");
  cls.def("retain_grad", [](const TensorPtr& t) {
        GC_CHECK(t->needs_grad(), RuntimeError, "can't retain_grad on a tensor that has requires_grad=False");
        if (!t->grad_fn || t->retains_grad) return;  // leaves keep their .grad anyway
        t->retains_grad = true;
        std::weak_ptr<Tensor> weak = t;
        add_hook(t, [weak](const TensorPtr& g) -> TensorPtr {
          TensorPtr self = weak.lock();
          if (!self) return nullptr;
          if (autograd::grad_enabled()) self->grad = self->grad ? ops::add(self->grad, g) : g;
          else self->grad = self->grad ? ops::add(ops::detach(self->grad), g) : ops::contiguous_copy(ops::detach(g));
          return nullptr;
        }, true);
      }, "Keep this non-leaf tensor's gradient in .grad after backward() (leaves always do).");
  cls.def_property_readonly("retains_grad", [](const Tensor& t) { return t.retains_grad; },
                            "Whether retain_grad() was called on this non-leaf tensor.");

  namespace fw = autograd::fw;
  m.def("_fw_enter_level", &fw::enter_level, "Internal: open a dual level (forward_ad.dual_level).");
  m.def("_fw_exit_level", &fw::exit_level, py::arg("level"), "Internal: close the dual level.");
  m.def("_fw_level", []() { return fw::g_level.load(); }, "Internal: the active dual level (0 when none).");
  m.def("_fw_set_enabled", &fw::set_thread_enabled, py::arg("enabled"),
        "Internal: tangent propagation on/off for this thread; returns the previous setting.");
  m.def("_make_dual", [](const TensorPtr& primal, const TensorPtr& tangent) {
        GC_CHECK(fw::g_level.load() != 0, RuntimeError,
                 "make_dual: no dual level is active; use `with gc.autograd.forward_ad.dual_level():`");
        GC_CHECK(tangent->shape == primal->shape, ValueError, "make_dual: tangent of shape ", shape_str(tangent->shape),
                 " for a primal of shape ", shape_str(primal->shape));
        GC_CHECK(tangent->dtype == primal->dtype, TypeError, "make_dual: tangent dtype ", dtype_name(tangent->dtype),
                 " for a primal of dtype ", dtype_name(primal->dtype));
        TensorPtr dual;
        {
          fw::DisableGuard off;
          dual = ops::reshape(primal, primal->shape);  // a view; recorded when primal needs grad
        }
        fw::set_tangent(dual, tangent);
        return dual;
      }, py::arg("primal"), py::arg("tangent"), "Internal: forward_ad.make_dual.");
  m.def("_fw_tangent", [](const TensorPtr& t) -> py::object {
        TensorPtr g = fw::tangent(t);
        return g ? py::cast(g) : py::none();
      }, py::arg("tensor"), "Internal: the tangent of a dual tensor at the active level, or None.");
  m.def("_fw_set_tangent", [](const TensorPtr& t, const TensorPtr& tangent) { fw::set_tangent(t, tangent); },
        py::arg("tensor"), py::arg("tangent"), "Internal: attach a tangent (custom Function jvp).");
  m.def("_unpack_dual", [](const TensorPtr& t) {
        TensorPtr g = fw::tangent(t);
        TensorPtr primal;
        {
          fw::DisableGuard off;
          primal = ops::reshape(t, t->shape);
        }
        return py::make_tuple(primal, g ? py::cast(g) : py::none());
      }, py::arg("tensor"), "Internal: forward_ad.unpack_dual.");

  m.def("_record_function", [](const std::string& name, py::object ctx, py::object backward, py::list inputs,
                               py::list outputs, py::list saved) {
        auto node = std::make_shared<PyFunctionNode>();
        node->name_ = name;
        node->ctx = std::make_unique<PyRef>(std::move(ctx));
        node->backward = std::make_unique<PyRef>(std::move(backward));
        for (auto item : inputs) {
          TensorPtr t = item.is_none() ? nullptr : item.cast<TensorPtr>();
          node->next_edges.push_back(t && t->needs_grad() ? autograd::gradient_edge(t) : autograd::Edge{});
        }
        tensor_list outs;
        for (auto item : outputs) outs.push_back(item.is_none() ? nullptr : item.cast<TensorPtr>());
        node->n_outputs = static_cast<uint32_t>(outs.size());
        for (size_t i = 0; i < outs.size(); ++i)
          if (outs[i]) autograd::set_history(outs[i], node, static_cast<uint32_t>(i));
        // After set_history, so a saved output knows its output slot (Note [Saved outputs]).
        for (auto item : saved) {
          if (item.is_none()) { node->saved.emplace_back(); continue; }
          TensorPtr t = item.cast<TensorPtr>();
          bool is_output = false;
          for (const TensorPtr& o : outs) is_output |= o == t;
          node->saved.emplace_back(t, is_output);
        }
      }, py::arg("name"), py::arg("ctx"), py::arg("backward"), py::arg("inputs"), py::arg("outputs"),
      py::arg("saved"),
      "Internal (gc.autograd.Function.apply): record a Python-defined node. inputs are the tensor\n"
      "arguments (None elsewhere); outputs become its outputs; saved are ctx.save_for_backward's tensors.");
}

}  // namespace gradcore::bindings

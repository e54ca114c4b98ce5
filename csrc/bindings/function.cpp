// function.cpp — binds the autograd pieces that call back into Python: tensor hooks
// (Tensor.register_hook, retain_grad, register_post_accumulate_grad_hook: autograd/hooks.h) and the graph node of a
// gc.autograd.Function (autograd/custom_function.h); the Tensor type's cycle-collector
// support; and the forward-mode AD entry points (dual levels, make_dual / unpack_dual:
// autograd/forward_ad.h). Here a Python callable becomes the callback the autograd layer
// calls (a GradHook, a FunctionBackward); the graph logic lives there.
//
// The engine runs with the GIL released. A Python callback takes the GIL for exactly its
// own call (and for dropping its Python references), so the rest of the graph keeps
// running without it.
#include "autograd/custom_function.h"
#include "autograd/forward_ad.h"
#include "autograd/hooks.h"
#include "autograd/node.h"
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

// PyTorch's name for a hook in its errors: __name__ when it is a string.
std::string hook_name(const py::object& fn) {
  if (py::hasattr(fn, "__name__")) {
    py::object name = fn.attr("__name__");
    if (py::isinstance<py::str>(name)) return name.cast<std::string>();
  }
  return "<unknown>";
}

// A post-accumulate-grad hook: hook(tensor) with the leaf's own Python object (a Parameter
// stays one). PyTorch's checks of what it returns: None or its argument is fine, a tensor of
// the same size and type is handed on (and refused by run_post_accumulate_hooks once all
// hooks ran), anything else raises now. fn need not be callable until it is called (as in
// PyTorch, where calling it raises TypeError).
GradHook python_post_accumulate_hook(py::object fn, void** gc_object) {
  *gc_object = fn.ptr();
  auto ref = std::make_shared<PyRef>(std::move(fn));
  return [ref](const TensorPtr& t) -> TensorPtr {
    py::gil_scoped_acquire gil;
    py::object self = py::cast(t);
    py::object r = ref->obj(self);
    if (r.is_none() || r.is(self)) return nullptr;
    GC_CHECK(py::isinstance<Tensor>(r), TypeError, "expected Variable, but hook returned '", Py_TYPE(r.ptr())->tp_name,
             "'");
    TensorPtr v = r.cast<TensorPtr>();
    if (v == t) return nullptr;
    GC_CHECK(v->shape == t->shape, RuntimeError, "hook '", hook_name(ref->obj), "' has changed the size of value");
    GC_CHECK(v->dtype == t->dtype, RuntimeError, "hook '", hook_name(ref->obj), "' has changed the type of value (was ",
             py::str(self.attr("type")()).cast<std::string>(), " got ", py::str(r.attr("type")()).cast<std::string>(),
             ")");
    return v;
  };
}

// One Python object per entry, None for null.
py::tuple tensors_or_none(const tensor_list& ts) {
  py::tuple t(ts.size());
  for (size_t i = 0; i < ts.size(); ++i) t[i] = ts[i] ? py::cast(ts[i]) : py::none();
  return t;
}

// None -> null, a Tensor -> it (the sequences of gc.autograd.Function's apply and backward).
tensor_list tensors_of(py::handle items) {
  tensor_list out;
  for (auto item : items) out.push_back(item.is_none() ? nullptr : item.cast<TensorPtr>());
  return out;
}

// The backward of a gc.autograd.Function node: `backward` is the Python trampoline
// (gradcore.autograd.function._run_backward) that calls the user's backward and checks what
// it returns; it gets (ctx, saved tensors, output gradients) and returns one gradient (or
// None) per input.
struct PyFunctionBackward final : autograd::FunctionBackward {
  PyRef ctx;
  PyRef backward;
  PyFunctionBackward(py::object c, py::object b) : ctx(std::move(c)), backward(std::move(b)) {}
  tensor_list operator()(const tensor_list& saved, const tensor_list& grads) override {
    py::gil_scoped_acquire gil;
    return tensors_of(backward.obj(ctx.obj, tensors_or_none(saved), tensors_or_none(grads)));
  }
};

// Note [Tensors in Python's GC]: a hook whose closure refers to its own tensor makes a
// cycle that runs through C++ (wrapper -> Tensor -> hook list -> closure -> wrapper), which
// reference counting alone never frees. The Tensor type takes part in Python's cycle
// collector: tp_traverse shows the collector the Python callables of the tensor's hooks
// (on the tensor for leaves, register_hook's and register_post_accumulate_grad_hook's; on
// its grad_fn for non-leaves), and tp_clear drops them. As in PyTorch, only references the
// wrapper owns exclusively are shown: the Tensor must be held by this wrapper alone (a graph
// or another C++ owner keeps it, and its hooks, alive for a reason the collector cannot
// see), and a grad_fn by this Tensor alone.
// The collector can also visit a wrapper that is still being built: the allocation tracks
// it before pybind11 lays out its value and holder (tp_alloc zero-fills, so the layout is
// not yet "simple" and has no values_and_holders array), and laying it out may itself
// allocate (the type cache of a new Python subclass such as Parameter), which can start a
// collection. Such a wrapper owns nothing yet.
TensorPtr* tensor_holder(PyObject* self) {
  auto* inst = reinterpret_cast<py::detail::instance*>(self);
  if (!inst->simple_layout && inst->nonsimple.values_and_holders == nullptr) return nullptr;
  if (!py::detail::is_holder_constructed(self)) return nullptr;
  return &inst->get_value_and_holder().holder<TensorPtr>();
}

int tensor_traverse(PyObject* self, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(self));  // heap types own a reference to their type
  if (TensorPtr* h = tensor_holder(self)) {
    for (autograd::HookSite site :
         {autograd::HookSite::Leaf, autograd::HookSite::Node, autograd::HookSite::PostAccumulate})
      if (const HookList* list = autograd::exclusive_hooks(*h, site))
        for (const HookEntry& e : *list)
          if (e.gc_object) Py_VISIT(static_cast<PyObject*>(e.gc_object));
  }
  return 0;
}

int tensor_clear(PyObject* self) {
  if (TensorPtr* h = tensor_holder(self)) autograd::clear_exclusive_hooks(*h);
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
  py::class_<autograd::HookHandle>(m, "RemovableHandle", "Returned by register_hook; .remove() unregisters the hook.")
      .def("remove", &autograd::HookHandle::remove, "Unregister the hook (a second call does nothing).")
      .def_readonly("id", &autograd::HookHandle::id, "The hook's id.")
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](autograd::HookHandle& h, py::args) { h.remove(); }, "Unregister the hook.");

  cls.def("register_hook", [](const TensorPtr& t, py::function fn) {
        void* gc_object = nullptr;
        GradHook h = python_hook(std::move(fn), &gc_object);
        return autograd::register_hook(t, std::move(h), gc_object);
      }, py::arg("hook"),
      "Call hook(grad) each time the gradient w.r.t. this tensor is computed (backward and gc.grad).\n"
      "A hook may return a Tensor of the same shape and dtype to replace the gradient, or None.\n"
      "Returns a handle whose .remove() unregisters it.");
  cls.def("register_post_accumulate_grad_hook", [](const TensorPtr& t, py::object fn) {
        void* gc_object = nullptr;
        GradHook h = python_post_accumulate_hook(std::move(fn), &gc_object);
        return autograd::register_post_accumulate_grad_hook(t, std::move(h), gc_object);
      }, py::arg("hook"),
      "Call hook(tensor) with this leaf tensor each time backward() has accumulated its gradient\n"
      "into .grad (once per backward, after the gradients of all paths were summed; not in gc.grad).\n"
      "The hook must return None. Leaf tensors that require grad only (a Parameter is one).\n"
      "Returns a handle whose .remove() unregisters it.");
  cls.def("retain_grad", &autograd::retain_grad,
          "Keep this non-leaf tensor's gradient in .grad after backward() (leaves always do).");
  cls.def_property_readonly("retains_grad", [](const Tensor& t) { return t.retains_grad; },
                            "Whether retain_grad() was called on this non-leaf tensor.");

  namespace fw = autograd::fw;
  m.def("_fw_enter_level", &fw::enter_level, "Internal: open a dual level (forward_ad.dual_level).");
  m.def("_fw_exit_level", &fw::exit_level, py::arg("level"), "Internal: close the dual level.");
  m.def("_fw_level", []() { return fw::g_level.load(); }, "Internal: the active dual level (0 when none).");
  m.def("_fw_set_enabled", &fw::set_thread_enabled, py::arg("enabled"),
        "Internal: tangent propagation on/off for this thread; returns the previous setting.");
  m.def("_make_dual", &fw::make_dual, py::arg("primal"), py::arg("tangent"), "Internal: forward_ad.make_dual.");
  m.def("_fw_tangent", [](const TensorPtr& t) -> py::object {
        TensorPtr g = fw::tangent(t);
        return g ? py::cast(g) : py::none();
      }, py::arg("tensor"), "Internal: the tangent of a dual tensor at the active level, or None.");
  m.def("_fw_set_tangent", [](const TensorPtr& t, const TensorPtr& tangent) { fw::set_tangent(t, tangent); },
        py::arg("tensor"), py::arg("tangent"), "Internal: attach a tangent (custom Function jvp).");
  m.def("_unpack_dual", [](const TensorPtr& t) {
        auto [primal, g] = fw::unpack_dual(t);
        return py::make_tuple(primal, g ? py::cast(g) : py::none());
      }, py::arg("tensor"), "Internal: forward_ad.unpack_dual.");

  m.def("_record_function", [](const std::string& name, py::object ctx, py::object backward, py::list inputs,
                               py::list outputs, py::list saved) {
        auto fn = std::make_unique<PyFunctionBackward>(std::move(ctx), std::move(backward));
        autograd::record_function(name, std::move(fn), tensors_of(inputs), tensors_of(outputs), tensors_of(saved));
      }, py::arg("name"), py::arg("ctx"), py::arg("backward"), py::arg("inputs"), py::arg("outputs"),
      py::arg("saved"),
      "Internal (gc.autograd.Function.apply): record a Python-defined node. inputs are the tensor\n"
      "arguments (None elsewhere); outputs become its outputs; saved are ctx.save_for_backward's tensors.");
}

}  // namespace gradcore::bindings

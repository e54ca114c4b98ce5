// interop.cpp — exchanging tensors with other libraries without copying: DLPack both ways
// (Tensor.__dlpack__ / __dlpack_device__, gc.from_dlpack) and NumPy's __array_interface__.
// The ABI structs are csrc/core/dlpack.h. No numerics here.
//
// Note [DLPack lifetime]: an exported DLManagedTensor(Versioned) holds a reference to the
// tensor's Storage (not to the Tensor: `t.data = other` later does not pull the memory
// from under the consumer), released by the deleter the consumer calls; the capsule's own
// destructor calls the deleter only while the capsule is unconsumed (still named
// "dltensor"/"dltensor_versioned"). An imported tensor wraps the producer's memory with
// from_blob, and the Storage's release callback calls the producer's deleter. Either way
// the memory may be written by the other library, so the storage is marked as having
// external writers (Note [External writers], autograd/node.cpp).
#include <string>
#include <vector>

#include "bindings/common.h"
#include "core/dlpack.h"

namespace gradcore::bindings {

std::string type_display_name(py::handle obj) {
  py::handle tp = py::type::of(obj);
  std::string name = py::str(tp.attr("__qualname__"));
  std::string mod = py::hasattr(tp, "__module__") ? std::string(py::str(tp.attr("__module__"))) : "";
  if (mod.empty() || mod == "builtins" || mod.rfind("gradcore", 0) == 0) return name;
  return mod.substr(0, mod.find('.')) + "." + name;  // torch.Tensor, numpy.ndarray, jaxlib.ArrayImpl
}

namespace {
using namespace dlpack;

[[noreturn]] void buffer_error(const std::string& msg) {
  PyErr_SetString(PyExc_BufferError, msg.c_str());
  throw py::error_already_set();
}

DLDataType dl_dtype(DType d) {
  switch (d) {
    case DType::Float32: return {kDLFloat, 32, 1};
    case DType::Float64: return {kDLFloat, 64, 1};
    case DType::Float16: return {kDLFloat, 16, 1};
    case DType::BFloat16: return {kDLBfloat, 16, 1};
    case DType::Int64: return {kDLInt, 64, 1};
    case DType::Int32: return {kDLInt, 32, 1};
    case DType::Int16: return {kDLInt, 16, 1};
    case DType::Int8: return {kDLInt, 8, 1};
    case DType::UInt8: return {kDLUInt, 8, 1};
    case DType::Bool: return {kDLBool, 8, 1};
  }
  throw RuntimeError("dl_dtype: unknown dtype");
}

std::optional<DType> dtype_of_dl(DLDataType t) {
  if (t.lanes != 1) return std::nullopt;
  for (int i = 0; i < kNumDTypes; ++i) {
    const DType d = static_cast<DType>(i);
    const DLDataType x = dl_dtype(d);
    if (x.code == t.code && x.bits == t.bits) return d;
  }
  return std::nullopt;
}

std::string device_str(int32_t type, int32_t id) {
  const char* name = nullptr;
  switch (type) {
    case kDLCPU: name = "CPU"; break;
    case kDLCUDA: name = "CUDA"; break;
    case kDLCUDAHost: name = "CUDAHost"; break;
    case kDLOpenCL: name = "OpenCL"; break;
    case kDLVulkan: name = "Vulkan"; break;
    case kDLMetal: name = "Metal"; break;
    case kDLROCM: name = "ROCM"; break;
    case kDLROCMHost: name = "ROCMHost"; break;
    case kDLCUDAManaged: name = "CUDAManaged"; break;
    case kDLOneAPI: name = "OneAPI"; break;
    default: break;
  }
  return (name ? std::string(name) : "device type " + std::to_string(type)) + ":" + std::to_string(id);
}

// ---- export ----
struct ExportCtx {
  std::shared_ptr<Storage> storage;  // See Note [DLPack lifetime]
  std::vector<int64_t> shape, strides;
};

void fill_dltensor(DLTensor& dl, ExportCtx& ctx, const Tensor& t) {
  ctx.shape.assign(t.shape.begin(), t.shape.end());
  ctx.strides.assign(t.strides.begin(), t.strides.end());
  ctx.shape.reserve(1);  // non-null pointers also for 0-dim tensors
  ctx.strides.reserve(1);
  // The storage's base (64-byte aligned) plus byte_offset, as the spec recommends.
  dl.data = t.storage->data;
  dl.byte_offset = static_cast<uint64_t>(t.offset) * dtype_size(t.dtype);
  dl.device = {kDLCPU, 0};
  dl.ndim = static_cast<int32_t>(t.ndim());
  dl.dtype = dl_dtype(t.dtype);
  dl.shape = ctx.shape.data();
  dl.strides = ctx.strides.data();
}

void delete_legacy(DLManagedTensor* self) {
  delete static_cast<ExportCtx*>(self->manager_ctx);
  delete self;
}
void delete_versioned(DLManagedTensorVersioned* self) {
  delete static_cast<ExportCtx*>(self->manager_ctx);
  delete self;
}

// Capsule destructors: a capsule dropped without being consumed releases its tensor.
void legacy_capsule_destructor(PyObject* cap) {
  if (!PyCapsule_IsValid(cap, kCapsuleName)) return;  // consumed (renamed): the consumer owns it
  auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap, kCapsuleName));
  if (m && m->deleter) m->deleter(m);
}
void versioned_capsule_destructor(PyObject* cap) {
  if (!PyCapsule_IsValid(cap, kVersionedCapsuleName)) return;
  auto* m = static_cast<DLManagedTensorVersioned*>(PyCapsule_GetPointer(cap, kVersionedCapsuleName));
  if (m && m->deleter) m->deleter(m);
}

py::object to_dlpack(TensorPtr t, bool versioned, bool copied) {
  t->storage->external_writers = true;  // See Note [DLPack lifetime]
  auto ctx = std::make_unique<ExportCtx>();
  ctx->storage = t->storage;
  PyObject* cap;
  if (versioned) {
    auto m = std::make_unique<DLManagedTensorVersioned>();
    m->version = {kMajorVersion, kMinorVersion};
    m->flags = copied ? kFlagIsCopied : 0;
    fill_dltensor(m->dl_tensor, *ctx, *t);
    m->manager_ctx = ctx.get();
    m->deleter = delete_versioned;
    cap = PyCapsule_New(m.get(), kVersionedCapsuleName, versioned_capsule_destructor);
    if (!cap) throw py::error_already_set();
    m.release();
  } else {
    auto m = std::make_unique<DLManagedTensor>();
    fill_dltensor(m->dl_tensor, *ctx, *t);
    m->manager_ctx = ctx.get();
    m->deleter = delete_legacy;
    cap = PyCapsule_New(m.get(), kCapsuleName, legacy_capsule_destructor);
    if (!cap) throw py::error_already_set();
    m.release();
  }
  ctx.release();
  return py::reinterpret_steal<py::object>(cap);
}

// ---- import ----
struct ImportCtx {
  DLManagedTensor* legacy = nullptr;
  DLManagedTensorVersioned* versioned = nullptr;
};

void release_import(void* p) {
  auto* ctx = static_cast<ImportCtx*>(p);
  if (ctx->legacy && ctx->legacy->deleter) ctx->legacy->deleter(ctx->legacy);
  if (ctx->versioned && ctx->versioned->deleter) ctx->versioned->deleter(ctx->versioned);
  delete ctx;
}

// Takes ownership of the capsule's tensor (renaming the capsule) and wraps it. Everything is
// checked before the capsule is consumed: on an error it stays as it was and its destructor
// releases the tensor.
TensorPtr from_capsule(py::handle cap, bool* read_only) {
  PyObject* c = cap.ptr();
  DLTensor* dl = nullptr;
  ImportCtx imp;
  uint64_t flags = 0;
  if (PyCapsule_IsValid(c, kVersionedCapsuleName)) {
    imp.versioned = static_cast<DLManagedTensorVersioned*>(PyCapsule_GetPointer(c, kVersionedCapsuleName));
    if (imp.versioned->version.major > kMajorVersion)
      buffer_error("from_dlpack: the producer exported DLPack " + std::to_string(imp.versioned->version.major) + "." +
                   std::to_string(imp.versioned->version.minor) + ", gradcore reads DLPack 1.x and older");
    dl = &imp.versioned->dl_tensor;
    flags = imp.versioned->flags;
  } else if (PyCapsule_IsValid(c, kCapsuleName)) {
    imp.legacy = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(c, kCapsuleName));
    dl = &imp.legacy->dl_tensor;
  } else {
    const char* name = PyCapsule_CheckExact(c) ? PyCapsule_GetName(c) : nullptr;
    if (!name) PyErr_Clear();
    const std::string n = name ? name : "";
    GC_CHECK(n != kUsedCapsuleName && n != kUsedVersionedCapsuleName, RuntimeError,
             "from_dlpack: this DLPack capsule was already consumed (a capsule can be consumed only once; call "
             "__dlpack__() again for a new one)");
    throw RuntimeError("from_dlpack: expected a DLPack capsule named \"dltensor\" or \"dltensor_versioned\", got a "
                       "capsule named \"" + n + "\"");
  }
  GC_CHECK(dl->device.device_type == kDLCPU, RuntimeError,
           "from_dlpack: the tensor is on ", device_str(dl->device.device_type, dl->device.device_id),
           "; gradcore runs on the CPU only (copy it to the CPU first, e.g. with .cpu())");
  auto dt = dtype_of_dl(dl->dtype);
  GC_CHECK(dt.has_value(), TypeError, "from_dlpack: unsupported DLPack dtype (code ", int(dl->dtype.code), ", ",
           int(dl->dtype.bits), " bits, ", dl->dtype.lanes, " lanes); gradcore has float32, float64, float16, "
           "bfloat16, int64, int32, int16, int8, uint8 and bool");
  GC_CHECK(dl->ndim >= 0 && (dl->ndim == 0 || dl->shape), ValueError, "from_dlpack: invalid ndim ", dl->ndim);
  Shape shape(dl->shape, dl->shape + dl->ndim);
  const int64_t numel = shape_numel(shape);  // ValueError on negative sizes or overflow
  const Shape contiguous = contiguous_strides(shape);
  Shape strides(dl->ndim);
  int64_t extent = 1;
  for (int32_t i = 0; i < dl->ndim; ++i) {
    int64_t st = dl->strides ? dl->strides[i] : contiguous[i];
    if (shape[i] <= 1 || numel == 0) st = contiguous[i];  // never used: a stride of a size-1 dim
    GC_CHECK(st >= 0, ValueError,
             "from_dlpack: the tensor has a negative stride, which gradcore tensors do not support (copy it in "
             "the producing library first)");
    strides[i] = st;
    extent += (shape[i] - 1) * st;
  }
  if (numel == 0) extent = 0;
  *read_only = (flags & kFlagReadOnly) != 0;
  // Consumed from here on.
  if (PyCapsule_SetName(c, imp.versioned ? kUsedVersionedCapsuleName : kUsedCapsuleName) != 0)
    throw py::error_already_set();
  void* data = static_cast<char*>(dl->data) + dl->byte_offset;
  auto* ctx = new ImportCtx(imp);
  return from_blob(data, shape, strides, *dt, static_cast<size_t>(extent) * dtype_size(*dt), release_import, ctx);
}

// The capsule of obj: obj itself, or obj.__dlpack__() (DLPack 1.0 asked for first).
py::object capsule_of(py::handle obj) {
  if (PyCapsule_CheckExact(obj.ptr())) return py::reinterpret_borrow<py::object>(obj);
  if (!py::hasattr(obj, "__dlpack__"))
    throw TypeError("from_dlpack: expected an object with __dlpack__ (a gradcore, PyTorch or JAX tensor, a NumPy "
                    "array) or a DLPack capsule, got " + type_display_name(obj));
  if (py::hasattr(obj, "__dlpack_device__")) {
    py::tuple dev = obj.attr("__dlpack_device__")();
    const int32_t type = dev[0].cast<int32_t>(), id = dev[1].cast<int32_t>();
    GC_CHECK(type == kDLCPU, RuntimeError, "from_dlpack: the ", type_display_name(obj), " is on ",
             device_str(type, id), "; gradcore runs on the CPU only (copy it to the CPU first, e.g. with .cpu())");
  }
  try {
    return obj.attr("__dlpack__")(py::arg("max_version") = py::make_tuple(kMajorVersion, kMinorVersion));
  } catch (py::error_already_set& e) {
    if (!e.matches(PyExc_TypeError)) throw;  // a producer without max_version (DLPack < 1.0)
  }
  return obj.attr("__dlpack__")();
}

TensorPtr copy_of(const TensorPtr& t) {
  TensorPtr out = empty(t->shape, t->dtype);
  ops::cast_values(out, t);
  return out;
}

std::vector<py::ssize_t> byte_strides(const Tensor& t) {
  std::vector<py::ssize_t> s(t.strides.size());
  for (size_t i = 0; i < s.size(); ++i) s[i] = t.strides[i] * static_cast<py::ssize_t>(dtype_size(t.dtype));
  return s;
}
}  // namespace

TensorPtr tensor_from_dlpack(py::handle obj, bool* shared) {
  py::object cap = capsule_of(obj);
  bool read_only = false;
  TensorPtr t = from_capsule(cap, &read_only);
  // gradcore tensors are always writable: a read-only export (a read-only NumPy array) is
  // copied rather than shared, so that no gradcore op can write memory its owner protects.
  if (read_only) t = copy_of(t);
  if (shared) *shared = !read_only;
  return t;
}

TensorPtr tensor_from_dlpack_detached(py::handle obj) {
  try {
    return tensor_from_dlpack(obj, nullptr);
  } catch (py::error_already_set& e) {
    // A foreign tensor that requires grad refuses to export (PyTorch: BufferError); a copy
    // of its values is what tensor() wants, so read them through its detach().
    if (!e.matches(PyExc_BufferError) || !py::hasattr(obj, "detach") || !py::hasattr(obj, "requires_grad") ||
        !obj.attr("requires_grad").cast<bool>())
      throw;
  }
  return tensor_from_dlpack(obj.attr("detach")(), nullptr);
}

bool is_dlpack_object(py::handle obj) {
  return !is_tensor(obj) && !py::isinstance<py::array>(obj) && py::hasattr(py::type::of(obj), "__dlpack__");
}

void bind_interop(py::module_& m, TensorClass& cls) {
  cls.def("__dlpack__", [](const TensorPtr& t, py::object stream, py::object max_version, py::object dl_device,
                           py::object copy) {
        // PyTorch's checks and types: a tensor that requires grad is refused (BufferError).
        if (t->needs_grad()) buffer_error("Can't export tensors that require gradient, use tensor.detach()");
        if (!stream.is_none()) {
          GC_CHECK(PyLong_CheckExact(stream.ptr()), TypeError, "stream must be ``int`` or ``none``");
          if (stream.cast<int64_t>() != -1) {
            PyErr_SetString(PyExc_AssertionError, "stream should be None on cpu.");
            throw py::error_already_set();
          }
        }
        bool versioned = false;
        if (!max_version.is_none()) {
          GC_CHECK(py::isinstance<py::tuple>(max_version) && py::len(max_version) == 2, TypeError,
                   "__dlpack__: max_version must be None or a tuple (major, minor), got ",
                   type_display_name(max_version));
          versioned = py::reinterpret_borrow<py::tuple>(max_version)[0].cast<int64_t>() >= 1;
        }
        if (!dl_device.is_none()) {
          GC_CHECK(py::isinstance<py::tuple>(dl_device) && py::len(dl_device) == 2, TypeError,
                   "__dlpack__: dl_device must be None or a tuple (device_type, device_id)");
          py::tuple d = py::reinterpret_borrow<py::tuple>(dl_device);
          const int32_t type = d[0].cast<int32_t>(), id = d[1].cast<int32_t>();
          if (type != kDLCPU || id != 0)
            buffer_error("__dlpack__: gradcore tensors are on the CPU only; can't export to " + device_str(type, id));
        }
        const bool copied = !copy.is_none() && copy.cast<bool>();
        return to_dlpack(copied ? copy_of(t) : t, versioned, copied);
      }, py::kw_only(), py::arg("stream") = py::none(), py::arg("max_version") = py::none(),
      py::arg("dl_device") = py::none(), py::arg("copy") = py::none(),
      "A DLPack capsule sharing this tensor's memory (\"dltensor_versioned\" when max_version >= (1, 0), else "
      "the legacy \"dltensor\"); copy=True exports a copy. Refuses tensors that require grad (BufferError).");
  cls.def("__dlpack_device__", [](const Tensor&) { return py::make_tuple(static_cast<int>(kDLCPU), 0); },
          "(1, 0): kDLCPU, device 0.");
  cls.def_property_readonly("__array_interface__", [](const TensorPtr& t) {
        // AttributeError (so that hasattr() is False, as for PyTorch's __cuda_array_interface__ on
        // a CPU tensor): NumPy then falls back to __array__, which raises numpy()'s errors.
        if (t->needs_grad())
          throw py::attribute_error("__array_interface__: Can't call numpy() on Tensor that requires grad. Use "
                                    "tensor.detach().numpy() instead.");
        if (t->dtype == DType::BFloat16)
          throw py::attribute_error("__array_interface__: NumPy has no bfloat16 (convert with .float())");
        t->storage->external_writers = true;  // See Note [External writers] (autograd/node.cpp)
        // "data" is a flat uint8 NumPy view of the bytes the tensor reaches, whose base holds
        // the Storage: the consumer keeps it (not this Tensor) alive, as for t.numpy().
        const py::ssize_t es = static_cast<py::ssize_t>(dtype_size(t->dtype));
        int64_t lo, hi;
        t->storage_extent(&lo, &hi);
        auto* keep = new std::shared_ptr<Storage>(t->storage);
        py::capsule base(keep, [](void* p) { delete static_cast<std::shared_ptr<Storage>*>(p); });
        py::array buf(py::dtype("uint8"), {static_cast<py::ssize_t>((hi - lo) * es)}, {static_cast<py::ssize_t>(1)},
                      static_cast<char*>(t->storage->data) + lo * es, base);
        py::dict d;
        py::tuple shape(t->shape.size());
        for (size_t i = 0; i < t->shape.size(); ++i) shape[i] = py::int_(t->shape[i]);
        std::vector<py::ssize_t> st = byte_strides(*t);
        py::tuple strides(st.size());
        for (size_t i = 0; i < st.size(); ++i) strides[i] = py::int_(st[i]);
        d["shape"] = shape;
        d["typestr"] = py::dtype(dtype_name(t->dtype)).attr("str");
        d["data"] = buf;
        d["offset"] = py::int_((t->offset - lo) * es);
        d["strides"] = t->is_contiguous ? py::object(py::none()) : py::object(strides);
        d["version"] = 3;
        return d;
      }, "NumPy's array interface (version 3): a zero-copy description of the data that keeps the storage alive. "
         "Absent (AttributeError) for a tensor that requires grad and for bfloat16; np.asarray() of those raises "
         "numpy()'s RuntimeError / TypeError through __array__.");

  m.def("from_dlpack", [](py::object ext_tensor, py::object device, py::object copy) {
        check_device(device);
        bool shared = true;
        TensorPtr t = tensor_from_dlpack(ext_tensor, &shared);
        if (!copy.is_none()) {
          if (copy.cast<bool>() && shared) return copy_of(t);
          if (!copy.cast<bool>() && !shared)
            throw ValueError("from_dlpack: copy=False, but the producer's memory is read-only and gradcore "
                             "tensors are writable, so it has to be copied");
        }
        return t;
      }, py::arg("ext_tensor"), py::kw_only(), py::arg("device") = py::none(), py::arg("copy") = py::none(),
      "A tensor sharing the memory of ext_tensor (an object with __dlpack__, such as a PyTorch or JAX tensor or a "
      "NumPy array, or a DLPack capsule, which can be consumed once). CPU only; read-only memory is copied.");
}

}  // namespace gradcore::bindings

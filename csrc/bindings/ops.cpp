// ops.cpp — binds the op index (autograd/ops.h): Python operators (+ - * / // % ** @,
// comparisons, & | ^ ~, and their in-place forms), Tensor methods and the module-level
// functional forms, most of them from tables. Only argument conversion, the choice of
// overload and GIL release happen here.
#include <cmath>

#include "autograd/ops.h"
#include "autograd/variable.h"
#include "bindings/common.h"

namespace gradcore::bindings {
namespace {

using GilRelease = py::call_guard<py::gil_scoped_release>;
using ops::Scalar;

enum class Bin { Add, Sub, Mul, Div, FloorDiv, Mod, Pow, MatMul, And, Or, Xor, Eq, Ne, Lt, Le, Gt, Ge };

ops::CmpOp cmp_of(Bin k) {
  switch (k) {
    case Bin::Eq: return ops::CmpOp::EQ;
    case Bin::Ne: return ops::CmpOp::NE;
    case Bin::Lt: return ops::CmpOp::LT;
    case Bin::Le: return ops::CmpOp::LE;
    case Bin::Gt: return ops::CmpOp::GT;
    default: return ops::CmpOp::GE;
  }
}
bool is_cmp(Bin k) { return k >= Bin::Eq; }
ops::LogicOp logic_of(Bin k) { return k == Bin::And ? ops::LogicOp::AND : k == Bin::Or ? ops::LogicOp::OR : ops::LogicOp::XOR; }

TensorPtr tensor_op(Bin k, const TensorPtr& a, const TensorPtr& b) {
  py::gil_scoped_release nogil;
  switch (k) {
    case Bin::Add: return ops::add(a, b);
    case Bin::Sub: return ops::sub(a, b);
    case Bin::Mul: return ops::mul(a, b);
    case Bin::Div: return ops::div(a, b);
    case Bin::FloorDiv: return ops::floor_divide(a, b);
    case Bin::Mod: return ops::remainder(a, b);
    case Bin::MatMul: return ops::matmul(a, b);
    case Bin::And: case Bin::Or: case Bin::Xor: return ops::bitwise(logic_of(k), a, b);
    case Bin::Pow:
      // A 0-dim exponent of a float base: its value (the dtype stays a's). An integer base
      // takes the general path: int ** 0-dim float64 tensor is float64 (result_type).
      if (b->ndim() == 0 && b->numel == 1 && !b->needs_grad() && is_floating(a->dtype)) {
        Scalar s;
        TensorPtr bd = ops::to_dtype(b, is_floating(b->dtype) ? DType::Float64 : DType::Int64);
        s = is_floating(b->dtype) ? Scalar::of(*bd->data<double>()) : Scalar::of_int(*bd->data<int64_t>());
        return ops::pow(a, s);
      }
      return ops::pow(a, b);
    default: return ops::compare(cmp_of(k), a, b);
  }
}

TensorPtr scalar_op(Bin k, const TensorPtr& a, const Scalar& s, bool reflected) {
  py::gil_scoped_release nogil;
  switch (k) {
    case Bin::Add: return ops::add(a, s);
    case Bin::Sub: return reflected ? ops::rsub(a, s) : ops::sub(a, s);
    case Bin::Mul: return ops::mul(a, s);
    case Bin::Div: return reflected ? ops::rdiv(a, s) : ops::div(a, s);
    case Bin::FloorDiv: return reflected ? ops::rfloor_divide(a, s) : ops::floor_divide(a, s);
    case Bin::Mod: return reflected ? ops::rremainder(a, s) : ops::remainder(a, s);
    case Bin::And: case Bin::Or: case Bin::Xor: return ops::bitwise(logic_of(k), a, s);
    case Bin::Pow:
      return reflected ? ops::rpow(a, s) : ops::pow(a, s);
    case Bin::MatMul: break;
    default: return ops::compare(cmp_of(k), a, s);
  }
  throw TypeError("matmul: both operands must be tensors");
}

bool is_not_implemented(const py::object& o) { return o.ptr() == Py_NotImplemented; }
py::object not_implemented() { return py::reinterpret_borrow<py::object>(Py_NotImplemented); }

// a (op) other, or other (op) a when reflected. NotImplemented for foreign types.
py::object binary(Bin k, const TensorPtr& a, py::handle other, bool reflected) {
  if (is_tensor(other)) {
    TensorPtr b = tensor_of(other);
    return py::cast(reflected ? tensor_op(k, b, a) : tensor_op(k, a, b));
  }
  Scalar s;
  if (k != Bin::MatMul && parse_scalar(other, s)) return py::cast(scalar_op(k, a, s, reflected));
  if (py::isinstance<py::array>(other) || py::isinstance<py::list>(other) || py::isinstance<py::tuple>(other)) {
    if (is_cmp(k) && !py::isinstance<py::array>(other)) return not_implemented();  // t == [1, 2] is False, as Python
    TensorPtr b = as_operand(other, *a);
    return py::cast(reflected ? tensor_op(k, b, a) : tensor_op(k, a, b));
  }
  return not_implemented();
}

TensorPtr require_tensor(py::handle x, const char* fn) {
  if (py::isinstance<Tensor>(x)) return x.cast<TensorPtr>();
  throw TypeError(std::string(fn) + "(): argument 'input' must be Tensor, not " +
                  type_display_name(x));
}

// Functional binary form: gc.add(a, b) with tensors or scalars on either side.
py::object binary_fn(Bin k, py::handle a, py::handle b, const char* name) {
  if (py::isinstance<Tensor>(a)) {
    py::object r = binary(k, a.cast<TensorPtr>(), b, false);
    if (!is_not_implemented(r)) return r;
  } else if (py::isinstance<Tensor>(b)) {
    py::object r = binary(k, b.cast<TensorPtr>(), a, true);
    if (!is_not_implemented(r)) return r;
  }
  throw TypeError(std::string(name) + "(): unsupported operand types " +
                  type_display_name(a) + " and " +
                  type_display_name(b));
}

// self (op)= other: in place (Note [In-place ops]); returns self.
TensorPtr inplace_binary(Bin k, const TensorPtr& self, py::handle other, const char* name) {
  TensorPtr b;
  Scalar s;
  bool scalar = false;
  if (py::isinstance<Tensor>(other)) b = other.cast<TensorPtr>();
  else if (parse_scalar(other, s)) scalar = true;
  else b = as_operand(other, *self);
  if (b) {
    GC_CHECK(ops::broadcast_shapes(self->shape, b->shape, name) == self->shape, ShapeError, "output with shape ",
             shape_str(self->shape), " doesn't match the broadcast shape ",
             shape_str(ops::broadcast_shapes(self->shape, b->shape, name)));
  }
  // The GIL is held here; tensor_op / scalar_op release it around the arithmetic.
  return ops::apply_inplace(self, name, [&](const TensorPtr& x) {
    return scalar ? scalar_op(k, x, s, false) : tensor_op(k, x, b);
  }, {b.get()});
}

// add / sub with alpha: a + alpha * b.
py::object add_alpha(Bin k, py::handle a, py::handle b, py::handle alpha, const char* name) {
  Scalar al;
  if (alpha.is_none()) return binary_fn(k, a, b, name);
  GC_CHECK(parse_scalar(alpha, al), TypeError, name, "(): alpha must be a number");
  if (al.kind != Scalar::FLOAT && al.i == 1) return binary_fn(k, a, b, name);
  if (al.kind == Scalar::FLOAT && al.d == 1.0) return binary_fn(k, a, b, name);
  py::object alpha_obj = al.kind == Scalar::FLOAT ? py::object(py::float_(al.d)) : py::object(py::int_(al.i));
  py::object scaled = binary_fn(Bin::Mul, b, alpha_obj, name);
  return binary_fn(k, a, scaled, name);
}

// clamp's bounds, parsed (with the GIL) before the op runs (without it).
struct ClampArgs {
  TensorPtr lt, ht;  // tensor bounds, or
  Scalar ls, hs;     // number bounds
  bool tensors = false, has_l = false, has_h = false;
  ClampArgs(const Tensor& x, py::handle lo, py::handle hi) {
    has_l = !lo.is_none();
    has_h = !hi.is_none();
    tensors = py::isinstance<Tensor>(lo) || py::isinstance<Tensor>(hi);
    if (tensors) {
      if (has_l) lt = as_operand(lo, x);
      if (has_h) ht = as_operand(hi, x);
      return;
    }
    GC_CHECK(!has_l || parse_scalar(lo, ls), TypeError, "clamp(): min must be a number or a Tensor");
    GC_CHECK(!has_h || parse_scalar(hi, hs), TypeError, "clamp(): max must be a number or a Tensor");
  }
  TensorPtr apply(const TensorPtr& x) const {
    if (tensors) return ops::clamp(x, lt, ht);
    return ops::clamp(x, has_l ? &ls : nullptr, has_h ? &hs : nullptr);
  }
};

TensorPtr scalar_or_tensor_clamp(const TensorPtr& x, py::handle lo, py::handle hi) {
  ClampArgs c(*x, lo, hi);
  py::gil_scoped_release nogil;
  return c.apply(x);
}

TensorPtr clamp_inplace(const TensorPtr& t, py::handle lo, py::handle hi, const char* name) {
  ClampArgs c(*t, lo, hi);
  py::gil_scoped_release nogil;
  return ops::apply_inplace(t, name, [&](const TensorPtr& x) { return c.apply(x); }, {c.lt.get(), c.ht.get()});
}

DType* opt_dtype(py::handle dtype, DType& store) {
  if (dtype.is_none()) return nullptr;
  store = parse_dtype(dtype, DType::Float32);
  return &store;
}

// unbind / split / chunk results as a Python tuple.
py::tuple to_tuple(const tensor_list& ts) {
  py::tuple t(ts.size());
  for (size_t i = 0; i < ts.size(); ++i) t[i] = py::cast(ts[i]);
  return t;
}

tensor_list split_sizes(const TensorPtr& x, const std::vector<int64_t>& sizes, int64_t dim) {
  const int64_t d = ops::normalize_dim(dim, x->ndim());
  int64_t total = 0;
  for (int64_t s : sizes) {
    GC_CHECK(s >= 0, RuntimeError, "split_with_sizes expects split_sizes have only non-negative entries, but got split_sizes=", shape_str(sizes));
    total += s;
  }
  GC_CHECK(total == x->shape[d], RuntimeError, "split_with_sizes expects split_sizes to sum exactly to ",
           x->shape[d], " (input tensor's size at dimension ", d, "), but got split_sizes=", shape_str(sizes));
  tensor_list out;
  int64_t start = 0;
  for (int64_t s : sizes) {
    out.push_back(ops::narrow(x, d, start, s));
    start += s;
  }
  return out;
}

tensor_list split(const TensorPtr& x, py::handle split_size_or_sections, int64_t dim) {
  GC_CHECK(x->ndim() > 0, RuntimeError, "split expects at least a 1-dimensional tensor");
  const int64_t d = ops::normalize_dim(dim, x->ndim());
  if (py::isinstance<py::int_>(split_size_or_sections)) {
    const int64_t s = split_size_or_sections.cast<int64_t>();
    GC_CHECK(s >= 0, RuntimeError, "split expects split_size be non-negative, but got split_size=", s);
    const int64_t n = x->shape[d];
    std::vector<int64_t> sizes;
    if (s == 0) {
      GC_CHECK(n == 0, RuntimeError, "split_size can only be 0 if dimension size is 0, but got dimension size of ", n);
      sizes.push_back(0);
    } else {
      for (int64_t start = 0; start < n; start += s) sizes.push_back(std::min(s, n - start));
      if (sizes.empty()) sizes.push_back(0);
    }
    return split_sizes(x, sizes, d);
  }
  GC_CHECK(!py::isinstance<Tensor>(split_size_or_sections) && py::isinstance<py::sequence>(split_size_or_sections),
           TypeError, "split(): split_size_or_sections must be an int or a list of ints");
  std::vector<int64_t> sizes;
  for (auto v : split_size_or_sections) sizes.push_back(v.cast<int64_t>());
  return split_sizes(x, sizes, d);
}

tensor_list chunk(const TensorPtr& x, int64_t chunks, int64_t dim) {
  GC_CHECK(x->ndim() > 0, RuntimeError, "chunk expects at least a 1-dimensional tensor");
  GC_CHECK(chunks > 0, RuntimeError, "chunk expects `chunks` to be greater than 0, got: ", chunks);
  const int64_t d = ops::normalize_dim(dim, x->ndim()), n = x->shape[d];
  const int64_t size = (n + chunks - 1) / chunks;
  std::vector<int64_t> sizes;
  if (size == 0) {
    for (int64_t i = 0; i < chunks; ++i) sizes.push_back(0);
  } else {
    for (int64_t start = 0; start < n; start += size) sizes.push_back(std::min(size, n - start));
  }
  return split_sizes(x, sizes, d);
}

tensor_list unbind(const TensorPtr& x, int64_t dim) {
  GC_CHECK(x->ndim() > 0, IndexError, "Dimension specified as 0 but tensor has no dimensions");
  const int64_t d = ops::normalize_dim(dim, x->ndim());
  tensor_list out;
  for (int64_t i = 0; i < x->shape[d]; ++i) out.push_back(ops::select(x, d, i));
  return out;
}

TensorPtr flatten(const TensorPtr& x, int64_t start_dim, int64_t end_dim) {
  const int64_t nd = x->ndim();
  if (nd == 0) return ops::reshape(x, {1});
  const int64_t s = ops::normalize_dim(start_dim, nd), e = ops::normalize_dim(end_dim, nd);
  GC_CHECK(s <= e, RuntimeError, "flatten() has invalid args: start_dim cannot come after end_dim");
  if (s == e) return x;
  Shape shape(x->shape.begin(), x->shape.begin() + s);
  int64_t m = 1;
  for (int64_t d = s; d <= e; ++d) m *= x->shape[d];
  shape.push_back(m);
  shape.insert(shape.end(), x->shape.begin() + e + 1, x->shape.end());
  return ops::reshape(x, shape);
}

TensorPtr reverse_dims(const TensorPtr& x) {
  std::vector<int64_t> dims(x->ndim());
  for (int64_t i = 0; i < x->ndim(); ++i) dims[i] = x->ndim() - 1 - i;
  return ops::permute(x, dims);
}

// x.T: reverse the dims (PyTorch warns for ndim not 2; gradcore just does it).
TensorPtr t_2d(const TensorPtr& x) {
  GC_CHECK(x->ndim() <= 2, RuntimeError, "t() expects a tensor with <= 2 dimensions, but self is ", x->ndim(), "D");
  return x->ndim() < 2 ? x : ops::transpose(x, 0, 1);
}

// A unary float op in place: self = f(self).
template <class F>
TensorPtr unary_inplace(const TensorPtr& self, const char* name, F f) {
  py::gil_scoped_release nogil;
  return ops::apply_inplace(self, name, [&](const TensorPtr& x) { return f(x); });
}

// A CPython binary number slot: either operand may be the Tensor (reflected when it is the second).
template <Bin K>
PyObject* number_slot(PyObject* a, PyObject* b) {
  try {
    py::object r = is_tensor(a) ? binary(K, tensor_of(a), b, false) : binary(K, tensor_of(b), a, true);
    return r.release().ptr();
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (...) {
    py::detail::try_translate_exceptions();
  }
  return nullptr;
}

PyObject* neg_slot(PyObject* a) {
  try {
    TensorPtr x = tensor_of(a);
    TensorPtr r;
    {
      py::gil_scoped_release nogil;
      r = ops::neg(x);
    }
    return py::cast(r).release().ptr();
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (...) {
    py::detail::try_translate_exceptions();
  }
  return nullptr;
}

}  // namespace

void install_number_slots(PyHeapTypeObject* heap_type) {
  PyNumberMethods& nb = heap_type->as_number;
  nb.nb_add = number_slot<Bin::Add>;
  nb.nb_subtract = number_slot<Bin::Sub>;
  nb.nb_multiply = number_slot<Bin::Mul>;
  nb.nb_true_divide = number_slot<Bin::Div>;
  nb.nb_negative = neg_slot;
}

void bind_ops(py::module_& m, TensorClass& cls) {
  // ---- operators ----
  struct OpName { const char* fwd; const char* rev; const char* inp; Bin k; };
  // + - * / are number slots (install_number_slots); their in-place forms are methods.
  for (OpName o : {OpName{"__add__", "__radd__", "__iadd__", Bin::Add}, OpName{"__sub__", "__rsub__", "__isub__", Bin::Sub},
                   OpName{"__mul__", "__rmul__", "__imul__", Bin::Mul},
                   OpName{"__truediv__", "__rtruediv__", "__itruediv__", Bin::Div},
                   OpName{"__floordiv__", "__rfloordiv__", "__ifloordiv__", Bin::FloorDiv},
                   OpName{"__mod__", "__rmod__", "__imod__", Bin::Mod},
                   OpName{"__pow__", "__rpow__", "__ipow__", Bin::Pow},
                   OpName{"__matmul__", "__rmatmul__", "__imatmul__", Bin::MatMul},
                   OpName{"__and__", "__rand__", "__iand__", Bin::And}, OpName{"__or__", "__ror__", "__ior__", Bin::Or},
                   OpName{"__xor__", "__rxor__", "__ixor__", Bin::Xor}}) {
    Bin k = o.k;
    const char* inp = o.inp;
    if (k != Bin::Add && k != Bin::Sub && k != Bin::Mul && k != Bin::Div) {
      cls.def(o.fwd, [k](const TensorPtr& a, py::handle b) { return binary(k, a, b, false); }, py::is_operator());
      cls.def(o.rev, [k](const TensorPtr& a, py::handle b) { return binary(k, a, b, true); }, py::is_operator());
    }
    cls.def(o.inp, [k, inp](const TensorPtr& a, py::handle b) -> py::object {
      if (k == Bin::MatMul) {
        // a @= b: in place when the product has a's shape and dtype (issue 11); otherwise a
        // rebinds to the product, as in PyTorch (which has no __imatmul__: always a rebind).
        TensorPtr r = tensor_op(k, a, as_operand(b, *a));
        if (r->shape != a->shape || r->dtype != a->dtype) return py::cast(r);
        {
          py::gil_scoped_release nogil;
          ops::copy_(a, r);
        }
        return py::cast(a);
      }
      return py::cast(inplace_binary(k, a, b, inp));
    }, py::is_operator());
  }
  for (auto [name, k] : {std::pair{"__eq__", Bin::Eq}, {"__ne__", Bin::Ne}, {"__lt__", Bin::Lt}, {"__le__", Bin::Le},
                         {"__gt__", Bin::Gt}, {"__ge__", Bin::Ge}}) {
    Bin kk = k;
    cls.def(name, [kk](const TensorPtr& a, py::handle b) { return binary(kk, a, b, false); }, py::is_operator());
  }
  // Tensors stay usable as dict keys: identity hashing, as in PyTorch.
  cls.def("__hash__", [](py::handle self) { return static_cast<Py_hash_t>(reinterpret_cast<uintptr_t>(self.ptr()) >> 4); });
  cls.def("__pos__", [](const TensorPtr& t) { return t; });
  cls.def("__abs__", &ops::abs, GilRelease());
  cls.def("__invert__", &ops::bitwise_not, GilRelease());

  // ---- binary functions: gc.f(input, other) and Tensor.f(other) ----
  struct FnName { const char* name; Bin k; const char* doc; };
  for (FnName f : {FnName{"mul", Bin::Mul, "input * other, broadcasting (NumPy rules); scalars allowed on either side."},
                   FnName{"multiply", Bin::Mul, "input * other (alias of mul)."},
                   FnName{"true_divide", Bin::Div, "input / other, a true division (integers give floats)."},
                   FnName{"floor_divide", Bin::FloorDiv, "input // other, rounded toward -inf (Python's //)."},
                   FnName{"remainder", Bin::Mod, "input % other with the sign of other (Python's %)."},
                   FnName{"pow", Bin::Pow, "input ** exponent with a scalar exponent (or a positive scalar base)."},
                   FnName{"matmul", Bin::MatMul, "Matrix product with PyTorch's rules: 1-D and 2-D operands, batched N-D with broadcast batch dims."},
                   FnName{"eq", Bin::Eq, "input == other elementwise (a bool tensor)."},
                   FnName{"ne", Bin::Ne, "input != other elementwise (a bool tensor)."},
                   FnName{"not_equal", Bin::Ne, "input != other elementwise (a bool tensor)."},
                   FnName{"lt", Bin::Lt, "input < other elementwise (a bool tensor)."},
                   FnName{"less", Bin::Lt, "input < other elementwise (a bool tensor)."},
                   FnName{"le", Bin::Le, "input <= other elementwise (a bool tensor)."},
                   FnName{"less_equal", Bin::Le, "input <= other elementwise (a bool tensor)."},
                   FnName{"gt", Bin::Gt, "input > other elementwise (a bool tensor)."},
                   FnName{"greater", Bin::Gt, "input > other elementwise (a bool tensor)."},
                   FnName{"ge", Bin::Ge, "input >= other elementwise (a bool tensor)."},
                   FnName{"greater_equal", Bin::Ge, "input >= other elementwise (a bool tensor)."},
                   FnName{"bitwise_and", Bin::And, "input & other on bool or integer tensors."},
                   FnName{"bitwise_or", Bin::Or, "input | other on bool or integer tensors."},
                   FnName{"bitwise_xor", Bin::Xor, "input ^ other on bool or integer tensors."}}) {
    Bin k = f.k;
    const char* name = f.name;
    const char* arg = k == Bin::Pow ? "exponent" : "other";
    m.def(name, [k, name](py::handle a, py::handle b) { return binary_fn(k, a, b, name); }, py::arg("input"),
          py::arg(arg), f.doc);
    cls.def(name, [k, name](py::handle a, py::handle b) { return binary_fn(k, a, b, name); }, py::arg(arg), f.doc);
  }
  m.def("mm", [](const TensorPtr& a, const TensorPtr& b, bool ta, bool tb) { return ops::mm(a, b, ta, tb); },
        py::arg("input"), py::arg("mat2"), py::kw_only(), py::arg("trans_a") = false, py::arg("trans_b") = false,
        GilRelease(), "op(input) @ op(mat2) for 2-D tensors, with transpose flags (no transpose is materialised).");
  cls.def("mm", [](const TensorPtr& a, const TensorPtr& b) { return ops::mm(a, b, false, false); }, py::arg("mat2"),
          GilRelease(), "self @ mat2 for 2-D tensors.");
  for (auto [name, k] : {std::pair{"add", Bin::Add}, {"sub", Bin::Sub}, {"subtract", Bin::Sub}}) {
    Bin kk = k;
    const char* nm = name;
    m.def(name, [kk, nm](py::handle a, py::handle b, py::handle alpha) { return add_alpha(kk, a, b, alpha, nm); },
          py::arg("input"), py::arg("other"), py::kw_only(), py::arg("alpha") = py::none(),
          "input + alpha * other (or -), broadcasting; scalars allowed on either side.");
    cls.def(name, [kk, nm](py::handle a, py::handle b, py::handle alpha) { return add_alpha(kk, a, b, alpha, nm); },
            py::arg("other"), py::kw_only(), py::arg("alpha") = py::none(),
            "self + alpha * other (or -), broadcasting.");
  }
  auto div_fn = [](py::handle a, py::handle b, py::object rounding_mode) -> py::object {
    if (rounding_mode.is_none()) return binary_fn(Bin::Div, a, b, "div");
    std::string mode = rounding_mode.cast<std::string>();
    if (mode == "floor") return binary_fn(Bin::FloorDiv, a, b, "div");
    GC_CHECK(mode == "trunc", RuntimeError,
             "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '", mode, "'");
    py::object q = binary_fn(Bin::Div, a, b, "div");
    TensorPtr qt = q.cast<TensorPtr>();
    TensorPtr at = py::isinstance<Tensor>(a) ? a.cast<TensorPtr>() : b.cast<TensorPtr>();
    TensorPtr r = ops::rounding(ops::RoundOp::TRUNC, qt);
    // integer operands keep their dtype under trunc division
    DType want = py::isinstance<Tensor>(a) && py::isinstance<Tensor>(b)
                     ? ops::result_type({a.cast<TensorPtr>().get(), b.cast<TensorPtr>().get()})
                     : at->dtype;
    return py::cast(is_floating(want) ? r : ops::to_dtype(r, want));
  };
  for (const char* name : {"div", "divide"}) {
    m.def(name, div_fn, py::arg("input"), py::arg("other"), py::kw_only(), py::arg("rounding_mode") = py::none(),
          "input / other; rounding_mode None (true division), 'trunc' or 'floor'.");
    cls.def(name, div_fn, py::arg("other"), py::kw_only(), py::arg("rounding_mode") = py::none(),
            "self / other; rounding_mode None (true division), 'trunc' or 'floor'.");
  }

  // ---- logic, classification, selection ----
  struct LName { const char* name; ops::LogicOp op; };
  for (LName l : {LName{"logical_and", ops::LogicOp::AND}, LName{"logical_or", ops::LogicOp::OR},
                  LName{"logical_xor", ops::LogicOp::XOR}}) {
    ops::LogicOp op = l.op;
    auto f = [op](const TensorPtr& a, py::handle b) {
      TensorPtr bt = as_operand(b, *a);
      py::gil_scoped_release nogil;
      return ops::logical(op, a, bt);
    };
    m.def(l.name, f, py::arg("input"), py::arg("other"), "Elementwise logic on truth values (nonzero is true); bool result.");
    cls.def(l.name, f, py::arg("other"), "Elementwise logic on truth values (nonzero is true); bool result.");
  }
  m.def("logical_not", &ops::logical_not, py::arg("input"), GilRelease(), "not x elementwise (a bool tensor).");
  cls.def("logical_not", &ops::logical_not, GilRelease(), "not x elementwise (a bool tensor).");
  m.def("bitwise_not", &ops::bitwise_not, py::arg("input"), GilRelease(), "~x on bool or integer tensors.");
  cls.def("bitwise_not", &ops::bitwise_not, GilRelease(), "~x on bool or integer tensors.");
  struct CName { const char* name; ops::FloatClass c; const char* doc; };
  for (CName c : {CName{"isnan", ops::FloatClass::NAN_, "True where NaN."},
                  CName{"isinf", ops::FloatClass::INF, "True where +inf or -inf."},
                  CName{"isposinf", ops::FloatClass::POSINF, "True where +inf."},
                  CName{"isneginf", ops::FloatClass::NEGINF, "True where -inf."},
                  CName{"isfinite", ops::FloatClass::FINITE, "True where neither NaN nor infinite."}}) {
    ops::FloatClass fc = c.c;
    auto f = [fc](const TensorPtr& x) { return ops::classify(fc, x); };
    m.def(c.name, f, py::arg("input"), GilRelease(), c.doc);
    cls.def(c.name, f, GilRelease(), c.doc);
  }
  m.def("where", [](const TensorPtr& cond, py::handle x, py::handle y) -> py::object {
        TensorPtr like = py::isinstance<Tensor>(x) ? x.cast<TensorPtr>() : (py::isinstance<Tensor>(y) ? y.cast<TensorPtr>() : nullptr);
        Scalar sx, sy;
        TensorPtr xt, yt;
        if (like) {
          xt = as_operand(x, *like);
          yt = as_operand(y, *like);
        } else {
          GC_CHECK(parse_scalar(x, sx) && parse_scalar(y, sy), TypeError, "where(): x and y must be tensors or numbers");
          ResultType r;
          r.add_scalar(sx.dtype());
          r.add_scalar(sy.dtype());
          DType d = r.result(ops::default_dtype());
          xt = ops::scalar_tensor(sx, d);
          yt = ops::scalar_tensor(sy, d);
        }
        TensorPtr r;
        {
          py::gil_scoped_release nogil;
          r = ops::where(cond, xt, yt);
        }
        return py::cast(r);
      }, py::arg("condition"), py::arg("input"), py::arg("other"),
      "x where condition is true, else y (broadcasting; differentiable in x and y).");
  cls.def("where", [](const TensorPtr& self, const TensorPtr& cond, py::handle y) {
        TensorPtr yt = as_operand(y, *self);
        py::gil_scoped_release nogil;
        return ops::where(cond, self, yt);
      }, py::arg("condition"), py::arg("other"), "self where condition is true, else other.");
  for (const char* name : {"maximum", "minimum", "fmax", "fmin"}) {
    const bool is_max = name[1] == 'a' || name[2] == 'a';
    auto f = [is_max](const TensorPtr& a, py::handle b) {
      TensorPtr bt = as_operand(b, *a);
      py::gil_scoped_release nogil;
      return is_max ? ops::maximum(a, bt) : ops::minimum(a, bt);
    };
    if (name[0] == 'f') continue;  // fmax/fmin (NaN ignored) are not provided
    m.def(name, f, py::arg("input"), py::arg("other"), "Elementwise max/min of two tensors; NaN propagates.");
    cls.def(name, f, py::arg("other"), "Elementwise max/min of two tensors; NaN propagates.");
  }
  for (const char* name : {"clamp", "clip"}) {
    m.def(name, &scalar_or_tensor_clamp, py::arg("input"), py::arg("min") = py::none(), py::arg("max") = py::none(),
          "min(max(x, min), max) elementwise (numbers or tensors); the gradient passes inside the range.");
    cls.def(name, &scalar_or_tensor_clamp, py::arg("min") = py::none(), py::arg("max") = py::none(),
            "min(max(x, min), max) elementwise (numbers or tensors).");
  }
  cls.def("clamp_min", [](const TensorPtr& x, py::handle lo) { return scalar_or_tensor_clamp(x, lo, py::none()); },
          py::arg("min"), "max(x, min).");
  cls.def("clamp_max", [](const TensorPtr& x, py::handle hi) { return scalar_or_tensor_clamp(x, py::none(), hi); },
          py::arg("max"), "min(x, max).");
  m.def("equal", [](const TensorPtr& a, const TensorPtr& b) { return ops::equal(a, b); }, py::arg("input"),
        py::arg("other"), "True when both have the same shape and values.");
  cls.def("equal", [](const TensorPtr& a, const TensorPtr& b) { return ops::equal(a, b); }, py::arg("other"),
          "True when both have the same shape and values.");

  // ---- unary ----
  using Unary = TensorPtr (*)(const TensorPtr&);
  struct UName { const char* name; Unary f; const char* doc; };
  // The registry ops (exp, sin, ..., the activations) are bound by bindings/math.cpp.
  for (UName u : {UName{"neg", &ops::neg, "-x elementwise."}, UName{"negative", &ops::neg, "-x elementwise."},
                  UName{"abs", &ops::abs, "|x| elementwise (gradient 0 at 0)."},
                  UName{"absolute", &ops::abs, "|x| elementwise (alias of abs)."},
                  UName{"sign", &ops::sign, "-1, 0 or 1 by the sign of x (NaN stays NaN)."},
                  UName{"sgn", &ops::sign, "The sign of x (alias of sign for real tensors)."}}) {
    m.def(u.name, u.f, py::arg("input"), GilRelease(), u.doc);
    cls.def(u.name, u.f, GilRelease(), u.doc);
  }
  struct RoundName { const char* name; ops::RoundOp op; const char* doc; };
  for (RoundName r : {RoundName{"floor", ops::RoundOp::FLOOR, "The largest integer <= x (gradient 0)."},
                      RoundName{"ceil", ops::RoundOp::CEIL, "The smallest integer >= x (gradient 0)."},
                      RoundName{"trunc", ops::RoundOp::TRUNC, "x rounded toward 0 (gradient 0)."},
                      RoundName{"fix", ops::RoundOp::TRUNC, "x rounded toward 0 (alias of trunc)."}}) {
    ops::RoundOp op = r.op;
    auto f = [op](const TensorPtr& x) { return ops::rounding(op, x); };
    m.def(r.name, f, py::arg("input"), GilRelease(), r.doc);
    cls.def(r.name, f, GilRelease(), r.doc);
  }
  m.def("leaky_relu", &ops::leaky_relu, py::arg("input"), py::arg("negative_slope") = 0.01, GilRelease(),
        "x if x > 0 else negative_slope * x.");
  m.def("dropout", &ops::dropout, py::arg("input"), py::arg("p") = 0.5, GilRelease(),
        "Zero each element with probability p and scale the rest by 1/(1-p) (training mode).");

  // ---- reductions ----
  auto sum_fn = [](const TensorPtr& x, py::object dim, bool keepdim, py::object dtype) {
    std::vector<int64_t> dims = parse_dims(dim);
    DType store;
    DType* dt = opt_dtype(dtype, store);
    py::gil_scoped_release nogil;
    return ops::sum(x, dims, keepdim, dt);
  };
  m.def("sum", sum_fn, py::arg("input"), py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(),
        py::arg("dtype") = py::none(),
        "Sum over all elements, or over dim (int or tuple); keepdim keeps them as size 1. Integers sum in int64. "
        "Pairwise/blocked: accurate for any length, the same for any thread count.");
  cls.def("sum", sum_fn, py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(),
          py::arg("dtype") = py::none(), "Sum over all elements or over dim (int or tuple).");
  auto mean_fn = [](const TensorPtr& x, py::object dim, bool keepdim, py::object dtype) {
    std::vector<int64_t> dims = parse_dims(dim);
    DType store;
    DType* dt = opt_dtype(dtype, store);
    py::gil_scoped_release nogil;
    return ops::mean(x, dims, keepdim, dt);
  };
  m.def("mean", mean_fn, py::arg("input"), py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(),
        py::arg("dtype") = py::none(), "Mean over all elements or over dim (int or tuple), keepdim as in sum.");
  cls.def("mean", mean_fn, py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(),
          py::arg("dtype") = py::none(), "Mean over all elements or over dim (int or tuple).");
  for (bool is_max : {true, false}) {
    const char* name = is_max ? "amax" : "amin";
    auto f = [is_max](const TensorPtr& x, py::object dim, bool keepdim) {
      std::vector<int64_t> dims = parse_dims(dim);
      py::gil_scoped_release nogil;
      return is_max ? ops::amax(x, dims, keepdim) : ops::amin(x, dims, keepdim);
    };
    const char* doc = is_max ? "Maximum values over dim (int or tuple; all dims by default); ties share the gradient "
                               "evenly, a NaN maximum gives its slice a NaN gradient (torch.amax)."
                             : "Minimum values over dim (int or tuple; all dims by default); ties share the gradient "
                               "evenly, a NaN minimum gives its slice a NaN gradient (torch.amin).";
    m.def(name, f, py::arg("input"), py::arg("dim") = py::tuple(), py::arg("keepdim") = false, doc);
    cls.def(name, f, py::arg("dim") = py::tuple(), py::arg("keepdim") = false, doc);
  }
  auto prod_fn = [](const TensorPtr& x, py::object dim, bool keepdim, py::object dtype) {
    GC_CHECK(dim.is_none() || (!py::isinstance<py::bool_>(dim) && (py::isinstance<py::int_>(dim) || PyIndex_Check(dim.ptr()))),
             TypeError, "prod(): argument 'dim' must be int, not ", type_display_name(dim));
    int64_t d = dim.is_none() ? 0 : dim.cast<int64_t>();
    GC_CHECK(!dim.is_none() || !keepdim, TypeError, "prod(): keepdim needs dim");
    DType store;
    DType* dt = opt_dtype(dtype, store);
    py::gil_scoped_release nogil;
    return ops::prod(x, dim.is_none() ? nullptr : &d, keepdim, dt);
  };
  const char* prod_doc = "The product of all elements, or over dim (an int); integers and bool multiply in int64 "
                         "unless dtype is given. Zeros get PyTorch's gradient (no division by them).";
  m.def("prod", prod_fn, py::arg("input"), py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(),
        py::arg("dtype") = py::none(), prod_doc);
  cls.def("prod", prod_fn, py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(),
          py::arg("dtype") = py::none(), prod_doc);
  for (bool is_any : {true, false}) {
    const char* name = is_any ? "any" : "all";
    auto f = [is_any](const TensorPtr& x, py::object dim, bool keepdim) {
      std::vector<int64_t> dims = parse_dims(dim);
      const bool no_dims = !dim.is_none() && dims.empty();  // dim=[]: PyTorch reduces nothing (sum reduces all)
      py::gil_scoped_release nogil;
      if (no_dims) {  // elementwise, as a reduction over a new dim of size 1
        TensorPtr u = ops::unsqueeze(x, 0);
        return is_any ? ops::any(u, {0}, false) : ops::all(u, {0}, false);
      }
      return is_any ? ops::any(x, dims, keepdim) : ops::all(x, dims, keepdim);
    };
    const char* doc = is_any ? "Whether any element (over dim: int or tuple; all by default) is nonzero; a bool "
                               "tensor (uint8 for uint8 input)."
                             : "Whether every element (over dim: int or tuple; all by default) is nonzero; a bool "
                               "tensor (uint8 for uint8 input).";
    m.def(name, f, py::arg("input"), py::arg("dim") = py::none(), py::arg("keepdim") = false, doc);
    cls.def(name, f, py::arg("dim") = py::none(), py::arg("keepdim") = false, doc);
  }
  auto count_nonzero_fn = [](const TensorPtr& x, py::object dim) {
    std::vector<int64_t> dims = parse_dims(dim);
    py::gil_scoped_release nogil;
    return ops::count_nonzero(x, dims);
  };
  m.def("count_nonzero", count_nonzero_fn, py::arg("input"), py::arg("dim") = py::none(),
        "The number of nonzero elements, over dim (int or tuple; all by default); int64.");
  cls.def("count_nonzero", count_nonzero_fn, py::arg("dim") = py::none(),
          "The number of nonzero elements, over dim (int or tuple; all by default); int64.");

  // ---- shape and views ----
  cls.def("reshape", [](const TensorPtr& x, py::args shape) {
    Shape s = parse_shape(shape);
    py::gil_scoped_release nogil;
    return ops::reshape(x, s);
  }, "A tensor with a new shape (one dim may be -1): a view when the layout allows, else a copy.");
  cls.def("view", [](const TensorPtr& x, py::args shape) {
    Shape s = parse_shape(shape);
    py::gil_scoped_release nogil;
    return ops::view(x, s);
  }, "A view with a new shape (one dim may be -1); RuntimeError when the layout does not allow one.");
  m.def("reshape", [](const TensorPtr& x, py::object shape) {
        Shape s = parse_shape(py::make_tuple(shape));
        py::gil_scoped_release nogil;
        return ops::reshape(x, s);
      }, py::arg("input"), py::arg("shape"), "A tensor with a new shape: a view when possible, else a copy.");
  auto flatten_fn = [](const TensorPtr& x, int64_t start_dim, int64_t end_dim) { return flatten(x, start_dim, end_dim); };
  cls.def("flatten", flatten_fn, py::arg("start_dim") = 0, py::arg("end_dim") = -1, GilRelease(),
          "Merge dims start_dim..end_dim into one (a view when possible).");
  m.def("flatten", flatten_fn, py::arg("input"), py::arg("start_dim") = 0, py::arg("end_dim") = -1, GilRelease(),
        "Merge dims start_dim..end_dim into one (a view when possible).");
  auto transpose = [](const TensorPtr& x, int64_t d0, int64_t d1) { return ops::transpose(x, d0, d1); };
  for (const char* name : {"transpose", "swapaxes", "swapdims"}) {
    m.def(name, transpose, py::arg("input"), py::arg("dim0"), py::arg("dim1"), GilRelease(),
          "A view with dims dim0 and dim1 swapped.");
    cls.def(name, transpose, py::arg("dim0"), py::arg("dim1"), GilRelease(), "A view with dims dim0 and dim1 swapped.");
  }
  cls.def("t", &t_2d, GilRelease(), "The transpose of a 2-D tensor (a view); 0-D and 1-D tensors as they are.");
  m.def("t", &t_2d, py::arg("input"), GilRelease(), "The transpose of a 2-D tensor (a view).");
  cls.def_property_readonly("T", &reverse_dims, "The tensor with its dimensions reversed (a view).");
  cls.def_property_readonly("mT", [](const TensorPtr& x) {
    GC_CHECK(x->ndim() >= 2, RuntimeError, "tensor.mT is only supported on matrices or batches of matrices. Got ",
             x->ndim(), "-D tensor.");
    return ops::transpose(x, -2, -1);
  }, "The last two dims swapped (a view).");
  cls.def("permute", [](const TensorPtr& x, py::args dims) {
    Shape d = parse_shape(dims);
    py::gil_scoped_release nogil;
    return ops::permute(x, d);
  }, "A view with its dims reordered: result.shape[i] = shape[dims[i]].");
  m.def("permute", [](const TensorPtr& x, py::object dims) {
        Shape d = parse_shape(py::make_tuple(dims));
        py::gil_scoped_release nogil;
        return ops::permute(x, d);
      }, py::arg("input"), py::arg("dims"), "A view with its dims reordered: result.shape[i] = input.shape[dims[i]].");
  cls.def("expand", [](const TensorPtr& x, py::args shape) {
    Shape s = parse_shape(shape);
    py::gil_scoped_release nogil;
    return ops::expand(x, s);
  }, "A view broadcast to the given shape (-1 keeps a dim; new dims have stride 0).");
  cls.def("squeeze", [](const TensorPtr& x, py::object dim) {
    std::vector<int64_t> dims = parse_dims(dim);
    py::gil_scoped_release nogil;
    return ops::squeeze(x, dims);
  }, py::arg("dim") = py::none(), "A view without size-1 dims (all, or the given dim(s)).");
  m.def("squeeze", [](const TensorPtr& x, py::object dim) {
        std::vector<int64_t> dims = parse_dims(dim);
        py::gil_scoped_release nogil;
        return ops::squeeze(x, dims);
      }, py::arg("input"), py::arg("dim") = py::none(), "A view without size-1 dims (all, or the given dim(s)).");
  cls.def("unsqueeze", &ops::unsqueeze, py::arg("dim"), GilRelease(), "A view with a size-1 dim inserted at dim.");
  m.def("unsqueeze", &ops::unsqueeze, py::arg("input"), py::arg("dim"), GilRelease(),
        "A view with a size-1 dim inserted at dim.");
  cls.def("narrow", &ops::narrow, py::arg("dim"), py::arg("start"), py::arg("length"), GilRelease(),
          "A view of length elements of dim from start.");
  m.def("narrow", &ops::narrow, py::arg("input"), py::arg("dim"), py::arg("start"), py::arg("length"), GilRelease(),
        "A view of length elements of dim from start.");
  cls.def("select", &ops::select, py::arg("dim"), py::arg("index"), GilRelease(), "x[..., index, ...] at dim (a view).");
  m.def("select", &ops::select, py::arg("input"), py::arg("dim"), py::arg("index"), GilRelease(),
        "input[..., index, ...] at dim (a view).");
  cls.def("diagonal", &ops::diagonal, py::arg("offset") = 0, py::arg("dim1") = 0, py::arg("dim2") = 1, GilRelease(),
          "The diagonal of dims dim1, dim2 as the last dim (a view).");
  m.def("diagonal", &ops::diagonal, py::arg("input"), py::arg("offset") = 0, py::arg("dim1") = 0, py::arg("dim2") = 1,
        GilRelease(), "The diagonal of dims dim1, dim2 as the last dim (a view).");
  cls.def("unfold", &ops::unfold, py::arg("dimension"), py::arg("size"), py::arg("step"), GilRelease(),
          "All slices of `size` elements along dimension, `step` apart, as a new last dim (a view).");
  cls.def("as_strided", [](const TensorPtr& x, py::object size, py::object stride, py::object offset) {
        Shape sz = parse_shape(py::make_tuple(size)), st = parse_shape(py::make_tuple(stride));
        int64_t off = offset.is_none() ? x->offset : offset.cast<int64_t>();
        py::gil_scoped_release nogil;
        return ops::as_strided(x, sz, st, off);
      }, py::arg("size"), py::arg("stride"), py::arg("storage_offset") = py::none(),
      "A view with the given size, strides and storage offset (in elements).");
  cls.def("unbind", [](const TensorPtr& x, int64_t dim) { return to_tuple(unbind(x, dim)); }, py::arg("dim") = 0,
          "The slices along dim, as a tuple of views.");
  m.def("unbind", [](const TensorPtr& x, int64_t dim) { return to_tuple(unbind(x, dim)); }, py::arg("input"),
        py::arg("dim") = 0, "The slices along dim, as a tuple of views.");
  cls.def("split", [](const TensorPtr& x, py::handle s, int64_t dim) { return to_tuple(split(x, s, dim)); },
          py::arg("split_size"), py::arg("dim") = 0, "Views of split_size elements (or the given sizes) along dim.");
  m.def("split", [](const TensorPtr& x, py::handle s, int64_t dim) { return to_tuple(split(x, s, dim)); },
        py::arg("tensor"), py::arg("split_size_or_sections"), py::arg("dim") = 0,
        "Views of split_size elements (or the given sizes) along dim.");
  cls.def("chunk", [](const TensorPtr& x, int64_t chunks, int64_t dim) { return to_tuple(chunk(x, chunks, dim)); },
          py::arg("chunks"), py::arg("dim") = 0, "At most `chunks` views of equal size (the last smaller) along dim.");
  m.def("chunk", [](const TensorPtr& x, int64_t chunks, int64_t dim) { return to_tuple(chunk(x, chunks, dim)); },
        py::arg("input"), py::arg("chunks"), py::arg("dim") = 0,
        "At most `chunks` views of equal size (the last smaller) along dim.");
  cls.def("detach", &ops::detach, "A new tensor sharing this storage, outside the graph.");
  m.def("detach", &ops::detach, py::arg("input"), "A new tensor sharing the storage, outside the graph.");
  cls.def("detach_", [](const TensorPtr& t) {
    autograd::detach_(*t);
    return t;
  }, "Detach this tensor from the graph in place; returns it.");
  cls.def("clone", &ops::clone, GilRelease(), "A copy (same layout) that stays in the graph.");
  m.def("clone", &ops::clone, py::arg("input"), GilRelease(), "A copy (same layout) that stays in the graph.");
  cls.def("contiguous", &ops::contiguous, GilRelease(), "This tensor if contiguous, else a contiguous copy.");
  cls.def("_to_dtype", [](const TensorPtr& x, py::object dtype) {
    DType d = parse_dtype(dtype, x->dtype);
    py::gil_scoped_release nogil;
    return ops::to_dtype(x, d);
  }, py::arg("dtype"), "Internal (Tensor.to): this tensor in another dtype (itself when the dtype matches).");
  struct Cast { const char* name; DType d; };
  for (Cast c : {Cast{"float", DType::Float32}, Cast{"double", DType::Float64}, Cast{"half", DType::Float16},
                 Cast{"bfloat16", DType::BFloat16}, Cast{"long", DType::Int64}, Cast{"int", DType::Int32},
                 Cast{"short", DType::Int16}, Cast{"char", DType::Int8}, Cast{"byte", DType::UInt8},
                 Cast{"bool", DType::Bool}}) {
    DType d = c.d;
    cls.def(c.name, [d](const TensorPtr& x) { return ops::to_dtype(x, d); }, GilRelease(),
            (std::string("This tensor as ") + dtype_name(d) + " (itself when it already is).").c_str());
  }

  // ---- softmax / losses ----
  const char* softmax_doc = "exp(x) / sum(exp(x)) along dim, max-subtracted (stable for any magnitude).";
  const char* log_softmax_doc = "x - logsumexp(x) along dim, numerically stable.";
  m.def("softmax", &ops::softmax, py::arg("input"), py::arg("dim") = -1, GilRelease(), softmax_doc);
  m.def("log_softmax", &ops::log_softmax, py::arg("input"), py::arg("dim") = -1, GilRelease(), log_softmax_doc);
  cls.def("softmax", &ops::softmax, py::arg("dim") = -1, GilRelease(), softmax_doc);
  cls.def("log_softmax", &ops::log_softmax, py::arg("dim") = -1, GilRelease(), log_softmax_doc);
  m.def("cross_entropy", [](py::handle input, py::handle target, const std::string& reduction, double label_smoothing) {
        TensorPtr logits = require_tensor(input, "cross_entropy");
        std::vector<int64_t> labels = parse_labels(target);
        ops::Reduction r = ops::parse_reduction(reduction);
        py::gil_scoped_release nogil;
        return ops::cross_entropy(logits, labels, r, label_smoothing);
      }, py::arg("input"), py::arg("target"), py::arg("reduction") = "mean", py::arg("label_smoothing") = 0.0,
      "Fused log-softmax + negative log-likelihood of integer class labels; numerically stable.");
  m.def("mse_loss", [](py::handle input, py::handle target, const std::string& reduction) {
        TensorPtr a = require_tensor(input, "mse_loss");
        TensorPtr b = as_operand(target, *a);
        ops::Reduction r = ops::parse_reduction(reduction);
        py::gil_scoped_release nogil;
        return ops::mse_loss(a, b, r);
      }, py::arg("input"), py::arg("target"), py::arg("reduction") = "mean",
      "Mean squared error (reduction 'mean', 'sum' or 'none'); shapes must match.");
  m.def("linear", [](const TensorPtr& x, const TensorPtr& w, py::object bias, const std::string& activation) {
        TensorPtr b = optional_tensor(bias, "linear: bias");
        const ops::Activation* act = activation == "none" ? nullptr : ops::find_activation(activation);
        if (!act && activation != "none") {
          std::string known = "none";
          for (const ops::Activation& a : ops::activations()) known += std::string(", ") + a.name;
          throw ValueError("linear: activation must be one of " + known + ", got '" + activation + "'");
        }
        py::gil_scoped_release nogil;
        return ops::linear(x, w, b, act);
      }, py::arg("input"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("activation") = "none",
      "activation(input @ weight.T + bias), weight of shape (out_features, in_features): one GEMM with the bias "
      "and activation fused into its epilogue.");

  // ---- in-place methods (Note [In-place ops]: recorded in grad mode where it applies) ----
  cls.def("zero_", [](const TensorPtr& t) {
    py::gil_scoped_release nogil;
    ops::fill_(t, Scalar::of(0.0), "zero_");
    return t;
  }, "Fill with zeros in place.");
  cls.def("fill_", [](const TensorPtr& t, py::handle v) {
    Scalar s;
    if (py::isinstance<Tensor>(v)) {
      TensorPtr vt = v.cast<TensorPtr>();
      GC_CHECK(vt->ndim() == 0, RuntimeError, "fill_ only supports 0-dimension value tensor but got tensor with ",
               vt->ndim(), " dimensions.");
      py::gil_scoped_release nogil;
      ops::copy_(t, vt);
      return t;
    }
    GC_CHECK(parse_scalar(v, s), TypeError, "fill_(): value must be a number");
    ops::check_value_fits(s, t->dtype);
    py::gil_scoped_release nogil;
    ops::fill_(t, s);
    return t;
  }, py::arg("value"), "Fill with value in place.");
  cls.def("copy_", [](const TensorPtr& t, py::handle src, bool non_blocking) {
    TensorPtr s = as_operand(src, *t);
    py::gil_scoped_release nogil;
    ops::copy_(t, s);
    return t;
  }, py::arg("src"), py::arg("non_blocking") = false,
     "Copy src (broadcast to this shape, converted to this dtype) into this tensor in place; differentiable in src.");
  // uniform_ normal_ bernoulli_ and the other distribution fills: bindings/random.cpp (issue 12).
  struct IName { const char* name; Bin k; };
  for (const char* name : {"div_", "divide_"}) {
    const char* nm = name;
    cls.def(name, [nm, div_fn](const TensorPtr& t, py::handle other, py::object rounding_mode) {
      if (rounding_mode.is_none()) return inplace_binary(Bin::Div, t, other, nm);
      if (py::isinstance<py::str>(rounding_mode) && rounding_mode.cast<std::string>() == "floor")
        return inplace_binary(Bin::FloorDiv, t, other, nm);
      TensorPtr b = py::isinstance<Tensor>(other) ? other.cast<TensorPtr>() : nullptr;
      return ops::apply_inplace(t, nm, [&](const TensorPtr& x) {
        return div_fn(py::cast(x), other, rounding_mode).cast<TensorPtr>();
      }, {b.get()});
    }, py::arg("other"), py::kw_only(), py::arg("rounding_mode") = py::none(),
       "In-place form of the op without the underscore.");
  }
  for (IName i : {IName{"mul_", Bin::Mul}, IName{"multiply_", Bin::Mul},
                  IName{"true_divide_", Bin::Div}, IName{"floor_divide_", Bin::FloorDiv},
                  IName{"remainder_", Bin::Mod}, IName{"pow_", Bin::Pow}, IName{"bitwise_and_", Bin::And},
                  IName{"bitwise_or_", Bin::Or}, IName{"bitwise_xor_", Bin::Xor}, IName{"eq_", Bin::Eq},
                  IName{"ne_", Bin::Ne}, IName{"lt_", Bin::Lt}, IName{"le_", Bin::Le}, IName{"gt_", Bin::Gt},
                  IName{"ge_", Bin::Ge}}) {
    Bin k = i.k;
    const char* name = i.name;
    cls.def(name, [k, name](const TensorPtr& t, py::handle other) { return inplace_binary(k, t, other, name); },
            py::arg(k == Bin::Pow ? "exponent" : "other"), "In-place form of the op without the underscore.");
  }
  for (auto [name, k] : {std::pair{"add_", Bin::Add}, {"sub_", Bin::Sub}, {"subtract_", Bin::Sub}}) {
    Bin kk = k;
    const char* nm = name;
    cls.def(name, [kk, nm](const TensorPtr& t, py::handle other, py::handle alpha) {
      if (alpha.is_none()) return inplace_binary(kk, t, other, nm);
      py::object scaled = binary_fn(Bin::Mul, other, alpha, nm);
      return inplace_binary(kk, t, scaled, nm);
    }, py::arg("other"), py::kw_only(), py::arg("alpha") = py::none(), "self += alpha * other (or -=), in place.");
  }
  struct UI { const char* name; Unary f; };
  for (UI u : {UI{"neg_", &ops::neg}, UI{"negative_", &ops::neg}, UI{"abs_", &ops::abs}, UI{"sign_", &ops::sign}}) {
    Unary f = u.f;
    const char* name = u.name;
    cls.def(name, [f, name](const TensorPtr& t) { return unary_inplace(t, name, f); },
            "In-place form of the op without the underscore.");
  }
  for (RoundName r : {RoundName{"floor_", ops::RoundOp::FLOOR, ""}, RoundName{"ceil_", ops::RoundOp::CEIL, ""},
                      RoundName{"trunc_", ops::RoundOp::TRUNC, ""}}) {
    ops::RoundOp op = r.op;
    const char* name = r.name;
    cls.def(name, [op, name](const TensorPtr& t) {
      return unary_inplace(t, name, [op](const TensorPtr& x) { return ops::rounding(op, x); });
    }, "In-place form of the op without the underscore.");
  }
  for (const char* name : {"clamp_", "clip_"}) {
    const char* nm = name;
    cls.def(name, [nm](const TensorPtr& t, py::handle lo, py::handle hi) { return clamp_inplace(t, lo, hi, nm); },
            py::arg("min") = py::none(), py::arg("max") = py::none(), "clamp in place.");
  }
  cls.def("clamp_min_", [](const TensorPtr& t, py::handle lo) { return clamp_inplace(t, lo, py::none(), "clamp_min_"); },
          py::arg("min"), "max(self, min) in place.");
  cls.def("clamp_max_", [](const TensorPtr& t, py::handle hi) { return clamp_inplace(t, py::none(), hi, "clamp_max_"); },
          py::arg("max"), "min(self, max) in place.");
  // lerp is an op (ops::lerp); addcmul / addcdiv are compositions (whose gradients are
  // PyTorch's formulas), each written once and shared by the three spellings.
  auto addc = [](bool divide) {
    return [divide](const TensorPtr& x, const TensorPtr& a, const TensorPtr& b, const Scalar& v) {
      return ops::add(x, ops::mul(divide ? ops::div(a, b) : ops::mul(a, b), v));
    };
  };
  auto value_of = [](py::handle value, const char* name) {
    Scalar v = Scalar::of(1.0);
    GC_CHECK(parse_scalar(value, v), TypeError, name, "(): argument 'value' must be a Number");
    return v;
  };
  cls.def("lerp_", [](const TensorPtr& t, const TensorPtr& end, py::handle weight) {
    TensorPtr w = as_operand(weight, *t);
    py::gil_scoped_release nogil;
    return ops::apply_inplace(t, "lerp_", [&](const TensorPtr& x) { return ops::lerp(x, end, w); }, {end.get(), w.get()});
  }, py::arg("end"), py::arg("weight"), "self += weight * (end - self), in place.");
  auto lerp = [](const TensorPtr& t, const TensorPtr& end, py::handle weight) {
    TensorPtr w = as_operand(weight, *t);
    py::gil_scoped_release nogil;
    return ops::lerp(t, end, w);
  };
  cls.def("lerp", lerp, py::arg("end"), py::arg("weight"), "self + weight * (end - self).");
  m.def("lerp", lerp, py::arg("input"), py::arg("end"), py::arg("weight"), "input + weight * (end - input).");
  for (bool divide : {false, true}) {
    const char* name = divide ? "addcdiv" : "addcmul";
    const char* name_ = divide ? "addcdiv_" : "addcmul_";
    const char* doc = divide ? "self + value * tensor1 / tensor2." : "self + value * tensor1 * tensor2.";
    auto f = addc(divide);
    auto outofplace = [f, value_of, name](const TensorPtr& t, const TensorPtr& a, const TensorPtr& b, py::handle value) {
      Scalar v = value_of(value, name);
      py::gil_scoped_release nogil;
      return f(t, a, b, v);
    };
    cls.def(name_, [f, value_of, name_](const TensorPtr& t, const TensorPtr& a, const TensorPtr& b, py::handle value) {
      Scalar v = value_of(value, name_);
      py::gil_scoped_release nogil;
      return ops::apply_inplace(t, name_, [&](const TensorPtr& x) { return f(x, a, b, v); }, {a.get(), b.get()});
    }, py::arg("tensor1"), py::arg("tensor2"), py::kw_only(), py::arg("value") = 1, "In-place form of the op without the underscore.");
    cls.def(name, outofplace, py::arg("tensor1"), py::arg("tensor2"), py::kw_only(), py::arg("value") = 1, doc);
    m.def(name, outofplace, py::arg("input"), py::arg("tensor1"), py::arg("tensor2"), py::kw_only(), py::arg("value") = 1,
          doc);
  }
  // ---- linear algebra (issue 12, linalg12) ----
  m.def("bmm", [](const TensorPtr& a, const TensorPtr& b) { return ops::bmm(a, b); }, py::arg("input"),
        py::arg("mat2"), GilRelease(), "Batched matrix product of 3-D tensors with equal batch sizes.");
  cls.def("bmm", [](const TensorPtr& a, const TensorPtr& b) { return ops::bmm(a, b); }, py::arg("mat2"),
          GilRelease(), "Batched matrix product of 3-D tensors with equal batch sizes.");
}

}  // namespace gradcore::bindings

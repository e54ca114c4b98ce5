// random.cpp — binds random generators and sampling (issue 12) with PyTorch's names and
// signatures: gradcore.Generator and default_generator, manual_seed / seed / initial_seed /
// get_rng_state / set_rng_state, rand / randn / randint / randperm / multinomial / poisson /
// bernoulli, the in-place distribution fills (uniform_ normal_ bernoulli_ exponential_
// cauchy_ log_normal_ geometric_ random_) and the creation ops eye / linspace / logspace.
// Every sampler takes generator= (None: the default generator). The numerics are in
// autograd/ops/random.cpp and kernels/rng.cpp; normal() and the *_like samplers are Python
// (python/gradcore/_random.py).
#include <cstring>
#include <random>

#include "autograd/ops.h"
#include "bindings/common.h"

namespace gradcore::bindings {
namespace {

using ops::Scalar;

std::string type_name(py::handle o) { return type_display_name(o); }  // torch.Tensor, not "Tensor"

// generator= argument: None -> the default generator (null), a gradcore.Generator -> it.
Generator* gen_of(py::handle g) {
  if (g.is_none()) return nullptr;
  GC_CHECK(py::isinstance<Generator>(g), TypeError, "generator must be a gradcore.Generator, not ", type_name(g));
  return g.cast<Generator*>();
}

TensorPtr finish(TensorPtr t, bool requires_grad, py::handle device) {
  check_device(device);
  check_requires_grad(*t, requires_grad);
  t->requires_grad = requires_grad;
  return t;
}

// A size given as varargs (f(2, 3)), one sequence (f((2, 3)), f([2, 3]), f(gc.Size(...)))
// or size= (f(size=(2, 3))), as PyTorch's factories accept.
Shape size_of(const py::args& args, py::handle size, const char* fn) {
  if (!size.is_none()) {
    GC_CHECK(args.size() == 0, TypeError, fn, "() got multiple values for argument 'size'");
    return parse_shape(py::make_tuple(size));
  }
  return parse_shape(args);  // no size at all: a 0-dim tensor (gradcore's zeros(); PyTorch refuses it)
}

// A seed as PyTorch takes it: an int in [-2**63, 2**64) (negative ones wrap to uint64).
uint64_t parse_seed(py::handle seed, bool allow_float) {
  py::object s = py::reinterpret_borrow<py::object>(seed);
  if (allow_float && PyFloat_Check(s.ptr())) s = py::int_(s);  // torch.manual_seed(1.5) seeds with 1
  GC_CHECK(PyLong_Check(s.ptr()), RuntimeError, "manual_seed expected a long, but got ", type_name(s));
  int overflow = 0;
  long long v = PyLong_AsLongLongAndOverflow(s.ptr(), &overflow);
  if (overflow == 0) return static_cast<uint64_t>(v);
  if (overflow > 0) {
    unsigned long long u = PyLong_AsUnsignedLongLong(s.ptr());
    if (!PyErr_Occurred()) return u;
    PyErr_Clear();
  }
  throw ValueError("Overflow when unpacking long long");
}

uint64_t fresh_seed() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32 | rd()) & ((uint64_t{1} << 63) - 1);
}

// Note [Generator state]: get_state() is a uint8 tensor of kStateBytes bytes: an 8-byte tag
// ("gcphilox" with a format version in the last byte), then the seed and the offset (in
// Philox blocks) as little-endian uint64. PyTorch's CPU state (mt19937, 5056 bytes) and
// ours do not convert into each other: set_state refuses anything but this layout.
constexpr int64_t kStateBytes = 24;
constexpr char kStateTag[8] = {'g', 'c', 'p', 'h', 'i', 'l', 'o', '\1'};

TensorPtr get_state(const Generator& g) {
  uint64_t seed, offset;
  g.get_state(&seed, &offset);
  TensorPtr t = empty({kStateBytes}, DType::UInt8);
  uint8_t* p = t->data<uint8_t>();
  std::memcpy(p, kStateTag, 8);
  for (int i = 0; i < 8; ++i) {
    p[8 + i] = static_cast<uint8_t>(seed >> (8 * i));
    p[16 + i] = static_cast<uint8_t>(offset >> (8 * i));
  }
  return t;
}

void set_state(Generator& g, py::handle state) {
  GC_CHECK(py::isinstance<Tensor>(state), TypeError, "expected a torch.ByteTensor, but got ", type_name(state));
  TensorPtr t = state.cast<TensorPtr>();
  GC_CHECK(t->dtype == DType::UInt8, TypeError, "RNG state must be a torch.ByteTensor");
  GC_CHECK(t->numel == kStateBytes, RuntimeError, "Expected a gradcore generator state of size ", kStateBytes,
           " (from get_state()) but found the input RNG state size to be ", t->numel);
  TensorPtr c = ops::contiguous(t);
  const uint8_t* p = c->data<uint8_t>();
  GC_CHECK(std::memcmp(p, kStateTag, 8) == 0, RuntimeError,
           "invalid RNG state: not a gradcore generator state (get_state() of a gradcore.Generator)");
  uint64_t seed = 0, offset = 0;
  for (int i = 0; i < 8; ++i) {
    seed |= static_cast<uint64_t>(p[8 + i]) << (8 * i);
    offset |= static_cast<uint64_t>(p[16 + i]) << (8 * i);
  }
  g.set_state(seed, offset);
}

py::object cpu_device() { return py::module_::import("gradcore._tensor").attr("device")("cpu"); }

// A Python int argument as int64 (not bool/float), for randint's bounds.
int64_t int_arg(py::handle o, const char* fn, const char* what) {
  GC_CHECK(!PyBool_Check(o.ptr()) && !PyFloat_Check(o.ptr()) && (PyLong_Check(o.ptr()) || PyIndex_Check(o.ptr())),
           TypeError, fn, "(): argument '", what, "' must be int, not ", type_name(o));
  return o.cast<int64_t>();
}

double num_arg(py::handle o, const char* fn, const char* what) {
  if (py::isinstance<Tensor>(o)) {  // a 0-dim tensor stands for its value (linspace(t0, t1, n))
    const TensorPtr t = o.cast<TensorPtr>();
    GC_CHECK(t->ndim() == 0, RuntimeError, fn, "(): argument '", what, "' must be a number or a 0-dim tensor, got a "
             "tensor of ", t->ndim(), " dims");
    return py::reinterpret_borrow<py::object>(o).attr("__float__")().cast<double>();
  }
  Scalar s;
  GC_CHECK(parse_scalar(o, s), TypeError, fn, "(): argument '", what, "' must be a number, not ", type_name(o));
  return s.d;
}

}  // namespace

void bind_random(py::module_& m, TensorClass& cls) {
  // ---- generators ----
  py::class_<Generator, GeneratorPtr> gen(m, "Generator",
      "A random number generator (PyTorch's torch.Generator): a counter-based Philox stream whose state is "
      "(seed, offset). Pass it as generator= to any random function. Streams are reproducible and independent "
      "of the thread count; they are not PyTorch's bit stream.");
  gen.def(py::init([](py::object device) {
        check_device(device);
        return std::make_shared<Generator>();
      }), py::arg("device") = "cpu");
  gen.def("manual_seed", [](const GeneratorPtr& g, py::handle seed) {
        g->manual_seed(parse_seed(seed, false));
        return g;
      }, py::arg("seed"), "Seed the generator (and restart its stream); returns the generator.");
  gen.def("seed", [](Generator& g) {
        const uint64_t s = fresh_seed();
        g.manual_seed(s);
        return s;
      }, "Seed with a non-deterministic random number and return it.");
  gen.def("initial_seed", &Generator::initial_seed, "The seed the generator was last seeded with.");
  gen.def("get_state", [](const Generator& g) { return get_state(g); },
          "The generator's state as a uint8 tensor (see set_state).");
  gen.def("set_state", [](const GeneratorPtr& g, py::handle state) {
        set_state(*g, state);
        return g;
      }, py::arg("new_state"),
      "Restore a state from get_state(); returns the generator. A tensor that is not one gives RuntimeError.");
  gen.def_property_readonly("device", [](const Generator&) { return cpu_device(); }, "The device (cpu).");
  m.attr("default_generator") = default_generator();

  m.def("manual_seed", [](py::handle seed) {
        default_generator()->manual_seed(parse_seed(seed, true));
        return default_generator();
      }, py::arg("seed"),
      "Seed the default generator (rand, randn, init, dropout, ...); returns gradcore.default_generator.");
  m.def("seed", []() {
        const uint64_t s = fresh_seed();
        default_generator()->manual_seed(s);
        return s;
      }, "Seed the default generator with a non-deterministic random number and return it.");
  m.def("initial_seed", []() { return default_generator()->initial_seed(); },
        "The seed of the default generator.");
  m.def("get_rng_state", []() { return get_state(*default_generator()); },
        "The default generator's state (a uint8 tensor).");
  m.def("set_rng_state", [](py::handle state) { set_state(*default_generator(), state); }, py::arg("new_state"),
        "Restore the default generator's state from get_rng_state().");

  // ---- sampling factories ----
  m.def("rand", [](py::args shape, py::object size, py::object generator, py::object dtype, py::object device,
                   bool requires_grad) {
        const Shape s = size_of(shape, size, "rand");
        Generator* g = gen_of(generator);
        const DType d = parse_dtype(dtype, ops::default_dtype());
        TensorPtr t;
        {
          py::gil_scoped_release nogil;
          t = ops::rand(s, d, 0.0, 1.0, g);
        }
        return finish(t, requires_grad, device);
      }, py::kw_only(), py::arg("size") = py::none(), py::arg("generator") = py::none(), py::arg("dtype") = py::none(),
      py::arg("device") = py::none(), py::arg("requires_grad") = false,
      "rand(*size, generator=None, dtype=None): uniform samples in [0, 1).");
  m.def("randn", [](py::args shape, py::object size, py::object generator, py::object dtype, py::object device,
                    bool requires_grad) {
        const Shape s = size_of(shape, size, "randn");
        Generator* g = gen_of(generator);
        const DType d = parse_dtype(dtype, ops::default_dtype());
        TensorPtr t;
        {
          py::gil_scoped_release nogil;
          t = ops::randn(s, d, 0.0, 1.0, g);
        }
        return finish(t, requires_grad, device);
      }, py::kw_only(), py::arg("size") = py::none(), py::arg("generator") = py::none(), py::arg("dtype") = py::none(),
      py::arg("device") = py::none(), py::arg("requires_grad") = false,
      "randn(*size, generator=None, dtype=None): standard normal samples.");
  m.def("randint", [](py::args args, py::object low, py::object high, py::object size, py::object generator,
                      py::object dtype, py::object device, bool requires_grad) {
        // randint(high, size) / randint(low, high, size), any of them also by keyword.
        std::vector<py::object> pos;
        for (py::handle a : args) pos.push_back(py::reinterpret_borrow<py::object>(a));
        GC_CHECK(pos.size() <= 3, TypeError, "randint() takes at most 3 positional arguments (", pos.size(), " given)");
        if (size.is_none() && !pos.empty()) { size = pos.back(); pos.pop_back(); }
        if (pos.size() == 2) {
          GC_CHECK(low.is_none() && high.is_none(), TypeError, "randint() got multiple values for 'low'/'high'");
          low = pos[0];
          high = pos[1];
        } else if (pos.size() == 1) {
          if (high.is_none()) high = pos[0];
          else { GC_CHECK(low.is_none(), TypeError, "randint() got multiple values for argument 'low'"); low = pos[0]; }
        }
        GC_CHECK(!high.is_none() && !size.is_none(), TypeError,
                 "randint() missing required arguments: randint(low=0, high, size, *, generator=None, dtype=None)");
        const int64_t lo = low.is_none() ? 0 : int_arg(low, "randint", "low");
        const int64_t hi = int_arg(high, "randint", "high");
        GC_CHECK(py::isinstance<py::sequence>(size) && !py::isinstance<py::str>(size), TypeError,
                 "randint(): argument 'size' must be tuple of ints, not ", type_name(size));
        const Shape s = parse_shape(py::make_tuple(size));
        Generator* g = gen_of(generator);
        const DType d = parse_dtype(dtype, DType::Int64);
        TensorPtr t;
        {
          py::gil_scoped_release nogil;
          t = ops::randint(s, lo, hi, d, g);
        }
        return finish(t, requires_grad, device);
      }, py::kw_only(), py::arg("low") = py::none(), py::arg("high") = py::none(), py::arg("size") = py::none(),
      py::arg("generator") = py::none(), py::arg("dtype") = py::none(), py::arg("device") = py::none(),
      py::arg("requires_grad") = false,
      "randint(low=0, high, size, *, generator=None, dtype=None): integers in [low, high) (int64 by default).");
  m.def("randperm", [](py::handle n, py::object generator, py::object dtype, py::object device, bool requires_grad) {
        const int64_t k = int_arg(n, "randperm", "n");
        Generator* g = gen_of(generator);
        const DType d = parse_dtype(dtype, DType::Int64);
        TensorPtr t;
        {
          py::gil_scoped_release nogil;
          t = ops::randperm(k, d, g);
        }
        return finish(t, requires_grad, device);
      }, py::arg("n"), py::kw_only(), py::arg("generator") = py::none(), py::arg("dtype") = py::none(),
      py::arg("device") = py::none(), py::arg("requires_grad") = false,
      "A random permutation of 0 .. n-1 (int64 by default).");
  auto multinomial = [](const TensorPtr& x, py::handle num_samples, bool replacement, py::object generator) {
    const int64_t k = int_arg(num_samples, "multinomial", "num_samples");
    Generator* g = gen_of(generator);
    py::gil_scoped_release nogil;
    return ops::multinomial(x, k, replacement, g);
  };
  m.def("multinomial", multinomial, py::arg("input"), py::arg("num_samples"), py::arg("replacement") = false,
        py::kw_only(), py::arg("generator") = py::none(),
        "num_samples category indices per row of input (1-D or 2-D non-negative weights), int64.");
  cls.def("multinomial", multinomial, py::arg("num_samples"), py::arg("replacement") = false, py::kw_only(),
          py::arg("generator") = py::none(), "torch.multinomial(self, ...).");
  m.def("poisson", [](const TensorPtr& x, py::object generator) {
        Generator* g = gen_of(generator);
        py::gil_scoped_release nogil;
        return ops::poisson(x, g);
      }, py::arg("input"), py::arg("generator") = py::none(), "Poisson samples with the rates of input (its dtype).");
  auto bernoulli = [](const TensorPtr& x, py::object p, py::object generator) {
    Generator* g = gen_of(generator);
    if (p.is_none()) {
      py::gil_scoped_release nogil;
      return ops::bernoulli(x, g);
    }
    const double pv = num_arg(p, "bernoulli", "p");
    TensorPtr y = empty(x->shape, x->dtype);
    py::gil_scoped_release nogil;
    ops::bernoulli_(y, pv, g);
    return y;
  };
  m.def("bernoulli", bernoulli, py::arg("input"), py::arg("p") = py::none(), py::kw_only(),
        py::arg("generator") = py::none(),
        "1 with probability input (or p, when given), else 0; input's shape and dtype.");
  cls.def("bernoulli", bernoulli, py::arg("p") = py::none(), py::kw_only(), py::arg("generator") = py::none(),
          "torch.bernoulli(self, ...).");

  // ---- in-place distribution fills ----
  cls.def("uniform_", [](const TensorPtr& t, double a, double b, py::object generator) {
    Generator* g = gen_of(generator);
    py::gil_scoped_release nogil;
    ops::uniform_(t, a, b, g);
    return t;
  }, py::arg("from") = 0.0, py::arg("to") = 1.0, py::kw_only(), py::arg("generator") = py::none(),
     "Fill with U(from, to), in place.");
  cls.def("normal_", [](const TensorPtr& t, double mean, double std, py::object generator) {
    Generator* g = gen_of(generator);
    py::gil_scoped_release nogil;
    ops::normal_(t, mean, std, g);
    return t;
  }, py::arg("mean") = 0.0, py::arg("std") = 1.0, py::kw_only(), py::arg("generator") = py::none(),
     "Fill with N(mean, std^2), in place.");
  cls.def("bernoulli_", [](const TensorPtr& t, py::object p, py::object generator) {
    Generator* g = gen_of(generator);
    if (py::isinstance<Tensor>(p)) {
      TensorPtr pt = p.cast<TensorPtr>();
      py::gil_scoped_release nogil;
      ops::bernoulli_(t, pt, g);
      return t;
    }
    const double pv = num_arg(p, "bernoulli_", "p");
    py::gil_scoped_release nogil;
    ops::bernoulli_(t, pv, g);
    return t;
  }, py::arg("p") = 0.5, py::kw_only(), py::arg("generator") = py::none(),
     "Fill with 1 with probability p (a number or a tensor broadcast to self), else 0, in place.");
  cls.def("exponential_", [](const TensorPtr& t, double lambd, py::object generator) {
    Generator* g = gen_of(generator);
    py::gil_scoped_release nogil;
    ops::exponential_(t, lambd, g);
    return t;
  }, py::arg("lambd") = 1.0, py::kw_only(), py::arg("generator") = py::none(),
     "Fill with Exponential(lambd) samples (density lambd * exp(-lambd x)), in place.");
  cls.def("cauchy_", [](const TensorPtr& t, double median, double sigma, py::object generator) {
    Generator* g = gen_of(generator);
    py::gil_scoped_release nogil;
    ops::cauchy_(t, median, sigma, g);
    return t;
  }, py::arg("median") = 0.0, py::arg("sigma") = 1.0, py::kw_only(), py::arg("generator") = py::none(),
     "Fill with Cauchy(median, sigma) samples, in place.");
  cls.def("log_normal_", [](const TensorPtr& t, double mean, double std, py::object generator) {
    Generator* g = gen_of(generator);
    py::gil_scoped_release nogil;
    ops::log_normal_(t, mean, std, g);
    return t;
  }, py::arg("mean") = 1.0, py::arg("std") = 2.0, py::kw_only(), py::arg("generator") = py::none(),
     "Fill with exp(N(mean, std^2)) samples, in place.");
  cls.def("geometric_", [](const TensorPtr& t, double p, py::object generator) {
    Generator* g = gen_of(generator);
    py::gil_scoped_release nogil;
    ops::geometric_(t, p, g);
    return t;
  }, py::arg("p"), py::kw_only(), py::arg("generator") = py::none(),
     "Fill with the number of Bernoulli(p) trials up to the first success (>= 1), in place.");
  cls.def("random_", [](const TensorPtr& t, py::object from, py::object to, py::object generator) {
    // random_() -> the dtype's range; random_(to) -> [0, to); random_(from, to) -> [from, to).
    Generator* g = gen_of(generator);
    int64_t low;
    uint64_t range;
    if (from.is_none() && to.is_none()) {
      ops::random_bounds(t->dtype, &low, &range);
    } else {
      if (to.is_none()) { to = from; from = py::int_(0); }
      low = from.is_none() ? 0 : int_arg(from, "random_", "from");
      const int64_t high = int_arg(to, "random_", "to");
      GC_CHECK(low < high, RuntimeError, "random_ expects 'from' to be less than 'to', but got from=", low,
               " >= to=", high);
      range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
    }
    py::gil_scoped_release nogil;
    ops::random_(t, low, range, g);
    return t;
  }, py::arg("from") = py::none(), py::arg("to") = py::none(), py::kw_only(), py::arg("generator") = py::none(),
     "Fill with integers in [from, to) (random_(to): [0, to); random_(): [0, 2**mantissa] for floats, "
     "[0, max] for integers), in place.");

  // ---- creation ----
  m.def("eye", [](py::handle n, py::object m_, py::object dtype, py::object device, bool requires_grad) {
        const int64_t rows = int_arg(n, "eye", "n");
        const int64_t cols = m_.is_none() ? rows : int_arg(m_, "eye", "m");
        return finish(ops::eye(rows, cols, parse_dtype(dtype, ops::default_dtype())), requires_grad, device);
      }, py::arg("n"), py::arg("m") = py::none(), py::kw_only(), py::arg("dtype") = py::none(),
      py::arg("device") = py::none(), py::arg("requires_grad") = false,
      "The n x m (m defaults to n) identity matrix.");
  m.def("linspace", [](py::handle start, py::handle end, py::handle steps, py::object dtype, py::object device,
                       bool requires_grad) {
        const double a = num_arg(start, "linspace", "start"), b = num_arg(end, "linspace", "end");
        const int64_t k = int_arg(steps, "linspace", "steps");
        return finish(ops::linspace(a, b, k, parse_dtype(dtype, ops::default_dtype())), requires_grad, device);
      }, py::arg("start"), py::arg("end"), py::arg("steps"), py::kw_only(), py::arg("dtype") = py::none(),
      py::arg("device") = py::none(), py::arg("requires_grad") = false,
      "steps evenly spaced values from start to end, both included (the default dtype unless given).");
  m.def("logspace", [](py::handle start, py::handle end, py::handle steps, double base, py::object dtype,
                       py::object device, bool requires_grad) {
        const double a = num_arg(start, "logspace", "start"), b = num_arg(end, "logspace", "end");
        const int64_t k = int_arg(steps, "logspace", "steps");
        return finish(ops::logspace(a, b, k, base, parse_dtype(dtype, ops::default_dtype())), requires_grad, device);
      }, py::arg("start"), py::arg("end"), py::arg("steps"), py::arg("base") = 10.0, py::kw_only(),
      py::arg("dtype") = py::none(), py::arg("device") = py::none(), py::arg("requires_grad") = false,
      "base ** linspace(start, end, steps).");
}

}  // namespace gradcore::bindings

// random.cpp — random sampling (issue 12): the in-place distribution fills beyond
// uniform_/normal_ (inplace.cpp), bernoulli, poisson, multinomial, randperm, randint, and
// the creation ops eye / linspace / logspace.
//
// Each sampler reserves its Philox counters from a Generator (Note [Generators],
// core/tensor.h) and runs one kernel of kernels/rng.cpp, so its values depend only on the
// generator's state, never on the thread count. None of them is differentiable (PyTorch
// gives no gradient through a sample either); they are listed in tests/op_table.py's
// NOT_DIFFERENTIABLE.
#include <cmath>
#include <limits>

#include "autograd/ops/common.h"

namespace gradcore::ops {
namespace {

// PyTorch's C type names, used by some of its distribution errors.
const char* c_type_name(DType d) {
  switch (d) {
    case DType::Int64: return "long int";
    case DType::Int32: return "int";
    case DType::Int16: return "short int";
    case DType::Int8: return "signed char";
    case DType::UInt8: return "unsigned char";
    case DType::Bool: return "bool";
    case DType::Float16: return "c10::Half";
    case DType::BFloat16: return "c10::BFloat16";
    case DType::Float32: return "float";
    default: return "double";
  }
}

// Writes a sample into dst in place: `fill(target)` gets dst itself when dst is contiguous
// and of dtype `direct` (float32/float64 for the float samplers, int64 for the integer
// ones), else a contiguous temporary of dtype `tmp` that is then converted into dst.
template <class Fill>
void sample_into(const TensorPtr& dst, const char* op, DType tmp, Fill&& fill) {
  check_inplace(dst, op);
  if (dst->numel == 0) return;
  const bool direct = dst->is_contiguous && (tmp == DType::Int64 ? dst->dtype == DType::Int64 : is_f32_or_f64(dst->dtype));
  TensorPtr target = direct ? dst : empty(dst->shape, tmp);
  fill(target);
  if (target != dst) cast_values(dst, target);
}

void check_continuous(const TensorPtr& dst, const char* dist, bool c_names) {
  GC_CHECK(is_floating(dst->dtype), RuntimeError, dist,
           " distribution is a continuous probability distribution. dtype must be a floating point but you "
           "specified ", c_names ? c_type_name(dst->dtype) : dtype_torch_name(dst->dtype));
}

// Runs kernel(T* data, n, seed, offset) with T the target's type after reserving its blocks.
template <class K>
void float_sample(const TensorPtr& dst, const char* op, Generator* gen, K&& kernel) {
  sample_into(dst, op, DType::Float64, [&](const TensorPtr& t) {
    uint64_t seed;
    const uint64_t off = rng_reserve(kernels::rng_blocks(t->numel), &seed, gen);
    dispatch(t->dtype, [&](auto z) {
      using T = decltype(z);
      kernel(t->data<T>(), t->numel, seed, off);
      return 0;
    });
  });
}

}  // namespace

void exponential_(const TensorPtr& dst, double lambd, Generator* gen) {
  check_continuous(dst, "Exponential", false);
  GC_CHECK(lambd > 0.0, RuntimeError, "exponential_ expects lambda > 0.0, but found lambda=", lambd);
  float_sample(dst, "exponential_", gen, [&](auto* p, int64_t n, uint64_t seed, uint64_t off) {
    using T = std::remove_pointer_t<decltype(p)>;
    kernels::rng_exponential<T>(p, n, seed, off, lambd);
  });
}

void cauchy_(const TensorPtr& dst, double median, double sigma, Generator* gen) {
  check_continuous(dst, "Cauchy", true);
  GC_CHECK(sigma > 0.0, RuntimeError, "cauchy_ expects sigma > 0.0, but found sigma=", sigma);
  float_sample(dst, "cauchy_", gen, [&](auto* p, int64_t n, uint64_t seed, uint64_t off) {
    using T = std::remove_pointer_t<decltype(p)>;
    kernels::rng_cauchy<T>(p, n, seed, off, median, sigma);
  });
}

void log_normal_(const TensorPtr& dst, double mean, double std, Generator* gen) {
  GC_CHECK(is_floating(dst->dtype), NotImplementedError, "\"log_normal_cpu\" not implemented for '",
           dtype_torch_name(dst->dtype), "'");
  GC_CHECK(std > 0.0, RuntimeError, "log_normal_ expects std > 0.0, but found std=", std);
  float_sample(dst, "log_normal_", gen, [&](auto* p, int64_t n, uint64_t seed, uint64_t off) {
    using T = std::remove_pointer_t<decltype(p)>;
    kernels::rng_log_normal<T>(p, n, seed, off, static_cast<T>(mean), static_cast<T>(std));
  });
}

void geometric_(const TensorPtr& dst, double p, Generator* gen) {
  GC_CHECK(dst->dtype != DType::Bool, NotImplementedError, "\"geometric_cpu\" not implemented for 'Bool'");
  GC_CHECK(p > 0 && p < 1, RuntimeError, "geometric_ expects p to be in (0, 1), but got p=", p);
  // Integer tensors get the float64 sample converted (exact below 2**53).
  float_sample(dst, "geometric_", gen, [&](auto* y, int64_t n, uint64_t seed, uint64_t off) {
    using T = std::remove_pointer_t<decltype(y)>;
    kernels::rng_geometric<T>(y, n, seed, off, p);
  });
}

void random_bounds(DType d, int64_t* low, uint64_t* range) {
  *low = 0;
  switch (d) {
    case DType::Float32: *range = (uint64_t{1} << 24) + 1; break;  // [0, 2**digits], both included
    case DType::Float64: *range = (uint64_t{1} << 53) + 1; break;
    case DType::Float16: *range = (uint64_t{1} << 11) + 1; break;
    case DType::BFloat16: *range = (uint64_t{1} << 8) + 1; break;
    case DType::Int64: *range = uint64_t{1} << 63; break;  // [0, max]
    case DType::Int32: *range = uint64_t{1} << 31; break;
    case DType::Int16: *range = uint64_t{1} << 15; break;
    case DType::Int8: *range = uint64_t{1} << 7; break;
    case DType::UInt8: *range = uint64_t{1} << 8; break;
    default: *range = 2; break;  // bool
  }
}

void random_(const TensorPtr& dst, int64_t low, uint64_t range, Generator* gen) {
  if (!is_floating(dst->dtype)) {
    // PyTorch: both ends must be values of the dtype.
    double lo = 0, hi = 1;
    switch (dst->dtype) {
      case DType::Int32: lo = -2147483648.0; hi = 2147483647.0; break;
      case DType::Int16: lo = -32768; hi = 32767; break;
      case DType::Int8: lo = -128; hi = 127; break;
      case DType::UInt8: lo = 0; hi = 255; break;
      case DType::Bool: lo = 0; hi = 1; break;
      default: lo = -9.3e18; hi = 9.3e18; break;  // int64: every int64 bound fits
    }
    const double last = static_cast<double>(low) + (range ? static_cast<double>(range) : 18446744073709551616.0) - 1;
    GC_CHECK(static_cast<double>(low) >= lo && static_cast<double>(low) <= hi, RuntimeError,
             "from is out of bounds for ", c_type_name(dst->dtype));
    GC_CHECK(last >= lo && last <= hi, RuntimeError, "to - 1 is out of bounds for ", c_type_name(dst->dtype));
  }
  sample_into(dst, "random_", DType::Int64, [&](const TensorPtr& t) {
    uint64_t seed;
    const uint64_t off = rng_reserve(kernels::rng_blocks(t->numel), &seed, gen);
    kernels::rng_random_int(t->data<int64_t>(), t->numel, seed, off, low, range);
  });
}

void bernoulli_(const TensorPtr& dst, double p, Generator* gen) {
  GC_CHECK(p >= 0 && p <= 1, RuntimeError, "bernoulli_ expects p to be in [0, 1], but got p=", p);
  check_inplace(dst, "bernoulli_");
  autograd::GradModeGuard no_grad(false);
  cast_values(dst, compare(CmpOp::LT, rand(dst->shape, DType::Float64, 0.0, 1.0, gen), Scalar::of(p)));
}

void bernoulli_(const TensorPtr& dst, const TensorPtr& p, Generator* gen) {
  GC_CHECK(is_floating(p->dtype), NotImplementedError, "\"bernoulli_tensor_cpu_p_\" not implemented for '",
           dtype_torch_name(p->dtype), "'");
  autograd::GradModeGuard no_grad(false);
  TensorPtr pd = contiguous(to_dtype(detach(p), DType::Float64));
  const double* pp = pd->data<double>();
  for (int64_t i = 0; i < pd->numel; ++i)
    GC_CHECK(pp[i] >= 0 && pp[i] <= 1, RuntimeError,
             "bernoulli_ expects every probability to be in [0, 1] (got ", pp[i], ")");
  check_inplace(dst, "bernoulli_");
  TensorPtr u = rand(dst->shape, DType::Float64, 0.0, 1.0, gen);
  cast_values(dst, compare(CmpOp::LT, u, expand(pd, dst->shape)));
}

TensorPtr bernoulli(const TensorPtr& p, Generator* gen) {
  GC_CHECK(is_floating(p->dtype), NotImplementedError, "\"bernoulli_tensor_cpu_p_\" not implemented for '",
           dtype_torch_name(p->dtype), "'");
  TensorPtr y = empty(p->shape, p->dtype);
  bernoulli_(y, p, gen);
  return y;
}

TensorPtr poisson(const TensorPtr& rates, Generator* gen) {
  GC_CHECK(is_floating(rates->dtype), NotImplementedError, "\"poisson_cpu\" not implemented for '",
           dtype_torch_name(rates->dtype), "'");
  autograd::GradModeGuard no_grad(false);
  TensorPtr r = contiguous(to_dtype(detach(rates), DType::Float64));
  const double* rp = r->data<double>();
  for (int64_t i = 0; i < r->numel; ++i)
    GC_CHECK(rp[i] >= 0, RuntimeError, "invalid Poisson rate, expected rate to be non-negative");
  TensorPtr y = empty(r->shape, DType::Float64);
  uint64_t seed;
  const uint64_t off = rng_reserve(r->numel, &seed, gen);
  kernels::rng_poisson(rp, y->data<double>(), r->numel, seed, off);
  return to_dtype(y, rates->dtype);
}

TensorPtr multinomial(const TensorPtr& probs, int64_t num_samples, bool replacement, Generator* gen) {
  GC_CHECK(probs->ndim() == 1 || probs->ndim() == 2, RuntimeError, "prob_dist must be 1 or 2 dim");
  GC_CHECK(is_floating(probs->dtype), RuntimeError, "multinomial only supports floating-point dtypes for input, got: ",
           dtype_torch_name(probs->dtype));
  GC_CHECK(num_samples > 0, RuntimeError, "cannot sample n_sample <= 0 samples");
  const int64_t cats = probs->shape.back();
  GC_CHECK(replacement || num_samples <= cats, RuntimeError,
           "cannot sample n_sample > prob_dist.size(-1) samples without replacement");
  const int64_t rows = probs->ndim() == 2 ? probs->shape[0] : 1;
  autograd::GradModeGuard no_grad(false);
  TensorPtr w = contiguous(to_dtype(detach(probs), DType::Float64));
  TensorPtr out = empty(probs->ndim() == 2 ? Shape{rows, num_samples} : Shape{num_samples}, DType::Int64);
  if (rows == 0) return out;
  GC_CHECK(cats > 0, RuntimeError, "invalid multinomial distribution (sum of probabilities <= 0)");
  uint64_t seed;
  const uint64_t off = rng_reserve(rows, &seed, gen);
  const int rc = kernels::rng_multinomial(w->data<double>(), rows, cats, num_samples, replacement,
                                          out->data<int64_t>(), seed, off);
  GC_CHECK(rc != 1, RuntimeError, "probability tensor contains either `inf`, `nan` or element < 0");
  GC_CHECK(rc != 2, RuntimeError, "invalid multinomial distribution (sum of probabilities <= 0)");
  return out;
}

TensorPtr randperm(int64_t n, DType dtype, Generator* gen) {
  GC_CHECK(n >= 0, RuntimeError, "Trying to create tensor with negative dimension ", n, ": [", n, "]");
  GC_CHECK(dtype != DType::Bool, NotImplementedError, "\"randperm_cpu\" not implemented for 'Bool'");
  TensorPtr y = empty({n}, DType::Int64);
  uint64_t seed;
  const uint64_t off = rng_reserve(kernels::rng_blocks(n), &seed, gen);
  kernels::rng_randperm(y->data<int64_t>(), n, seed, off);
  if (dtype == DType::Int64) return y;
  // PyTorch: n must fit the dtype's exactly representable integers.
  double limit = 0;
  switch (dtype) {
    case DType::Float32: limit = 16777216.0; break;
    case DType::Float16: limit = 2048.0; break;
    case DType::BFloat16: limit = 256.0; break;
    case DType::Int32: limit = 2147483648.0; break;
    case DType::Int16: limit = 32768.0; break;
    case DType::Int8: limit = 128.0; break;
    case DType::UInt8: limit = 256.0; break;
    default: limit = 9007199254740992.0; break;
  }
  GC_CHECK(static_cast<double>(n) <= limit + 1, RuntimeError, "n must be no larger than the largest integer ",
           dtype_torch_name(dtype), " holds exactly (", limit, "), got ", n);
  return to_dtype(y, dtype);
}

TensorPtr randint(const Shape& shape, int64_t low, int64_t high, DType dtype, Generator* gen) {
  GC_CHECK(low < high, RuntimeError, "random_ expects 'from' to be less than 'to', but got from=", low, " >= to=", high);
  TensorPtr y = empty(shape, dtype);
  random_(y, low, static_cast<uint64_t>(high) - static_cast<uint64_t>(low), gen);
  return y;
}

TensorPtr eye(int64_t n, int64_t m, DType dtype) {
  GC_CHECK(n >= 0, RuntimeError, "n must be greater or equal to 0, got ", n);
  GC_CHECK(m >= 0, RuntimeError, "m must be greater or equal to 0, got ", m);
  TensorPtr y = zeros({n, m}, dtype);
  const int64_t k = n < m ? n : m;
  if (k == 0) return y;
  // The diagonal is a strided view (stride m + 1): one fill of ones through it.
  TensorPtr d = as_strided_alias(*y, {k}, {m + 1}, y->offset);
  autograd::GradModeGuard no_grad(false);
  cast_values(d, full({k}, Scalar::of(1.0), dtype));
  return y;
}

TensorPtr linspace(double start, double end, int64_t steps, DType dtype) {
  GC_CHECK(steps >= 0, RuntimeError, "number of steps must be non-negative");
  GC_CHECK(dtype != DType::Bool, NotImplementedError, "\"linspace_cpu\" not implemented for 'Bool'");
  TensorPtr v = empty({steps}, DType::Float64);
  double* p = v->data<double>();
  if (steps == 1) p[0] = start;
  if (steps > 1) {
    // PyTorch's symmetric form: the first half counts up from start, the second down from
    // end, so both ends are exact.
    const double step = (end - start) / static_cast<double>(steps - 1);
    const int64_t halfway = steps / 2;
    for (int64_t i = 0; i < steps; ++i)
      p[i] = i < halfway ? start + step * static_cast<double>(i) : end - step * static_cast<double>(steps - i - 1);
  }
  if (!is_floating(dtype)) {  // integer results truncate toward zero (as a float -> int conversion)
    for (int64_t i = 0; i < steps; ++i) p[i] = std::trunc(p[i]);
  }
  return to_dtype(v, dtype);
}

TensorPtr logspace(double start, double end, int64_t steps, double base, DType dtype) {
  GC_CHECK(steps >= 0, RuntimeError, "number of steps must be non-negative");
  GC_CHECK(dtype != DType::Bool, NotImplementedError, "\"logspace_cpu\" not implemented for 'Bool'");
  TensorPtr v = linspace(start, end, steps, DType::Float64);
  double* p = v->data<double>();
  for (int64_t i = 0; i < steps; ++i) p[i] = std::pow(base, p[i]);
  if (!is_floating(dtype)) {
    for (int64_t i = 0; i < steps; ++i) p[i] = std::trunc(p[i]);
  }
  return to_dtype(v, dtype);
}

}  // namespace gradcore::ops

#include "core/dtype.h"

namespace gradcore {

const char* dtype_name(DType d) {
  static const char* names[kNumDTypes] = {"float32", "float64", "float16", "bfloat16", "int64",
                                          "int32",   "int16",   "int8",    "uint8",    "bool"};
  return names[static_cast<int>(d)];
}

const char* dtype_torch_name(DType d) {
  static const char* names[kNumDTypes] = {"Float", "Double", "Half", "BFloat16", "Long",
                                          "Int",   "Short",  "Char", "Byte",     "Bool"};
  return names[static_cast<int>(d)];
}

DType to_floating(DType d, DType default_float) { return is_floating(d) ? d : default_float; }

namespace {
// Rank within a category: bool 0; u8 1, i8 1, i16 2, i32 3, i64 4; f16 1, bf16 1, f32 2, f64 3.
int category(DType d) { return d == DType::Bool ? 0 : is_floating(d) ? 2 : 1; }
}  // namespace

DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (a == DType::Bool) return b;
  if (b == DType::Bool) return a;
  const int ca = category(a), cb = category(b);
  if (ca != cb) return ca > cb ? a : b;  // the floating one
  if (ca == 2) {
    if ((a == DType::Float16 && b == DType::BFloat16) || (a == DType::BFloat16 && b == DType::Float16))
      return DType::Float32;
    auto rank = [](DType d) { return d == DType::Float64 ? 3 : d == DType::Float32 ? 2 : 1; };
    return rank(a) > rank(b) ? a : b;
  }
  // integral
  auto bits = [](DType d) { return static_cast<int>(dtype_size(d)); };
  if (a == DType::UInt8 || b == DType::UInt8) {
    DType s = a == DType::UInt8 ? b : a;  // the signed one
    if (s == DType::Int8) return DType::Int16;
    return s;  // int16/int32/int64 hold every uint8
  }
  return bits(a) > bits(b) ? a : b;
}

bool can_cast(DType from, DType to) {
  if (is_floating(from) && !is_floating(to)) return false;
  if (from != DType::Bool && to == DType::Bool) return false;
  return true;
}

void ResultType::add_tensor(DType d, bool zero_dim) {
  if (zero_dim) {
    zero_result = has_zero ? promote_types(zero_result, d) : d;
    has_zero = true;
  } else {
    dim_result = has_dim ? promote_types(dim_result, d) : d;
    has_dim = true;
  }
}

void ResultType::add_scalar(DType d) {
  wrapped_result = has_wrapped ? promote_types(wrapped_result, d) : d;
  has_wrapped = true;
}

DType ResultType::result(DType default_float) const {
  // combine(higher, lower): a lower-priority operand counts only if its category is higher.
  auto combine = [](bool has_h, DType h, bool has_l, DType l, bool* has) {
    *has = has_h || has_l;
    if (!has_h) return l;
    if (!has_l) return h;
    if (is_floating(h)) return h;
    if (h == DType::Bool || is_floating(l)) return promote_types(h, l);
    return h;
  };
  DType wrapped = wrapped_result == DType::Float64 ? default_float : wrapped_result;
  bool has_low = false, has_all = false;
  DType low = combine(has_zero, zero_result, has_wrapped, wrapped, &has_low);
  DType all = combine(has_dim, dim_result, has_low, low, &has_all);
  return has_all ? all : default_float;
}

}  // namespace gradcore

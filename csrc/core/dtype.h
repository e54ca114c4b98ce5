// dtype.h — gradcore's element types, PyTorch's type promotion, and dtype dispatch.
//
//   DType r = promote_types(DType::Int64, DType::Float32);     // Float32
//   dispatch_all(t.dtype, [&](auto tag) {
//     using T = typename decltype(tag)::type;                  // float, int64_t, bool, Half, ...
//     ...
//   });
//
// float32 is the default and the performance target; float64 is for precision and gradient
// checks; the integer types and bool hold indices, labels and masks; float16/bfloat16 are
// storage types (ops on them compute in float32). Only floating tensors can require grad.
// This header is baseline code: the per-ISA kernel units never include it.
#pragma once
#if defined(GC_LAYER_CPU) || defined(GC_LAYER_KERNELS)
#error "the cpu and kernel layers work on raw buffers: no Tensor or dtype there (layers: csrc/README.md)"
#endif
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <stdexcept>

namespace gradcore {

// Order matters only for the first two (0 and 1 are stored in old checkpoints' metadata).
enum class DType : uint8_t {
  Float32 = 0, Float64, Float16, BFloat16, Int64, Int32, Int16, Int8, UInt8, Bool,
};
constexpr int kNumDTypes = 10;

inline size_t dtype_size(DType d) {
  constexpr unsigned char sizes[kNumDTypes] = {4, 8, 2, 2, 8, 4, 2, 1, 1, 1};
  return sizes[static_cast<int>(d)];
}
const char* dtype_name(DType d);        // "float32", "int64", "bool", ...
const char* dtype_torch_name(DType d);  // "Float", "Long", "Bool", ... (PyTorch's messages)
inline bool is_floating(DType d) { return static_cast<int>(d) <= static_cast<int>(DType::BFloat16); }
inline bool is_bool(DType d) { return d == DType::Bool; }
inline bool is_integral(DType d, bool include_bool) { return !is_floating(d) && (include_bool || d != DType::Bool); }
// The dtype an op that computes in floating point gives for d (int -> the default dtype).
DType to_floating(DType d, DType default_float);

// torch.promote_types: the smallest dtype both convert to without losing their category
// (bool < integers < floating). uint8 with a signed type gives the next larger signed type;
// float16 with bfloat16 gives float32.
DType promote_types(DType a, DType b);
// torch.can_cast: may a value of `from` be written into `to` by an in-place op?
// (no floating -> integral, no non-bool -> bool).
bool can_cast(DType from, DType to);

// Note [Type promotion]: torch.result_type. Operands have a priority: a tensor with dims,
// then a 0-dim tensor, then a Python number (a "wrapped scalar": a float counts as the
// default dtype, an int as int64, a bool as bool). The result is the promotion of the
// highest-priority operands, unless a lower-priority operand is of a higher category
// (bool < integral < floating): then it is promoted in. So int32 tensor + 5 -> int32,
// int32 tensor + 2.5 -> float32, float16 tensor + 0-dim float64 -> float16, int64 tensor +
// 0-dim float64 -> float64, bool tensor + 1 -> int64, uint8 tensor + (-1) -> uint8.
struct ResultType {
  bool has_dim = false, has_zero = false, has_wrapped = false;
  DType dim_result = DType::Bool, zero_result = DType::Bool, wrapped_result = DType::Bool;
  void add_tensor(DType d, bool zero_dim);
  void add_scalar(DType d);  // Float64 / Int64 / Bool for a Python float / int / bool
  DType result(DType default_float) const;
};

// ---- 16-bit floating storage types ------------------------------------------------------
struct Half {
  uint16_t bits;
};
struct BFloat16 {
  uint16_t bits;
};

inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF, bits;
  if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13);  // inf / NaN (payload kept)
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    int e = -1;
    do { mant <<= 1; ++e; } while (!(mant & 0x400));
    bits = sign | static_cast<uint32_t>(112 - e) << 23 | ((mant & 0x3FF) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline uint16_t float_to_half(float f) {  // round to nearest even, as torch and NumPy
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t ax = x & 0x7FFFFFFFu;
  if (ax >= 0x7F800000u) return sign | (ax > 0x7F800000u ? 0x7E00 : 0x7C00);  // NaN / inf
  if (ax >= 0x477FF000u) return sign | 0x7C00;                               // overflow -> inf
  if (ax < 0x38800000u) {  // subnormal or zero in half
    if (ax < 0x33000001u) return sign;  // rounds to 0 (ties at 2^-25 go to even = 0)
    const uint32_t e = ax >> 23, m = (ax & 0x7FFFFF) | 0x800000;
    const uint32_t shift = 126 - e;  // in [14, 24]
    uint32_t r = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1))) ++r;
    return sign | static_cast<uint16_t>(r);
  }
  uint32_t r = ax + 0xC8000FFFu + ((ax >> 13) & 1);  // rebias (-112 << 23) and round
  return sign | static_cast<uint16_t>(r >> 13);
}

inline float bfloat16_to_float(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline uint16_t float_to_bfloat16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x40);  // quiet NaN
  x += 0x7FFF + ((x >> 16) & 1);
  return static_cast<uint16_t>(x >> 16);
}

template <class T>
struct Tag {
  using type = T;
};

// Calls f(Tag<T>{}) for the C++ type of d.
template <class F>
inline auto dispatch_all(DType d, F&& f) {
  switch (d) {
    case DType::Float32: return f(Tag<float>{});
    case DType::Float64: return f(Tag<double>{});
    case DType::Float16: return f(Tag<Half>{});
    case DType::BFloat16: return f(Tag<BFloat16>{});
    case DType::Int64: return f(Tag<int64_t>{});
    case DType::Int32: return f(Tag<int32_t>{});
    case DType::Int16: return f(Tag<int16_t>{});
    case DType::Int8: return f(Tag<int8_t>{});
    case DType::UInt8: return f(Tag<uint8_t>{});
    case DType::Bool: return f(Tag<bool>{});
  }
  throw std::logic_error("dispatch_all: not a DType");  // unreachable for a valid enum value
}

// The same over the types with arithmetic (all but the 16-bit floats, which ops convert).
template <class F>
inline auto dispatch_arith(DType d, F&& f) {
  switch (d) {
    case DType::Float64: return f(Tag<double>{});
    case DType::Int64: return f(Tag<int64_t>{});
    case DType::Int32: return f(Tag<int32_t>{});
    case DType::Int16: return f(Tag<int16_t>{});
    case DType::Int8: return f(Tag<int8_t>{});
    case DType::UInt8: return f(Tag<uint8_t>{});
    case DType::Bool: return f(Tag<bool>{});
    default: return f(Tag<float>{});
  }
}

template <class T>
constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }
template <> constexpr DType dtype_of<Half>() { return DType::Float16; }
template <> constexpr DType dtype_of<BFloat16>() { return DType::BFloat16; }
template <> constexpr DType dtype_of<int64_t>() { return DType::Int64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::Int32; }
template <> constexpr DType dtype_of<int16_t>() { return DType::Int16; }
template <> constexpr DType dtype_of<int8_t>() { return DType::Int8; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::UInt8; }
template <> constexpr DType dtype_of<bool>() { return DType::Bool; }

// ---- value conversion (baseline code) ----------------------------------------------------
// to_f64 / from_f64 move any element through double; cast_value<To>(From) is exact
// between integer types (no double round trip: int64 values above 2**53 survive).
template <class T> inline double to_f64(T v) { return static_cast<double>(v); }
template <> inline double to_f64<Half>(Half v) { return half_to_float(v.bits); }
template <> inline double to_f64<BFloat16>(BFloat16 v) { return bfloat16_to_float(v.bits); }

// float -> integer: truncation toward zero; NaN and out-of-range values give what PyTorch
// gives on x86 (never undefined behaviour). -> bool: v != 0 (NaN is true, as in PyTorch).
template <class To>
inline To from_f64(double v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != 0.0;
  } else if constexpr (std::is_floating_point_v<To>) {
    return static_cast<To>(v);
  } else if constexpr (std::is_same_v<To, Half>) {
    return Half{float_to_half(static_cast<float>(v))};
  } else if constexpr (std::is_same_v<To, BFloat16>) {
    return BFloat16{float_to_bfloat16(static_cast<float>(v))};
  } else if constexpr (sizeof(To) == 8 || std::is_same_v<To, uint8_t>) {
    // x86's truncating conversion, as PyTorch on x86: NaN and out-of-range give INT64_MIN.
    // uint8 goes through int64, then wraps (PyTorch's static_cast_with_inter_type).
    const int64_t w = v >= -9223372036854775808.0 && v < 9223372036854775808.0 ? static_cast<int64_t>(v) : INT64_MIN;
    return static_cast<To>(w);
  } else {
    // int32/int16/int8 go through int32 (NaN / out of range: INT32_MIN), then wrap.
    const int32_t w = v >= -2147483648.0 && v < 2147483648.0 ? static_cast<int32_t>(v) : INT32_MIN;
    return static_cast<To>(w);
  }
}

template <class To, class From>
inline To cast_value(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<To, bool>) {
    if constexpr (std::is_same_v<From, Half> || std::is_same_v<From, BFloat16>) return to_f64(v) != 0.0;
    else return v != From(0);
  } else if constexpr (std::is_integral_v<To> && std::is_integral_v<From>) {
    return static_cast<To>(v);
  } else if constexpr (std::is_same_v<To, float> && std::is_same_v<From, Half>) {
    return half_to_float(v.bits);
  } else if constexpr (std::is_same_v<To, float> && std::is_same_v<From, BFloat16>) {
    return bfloat16_to_float(v.bits);
  } else if constexpr (std::is_same_v<To, Half> && std::is_same_v<From, float>) {
    return Half{float_to_half(v)};
  } else if constexpr (std::is_same_v<To, BFloat16> && std::is_same_v<From, float>) {
    return BFloat16{float_to_bfloat16(v)};
  } else if constexpr (std::is_same_v<To, float> && std::is_floating_point_v<From>) {
    return static_cast<float>(v);
  } else if constexpr (std::is_floating_point_v<To> && std::is_integral_v<From>) {
    return static_cast<To>(v);
  } else if constexpr (std::is_integral_v<To> && std::is_same_v<From, float>) {
    return from_f64<To>(static_cast<double>(v));
  } else {
    return from_f64<To>(to_f64(v));
  }
}

}  // namespace gradcore

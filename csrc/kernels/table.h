// table.h — typed access to the chosen kernel table, for the kernel drivers (baseline code).
#pragma once
#include "kernels/dispatch.h"

namespace gradcore::kernels {
template <class T>
const TypedKernels<T>& table();
template <>
inline const TypedKernels<float>& table<float>() { return kernels::active().f32; }
template <>
inline const TypedKernels<double>& table<double>() { return kernels::active().f64; }
}  // namespace gradcore::kernels

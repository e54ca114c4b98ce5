// cpuid.h — CPU feature detection. cpuid.cpp is compiled WITHOUT ISA flags.
#pragma once

namespace gradcore::cpu {
struct CpuFeatures {
  bool avx2_fma = false;   // AVX2 + FMA, with OS support for ymm state
  bool avx512 = false;     // AVX-512 F/BW/DQ/VL, with OS support for zmm state
};
CpuFeatures detect_cpu_features();
}  // namespace gradcore::cpu

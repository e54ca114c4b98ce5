// cpuid.h — CPU feature and cache detection. cpuid.cpp is compiled WITHOUT ISA flags.
#pragma once
#include <cstdint>
#include <string>

namespace gradcore::cpu {
struct CpuFeatures {
  bool avx2_fma = false;   // AVX2 + FMA, with OS support for ymm state
  bool avx512 = false;     // AVX-512 F/BW/DQ/VL, with OS support for zmm state
};
CpuFeatures detect_cpu_features();

// Data cache sizes in bytes as the CPU reports them. l1d and l2 are one core's; l3 is the
// whole cache and l3_sharing the number of logical CPUs that share it (so one core's share
// is l3 / l3_sharing). `source` says where the figures came from: "cpuid" (leaf 4 on
// Intel, 0x8000001D on AMD), "sysfs" (/sys/devices/system/cpu/cpu0/cache), or "default"
// (32 KiB / 512 KiB / 8 MiB when neither says anything).
struct CacheInfo {
  int64_t l1d = 32 << 10;
  int64_t l2 = 512 << 10;
  int64_t l3 = 8 << 20;
  int l3_sharing = 1;
  std::string source = "default";
};
const CacheInfo& detected_caches();   // probed once
}  // namespace gradcore::cpu

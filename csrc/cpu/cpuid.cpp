#include "cpu/cpuid.h"

#include <fstream>
#include <string>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define GC_HAVE_CPUID 1
#endif

namespace gradcore::cpu {

CpuFeatures detect_cpu_features() {
  CpuFeatures f;
#if defined(GC_HAVE_CPUID)
  // libgcc checks the XGETBV OS-support bits as well as the CPUID feature bits.
  __builtin_cpu_init();
  f.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  f.avx512 = f.avx2_fma && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#endif
  return f;
}

namespace {

// The deterministic cache parameters leaf (Intel leaf 4, AMD leaf 0x8000001D share the
// layout): subleaf i describes one cache until the type field reads 0.
//   EAX[4:0] type (1 data, 2 instruction, 3 unified), EAX[7:5] level,
//   EAX[25:14] logical CPUs sharing it - 1; EBX[11:0] line size - 1,
//   EBX[21:12] partitions - 1, EBX[31:22] ways - 1; ECX sets - 1.
bool from_cpuid(CacheInfo& out) {
#if defined(GC_HAVE_CPUID)
  unsigned a, b, c, d;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return false;
  const bool amd = b == 0x68747541u;  // "Auth" of AuthenticAMD
  const bool hygon = b == 0x6f677948u;  // "Hygo" of HygonGenuine (the AMD layout)
  unsigned leaf = 4;
  if (amd || hygon) {
    // TOPOEXT (0x80000001 ECX bit 22) says leaf 0x8000001D exists.
    if (!__get_cpuid(0x80000001u, &a, &b, &c, &d) || !(c & (1u << 22))) return false;
    leaf = 0x8000001Du;
  } else if (a < 4) {
    return false;
  }
  bool any = false;
  for (unsigned i = 0; i < 16; ++i) {
    __cpuid_count(leaf, i, a, b, c, d);
    const unsigned type = a & 0x1f, level = (a >> 5) & 0x7;
    if (type == 0) break;
    if (type == 2) continue;  // instruction cache
    const int64_t size = int64_t((b >> 22) + 1) * (((b >> 12) & 0x3ff) + 1) * ((b & 0xfff) + 1) * (int64_t(c) + 1);
    if (size <= 0) continue;
    if (level == 1) out.l1d = size;
    else if (level == 2) out.l2 = size;
    else if (level == 3) {
      out.l3 = size;
      out.l3_sharing = static_cast<int>(((a >> 14) & 0xfff) + 1);
    }
    any = true;
  }
  if (any) out.source = "cpuid";
  return any;
#else
  (void)out;
  return false;
#endif
}

int64_t parse_size(const std::string& s) {  // "32K", "1024K", "32M"
  size_t pos = 0;
  int64_t v = 0;
  try {
    v = std::stoll(s, &pos);
  } catch (...) {
    return 0;
  }
  if (pos < s.size() && (s[pos] == 'K' || s[pos] == 'k')) v <<= 10;
  else if (pos < s.size() && (s[pos] == 'M' || s[pos] == 'm')) v <<= 20;
  return v;
}

std::string read_line(const std::string& path) {
  std::ifstream f(path);
  std::string s;
  std::getline(f, s);
  return s;
}

bool from_sysfs(CacheInfo& out) {
  bool any = false;
  for (int i = 0; i < 8; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    const std::string level = read_line(dir + "level"), type = read_line(dir + "type");
    if (level.empty()) break;
    if (type == "Instruction") continue;
    const int64_t size = parse_size(read_line(dir + "size"));
    if (size <= 0) continue;
    if (level == "1") out.l1d = size;
    else if (level == "2") out.l2 = size;
    else if (level == "3") {
      out.l3 = size;
      // shared_cpu_list such as "0-15" or "0,2,4": count the CPUs named.
      const std::string list = read_line(dir + "shared_cpu_list");
      int n = 0;
      size_t p = 0;
      while (p < list.size()) {
        size_t comma = list.find(',', p);
        std::string part = list.substr(p, comma == std::string::npos ? std::string::npos : comma - p);
        size_t dash = part.find('-');
        try {
          n += dash == std::string::npos ? 1 : std::stoi(part.substr(dash + 1)) - std::stoi(part.substr(0, dash)) + 1;
        } catch (...) {
        }
        if (comma == std::string::npos) break;
        p = comma + 1;
      }
      out.l3_sharing = n > 0 ? n : 1;
    }
    any = true;
  }
  if (any) out.source = "sysfs";
  return any;
}

CacheInfo probe() {
  CacheInfo c;
  if (!from_cpuid(c)) {
    c = CacheInfo{};
    if (!from_sysfs(c)) c = CacheInfo{};
  }
  return c;
}

}  // namespace

const CacheInfo& detected_caches() {
  static const CacheInfo c = probe();
  return c;
}

}  // namespace gradcore::cpu

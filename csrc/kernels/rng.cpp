// rng.cpp — counter-based random numbers (Philox4x32-10, Salmon et al., SC'11).
//
// Value i of a draw uses the 64 bits of half (i % 2) of Philox block (offset + i / 2)
// under key = seed, so a draw is a pure function of (seed, offset, i): reproducible,
// and identical for any number of threads. Normals use Box-Muller on one block per pair.
//
// Samplers that need a variable number of uniforms per value (poisson, multinomial rows)
// give value i the whole block counter (offset + i) and draw its k-th block with the
// sub-counter k in the two high counter words, so value i still depends only on
// (seed, offset, i). The generator that hands out offsets is core/tensor.h's Generator.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

#include "cpu/parallel.h"
#include "kernels/kernel_api.h"

namespace gradcore::kernels {
namespace {

struct Block { uint32_t w[4]; };

inline Block philox(uint64_t counter, uint64_t key, uint64_t sub = 0) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32);
  uint32_t c2 = static_cast<uint32_t>(sub), c3 = static_cast<uint32_t>(sub >> 32);
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int r = 0; r < 10; ++r) {
    uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0;
    uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
    uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
    uint32_t n1 = static_cast<uint32_t>(p1);
    uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    uint32_t n3 = static_cast<uint32_t>(p0);
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Block{{c0, c1, c2, c3}};
}

// Uniform in [0, 1) from 64 random bits, with the resolution of T.
template <class T> T to_unit(uint64_t bits);
template <> float to_unit<float>(uint64_t bits) { return static_cast<float>(bits >> 40) * (1.0f / 16777216.0f); }
template <> double to_unit<double>(uint64_t bits) { return static_cast<double>(bits >> 11) * (1.0 / 9007199254740992.0); }

inline uint64_t half(const Block& b, int h) { return (static_cast<uint64_t>(b.w[2 * h]) << 32) | b.w[2 * h + 1]; }

constexpr int64_t kGrain = 1 << 14;

// Uniform in the open interval (0, 1) (53 bits): log() of it and of 1 - it are finite.
inline double open_unit(uint64_t bits) { return (static_cast<double>(bits >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

// y[i] = f(u_i) with u_i in (0, 1) from half (i % 2) of block (offset + i / 2).
template <class T, class F>
void rng_map(T* y, int64_t n, uint64_t seed, uint64_t offset, F f) {
  cpu::parallel_range(rng_blocks(n), kGrain, [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j) {
      Block blk = philox(offset + j, seed);
      for (int h = 0; h < 2 && 2 * j + h < n; ++h) y[2 * j + h] = static_cast<T>(f(open_unit(half(blk, h))));
    }
  });
}

// The uniforms of one value's private stream (counter `ctr`, sub-counters 0, 1, ...).
class SubStream {
 public:
  SubStream(uint64_t ctr, uint64_t seed) : ctr_(ctr), seed_(seed) {}
  double next() {
    if (h_ == 2) { blk_ = philox(ctr_, seed_, ++sub_); h_ = 0; }
    return open_unit(half(blk_, h_++));
  }

 private:
  uint64_t ctr_, seed_, sub_ = 0;
  Block blk_ = philox(ctr_, seed_, 0);
  int h_ = 0;
};

// One Poisson(lam) sample. Small rates: multiply uniforms until the product drops below
// exp(-lam) (Knuth). Large rates: Hormann's transformed rejection with squeeze (PTRS, 1993).
double poisson_one(double lam, SubStream& s) {
  if (!(lam > 0)) return 0.0;
  if (std::isinf(lam)) return lam;  // no finite sample; never loop on it
  if (lam < 10.0) {
    const double limit = std::exp(-lam);
    double prod = s.next();
    double k = 0;
    while (prod > limit) { prod *= s.next(); k += 1; }
    return k;
  }
  const double slam = std::sqrt(lam), loglam = std::log(lam);
  const double b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
  const double inv_alpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2.0);
  for (;;) {
    const double u = s.next() - 0.5, v = s.next();
    const double us = 0.5 - std::fabs(u);
    const double k = std::floor((2.0 * a / us + b) * u + lam + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (std::log(v) + std::log(inv_alpha) - std::log(a / (us * us) + b) <= -lam + k * loglam - std::lgamma(k + 1.0))
      return k;
  }
}

}  // namespace

int64_t rng_blocks(int64_t n) { return (n + 1) / 2; }

template <class T>
void rng_uniform(T* y, int64_t n, uint64_t seed, uint64_t offset, T low, T high) {
  const T span = high - low;
  cpu::parallel_range(rng_blocks(n), kGrain, [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j) {
      Block blk = philox(offset + j, seed);
      for (int h = 0; h < 2 && 2 * j + h < n; ++h) {
        T u = low + span * to_unit<T>(half(blk, h));
        y[2 * j + h] = u < high ? u : low;  // rounding can reach `high`: keep [low, high)
      }
    }
  });
}

// Values first .. first + n - 1 of rng_uniform(low 0, high 1)'s draw at (seed, offset), on
// the calling thread (attention's dropout regenerates one tile row at a time).
template <class T>
void rng_uniform_at(T* y, int64_t first, int64_t n, uint64_t seed, uint64_t offset) {
  int64_t i = first, end = first + n;
  while (i < end) {
    Block blk = philox(offset + static_cast<uint64_t>(i / 2), seed);
    for (int h = static_cast<int>(i % 2); h < 2 && i < end; ++h, ++i) *y++ = to_unit<T>(half(blk, h));
  }
}

template <class T>
void rng_normal(T* y, int64_t n, uint64_t seed, uint64_t offset, T mean, T std) {
  cpu::parallel_range(rng_blocks(n), kGrain, [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j) {
      Block blk = philox(offset + j, seed);
      double u1 = 1.0 - to_unit<double>(half(blk, 0));  // (0, 1]: log is finite
      double u2 = to_unit<double>(half(blk, 1));
      double r = std::sqrt(-2.0 * std::log(u1));
      double z0 = r * std::cos(2.0 * M_PI * u2), z1 = r * std::sin(2.0 * M_PI * u2);
      y[2 * j] = static_cast<T>(mean + std * z0);
      if (2 * j + 1 < n) y[2 * j + 1] = static_cast<T>(mean + std * z1);
    }
  });
}

template <class T>
void rng_exponential(T* y, int64_t n, uint64_t seed, uint64_t offset, double lambd) {
  rng_map(y, n, seed, offset, [lambd](double u) { return -std::log(u) / lambd; });
}

template <class T>
void rng_cauchy(T* y, int64_t n, uint64_t seed, uint64_t offset, double median, double sigma) {
  rng_map(y, n, seed, offset, [=](double u) { return median + sigma * std::tan(M_PI * (u - 0.5)); });
}

template <class T>
void rng_geometric(T* y, int64_t n, uint64_t seed, uint64_t offset, double p) {
  const double l = std::log1p(-p);  // < 0 for p in (0, 1)
  rng_map(y, n, seed, offset, [l](double u) { return std::max(1.0, std::ceil(std::log(u) / l)); });
}

template <class T>
void rng_log_normal(T* y, int64_t n, uint64_t seed, uint64_t offset, T mean, T std) {
  rng_normal<T>(y, n, seed, offset, mean, std);
  cpu::parallel_range(n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = std::exp(y[i]);
  });
}

void rng_random_int(int64_t* y, int64_t n, uint64_t seed, uint64_t offset, int64_t low, uint64_t range) {
  cpu::parallel_range(rng_blocks(n), kGrain, [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j) {
      Block blk = philox(offset + j, seed);
      for (int h = 0; h < 2 && 2 * j + h < n; ++h) {
        // 64 random bits mod range: the bias is below range / 2**64 (invisible for sizes that fit memory).
        const uint64_t r = range ? half(blk, h) % range : half(blk, h);
        y[2 * j + h] = static_cast<int64_t>(static_cast<uint64_t>(low) + r);
      }
    }
  });
}

void rng_poisson(const double* rate, double* y, int64_t n, uint64_t seed, uint64_t offset) {
  cpu::parallel_range(n, 1024, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      SubStream s(offset + static_cast<uint64_t>(i), seed);
      y[i] = poisson_one(rate[i], s);
    }
  });
}

int rng_multinomial(const double* w, int64_t rows, int64_t cats, int64_t k, bool replacement, int64_t* out,
                    uint64_t seed, uint64_t offset) {
  // Validate every row first (nothing is written for an invalid input).
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0;
    for (int64_t c = 0; c < cats; ++c) {
      const double v = w[r * cats + c];
      if (!(v >= 0) || std::isinf(v)) return 1;
      sum += v;
    }
    if (!(sum > 0)) return 2;
  }
  cpu::parallel_range(rows, 1, [&](int64_t b, int64_t e) {
    std::vector<double> acc(static_cast<size_t>(cats));
    std::vector<std::pair<double, double>> key(static_cast<size_t>(cats));
    std::vector<int64_t> idx(static_cast<size_t>(cats));
    for (int64_t r = b; r < e; ++r) {
      const double* wr = w + r * cats;
      SubStream s(offset + static_cast<uint64_t>(r), seed);
      if (replacement) {
        // Inverse CDF: the first category whose running sum exceeds u * total.
        std::partial_sum(wr, wr + cats, acc.begin());
        const double total = acc.back();
        int64_t last = cats - 1;
        while (wr[last] == 0) --last;
        for (int64_t j = 0; j < k; ++j) {
          const double t = (s.next() - 0x1p-54) * total;  // in [0, total)
          int64_t c = std::upper_bound(acc.begin(), acc.end(), t) - acc.begin();
          out[r * k + j] = std::min(c, last);
        }
      } else {
        // Exponential race: category c finishes at E_c / w_c (E_c ~ Exp(1)); the k first
        // finishers are a draw without replacement. Zero-weight categories come last, in
        // a random order (as PyTorch, which fills with them when too few are positive).
        for (int64_t c = 0; c < cats; ++c) {
          const double ex = -std::log(s.next());
          key[static_cast<size_t>(c)] = {wr[c] > 0 ? ex / wr[c] : std::numeric_limits<double>::infinity(), ex};
        }
        std::iota(idx.begin(), idx.end(), int64_t{0});
        std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int64_t x, int64_t y) {
          return key[static_cast<size_t>(x)] < key[static_cast<size_t>(y)];
        });
        for (int64_t j = 0; j < k; ++j) out[r * k + j] = idx[static_cast<size_t>(j)];
      }
    }
  });
  return 0;
}

void rng_randperm(int64_t* y, int64_t n, uint64_t seed, uint64_t offset) {
  // Fisher-Yates from the top; the swap partner of position i uses value i of the draw.
  // Sequential, hence the same for any thread count.
  for (int64_t i = 0; i < n; ++i) y[i] = i;
  for (int64_t i = n - 1; i > 0; --i) {
    Block blk = philox(offset + static_cast<uint64_t>(i) / 2, seed);
    const uint64_t j = half(blk, static_cast<int>(i % 2)) % static_cast<uint64_t>(i + 1);
    std::swap(y[i], y[static_cast<int64_t>(j)]);
  }
}

template void rng_exponential<float>(float*, int64_t, uint64_t, uint64_t, double);
template void rng_exponential<double>(double*, int64_t, uint64_t, uint64_t, double);
template void rng_cauchy<float>(float*, int64_t, uint64_t, uint64_t, double, double);
template void rng_cauchy<double>(double*, int64_t, uint64_t, uint64_t, double, double);
template void rng_geometric<float>(float*, int64_t, uint64_t, uint64_t, double);
template void rng_geometric<double>(double*, int64_t, uint64_t, uint64_t, double);
template void rng_log_normal<float>(float*, int64_t, uint64_t, uint64_t, float, float);
template void rng_log_normal<double>(double*, int64_t, uint64_t, uint64_t, double, double);
template void rng_uniform<float>(float*, int64_t, uint64_t, uint64_t, float, float);
template void rng_uniform<double>(double*, int64_t, uint64_t, uint64_t, double, double);
template void rng_uniform_at<float>(float*, int64_t, int64_t, uint64_t, uint64_t);
template void rng_uniform_at<double>(double*, int64_t, int64_t, uint64_t, uint64_t);
template void rng_normal<float>(float*, int64_t, uint64_t, uint64_t, float, float);
template void rng_normal<double>(double*, int64_t, uint64_t, uint64_t, double, double);

}  // namespace gradcore::kernels

// embedding.cpp — row gathers, the gradient scatters (Note [Embedding gradient scatter],
// embedding.h), bags and max_norm renormalisation. Every output element is written by one
// thread in one order, so results are bitwise the same for any thread count.
#include "kernels/embedding.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "cpu/parallel.h"
#include "kernels/work.h"

namespace gradcore::kernels {
namespace {

// Column blocks of the scatter tasks: a row of `dim` columns is cut into blocks of at most
// this many elements, so a table with few rows (or one hot row) still splits across threads.
constexpr int64_t kColBlock = 256;

inline int64_t col_blocks(int64_t dim) { return dim <= 0 ? 1 : (dim + kColBlock - 1) / kColBlock; }

template <class T>
inline double row_scale(const int64_t* start, int64_t r, bool scale) {
  if (!scale) return 1.0;
  const int64_t c = start[r + 1] - start[r];
  return c > 0 ? 1.0 / static_cast<double>(c) : 1.0;
}

}  // namespace

template <class I>
int64_t embedding_first_bad_index(const I* idx, int64_t n, int64_t rows) {
  for (int64_t p = 0; p < n; ++p)
    if (idx[p] < 0 || static_cast<int64_t>(idx[p]) >= rows) return p;
  return -1;
}

template <class I>
void embedding_gather_rows(const char* table, int64_t row_stride_bytes, const I* idx, int64_t n, int64_t row_bytes,
                           char* out) {
  if (n <= 0 || row_bytes <= 0) return;
  const int threads = stream_threads<float>(n, 2.0 * static_cast<double>(row_bytes));  // bytes per row copied
  parallel_split(n, threads, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p)
      std::memcpy(out + p * row_bytes, table + static_cast<int64_t>(idx[p]) * row_stride_bytes,
                  static_cast<size_t>(row_bytes));
  });
}

template <class I>
void embedding_row_index(const I* idx, int64_t n, int64_t rows, int64_t* start, int64_t* order) {
  std::fill(start, start + rows + 1, int64_t(0));
  for (int64_t p = 0; p < n; ++p) ++start[static_cast<int64_t>(idx[p]) + 1];
  for (int64_t r = 0; r < rows; ++r) start[r + 1] += start[r];
  // Stable placement: a cursor per row, reusing start[r] and shifting back afterwards.
  for (int64_t p = 0; p < n; ++p) order[start[static_cast<int64_t>(idx[p])]++] = p;
  for (int64_t r = rows; r > 0; --r) start[r] = start[r - 1];
  start[0] = 0;
}

template <class T>
void embedding_scatter(const T* g, const int64_t* src, const T* coef, const int64_t* start, const int64_t* order, T* gw,
                       const EmbeddingGrad& a) {
  const int64_t D = a.dim, nb = col_blocks(D), tasks = a.rows * nb;
  if (tasks <= 0 || D <= 0) return;
  const int64_t n = start[a.rows];
  const int threads = stream_threads<T>(n * D + a.rows * D, 2.0 * sizeof(T));
  parallel_split(tasks, threads, [&](int64_t tb, int64_t te) {
    for (int64_t t = tb; t < te; ++t) {
      const int64_t r = t / nb, c0 = (t % nb) * kColBlock, c1 = std::min(D, c0 + kColBlock);
      T* dst = gw + r * D;
      std::fill(dst + c0, dst + c1, T(0));
      if (r == a.padding_idx) continue;
      const T s = static_cast<T>(row_scale<T>(start, r, a.scale_by_freq));
      for (int64_t k = start[r]; k < start[r + 1]; ++k) {
        const int64_t p = order[k];
        T c = coef ? coef[p] : T(1);
        if (a.scale_by_freq) c *= s;
        const T* row = g + (src ? src[p] : p) * D;
        if (c == T(1)) {
          for (int64_t j = c0; j < c1; ++j) dst[j] += row[j];
        } else {
          for (int64_t j = c0; j < c1; ++j) dst[j] += c * row[j];
        }
      }
    }
  });
}

template <class T>
void embedding_gather_scaled(const T* g, const int64_t* idx, int64_t n, const T* coef, const int64_t* start, T* out,
                             const EmbeddingGrad& a) {
  const int64_t D = a.dim;
  if (n <= 0 || D <= 0) return;
  const int threads = stream_threads<T>(n * D, 2.0 * sizeof(T));
  parallel_split(n, threads, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      T* dst = out + p * D;
      const int64_t r = idx[p];
      if (r == a.padding_idx) {
        std::fill(dst, dst + D, T(0));
        continue;
      }
      T c = coef ? coef[p] : T(1);
      if (a.scale_by_freq) c *= static_cast<T>(row_scale<T>(start, r, true));
      const T* row = g + r * D;
      for (int64_t j = 0; j < D; ++j) dst[j] = c * row[j];
    }
  });
}

template <class T>
void embedding_bag_forward(const T* table, int64_t row_stride, const int64_t* idx, const int64_t* bag_start, const T* psw,
                           T* out, int64_t* argmax, const BagShape& s) {
  const int64_t D = s.dim;
  if (s.bags <= 0 || D <= 0) return;
  const int threads = stream_threads<T>(s.n * D + s.bags * D, 2.0 * sizeof(T));
  parallel_split(s.bags, threads, [&](int64_t bb, int64_t be) {
    for (int64_t b = bb; b < be; ++b) {
      T* y = out + b * D;
      int64_t* am = argmax ? argmax + b * D : nullptr;
      std::fill(y, y + D, T(0));
      if (am) std::fill(am, am + D, int64_t(-1));
      int64_t count = 0;
      for (int64_t p = bag_start[b]; p < bag_start[b + 1]; ++p) {
        const int64_t r = idx[p];
        if (r == s.padding_idx) continue;
        const T* row = table + r * row_stride;
        if (s.mode == BAG_MAX) {
          if (count == 0) {
            for (int64_t j = 0; j < D; ++j) {
              y[j] = row[j];
              am[j] = r;
            }
          } else {
            for (int64_t j = 0; j < D; ++j)
              if (row[j] > y[j]) {
                y[j] = row[j];
                am[j] = r;
              }
          }
        } else if (psw) {
          const T w = psw[p];
          for (int64_t j = 0; j < D; ++j) y[j] += w * row[j];
        } else {
          for (int64_t j = 0; j < D; ++j) y[j] += row[j];
        }
        ++count;
      }
      if (s.mode == BAG_MEAN && count > 1) {
        const T c = static_cast<T>(count);
        for (int64_t j = 0; j < D; ++j) y[j] /= c;
      }
    }
  });
}

template <class T>
void embedding_bag_max_backward(const T* g, const int64_t* argmax, T* gw, const BagShape& s) {
  const int64_t D = s.dim;
  if (D <= 0) return;
  std::fill(gw, gw + s.rows * D, T(0));
  const int threads = stream_threads<T>(s.bags * D, 3.0 * sizeof(T));
  parallel_split(D, threads, [&](int64_t cb, int64_t ce) {
    for (int64_t b = 0; b < s.bags; ++b) {
      const T* gb = g + b * D;
      const int64_t* ab = argmax + b * D;
      for (int64_t j = cb; j < ce; ++j)
        if (ab[j] >= 0) gw[ab[j] * D + j] += gb[j];
    }
  });
}

template <class T>
void embedding_bag_psw_backward(const T* g, const T* table, int64_t row_stride, const int64_t* idx,
                                const int64_t* bag_of, T* gp, const BagShape& s) {
  const int64_t D = s.dim;
  if (s.n <= 0) return;
  const int threads = stream_threads<T>(s.n * std::max<int64_t>(D, 1), 2.0 * sizeof(T));
  parallel_split(s.n, threads, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const int64_t r = idx[p];
      if (r == s.padding_idx) {
        gp[p] = T(0);
        continue;
      }
      const T* row = table + r * row_stride;
      const T* gb = g + bag_of[p] * D;
      T acc = 0;
      for (int64_t j = 0; j < D; ++j) acc += gb[j] * row[j];
      gp[p] = acc;
    }
  });
}

template <class T>
void embedding_renorm(T* table, int64_t row_stride, int64_t col_stride, const int64_t* rows, int64_t nrows, int64_t dim,
                      double max_norm, double norm_type) {
  if (nrows <= 0 || dim <= 0) return;
  const int threads = stream_threads<T>(nrows * dim, 2.0 * sizeof(T));
  parallel_split(nrows, threads, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      T* row = table + rows[k] * row_stride;
      double norm = 0;
      if (norm_type == 0) {
        for (int64_t j = 0; j < dim; ++j) norm += row[j * col_stride] != T(0) ? 1.0 : 0.0;
      } else if (std::isinf(norm_type)) {
        norm = norm_type > 0 ? 0.0 : std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < dim; ++j) {
          const double v = std::fabs(static_cast<double>(row[j * col_stride]));
          norm = norm_type > 0 ? std::max(norm, v) : std::min(norm, v);
        }
      } else if (norm_type == 1) {
        for (int64_t j = 0; j < dim; ++j) norm += std::fabs(static_cast<double>(row[j * col_stride]));
      } else if (norm_type == 2) {
        for (int64_t j = 0; j < dim; ++j) {
          const double v = static_cast<double>(row[j * col_stride]);
          norm += v * v;
        }
        norm = std::sqrt(norm);
      } else {
        for (int64_t j = 0; j < dim; ++j) norm += std::pow(std::fabs(static_cast<double>(row[j * col_stride])), norm_type);
        norm = std::pow(norm, 1.0 / norm_type);
      }
      if (norm > max_norm) {
        const T scale = static_cast<T>(max_norm / (norm + 1e-7));
        for (int64_t j = 0; j < dim; ++j) row[j * col_stride] *= scale;
      }
    }
  });
}

#define GC_EMB_INDEX(I)                                                                                       \
  template int64_t embedding_first_bad_index<I>(const I*, int64_t, int64_t);                                  \
  template void embedding_gather_rows<I>(const char*, int64_t, const I*, int64_t, int64_t, char*);            \
  template void embedding_row_index<I>(const I*, int64_t, int64_t, int64_t*, int64_t*);
#define GC_EMB_FLOAT(T)                                                                                       \
  template void embedding_scatter<T>(const T*, const int64_t*, const T*, const int64_t*, const int64_t*, T*,  \
                                     const EmbeddingGrad&);                                                   \
  template void embedding_gather_scaled<T>(const T*, const int64_t*, int64_t, const T*, const int64_t*, T*,   \
                                           const EmbeddingGrad&);                                             \
  template void embedding_bag_forward<T>(const T*, int64_t, const int64_t*, const int64_t*, const T*, T*,     \
                                         int64_t*, const BagShape&);                                          \
  template void embedding_bag_max_backward<T>(const T*, const int64_t*, T*, const BagShape&);                 \
  template void embedding_bag_psw_backward<T>(const T*, const T*, int64_t, const int64_t*, const int64_t*, T*, \
                                              const BagShape&);                                               \
  template void embedding_renorm<T>(T*, int64_t, int64_t, const int64_t*, int64_t, int64_t, double, double);
GC_EMB_INDEX(int64_t)
GC_EMB_INDEX(int32_t)
GC_EMB_FLOAT(float)
GC_EMB_FLOAT(double)
#undef GC_EMB_INDEX
#undef GC_EMB_FLOAT

}  // namespace gradcore::kernels

// softmax_xent.cpp — softmax / log-softmax over an axis, and the fused softmax +
// cross-entropy forward and backward.
#include <cmath>
#include <vector>

#include "cpu/parallel.h"
#include "kernels/kernel_api.h"
#include "kernels/table.h"
#include "kernels/work.h"

namespace gradcore::kernels {

template <class T>
void softmax(const T* x, T* y, int64_t outer, int64_t n, int64_t inner, bool log) {
  const auto& k = table<T>();
  auto row_fn = log ? k.log_softmax_row : k.softmax_row;
  if (inner == 1) {
    parallel_split(outer, item_threads<T>(outer * n, row_fn, 0), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) row_fn(x + o * n, y + o * n, n);
    });
    return;
  }
  // Strided axis: gather each (o, j) column into a scratch row, run the row kernel, scatter.
  const int threads = item_threads<T>(outer * n * inner, row_fn, 4 * sizeof(T));
  parallel_split(outer * inner, threads, [&](int64_t b, int64_t e) {
    std::vector<T> in(n), out(n);
    for (int64_t pos = b; pos < e; ++pos) {
      int64_t o = pos / inner, j = pos % inner;
      const T* src = x + o * n * inner + j;
      T* dst = y + o * n * inner + j;
      for (int64_t r = 0; r < n; ++r) in[r] = src[r * inner];
      row_fn(in.data(), out.data(), n);
      for (int64_t r = 0; r < n; ++r) dst[r * inner] = out[r];
    }
  });
}

template <class T>
void softmax_backward(const T* g, const T* y, T* dx, int64_t outer, int64_t n, int64_t inner, bool log) {
  const int threads = item_threads<T>(outer * n * inner, log ? table<T>().unary[UNARY_EXP] : nullptr, 5 * sizeof(T));
  parallel_split(outer * inner, threads, [&](int64_t b, int64_t e) {
    for (int64_t pos = b; pos < e; ++pos) {
      int64_t o = pos / inner, j = pos % inner;
      const int64_t base = o * n * inner + j;
      double s = 0;
      if (log) {
        for (int64_t r = 0; r < n; ++r) s += g[base + r * inner];
        for (int64_t r = 0; r < n; ++r) {
          int64_t i = base + r * inner;
          dx[i] = g[i] - std::exp(y[i]) * static_cast<T>(s);
        }
      } else {
        for (int64_t r = 0; r < n; ++r) s += g[base + r * inner] * y[base + r * inner];
        for (int64_t r = 0; r < n; ++r) {
          int64_t i = base + r * inner;
          dx[i] = y[i] * (g[i] - static_cast<T>(s));
        }
      }
    }
  });
}

// loss_i = logsumexp(x_i) - sum_c q_c x_ic,  q = (1 - eps) onehot(y_i) + eps / C
template <class T>
void cross_entropy_forward(const T* logits, const int64_t* labels, int64_t N, int64_t C, T smoothing,
                           T* row_loss, T* probs) {
  const auto& k = table<T>();
  parallel_split(N, item_threads<T>(N * C, k.log_softmax_row, 2 * sizeof(T)), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const T* x = logits + i * C;
      T* p = probs + i * C;
      k.log_softmax_row(x, p, C);  // p = log-probs for now
      double loss = -(1.0 - smoothing) * p[labels[i]];
      if (smoothing != T(0)) loss -= smoothing / static_cast<double>(C) * k.sum(p, C);
      row_loss[i] = static_cast<T>(loss);
      k.unary[UNARY_EXP](p, p, C);  // log-probs -> probs
    }
  });
}

template <class T>
void cross_entropy_backward(const T* probs, const int64_t* labels, int64_t N, int64_t C, T smoothing,
                            const T* row_scale, int64_t rs_step, T* dlogits) {
  const T off = smoothing / static_cast<T>(C);
  parallel_split(N, stream_threads<T>(N * C, 2 * sizeof(T)), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const T s = row_scale[i * rs_step];
      const T* p = probs + i * C;
      T* d = dlogits + i * C;
      for (int64_t c = 0; c < C; ++c) d[c] = s * (p[c] - off);
      d[labels[i]] -= s * (T(1) - smoothing);
    }
  });
}

#define GC_INSTANTIATE(T)                                                                              \
  template void softmax<T>(const T*, T*, int64_t, int64_t, int64_t, bool);                             \
  template void softmax_backward<T>(const T*, const T*, T*, int64_t, int64_t, int64_t, bool);          \
  template void cross_entropy_forward<T>(const T*, const int64_t*, int64_t, int64_t, T, T*, T*);       \
  template void cross_entropy_backward<T>(const T*, const int64_t*, int64_t, int64_t, T, const T*, int64_t, T*);
GC_INSTANTIATE(float)
GC_INSTANTIATE(double)
#undef GC_INSTANTIATE

}  // namespace gradcore::kernels

// elementwise.cpp — broadcasting iteration and threading around the table's contiguous loops.
#include <cstring>

#include "kernels/dispatch.h"
#include "cpu/parallel.h"
#include "kernels/kernel_api.h"
#include "kernels/table.h"
#include "kernels/work.h"

namespace gradcore::kernels {
namespace {


// Outputs larger than this are written with non-temporal stores, through an L1-sized
// staging buffer (they would not stay in cache anyway).
constexpr int64_t kStreamBytes = 8 << 20;
constexpr int64_t kStage = 2048;

// out[b:e] = f(b, e, dst) where f computes elements [b, e) into dst, on `threads`
// threads; staged + streamed for large outputs.
template <class T, class F>
void write_elementwise(T* out, int64_t n, int threads, F&& f) {
  const auto& k = table<T>();
  if (n * static_cast<int64_t>(sizeof(T)) < kStreamBytes) {
    parallel_split(n, threads, [&](int64_t b, int64_t e) { f(b, e, out + b); });
    return;
  }
  parallel_split(n, threads, [&](int64_t b, int64_t e) {
    alignas(64) T stage[kStage];
    for (int64_t c = b; c < e; c += kStage) {
      const int64_t len = e - c < kStage ? e - c : kStage;
      f(c, c + len, stage);
      k.stream_copy(stage, out + c, len);
    }
  });
}

}  // namespace

template <class T>
void unary(UnaryOp op, const T* x, T* y, int64_t n) {
  auto f = table<T>().unary[op];
  const int threads = item_threads<T>(n, f, 0);
  if (x == y) {  // in place: no staging
    parallel_split(n, threads, [&](int64_t b, int64_t e) { f(x + b, y + b, e - b); });
    return;
  }
  write_elementwise(y, n, threads, [&](int64_t b, int64_t e, T* dst) { f(x + b, dst, e - b); });
}

template <class T>
void pow_scalar(const T* x, T p, T* y, int64_t n) {
  auto f = table<T>().pow_scalar;
  parallel_split(n, stream_threads<T>(n, 2 * sizeof(T)), [&](int64_t b, int64_t e) { f(x + b, p, y + b, e - b); });
}

template <class T>
void axpby(T alpha, const T* x, T beta, T* y, int64_t n) {
  auto f = table<T>().axpby;
  parallel_split(n, stream_threads<T>(n, 3 * sizeof(T)), [&](int64_t b, int64_t e) { f(alpha, x + b, beta, y + b, e - b); });
}

template <class T>
void activation_backward(ActBackward act, const T* g, const T* y, T* out, int64_t n) {
  auto f = table<T>().act_backward[act];
  parallel_split(n, stream_threads<T>(n, 3 * sizeof(T)), [&](int64_t b, int64_t e) { f(g + b, y + b, out + b, e - b); });
}

template <class T>
void leaky_relu(const T* x, T slope, T* y, int64_t n) {
  auto f = table<T>().leaky_relu;
  parallel_split(n, stream_threads<T>(n, 2 * sizeof(T)), [&](int64_t b, int64_t e) { f(x + b, slope, y + b, e - b); });
}

template <class T>
void leaky_relu_backward(const T* g, const T* x, T slope, T* out, int64_t n) {
  auto f = table<T>().leaky_relu_backward;
  parallel_split(n, stream_threads<T>(n, 3 * sizeof(T)), [&](int64_t b, int64_t e) { f(g + b, x + b, slope, out + b, e - b); });
}

template <class T>
void fill(T* y, T value, int64_t n) {
  parallel_split(n, stream_threads<T>(n, sizeof(T)), [&](int64_t b, int64_t e) {
    if (value == T(0)) std::memset(y + b, 0, sizeof(T) * (e - b));
    else for (int64_t i = b; i < e; ++i) y[i] = value;
  });
}

template <class T>
void copy(const T* x, T* y, int64_t n) {
  if (x == y) return;
  parallel_split(n, stream_threads<T>(n, 2 * sizeof(T)), [&](int64_t b, int64_t e) { std::memcpy(y + b, x + b, sizeof(T) * (e - b)); });
}

template <class T, class U>
void cast(const T* x, U* y, int64_t n) {
  parallel_split(n, stream_threads<float>(n, double(sizeof(T) + sizeof(U))), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = static_cast<U>(x[i]);
  });
}

template <class T>
void binary_scalar(BinaryOp op, const T* a, T s, T* out, int64_t n, bool scalar_first) {
  auto f = table<T>().binary[op][scalar_first ? BMODE_SV : BMODE_VS];
  parallel_split(n, stream_threads<T>(n, 2 * sizeof(T)), [&](int64_t b, int64_t e) {
    if (scalar_first) f(&s, a + b, out + b, e - b);
    else f(a + b, &s, out + b, e - b);
  });
}

template <class T>
void binary(BinaryOp op, int ndim, const int64_t* shape_in, const T* a, const int64_t* sa_in, const T* b,
            const int64_t* sb_in, T* out) {
  // Drop size-1 dims and merge neighbours that are contiguous for both operands, so the
  // common cases (same shape, row + vector, scalar) become one or two dims.
  int64_t shape[kMaxDims], sa[kMaxDims], sb[kMaxDims];
  int nd = 0;
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) {
    n *= shape_in[d];
    if (shape_in[d] == 1) continue;
    if (nd > 0 && sa[nd - 1] == sa_in[d] * shape_in[d] && sb[nd - 1] == sb_in[d] * shape_in[d]) {
      shape[nd - 1] *= shape_in[d];
      sa[nd - 1] = sa_in[d];
      sb[nd - 1] = sb_in[d];
    } else {
      shape[nd] = shape_in[d];
      sa[nd] = sa_in[d];
      sb[nd] = sb_in[d];
      ++nd;
    }
  }
  if (n == 0) return;
  const auto& k = table<T>();
  if (nd == 0) { k.binary[op][BMODE_VV](a, b, out, 1); return; }
  const int64_t inner = shape[nd - 1];
  const int64_t isa_ = sa[nd - 1], isb = sb[nd - 1];
  auto f = isa_ == 1 && isb == 1 ? k.binary[op][BMODE_VV]
           : isa_ == 1           ? k.binary[op][BMODE_VS]
                                 : k.binary[op][BMODE_SV];
  const int64_t rows = n / inner;
  // Operands strided along the row (views: transposes, steps) or both broadcast along it
  // are gathered chunk by chunk into unit-stride buffers for the contiguous loop.
  const bool stage = !((isa_ == 0 || isa_ == 1) && (isb == 0 || isb == 1)) || (isa_ == 0 && isb == 0);
  if (stage) f = k.binary[op][BMODE_VV];
  auto row = [&](const T* pa, const T* pb, T* po) {
    if (!stage) { f(pa, pb, po, inner); return; }
    alignas(64) T ba[kStage], bb[kStage];
    for (int64_t c = 0; c < inner; c += kStage) {
      const int64_t len = inner - c < kStage ? inner - c : kStage;
      for (int64_t i = 0; i < len; ++i) { ba[i] = pa[(c + i) * isa_]; bb[i] = pb[(c + i) * isb]; }
      f(ba, bb, po + c, len);
    }
  };
  auto run_rows = [&](int64_t r0, int64_t r1) {
    // Decompose r0 into an index over the outer dims, then walk it like an odometer.
    int64_t idx[kMaxDims] = {0};
    int64_t rem = r0, offa = 0, offb = 0;
    for (int d = nd - 2; d >= 0; --d) {
      idx[d] = rem % shape[d];
      rem /= shape[d];
      offa += idx[d] * sa[d];
      offb += idx[d] * sb[d];
    }
    for (int64_t r = r0; r < r1; ++r) {
      row(a + offa, b + offb, out + r * inner);
      for (int d = nd - 2; d >= 0; --d) {
        offa += sa[d];
        offb += sb[d];
        if (++idx[d] < shape[d]) break;
        offa -= sa[d] * shape[d];
        offb -= sb[d] * shape[d];
        idx[d] = 0;
      }
    }
  };
  const int threads = stream_threads<T>(n, 3 * sizeof(T));
  if (rows == 1 && !stage) {
    if (out == a || out == b) {  // in place: no staging
      parallel_split(inner, threads, [&](int64_t b0, int64_t e0) {
        f(a + (isa_ ? b0 : 0), b + (isb ? b0 : 0), out + b0, e0 - b0);
      });
      return;
    }
    write_elementwise(out, inner, threads, [&](int64_t b0, int64_t e0, T* dst) {
      f(a + (isa_ ? b0 : 0), b + (isb ? b0 : 0), dst, e0 - b0);
    });
  } else {
    parallel_split(rows, threads, run_rows);
  }
}

template <class T>
void strided_copy(int ndim, const int64_t* yshape, const T* x, const int64_t* xstrides, T* y) {
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= yshape[d];
  if (n == 0) return;
  if (ndim == 0) { y[0] = x[0]; return; }
  const int64_t inner = yshape[ndim - 1], istride = xstrides[ndim - 1];
  const int64_t rows = n / inner;
  parallel_split(rows, stream_threads<T>(n, 2 * sizeof(T)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t rem = r, off = 0;
      for (int d = ndim - 2; d >= 0; --d) { off += (rem % yshape[d]) * xstrides[d]; rem /= yshape[d]; }
      T* dst = y + r * inner;
      const T* src = x + off;
      if (istride == 1) for (int64_t i = 0; i < inner; ++i) dst[i] = src[i];
      else for (int64_t i = 0; i < inner; ++i) dst[i] = src[i * istride];
    }
  });
}

#define GC_INSTANTIATE(T)                                                                              \
  template void unary<T>(UnaryOp, const T*, T*, int64_t);                                              \
  template void pow_scalar<T>(const T*, T, T*, int64_t);                                               \
  template void axpby<T>(T, const T*, T, T*, int64_t);                                                 \
  template void activation_backward<T>(ActBackward, const T*, const T*, T*, int64_t);                  \
  template void fill<T>(T*, T, int64_t);                                                               \
  template void leaky_relu<T>(const T*, T, T*, int64_t);                                               \
  template void leaky_relu_backward<T>(const T*, const T*, T, T*, int64_t);                            \
  template void copy<T>(const T*, T*, int64_t);                                                        \
  template void binary_scalar<T>(BinaryOp, const T*, T, T*, int64_t, bool);                            \
  template void binary<T>(BinaryOp, int, const int64_t*, const T*, const int64_t*, const T*, const int64_t*, T*); \
  template void strided_copy<T>(int, const int64_t*, const T*, const int64_t*, T*);
GC_INSTANTIATE(float)
GC_INSTANTIATE(double)
#undef GC_INSTANTIATE
template void cast<float, double>(const float*, double*, int64_t);
template void cast<double, float>(const double*, float*, int64_t);

}  // namespace gradcore::kernels

// rnn.cpp — the recurrent layer kernels of rnn.h: per-step fused cells (forward and
// backward) and the drivers that run a whole sequence with the project's GEMM.
//
// Formulas (PyTorch's, pre-activations a = x W_ih^T + b_ih + h W_hh^T + b_hh):
//   RNN   h' = act(a)
//   LSTM  i, f, o = sigmoid(a_i, a_f, a_o), g = tanh(a_g); c' = f c + i g; hp = o tanh(c');
//         h' = hp (or hp W_hr^T with a projection)
//   GRU   r, z = sigmoid(a_r, a_z); n = tanh(ai_n + r (h W_hn^T + b_hn)); h' = (1 - z) n + z h
#include "kernels/rnn.h"

#include <cstring>

#include "cpu/parallel.h"
#include "kernels/kernel_api.h"
#include "kernels/table.h"
#include "kernels/work.h"

namespace gradcore::kernels {
namespace {

// fn(r0, r1) over the rows [0, rows) of a step, split where that pays (elementwise per row:
// Note [RNN determinism]).
template <class T, class F>
void rnn_rows(int64_t rows, int64_t per_row, F&& fn) {
  const int threads = item_threads<T>(rows * per_row, table<T>().unary[UNARY_TANH], 6 * sizeof(T));
  parallel_split(rows, threads, fn);
}

// One forward step over rows [r0, r1): g = this step's rows of the saved gates (holding
// x W_ih^T + b_ih on entry), gh = h W_hh^T + b_hh for the same rows.
template <class T>
void cell_forward(const RnnLayer<T>& L, int64_t r0, int64_t r1, T* g, const T* gh, T* h, T* c, T* out, T* cprev,
                  T* ctanh, T* hp) {
  const auto& tab = table<T>();
  const int64_t H = L.H;
  if (L.mode == RNN_LSTM) {
    for (int64_t b = r0; b < r1; ++b) {
      T* gb = g + b * 4 * H;
      const T* ghb = gh + b * 4 * H;
      for (int64_t j = 0; j < 4 * H; ++j) gb[j] += ghb[j];
      tab.unary[UNARY_SIGMOID](gb, gb, 2 * H);
      tab.unary[UNARY_TANH](gb + 2 * H, gb + 2 * H, H);
      tab.unary[UNARY_SIGMOID](gb + 3 * H, gb + 3 * H, H);
      T* cb = c + b * H;
      T* cp = cprev + b * H;
      T* ct = ctanh + b * H;
      for (int64_t j = 0; j < H; ++j) {
        cp[j] = cb[j];
        cb[j] = gb[H + j] * cb[j] + gb[j] * gb[2 * H + j];
      }
      tab.unary[UNARY_TANH](cb, ct, H);
      T* o = hp ? hp + b * H : out + b * H;
      for (int64_t j = 0; j < H; ++j) o[j] = gb[3 * H + j] * ct[j];
      if (!hp) std::memcpy(h + b * H, o, sizeof(T) * H);
    }
  } else if (L.mode == RNN_GRU) {
    for (int64_t b = r0; b < r1; ++b) {
      T* gb = g + b * 4 * H;  // r, z, n, gh_n
      const T* ghb = gh + b * 3 * H;
      for (int64_t j = 0; j < 2 * H; ++j) gb[j] += ghb[j];
      tab.unary[UNARY_SIGMOID](gb, gb, 2 * H);
      for (int64_t j = 0; j < H; ++j) {
        gb[3 * H + j] = ghb[2 * H + j];
        gb[2 * H + j] += gb[j] * ghb[2 * H + j];
      }
      tab.unary[UNARY_TANH](gb + 2 * H, gb + 2 * H, H);
      T* hb = h + b * H;
      T* o = out + b * H;
      for (int64_t j = 0; j < H; ++j) {
        const T z = gb[H + j], n = gb[2 * H + j];
        o[j] = n + z * (hb[j] - n);
        hb[j] = o[j];
      }
    }
  } else {
    for (int64_t b = r0; b < r1; ++b) {
      T* gb = g + b * H;
      const T* ghb = gh + b * H;
      for (int64_t j = 0; j < H; ++j) gb[j] += ghb[j];
      tab.unary[L.mode == RNN_TANH ? UNARY_TANH : UNARY_RELU](gb, gb, H);
      std::memcpy(out + b * H, gb, sizeof(T) * H);
      std::memcpy(h + b * H, gb, sizeof(T) * H);
    }
  }
}

// One backward step over rows [r0, r1): dht = the total gradient of this step's output
// state h' (for LSTM with projection: of hp), dc the running cell gradient (in: of c',
// out: of c). Writes the pre-activation gradients dgi (and, GRU, the recurrent ones dgh and
// the direct part z dh' of the gradient of h into dh).
template <class T>
void cell_backward(const RnnLayer<T>& L, int64_t r0, int64_t r1, const T* g, const T* dht, const T* hprev,
                   const T* cprev, const T* ctanh, T* dc, T* dgi, T* dgh, T* dh) {
  const int64_t H = L.H;
  if (L.mode == RNN_LSTM) {
    for (int64_t b = r0; b < r1; ++b) {
      const T* gb = g + b * 4 * H;
      const T* d = dht + b * H;
      const T* cp = cprev + b * H;
      const T* ct = ctanh + b * H;
      T* dcb = dc + b * H;
      T* dg = dgi + b * 4 * H;
      for (int64_t j = 0; j < H; ++j) {
        const T i = gb[j], f = gb[H + j], gg = gb[2 * H + j], o = gb[3 * H + j], tc = ct[j];
        const T dct = dcb[j] + d[j] * o * (T(1) - tc * tc);
        dg[j] = dct * gg * i * (T(1) - i);
        dg[H + j] = dct * cp[j] * f * (T(1) - f);
        dg[2 * H + j] = dct * i * (T(1) - gg * gg);
        dg[3 * H + j] = d[j] * tc * o * (T(1) - o);
        dcb[j] = dct * f;
      }
    }
  } else if (L.mode == RNN_GRU) {
    for (int64_t b = r0; b < r1; ++b) {
      const T* gb = g + b * 4 * H;
      const T* d = dht + b * H;
      const T* hp = hprev + b * H;
      T* di = dgi + b * 3 * H;
      T* dr = dgh + b * 3 * H;
      T* dhb = dh + b * H;
      for (int64_t j = 0; j < H; ++j) {
        const T r = gb[j], z = gb[H + j], n = gb[2 * H + j], ghn = gb[3 * H + j];
        const T dn = d[j] * (T(1) - z) * (T(1) - n * n);
        const T dz = d[j] * (hp[j] - n) * z * (T(1) - z);
        const T drr = dn * ghn * r * (T(1) - r);
        di[j] = drr;
        di[H + j] = dz;
        di[2 * H + j] = dn;
        dr[j] = drr;
        dr[H + j] = dz;
        dr[2 * H + j] = dn * r;
        dhb[j] = d[j] * z;
      }
    }
  } else {
    for (int64_t b = r0; b < r1; ++b) {
      const T* y = g + b * H;
      const T* d = dht + b * H;
      T* dg = dgi + b * H;
      if (L.mode == RNN_TANH)
        for (int64_t j = 0; j < H; ++j) dg[j] = d[j] * (T(1) - y[j] * y[j]);
      else
        for (int64_t j = 0; j < H; ++j) dg[j] = y[j] > T(0) ? d[j] : T(0);
    }
  }
}

int64_t total_rows(const int64_t* bs, int64_t steps) {
  int64_t n = 0;
  for (int64_t t = 0; t < steps; ++t) n += bs[t];
  return n;
}

}  // namespace

int64_t rnn_backward_work(int mode, int64_t N, int64_t B, int64_t H, int64_t P) {
  const int64_t GH = rnn_gates(mode) * H;
  int64_t w = N * GH + N * P;            // dgi, dht (total output-state gradients)
  if (mode == RNN_GRU) w += N * GH;      // dgh
  if (P != H) w += B * H;                // dhp (LSTM projection)
  return w;
}

template <class T>
void rnn_layer_forward(const RnnLayer<T>& L, const T* x, T* out, T* h, T* c, const RnnSaved<T>& s, T* work) {
  const int64_t H = L.H, P = L.P, G = rnn_gates(L.mode), GH = G * H, SG = rnn_saved_gates(L.mode) * H;
  const int64_t N = total_rows(L.batch_sizes, L.steps);
  const bool proj = L.mode == RNN_LSTM && L.w_hr != nullptr;
  GemmEpilogue<T> eih{L.b_ih, -1}, ehh{L.b_hh, -1};
  // [N, G H] = x [N, I] W_ih^T (+ b_ih), into the saved gates (row stride SG)
  if (N > 0) gemm<T>(false, true, N, GH, L.I, T(1), x, L.I, L.w_ih, L.I, T(0), s.gates, SG, L.b_ih ? &eih : nullptr);
  // Note: the per-step products are small; a transposed B would be re-transposed by the
  // GEMM's direct path at every step, so W_hh^T is laid out once here.
  T* whh_t = work + L.B * GH;
  for (int64_t r = 0; r < GH; ++r)
    for (int64_t j = 0; j < P; ++j) whh_t[j * GH + r] = L.w_hh[r * P + j];
  int64_t off = L.reverse ? N : 0;
  for (int64_t k = 0; k < L.steps; ++k) {
    const int64_t t = L.reverse ? L.steps - 1 - k : k;
    const int64_t bs = L.batch_sizes[t];
    if (L.reverse) off -= bs;
    std::memcpy(s.hprev + off * P, h, sizeof(T) * bs * P);
    // [bs, G H] = h [bs, P] W_hh^T (+ b_hh), W_hh^T stored [P, G H] once for all steps
    gemm<T>(false, false, bs, GH, P, T(1), h, P, whh_t, GH, T(0), work, GH, L.b_hh ? &ehh : nullptr);
    T* g = s.gates + off * SG;
    T* o = out + off * P;
    T* cp = s.cprev ? s.cprev + off * H : nullptr;
    T* ct = s.ctanh ? s.ctanh + off * H : nullptr;
    T* hp = proj ? s.hp + off * H : nullptr;
    rnn_rows<T>(bs, SG, [&](int64_t r0, int64_t r1) { cell_forward<T>(L, r0, r1, g, work, h, c, o, cp, ct, hp); });
    if (proj) {
      // [bs, P] = hp [bs, H] W_hr^T
      gemm<T>(false, true, bs, P, H, T(1), hp, H, L.w_hr, H, T(0), o, P);
      std::memcpy(h, o, sizeof(T) * bs * P);
    }
    if (!L.reverse) off += bs;
  }
}

template <class T>
void rnn_layer_backward(const RnnLayer<T>& L, const T* x, const T* dout, T* dh, T* dc, const RnnSaved<T>& s, T* dx,
                        T* dw_ih, T* dw_hh, T* db_ih, T* db_hh, T* dw_hr, T* work) {
  const int64_t H = L.H, P = L.P, I = L.I, G = rnn_gates(L.mode), GH = G * H, SG = rnn_saved_gates(L.mode) * H;
  const int64_t N = total_rows(L.batch_sizes, L.steps);
  const bool proj = L.mode == RNN_LSTM && L.w_hr != nullptr;
  const bool gru = L.mode == RNN_GRU;
  T* dgi = work;
  T* dht = dgi + N * GH;
  T* dgh = gru ? dht + N * P : dgi;
  T* dhp = proj ? (gru ? dgh + N * GH : dht + N * P) : nullptr;
  // The steps in the opposite order of the forward.
  int64_t off = L.reverse ? 0 : N;
  for (int64_t k = 0; k < L.steps; ++k) {
    const int64_t t = L.reverse ? k : L.steps - 1 - k;
    const int64_t bs = L.batch_sizes[t];
    if (!L.reverse) off -= bs;
    T* d = dht + off * P;
    if (dout)
      for (int64_t i = 0; i < bs * P; ++i) d[i] = dh[i] + dout[off * P + i];
    else
      std::memcpy(d, dh, sizeof(T) * bs * P);
    const T* dcell = d;
    if (proj) {
      // [bs, H] = dh' [bs, P] W_hr [P, H]
      gemm<T>(false, false, bs, H, P, T(1), d, P, L.w_hr, H, T(0), dhp, H);
      dcell = dhp;
    }
    const T* g = s.gates + off * SG;
    const T* hpv = s.hprev + off * P;
    const T* cp = s.cprev ? s.cprev + off * H : nullptr;
    const T* ct = s.ctanh ? s.ctanh + off * H : nullptr;
    T* dgi_t = dgi + off * GH;
    T* dgh_t = dgh + off * GH;
    rnn_rows<T>(bs, SG, [&](int64_t r0, int64_t r1) {
      cell_backward<T>(L, r0, r1, g, dcell, hpv, cp, ct, dc, dgi_t, dgh_t, dh);
    });
    // [bs, P] (+)= dgh [bs, G H] W_hh [G H, P]   (GRU adds to its direct part z dh')
    gemm<T>(false, false, bs, P, GH, T(1), dgh_t, GH, L.w_hh, P, gru ? T(1) : T(0), dh, P);
    if (L.reverse) off += bs;
  }
  if (N == 0) {  // no steps: the weight and bias gradients are zero (dx is empty)
    for (T* w : {dw_ih, dw_hh, db_ih, db_hh, dw_hr})
      if (w) fill<T>(w, T(0), w == dw_ih ? GH * I : w == dw_hh ? GH * P : w == dw_hr ? P * H : GH);
    return;
  }
  // [N, I] = dgi [N, G H] W_ih [G H, I]
  if (dx) gemm<T>(false, false, N, I, GH, T(1), dgi, GH, L.w_ih, I, T(0), dx, I);
  // [G H, I] = dgi^T [G H, N] x [N, I];  [G H, P] = dgh^T hprev
  if (dw_ih) gemm<T>(true, false, GH, I, N, T(1), dgi, GH, x, I, T(0), dw_ih, I);
  if (dw_hh) gemm<T>(true, false, GH, P, N, T(1), dgh, GH, s.hprev, P, T(0), dw_hh, P);
  if (db_ih) sum_axis<T>(dgi, db_ih, 1, N, GH);
  if (db_hh) sum_axis<T>(dgh, db_hh, 1, N, GH);
  // [P, H] = dh'^T [P, N] hp [N, H]
  if (dw_hr) gemm<T>(true, false, P, H, N, T(1), dht, P, s.hp, H, T(0), dw_hr, H);
}

#define GC_RNN_INSTANTIATE(T)                                                                                  \
  template void rnn_layer_forward<T>(const RnnLayer<T>&, const T*, T*, T*, T*, const RnnSaved<T>&, T*);       \
  template void rnn_layer_backward<T>(const RnnLayer<T>&, const T*, const T*, T*, T*, const RnnSaved<T>&, T*, \
                                      T*, T*, T*, T*, T*, T*);
GC_RNN_INSTANTIATE(float)
GC_RNN_INSTANTIATE(double)
#undef GC_RNN_INSTANTIATE

}  // namespace gradcore::kernels

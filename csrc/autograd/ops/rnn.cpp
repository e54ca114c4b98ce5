// rnn.cpp — rnn_layer (issue 16) and its Backward node: the whole sequence of one layer and
// direction runs in kernels/rnn.h; the node keeps the kernel's saved buffers (gates, the
// states each step starts from) and runs the backward through time in one kernel call.
// See Note [RNN double backward] (rnn.h).
#include "autograd/ops/rnn.h"

#include "autograd/grad_mode.h"
#include "autograd/ops/common.h"
#include "kernels/rnn.h"

namespace gradcore::ops {
using autograd::make_node;
using autograd::needs_record;
using autograd::SavedTensor;
using autograd::set_history;
using autograd::wants;

namespace {

const char* rnn_grad_name(int mode) {
  switch (mode) {
    case kernels::RNN_TANH: return "RnnTanhBackward0";
    case kernels::RNN_RELU: return "RnnReluBackward0";
    case kernels::RNN_LSTM: return "LstmBackward0";
    default: return "GruBackward0";
  }
}

template <class T>
kernels::RnnSaved<T> saved_ptrs(const TensorPtr& gates, const TensorPtr& hprev, const TensorPtr& cprev,
                                const TensorPtr& ctanh, const TensorPtr& hp) {
  kernels::RnnSaved<T> s;
  s.gates = gates->data<T>();
  s.hprev = hprev->data<T>();
  s.cprev = cprev ? cprev->data<T>() : nullptr;
  s.ctanh = ctanh ? ctanh->data<T>() : nullptr;
  s.hp = hp ? hp->data<T>() : nullptr;
  return s;
}

template <class T>
kernels::RnnLayer<T> layer_desc(int mode, const std::vector<int64_t>& bs, int64_t B, int64_t I, int64_t H, int64_t P,
                                bool reverse, const TensorPtr& w_ih, const TensorPtr& w_hh, const TensorPtr& b_ih,
                                const TensorPtr& b_hh, const TensorPtr& w_hr) {
  kernels::RnnLayer<T> L;
  L.mode = mode;
  L.steps = static_cast<int64_t>(bs.size());
  L.batch_sizes = bs.data();
  L.B = B;
  L.I = I;
  L.H = H;
  L.P = P;
  L.reverse = reverse;
  L.w_ih = w_ih->data<T>();
  L.w_hh = w_hh->data<T>();
  L.b_ih = b_ih ? b_ih->data<T>() : nullptr;
  L.b_hh = b_hh ? b_hh->data<T>() : nullptr;
  L.w_hr = w_hr ? w_hr->data<T>() : nullptr;
  return L;
}

// Inputs (edges): x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr. Outputs: output, h_n, c_n.
struct RnnBackward final : Node {
  SavedTensor x_, w_ih_, w_hh_, w_hr_;
  TensorPtr gates, hprev, cprev, ctanh, hp;  // the kernel's saved buffers (no autograd)
  int mode = kernels::RNN_LSTM;
  std::vector<int64_t> batch_sizes;
  int64_t B = 0, I = 0, H = 0, P = 0;
  bool reverse = false, has_b_ih = false, has_b_hh = false;
  const char* name() const override { return rnn_grad_name(mode); }
  uint32_t num_outputs() const override { return 3; }
  tensor_list apply(tensor_list&& g) override {
    g.resize(3);
    TensorPtr x = x_.unpack(this), w_ih = w_ih_.unpack(this), w_hh = w_hh_.unpack(this), w_hr = w_hr_.unpack(this);
    if (!gates) autograd::throw_released(this);
    GC_CHECK(!needs_composed({g[0].get(), g[1].get(), g[2].get(), x.get(), w_ih.get(), w_hh.get(), w_hr.get()}),
             RuntimeError, "gradcore: double backward (create_graph=True) and forward-mode AD through RNN / LSTM / "
             "GRU layers are not supported (their backward is one fused kernel)");
    const DType d = x->dtype;
    const int64_t N = x->shape[0], G = kernels::rnn_gates(mode);
    TensorPtr dout = g[0] ? contiguous(to_dtype(g[0], d)) : nullptr;
    TensorPtr dh = g[1] ? clone(to_dtype(g[1], d)) : zeros({B, P}, d);
    TensorPtr dc = mode == kernels::RNN_LSTM ? (g[2] ? clone(to_dtype(g[2], d)) : zeros({B, H}, d)) : nullptr;
    dh = contiguous(dh);
    if (dc) dc = contiguous(dc);
    TensorPtr dx = wants(*this, 0) ? empty({N, I}, d) : nullptr;
    TensorPtr dw_ih = wants(*this, 3) ? empty({G * H, I}, d) : nullptr;
    TensorPtr dw_hh = wants(*this, 4) ? empty({G * H, P}, d) : nullptr;
    TensorPtr db_ih = has_b_ih && wants(*this, 5) ? empty({G * H}, d) : nullptr;
    TensorPtr db_hh = has_b_hh && wants(*this, 6) ? empty({G * H}, d) : nullptr;
    TensorPtr dw_hr = w_hr && wants(*this, 7) ? empty({P, H}, d) : nullptr;
    TensorPtr work = empty({kernels::rnn_backward_work(mode, N, B, H, P)}, d);
    dispatch(d, [&](auto z) {
      using T = decltype(z);
      auto L = layer_desc<T>(mode, batch_sizes, B, I, H, P, reverse, w_ih, w_hh, nullptr, nullptr, w_hr);
      auto ptr = [](const TensorPtr& t) { return t ? t->data<T>() : nullptr; };
      kernels::rnn_layer_backward<T>(L, x->data<T>(), ptr(dout), dh->data<T>(), ptr(dc),
                                     saved_ptrs<T>(gates, hprev, cprev, ctanh, hp), ptr(dx), ptr(dw_ih), ptr(dw_hh),
                                     ptr(db_ih), ptr(db_hh), ptr(dw_hr), work->data<T>());
      return 0;
    });
    tensor_list r(8);
    r[0] = dx;
    if (wants(*this, 1)) r[1] = dh;
    if (wants(*this, 2)) r[2] = dc;
    r[3] = dw_ih;
    r[4] = dw_hh;
    r[5] = db_ih;
    r[6] = db_hh;
    r[7] = dw_hr;
    return r;
  }
  void release_saved() override {
    x_.reset(); w_ih_.reset(); w_hh_.reset(); w_hr_.reset();
    gates.reset(); hprev.reset(); cprev.reset(); ctanh.reset(); hp.reset();
  }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override {
    return {{"input", x_.raw()}, {"weight_ih", w_ih_.raw()}, {"weight_hh", w_hh_.raw()}, {"gates", gates},
            {"hprev", hprev}};
  }
};

void check_2d(const TensorPtr& t, int64_t rows, int64_t cols, const char* what) {
  GC_CHECK(t->ndim() == 2 && t->shape[0] == rows && t->shape[1] == cols, ShapeError, "rnn_layer: ", what,
           " must have shape (", rows, ", ", cols, "), got ", shape_str(t->shape));
}

}  // namespace

RnnOutputs rnn_layer(int mode, const TensorPtr& x_in, const std::vector<int64_t>& batch_sizes, const TensorPtr& h0_in,
                     const TensorPtr& c0_in, const TensorPtr& w_ih_in, const TensorPtr& w_hh_in,
                     const TensorPtr& b_ih_in, const TensorPtr& b_hh_in, const TensorPtr& w_hr_in, bool reverse) {
  GC_CHECK(mode >= kernels::RNN_TANH && mode <= kernels::RNN_GRU, ValueError, "rnn_layer: unknown mode ", mode);
  const bool lstm = mode == kernels::RNN_LSTM;
  GC_CHECK(x_in && h0_in && w_ih_in && w_hh_in, ValueError, "rnn_layer: input, hx, weight_ih and weight_hh are required");
  GC_CHECK(!lstm || c0_in, ValueError, "rnn_layer: LSTM needs the initial cell state");
  GC_CHECK(!w_hr_in || lstm, ValueError, "rnn_layer: only LSTM has a projection (weight_hr)");
  const DType d = x_in->dtype;
  GC_CHECK(is_f32_or_f64(d), TypeError, "rnn_layer: expected a float32 or float64 input, got ", dtype_name(d));
  for (const TensorPtr* t : {&h0_in, &c0_in, &w_ih_in, &w_hh_in, &b_ih_in, &b_hh_in, &w_hr_in})
    GC_CHECK(!*t || (*t)->dtype == d, TypeError, "rnn_layer: every tensor must have the input's dtype ",
             dtype_name(d), ", got ", dtype_name((*t)->dtype));
  GC_CHECK(x_in->ndim() == 2, ShapeError, "rnn_layer: input must be 2-D [N, input_size], got ", shape_str(x_in->shape));
  GC_CHECK(h0_in->ndim() == 2, ShapeError, "rnn_layer: hx must be 2-D [batch, hidden], got ", shape_str(h0_in->shape));
  const int64_t N = x_in->shape[0], I = x_in->shape[1], B = h0_in->shape[0], P = h0_in->shape[1];
  const int64_t G = kernels::rnn_gates(mode);
  GC_CHECK(w_ih_in->ndim() == 2 && w_ih_in->shape[0] % G == 0, ShapeError, "rnn_layer: weight_ih must be 2-D with a "
           "multiple of ", G, " rows, got ", shape_str(w_ih_in->shape));
  const int64_t H = w_ih_in->shape[0] / G;
  GC_CHECK(w_hr_in ? P < H : P == H, ShapeError, "rnn_layer: hx has ", P, " features, expected ",
           w_hr_in ? "the projection size" : "hidden_size ", w_hr_in ? "" : std::to_string(H));
  check_2d(w_ih_in, G * H, I, "weight_ih");
  check_2d(w_hh_in, G * H, P, "weight_hh");
  if (w_hr_in) check_2d(w_hr_in, P, H, "weight_hr");
  if (lstm) check_2d(c0_in, B, H, "cx");
  for (const TensorPtr* b : {&b_ih_in, &b_hh_in})
    GC_CHECK(!*b || ((*b)->ndim() == 1 && (*b)->shape[0] == G * H), ShapeError, "rnn_layer: biases must have shape (",
             G * H, ",), got ", shape_str((*b)->shape));
  int64_t total = 0;
  for (size_t t = 0; t < batch_sizes.size(); ++t) {
    const int64_t bs = batch_sizes[t];
    GC_CHECK(bs >= 1 && bs <= (t ? batch_sizes[t - 1] : B), ValueError, "rnn_layer: batch_sizes must be positive, "
             "non-increasing and start at the batch size ", B, ", got ", bs, " at step ", t);
    total += bs;
  }
  GC_CHECK(batch_sizes.empty() || batch_sizes[0] == B, ValueError, "rnn_layer: batch_sizes[0] = ", batch_sizes[0],
           " but hx has batch size ", B);
  GC_CHECK(total == N, ValueError, "rnn_layer: the batch sizes add up to ", total, " rows but the input has ", N);
  GC_CHECK(!autograd::fw::any_tangent({x_in.get(), h0_in.get(), c0_in.get(), w_ih_in.get(), w_hh_in.get(),
                                       b_ih_in.get(), b_hh_in.get(), w_hr_in.get()}),
           RuntimeError, "gradcore: forward-mode AD through RNN / LSTM / GRU layers is not supported");

  TensorPtr x = contiguous(x_in), w_ih = contiguous(w_ih_in), w_hh = contiguous(w_hh_in);
  TensorPtr b_ih = b_ih_in ? contiguous(b_ih_in) : nullptr, b_hh = b_hh_in ? contiguous(b_hh_in) : nullptr;
  TensorPtr w_hr = w_hr_in ? contiguous(w_hr_in) : nullptr;
  TensorPtr h0 = contiguous(h0_in), c0 = c0_in ? contiguous(c0_in) : nullptr;

  RnnOutputs r;
  r.output = empty({N, P}, d);
  r.h_n = clone(detach(h0));
  r.c_n = lstm ? clone(detach(c0)) : nullptr;
  TensorPtr gates = empty({N, kernels::rnn_saved_gates(mode) * H}, d), hprev = empty({N, P}, d);
  TensorPtr cprev = lstm ? empty({N, H}, d) : nullptr, ctanh = lstm ? empty({N, H}, d) : nullptr;
  TensorPtr hp = w_hr ? empty({N, H}, d) : nullptr;
  TensorPtr work = empty({kernels::rnn_forward_work(mode, B, H, P)}, d);
  dispatch(d, [&](auto z) {
    using T = decltype(z);
    auto L = layer_desc<T>(mode, batch_sizes, B, I, H, P, reverse, w_ih, w_hh, b_ih, b_hh, w_hr);
    kernels::rnn_layer_forward<T>(L, x->data<T>(), r.output->data<T>(), r.h_n->data<T>(),
                                  r.c_n ? r.c_n->data<T>() : nullptr, saved_ptrs<T>(gates, hprev, cprev, ctanh, hp),
                                  work->data<T>());
    return 0;
  });
  if (needs_record({x.get(), h0.get(), c0.get(), w_ih.get(), w_hh.get(), b_ih.get(), b_hh.get(), w_hr.get()})) {
    auto n = make_node<RnnBackward>({x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr});
    n->x_ = SavedTensor(x, false);
    n->w_ih_ = SavedTensor(w_ih, false);
    n->w_hh_ = SavedTensor(w_hh, false);
    if (w_hr) n->w_hr_ = SavedTensor(w_hr, false);
    n->gates = gates;
    n->hprev = hprev;
    n->cprev = cprev;
    n->ctanh = ctanh;
    n->hp = hp;
    n->mode = mode;
    n->batch_sizes = batch_sizes;
    n->B = B;
    n->I = I;
    n->H = H;
    n->P = P;
    n->reverse = reverse;
    n->has_b_ih = b_ih != nullptr;
    n->has_b_hh = b_hh != nullptr;
    set_history(r.output, n, 0);
    set_history(r.h_n, n, 1);
    if (r.c_n) set_history(r.c_n, n, 2);
  }
  return r;
}

}  // namespace gradcore::ops

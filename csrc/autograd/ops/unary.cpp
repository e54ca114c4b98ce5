// unary.cpp — neg exp log sqrt abs tanh sigmoid relu, and their fused backward ops.
#include "autograd/ops/common.h"

namespace gradcore::ops {
using autograd::make_node;
using autograd::needs_record;
using autograd::SavedTensor;
using autograd::set_history;

namespace {

TensorPtr unary_forward(UnaryOp op, const TensorPtr& x) {
  TensorPtr y = empty(x->shape, x->dtype);
  dispatch(x->dtype, [&](auto t) {
    using T = decltype(t);
    kernels::unary<T>(op, x->data<T>(), y->data<T>(), x->numel);
    return 0;
  });
  return y;
}

// A unary op whose backward needs its input (log, abs) or its output (exp, sqrt, tanh,
// sigmoid, relu). `Formula` maps (grad, saved) to the input's gradient.
template <class Formula>
struct UnaryBackward final : Node {
  SavedTensor saved_;
  bool saved_is_output_ = false;
  const char* name() const override { return Formula::name; }
  tensor_list apply(tensor_list&& g) override { return {Formula::grad(g[0], saved_.unpack(this))}; }
  void release_saved() override { saved_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override {
    return {{saved_is_output_ ? "result" : "self", saved_.raw()}};
  }
};

template <class Formula>
TensorPtr unary_op(UnaryOp op, const TensorPtr& x) {
  TensorPtr y = unary_forward(op, x);
  if (needs_record({x.get()})) {
    auto n = make_node<UnaryBackward<Formula>>({x});
    n->saved_is_output_ = Formula::saves_output;
    n->saved_ = SavedTensor(Formula::saves_output ? y : x, Formula::saves_output);
    set_history(y, n);
  }
  return y;
}

struct ExpF { static constexpr const char* name = "ExpBackward"; static constexpr bool saves_output = true;
  static TensorPtr grad(const TensorPtr& g, const TensorPtr& y) { return mul(g, y); } };
struct LogF { static constexpr const char* name = "LogBackward"; static constexpr bool saves_output = false;
  static TensorPtr grad(const TensorPtr& g, const TensorPtr& x) { return div(g, x); } };
struct SqrtF { static constexpr const char* name = "SqrtBackward"; static constexpr bool saves_output = true;
  static TensorPtr grad(const TensorPtr& g, const TensorPtr& y) { return div(g, mul_scalar(y, 2.0)); } };
// NOTE: abs'(0) = 0 (sign(0)), as in PyTorch.
struct AbsF { static constexpr const char* name = "AbsBackward"; static constexpr bool saves_output = false;
  static TensorPtr grad(const TensorPtr& g, const TensorPtr& x) { return mul(g, sign(x)); } };
struct TanhF { static constexpr const char* name = "TanhBackward"; static constexpr bool saves_output = true;
  static TensorPtr grad(const TensorPtr& g, const TensorPtr& y) { return tanh_backward(g, y); } };
struct SigmoidF { static constexpr const char* name = "SigmoidBackward"; static constexpr bool saves_output = true;
  static TensorPtr grad(const TensorPtr& g, const TensorPtr& y) { return sigmoid_backward(g, y); } };
struct ReluF { static constexpr const char* name = "ReluBackward"; static constexpr bool saves_output = true;
  static TensorPtr grad(const TensorPtr& g, const TensorPtr& y) { return relu_backward(g, y); } };

// Fused activation backward: one kernel pass when nothing records; while recording
// (create_graph) the same formula composed from differentiable ops.
TensorPtr act_backward(kernels::ActBackward act, const TensorPtr& g, const TensorPtr& y) {
  GC_CHECK(g->shape == y->shape, ValueError, "activation backward: ", shape_str(g->shape), " vs ",
           shape_str(y->shape));
  if (needs_record({g.get(), y.get()})) {
    switch (act) {
      case kernels::ACT_RELU: return mul(g, unary_forward(UNARY_STEP, detach(y)));
      case kernels::ACT_SIGMOID: return mul(g, mul(y, rsub_scalar(y, 1.0)));
      case kernels::ACT_TANH: return mul(g, rsub_scalar(mul(y, y), 1.0));
    }
  }
  TensorPtr out = empty(g->shape, g->dtype);
  dispatch(g->dtype, [&](auto t) {
    using T = decltype(t);
    kernels::activation_backward<T>(act, g->data<T>(), y->data<T>(), out->data<T>(), g->numel);
    return 0;
  });
  return out;
}

struct NegBackward final : Node {
  const char* name() const override { return "NegBackward"; }
  tensor_list apply(tensor_list&& g) override { return {neg(g[0])}; }
};

}  // namespace

TensorPtr neg(const TensorPtr& x) {
  TensorPtr y = unary_forward(UNARY_NEG, x);
  if (needs_record({x.get()})) set_history(y, make_node<NegBackward>({x}));
  return y;
}
TensorPtr exp(const TensorPtr& x) { return unary_op<ExpF>(UNARY_EXP, x); }
TensorPtr log(const TensorPtr& x) { return unary_op<LogF>(UNARY_LOG, x); }
TensorPtr sqrt(const TensorPtr& x) { return unary_op<SqrtF>(UNARY_SQRT, x); }
TensorPtr abs(const TensorPtr& x) { return unary_op<AbsF>(UNARY_ABS, x); }
TensorPtr tanh(const TensorPtr& x) { return unary_op<TanhF>(UNARY_TANH, x); }
TensorPtr sigmoid(const TensorPtr& x) { return unary_op<SigmoidF>(UNARY_SIGMOID, x); }
TensorPtr relu(const TensorPtr& x) { return unary_op<ReluF>(UNARY_RELU, x); }
TensorPtr sign(const TensorPtr& x) { return unary_forward(UNARY_SIGN, x); }

TensorPtr relu_backward(const TensorPtr& g, const TensorPtr& y) { return act_backward(kernels::ACT_RELU, g, y); }
TensorPtr sigmoid_backward(const TensorPtr& g, const TensorPtr& y) { return act_backward(kernels::ACT_SIGMOID, g, y); }
TensorPtr tanh_backward(const TensorPtr& g, const TensorPtr& y) { return act_backward(kernels::ACT_TANH, g, y); }

}  // namespace gradcore::ops

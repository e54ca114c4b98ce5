// loss.cpp — softmax, log_softmax, fused softmax + cross-entropy, mse_loss.
#include "autograd/ops/common.h"

namespace gradcore::ops {
using autograd::make_node;
using autograd::needs_record;
using autograd::SavedTensor;
using autograd::set_history;

namespace {

void split_dim(const Shape& s, int64_t dim, int64_t& outer, int64_t& n, int64_t& inner) {
  outer = 1; inner = 1; n = s.empty() ? 1 : s[dim];
  for (int64_t d = 0; d < dim; ++d) outer *= s[d];
  for (int64_t d = dim + 1; d < static_cast<int64_t>(s.size()); ++d) inner *= s[d];
}

struct SoftmaxBackward final : Node {
  SavedTensor y_;
  int64_t dim = 0;
  bool log = false;
  const char* name() const override { return log ? "LogSoftmaxBackward0" : "SoftmaxBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    TensorPtr y = y_.unpack(this);
    const TensorPtr& gy = g[0];
    if (needs_record({gy.get(), y.get()})) {  // create_graph: the composed formula
      if (log) return {sub(gy, mul(exp(y), sum(gy, {dim}, true)))};
      return {mul(y, sub(gy, sum(mul(gy, y), {dim}, true)))};
    }
    TensorPtr dx = empty(y->shape, y->dtype);
    int64_t outer, n, inner;
    split_dim(y->shape, dim, outer, n, inner);
    TensorPtr gd = dense(gy), yd = dense(y);
    dispatch(y->dtype, [&](auto z) {
      using T = decltype(z);
      kernels::softmax_backward<T>(gd->data<T>(), yd->data<T>(), dx->data<T>(), outer, n, inner, log);
      return 0;
    });
    return {dx};
  }
  void release_saved() override { y_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override { return {{"result", y_.raw()}}; }
};

TensorPtr softmax_impl(const TensorPtr& x, int64_t dim_in, bool log) {
  const int64_t dim = normalize_dim(dim_in, x->ndim());
  TensorPtr y = empty(x->shape, x->dtype);
  int64_t outer, n, inner;
  split_dim(x->shape, dim, outer, n, inner);
  if (y->numel > 0) {
    TensorPtr xd = dense(x);
    dispatch(x->dtype, [&](auto z) {
      using T = decltype(z);
      kernels::softmax<T>(xd->data<T>(), y->data<T>(), outer, n, inner, log);
      return 0;
    });
  }
  std::shared_ptr<SoftmaxBackward> node;  // Note [Forward rules after set_history] (unary.cpp)
  if (needs_record({x.get()})) {
    node = make_node<SoftmaxBackward>({x});
    node->dim = dim;
    node->log = log;
    set_history(y, node);
  }
  forward_rule(y, {x.get()}, [&] {
    TensorPtr tx = tangent(x);
    if (log) return sub(tx, sum(mul(exp(y), tx), {dim}, true));  // d log_softmax = dx - <softmax, dx>
    return mul(y, sub(tx, sum(mul(tx, y), {dim}, true)));         // d softmax = y (dx - <y, dx>)
  });
  if (node) node->y_ = SavedTensor(y, true);
  return y;
}

// The smoothed one-hot targets: (1 - s) at the label plus s / C everywhere.
TensorPtr ce_targets(const std::vector<int64_t>& labels, int64_t N, int64_t C, double smoothing, DType dtype) {
  TensorPtr target = zeros({N, C}, dtype);
  dispatch(dtype, [&](auto z) {
    using T = decltype(z);
    T* t = target->data<T>();
    for (int64_t i = 0; i < N * C; ++i) t[i] = static_cast<T>(smoothing / C);
    for (int64_t i = 0; i < N; ++i) t[i * C + labels[i]] += static_cast<T>(1.0 - smoothing);
    return 0;
  });
  return target;
}

struct CrossEntropyBackward final : Node {
  SavedTensor logits_, probs_;
  std::vector<int64_t> labels;
  double smoothing = 0;
  Reduction reduction = Reduction::Mean;
  const char* name() const override { return "CrossEntropyBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    TensorPtr probs = probs_.unpack(this);
    const int64_t N = probs->shape[0], C = probs->shape[1];
    const TensorPtr& gy = g[0];
    if (needs_record({gy.get(), logits_.raw().get()})) {
      // create_graph: d loss_i / d logits_i = softmax(logits_i) - target_i, scaled.
      TensorPtr target = ce_targets(labels, N, C, smoothing, probs->dtype);
      TensorPtr d = sub(softmax(logits_.unpack(this), 1), target);
      if (reduction == Reduction::None) return {mul(d, reshape(gy, {N, 1}))};
      TensorPtr scaled = mul(d, gy);
      return {reduction == Reduction::Mean ? mul_scalar(scaled, 1.0 / static_cast<double>(N)) : scaled};
    }
    TensorPtr dx = empty(probs->shape, probs->dtype);
    TensorPtr gd = dense(gy);
    dispatch(probs->dtype, [&](auto z) {
      using T = decltype(z);
      T scale = gd->data<T>()[0];
      if (reduction == Reduction::Mean) scale /= static_cast<T>(N);
      const T* rs = reduction == Reduction::None ? gd->data<T>() : &scale;
      kernels::cross_entropy_backward<T>(probs->data<T>(), labels.data(), N, C, static_cast<T>(smoothing), rs,
                                         reduction == Reduction::None ? 1 : 0, dx->data<T>());
      return 0;
    });
    return {dx};
  }
  void release_saved() override { logits_.reset(); probs_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override { return {{"probs", probs_.raw()}}; }
};

}  // namespace

Reduction parse_reduction(const std::string& s) {
  if (s == "mean") return Reduction::Mean;
  if (s == "sum") return Reduction::Sum;
  if (s == "none") return Reduction::None;
  throw ValueError("reduction must be 'mean', 'sum' or 'none', got '" + s + "'");
}

TensorPtr softmax(const TensorPtr& x, int64_t dim) {
  check_floating(*x, "softmax");
  return float_op(x, [dim](const TensorPtr& x) { return softmax_impl(x, dim, false); });
}
TensorPtr log_softmax(const TensorPtr& x, int64_t dim) {
  check_floating(*x, "log_softmax");
  return float_op(x, [dim](const TensorPtr& x) { return softmax_impl(x, dim, true); });
}

TensorPtr cross_entropy(const TensorPtr& logits_in, const std::vector<int64_t>& labels, Reduction reduction,
                        double label_smoothing) {
  check_floating(*logits_in, "cross_entropy");
  if (!is_f32_or_f64(logits_in->dtype))
    return to_dtype(cross_entropy(to_dtype(logits_in, DType::Float32), labels, reduction, label_smoothing),
                    logits_in->dtype);
  const TensorPtr& logits = logits_in;
  GC_CHECK(logits->ndim() == 2, ValueError, "cross_entropy: logits must be 2-D (N, C), got ",
           shape_str(logits->shape));
  const int64_t N = logits->shape[0], C = logits->shape[1];
  GC_CHECK(static_cast<int64_t>(labels.size()) == N, ValueError, "cross_entropy: logits ", shape_str(logits->shape),
           " and labels (", labels.size(), ",) disagree on the batch size");
  GC_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, ValueError,
           "cross_entropy: label_smoothing must be in [0, 1], got ", label_smoothing);
  GC_CHECK(C > 0 || N == 0, ValueError, "cross_entropy: logits ", shape_str(logits->shape), " have no classes");
  for (int64_t i = 0; i < N; ++i)
    GC_CHECK(labels[i] >= 0 && labels[i] < C, ValueError, "cross_entropy: label ", labels[i], " at index ", i,
             " is out of range [0, ", C, ")");
  TensorPtr row_loss = empty({N}, logits->dtype);
  TensorPtr probs = empty({N, C}, logits->dtype);
  TensorPtr ld = dense(logits);
  dispatch(logits->dtype, [&](auto z) {
    using T = decltype(z);
    kernels::cross_entropy_forward<T>(ld->data<T>(), labels.data(), N, C, static_cast<T>(label_smoothing),
                                      row_loss->data<T>(), probs->data<T>());
    return 0;
  });
  TensorPtr out;
  {
    autograd::GradModeGuard no_grad(false);
    if (reduction == Reduction::None) out = row_loss;
    else if (reduction == Reduction::Sum) out = sum(row_loss, {}, false);
    else out = mean(row_loss, {}, false);
  }
  const bool record = needs_record({logits.get()});
  if (record) {
    auto n = make_node<CrossEntropyBackward>({logits});
    n->logits_ = SavedTensor(logits, false);
    n->probs_ = SavedTensor(probs, false);
    n->labels = labels;
    n->smoothing = label_smoothing;
    n->reduction = reduction;
    set_history(out, n);
  }
  forward_rule(out, {logits.get()}, [&] {  // d loss_i = <softmax_i - target_i, dlogits_i>
    // While recording, the probabilities are recomputed in the graph so that the tangent
    // can be differentiated again (reverse over forward).
    TensorPtr p = record ? softmax(logits, 1) : probs;
    TensorPtr row = sum(mul(sub(p, ce_targets(labels, N, C, label_smoothing, logits->dtype)), tangent(logits)),
                        {1}, false);
    if (reduction == Reduction::None) return row;
    TensorPtr total = sum(row, {}, false);
    return reduction == Reduction::Mean ? mul_scalar(total, 1.0 / static_cast<double>(N)) : total;
  });
  return out;
}

TensorPtr mse_loss(const TensorPtr& input, const TensorPtr& target, Reduction reduction) {
  check_floating(*input, "mse_loss");
  GC_CHECK(input->shape == target->shape, ShapeError, "mse_loss: input ", shape_str(input->shape), " and target ",
           shape_str(target->shape), " must have the same shape");
  TensorPtr d = sub(input, target);
  TensorPtr sq = mul(d, d);
  if (reduction == Reduction::None) return sq;
  if (reduction == Reduction::Sum) return sum(sq, {}, false);
  return mean(sq, {}, false);
}

}  // namespace gradcore::ops

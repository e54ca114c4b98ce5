// ops.h — THE op index: one declaration per differentiable op (our derivatives.yaml).
//
// Each op is defined, with its Backward node, in one file under csrc/autograd/ops/. Ops
// check their arguments (ValueError naming both shapes, TypeError for dtypes), allocate
// the output, make one kernel call and, when grad mode is on and an input needs grad,
// record a Node. Backward formulas call these same functions, so create_graph=True works.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "kernels/kernel_api.h"

namespace gradcore::ops {

// ---- binary.cpp: broadcasting arithmetic ----
TensorPtr add(const TensorPtr& a, const TensorPtr& b);
TensorPtr sub(const TensorPtr& a, const TensorPtr& b);
TensorPtr mul(const TensorPtr& a, const TensorPtr& b);
TensorPtr div(const TensorPtr& a, const TensorPtr& b);
TensorPtr add_scalar(const TensorPtr& a, double s);         // a + s
TensorPtr mul_scalar(const TensorPtr& a, double s);         // a * s
TensorPtr rsub_scalar(const TensorPtr& a, double s);        // s - a
TensorPtr rdiv_scalar(const TensorPtr& a, double s);        // s / a
TensorPtr div_scalar(const TensorPtr& a, double s);         // a / s (a true division)
TensorPtr pow_scalar(const TensorPtr& a, double p);         // a ** p
TensorPtr eq(const TensorPtr& a, const TensorPtr& b);       // 1.0 where equal (no gradient)
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// ---- unary.cpp ----
TensorPtr neg(const TensorPtr& x);
TensorPtr exp(const TensorPtr& x);
TensorPtr log(const TensorPtr& x);
TensorPtr sqrt(const TensorPtr& x);
TensorPtr abs(const TensorPtr& x);
TensorPtr tanh(const TensorPtr& x);
TensorPtr sigmoid(const TensorPtr& x);
TensorPtr relu(const TensorPtr& x);
TensorPtr sign(const TensorPtr& x);                           // no gradient
TensorPtr erf(const TensorPtr& x);
TensorPtr softplus(const TensorPtr& x);                       // log(1 + exp(x)), stable
TensorPtr gelu(const TensorPtr& x, bool tanh_approximation);
TensorPtr leaky_relu(const TensorPtr& x, double negative_slope);
// Zeroes each element with probability p (counter-based RNG), scales the rest by 1/(1-p).
TensorPtr dropout(const TensorPtr& x, double p);
// Fused backward ops (ops of their own, differentiable through a composed formula).
TensorPtr relu_backward(const TensorPtr& grad, const TensorPtr& result);
TensorPtr sigmoid_backward(const TensorPtr& grad, const TensorPtr& result);
TensorPtr tanh_backward(const TensorPtr& grad, const TensorPtr& result);
TensorPtr gelu_backward(const TensorPtr& grad, const TensorPtr& input, bool tanh_approximation);

// ---- reduce.cpp ----
// dims empty = all dims. Negative dims count from the end; out of range -> IndexError.
TensorPtr sum(const TensorPtr& x, const std::vector<int64_t>& dims, bool keepdim);
TensorPtr mean(const TensorPtr& x, const std::vector<int64_t>& dims, bool keepdim);
// Max values (NumPy's amax). The gradient is split evenly between tied maxima.
TensorPtr max(const TensorPtr& x, const std::vector<int64_t>& dims, bool keepdim);
// Sum `x` down to `shape` (the inverse of broadcasting).
TensorPtr sum_to(const TensorPtr& x, const Shape& shape);

// ---- shape.cpp ----
TensorPtr reshape(const TensorPtr& x, const Shape& shape);   // a view; one dim may be -1
TensorPtr permute(const TensorPtr& x, const std::vector<int64_t>& dims);
TensorPtr transpose(const TensorPtr& x, int64_t dim0, int64_t dim1);
TensorPtr expand(const TensorPtr& x, const Shape& shape);    // broadcast_to (copies)
TensorPtr detach(const TensorPtr& x);
TensorPtr contiguous_copy(const TensorPtr& x);               // clone
TensorPtr slice0(const TensorPtr& x, int64_t start, int64_t stop);  // x[start:stop], a view
// slice0's backward: g placed at rows [start, ...) of zeros(in_shape) (differentiable).
TensorPtr slice0_backward(const TensorPtr& g, const Shape& in_shape, int64_t start);
TensorPtr to_dtype(const TensorPtr& x, DType dtype);
int64_t normalize_dim(int64_t dim, int64_t ndim);

// ---- linalg.cpp ----
// op(a) @ op(b) for 2-D a, b with transpose flags (never materialises a transpose).
TensorPtr mm(const TensorPtr& a, const TensorPtr& b, bool trans_a, bool trans_b);
// NumPy-style matmul for 1-D and 2-D operands, and N-D @ 2-D (leading dims flattened).
TensorPtr matmul(const TensorPtr& a, const TensorPtr& b);
// act(x @ w^T + b), with w of shape (out, in) as in PyTorch; b may be null; act is -1
// (none) or UNARY_RELU / UNARY_SIGMOID / UNARY_TANH / UNARY_GELU / UNARY_GELU_TANH, fused
// into the GEMM epilogue (and its derivative into one backward pass with db).
TensorPtr linear(const TensorPtr& x, const TensorPtr& w, const TensorPtr& b, int act = -1);

// ---- loss.cpp ----
enum class Reduction { None, Mean, Sum };
Reduction parse_reduction(const std::string& s);
TensorPtr softmax(const TensorPtr& x, int64_t dim);
TensorPtr log_softmax(const TensorPtr& x, int64_t dim);
// Fused log-softmax + NLL over logits (N, C) and integer labels (N).
TensorPtr cross_entropy(const TensorPtr& logits, const std::vector<int64_t>& labels, Reduction reduction,
                        double label_smoothing);
TensorPtr mse_loss(const TensorPtr& input, const TensorPtr& target, Reduction reduction);

// ---- factories (shape.cpp) ----
TensorPtr zeros(const Shape& shape, DType dtype);
TensorPtr full(const Shape& shape, double value, DType dtype);
TensorPtr scalar_like(const Tensor& like, double value);      // 0-dim tensor with like's dtype
TensorPtr rand(const Shape& shape, DType dtype, double low, double high);
TensorPtr randn(const Shape& shape, DType dtype, double mean, double std);
TensorPtr arange(double start, double stop, double step, DType dtype);

// ---- in-place (no autograd; refused on tensors that need grad while grad mode is on) ----
void copy_(const TensorPtr& dst, const TensorPtr& src);       // shapes must match
void fill_(const TensorPtr& dst, double value);
void uniform_(const TensorPtr& dst, double low, double high);
void normal_(const TensorPtr& dst, double mean, double std);
void add_inplace(const TensorPtr& dst, const TensorPtr& src, double alpha);  // dst += alpha * src
void scalar_inplace(const TensorPtr& dst, BinaryOp op, double s);           // dst = dst (op) s

// ---- optim.cpp: fused optimizer updates and gradient clipping (no autograd) ----
// One call updates every parameter that has a .grad. `states` holds up to three lists of
// state tensors (same length as params; null entries unused), `steps` is a float64 tensor
// with one step counter per parameter, incremented here for the parameters updated.
// Everything is checked before anything is written (a throw changes nothing); check_only
// stops after the checks. See Note [Transactional optimizer step] in ops/optim.cpp.
void optim_step(const std::string& kind, const OptimHyper& h, const tensor_list& params,
                const std::vector<tensor_list>& states, const TensorPtr& steps, bool check_only = false);
// The norm of all .grad tensors together (one pass); 0-dim float64 tensor.
TensorPtr grad_norm(const tensor_list& params, double norm_type);
// The norm_type-norm of each tensor's own values (null entries give NaN), one kernel pass
// each, accumulated in float64; a float64 tensor of shape (len(tensors),).
TensorPtr tensor_norms(const tensor_list& tensors, double norm_type);
void scale_grads(const tensor_list& params, double factor);
void clamp_grads(const tensor_list& params, double clip_value);

}  // namespace gradcore::ops

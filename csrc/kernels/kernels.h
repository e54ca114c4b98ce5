// kernels.h — THE kernel dispatch table, and the entry points of the pure kernels.
//
// Kernels are numerics on raw pointers and sizes. They know nothing of Tensor, Node or
// Python, and they never allocate tensors (GEMM packs into per-thread workspace from the
// caching allocator). ISA-specific code lives in separate translation units
// (generic/, avx2/, avx512/) that fill a KernelTable:
//
//   init_generic(t);                 // every entry, portable C++ (fallback + test oracle)
//   if (has_avx2)   init_avx2(t);    // overwrites what it accelerates
//   if (has_avx512) init_avx512(t);
//
// kernels::active() (kernels/dispatch.h) returns the table chosen once at import.
// This header must stay free of inline bodies that an ISA unit could emit (the ODR trap,
// PACKAGING.md): only PODs, enums and declarations.
#pragma once
#if defined(GC_LAYER_CPU) || defined(GC_LAYER_CORE)
#error "the kernel layer is above cpu and beside core (layers: csrc/README.md)"
#endif
#include <cstdint>

namespace gradcore {

// The unary kernels, X(NAME, OpStruct): OpStruct<T>::f(x) is the scalar body, defined once
// in kernels_impl.inc and compiled by every ISA unit into table.unary[UNARY_NAME]. Adding
// a kernel is its struct plus one entry here. Non-obvious ones:
//   SIGN  -1, 0, +1, and 0 at NaN (PyTorch's sign); not differentiable, used by abs' backward
//   STEP  1 where x > 0 else 0 (0 at NaN); leaky_relu's and dropout's mask
//   GELU  x * Phi(x), exact (erf); GELU_TANH its tanh approximation
//   SOFTPLUS  log(1 + exp(x)), stable for any x; x itself above 20 (PyTorch's threshold)
#define GC_UNARY_KERNELS(X)                                                                                   \
  X(NEG, OpNeg) X(EXP, OpExp) X(LOG, OpLog) X(SQRT, OpSqrt) X(ABS, OpAbs) X(TANH, OpTanh)                     \
  X(SIGMOID, OpSigmoid) X(RELU, OpRelu) X(SIGN, OpSign) X(STEP, OpStep) X(ERF, OpErf) X(GELU, OpGelu)         \
  X(GELU_TANH, OpGeluTanh) X(SOFTPLUS, OpSoftplus) X(LOG1P, OpLog1p) X(EXPM1, OpExpm1) X(SIN, OpSin)          \
  X(COS, OpCos) X(ERFC, OpErfc) X(SILU, OpSilu) X(MISH, OpMish) X(HARDSWISH, OpHardswish)                     \
  X(HARDSIGMOID, OpHardsigmoid) X(SOFTSIGN, OpSoftsign) X(LOGSIGMOID, OpLogsigmoid) X(SELU, OpSelu)           \
  X(RELU6, OpRelu6)
enum UnaryOp : int {
#define GC_ENUM_ENTRY(NAME, OP) UNARY_##NAME,
  GC_UNARY_KERNELS(GC_ENUM_ENTRY)
#undef GC_ENUM_ENTRY
  UNARY_COUNT
};
// The fused activation backward kernels, X(NAME, BwdStruct): BwdStruct<T>::f(g, s) is
// g * act'(.) computed from the saved s, the forward's output y or its input x as the
// activation's descriptor says (autograd/ops/activation.h). One entry per activation that
// has a fused backward; its struct lives in kernels_impl.inc.
#define GC_ACT_BACKWARD_KERNELS(X)                                                                            \
  X(RELU, BwdRelu) X(SIGMOID, BwdSigmoid) X(TANH, BwdTanh) X(GELU, BwdGelu) X(GELU_TANH, BwdGeluTanh)         \
  X(SILU, BwdSilu) X(MISH, BwdMish) X(SOFTPLUS, BwdSoftplus) X(HARDSWISH, BwdHardswish)                        \
  X(HARDSIGMOID, BwdHardsigmoid) X(SOFTSIGN, BwdSoftsign) X(LOGSIGMOID, BwdLogsigmoid) X(SELU, BwdSelu)        \
  X(RELU6, BwdRelu6)
enum ActBackward : int {
#define GC_ENUM_ENTRY(NAME, OP) ACT_##NAME,
  GC_ACT_BACKWARD_KERNELS(GC_ENUM_ENTRY)
#undef GC_ENUM_ENTRY
  ACT_COUNT
};
enum BinaryOp : int {
  BINARY_ADD = 0, BINARY_SUB, BINARY_MUL, BINARY_DIV,
  BINARY_EQ,   // 1 where a == b else 0 (max's backward mask)
  BINARY_COUNT
};
// Operand layouts of a contiguous binary loop: both vectors, vector-scalar, scalar-vector.
enum BinaryMode : int { BMODE_VV = 0, BMODE_VS, BMODE_SV, BMODE_COUNT };

// Optimizer hyper-parameters (a POD shared by every ISA unit).
struct OptimHyper {
  double lr = 0, momentum = 0, dampening = 0, weight_decay = 0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, alpha = 0.99, lr_decay = 0;
  bool nesterov = false, amsgrad = false, decoupled = false, centered = false, maximize = false;
  // issue 12: Adadelta's rho, ASGD's lambd and t0 (its alpha is `alpha`), NAdam's
  // momentum_decay; round_scalars: per-parameter scalar state (NAdam's mu_product, ASGD's
  // eta and mu) is rounded to float32 after each update, as PyTorch keeps it in float32
  // tensors unless the default dtype is float64.
  double rho = 0.9, lambd = 1e-4, t0 = 1e6, momentum_decay = 4e-3;
  bool round_scalars = true;
};

// The GEMM micro-kernels of one ISA and dtype: configuration as data, one literal per ISA
// unit. Cache block sizes (MC, KC, NC) are not here: kernels/gemm_plan.h derives them
// from the caches the CPU reports.
template <class T>
struct GemmConfig {
  // Main micro-kernel (BLIS contract, row-major C):
  //   C[0:mr, 0:nr] (row stride ldc) = alpha * sum_p a[p*mr + i] * b[p*nr + j] + beta * C
  // `a` is an MR-row micro-panel (k columns of mr values), `b` an NR-column micro-panel
  // (k rows of nr values); both are packed by gemm.cpp with zero-padded edges. When beta
  // is 0, C is not read (NaN in C does not leak).
  void (*ukr)(int64_t k, const T* a, const T* b, T* c, int64_t ldc, T alpha, T beta);
  int mr, nr;   // register tile
  // Optional narrow tile for skinny products (N <= nr_narrow, e.g. a 10-class layer):
  // more rows, fewer columns, so little of the tile is padding. Null when absent.
  void (*ukr_narrow)(int64_t k, const T* a, const T* b, T* c, int64_t ldc, T alpha, T beta);
  int mr_narrow, nr_narrow;
  // The same narrow tile reading A straight from row-major memory (row stride lda), for
  // skinny products where packing A would cost as much as the arithmetic. Null when absent.
  void (*ukr_narrow_rows)(int64_t k, const T* a, int64_t lda, const T* b, T* c, int64_t ldc, T alpha, T beta);
  // The main mr x nr tile reading A (op(A) = A or A^T) and B in place (row-major, strides
  // lda / ldb), for an m x n corner (m <= mr, n <= nr; masked loads and stores at the
  // edges): products where packing costs more than it saves. Null when absent.
  void (*ukr_direct)(bool ta, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb,
                     T* c, int64_t ldc, T alpha, T beta);
  // dst[c * ldd + r] = src[r * lds + c] for r < rows, c < cols (B^T before the direct
  // tile). Null when the ISA has no vectorised one.
  void (*transpose)(const T* src, int64_t lds, int64_t rows, int64_t cols, T* dst, int64_t ldd);
  // Very narrow products (n <= rowdot_max_n: a 10-class layer, a GEMV): C[i, j] =
  // alpha * dot(A row i, Bt row j) + beta * C[i, j] for i < m, j < n, with K along the
  // vector lanes (a narrow tile would leave 16 - n of its 16 lanes idle). A and Bt are
  // row-major (strides lda, ldbt). Null when absent.
  void (*ukr_rowdot)(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* bt, int64_t ldbt, T* c,
                     int64_t ldc, T alpha, T beta);
  int rowdot_max_n;
};

template <class T>
struct TypedKernels {
  GemmConfig<T> gemm;

  void (*unary[UNARY_COUNT])(const T* x, T* y, int64_t n);
  void (*binary[BINARY_COUNT][BMODE_COUNT])(const T* a, const T* b, T* y, int64_t n);
  void (*pow_scalar)(const T* x, T p, T* y, int64_t n);
  void (*axpby)(T alpha, const T* x, T beta, T* y, int64_t n);   // y = alpha*x + beta*y
  // Direct convolution of one output row by a kh x kw window over a zero-padded plane
  // (row stride ldx; dilations dh, dw; stride sw along the row), its adjoint and its
  // weight gradient (kernels_impl.inc, conv_rows_loop).
  void (*conv_rows)(const T* x, int64_t ldx, int64_t dh, int64_t dw, int64_t sw, const T* w, int64_t kh, int64_t kw,
                    T* y, int64_t n);
  void (*conv_rows_adjoint)(const T* g, int64_t ldx, int64_t dh, int64_t dw, int64_t sw, const T* w, int64_t kh,
                            int64_t kw, T* x, int64_t n);
  void (*conv_rows_dot)(const T* g, int64_t ldx, int64_t dh, int64_t dw, int64_t sw, const T* x, int64_t kh,
                        int64_t kw, T* acc, int64_t n);
  // Fused activation backward: out = g * act'(.) from the saved s (ActBackward).
  void (*act_backward[ACT_COUNT])(const T* g, const T* s, T* out, int64_t n);
  void (*leaky_relu)(const T* x, T slope, T* y, int64_t n);
  void (*leaky_relu_backward)(const T* g, const T* x, T slope, T* out, int64_t n);
  // Optimizer updates of n contiguous elements (PyTorch's formulas; see optim.cpp).
  void (*sgd_update)(const OptimHyper* h, T* p, const T* g, T* buf, int64_t n, int first_step);
  void (*adam_update)(const OptimHyper* h, T* p, const T* g, T* m, T* v, T* vmax, int64_t n, int64_t step);
  void (*rmsprop_update)(const OptimHyper* h, T* p, const T* g, T* sq, T* buf, T* gavg, int64_t n);
  void (*adagrad_update)(const OptimHyper* h, T* p, const T* g, T* sum, int64_t n, int64_t step);
  // c: the tensor's coefficients (bias corrections, step sizes; optim.cpp computes them).
  void (*adamax_update)(const OptimHyper* h, T* p, const T* g, T* m, T* u, int64_t n, const double* c);
  void (*nadam_update)(const OptimHyper* h, T* p, const T* g, T* m, T* v, int64_t n, const double* c);
  void (*radam_update)(const OptimHyper* h, T* p, const T* g, T* m, T* v, int64_t n, const double* c);
  void (*adadelta_update)(const OptimHyper* h, T* p, const T* g, T* sq, T* acc, int64_t n);
  void (*asgd_update)(const OptimHyper* h, T* p, const T* g, T* ax, int64_t n, const double* c);
  // y[0:n] = x[0:n] with non-temporal stores where the ISA has them (large outputs that
  // will not be read back soon: saves the read-for-ownership of every cache line).
  void (*stream_copy)(const T* x, T* y, int64_t n);
  T (*sum)(const T* x, int64_t n);                 // fixed-order pairwise sum (Note [Pairwise summation])
  T (*max)(const T* x, int64_t n);                 // NaN if any element is NaN
  T (*dot)(const T* x, const T* y, int64_t n);     // pairwise, like sum
  // acc[j] += sum_{r < rows} x[r * ld + j] for j < cols: groups of 8 rows added as a balanced
  // tree in T, the group sums accumulated in double (Note [Blocked column sums], column_sum.h).
  void (*sum_cols)(const T* x, int64_t ld, int64_t rows, int64_t cols, double* acc);
  // Rows of length n: y = softmax(x) / log_softmax(x), numerically stable (max subtracted).
  void (*softmax_row)(const T* x, T* y, int64_t n);
  void (*log_softmax_row)(const T* x, T* y, int64_t n);
};

struct KernelTable {
  const char* isa;  // "generic", "avx2", "avx512"
  // The FMA peak probe: independent multiply-add chains in the unit's widest registers for
  // `reps` steps; returns the flops done (gradcore-bench peak).
  double (*fma_peak)(int64_t reps, float* sink);
  TypedKernels<float> f32;
  TypedKernels<double> f64;
};

void init_generic(KernelTable& t);
void init_avx2(KernelTable& t);
void init_avx512(KernelTable& t);

}  // namespace gradcore

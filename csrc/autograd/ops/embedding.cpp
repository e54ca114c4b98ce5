// embedding.cpp — embedding, its dense backward, embedding_renorm_ and embedding_bag
// (issue 16), with their Backward nodes. The numerics are in kernels/embedding.cpp.
//
// Note [Embedding maps]: for fixed indices the weight gradient of embedding is a linear map
// S of the incoming gradient g (the scatter: rows summed back, the padding row left out, a
// row's sum divided by its count with scale_grad_by_freq), and the adjoint of S is the
// masked, scaled gather G (gg[idx[p]] * c_p). Both are recorded ops here: the backward of S
// is G and the backward of G is S, and the tangent of either is the same map applied to the
// tangent, so create_graph and forward-mode AD work to any order. (PyTorch's double backward
// leaves out the 1 / count of scale_grad_by_freq; ours is the exact adjoint.)
#include "autograd/ops/embedding.h"

#include <algorithm>
#include <memory>
#include <mutex>
#include <sstream>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/ops/common.h"
#include "kernels/embedding.h"

namespace gradcore::ops {
using autograd::make_node;
using autograd::needs_record;
using autograd::SavedTensor;
using autograd::set_history;
using autograd::wants;

namespace {

std::string type_name(DType d) { return std::string("torch.") + dtype_torch_name(d) + "Tensor"; }

void check_index_dtype(const Tensor& t, const char* op) {
  GC_CHECK(t.dtype == DType::Int64 || t.dtype == DType::Int32, RuntimeError,
           "Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, Int; but got ",
           type_name(t.dtype), " instead (while checking arguments for ", op, ")");
}

bool reduced_float(DType d) { return d == DType::Float16 || d == DType::BFloat16; }

// The indices of one op as a flat int64 vector (a copy: later writes to the caller's
// tensor do not change a recorded gradient).
TensorPtr flat_indices(const TensorPtr& indices) {
  TensorPtr flat = reshape(detach(indices), {indices->numel});
  return indices->dtype == DType::Int64 ? clone(flat) : to_dtype(flat, DType::Int64);
}

// The fixed part of the maps S and G (Note [Embedding maps]).
struct EmbeddingMap {
  TensorPtr idx;  // int64 [n]
  Shape idx_shape;
  kernels::EmbeddingGrad grad;
  // Positions grouped by row, built once on first use (kernels::embedding_row_index); the
  // nodes of a double backward share the map, and may run on several threads.
  TensorPtr start, order;
  std::once_flag built;
  void build_index() {
    std::call_once(built, [this] {
      const int64_t n = idx->numel;
      start = empty({grad.rows + 1}, DType::Int64);
      order = empty({n}, DType::Int64);
      kernels::embedding_row_index<int64_t>(idx->data<int64_t>(), n, grad.rows, start->data<int64_t>(),
                                            order->data<int64_t>());
    });
  }
};
using MapPtr = std::shared_ptr<EmbeddingMap>;

TensorPtr apply_scatter(const TensorPtr& g, const MapPtr& m);
TensorPtr apply_gather(const TensorPtr& gg, const MapPtr& m);

struct EmbeddingDenseBackwardBackward final : Node {  // the backward of S: G
  MapPtr map;
  const char* name() const override { return "EmbeddingDenseBackwardBackward0"; }
  tensor_list apply(tensor_list&& g) override { return {apply_gather(g[0], map)}; }
};

struct EmbeddingGatherBackward final : Node {  // the backward of G: S
  MapPtr map;
  const char* name() const override { return "EmbeddingDenseDoubleBackwardBackward0"; }
  tensor_list apply(tensor_list&& g) override { return {apply_scatter(g[0], map)}; }
};

// S: g [*idx_shape, dim] -> [rows, dim].
TensorPtr apply_scatter(const TensorPtr& g, const MapPtr& m) {
  const int64_t D = m->grad.dim;
  Shape want = m->idx_shape;
  want.push_back(D);
  GC_CHECK(g->shape == want, ShapeError, "embedding_dense_backward: expected a gradient of shape ", shape_str(want),
           ", got ", shape_str(g->shape));
  GC_CHECK(is_floating(g->dtype), TypeError, "embedding_dense_backward: expected a floating point gradient, got ",
           dtype_name(g->dtype));
  if (reduced_float(g->dtype)) return to_dtype(apply_scatter(to_dtype(g, DType::Float32), m), g->dtype);
  m->build_index();
  TensorPtr gd = dense(g);
  TensorPtr gw = empty({m->grad.rows, D}, g->dtype);
  dispatch(g->dtype, [&](auto z) {
    using T = decltype(z);
    kernels::embedding_scatter<T>(gd->data<T>(), nullptr, nullptr, m->start->data<int64_t>(),
                                  m->order->data<int64_t>(), gw->data<T>(), m->grad);
    return 0;
  });
  if (needs_record({g.get()})) {
    auto node = make_node<EmbeddingDenseBackwardBackward>({g});
    node->map = m;
    set_history(gw, node);
  }
  forward_rule(gw, {g.get()}, [&] { return apply_scatter(tangent(g), m); });
  return gw;
}

// G: gg [rows, dim] -> [*idx_shape, dim].
TensorPtr apply_gather(const TensorPtr& gg, const MapPtr& m) {
  const int64_t n = m->idx->numel, D = m->grad.dim;
  const Shape want{m->grad.rows, D};
  GC_CHECK(gg->shape == want, ShapeError, "embedding_dense_backward's backward: expected a gradient of shape ",
           shape_str(want), ", got ", shape_str(gg->shape));
  if (reduced_float(gg->dtype)) return to_dtype(apply_gather(to_dtype(gg, DType::Float32), m), gg->dtype);
  if (m->grad.scale_by_freq) m->build_index();
  const TensorPtr start = m->grad.scale_by_freq ? m->start : nullptr;
  TensorPtr gd = dense(gg);
  Shape os = m->idx_shape;
  os.push_back(D);
  TensorPtr out = empty(os, gg->dtype);
  dispatch(gg->dtype, [&](auto z) {
    using T = decltype(z);
    kernels::embedding_gather_scaled<T>(gd->data<T>(), m->idx->data<int64_t>(), n, nullptr,
                                        start ? start->data<int64_t>() : nullptr, out->data<T>(), m->grad);
    return 0;
  });
  if (needs_record({gg.get()})) {
    auto node = make_node<EmbeddingGatherBackward>({gg});
    node->map = m;
    set_history(out, node);
  }
  forward_rule(out, {gg.get()}, [&] { return apply_gather(tangent(gg), m); });
  return out;
}

MapPtr make_map(const TensorPtr& indices, int64_t rows, int64_t dim, int64_t padding_idx, bool scale) {
  auto m = std::make_shared<EmbeddingMap>();
  m->idx = flat_indices(indices);
  m->idx_shape = indices->shape;
  m->grad.rows = rows;
  m->grad.dim = dim;
  m->grad.padding_idx = padding_idx >= 0 ? padding_idx : -1;
  m->grad.scale_by_freq = scale;
  return m;
}

struct EmbeddingBackward final : Node {
  SavedTensor indices_;  // for the version check (PyTorch saves the indices too)
  MapPtr map;
  const char* name() const override { return "EmbeddingBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    (void)indices_.unpack(this);
    return {apply_scatter(g[0], map)};
  }
  void release_saved() override { indices_.reset(); }
  std::vector<std::pair<std::string, TensorPtr>> saved_tensors() const override {
    return {{"indices", indices_.raw()}};
  }
};

// Indices checked against [0, rows): PyTorch's IndexError.
template <class I>
void check_range(const I* p, int64_t n, int64_t rows) {
  GC_CHECK(kernels::embedding_first_bad_index<I>(p, n, rows) < 0, IndexError, "index out of range in self");
}

}  // namespace

TensorPtr embedding(const TensorPtr& weight, const TensorPtr& indices, int64_t padding_idx, bool scale_grad_by_freq,
                    bool sparse) {
  GC_CHECK(weight->ndim() == 2, RuntimeError, "'weight' must be 2-D");
  check_index_dtype(*indices, "embedding");
  const int64_t rows = weight->shape[0], D = weight->shape[1], n = indices->numel;
  GC_CHECK(rows > 0 || n == 0, RuntimeError, "index_select(): self indexing axis dim should be positive");
  TensorPtr id = dense(indices);
  if (id->dtype == DType::Int64) check_range(id->data<int64_t>(), n, rows);
  else check_range(id->data<int32_t>(), n, rows);
  const bool record = needs_record({weight.get()});
  GC_CHECK(!(sparse && record), NotImplementedError,
           "embedding: sparse=True is not supported (gradcore has no sparse tensors); use sparse=False, whose dense "
           "gradient holds the same values");
  // Rows must be contiguous for the row copy; a weight with another layout is copied first.
  TensorPtr w = (weight->strides[1] == 1 || D <= 1) ? weight : dense(weight);
  const int64_t es = static_cast<int64_t>(dtype_size(w->dtype));
  const int64_t row_stride = w->strides[0];
  Shape os = indices->shape;
  os.push_back(D);
  TensorPtr y = empty(os, weight->dtype);
  const char* table = static_cast<const char*>(w->data_ptr());
  if (id->dtype == DType::Int64)
    kernels::embedding_gather_rows<int64_t>(table, row_stride * es, id->data<int64_t>(), n, D * es,
                                            static_cast<char*>(y->data_ptr()));
  else
    kernels::embedding_gather_rows<int32_t>(table, row_stride * es, id->data<int32_t>(), n, D * es,
                                            static_cast<char*>(y->data_ptr()));
  if (record) {
    auto node = make_node<EmbeddingBackward>({weight});
    node->indices_ = SavedTensor(indices, false);
    node->map = make_map(indices, rows, D, padding_idx, scale_grad_by_freq);
    set_history(y, node);
  }
  forward_rule(y, {weight.get()}, [&] { return embedding(tangent(weight), indices, padding_idx, scale_grad_by_freq, false); });
  return y;
}

TensorPtr embedding_dense_backward(const TensorPtr& grad, const TensorPtr& indices, int64_t num_weights,
                                   int64_t padding_idx, bool scale_grad_by_freq) {
  check_index_dtype(*indices, "embedding_backward");
  GC_CHECK(grad->ndim() == indices->ndim() + 1, RuntimeError,
           "embedding_dense_backward: grad must have one dim more than indices");
  TensorPtr id = dense(indices);
  if (id->dtype == DType::Int64) check_range(id->data<int64_t>(), id->numel, num_weights);
  else check_range(id->data<int32_t>(), id->numel, num_weights);
  return apply_scatter(grad, make_map(indices, num_weights, grad->shape.back(), padding_idx, scale_grad_by_freq));
}

TensorPtr embedding_renorm_(const TensorPtr& weight, const TensorPtr& indices, double max_norm, double norm_type) {
  GC_CHECK(weight->ndim() == 2, RuntimeError, "'self' must be 2-D");
  check_index_dtype(*indices, "embedding_renorm_");
  GC_CHECK(is_floating(weight->dtype), NotImplementedError, "\"embedding_renorm_cpu_\" not implemented for '",
           dtype_torch_name(weight->dtype), "'");
  const int64_t rows = weight->shape[0], D = weight->shape[1];
  TensorPtr id = flat_indices(indices);
  std::vector<int64_t> sel(id->data<int64_t>(), id->data<int64_t>() + id->numel);
  for (int64_t v : sel) GC_CHECK(v >= 0 && v < rows, IndexError, "index out of range in self");
  std::sort(sel.begin(), sel.end());
  sel.erase(std::unique(sel.begin(), sel.end()), sel.end());
  if (sel.empty()) return weight;
  if (reduced_float(weight->dtype)) {  // renormalise a float32 copy of the table, written back
    TensorPtr w32 = to_dtype(detach(weight), DType::Float32);
    embedding_renorm_(w32, indices, max_norm, norm_type);
    autograd::GradModeGuard ng(false);
    copy_(detach(weight), w32);
    return weight;
  }
  weight->storage->version++;
  dispatch(weight->dtype, [&](auto z) {
    using T = decltype(z);
    kernels::embedding_renorm<T>(weight->data<T>(), weight->strides[0], weight->strides[1], sel.data(),
                                 static_cast<int64_t>(sel.size()), D, max_norm, norm_type);
    return 0;
  });
  return weight;
}

// ---- embedding_bag ----

namespace {

struct BagPlan {
  kernels::BagShape s;
  TensorPtr idx;        // int64 [n]
  TensorPtr bag_start;  // int64 [bags + 1]
  TensorPtr bag_of;     // int64 [used]: the bag of each position before bag_start[bags]
  int64_t used = 0;     // positions inside some bag (bag_start[bags])
};
using PlanPtr = std::shared_ptr<BagPlan>;

// create_graph through a bag: the gradients get histories that raise when differentiated,
// with PyTorch's types and messages (it has no derivative of either).
struct EmbeddingBagBackwardBackward final : Node {
  const char* name() const override { return "EmbeddingBagBackwardBackward0"; }
  tensor_list apply(tensor_list&&) override {
    throw NotImplementedError("the derivative for '_embedding_bag_backward' is not implemented.");
  }
};
struct EmbeddingBagPswNotImplemented final : Node {
  const char* name() const override { return "NotImplemented"; }
  tensor_list apply(tensor_list&&) override {
    throw RuntimeError("derivative for aten::_embedding_bag_per_sample_weights_backward is not implemented");
  }
};

struct EmbeddingBagBackward final : Node {
  PlanPtr plan;
  SavedTensor weight_, psw_, argmax_;
  bool scale = false;
  const char* name() const override { return "EmbeddingBagBackward0"; }
  tensor_list apply(tensor_list&& g) override {
    const TensorPtr g0 = g[0];
    TensorPtr gy = dense(g0);
    const kernels::BagShape& s = plan->s;
    const DType dt = gy->dtype;
    tensor_list out(2);
    if (wants(*this, 0)) {
      TensorPtr gw = empty({s.rows, s.dim}, dt);
      if (s.mode == kernels::BAG_MAX) {
        TensorPtr am = argmax_.unpack(this);
        dispatch(dt, [&](auto z) {
          using T = decltype(z);
          kernels::embedding_bag_max_backward<T>(gy->data<T>(), am->data<int64_t>(), gw->data<T>(), s);
          return 0;
        });
      } else {
        const int64_t used = plan->used;
        TensorPtr start = empty({s.rows + 1}, DType::Int64), order = empty({used}, DType::Int64);
        kernels::embedding_row_index<int64_t>(plan->idx->data<int64_t>(), used, s.rows, start->data<int64_t>(),
                                              order->data<int64_t>());
        TensorPtr coef;
        if (psw_.defined()) {
          coef = dense(psw_.unpack(this));
        } else if (s.mode == kernels::BAG_MEAN) {  // 1 / (rows in the position's bag)
          coef = empty({std::max<int64_t>(used, 1)}, dt);
          const int64_t* bs = plan->bag_start->data<int64_t>();
          const int64_t* ix = plan->idx->data<int64_t>();
          dispatch(dt, [&](auto z) {
            using T = decltype(z);
            T* c = coef->data<T>();
            for (int64_t b = 0; b < s.bags; ++b) {
              int64_t cnt = 0;
              for (int64_t p = bs[b]; p < bs[b + 1]; ++p) cnt += ix[p] != s.padding_idx;
              for (int64_t p = bs[b]; p < bs[b + 1]; ++p) c[p] = cnt > 0 ? T(1) / static_cast<T>(cnt) : T(0);
            }
            return 0;
          });
        }
        kernels::EmbeddingGrad eg;
        eg.rows = s.rows;
        eg.dim = s.dim;
        eg.padding_idx = s.padding_idx;
        eg.scale_by_freq = scale;
        dispatch(dt, [&](auto z) {
          using T = decltype(z);
          kernels::embedding_scatter<T>(gy->data<T>(), plan->bag_of->data<int64_t>(), coef ? coef->data<T>() : nullptr,
                                        start->data<int64_t>(), order->data<int64_t>(), gw->data<T>(), eg);
          return 0;
        });
      }
      if (needs_record({g0.get()})) set_history(gw, make_node<EmbeddingBagBackwardBackward>({g0}));
      out[0] = gw;
    }
    if (wants(*this, 1)) {
      TensorPtr w = dense(weight_.unpack(this));
      TensorPtr gp = zeros({s.n}, dt);
      kernels::BagShape su = s;
      su.n = plan->used;
      dispatch(dt, [&](auto z) {
        using T = decltype(z);
        kernels::embedding_bag_psw_backward<T>(gy->data<T>(), w->data<T>(), s.dim, plan->idx->data<int64_t>(),
                                               plan->bag_of->data<int64_t>(), gp->data<T>(), su);
        return 0;
      });
      if (needs_record({g0.get()})) set_history(gp, make_node<EmbeddingBagPswNotImplemented>({g0}));
      out[1] = gp;
    }
    return out;
  }
  void release_saved() override {
    weight_.reset();
    psw_.reset();
    argmax_.reset();
  }
};

}  // namespace

TensorPtr embedding_bag(const TensorPtr& weight, const TensorPtr& indices, const TensorPtr& offsets,
                        bool scale_grad_by_freq, int mode, bool sparse, const TensorPtr& psw, bool include_last_offset,
                        std::optional<int64_t> padding_idx) {
  GC_CHECK(mode == kernels::BAG_SUM || mode == kernels::BAG_MEAN || mode == kernels::BAG_MAX, ValueError,
           "mode has to be one of sum, mean or max");
  GC_CHECK(weight->ndim() == 2, ValueError, "weight has to be a 2D Tensor, but got Tensor of dimension ", weight->ndim());
  check_index_dtype(*indices, "embedding_bag");
  check_index_dtype(*offsets, "embedding_bag");
  GC_CHECK(is_floating(weight->dtype), RuntimeError,
           "Expected tensor for argument #1 'weight' to have one of the following scalar types: Half, BFloat16, Float, "
           "Double; but got ", type_name(weight->dtype), " instead (while checking arguments for embedding_bag)");
  if (psw)
    GC_CHECK(psw->dtype == weight->dtype, RuntimeError,
             "Expected tensor for argument #1 'weight' to have the same type as tensor for argument #1 "
             "'per_sample_weights'; but type ", type_name(weight->dtype), " does not equal ", type_name(psw->dtype),
             " (while checking arguments for embedding_bag)");
  GC_CHECK(indices->ndim() == 1, ValueError, "input has to be a 1D Tensor here (embedding_bag), got ", indices->ndim(), "D");
  GC_CHECK(offsets->ndim() == 1, ValueError, "offsets has to be a 1D Tensor");
  GC_CHECK(!psw || psw->shape == indices->shape, ValueError, "embedding_bag: per_sample_weights must have the shape of "
           "the input ", shape_str(indices->shape), ", got ", shape_str(psw->shape));
  GC_CHECK(!psw || mode == kernels::BAG_SUM, NotImplementedError,
           "embedding_bag: per_sample_weights is only supported for mode='sum'");
  const int64_t rows = weight->shape[0], D = weight->shape[1], n = indices->numel;
  int64_t pad = -1;
  if (padding_idx) {
    GC_CHECK(*padding_idx >= -rows && *padding_idx < rows, RuntimeError,
             "padding_idx must be within the number of embeddings, -", rows, " through ", rows - 1, ", but got ",
             *padding_idx);
    pad = *padding_idx < 0 ? *padding_idx + rows : *padding_idx;
  }
  if (reduced_float(weight->dtype)) {
    TensorPtr y = embedding_bag(to_dtype(weight, DType::Float32), indices, offsets, scale_grad_by_freq, mode, sparse,
                                psw ? to_dtype(psw, DType::Float32) : nullptr, include_last_offset, padding_idx);
    return to_dtype(y, weight->dtype);
  }
  GC_CHECK(!autograd::fw::any_tangent({weight.get(), psw.get()}), NotImplementedError,
           "Trying to use forward AD with _embedding_bag that does not support it because it has not been "
           "implemented yet.");
  auto plan = std::make_shared<BagPlan>();
  plan->idx = flat_indices(indices);
  TensorPtr off = to_dtype(dense(offsets), DType::Int64);
  off = dense(off);
  const int64_t* ix = plan->idx->data<int64_t>();
  const int64_t* op = off->data<int64_t>();
  const int64_t noff = off->numel;
  GC_CHECK(!include_last_offset || noff >= 1, RuntimeError, "include_last_offset: number of offset should be at least 1");
  const int64_t bags = include_last_offset ? std::max<int64_t>(noff - 1, 0) : noff;
  if (noff > 0) {
    GC_CHECK(op[0] == 0, RuntimeError, "offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to "
             "start from position 0. However, got ", op[0]);
    GC_CHECK(op[noff - 1] <= n, RuntimeError, "offsets[-1] can not be greater than input's length ", n,
             " but got offsets[-1] of ", op[noff - 1]);
    for (int64_t b = 1; b < noff; ++b)
      GC_CHECK(op[b] >= op[b - 1], RuntimeError, "embedding_bag: offsets must be non-decreasing, but offsets[", b - 1,
               "] = ", op[b - 1], " > offsets[", b, "] = ", op[b]);
  }
  for (int64_t p = 0; p < n; ++p)
    GC_CHECK(ix[p] >= 0 && ix[p] < rows, RuntimeError, "Index ", p, " of input takes value ", ix[p],
             " which is not in the valid range [0, ", rows, ")");
  plan->bag_start = empty({bags + 1}, DType::Int64);
  int64_t* bs = plan->bag_start->data<int64_t>();
  for (int64_t b = 0; b < bags; ++b) bs[b] = op[b];
  bs[bags] = include_last_offset ? (noff > 0 ? op[noff - 1] : 0) : n;
  if (bags == 0) bs[0] = 0;
  plan->used = bs[bags];
  plan->bag_of = empty({std::max<int64_t>(plan->used, 1)}, DType::Int64);
  int64_t* bo = plan->bag_of->data<int64_t>();
  for (int64_t b = 0; b < bags; ++b)
    for (int64_t p = bs[b]; p < bs[b + 1]; ++p) bo[p] = b;
  kernels::BagShape& s = plan->s;
  s.n = n;
  s.bags = bags;
  s.rows = rows;
  s.dim = D;
  s.padding_idx = pad;
  s.mode = mode;
  TensorPtr w = dense(weight);
  TensorPtr pd = psw ? dense(psw) : nullptr;
  TensorPtr y = empty({bags, D}, weight->dtype);
  TensorPtr am = mode == kernels::BAG_MAX ? empty({bags, D}, DType::Int64) : nullptr;
  dispatch(weight->dtype, [&](auto z) {
    using T = decltype(z);
    kernels::embedding_bag_forward<T>(w->data<T>(), D, ix, bs, pd ? pd->data<T>() : nullptr, y->data<T>(),
                                      am ? am->data<int64_t>() : nullptr, s);
    return 0;
  });
  if (needs_record({weight.get(), psw.get()})) {
    GC_CHECK(!(sparse && weight->needs_grad()), NotImplementedError,
             "embedding_bag: sparse=True is not supported (gradcore has no sparse tensors); use sparse=False, whose "
             "dense gradient holds the same values");
    auto node = make_node<EmbeddingBagBackward>({weight, psw});
    node->plan = plan;
    node->scale = scale_grad_by_freq;
    if (psw) node->psw_ = SavedTensor(psw, false);
    if (psw && psw->needs_grad()) node->weight_ = SavedTensor(weight, false);
    if (am) node->argmax_ = SavedTensor(am, false);
    set_history(y, node);
  }
  return y;
}

}  // namespace gradcore::ops

// embedding.h — embedding lookups (row gathers of a [rows, dim] table) and the scatters of
// their gradients, for nn.Embedding and nn.EmbeddingBag (issue 16).
//
// Note [Embedding gradient scatter]: the gradient of a row gather is a scatter-add into the
// table's rows, and rows repeat. Instead of atomics or a one-hot product, the positions are
// grouped by row once (embedding_row_index: a stable counting sort, so each row's positions
// stay in ascending order), then each thread owns a contiguous range of (row, column block)
// tasks and sums its rows' positions in that order. Every element of the gradient is summed
// by one thread in one order: the result is bitwise the same for any thread count, and no
// two threads write the same element.
//
//   std::vector<int64_t> start(rows + 1), order(n);
//   kernels::embedding_row_index<int64_t>(idx, n, rows, start.data(), order.data());
//   kernels::embedding_scatter<float>(g, nullptr, nullptr, start.data(), order.data(), gw, grad);
//
// Indices are checked by the caller (0 <= idx < rows). A padding row (padding_idx >= 0)
// takes no gradient; `scale_by_freq` divides each row's gradient by the row's count.
#pragma once
#include <cstdint>

#include "kernels/kernels.h"

namespace gradcore::kernels {

// The position of the first index outside [0, rows), or -1. I: int64_t or int32_t.
template <class I>
int64_t embedding_first_bad_index(const I* idx, int64_t n, int64_t rows);

// out[p] = table row idx[p] for p in [0, n): `row_bytes` bytes copied from
// table + idx[p] * row_stride_bytes (rows of any dtype, each contiguous).
template <class I>
void embedding_gather_rows(const char* table, int64_t row_stride_bytes, const I* idx, int64_t n, int64_t row_bytes,
                           char* out);

// Positions grouped by row (Note [Embedding gradient scatter]): start[rows + 1] (prefix
// counts), order[n] (positions of row r are order[start[r] .. start[r + 1]), ascending).
template <class I>
void embedding_row_index(const I* idx, int64_t n, int64_t rows, int64_t* start, int64_t* order);

struct EmbeddingGrad {
  int64_t rows = 0, dim = 0;
  int64_t padding_idx = -1;  // < 0: none
  bool scale_by_freq = false;
};

// gw[r, :] = sum over the positions p of row r (ascending) of c_p * g[src(p), :], where
// src(p) = src ? src[p] : p and c_p = (coef ? coef[p] : 1) * (scale_by_freq ? 1 / count_r : 1);
// the padding row and rows without positions are 0. g: [*, dim] rows, gw: [rows, dim].
template <class T>
void embedding_scatter(const T* g, const int64_t* src, const T* coef, const int64_t* start, const int64_t* order, T* gw,
                       const EmbeddingGrad& a);

// The adjoint of embedding_scatter for src = null: out[p, :] = c_p * g[idx[p], :] (0 for the
// padding row), c_p as there; `start` (from embedding_row_index) is read for the counts
// when scale_by_freq, else may be null. g: [rows, dim], out: [n, dim].
template <class T>
void embedding_gather_scaled(const T* g, const int64_t* idx, int64_t n, const T* coef, const int64_t* start, T* out,
                             const EmbeddingGrad& a);

// ---- bags (nn.EmbeddingBag) ----
enum BagMode { BAG_SUM = 0, BAG_MEAN = 1, BAG_MAX = 2 };
struct BagShape {
  int64_t n = 0, bags = 0, rows = 0, dim = 0;
  int64_t padding_idx = -1;  // < 0: none; its positions are left out (and not counted by mean)
  int mode = BAG_MEAN;
};

// Bag b holds positions [bag_start[b], bag_start[b + 1]) (bags + 1 entries). out[b, :] =
// the sum (times psw[p] when psw) / mean / column-wise max of its rows, 0 for a bag with no
// row; max also writes argmax[b, :] (the table row of each column's maximum: the first of
// ties, NaN kept only when it comes first; -1 for an empty bag). Table rows row_stride apart.
template <class T>
void embedding_bag_forward(const T* table, int64_t row_stride, const int64_t* idx, const int64_t* bag_start, const T* psw,
                           T* out, int64_t* argmax, const BagShape& s);
// gw = 0, then gw[argmax[b, d], d] += g[b, d] (bags in order; threads own column ranges).
template <class T>
void embedding_bag_max_backward(const T* g, const int64_t* argmax, T* gw, const BagShape& s);
// gp[p] = <g[bag_of[p], :], table[idx[p], :]> (0 at the padding row): the gradient of the
// per-sample weights of a sum bag.
template <class T>
void embedding_bag_psw_backward(const T* g, const T* table, int64_t row_stride, const int64_t* idx,
                                const int64_t* bag_of, T* gp, const BagShape& s);

// max_norm: each listed row (distinct rows) whose norm_type-norm exceeds max_norm is scaled
// by max_norm / (norm + 1e-7) in place (PyTorch's embedding_renorm_). Rows of `dim` elements
// col_stride apart, rows row_stride apart. T: float, double.
template <class T>
void embedding_renorm(T* table, int64_t row_stride, int64_t col_stride, const int64_t* rows, int64_t nrows, int64_t dim,
                      double max_norm, double norm_type);

}  // namespace gradcore::kernels

// rnn.h — one recurrent layer in one direction (issue 16): Elman RNN, LSTM (optionally
// projected), GRU over a whole sequence, forward and backward through time in the fused
// kernels of kernels/rnn.h. nn.RNN / LSTM / GRU compose layers and directions from it in
// Python (python/gradcore/nn/rnn.py); the cells are one step of it.
//
//   RnnOutputs r = ops::rnn_layer(kernels::RNN_LSTM, x /*[N, I]*/, {B, B, ...}, h0 /*[B, P]*/,
//                                 c0 /*[B, H]*/, w_ih, w_hh, b_ih, b_hh, /*w_hr=*/nullptr,
//                                 /*reverse=*/false);
//
// x holds the steps one after another, step t the first batch_sizes[t] sequences
// (PackedSequence.data; padded input is batch_sizes = [B] * T). Bias tensors and w_hr may
// be null; c0 is null except for LSTM. One node (grad_fn) records the call, with gradients
// for x, h0, c0 and every weight and bias.
//
// Note [RNN double backward]: the backward is the fused kernel only. With create_graph
// (or forward-mode tangents) it raises a RuntimeError: a composed backward of T steps
// would record thousands of ops per layer, and nothing in the project needs it yet.
#pragma once
#include <vector>

#include "core/tensor.h"

namespace gradcore::ops {

struct RnnOutputs {
  TensorPtr output;  // [N, P]
  TensorPtr h_n;     // [B, P]
  TensorPtr c_n;     // [B, H] (LSTM), else null
};

RnnOutputs rnn_layer(int mode, const TensorPtr& x, const std::vector<int64_t>& batch_sizes, const TensorPtr& h0,
                     const TensorPtr& c0, const TensorPtr& w_ih, const TensorPtr& w_hh, const TensorPtr& b_ih,
                     const TensorPtr& b_hh, const TensorPtr& w_hr, bool reverse);

}  // namespace gradcore::ops

"""Recurrent layers (issue 16): ``RNN``, ``LSTM`` (with ``proj_size``), ``GRU`` and the cells
``RNNCell``, ``LSTMCell``, ``GRUCell``, with PyTorch's arguments, parameter names, shapes,
order, initialisation, checks and outputs.

Each layer and direction is one ``_core.rnn_layer`` call: the whole sequence (padded, or a
PackedSequence's variable lengths as batch sizes per step) runs forward and backward through
time in C++ (kernels/rnn.cpp), one autograd node per call. Python only loops over layers and
directions, and applies the dropout between layers. A cell is one step of the same kernel.
Double backward (create_graph=True) through these layers raises a RuntimeError (Note [RNN
double backward], csrc/autograd/ops/rnn.h)."""
from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, List, Optional, Tuple

import gradcore
from gradcore import _core
from gradcore._core import Tensor
from gradcore.nn import functional as F
from gradcore.nn import init
from gradcore.nn.module import Module, Parameter
from gradcore.nn.utils.rnn import PackedSequence

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_MODE_IDS = {"RNN_TANH": 0, "RNN_RELU": 1, "LSTM": 2, "GRU": 3}
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _apply_permutation(tensor: Tensor, permutation: Tensor, dim: int = 1) -> Tensor:
    return tensor.index_select(dim, permutation)


class RNNBase(Module):
    """What RNN, LSTM and GRU share: the parameters, their checks and the layer loop."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1
        if not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an element "
                             "being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                          stacklevel=2)
        if not isinstance(bias, bool):
            raise TypeError(f"bias should be of type bool, got: {type(bias).__name__}")
        if not isinstance(batch_first, bool):
            raise TypeError(f"batch_first should be of type bool, got: {type(batch_first).__name__}")
        if not isinstance(input_size, int):
            raise TypeError(f"input_size should be of type int, got: {type(input_size).__name__}")
        if input_size <= 0:
            raise ValueError("input_size must be greater than zero")
        if not isinstance(hidden_size, int):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        gate_size = _GATES[mode] * hidden_size
        self._flat_weights_names: List[str] = []
        self._all_weights: List[List[str]] = []
        real_hidden_size = proj_size if proj_size > 0 else hidden_size
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input_size = input_size if layer == 0 else real_hidden_size * num_directions
                params = [gradcore.empty(gate_size, layer_input_size, dtype=dtype),
                          gradcore.empty(gate_size, real_hidden_size, dtype=dtype)]
                names = ["weight_ih_l{}{}", "weight_hh_l{}{}"]
                if bias:
                    params += [gradcore.empty(gate_size, dtype=dtype), gradcore.empty(gate_size, dtype=dtype)]
                    names += ["bias_ih_l{}{}", "bias_hh_l{}{}"]
                if proj_size > 0:
                    params.append(gradcore.empty(proj_size, hidden_size, dtype=dtype))
                    names.append("weight_hr_l{}{}")
                suffix = "_reverse" if direction == 1 else ""
                names = [n.format(layer, suffix) for n in names]
                for name, p in zip(names, params):
                    setattr(self, name, Parameter(p))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self) -> List[Optional[Tensor]]:
        return [getattr(self, n, None) for n in self._flat_weights_names]

    def flatten_parameters(self) -> None:
        """A no-op (PyTorch's only acts on cuDNN)."""

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    @property
    def all_weights(self) -> List[List[Parameter]]:
        return [[getattr(self, w) for w in ws] for ws in self._all_weights]

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)

    # ---- checks (PyTorch's messages) ----

    def check_input(self, input: Tensor, batch_sizes: Optional[Tensor]) -> None:
        w0 = self._flat_weights[0]
        assert w0 is not None
        if input.dtype != w0.dtype:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype ({w0.dtype}). "
                             f"Convert input: input.to({w0.dtype}), or convert model: model.to({input.dtype})")
        expected_input_dim = 2 if batch_sizes is not None else 3
        if input.dim() != expected_input_dim:
            raise RuntimeError(f"input must have {expected_input_dim} dimensions, got {input.dim()}")
        if self.input_size != input.shape[-1]:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {input.shape[-1]}")

    def get_expected_hidden_size(self, input: Tensor, batch_sizes: Optional[Tensor]) -> Tuple[int, int, int]:
        if batch_sizes is not None:
            mini_batch = int(batch_sizes[0].item())
        else:
            mini_batch = int(input.shape[0] if self.batch_first else input.shape[1])
        num_directions = 2 if self.bidirectional else 1
        size = self.proj_size if self.proj_size > 0 else self.hidden_size
        return (self.num_layers * num_directions, mini_batch, size)

    def get_expected_cell_size(self, input: Tensor, batch_sizes: Optional[Tensor]) -> Tuple[int, int, int]:
        n, b, _ = self.get_expected_hidden_size(input, batch_sizes)
        return (n, b, self.hidden_size)

    def check_hidden_size(self, hx: Tensor, expected_hidden_size: Tuple[int, int, int],
                          msg: str = "Expected hidden size {}, got {}") -> None:
        if tuple(hx.shape) != expected_hidden_size:
            raise RuntimeError(msg.format(expected_hidden_size, list(hx.shape)))

    def check_forward_args(self, input: Tensor, hidden: Any, batch_sizes: Optional[Tensor]) -> None:
        self.check_input(input, batch_sizes)
        if self.mode == "LSTM":
            self.check_hidden_size(hidden[0], self.get_expected_hidden_size(input, batch_sizes),
                                   "Expected hidden[0] size {}, got {}")
            self.check_hidden_size(hidden[1], self.get_expected_cell_size(input, batch_sizes),
                                   "Expected hidden[1] size {}, got {}")
        else:
            self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    def permute_hidden(self, hx: Any, permutation: Optional[Tensor]) -> Any:
        if permutation is None:
            return hx
        if self.mode == "LSTM":
            return _apply_permutation(hx[0], permutation), _apply_permutation(hx[1], permutation)
        return _apply_permutation(hx, permutation)

    # ---- the layer loop ----

    def _run(self, x: Tensor, batch_sizes: List[int], h0: Tensor, c0: Optional[Tensor]) -> Tuple[Tensor, Tensor,
                                                                                                  Optional[Tensor]]:
        """x [N, I] (steps after one another); h0 [L*D, B, P]; returns (out [N, D*P], h_n, c_n)."""
        mode = _MODE_IDS[self.mode]
        D = 2 if self.bidirectional else 1
        hs: List[Tensor] = []
        cs: List[Tensor] = []
        layer_input = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                k = layer * D + d
                ws = dict(zip([n.split("_l")[0] for n in self._all_weights[k]], self.all_weights[k]))
                out, hn, cn = _core.rnn_layer(mode, layer_input, batch_sizes, h0[k], None if c0 is None else c0[k],
                                              ws["weight_ih"], ws["weight_hh"], ws.get("bias_ih"), ws.get("bias_hh"),
                                              ws.get("weight_hr"), d == 1)
                outs.append(out)
                hs.append(hn)
                if cn is not None:
                    cs.append(cn)
            layer_input = outs[0] if D == 1 else gradcore.cat(outs, 1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        return layer_input, gradcore.stack(hs, 0), gradcore.stack(cs, 0) if cs else None

    def forward(self, input: Any, hx: Any = None) -> Any:
        lstm = self.mode == "LSTM"
        name = {"LSTM": "LSTM", "GRU": "GRU"}.get(self.mode, "RNN")
        D = 2 if self.bidirectional else 1
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        packed = isinstance(input, PackedSequence)
        is_batched = True
        batch_dim = 0 if self.batch_first else 1
        sorted_indices: Optional[Tensor] = None
        unsorted_indices: Optional[Tensor] = None
        batch_sizes: Optional[Tensor] = None
        if packed:
            input, batch_sizes, sorted_indices, unsorted_indices = input
            max_batch_size = int(batch_sizes[0].item())
            if hx is not None:
                hx = self.permute_hidden(hx, sorted_indices)
        else:
            if input.dim() not in (2, 3):
                tensor_word = "tensor " if name == "RNN" else ""
                raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D {tensor_word}instead")
            is_batched = input.dim() == 3
            if not is_batched:
                input = input.unsqueeze(batch_dim)
            if hx is not None:
                if lstm:
                    want = 3 if is_batched else 2
                    if hx[0].dim() != want or hx[1].dim() != want:
                        kind = "batched 3-D" if is_batched else "unbatched 2-D"
                        raise RuntimeError(f"For {kind} input, hx and cx should also be {want}-D but got "
                                           f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
                    if not is_batched:
                        hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
                else:
                    if not is_batched and hx.dim() != 2:
                        raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but got {hx.dim()}-D "
                                           "tensor")
                    if is_batched and hx.dim() != 3:
                        raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got {hx.dim()}-D "
                                           "tensor")
                    if not is_batched:
                        hx = hx.unsqueeze(1)
            max_batch_size = int(input.shape[0] if self.batch_first else input.shape[1])
        if hx is None:
            h = gradcore.zeros(self.num_layers * D, max_batch_size, real_hidden, dtype=input.dtype)
            hx = (h, gradcore.zeros(self.num_layers * D, max_batch_size, self.hidden_size, dtype=input.dtype)) \
                if lstm else h
        self.check_forward_args(input, hx, batch_sizes)
        h0, c0 = (hx[0], hx[1]) if lstm else (hx, None)
        if packed:
            assert batch_sizes is not None
            bs = [int(v) for v in batch_sizes.numpy()]
            out, hn, cn = self._run(input, bs, h0, c0)
        else:
            x = input.transpose(0, 1) if self.batch_first else input
            T, B = int(x.shape[0]), int(x.shape[1])
            out, hn, cn = self._run(x.reshape(T * B, self.input_size), [B] * T, h0, c0)
            out = out.reshape(T, B, D * real_hidden)
            if self.batch_first:
                out = out.transpose(0, 1)
        hidden: Any = (hn, cn) if lstm else hn
        if packed:
            return PackedSequence(out, batch_sizes, sorted_indices, unsorted_indices), \
                self.permute_hidden(hidden, unsorted_indices)
        if not is_batched:
            out = out.squeeze(batch_dim)
            hidden = (hidden[0].squeeze(1), hidden[1].squeeze(1)) if lstm else hidden.squeeze(1)
        return out, self.permute_hidden(hidden, unsorted_indices)


class RNN(RNNBase):
    """Elman RNN, h' = tanh or relu(x W_ih^T + b_ih + h W_hh^T + b_hh)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(mode, *args, **kwargs)


class LSTM(RNNBase):
    """Long short-term memory (gates i, f, g, o), optionally with a projection (proj_size)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit (gates r, z, n)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)


# ---- cells: one step of the same kernel ----

class RNNCellBase(Module):
    """What the cells share: weight_ih, weight_hh, bias_ih, bias_hh and their init."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(gradcore.empty(num_chunks * hidden_size, input_size, dtype=dtype))
        self.weight_hh = Parameter(gradcore.empty(num_chunks * hidden_size, hidden_size, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(gradcore.empty(num_chunks * hidden_size, dtype=dtype))
            self.bias_hh = Parameter(gradcore.empty(num_chunks * hidden_size, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.__dict__["nonlinearity"] != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _step(self, mode: int, x: Tensor, h: Tensor, c: Optional[Tensor]) -> Tuple[Tensor, Optional[Tensor]]:
        out, _, cn = _core.rnn_layer(mode, x, [int(x.shape[0])], h, c, self.weight_ih, self.weight_hh, self.bias_ih,
                                     self.bias_hh, None, False)
        return out, cn


def _cell_input(name: str, input: Tensor) -> Tuple[Tensor, bool]:
    if input.dim() not in (1, 2):
        raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
    return (input, True) if input.dim() == 2 else (input.unsqueeze(0), False)


class RNNCell(RNNCellBase):
    """One Elman RNN step."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Optional[Tensor] = None) -> Tensor:
        if hx is not None and hx.dim() not in (1, 2):
            raise ValueError(f"RNNCell: Expected hidden to be 1D or 2D, got {hx.dim()}D instead")
        x, batched = _cell_input("RNNCell", input)
        h = gradcore.zeros(x.shape[0], self.hidden_size, dtype=x.dtype) if hx is None else \
            (hx if batched else hx.unsqueeze(0))
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        out, _ = self._step(0 if self.nonlinearity == "tanh" else 1, x, h, None)
        return out if batched else out.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step: (h', c')."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Optional[Tuple[Tensor, Tensor]] = None) -> Tuple[Tensor, Tensor]:
        if input.dim() not in (1, 2):
            raise ValueError(f"LSTMCell: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None:
            for idx, value in enumerate(hx):
                if value.dim() not in (1, 2):
                    raise ValueError(f"LSTMCell: Expected hx[{idx}] to be 1D or 2D, got {value.dim()}D instead")
        x, batched = _cell_input("LSTMCell", input)
        if hx is None:
            z = gradcore.zeros(x.shape[0], self.hidden_size, dtype=x.dtype)
            h, c = z, z
        else:
            h, c = (hx[0], hx[1]) if batched else (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        out, cn = self._step(2, x, h, c)
        assert cn is not None
        return (out, cn) if batched else (out.squeeze(0), cn.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Optional[Tensor] = None) -> Tensor:
        if input.dim() not in (1, 2):
            raise ValueError(f"GRUCell: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None and hx.dim() not in (1, 2):
            raise ValueError(f"GRUCell: Expected hidden to be 1D or 2D, got {hx.dim()}D instead")
        x, batched = _cell_input("GRUCell", input)
        h = gradcore.zeros(x.shape[0], self.hidden_size, dtype=x.dtype) if hx is None else \
            (hx if batched else hx.unsqueeze(0))
        out, _ = self._step(3, x, h, None)
        return out if batched else out.squeeze(0)

"""Variable-length sequences for the recurrent layers (issue 16), as ``torch.nn.utils.rnn``:
``PackedSequence``, ``pack_padded_sequence``, ``pad_packed_sequence``, ``pad_sequence``,
``unpad_sequence``, ``pack_sequence``, ``unpack_sequence``.

Packing and padding are one gather / one scatter each (an index over the time-major rows,
computed from the lengths with numpy), so gradients flow through them like torch's."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any, List, NamedTuple, Optional, Tuple, Union

import numpy as np

import gradcore
from gradcore._core import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "unpad_sequence", "pack_sequence", "unpack_sequence"]


class PackedSequence_(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Optional[Tensor]
    unsorted_indices: Optional[Tensor]


class PackedSequence(PackedSequence_):
    """Holds the data and the batch sizes of a packed batch of sequences (torch's fields)."""

    def __new__(cls, data: Any, batch_sizes: Optional[Tensor] = None, sorted_indices: Optional[Tensor] = None,
                unsorted_indices: Optional[Tensor] = None) -> "PackedSequence":
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data[0], data[1]
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args: Any, **kwargs: Any) -> "PackedSequence":
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def _with(self, data: Tensor) -> "PackedSequence":
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def cpu(self, *args: Any, **kwargs: Any) -> "PackedSequence":
        return self

    def pin_memory(self) -> "PackedSequence":
        return self

    def double(self) -> "PackedSequence":
        return self._with(self.data.double())

    def float(self) -> "PackedSequence":
        return self._with(self.data.float())

    def half(self) -> "PackedSequence":
        return self._with(self.data.half())

    def long(self) -> "PackedSequence":
        return self._with(self.data.long())

    def int(self) -> "PackedSequence":
        return self._with(self.data.int())

    @property
    def is_cuda(self) -> bool:
        return False

    def is_pinned(self) -> bool:
        return False


def invert_permutation(permutation: Optional[Tensor]) -> Optional[Tensor]:
    """The inverse of ``permutation`` (None stays None)."""
    if permutation is None:
        return None
    p = np.asarray(permutation.numpy(), dtype=np.int64)
    inv = np.empty_like(p)
    inv[p] = np.arange(p.size, dtype=np.int64)
    return gradcore.tensor(inv)


def _lengths_array(lengths: Any) -> "np.ndarray[Any, Any]":
    if isinstance(lengths, Tensor):
        return np.asarray(lengths.detach().numpy()).astype(np.int64).reshape(-1)
    return np.asarray(lengths, dtype=np.int64).reshape(-1)


def _packed_rows(lengths: "np.ndarray[Any, Any]", B: int) -> "Tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]":
    """Sorted lengths -> (batch_sizes, time-major row index t * B + b of each packed row)."""
    T = int(lengths[0]) if lengths.size else 0
    batch_sizes = np.array([(lengths > t).sum() for t in range(T)], dtype=np.int64)
    rows = np.concatenate([t * B + np.arange(bs, dtype=np.int64) for t, bs in enumerate(batch_sizes)]) \
        if T else np.zeros(0, np.int64)
    return batch_sizes, rows


def pack_padded_sequence(input: Tensor, lengths: Any, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Packs a padded batch ``T x B x *`` (``B x T x *`` with batch_first) of sequences of the
    given lengths."""
    lens = _lengths_array(lengths)
    sorted_indices: Optional[Tensor] = None
    if not enforce_sorted:
        order = np.argsort(-lens, kind="stable")
        lens = lens[order]
        sorted_indices = gradcore.tensor(order.astype(np.int64))
        input = input.index_select(0 if batch_first else 1, sorted_indices)
    if batch_first:
        input = input.transpose(0, 1)
    T, B = int(input.shape[0]), int(input.shape[1])
    if lens.size != B:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {lens.size} "
                           f"(batch_size={B})")
    if B and lens.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           "that is <= 0")
    if B and np.any(lens[1:] > lens[:-1]):
        raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. You "
                           "can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to sidestep "
                           "this requirement if you do not need ONNX exportability.")
    if B and lens[0] > T:
        raise RuntimeError(f"Expected sequence length to be at most {T}, but got {int(lens[0])}")
    batch_sizes, rows = _packed_rows(lens, B)
    flat = input.reshape(T * B, *input.shape[2:])
    data = flat.index_select(0, gradcore.tensor(rows))
    return PackedSequence(data, gradcore.tensor(batch_sizes), sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: Optional[int] = None) -> Tuple[Tensor, Tensor]:
    """The inverse of :func:`pack_padded_sequence`: (padded batch, lengths)."""
    bs = _lengths_array(sequence.batch_sizes)
    max_seq_length = int(bs.size)
    if total_length is not None:
        if total_length < max_seq_length:
            raise ValueError("Expected total_length to be at least the length of the longest sequence in input, but "
                             f"got total_length={total_length} and max sequence length being {max_seq_length}")
        max_seq_length = total_length
    B = int(bs[0]) if bs.size else 0
    lens = np.array([(bs > b).sum() for b in range(B)], dtype=np.int64)
    _, rows = _packed_rows(lens, B)
    data = sequence.data
    trailing = tuple(int(s) for s in data.shape[1:])
    padded = gradcore.full((max_seq_length * B, *trailing), padding_value, dtype=data.dtype)
    padded = padded.index_put((gradcore.tensor(rows),), data)
    out = padded.reshape(max_seq_length, B, *trailing)
    if batch_first:
        out = out.transpose(0, 1)
    lengths = gradcore.tensor(lens)
    if sequence.unsorted_indices is not None:
        out = out.index_select(0 if batch_first else 1, sequence.unsorted_indices)
        lengths = gradcore.tensor(lens[np.asarray(sequence.unsorted_indices.numpy(), dtype=np.int64)])
    return out, lengths


def pad_sequence(sequences: Union[Tensor, List[Tensor]], batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stacks sequences ``L_i x *`` into ``T x B x *`` (``B x T x *``), padded with padding_value."""
    if not isinstance(sequences, Iterable):
        raise RuntimeError("pad_sequence: Expected iterable for input sequences, but got arg of type: "
                           f"{type(sequences)}")
    seqs = tuple(sequences)
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if not seqs:
        raise RuntimeError("received an empty list of sequences")
    T = max(int(s.shape[0]) for s in seqs)
    parts = []
    for s in seqs:
        n = int(s.shape[0])
        if n == T:
            parts.append(s)
            continue
        pad = gradcore.full((T - n, *s.shape[1:]), padding_value, dtype=s.dtype)
        parts.append(gradcore.cat([s, pad] if padding_side == "right" else [pad, s], 0))
    out = gradcore.stack(parts, 0)
    return out if batch_first else out.transpose(0, 1)


def unpad_sequence(padded_sequences: Tensor, lengths: Any, batch_first: bool = False) -> List[Tensor]:
    """The list of sequences of a padded batch (their lengths given)."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[b, :int(n)] for b, n in enumerate(_lengths_array(lengths))]


def pack_sequence(sequences: List[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Packs a list of sequences ``L_i x *`` (pad_sequence, then pack_padded_sequence)."""
    lengths = [int(v.shape[0]) for v in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> List[Tensor]:
    """The list of sequences of a PackedSequence, in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)

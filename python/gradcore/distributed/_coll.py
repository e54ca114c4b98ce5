"""Collectives and point-to-point messages on a process group (PyTorch's names and rules).

Tensors go to MPI as their own memory (``MPI.buffer.fromaddress(t.data_ptr(), nbytes)``):
no NumPy or other copy, except (a) a non-contiguous tensor, staged through a contiguous copy
and written back, (b) float16/bfloat16 in a reduction (MPI has no half-precision sum: the
values are reduced in float32 and rounded back once), (c) list outputs (``all_gather``,
``gather``, ``scatter``), which go through one flat buffer. mpi4py releases the GIL inside
MPI calls. Every op is started as a non-blocking MPI call and waited for by polling (Note
[Collective timeouts], _pg.py), so a blocking call and ``async_op=True`` share one path.
"""
from __future__ import annotations

import datetime
import warnings
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

import gradcore as gc
from gradcore.distributed._codec import decode, encode
from gradcore.distributed._pg import (GroupMember, ProcessGroup, ReduceOp, _debug_detail, _mpi, _resolve,
                                      _state, fingerprint_check, test_all, wait_requests)

__all__ = ["Work", "all_reduce", "reduce", "broadcast", "all_gather", "all_gather_into_tensor", "gather", "scatter",
           "reduce_scatter_tensor", "all_to_all_single", "barrier", "monitored_barrier", "broadcast_object_list",
           "all_gather_object", "gather_object", "scatter_object_list", "send", "recv", "isend", "irecv"]

_HALF = (gc.float16, gc.bfloat16)
_FLOATS = (gc.float32, gc.float64) + _HALF
_MPI_TYPE = {gc.float32: "FLOAT", gc.float64: "DOUBLE", gc.int64: "INT64_T", gc.int32: "INT32_T",
             gc.int16: "INT16_T", gc.int8: "INT8_T", gc.uint8: "UINT8_T", gc.bool: "C_BOOL",
             gc.float16: "UINT16_T", gc.bfloat16: "UINT16_T"}  # halves move as raw 16-bit words


class Work:
    """The handle of a started operation: ``wait()`` blocks until it is done (raising on
    timeout), ``is_completed()`` tests without blocking."""

    def __init__(self, pg: ProcessGroup, reqs: List[Any], seq: int, desc: str,
                 finish: Optional[Callable[[], None]] = None, result: Sequence[Any] = ()) -> None:
        self._pg, self._reqs, self._seq, self._desc = pg, reqs, seq, desc
        self._finish = finish
        self._result = list(result)
        self._done = False
        self._exc: Optional[BaseException] = None
        self._source: Optional[int] = None
        self._keep: List[Any] = []

    def _complete(self) -> None:
        self._done = True
        if self._finish is not None:
            f, self._finish = self._finish, None
            f()

    def wait(self, timeout: Optional[datetime.timedelta] = None) -> bool:
        if self._exc is not None:
            raise self._exc
        if not self._done:
            try:
                wait_requests(self._pg, self._reqs, self._seq, self._desc, timeout)
            except BaseException as e:
                self._exc = e
                raise
            self._complete()
        return True

    def is_completed(self) -> bool:
        if not self._done and self._exc is None and test_all(self._reqs):
            self._complete()
        return self._done

    def is_success(self) -> bool:
        return self.is_completed() and self._exc is None

    def exception(self) -> Optional[BaseException]:
        return self._exc

    def result(self) -> List[Any]:
        self.wait()
        return self._result

    def source_rank(self) -> int:
        self.wait()
        if self._source is None:
            raise RuntimeError("source_rank() is only available on a Work returned by irecv")
        return self._source

    def get_future(self) -> "Future":
        return Future(self)

    def __repr__(self) -> str:
        return f"Work({self._desc}, completed={self._done})"


class Future:
    """``work.get_future()``: ``wait()``/``value()`` give the op's output tensors; ``then(fn)``
    runs fn(self) once the op is done (at wait time) and returns a Future of its result."""

    def __init__(self, work: Optional[Work], value: Any = None, fn: Optional[Callable[[Any], Any]] = None,
                 parent: Optional["Future"] = None) -> None:
        self._work, self._value, self._fn, self._parent = work, value, fn, parent
        self._ready = work is None and parent is None

    def wait(self) -> Any:
        if not self._ready:
            if self._parent is not None:
                self._parent.wait()
                self._value = self._fn(self._parent) if self._fn is not None else None
            elif self._work is not None:
                self._value = self._work.result()
            self._ready = True
        return self._value

    def value(self) -> Any:
        return self.wait()

    def done(self) -> bool:
        if self._parent is not None:
            return self._ready or self._parent.done()
        return self._ready or (self._work is not None and self._work.is_completed())

    def then(self, callback: Callable[["Future"], Any]) -> "Future":
        return Future(None, fn=callback, parent=self)


# ---------------------------------------------------------------------------------------------
# Buffers, ops and the common entry


def _check_tensor(t: Any, name: str = "tensor") -> None:
    if not isinstance(t, gc.Tensor):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type gradcore.Tensor\n"
                        f"             but got {type(t)} instead.")


def _check_tensor_list(ts: Any, name: str) -> None:
    if not isinstance(ts, (list, tuple)) or not all(isinstance(t, gc.Tensor) for t in ts):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type List[gradcore.Tensor]\n"
                        f"             but got {type(ts)} with elements of type "
                        f"{[type(t) for t in ts] if isinstance(ts, (list, tuple)) else '-'} instead.")


class _Buf:
    """t's memory as an MPI buffer spec (module docstring for when it is a staged copy)."""

    def __init__(self, t: gc.Tensor, reduce: bool = False) -> None:
        MPI = _mpi()
        self.t = t
        d = t.detach()
        if reduce and t.dtype in _HALF:
            self.stage = d.to(gc.float32)
            mtype = MPI.FLOAT
        else:
            self.stage = d if d.is_contiguous() else d.contiguous()
            mtype = getattr(MPI, _MPI_TYPE[t.dtype])
        s = self.stage
        n = s.numel() * s.element_size()
        self.spec = [MPI.buffer.fromaddress(s.data_ptr(), n) if n else bytearray(0), mtype]

    @property
    def staged(self) -> bool:
        return self.stage.data_ptr() != self.t.data_ptr() or self.stage.dtype != self.t.dtype

    def write_back(self) -> None:
        if self.staged:
            with gc.no_grad():
                self.t.detach().copy_(self.stage)


def _flat(n: int, dtype: Any) -> Tuple[gc.Tensor, List[Any]]:
    t = gc.empty(n, dtype=dtype)
    return t, _Buf(t).spec


def _red_op(op: Any, dtype: Any) -> Any:
    _resolve(None)  # not initialised: PyTorch's ValueError, before MPI starts in this process
    MPI = _mpi()
    try:
        op = ReduceOp.RedOpType(int(op))
    except (TypeError, ValueError):
        raise TypeError(f"op must be a gradcore.distributed.ReduceOp, got {op!r}") from None
    R = ReduceOp.RedOpType
    if op in (R.PREMUL_SUM, R.UNUSED):
        raise ValueError(f"ReduceOp.{op.name} is not supported by gradcore's MPI backend")
    if dtype == gc.bool:
        return {R.SUM: MPI.LOR, R.PRODUCT: MPI.LAND, R.MIN: MPI.LAND, R.MAX: MPI.LOR, R.BAND: MPI.LAND,
                R.BOR: MPI.LOR, R.BXOR: MPI.LXOR}.get(op) or _avg_int(dtype)
    if dtype in _FLOATS:
        if op in (R.BAND, R.BOR, R.BXOR):
            raise RuntimeError(f"Cannot use ReduceOp.{op.name} with non-integral dtype")
    elif op == R.AVG:
        _avg_int(dtype)
    return {R.SUM: MPI.SUM, R.AVG: MPI.SUM, R.PRODUCT: MPI.PROD, R.MIN: MPI.MIN, R.MAX: MPI.MAX,
            R.BAND: MPI.BAND, R.BOR: MPI.BOR, R.BXOR: MPI.BXOR}[op]


def _avg_int(dtype: Any) -> Any:
    names = {gc.int64: "Long", gc.int32: "Int", gc.int16: "Short", gc.int8: "Char", gc.uint8: "Byte", gc.bool: "Bool"}
    raise RuntimeError(f"result type Float can't be cast to the desired output type {names.get(dtype, str(dtype))}")


_TORCH_DTYPE_NAMES = {gc.float32: "Float", gc.float64: "Double", gc.float16: "Half", gc.bfloat16: "BFloat16",
                      gc.int64: "Long", gc.int32: "Int", gc.int16: "Short", gc.int8: "Char", gc.uint8: "Byte",
                      gc.bool: "Bool"}


def _describe(op_name: str, tensors: Sequence[gc.Tensor], extra: str = "") -> Tuple[str, str]:
    """(description for timeout reports, fingerprint body for DETAIL mode) of a collective."""
    shapes = [list(t.shape) for t in tensors]
    dtypes = ",".join(sorted({_TORCH_DTYPE_NAMES[t.dtype] for t in tensors}))
    return (f"{op_name}(shapes={shapes}, dtype={dtypes}{extra})",
            f"OpType={op_name.upper()}, TensorShape={shapes}, TensorDtypes={dtypes}{extra})")


def _next_seq(pg: ProcessGroup, fingerprint: str) -> int:
    pg.seq += 1
    if _debug_detail():
        fingerprint_check(pg, f"CollectiveFingerPrint(SequenceNumber={pg.seq}, {fingerprint}")
    return pg.seq


def _begin(group: Any, op_name: str, tensors: Sequence[gc.Tensor], extra: str = "") -> Optional[List[Any]]:
    """[group, sequence number (0 until _go), description, fingerprint] of a collective
    about to start; None on a rank outside the group (PyTorch warns and does nothing there).
    The caller checks its arguments, then calls _go right before the MPI call, so that a
    rank's bad input raises before it takes a sequence number (ranks' counts stay equal)."""
    pg = _resolve(group)
    if pg is GroupMember.NON_GROUP_MEMBER:
        me = _state.world.rank() if _state.world is not None else -1
        warnings.warn(f"Running {op_name} on global rank {me} which does not belong to the given group.", stacklevel=3)
        return None
    desc, fp = _describe(op_name, tensors, extra)
    return [pg, 0, desc, fp]


def _go(ctx: List[Any]) -> ProcessGroup:
    """Takes the collective's sequence number (DETAIL mode: compares fingerprints)."""
    ctx[1] = _next_seq(ctx[0], ctx[3])
    pg: ProcessGroup = ctx[0]
    return pg


def _run(ctx: List[Any], reqs: List[Any], async_op: bool,
         finish: Optional[Callable[[], None]] = None, result: Sequence[Any] = (),
         keep: Sequence[Any] = ()) -> Optional[Work]:
    """The Work of started requests (waited for unless async_op). `keep`: the buffers MPI
    reads or writes until the requests complete (staged copies must outlive the call)."""
    work = Work(ctx[0], reqs, ctx[1], ctx[2], finish, result)
    work._keep = list(keep)
    if async_op:
        return work
    work.wait()
    return None


def _group_rank(pg: ProcessGroup, what: str, global_rank: Optional[int], group_rank: Optional[int],
                op_name: str) -> int:
    """The group rank of a src/dst given as a global rank or as group_src/group_dst."""
    if global_rank is not None and group_rank is not None:
        raise ValueError(f"Can not specify both {what} and group_{what}")
    if group_rank is not None:
        r = int(group_rank)
        if r < 0 or r >= pg.size():
            raise RuntimeError(f"{op_name}: invalid root rank: {r}")
        return r
    if global_rank is None:
        if pg.size() == 1 or pg is _state.world:
            global_rank = 0
        else:
            raise ValueError(f"Must specify either {what} or group_{what}")
    g = int(global_rank)
    if g not in pg.ranks:
        if pg is _state.world:
            raise RuntimeError(f"{op_name}: invalid root rank: {g}")
        raise ValueError(f"Global rank {g} is not part of group {pg}")
    return pg.ranks.index(g)


def _finish_all(*steps: Optional[Callable[[], None]]) -> Callable[[], None]:
    def run() -> None:
        for s in steps:
            if s is not None:
                s()
    return run


def _average(buf: _Buf, pg: ProcessGroup, op: Any) -> Optional[Callable[[], None]]:
    if int(op) != ReduceOp.AVG:
        return None

    def div() -> None:
        with gc.no_grad():
            buf.stage.div_(pg.size())
    return div


# ---------------------------------------------------------------------------------------------
# Collectives


def all_reduce(tensor: gc.Tensor, op: Any = ReduceOp.SUM, group: Any = None, async_op: bool = False) -> Optional[Work]:
    """Reduces tensor over the group, in place on every rank."""
    _check_tensor(tensor)
    mop = _red_op(op, tensor.dtype)
    ctx = _begin(group, "all_reduce", [tensor], f", op={ReduceOp.RedOpType(int(op)).name}")
    if ctx is None:
        return None
    buf = _Buf(tensor, reduce=True)
    _go(ctx)
    req = ctx[0].comm.Iallreduce(_mpi().IN_PLACE, buf.spec, mop)
    return _run(ctx, [req], async_op, _finish_all(_average(buf, ctx[0], op), buf.write_back), [tensor])


class PreparedAllReduce:
    """``all_reduce(tensor, SUM, group, async_op=True)`` with the checks, MPI buffer and
    description made once (DDP's buckets start one per bucket per iteration)."""

    def __init__(self, tensor: gc.Tensor, group: ProcessGroup) -> None:
        _check_tensor(tensor)
        self.tensor, self.pg = tensor, group
        self.mop = _red_op(ReduceOp.SUM, tensor.dtype)
        self.buf = _Buf(tensor, reduce=True)
        self.desc, self.fp = _describe("all_reduce", [tensor], ", op=SUM")

    def start(self) -> Work:
        if self.buf.staged:  # a half-precision bucket: staged through float32 each time
            w = all_reduce(self.tensor, group=self.pg, async_op=True)
            assert w is not None
            return w
        seq = _next_seq(self.pg, self.fp)
        req = self.pg.comm.Iallreduce(_mpi().IN_PLACE, self.buf.spec, self.mop)
        return Work(self.pg, [req], seq, self.desc, None, [self.tensor])


def reduce(tensor: gc.Tensor, dst: Optional[int] = None, op: Any = ReduceOp.SUM, group: Any = None,
           async_op: bool = False, group_dst: Optional[int] = None) -> Optional[Work]:
    """Reduces tensor over the group into rank dst's tensor."""
    _check_tensor(tensor)
    mop = _red_op(op, tensor.dtype)
    ctx = _begin(group, "reduce", [tensor], f", op={ReduceOp.RedOpType(int(op)).name}")
    if ctx is None:
        return None
    pg = ctx[0]
    root = _group_rank(pg, "dst", dst, group_dst, "reduce")
    buf = _Buf(tensor, reduce=True)
    if pg.rank() == root:
        _go(ctx)
        req = pg.comm.Ireduce(_mpi().IN_PLACE, buf.spec, mop, root)
        return _run(ctx, [req], async_op, _finish_all(_average(buf, pg, op), buf.write_back), [tensor])
    _go(ctx)
    req = pg.comm.Ireduce(buf.spec, None, mop, root)
    return _run(ctx, [req], async_op, None, [tensor], [buf])


def broadcast(tensor: gc.Tensor, src: Optional[int] = None, group: Any = None, async_op: bool = False,
              group_src: Optional[int] = None) -> Optional[Work]:
    """Copies rank src's tensor into every rank's tensor."""
    _check_tensor(tensor)
    ctx = _begin(group, "broadcast", [tensor])
    if ctx is None:
        return None
    root = _group_rank(ctx[0], "src", src, group_src, "broadcast")
    buf = _Buf(tensor)
    _go(ctx)
    req = ctx[0].comm.Ibcast(buf.spec, root)
    return _run(ctx, [req], async_op, buf.write_back, [tensor])


def _check_same(op_name: str, what: str, ts: Sequence[gc.Tensor], like: gc.Tensor) -> None:
    for i, t in enumerate(ts):
        if t.dtype != like.dtype:
            raise RuntimeError(f"{op_name}: invalid tensor type at index {i} (expected {like.dtype}, got {t.dtype})")
        if tuple(t.shape) != tuple(like.shape):
            raise RuntimeError(f"{op_name}: invalid tensor size at index {i} (expected "
                               f"({', '.join(map(str, like.shape))}), got ({', '.join(map(str, t.shape))}))")


def _check_root_list(pg: ProcessGroup, op_name: str, arg: str, role: str, ts: Optional[List[gc.Tensor]],
                     like: gc.Tensor) -> List[gc.Tensor]:
    """gather's gather_list / scatter's scatter_list on the root: one tensor like `like` per rank."""
    if not ts:
        raise ValueError(f"Argument ``{arg}`` must be specified on {role} rank.")
    _check_tensor_list(ts, arg)
    if len(ts) != pg.size():
        raise RuntimeError(f"{op_name}: invalid tensor list (expected length {pg.size()}, got {len(ts)})")
    _check_same(op_name, arg, ts, like)
    return ts


def _unflatten_into(flat: gc.Tensor, outs: Sequence[gc.Tensor]) -> Callable[[], None]:
    def run() -> None:
        with gc.no_grad():
            chunks = flat.view(len(outs), -1) if outs else flat
            for i, o in enumerate(outs):
                o.detach().copy_(chunks[i].view(o.shape))
    return run


def all_gather(tensor_list: List[gc.Tensor], tensor: gc.Tensor, group: Any = None,
               async_op: bool = False) -> Optional[Work]:
    """tensor_list[r] = rank r's tensor, on every rank."""
    _check_tensor_list(tensor_list, "tensor_list")
    _check_tensor(tensor)
    ctx = _begin(group, "all_gather", [tensor])
    if ctx is None:
        return None
    pg = ctx[0]
    if len(tensor_list) != pg.size():
        raise RuntimeError(f"all_gather: invalid output tensor list at index 0 (expected length {pg.size()}, "
                           f"got {len(tensor_list)})")
    _check_same("all_gather", "output", tensor_list, tensor)
    flat, spec = _flat(tensor.numel() * pg.size(), tensor.dtype)
    ib = _Buf(tensor)
    _go(ctx)
    req = pg.comm.Iallgather(ib.spec, spec)
    return _run(ctx, [req], async_op, _unflatten_into(flat, tensor_list), tensor_list, [ib])


def all_gather_into_tensor(output_tensor: gc.Tensor, input_tensor: gc.Tensor, group: Any = None,
                           async_op: bool = False) -> Optional[Work]:
    """Concatenates (or stacks) every rank's input_tensor into output_tensor."""
    _check_tensor(output_tensor, "output_tensor")
    _check_tensor(input_tensor, "input_tensor")
    ctx = _begin(group, "all_gather_into_tensor", [input_tensor])
    if ctx is None:
        return None
    pg = ctx[0]
    if output_tensor.dtype != input_tensor.dtype:
        raise RuntimeError("all_gather_into_tensor: output tensor must have the same type as input tensor")
    if output_tensor.numel() != input_tensor.numel() * pg.size():
        raise RuntimeError("all_gather_into_tensor: output tensor size must be equal to world_size times input "
                           f"tensor size (output {list(output_tensor.shape)}, input {list(input_tensor.shape)}, "
                           f"world_size {pg.size()})")
    out = _Buf(output_tensor)
    ib = _Buf(input_tensor)
    _go(ctx)
    req = pg.comm.Iallgather(ib.spec, out.spec)
    return _run(ctx, [req], async_op, out.write_back, [output_tensor], [ib])


def reduce_scatter_tensor(output: gc.Tensor, input: gc.Tensor, op: Any = ReduceOp.SUM, group: Any = None,  # noqa: A002
                          async_op: bool = False) -> Optional[Work]:
    """Reduces input over the group and leaves rank r the r-th of world_size equal chunks."""
    _check_tensor(output, "output")
    _check_tensor(input, "input")
    mop = _red_op(op, input.dtype)
    ctx = _begin(group, "reduce_scatter_tensor", [input], f", op={ReduceOp.RedOpType(int(op)).name}")
    if ctx is None:
        return None
    pg = ctx[0]
    if output.dtype != input.dtype:
        raise RuntimeError("reduce_scatter_tensor: input tensor must have the same type as output tensor")
    if output.numel() * pg.size() != input.numel():
        raise RuntimeError("reduce_scatter_tensor: input tensor must be the same size as output size times world "
                           f"size (input {list(input.shape)}, output {list(output.shape)}, world_size {pg.size()})")
    out = _Buf(output, reduce=True)
    ib = _Buf(input, reduce=True)
    _go(ctx)
    req = pg.comm.Ireduce_scatter_block(ib.spec, out.spec, mop)
    return _run(ctx, [req], async_op, _finish_all(_average(out, pg, op), out.write_back), [output], [ib])


def all_to_all_single(output: gc.Tensor, input: gc.Tensor, output_split_sizes: Optional[List[int]] = None,  # noqa: A002
                      input_split_sizes: Optional[List[int]] = None, group: Any = None,
                      async_op: bool = False) -> Optional[Work]:
    """Splits input along dim 0 (equally, or by input_split_sizes), sends the r-th piece to
    rank r, and concatenates what arrives into output (by output_split_sizes)."""
    _check_tensor(output, "output")
    _check_tensor(input, "input")
    ctx = _begin(group, "all_to_all_single", [input])
    if ctx is None:
        return None
    pg = ctx[0]
    n = pg.size()
    if output.dtype != input.dtype:
        raise RuntimeError("all_to_all_single: input and output must have the same dtype")

    def counts(t: gc.Tensor, splits: Optional[List[int]], what: str) -> Tuple[List[int], List[int]]:
        rows = t.shape[0] if t.dim() else 1
        row = t.numel() // rows if rows else 0
        if splits is None or len(splits) == 0:
            if rows % n:
                raise ValueError(f"all_to_all_single: the {what} tensor's first dimension ({rows}) must be "
                                 f"divisible by the world size ({n}) when no split sizes are given")
            splits = [rows // n] * n
        if len(splits) != n or sum(splits) != rows or any(s < 0 for s in splits):
            raise ValueError(f"all_to_all_single: {what}_split_sizes {list(splits)} must have {n} non-negative "
                             f"entries summing to the {what} tensor's first dimension ({rows})")
        c = [int(s) * row for s in splits]
        return c, [sum(c[:i]) for i in range(n)]

    sc, sd = counts(input, input_split_sizes, "input")
    rc, rd = counts(output, output_split_sizes, "output")
    if (input_split_sizes is None and output_split_sizes is None) and input.numel() != output.numel():
        raise RuntimeError(f"all_to_all_single: input ({list(input.shape)}) and output ({list(output.shape)}) "
                           "must have the same number of elements")
    ib, ob = _Buf(input), _Buf(output)
    _go(ctx)
    req = pg.comm.Ialltoallv([ib.spec[0], (sc, sd), ib.spec[1]], [ob.spec[0], (rc, rd), ob.spec[1]])
    return _run(ctx, [req], async_op, ob.write_back, [output], [ib])


def gather(tensor: gc.Tensor, gather_list: Optional[List[gc.Tensor]] = None, dst: Optional[int] = None,
           group: Any = None, async_op: bool = False, group_dst: Optional[int] = None) -> Optional[Work]:
    """gather_list[r] = rank r's tensor, on rank dst only."""
    _check_tensor(tensor)
    ctx = _begin(group, "gather", [tensor])
    if ctx is None:
        return None
    pg = ctx[0]
    root = _group_rank(pg, "dst", dst, group_dst, "gather")
    if pg.rank() == root:
        gather_list = _check_root_list(pg, "gather", "gather_list", "destination", gather_list, tensor)
        flat, spec = _flat(tensor.numel() * pg.size(), tensor.dtype)
        ib = _Buf(tensor)
        _go(ctx)
        req = pg.comm.Igather(ib.spec, spec, root)
        return _run(ctx, [req], async_op, _unflatten_into(flat, gather_list), gather_list, [ib])
    if gather_list:
        raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination ranks.")
    ib = _Buf(tensor)
    _go(ctx)
    req = pg.comm.Igather(ib.spec, None, root)
    return _run(ctx, [req], async_op, keep=[ib])


def scatter(tensor: gc.Tensor, scatter_list: Optional[List[gc.Tensor]] = None, src: Optional[int] = None,
            group: Any = None, async_op: bool = False, group_src: Optional[int] = None) -> Optional[Work]:
    """Rank r's tensor = scatter_list[r] of rank src."""
    _check_tensor(tensor)
    ctx = _begin(group, "scatter", [tensor])
    if ctx is None:
        return None
    pg = ctx[0]
    root = _group_rank(pg, "src", src, group_src, "scatter")
    out = _Buf(tensor)
    if pg.rank() == root:
        scatter_list = _check_root_list(pg, "scatter", "scatter_list", "source", scatter_list, tensor)
        flat = gc.stack([t.detach().reshape(-1) for t in scatter_list]).reshape(-1)
        ib = _Buf(flat)
        _go(ctx)
        req = pg.comm.Iscatter(ib.spec, out.spec, root)
        return _run(ctx, [req], async_op, out.write_back, [tensor], [ib])
    if scatter_list:
        raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source ranks.")
    _go(ctx)
    req = pg.comm.Iscatter(None, out.spec, root)
    return _run(ctx, [req], async_op, out.write_back, [tensor])


def barrier(group: Any = None, async_op: bool = False, device_ids: Any = None,
            timeout: Optional[datetime.timedelta] = None) -> Optional[Work]:
    """Returns when every rank of the group has entered it."""
    ctx = _begin(group, "barrier", [])
    if ctx is None:
        return None
    _go(ctx)
    work = Work(ctx[0], [ctx[0].comm.Ibarrier()], ctx[1], ctx[2])
    if async_op:
        return work
    work.wait(timeout)
    return None


def monitored_barrier(group: Any = None, timeout: Optional[datetime.timedelta] = None,
                      wait_all_ranks: bool = False) -> None:
    """A barrier whose timeout names the ranks that did not arrive (every barrier here does)."""
    barrier(group, timeout=timeout)


# ---------------------------------------------------------------------------------------------
# Objects (encoded by _codec.py: basic values, arrays and tensors; PyTorch pickles them)


def _bytes_tensor(data: bytes) -> gc.Tensor:
    return gc.from_numpy(np.frombuffer(data, dtype=np.uint8).copy()) if data else gc.empty(0, dtype=gc.uint8)


def broadcast_object_list(object_list: List[Any], src: Optional[int] = None, group: Any = None, device: Any = None,
                          group_src: Optional[int] = None) -> None:
    """Replaces object_list's items on every rank by rank src's (see _codec.py for the types)."""
    pg = _resolve(group)
    if pg is GroupMember.NON_GROUP_MEMBER:
        return
    root = _group_rank(pg, "src", src, group_src, "broadcast_object_list")
    me = pg.rank() == root
    payload = [encode(o) for o in object_list] if me else []
    sizes = gc.tensor([len(p) for p in payload] if me else [0] * len(object_list), dtype=gc.int64)
    broadcast(sizes, group=pg, group_src=root)
    data = _bytes_tensor(b"".join(payload)) if me else gc.empty(int(sizes.sum().item()), dtype=gc.uint8)
    broadcast(data, group=pg, group_src=root)
    if not me:
        raw = data.numpy().tobytes()
        off = 0
        for i, n in enumerate(sizes.tolist()):
            object_list[i] = decode(raw[off:off + n])
            off += n


def _gather_bytes(pg: ProcessGroup, obj: Any, root: Optional[int]) -> Optional[List[bytes]]:
    """Every rank's encoded obj, on every rank (root None) or on root only."""
    mine = encode(obj)
    n = pg.size()
    sizes = gc.zeros(n, dtype=gc.int64)
    all_gather_into_tensor(sizes, gc.tensor([len(mine)], dtype=gc.int64), group=pg)
    counts = [int(s) for s in sizes.tolist()]
    ctx = _begin(pg, "gather_object" if root is not None else "all_gather_object", [sizes])
    assert ctx is not None
    flat, spec = _flat(sum(counts), gc.uint8)
    recv = [spec[0], (counts, [sum(counts[:i]) for i in range(n)]), spec[1]]
    sb = _Buf(_bytes_tensor(mine))
    send = sb.spec
    _go(ctx)
    if root is None:
        req = pg.comm.Iallgatherv(send, recv)
    else:
        req = pg.comm.Igatherv(send, recv if pg.rank() == root else None, root)
    _run(ctx, [req], False, keep=[sb])
    if root is not None and pg.rank() != root:
        return None
    raw = flat.numpy().tobytes()
    return [raw[sum(counts[:i]):sum(counts[:i + 1])] for i in range(n)]


def all_gather_object(object_list: List[Any], obj: Any, group: Any = None) -> None:
    """object_list[r] = rank r's obj (see _codec.py), on every rank; object_list has the group's size."""
    pg = _resolve(group)
    if pg is GroupMember.NON_GROUP_MEMBER:
        return
    got = _gather_bytes(pg, obj, None)
    assert got is not None
    for i, b in enumerate(got):
        object_list[i] = decode(b)


def gather_object(obj: Any, object_gather_list: Optional[List[Any]] = None, dst: Optional[int] = None,
                  group: Any = None, group_dst: Optional[int] = None) -> None:
    """object_gather_list[r] = rank r's obj, on rank dst (None elsewhere)."""
    pg = _resolve(group)
    if pg is GroupMember.NON_GROUP_MEMBER:
        return
    root = _group_rank(pg, "dst", dst, group_dst, "gather_object")
    if pg.rank() == root and object_gather_list is None:
        raise ValueError("Argument ``gather_obj_list`` must be specified on destination rank.")
    got = _gather_bytes(pg, obj, root)
    if got is not None and object_gather_list is not None:
        for i, b in enumerate(got):
            object_gather_list[i] = decode(b)


def scatter_object_list(scatter_object_output_list: List[Any], scatter_object_input_list: Optional[List[Any]] = None,
                        src: Optional[int] = None, group: Any = None, group_src: Optional[int] = None) -> None:
    """scatter_object_output_list[0] = rank src's scatter_object_input_list[rank]."""
    if not isinstance(scatter_object_output_list, list) or len(scatter_object_output_list) < 1:
        raise ValueError("Expected argument scatter_object_output_list to be a list of size at least 1.")
    pg = _resolve(group)
    if pg is GroupMember.NON_GROUP_MEMBER:
        return
    root = _group_rank(pg, "src", src, group_src, "scatter_object_list")
    items: List[Any] = list(scatter_object_input_list or []) if pg.rank() == root else [None] * pg.size()
    if pg.rank() == root and len(items) != pg.size():
        raise ValueError(f"scatter_object_list: scatter_object_input_list must have {pg.size()} items")
    broadcast_object_list(items, group=pg, group_src=root)
    scatter_object_output_list[0] = items[pg.rank()]


# ---------------------------------------------------------------------------------------------
# Point to point


def _peer(pg: ProcessGroup, what: str, global_rank: Optional[int], group_rank: Optional[int]) -> int:
    if global_rank is None and group_rank is None:
        return -1 if what == "src" else _group_rank(pg, what, None, None, "send")
    r = _group_rank(pg, what, global_rank, group_rank, "send" if what == "dst" else "recv")
    if r == pg.rank():
        if what == "dst":
            raise ValueError("Invalid destination rank: destination rank should not be the same as the rank of "
                             "the current process.")
        raise ValueError("Invalid source rank: source rank should not be the same as the rank of the current process.")
    return r


def isend(tensor: gc.Tensor, dst: Optional[int] = None, group: Any = None, tag: int = 0,
          group_dst: Optional[int] = None) -> Optional[Work]:
    """Starts sending tensor to rank dst; the Work's wait() returns once it may be reused."""
    _check_tensor(tensor)
    pg = _resolve(group)
    if pg is GroupMember.NON_GROUP_MEMBER:
        return None
    peer = _peer(pg, "dst", dst, group_dst)
    buf = _Buf(tensor)
    req = pg.comm.Isend(buf.spec, dest=peer, tag=tag)
    return Work(pg, [req], pg.seq, f"send(shape={list(tensor.shape)}, to rank {pg.ranks[peer]}, tag {tag})", None, [buf])


def irecv(tensor: gc.Tensor, src: Optional[int] = None, group: Any = None, tag: int = 0,
          group_src: Optional[int] = None) -> Optional[Work]:
    """Starts receiving into tensor from rank src (any rank when None)."""
    _check_tensor(tensor)
    pg = _resolve(group)
    if pg is GroupMember.NON_GROUP_MEMBER:
        return None
    MPI = _mpi()
    peer = _peer(pg, "src", src, group_src)
    buf = _Buf(tensor)
    status = MPI.Status()
    req = pg.comm.Irecv(buf.spec, source=MPI.ANY_SOURCE if peer < 0 else peer, tag=tag)
    work = Work(pg, [req], pg.seq, f"recv(shape={list(tensor.shape)}, from "
                f"{'any rank' if peer < 0 else f'rank {pg.ranks[peer]}'}, tag {tag})")

    def finish() -> None:
        buf.write_back()
        work._source = pg.ranks[status.Get_source()] if peer < 0 else pg.ranks[peer]
    work._finish = finish
    # Keep the status of the completed receive: it names the sender.
    work._reqs = [_StatusRequest(req, status)]
    return work


class _StatusRequest:
    """An MPI request whose completion status is kept (irecv from any source)."""

    def __init__(self, req: Any, status: Any) -> None:
        self.req, self.status = req, status

    def Test(self) -> bool:  # noqa: N802 (mpi4py's spelling)
        return bool(self.req.Test(self.status))


def send(tensor: gc.Tensor, dst: Optional[int] = None, group: Any = None, tag: int = 0,
         group_dst: Optional[int] = None) -> None:
    """Sends tensor to rank dst and returns once its memory may be reused."""
    w = isend(tensor, dst, group, tag, group_dst)
    if w is not None:
        w.wait()


def recv(tensor: gc.Tensor, src: Optional[int] = None, group: Any = None, tag: int = 0,
         group_src: Optional[int] = None) -> int:
    """Receives into tensor from rank src (any when None); returns the sender's global rank."""
    w = irecv(tensor, src, group, tag, group_src)
    if w is None:
        return -1
    return w.source_rank()

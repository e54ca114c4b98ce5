"""Higher-level differentiation of functions: ``vjp``, ``jvp``, ``jacobian``, ``hessian``, ``hvp``.

The conventions follow ``torch.autograd.functional`` (``jvp`` takes ``(primals, tangents)``
like ``torch.func.jvp``):

- ``primals``/``x`` is a Tensor or a tuple of Tensors; results mirror it (a Tensor for a
  Tensor, a tuple for a tuple). The same holds for the function's output(s).
- ``vjp``, ``jvp`` and ``hvp`` return ``(outputs, result)``; ``jacobian`` and ``hessian``
  return the matrix alone, shaped ``output.shape + input.shape``.
- Results are detached unless ``create_graph=True``, which records them so they can be
  differentiated again.
- An input the output does not depend on gets zeros.

``jvp`` runs forward mode: one forward pass with dual tensors, every op applying its
forward-mode rule. ``vjp`` runs one reverse pass. ``jacobian(mode="rev")`` runs one reverse
pass per output element, ``mode="fwd"`` one forward pass per input element — pick the
mode by which side is smaller. ``hessian`` and ``hvp`` differentiate the gradient again
(double backward).
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

from gradcore import _core
from gradcore._core import Tensor
from gradcore.autograd import forward_ad, set_grad_enabled

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]

Tensors = Union[Tensor, Sequence[Tensor]]


def _tuple(x: Any, what: str, fn_name: str) -> Tuple[Tuple[Tensor, ...], bool]:
    """(tuple of tensors, was_tuple)."""
    if isinstance(x, Tensor):
        return (x,), False
    if isinstance(x, (tuple, list)):
        for i, t in enumerate(x):
            if not isinstance(t, Tensor):
                raise TypeError(f"{fn_name}: {what}[{i}] must be a Tensor, got {type(t).__name__}")
        return tuple(x), True
    raise TypeError(f"{fn_name}: {what} must be a Tensor or a tuple of Tensors, got {type(x).__name__}")


def _untuple(xs: Sequence[Any], was_tuple: bool) -> Any:
    return tuple(xs) if was_tuple else xs[0]


def _prepare_inputs(inputs: Tuple[Tensor, ...], create_graph: bool) -> Tuple[Tensor, ...]:
    """Inputs that require grad: fresh leaves, or (create_graph) views keeping the caller's graph."""
    out = []
    for x in inputs:
        if create_graph and x.requires_grad:
            out.append(x.reshape(tuple(x.shape)))
        else:
            out.append(x.detach().requires_grad_(True))
    return tuple(out)


def _call(func: Callable[..., Any], inputs: Tuple[Tensor, ...], fn_name: str) -> Tuple[Tuple[Tensor, ...], bool]:
    res = func(*inputs)
    outs, was_tuple = _tuple(res, "the function's output", fn_name)
    return outs, was_tuple


def _check_like(vs: Tuple[Tensor, ...], refs: Tuple[Tensor, ...], what: str, ref_what: str, fn_name: str) -> None:
    if len(vs) != len(refs):
        raise ValueError(f"{fn_name}: got {len(vs)} {what} for {len(refs)} {ref_what}")
    for i, (v, r) in enumerate(zip(vs, refs)):
        if tuple(v.shape) != tuple(r.shape):
            raise ValueError(f"{fn_name}: {what}[{i}] has shape {tuple(v.shape)} but {ref_what}[{i}] has shape "
                             f"{tuple(r.shape)}")
        if v.dtype != r.dtype:
            raise TypeError(f"{fn_name}: {what}[{i}] has dtype {v.dtype} but {ref_what}[{i}] has dtype {r.dtype}")


def _default_vectors(refs: Tuple[Tensor, ...], what: str, fn_name: str) -> Tuple[Tensor, ...]:
    for r in refs:
        if r.numel() != 1:
            raise RuntimeError(f"{fn_name}: {what} can be omitted only when every entry has a single element "
                               f"(got shape {tuple(r.shape)})")
    return tuple(_core.ones_like(r) for r in refs)


def _vectors_like(vs: Optional[Tensors], refs: Tuple[Tensor, ...], what: str, ref_what: str,
                  fn_name: str) -> Tuple[Tensor, ...]:
    """The direction vectors given for ``refs`` (checked), or ones when omitted for 1-element refs."""
    if vs is None:
        return _default_vectors(refs, what, fn_name)
    out, _ = _tuple(vs, what, fn_name)
    _check_like(out, refs, what, ref_what, fn_name)
    return out


def _finish(t: Optional[Tensor], like: Tensor, create_graph: bool) -> Tensor:
    if t is None:
        return _core.zeros_like(like)
    return t if create_graph else t.detach()


def _grads(outputs: Sequence[Tensor], inputs: Sequence[Tensor], grad_outputs: Sequence[Tensor],
           create_graph: bool, retain_graph: bool) -> List[Optional[Tensor]]:
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not pairs:
        return [None] * len(inputs)
    return list(_core.grad([o for o, _ in pairs], list(inputs), [g for _, g in pairs], retain_graph, create_graph,
                           True))


def vjp(f: Callable[..., Any], primals: Tensors, cotangents: Optional[Tensors] = None,
        create_graph: bool = False) -> Tuple[Any, Any]:
    """Vector-Jacobian product ``v^T J`` of ``f`` at ``primals``, by one reverse pass.

    Returns ``(f(*primals), vjp)``; ``vjp`` has the primals' structure. ``cotangents``
    has the outputs' structure (may be omitted for a single-element output).
    """
    inputs, in_tuple = _tuple(primals, "primals", "vjp")
    xs = _prepare_inputs(inputs, create_graph)
    with set_grad_enabled(True):
        outs, out_tuple = _call(f, xs, "vjp")
    vs = _vectors_like(cotangents, outs, "cotangents", "outputs", "vjp")
    grads = _grads(outs, xs, vs, create_graph, create_graph)
    res = [_finish(g, x, create_graph) for g, x in zip(grads, xs)]
    outs_r = [o if create_graph else o.detach() for o in outs]
    return _untuple(outs_r, out_tuple), _untuple(res, in_tuple)


def jvp(f: Callable[..., Any], primals: Tensors, tangents: Optional[Tensors] = None,
        create_graph: bool = False) -> Tuple[Any, Any]:
    """Jacobian-vector product ``J v`` of ``f`` at ``primals``, by one forward-mode pass.

    Each primal becomes a dual tensor carrying its tangent; every op propagates tangents
    with its forward-mode rule. Returns ``(f(*primals), jvp)``; ``jvp`` has the outputs'
    structure. ``tangents`` has the primals' structure (may be omitted when every primal
    has a single element).
    """
    inputs, _ = _tuple(primals, "primals", "jvp")
    ts = _vectors_like(tangents, inputs, "tangents", "primals", "jvp")
    with forward_ad.dual_level():
        duals = tuple(forward_ad.make_dual(x if create_graph else x.detach(), t) for x, t in zip(inputs, ts))
        with set_grad_enabled(create_graph or _core.is_grad_enabled()):
            outs, out_tuple = _call(f, duals, "jvp")
        prims, tans = [], []
        for o in outs:
            p, t = forward_ad.unpack_dual(o)
            prims.append(p if create_graph else p.detach())
            tans.append(_finish(t, o, create_graph))
    return _untuple(prims, out_tuple), _untuple(tans, out_tuple)


def _one_hot(like: Tensor, i: int) -> Tensor:
    e = _core.zeros_like(like)
    e.detach().numpy().reshape(-1)[i] = 1.0
    return e


def _check_mode(mode: str) -> str:
    if mode not in ("rev", "fwd"):
        raise ValueError(f"jacobian: mode must be 'rev' or 'fwd', got {mode!r}")
    return mode


def jacobian(f: Callable[..., Any], x: Tensors, create_graph: bool = False, mode: str = "rev") -> Any:
    """The Jacobian of ``f`` at ``x``, shaped ``output.shape + input.shape``.

    ``mode="rev"``: one reverse pass per output element (best when outputs are few);
    ``mode="fwd"``: one forward-mode pass per input element (best when inputs are few).
    For several inputs/outputs the result is nested like ``torch.autograd.functional.jacobian``:
    ``J[i][j]`` is d output i / d input j (one level dropped where f takes or returns a
    single Tensor).
    """
    _check_mode(mode)
    func = f
    ins, in_tuple = _tuple(x, "x", "jacobian")
    # J[i][j] as (out_i.numel, in_j.numel) blocks, reshaped at the end.
    if mode == "rev":
        xs = _prepare_inputs(ins, create_graph)
        with set_grad_enabled(True):
            outs, out_tuple = _call(func, xs, "jacobian")
        blocks: List[List[List[Tensor]]] = []
        for o in outs:
            rows: List[List[Tensor]] = [[] for _ in xs]
            for r in range(o.numel()):
                g = _grads([o], xs, [_one_hot(o, r)], create_graph, True)
                for j, xj in enumerate(xs):
                    rows[j].append(_finish(g[j], xj, create_graph).reshape(-1))
            blocks.append(rows)
        jac = [[_stack_rows(blocks[i][j], outs[i], xs[j]) for j in range(len(xs))] for i in range(len(outs))]
    else:
        outs_ref: Optional[Tuple[Tensor, ...]] = None
        cols: List[List[List[Tensor]]] = []  # [input j][output i] -> list of columns
        out_tuple = False
        for j, xj in enumerate(ins):
            per_out: Optional[List[List[Tensor]]] = None
            for c in range(xj.numel()):
                ts = tuple(_one_hot(xj, c) if k == j else _core.zeros_like(x2) for k, x2 in enumerate(ins))
                o, t = jvp(func, ins, ts, create_graph)
                o_t, out_tuple = (o, True) if isinstance(o, tuple) else ((o,), False)
                t_t = t if isinstance(t, tuple) else (t,)
                outs_ref = o_t
                if per_out is None:
                    per_out = [[] for _ in t_t]
                for i, ti in enumerate(t_t):
                    per_out[i].append(ti.reshape(-1))
            if per_out is None:  # an empty input: learn the outputs with one call
                o = func(*ins)
                o_t, out_tuple = (o, True) if isinstance(o, tuple) else ((o,), False)
                outs_ref = o_t
                per_out = [[] for _ in o_t]
            cols.append(per_out)
        assert outs_ref is not None
        outs = outs_ref
        jac = [[_stack_cols(cols[j][i], outs[i], ins[j]) for j in range(len(ins))] for i in range(len(outs))]
    rows_out = [_untuple(row, in_tuple) for row in jac]
    return _untuple(rows_out, out_tuple)


def _stack_rows(rows: List[Tensor], out: Tensor, x: Tensor) -> Tensor:
    shape = tuple(out.shape) + tuple(x.shape)
    if not rows:
        return _core.zeros(shape, dtype=x.dtype)
    return _stack(rows).reshape(shape)


def _stack_cols(cols: List[Tensor], out: Tensor, x: Tensor) -> Tensor:
    shape = tuple(out.shape) + tuple(x.shape)
    if not cols or out.numel() == 0:
        return _core.zeros(shape, dtype=out.dtype)
    return _stack(cols).transpose(0, 1).reshape(shape)


def _stack(ts: List[Tensor]) -> Tensor:
    """Stack 1-D tensors into rows (differentiable: each row is a reshaped sum of placements)."""
    if not any(t.requires_grad for t in ts):
        return _core.tensor(np.stack([np.asarray(t.detach().numpy()) for t in ts]), dtype=ts[0].dtype)
    n, m = len(ts), ts[0].numel()
    out: Optional[Tensor] = None
    for i, t in enumerate(ts):  # create_graph only: row i placed by an outer product with e_i
        e = _core.zeros((n, 1), dtype=t.dtype)
        e.detach().numpy()[i, 0] = 1.0
        term = _core.matmul(e, t.reshape(1, m))
        out = term if out is None else out + term
    assert out is not None
    return out


def hessian(f: Callable[..., Any], x: Tensors, create_graph: bool = False) -> Any:
    """The Hessian of a scalar function, shaped ``input.shape + input.shape``.

    Computed by double backward: the gradient is recorded (create_graph) and each of its
    elements differentiated again. ``f`` must return a single one-element Tensor
    (``RuntimeError`` otherwise). Several inputs give ``H[i][j]`` blocks.
    """
    ins, in_tuple = _tuple(x, "x", "hessian")

    def grad_fn(*xs: Tensor) -> Any:
        out = f(*xs)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError("hessian: the function must return a single Tensor with one element")
        if not out.requires_grad:
            return tuple(_core.zeros_like(x) for x in xs)
        g = _core.grad([out], list(xs), None, True, True, True)
        return tuple(gi if gi is not None else _core.zeros_like(xi) for gi, xi in zip(g, xs))

    jac = jacobian(grad_fn, tuple(ins), create_graph=create_graph, mode="rev")
    # jac[i][j] = d grad_i / d x_j
    if in_tuple:
        return tuple(tuple(row) for row in jac)
    return jac[0][0]


def hvp(f: Callable[..., Any], x: Tensors, v: Optional[Tensors] = None,
        create_graph: bool = False) -> Tuple[Any, Any]:
    """Hessian-vector product ``H v`` of a scalar function, by double backward.

    Returns ``(f(*x), H v)``; ``v`` has ``x``' structure (may be omitted
    when every input has one element).
    """
    ins, in_tuple = _tuple(x, "x", "hvp")
    vs = _vectors_like(v, ins, "v", "x", "hvp")
    xs = _prepare_inputs(ins, create_graph)
    with set_grad_enabled(True):
        out = f(*xs)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError("hvp: the function must return a single Tensor with one element")
        if not out.requires_grad:
            res = [_core.zeros_like(xi) for xi in xs]
            return (out if create_graph else out.detach()), _untuple(res, in_tuple)
        g = _core.grad([out], list(xs), None, True, True, True)
        pairs = [(gi, vi) for gi, vi in zip(g, vs) if gi is not None and gi.requires_grad]
        if pairs:
            hv = _core.grad([p for p, _ in pairs], list(xs), [q for _, q in pairs], create_graph, create_graph, True)
        else:
            hv = tuple(None for _ in xs)
    res = [_finish(h, xi, create_graph) for h, xi in zip(hv, xs)]
    return (out if create_graph else out.detach()), _untuple(res, in_tuple)


def vhp(f: Callable[..., Any], x: Tensors, v: Optional[Tensors] = None,
        create_graph: bool = False) -> Tuple[Any, Any]:
    """``v^T H`` (equal to ``H v``: the Hessian is symmetric). Same conventions as :func:`hvp`."""
    return hvp(f, x, v, create_graph)

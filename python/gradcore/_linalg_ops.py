"""Products built on matmul (issue 12, linalg12): addmm, addmv, addr, baddbmm, mv, dot, vdot,
outer/ger, inner, tensordot, einsum, kron, chain_matmul; and matmul / mm / bmm for integer operands.

Each is a composition of differentiable ops (views, reshapes, matmul, mul, sum), so gradients,
forward mode and create_graph come from those ops. The products all reach gradcore's GEMM
through ``matmul`` (batched over broadcast batch dims, transposed views as flags, see Note
[Batched matmul] in csrc/autograd/ops/linalg.cpp); nothing here loops over elements or batch
entries. ``einsum`` plans an equation once per (equation, operand shapes) and then runs the
plan: diagonals, early sums, and a left-to-right chain of pairwise contractions, each one
permute/reshape + one matmul.

Integer operands: gradcore's GEMM is floating point, so two integer operands take
:func:`_int_mm`, a broadcast multiply and a sum in exact integer arithmetic (products wrap
in the operands' dtype, sums in int64, the result is cast back: the same residues mod 2^bits
as PyTorch's wrapping integer GEMM; no float round trip). Every product here reaches it
through ``matmul`` / ``mm`` / ``bmm``, so integer ``einsum``, ``tensordot``, ``dot``, ``mv``,
``addmm``, ... give PyTorch's values and dtypes. Floating operands go straight to the
compiled op.
"""
from __future__ import annotations

import functools
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from gradcore import _core
from gradcore._core import Tensor
from gradcore import _shape_ops

__all__ = ["addmm", "addmv", "addr", "baddbmm", "mv", "dot", "vdot", "outer", "ger", "inner", "tensordot",
           "einsum", "kron", "chain_matmul", "TENSOR_METHODS"]


# ---- integer matmul ----
_c_matmul, _c_mm, _c_bmm = _core.matmul, _core.mm, _core.bmm
_INT_DTYPES = (_core.int8, _core.uint8, _core.int16, _core.int32, _core.int64, _core.bool)

# Elements of the broadcast product held at once by _int_mm (bounds its temporary memory).
_INT_MM_BLOCK = 1 << 22


def _int_operands(a: Tensor, b: Tensor, kernel: str) -> None:
    if a.dtype != b.dtype:
        raise _core.DTypeError(f"expected m1 and m2 to have the same dtype, but got: {a.dtype} != {b.dtype}")
    if a.dtype == _core.bool:
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")


def _int_mm(a: Tensor, b: Tensor) -> Tensor:
    """a @ b for integer a (..., n, k) and b (..., k, p) of one dtype and batch shape: products
    in the dtype (wrapping), k-blocks summed in int64 (wrapping), cast back (wrapping); one
    block of k holds at most _INT_MM_BLOCK products."""
    dt = a.dtype
    batch = tuple(a.shape[:-2])
    n, k, p = a.shape[-2], a.shape[-1], b.shape[-1]
    nb = 1
    for s in batch:
        nb *= s
    acc = _core.zeros(batch + (n, p), dtype=_core.int64)
    kc = max(1, _INT_MM_BLOCK // max(1, nb * n * p))
    for k0 in range(0, k if nb * n * p else 0, kc):
        w = min(kc, k - k0)
        part = a.narrow(-1, k0, w).unsqueeze(-1) * b.narrow(-2, k0, w).unsqueeze(-3)  # (..., n, w, p)
        acc = acc + part.sum(-2)
    return acc if dt == _core.int64 else acc.to(dt)


def _int_matmul(a: Tensor, b: Tensor) -> Tensor:
    _int_operands(a, b, "dot" if a.dim() == 1 and b.dim() == 1 else "addmm_impl_cpu_")
    if a.dim() == 0 or b.dim() == 0:
        raise _core.ShapeError(f"both arguments to matmul need to be at least 1D, but they are {a.dim()}D and "
                               f"{b.dim()}D")
    a2 = a.unsqueeze(0) if a.dim() == 1 else a
    b2 = b.unsqueeze(-1) if b.dim() == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise _core.ShapeError(f"mat1 and mat2 shapes cannot be multiplied ({a2.shape[-2]}x{a2.shape[-1]} and "
                               f"{b2.shape[-2]}x{b2.shape[-1]}); matmul: {tuple(a.shape)} @ {tuple(b.shape)}")
    batch = tuple(_shape_ops.broadcast_shapes(tuple(a2.shape[:-2]), tuple(b2.shape[:-2])))
    r = _int_mm(a2.expand(*(batch + tuple(a2.shape[-2:]))), b2.expand(*(batch + tuple(b2.shape[-2:]))))
    if a.dim() == 1:
        r = r.squeeze(-2)
    if b.dim() == 1:
        r = r.squeeze(-1)
    return r


def _is_int_pair(a: Any, b: Any) -> bool:
    return (isinstance(a, Tensor) and isinstance(b, Tensor)
            and (a.dtype in _INT_DTYPES or b.dtype in _INT_DTYPES))


# The wrappers below call the compiled op first: it refuses integer and bool operands with a
# TypeError, and only then are the dtypes looked at (the floating path pays one Python call).
def matmul(input: Tensor, other: Tensor) -> Tensor:
    """The matrix product with broadcasting (1-D, 2-D, batched); floating operands use gradcore's
    GEMM, integer ones an exact integer product (the result wraps, as PyTorch's)."""
    try:
        out: Tensor = _c_matmul(input, other)
    except TypeError:
        if not _is_int_pair(input, other):
            raise
        return _int_matmul(input, other)
    return out


def _int_mm_checked(input: Tensor, mat2: Tensor, trans_a: bool, trans_b: bool) -> Tensor:
    _int_operands(input, mat2, "addmm_impl_cpu_")
    if input.dim() != 2 or mat2.dim() != 2:
        raise _core.ShapeError(f"mm: expected 2-D operands, got {tuple(input.shape)} and {tuple(mat2.shape)}")
    return _int_matmul(input.t() if trans_a else input, mat2.t() if trans_b else mat2)


def mm(input: Tensor, mat2: Tensor, *, trans_a: bool = False, trans_b: bool = False) -> Tensor:
    """The product of two 2-D tensors (integer dtypes included, as matmul); trans_a / trans_b
    multiply by the transpose of that operand (gradcore's extension, GEMM flags)."""
    try:
        if trans_a or trans_b:
            return _c_mm(input, mat2, trans_a=trans_a, trans_b=trans_b)
        return _c_mm(input, mat2)
    except TypeError:
        if not _is_int_pair(input, mat2):
            raise
        return _int_mm_checked(input, mat2, trans_a, trans_b)


def _int_bmm_checked(input: Tensor, mat2: Tensor) -> Tensor:
    _int_operands(input, mat2, "bmm")
    for name, t in (("batch1", input), ("batch2", mat2)):
        if t.dim() != 3:
            raise _core.ShapeError(f"{name} must be a 3D tensor")
    if mat2.shape[0] != input.shape[0] or mat2.shape[1] != input.shape[2]:
        raise _core.ShapeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                               f"[{input.shape[0]}, {input.shape[2]}] but got: [{mat2.shape[0]}, {mat2.shape[1]}].")
    return _int_mm(input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """The batched product of two 3-D tensors with one batch size (integer dtypes included)."""
    try:
        out: Tensor = _c_bmm(input, mat2)
    except TypeError:
        if not _is_int_pair(input, mat2):
            raise
        return _int_bmm_checked(input, mat2)
    return out


def _check_tensor(x: Any, op: str, arg: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{arg}' must be Tensor, not {type(x).__name__}")


def _scaled_add(op: str, input: Tensor, prod: Tensor, beta: Any, alpha: Any) -> Any:
    """beta * input + alpha * prod, input broadcast to prod's shape; beta == 0 ignores input's
    values (NaN and inf included), as PyTorch's."""
    _check_tensor(input, op, "input")
    if tuple(input.shape) != tuple(prod.shape):
        try:
            input = input.expand(*prod.shape)
        except (RuntimeError, ValueError):
            raise RuntimeError(f"{op}: the input of shape {list(input.shape)} cannot be broadcast to the product's "
                               f"shape {list(prod.shape)}") from None
    if input.dtype != prod.dtype:
        raise RuntimeError(f"{op}: expected the input and the product operands to have the same dtype, but got: "
                           f"{input.dtype} != {prod.dtype}")
    if prod.dtype == _core.bool or not prod.dtype.is_floating_point:
        for name, v in (("alpha", alpha), ("beta", beta)):
            if op == "addr" and isinstance(v, float):
                raise RuntimeError(f"For integral input tensors, argument {name} must not be a floating point number.")
        if prod.dtype == _core.bool:  # (beta and input) or (alpha and prod), as PyTorch's
            out = prod if alpha else _core.zeros_like(prod)
            return (out | input) if beta else out
        # the other products of integers take alpha and beta truncated to ints, as PyTorch's
        alpha, beta = int(alpha), int(beta)
    if alpha != 1:
        prod = prod * alpha
    if beta == 0:
        if input.requires_grad:
            # input's values are ignored, but it still takes part (a zero gradient, as PyTorch's)
            return _core.where(_core.zeros((), dtype=_core.bool), input, prod)
        return prod if alpha != 1 else prod * 1
    return prod + (input if beta == 1 else input * beta)


def _need_dim(x: Tensor, n: int, op: str, what: str) -> None:
    if x.dim() != n:
        raise RuntimeError(f"{op}: {what} must be a {n}-D tensor, got {x.dim()}-D of shape {list(x.shape)}")


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Any:
    """beta * input + alpha * (mat1 @ mat2) for 2-D mat1, mat2 (input broadcast)."""
    _check_tensor(mat1, "addmm", "mat1")
    _check_tensor(mat2, "addmm", "mat2")
    _need_dim(mat1, 2, "addmm", "mat1")
    _need_dim(mat2, 2, "addmm", "mat2")
    return _scaled_add("addmm", input, mm(mat1, mat2), beta, alpha)


def mv(input: Tensor, vec: Tensor) -> Any:
    """Matrix-vector product of a 2-D input and a 1-D vec."""
    _check_tensor(input, "mv", "input")
    _check_tensor(vec, "mv", "vec")
    if input.dim() != 2 or vec.dim() != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {vec.dim()}, {input.dim()}, {vec.dim()}")
    if input.shape[1] != vec.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({input.shape[0]}), mat ({input.shape[0]}x{input.shape[1]}), "
                           f"vec ({vec.shape[0]})")
    return matmul(input, vec)


def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Any:
    """beta * input + alpha * (mat @ vec)."""
    return _scaled_add("addmv", input, mv(mat, vec), beta, alpha)


def dot(input: Tensor, tensor: Tensor) -> Any:
    """The inner product of two 1-D tensors of the same size (0-dim result)."""
    _check_tensor(input, "dot", "input")
    _check_tensor(tensor, "dot", "tensor")
    if input.dim() != 1 or tensor.dim() != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.dim()}D and {tensor.dim()}D tensors")
    if input.dtype != tensor.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found {input.dtype} and "
                           f"{tensor.dtype}")
    if input.shape[0] != tensor.shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{input.shape[0]}] and src "
                           f"[{tensor.shape[0]}] to have the same number of elements, but got {input.shape[0]} "
                           f"and {tensor.shape[0]} elements respectively")
    return matmul(input, tensor)


def vdot(input: Tensor, other: Tensor) -> Any:
    """dot with the first argument conjugated: dot for real tensors (gradcore has no complex)."""
    return dot(input, other)


def outer(input: Tensor, vec2: Tensor) -> Any:
    """The outer product of two 1-D tensors: out[i, j] = input[i] * vec2[j]."""
    _check_tensor(input, "outer", "input")
    _check_tensor(vec2, "outer", "vec2")
    if input.dim() != 1 or vec2.dim() != 1:
        raise RuntimeError(f"outer: expected 1-D tensors, but got {input.dim()}-D and {vec2.dim()}-D")
    return input.unsqueeze(1) * vec2.unsqueeze(0)


ger = outer


def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Any:
    """beta * input + alpha * outer(vec1, vec2)."""
    if not (isinstance(vec1, Tensor) and isinstance(vec2, Tensor)) or vec1.dim() != 1 or vec2.dim() != 1:
        raise RuntimeError("addr: Expected 1-D argument vec1 and vec2")
    return _scaled_add("addr", input, outer(vec1, vec2), beta, alpha)


def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Any:
    """beta * input + alpha * bmm(batch1, batch2) (input broadcast to (b, n, p))."""
    return _scaled_add("baddbmm", input, bmm(batch1, batch2), beta, alpha)


def _prod(xs: Sequence[int]) -> int:
    n = 1
    for x in xs:
        n *= x
    return n


def tensordot(a: Tensor, b: Tensor, dims: Any = 2, out: Any = None) -> Any:
    """Sum over dims of a and b: an int n contracts a's last n with b's first n dims; a pair
    of lists (or ints) names the contracted dims of each. One GEMM on permuted views."""
    if out is not None:
        raise TypeError("tensordot: out= is not supported by gradcore")
    _check_tensor(a, "tensordot", "a")
    _check_tensor(b, "tensordot", "b")
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, bool) or not isinstance(dims, (int, list, tuple)):
        raise TypeError(f"tensordot expects dims to be an int or a pair of lists of ints, got {type(dims).__name__}")
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > a.dim() or dims > b.dim():
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        da = list(range(a.dim() - dims, a.dim()))
        db = list(range(dims))
    else:
        if len(dims) != 2:
            raise RuntimeError("tensordot expects dims to be a pair of dim lists")
        da_in, db_in = dims
        da = [da_in] if isinstance(da_in, int) else list(da_in)
        db = [db_in] if isinstance(db_in, int) else list(db_in)
        if len(da) != len(db):
            raise RuntimeError("both dimension lists should have same length")
    na, nb = a.dim(), b.dim()

    def norm(d: Any, n: int) -> int:
        if not isinstance(d, int) or isinstance(d, bool):
            raise TypeError(f"tensordot: dims must be ints, got {type(d).__name__}")
        if not -max(n, 1) <= d < max(n, 1):
            raise IndexError(f"Dimension out of range (expected to be in range of [{-max(n, 1)}, {max(n, 1) - 1}], "
                             f"but got {d})")
        return d % n if n else 0
    da = [norm(d, na) for d in da]
    db = [norm(d, nb) for d in db]
    if len(set(da)) != len(da) or len(set(db)) != len(db):
        raise RuntimeError("tensordot: a dim appears multiple times in the list of dims")
    for x, y in zip(da, db):
        if a.shape[x] != b.shape[y]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {a.shape[x]} in dim {x} "
                               f"and second has size {b.shape[y]} in dim {y}")
    fa = [d for d in range(na) if d not in da]
    fb = [d for d in range(nb) if d not in db]
    k = _prod([a.shape[d] for d in da])
    sa = [a.shape[d] for d in fa]
    sb = [b.shape[d] for d in fb]
    a2 = a.permute(*(fa + da)).reshape(_prod(sa), k)
    b2 = b.permute(*(db + fb)).reshape(k, _prod(sb))
    return mm(a2, b2).reshape(*(sa + sb))


def inner(input: Tensor, other: Tensor) -> Any:
    """Sum over the last dims: out[i..., j...] = sum_k input[i..., k] other[j..., k]; a 0-dim
    operand multiplies."""
    _check_tensor(input, "inner", "input")
    _check_tensor(other, "inner", "other")
    if input.dim() == 0 or other.dim() == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                           f"{list(input.shape)} and {list(other.shape)}")
    return tensordot(input, other, dims=([input.dim() - 1], [other.dim() - 1]))


def kron(input: Tensor, other: Tensor) -> Any:
    """The Kronecker product: out[i*q + k, ...] = input[i, ...] * other[k, ...] (the operands'
    dims right-aligned, the shorter one padded with leading 1s)."""
    _check_tensor(input, "kron", "input")
    _check_tensor(other, "kron", "other")
    n = max(input.dim(), other.dim())
    a = input.reshape(*([1] * (n - input.dim()) + list(input.shape)))
    b = other.reshape(*([1] * (n - other.dim()) + list(other.shape)))
    # a with a size-1 dim after each dim, b with one before each: the broadcast product
    # interleaves (i, k) pairs, and the reshape merges each pair.
    ai = a.reshape(*[s for d in a.shape for s in (d, 1)])
    bi = b.reshape(*[s for d in b.shape for s in (1, d)])
    return (ai * bi).reshape(*[x * y for x, y in zip(a.shape, b.shape)])


def chain_matmul(*matrices: Tensor) -> Any:
    """The product of 2-D matrices left to right (deprecated in PyTorch for linalg.multi_dot)."""
    if len(matrices) == 1 and isinstance(matrices[0], (list, tuple)):
        matrices = tuple(matrices[0])
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for m in matrices:
        _check_tensor(m, "chain_matmul", "matrices")
        if m.dim() != 2:
            raise RuntimeError(f"Tensor dimension is {m.dim()}, expected 2 instead.")
    out = matrices[0]
    if len(matrices) == 1:
        return out.clone()
    for m in matrices[1:]:
        out = mm(out, m)
    return out


# --------------------------------------------------------------------------------------
# einsum
# --------------------------------------------------------------------------------------
# Labels are ints: A-Z -> 0..25, a-z -> 26..51 (PyTorch's order for the implicit output),
# the dims covered by "..." -> 52 + their position in the broadcast ellipsis (left aligned
# to the longest ellipsis), so every operand's dims are named by distinct-or-shared labels.
_ELL = 52


def _label(c: str, eq: str, pos: int) -> int:
    if "A" <= c <= "Z":
        return ord(c) - ord("A")
    if "a" <= c <= "z":
        return ord(c) - ord("a") + 26
    raise RuntimeError(f"einsum(): invalid subscript given at index {pos} in the equation string, subscripts must "
                       f"be in [a-zA-Z]")


def _parse_term(term: str, eq: str, start: int) -> Tuple[List[int], bool]:
    """Labels of one term (-1 for the ellipsis) and whether it had one."""
    out: List[int] = []
    ell = False
    i = 0
    while i < len(term):
        if term[i] == ".":
            if term[i:i + 3] != "..." or ell:
                raise RuntimeError(f"einsum(): found '.' for operand that is not part of any ellipsis"
                                   if term[i:i + 3] != "..." else
                                   "einsum(): found '.' for operand 0 for which an ellipsis was already found")
            ell = True
            out.append(-1)
            i += 3
            continue
        out.append(_label(term[i], eq, start + i))
        i += 1
    return out, ell


Step = Tuple[Any, ...]


@functools.lru_cache(maxsize=512)
def _plan(eq: str, shapes: Tuple[Tuple[int, ...], ...]) -> Tuple[List[Step], Tuple[int, ...]]:
    """The steps that evaluate eq on operands of these shapes (see _run_plan)."""
    eq_ns = eq.replace(" ", "")
    if "->" in eq_ns:
        lhs, rhs_s = eq_ns.split("->", 1)
        rhs: Optional[str] = rhs_s
    else:
        lhs, rhs = eq_ns, None
    terms = lhs.split(",")
    if len(terms) > len(shapes):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
    if len(terms) < len(shapes):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    pos = 0
    parsed: List[Tuple[List[int], bool]] = []
    for t in terms:
        parsed.append(_parse_term(t, eq_ns, pos))
        pos += len(t) + 1
    # expand each operand's labels to one per dim
    ell_len = 0
    for k, ((labs, ell), shp) in enumerate(zip(parsed, shapes)):
        nl = len(labs) - (1 if ell else 0)
        if ell:
            if nl > len(shp):
                raise RuntimeError(f"einsum(): the number of subscripts in the equation ({nl}) is more than the "
                                   f"number of dimensions ({len(shp)}) for operand {k}")
            ell_len = max(ell_len, len(shp) - nl)
        elif nl != len(shp):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({nl}) does not match the number "
                               f"of dimensions ({len(shp)}) for operand {k} and no ellipsis was given")
    op_labels: List[List[int]] = []
    for (labs, ell), shp in zip(parsed, shapes):
        full: List[int] = []
        for lab in labs:
            if lab == -1:
                n_ell = len(shp) - (len(labs) - 1)
                full.extend(_ELL + ell_len - n_ell + j for j in range(n_ell))
            else:
                full.append(lab)
        op_labels.append(full)
    # sizes (a size of 1 broadcasts)
    size: Dict[int, int] = {}
    for k, (labs, shp) in enumerate(zip(op_labels, shapes)):
        seen: Dict[int, int] = {}
        for lab, s in zip(labs, shp):
            if lab in seen and seen[lab] != s:
                raise RuntimeError(f"einsum(): subscript {_name(lab)} is repeated for operand {k} but the sizes don't "
                                   f"match, {s} != {seen[lab]}")
            seen[lab] = s
            if lab in size and size[lab] != s and s != 1 and size[lab] != 1:
                raise RuntimeError(f"einsum(): subscript {_name(lab)} has size {s} for operand {k} which does not "
                                   f"broadcast with previously seen size {size[lab]}")
            size[lab] = s if lab not in size or size[lab] == 1 else size[lab]
    all_ell = list(range(_ELL, _ELL + ell_len))
    if rhs is None:
        counts: Dict[int, int] = {}
        for labs in op_labels:
            for lab in labs:
                if lab < _ELL:
                    counts[lab] = counts.get(lab, 0) + 1
        out = all_ell + sorted(lab for lab, c in counts.items() if c == 1)
    else:
        orhs, oell = _parse_term(rhs, eq_ns, len(lhs) + 2)
        out = []
        for lab in orhs:
            if lab == -1:
                out.extend(all_ell)
            else:
                if lab in out:
                    raise RuntimeError(f"einsum(): output subscript {_name(lab)} appears more than once in the output")
                if not any(lab in labs for labs in op_labels):
                    raise RuntimeError(f"einsum(): output subscript {_name(lab)} does not appear in the equation "
                                       f"for any input operand")
                out.append(lab)
    steps: List[Step] = []
    cur: List[List[int]] = []
    for k, labs in enumerate(op_labels):
        labs = list(labs)
        # repeated labels: the diagonal (moved last by diagonal()), until each label is unique
        while True:
            dup = next((i for i, lab in enumerate(labs) if labs.index(lab) != i), None)
            if dup is None:
                break
            first = labs.index(labs[dup])
            steps.append(("diag", k, first, dup))
            lab = labs[dup]
            labs = [x for i, x in enumerate(labs) if i not in (first, dup)] + [lab]
        cur.append(labs)
    # the size of each label in each operand (1 where it broadcasts)
    op_sz: List[Dict[int, int]] = []
    for labs0, shp in zip(op_labels, shapes):
        op_sz.append({lab: s for lab, s in zip(labs0, shp)})
    # contract left to right; before each contraction, sum out labels no one else needs
    def needed(after: int) -> Set[int]:
        s = set(out)
        for labs in cur[after:]:
            s.update(labs)
        return s
    # slot 0 holds the running result
    acc = cur[0]
    steps.append(("take", 0))
    keep = needed(1)
    acc = _sum_out(steps, acc, keep)
    acc_sz = op_sz[0]
    for k in range(1, len(cur)):
        keep_after = needed(k + 1)
        rlabs = _sum_out_operand(steps, k, cur[k], keep_after | set(acc))
        acc, acc_sz = _contract(steps, acc, acc_sz, k, rlabs, op_sz[k], keep_after, size)
    acc = _sum_out(steps, acc, set(out))
    # permute to the output order, then broadcast size-1 dims of output labels
    perm = tuple(acc.index(lab) for lab in out)
    if perm != tuple(range(len(perm))):
        steps.append(("permute", perm))
    want = tuple(size[lab] for lab in out)
    if want != tuple(acc_sz[lab] for lab in out):
        steps.append(("expand", want))
    return steps, tuple(out)


def _name(lab: int) -> str:
    return chr(ord("A") + lab) if lab < 26 else chr(ord("a") + lab - 26) if lab < _ELL else "..."


def _sum_out(steps: List[Step], labs: List[int], keep: Set[int]) -> List[int]:
    drop = [i for i, lab in enumerate(labs) if lab not in keep]
    if drop:
        steps.append(("sum", tuple(drop)))
    return [lab for lab in labs if lab in keep]


def _sum_out_operand(steps: List[Step], k: int, labs: List[int], keep: Set[int]) -> List[int]:
    drop = [i for i, lab in enumerate(labs) if lab not in keep]
    if drop:
        steps.append(("sum_operand", k, tuple(drop)))
    return [lab for lab in labs if lab in keep]


def _non_identity(perm: Tuple[int, ...]) -> Optional[Tuple[int, ...]]:
    return None if perm == tuple(range(len(perm))) else perm


def _contract(steps: List[Step], left: List[int], lsz: Dict[int, int], k: int, right: List[int],
              rsz: Dict[int, int], keep: Set[int], size: Dict[int, int]) -> Tuple[List[int], Dict[int, int]]:
    """acc (labels left, sizes lsz) with operand k (labels right, sizes rsz): batch = shared
    and kept, contracted = shared and not kept; one matmul of (batch, L, C) @ (batch, C, R).
    Every shape is worked out here, once per (equation, shapes); the step only runs views."""
    batch = [lab for lab in left if lab in right and lab in keep]
    con = [lab for lab in left if lab in right and lab not in keep]
    lfree = [lab for lab in left if lab not in right]
    rfree = [lab for lab in right if lab not in left]
    lperm = tuple(left.index(lab) for lab in batch + lfree + con)
    rperm = tuple(right.index(lab) for lab in batch + con + rfree)
    ls, cs, rs = (tuple(size[lab] for lab in g) for g in (lfree, con, rfree))
    a_has = tuple(lsz[lab] for lab in batch + lfree + con)
    b_has = tuple(rsz[lab] for lab in batch + con + rfree)
    # size-1 dims broadcast: the batch dims through matmul, the others by expand (a view)
    a_want = tuple(lsz[lab] for lab in batch) + ls + cs
    b_want = tuple(rsz[lab] for lab in batch) + cs + rs
    pl, pc, pr = _prod(ls), _prod(cs), _prod(rs)
    a_shape = a_want[:len(batch)] + (pl, pc)
    b_shape = b_want[:len(batch)] + (pc, pr)
    bsz = tuple(max(lsz[lab], rsz[lab]) for lab in batch)
    c_shape, o_shape = bsz + (pl, pr), bsz + ls + rs
    steps.append(("contract", k, _non_identity(lperm), _non_identity(rperm), None if a_has == a_want else a_want,
                  None if b_has == b_want else b_want, None if a_shape == a_want else a_shape,
                  None if b_shape == b_want else b_shape, None if o_shape == c_shape else o_shape))
    out = batch + lfree + rfree
    return out, dict(zip(out, o_shape))


def _contract_pair(a: Tensor, b: Tensor) -> Any:
    """One planned contraction, a (..., L, C) @ b (..., C, R). bool operands (no GEMM for
    them, as PyTorch) work only where nothing is summed (C == 1: a broadcast product)."""
    if a.dtype == _core.bool or b.dtype == _core.bool:
        if a.shape[-1] != 1:
            raise NotImplementedError("\"bmm\" not implemented for 'Bool'")
        return a * b
    return matmul(a, b)


def _run_plan(steps: List[Step], ops: Sequence[Tensor]) -> Any:
    ops = list(ops)
    acc: Any = None
    for st in steps:
        kind = st[0]
        if kind == "contract":
            _, k, lperm, rperm, a_exp, b_exp, a_rs, b_rs, c_rs = st
            a, b = acc, ops[k]
            if lperm is not None:
                a = a.permute(*lperm)
            if rperm is not None:
                b = b.permute(*rperm)
            if a_exp is not None:
                a = a.expand(*a_exp)
            if b_exp is not None:
                b = b.expand(*b_exp)
            if a_rs is not None:
                a = a.reshape(*a_rs)
            if b_rs is not None:
                b = b.reshape(*b_rs)
            acc = _contract_pair(a, b)
            if c_rs is not None:
                acc = acc.reshape(*c_rs)
        elif kind == "diag":
            _, k, d1, d2 = st
            ops[k] = ops[k].diagonal(0, d1, d2)
        elif kind == "take":
            acc = ops[st[1]]
        elif kind == "sum":
            acc = acc.sum(list(st[1]))
        elif kind == "sum_operand":
            ops[st[1]] = ops[st[1]].sum(list(st[2]))
        elif kind == "permute":
            acc = acc.permute(*st[1])
        elif kind == "expand":
            acc = acc.expand(*st[1])
    return acc


def einsum(*args: Any) -> Any:
    """Einstein summation: ``einsum("bij,bjk->bik", a, b)`` or ``einsum(eq, [a, b])``.

    Subscripts a-zA-Z, an optional ``...`` per operand (broadcast batch dims), implicit
    output (the ellipsis dims, then the labels seen once, in PyTorch's order: A-Z then a-z)
    or explicit after ``->``; a label repeated in one operand takes its diagonal, labels
    missing from the output are summed. Lowered to diagonals, sums and one matmul per
    pair of operands, left to right (no path optimisation).
    """
    if not args or not isinstance(args[0], str):
        raise TypeError("einsum(): the first argument must be the equation string")
    eq = args[0]
    ops: Sequence[Any] = args[1:]
    if len(ops) == 1 and isinstance(ops[0], (list, tuple)):
        ops = ops[0]
    if not ops:
        raise RuntimeError("einsum(): must provide at least one operand")
    for o in ops:
        if not isinstance(o, Tensor):
            raise TypeError(f"einsum(): operands must be Tensors, got {type(o).__name__}")
    steps, _ = _plan(eq, tuple(tuple(o.shape) for o in ops))
    out = _run_plan(steps, ops)
    if len(ops) == 1 and out is ops[0]:
        return out.clone() if out.requires_grad else out.view(*out.shape)
    return out


def _method(fn: Any) -> Any:
    @functools.wraps(fn)
    def m(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        return fn(self, *args, **kwargs)
    return m


TENSOR_METHODS: Dict[str, Any] = {
    name: _method(f) for name, f in {
        "addmm": addmm, "addmv": addmv, "addr": addr, "baddbmm": baddbmm, "mv": mv, "dot": dot, "vdot": vdot,
        "outer": outer, "ger": ger, "inner": inner, "kron": kron,
    }.items()
}


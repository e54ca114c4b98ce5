"""The differentiable op table shared by ``test_higher_order.py`` and ``test_forward_ad.py``.

``OPS`` maps a name to an :class:`OpCase`: a function of gradcore tensors and a builder of
its inputs (float64, random from a fixed NumPy seed, so failures reproduce). Every row of
``csrc/autograd/ops.h`` that has a derivative is reached from here, by its Python spelling:

* binary broadcasting ops (add sub mul div) and their scalar forms, ``x ** p``, ``p ** x``;
* unary ops (neg exp log sqrt abs tanh sigmoid relu erf softplus gelu leaky_relu dropout);
  the fused backward ops (relu/sigmoid/tanh/gelu backward) and ``sum_to`` /
  ``slice0_backward`` are what the *backward* of these ops records, so second derivatives
  (gradgradcheck) and forward-over-reverse of the rows here exercise them;
* reductions (sum mean max amax: all dims, one dim, several dims, keepdim), and those
  with indices, ordering, scans and products (max/min(dim), sort, topk, kthvalue, median,
  mode, cummax/cummin, cumsum, cumprod, prod, with zeros too);
* shape ops (reshape/view/flatten, permute, transpose, .T, expand, clone, to(dtype),
  slicing), ``detach`` separately (it has no derivative by design);
* linear algebra (mm with transpose flags, matmul 1-D/2-D/N-D, F.linear with and without
  bias and with each fused activation);
* the shape ops of issue 12 (cat/stack/hstack..., split/chunk/tensor_split/unbind views,
  repeat/tile/repeat_interleave, flip/roll/rot90, tril/triu, diag/diag_embed/trace, F.pad in
  every mode, broadcast_to/broadcast_tensors/meshgrid), with a 0-size and a legacy-empty cat;
* softmax, log_softmax, cross_entropy (none/sum/mean, label smoothing), mse_loss,
  binary_cross_entropy_with_logits;
* issue 12: every other loss of ``nn.functional`` (each reduction), cross_entropy's weight /
  ignore_index / probabilities / (N, C, d1, ...) options, softmin, glu, prelu, normalize,
  cosine_similarity, pairwise_distance, bilinear (compositions of the rows above).

Each row also carries its torch spelling (``torch_fn``; None when ``fn`` works on torch
tensors as written): the oracle of ``test_nonfinite.py``, which feeds every row NaN and +-inf.

Kinks are avoided on purpose (the derivative is undefined there): relu/abs/leaky_relu
inputs satisfy |x| >= 0.2, max inputs are distinct (gaps >= 0.05), log/sqrt/fractional
powers get positive inputs, divisors stay away from 0, fused-relu linear pre-activations
are kept away from 0.

Blind spots: behaviour at kinks and ties (hand-derived tests in test_ops.py cover those),
zero-sized tensors, float32 (checked separately with looser tolerances), dropout with other
masks than the one seeded here, and tangents of tangents (forward over forward), which the
library does not compute by design.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

import gradcore as gc
import gradcore.nn.functional as F

Shape = Tuple[int, ...]


def _import_torch() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import torch
        except ImportError:
            return None
    return torch


# The torch spellings (``torch_fn``) are only called when torch is importable.
torch: Any = _import_torch()
TF: Any = torch.nn.functional if torch is not None else None


def leaf(a: Any) -> gc.Tensor:
    """A float64 leaf that requires grad."""
    return gc.tensor(np.asarray(a, dtype=np.float64), dtype=gc.float64, requires_grad=True)


def _any(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    return rng.uniform(-1.5, 1.5, shape)


def _pos(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    return rng.uniform(0.5, 2.0, shape)


def _away0(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    return rng.uniform(0.2, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


def _distinct(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.1 - 0.05 * n + rng.uniform(-0.02, 0.02, n)).reshape(shape)


DOMAINS: Dict[str, Callable[[np.random.Generator, Shape], np.ndarray]] = {
    "any": _any, "pos": _pos, "away0": _away0, "distinct": _distinct,
    "unit": lambda rng, shape: rng.uniform(-0.9, 0.9, shape),   # asin, atanh, erfinv
    "prob": lambda rng, shape: rng.uniform(0.1, 0.9, shape),    # logit
    "gt1": lambda rng, shape: rng.uniform(1.2, 3.0, shape),     # acosh
}


@dataclass
class OpCase:
    """``fn(*make())`` is the op under test; ``tol`` are gradcheck keyword arguments."""

    fn: Callable[..., Any]
    make: Callable[[], List[Any]]
    tol: Dict[str, float] = field(default_factory=dict)
    lowp: bool = False  # fn rounds through float32: compare analytic results with rtol ~1e-6
    # The same op spelled for torch tensors (the oracle of test_nonfinite.py); None: ``fn``
    # works on torch tensors as written.
    torch_fn: Optional[Callable[..., Any]] = None


def _seed(name: str) -> int:
    return zlib.crc32(name.encode())


def inputs(name: str, shapes: Sequence[Shape], domains: Sequence[str]) -> Callable[[], List[Any]]:
    def make() -> List[Any]:
        rng = np.random.default_rng(_seed(name))
        return [leaf(DOMAINS[d](rng, s)) for s, d in zip(shapes, domains)]
    return make


OPS: Dict[str, OpCase] = {}


def op(name: str, fn: Callable[..., Any], shapes: Sequence[Shape], domains: Any = "any",
       make: Any = None, lowp: bool = False, torch_fn: Optional[Callable[..., Any]] = None, **tol: float) -> None:
    assert name not in OPS, name
    if isinstance(domains, str):
        domains = [domains] * len(shapes)
    OPS[name] = OpCase(fn, make if make is not None else inputs(name, shapes, domains), dict(tol), lowp, torch_fn)


LABELS = np.array([2, 0, 3], dtype=np.int64)


def _dropout(x: gc.Tensor) -> gc.Tensor:
    gc.manual_seed(1234)  # the same mask on every call (finite differences call fn many times)
    return F.dropout(x, 0.4)


def _linear_relu_inputs() -> List[Any]:
    # pre-activations x @ w.T + b kept away from the relu kink at 0
    rng = np.random.default_rng(_seed("linear_relu"))
    x = rng.uniform(-1.0, 1.0, (3, 4))
    w = rng.uniform(-1.0, 1.0, (2, 4))
    pre = x @ w.T
    b = np.zeros(pre.shape[1])
    # shift each column (by as little as possible) so every pre-activation has |.| >= 0.2
    shifts = sorted(np.linspace(-1.0, 1.0, 201), key=abs)
    for j in range(pre.shape[1]):
        b[j] = next(s for s in shifts if np.abs(pre[:, j] + s).min() >= 0.2)
    assert np.abs(pre + b).min() >= 0.2
    assert (pre + b > 0).sum() >= 2 and (pre + b < 0).sum() >= 2  # both sides of the kink are exercised
    return [leaf(x), leaf(w), leaf(b)]


def _dropout_mask(shape: Shape) -> Any:
    """The mask ``_dropout`` multiplies by (0 or 1/(1-p)), as a torch tensor."""
    return torch.from_numpy(_dropout(gc.ones(*shape, dtype=gc.float64)).detach().numpy().copy())


def _torch_gelu(z: Any, approximate: str = "none") -> Any:
    """torch's gelu with gradcore's values at +-inf: the limits gelu(-inf) = 0 and gelu(+inf) = +inf.

    NOTE: torch 2.13 gives gelu(-inf) = NaN (-inf * Phi(-inf) = -inf * 0), and in float32 also
    gelu(+inf) = NaN; gradcore returns the limits (its kernels, the fused Linear epilogue).
    The gradient at +-inf is NaN in both (Phi + x phi = inf * 0): the masked torch.where branch
    passes 0 * gelu'(+-inf) = NaN on, exactly as torch's own gelu backward does.
    """
    y = TF.gelu(z, approximate=approximate)
    limit = torch.where(z > 0, z, torch.zeros_like(z)).detach()
    return torch.where(torch.isinf(z), limit, y)


_BCE_TARGET = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])


def _mse_inputs() -> List[Any]:
    rng = np.random.default_rng(_seed("mse"))
    return [leaf(_any(rng, (2, 3))), leaf(_any(rng, (2, 3)))]


# ---- binary, broadcasting ----
op("add", lambda a, b: a + b, [(2, 3), (2, 3)])
op("sub", lambda a, b: a - b, [(2, 3), (2, 3)])
op("mul", lambda a, b: a * b, [(2, 3), (2, 3)])
op("div", lambda a, b: a / b, [(2, 3), (2, 3)], ["any", "away0"])
op("add_bcast", lambda a, b: gc.add(a, b), [(2, 3), (3,)],
   torch_fn=lambda a, b: torch.add(a, b))
op("sub_bcast", lambda a, b: gc.sub(a, b), [(2, 1), (1, 3)],
   torch_fn=lambda a, b: torch.sub(a, b))
op("mul_bcast", lambda a, b: gc.mul(a, b), [(2, 1, 3), (4, 1)],
   torch_fn=lambda a, b: torch.mul(a, b))
op("div_bcast", lambda a, b: gc.div(a, b), [(3,), (2, 3)], ["any", "away0"],
   torch_fn=lambda a, b: torch.div(a, b))
op("mul_0d", lambda a, b: a * b, [(), (2, 3)])
op("mul_self", lambda a: a * a, [(2, 3)])  # both edges from one tensor
# ---- scalar forms ----
op("add_scalar", lambda x: x + 2, [(2, 3)])
op("radd_scalar", lambda x: 1.5 + x, [(2, 3)])
op("sub_scalar", lambda x: x - 2, [(2, 3)])
op("rsub_scalar", lambda x: 2 - x, [(2, 3)])
op("mul_scalar", lambda x: x * 3, [(2, 3)])
op("rmul_scalar", lambda x: -0.5 * x, [(2, 3)])
op("div_scalar", lambda x: x / 2, [(2, 3)])
op("rdiv_scalar", lambda x: 2 / x, [(2, 3)], "away0")
op("pow_2", lambda x: x ** 2, [(2, 3)])
op("pow_3", lambda x: x ** 3, [(2, 3)])
op("pow_frac", lambda x: x ** 1.7, [(2, 3)], "pos")
op("pow_neg", lambda x: x ** -1.5, [(2, 3)], "pos")
op("pow_half", lambda x: gc.pow(x, 0.5), [(2, 3)], "pos",
   torch_fn=lambda x: torch.pow(x, 0.5))
op("pow_0", lambda x: x ** 0, [(2, 3)])
op("pow_1", lambda x: x ** 1, [(2, 3)])
op("rpow", lambda x: 3 ** x, [(2, 3)])
op("pow_tensor", lambda a, b: a ** b, [(2, 3), (3,)], ["pos", "any"])
op("pow_tensor_bcast", lambda a, b: gc.pow(a, b), [(3, 1), (2, 1, 4)], ["pos", "any"],
   torch_fn=lambda a, b: torch.pow(a, b))
# ---- unary ----
op("neg", lambda x: -x, [(2, 3)])
op("neg_fn", lambda x: gc.neg(x), [(2, 3)],
   torch_fn=lambda x: torch.neg(x))
op("abs", lambda x: abs(x), [(2, 3)], "away0")
# The elementwise registry ops and activations: one ELEMENTWISE row each (below).
op("leaky_relu", lambda x: F.leaky_relu(x, 0.1), [(2, 3)], "away0",
   torch_fn=lambda x: TF.leaky_relu(x, 0.1))
op("dropout", _dropout, [(4, 5)],
   torch_fn=lambda x: x * _dropout_mask(tuple(x.shape)))

# ---- the elementwise table (Note [One op, one row], csrc/autograd/ops/math.cpp) ----
# One row per registry op (GC_UNARY_FLOAT_OPS, GC_BINARY_FLOAT_OPS, GC_ACTIVATIONS and the
# parameterised activations): it becomes an OPS row (gradcheck, gradgradcheck, forward mode,
# NaN/Inf against torch) and is what tests/test_elementwise.py reads for values against
# torch per ISA and dtype, integer inputs, in-place forms, grad_fn names, random shapes
# (the fuzz) and, where `ulp` is set, the float32 accuracy of the vectorised kernel.
# tests/test_elementwise.py checks that the rows and the live registry are the same set.


@dataclass
class Elementwise:
    name: str
    fn: Callable[..., Any]           # on gradcore tensors
    torch_fn: Callable[..., Any]     # the same on torch tensors
    domain: str                      # DOMAINS key of its inputs' values
    arity: int = 1
    ulp: Optional[float] = None      # float32 bound of a vectorised kernel (per ISA)
    ref: Optional[Callable[[np.ndarray], np.ndarray]] = None  # float64 NumPy reference (ulp checks)
    method: bool = True              # Tensor.name and Tensor.name_ exist
    ints: bool = True                # accepts integer inputs (computes in the default dtype)
    node: bool = True                # grad_fn has PyTorch's name (False: a composition's node)


ELEMENTWISE: Dict[str, Elementwise] = {}


def elementwise(name: str, domain: str = "any", arity: int = 1, fn: Any = None, torch_fn: Any = None,
                ulp: Optional[float] = None, ref: Any = None, method: bool = True, ints: bool = True,
                registry: Optional[str] = None, node: bool = True, **tol: float) -> None:
    """A row: ``gc.<name>`` / ``torch.<name>`` unless fn / torch_fn say otherwise. ``registry``
    is the C++ registry name when it differs from ``name`` (gelu_tanh's F spelling)."""
    if fn is None:
        fn = lambda *a: getattr(gc, name)(*a)  # noqa: E731
    if torch_fn is None:
        torch_fn = lambda *a: getattr(torch, name)(*a)  # noqa: E731
    ELEMENTWISE[registry or name] = Elementwise(name, fn, torch_fn, domain, arity, ulp, ref, method, ints, node)
    shapes = [(2, 3)] if arity == 1 else [(2, 3), (3,)]
    op(name, fn, shapes, domain, torch_fn=torch_fn, **tol)


def _sigmoid_ref(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


elementwise("exp", ulp=2, ref=np.exp)
elementwise("log", "pos", ulp=2, ref=np.log)
elementwise("sqrt", "pos", ulp=0.5, ref=np.sqrt)
elementwise("erf", ulp=2)
elementwise("erfc")
elementwise("erfinv", "unit")
elementwise("exp2")
elementwise("expm1", ulp=2, ref=np.expm1)
elementwise("log2", "pos")
elementwise("log10", "pos")
elementwise("log1p", "pos", ulp=2, ref=np.log1p)
elementwise("sin", ulp=2, ref=np.sin)
elementwise("cos", ulp=2, ref=np.cos)
elementwise("tan", "unit")
elementwise("asin", "unit")
elementwise("acos", "unit")
elementwise("atan")
elementwise("sinh")
elementwise("cosh")
elementwise("asinh")
elementwise("acosh", "gt1")
elementwise("atanh", "unit")
elementwise("rsqrt", "pos")
elementwise("reciprocal", "away0")
elementwise("frac", ints=False)
elementwise("sinc", "away0")
elementwise("deg2rad")
elementwise("rad2deg")
elementwise("arcsin", "unit")
elementwise("arccos", "unit")
elementwise("arctan")
elementwise("arcsinh")
elementwise("arccosh", "gt1")
elementwise("arctanh", "unit")
elementwise("atan2", "away0", arity=2)
elementwise("hypot", "away0", arity=2)
elementwise("copysign", "away0", arity=2)
elementwise("fmod", "away0", arity=2)
elementwise("xlogy", "pos", arity=2)
elementwise("logaddexp", arity=2)
elementwise("logaddexp2", arity=2)
# activations (GC_ACTIVATIONS): gc.* where torch has it, else F.*
elementwise("relu", "away0", ulp=0, ref=lambda v: np.maximum(v, 0))
elementwise("sigmoid", ulp=2, ref=_sigmoid_ref)
elementwise("tanh", ulp=2, ref=np.tanh)
elementwise("selu", method=False)  # torch.selu; no Tensor method
elementwise("gelu", fn=lambda x: F.gelu(x), torch_fn=lambda x: _torch_gelu(x), method=False)
elementwise("gelu_tanh", fn=lambda x: F.gelu(x, approximate="tanh"),
            torch_fn=lambda x: _torch_gelu(x, approximate="tanh"), method=False)
for _name, _domain in [("silu", "any"), ("mish", "any"), ("softplus", "any"), ("hardswish", "any"),
                       ("hardsigmoid", "any"), ("softsign", "away0"), ("logsigmoid", "any"), ("relu6", "away0"),
                       ("elu", "away0"), ("celu", "away0"), ("tanhshrink", "any"), ("softshrink", "away0"),
                       ("hardshrink", "away0")]:
    elementwise(_name, _domain, fn=getattr(F, _name), torch_fn=getattr(TF, _name) if TF is not None else None,
                method=False)
elementwise("softplus_beta", fn=lambda x: F.softplus(x, 2.0, 1.5), torch_fn=lambda x: TF.softplus(x, 2.0, 1.5),
            method=False, registry="_softplus")
elementwise("elu_alpha", "away0", fn=lambda x: F.elu(x, 0.7), torch_fn=lambda x: TF.elu(x, 0.7), method=False,
            registry="elu_alpha")
elementwise("hardtanh", "away0", fn=lambda x: F.hardtanh(x, -0.6, 0.8), torch_fn=lambda x: TF.hardtanh(x, -0.6, 0.8),
            method=False)
elementwise("threshold", "away0", fn=lambda x: F.threshold(x, 0.1, 20.0), torch_fn=lambda x: TF.threshold(x, 0.1, 20.0),
            method=False)
elementwise("square", ulp=0.5, ref=np.square)
elementwise("logit", "prob")
elementwise("logit_eps", "any", fn=lambda x: gc.logit(x, 0.2), torch_fn=lambda x: torch.logit(x, 0.2), method=False,
            registry="logit_eps")
elementwise("nan_to_num", node=False)  # WhereBackward0
elementwise("round_decimals", fn=lambda x: gc.round(x, decimals=2), torch_fn=lambda x: torch.round(x, decimals=2),
            method=False, registry="round_decimals")

# ---- reductions ----
op("sum_all", lambda x: x.sum(), [(2, 3, 2)])
op("sum_dim", lambda x: x.sum(dim=1), [(2, 3, 2)])
op("sum_negdim_keep", lambda x: gc.sum(x, -1, keepdim=True), [(2, 3, 2)],
   torch_fn=lambda x: torch.sum(x, -1, keepdim=True))
op("sum_dims_keep", lambda x: x.sum(dim=(0, 2), keepdim=True), [(2, 3, 2)])
op("mean_all", lambda x: x.mean(), [(2, 3, 2)])
op("mean_dim", lambda x: x.mean(dim=-1), [(2, 3, 2)])
op("mean_dims_keep", lambda x: gc.mean(x, (0, 1), keepdim=True), [(2, 3, 2)],
   torch_fn=lambda x: torch.mean(x, (0, 1), keepdim=True))
op("max_all", lambda x: x.max(), [(2, 3, 2)], "distinct")
op("max_dim", lambda x: x.max(dim=1).values, [(2, 3, 2)], "distinct")
op("max_dim_keep", lambda x: gc.max(x, 0, keepdim=True).values, [(2, 3, 2)], "distinct",
   torch_fn=lambda x: torch.max(x, 0, keepdim=True).values)
op("amax_dims", lambda x: x.amax(dim=(0, 2)), [(2, 3, 2)], "distinct")
# ---- shape ----
op("reshape", lambda x: x.reshape(3, -1), [(2, 3, 2)])
op("reshape_fn", lambda x: gc.reshape(x, (4, 3)), [(2, 3, 2)],
   torch_fn=lambda x: torch.reshape(x, (4, 3)))
op("view", lambda x: x.view(12), [(2, 3, 2)])
op("flatten", lambda x: F.flatten(x, 1), [(2, 3, 2)],
   torch_fn=lambda x: torch.flatten(x, 1))
op("permute", lambda x: x.permute(1, 2, 0), [(2, 3, 2)])
op("permute_fn", lambda x: gc.permute(x, (2, 0, 1)), [(2, 3, 2)],
   torch_fn=lambda x: torch.permute(x, (2, 0, 1)))
op("transpose", lambda x: x.transpose(0, 1), [(2, 3)])
op("transpose_3d", lambda x: gc.transpose(x, 0, 2), [(2, 3, 2)],
   torch_fn=lambda x: torch.transpose(x, 0, 2))
op("T", lambda x: x.T, [(2, 3)])
op("expand", lambda x: x.expand(2, 3, 4), [(3, 1)])
op("expand_0d", lambda x: x.expand(2, 3), [()])
op("clone", lambda x: x.clone(), [(2, 3)])
op("to_float64", lambda x: x.to(gc.float64) * 1.0, [(2, 3)],
   torch_fn=lambda x: x.to(torch.float64) * 1.0)
# float32 round trip: precision 1e-7, so difference with a wide eps (the map is linear)
op("to_float32_and_back", lambda x: x.to(gc.float32).double(), [(2, 3)], lowp=True, eps=1e-2, atol=1e-4,
   torch_fn=lambda x: x.to(torch.float32).double())
op("slice", lambda x: x[1:3], [(4, 3)])
op("slice_neg", lambda x: x[-2:], [(4, 3)])
op("index_int", lambda x: x[1], [(4, 3)])
op("slice_then_mul", lambda x: x[1:3] * x[0:2], [(4, 3)])
# ---- linear algebra ----
op("mm", lambda a, b: gc.mm(a, b), [(2, 3), (3, 4)],
   torch_fn=lambda a, b: torch.mm(a, b))
op("mm_trans_a", lambda a, b: gc.mm(a, b, trans_a=True), [(3, 2), (3, 4)],
   torch_fn=lambda a, b: torch.mm(a.T, b))
op("mm_trans_b", lambda a, b: gc.mm(a, b, trans_b=True), [(2, 3), (4, 3)],
   torch_fn=lambda a, b: torch.mm(a, b.T))
op("mm_trans_ab", lambda a, b: gc.mm(a, b, trans_a=True, trans_b=True), [(3, 2), (4, 3)],
   torch_fn=lambda a, b: torch.mm(a.T, b.T))
op("matmul_2d", lambda a, b: a @ b, [(2, 3), (3, 4)])
op("matmul_1d_1d", lambda a, b: a @ b, [(3,), (3,)])
op("matmul_1d_2d", lambda a, b: a @ b, [(3,), (3, 4)])
op("matmul_2d_1d", lambda a, b: gc.matmul(a, b), [(2, 3), (3,)],
   torch_fn=lambda a, b: torch.matmul(a, b))
op("matmul_nd_2d", lambda a, b: gc.matmul(a, b), [(2, 2, 3), (3, 2)],
   torch_fn=lambda a, b: torch.matmul(a, b))
op("linear", lambda x, w, b: F.linear(x, w, b), [(3, 4), (2, 4), (2,)],
   torch_fn=lambda x, w, b: TF.linear(x, w, b))
op("linear_nobias", lambda x, w: F.linear(x, w), [(3, 4), (2, 4)],
   torch_fn=lambda x, w: TF.linear(x, w))
op("linear_relu", lambda x, w, b: F.linear(x, w, b, activation="relu"), [], make=_linear_relu_inputs,
   torch_fn=lambda x, w, b: torch.relu(TF.linear(x, w, b)))
op("linear_sigmoid", lambda x, w, b: F.linear(x, w, b, activation="sigmoid"), [(3, 4), (2, 4), (2,)],
   torch_fn=lambda x, w, b: torch.sigmoid(TF.linear(x, w, b)))
op("linear_tanh", lambda x, w, b: F.linear(x, w, b, activation="tanh"), [(3, 4), (2, 4), (2,)],
   torch_fn=lambda x, w, b: torch.tanh(TF.linear(x, w, b)))
op("linear_tanh_nobias", lambda x, w: F.linear(x, w, activation="tanh"), [(3, 4), (2, 4)],
   torch_fn=lambda x, w: torch.tanh(TF.linear(x, w)))
op("linear_gelu", lambda x, w, b: F.linear(x, w, b, activation="gelu"), [(3, 4), (2, 4), (2,)],
   torch_fn=lambda x, w, b: _torch_gelu(TF.linear(x, w, b)))
op("linear_gelu_tanh", lambda x, w, b: F.linear(x, w, b, activation="gelu_tanh"), [(3, 4), (2, 4), (2,)],
   torch_fn=lambda x, w, b: _torch_gelu(TF.linear(x, w, b), approximate="tanh"))
# ---- softmax and losses ----
op("softmax", lambda x: gc.softmax(x, -1), [(3, 4)],
   torch_fn=lambda x: torch.softmax(x, -1))
op("softmax_d0", lambda x: x.softmax(0), [(3, 4)])
op("softmax_3d_d1", lambda x: F.softmax(x, 1), [(2, 3, 2)],
   torch_fn=lambda x: TF.softmax(x, 1))
op("log_softmax", lambda x: gc.log_softmax(x, -1), [(3, 4)],
   torch_fn=lambda x: torch.log_softmax(x, -1))
op("log_softmax_d0", lambda x: x.log_softmax(0), [(3, 4)])
op("cross_entropy_mean", lambda x: F.cross_entropy(x, LABELS), [(3, 4)],
   torch_fn=lambda x: TF.cross_entropy(x, torch.from_numpy(LABELS)))
op("cross_entropy_sum", lambda x: F.cross_entropy(x, LABELS, reduction="sum"), [(3, 4)],
   torch_fn=lambda x: TF.cross_entropy(x, torch.from_numpy(LABELS), reduction="sum"))
op("cross_entropy_none", lambda x: F.cross_entropy(x, LABELS, reduction="none"), [(3, 4)],
   torch_fn=lambda x: TF.cross_entropy(x, torch.from_numpy(LABELS), reduction="none"))
op("cross_entropy_smooth", lambda x: F.cross_entropy(x, LABELS, label_smoothing=0.1), [(3, 4)],
   torch_fn=lambda x: TF.cross_entropy(x, torch.from_numpy(LABELS), label_smoothing=0.1))
op("cross_entropy_smooth_none", lambda x: F.cross_entropy(x, list(LABELS), reduction="none", label_smoothing=0.2),
   [(3, 4)],
   torch_fn=lambda x: TF.cross_entropy(x, torch.from_numpy(LABELS), reduction="none",
                                         label_smoothing=0.2))
op("mse_mean", lambda a, b: F.mse_loss(a, b), [], make=_mse_inputs,
   torch_fn=lambda a, b: TF.mse_loss(a, b))
op("mse_sum", lambda a, b: F.mse_loss(a, b, reduction="sum"), [], make=_mse_inputs,
   torch_fn=lambda a, b: TF.mse_loss(a, b, reduction="sum"))
op("mse_none", lambda a, b: F.mse_loss(a, b, reduction="none"), [], make=_mse_inputs,
   torch_fn=lambda a, b: TF.mse_loss(a, b, reduction="none"))
op("bce_with_logits", lambda x: F.binary_cross_entropy_with_logits(x, _BCE_TARGET), [(2, 3)],
   torch_fn=lambda x: TF.binary_cross_entropy_with_logits(x, torch.tensor(_BCE_TARGET, dtype=x.dtype)))

# ---- issue 11: promotion, selection, views, indexing ----
def _fixed(name: str, *arrays: np.ndarray) -> Callable[[], List[Any]]:
    return lambda: [leaf(a) for a in arrays]


_RNG11 = np.random.default_rng(11)
_A = _RNG11.uniform(-1.5, 1.5, (2, 3))
_GAP = _RNG11.uniform(0.2, 0.8, (2, 3)) * _RNG11.choice([-1.0, 1.0], (2, 3))
_MASK = np.array([[True, False, True], [False, True, True]])
_IDX = [0, 2, 0]  # a repeated index: its gradient sums
_CLAMP_X = np.array([[-1.2, -0.3, 0.1], [0.45, 0.9, -0.7]])  # away from the bounds +-0.5
op("remainder", lambda a, b: a % b, [], make=_fixed("remainder", _RNG11.uniform(2.3, 2.7, (2, 3)),
                                                    _RNG11.uniform(1.0, 1.1, (2, 3))))
op("where", lambda a, b: gc.where(gc.tensor(_MASK), a, b), [(2, 3), (2, 3)],
   torch_fn=lambda a, b: torch.where(torch.tensor(_MASK), a, b))
op("where_bcast", lambda a, b: gc.where(gc.tensor(_MASK), a, b), [(2, 3), (3,)],
   torch_fn=lambda a, b: torch.where(torch.tensor(_MASK), a, b))
op("lerp", lambda a, b, w: gc.lerp(a, b, w), [(3, 4), (4,), (3, 1)], torch_fn=lambda a, b, w: torch.lerp(a, b, w))
op("lerp_scalar", lambda a, b: a.lerp(b, 0.7), [(2, 3), (2, 3)], torch_fn=lambda a, b: a.lerp(b, 0.7))
op("addcmul", lambda a, b, c: gc.addcmul(a, b, c, value=0.5), [(3, 4), (4,), (3, 1)],
   torch_fn=lambda a, b, c: torch.addcmul(a, b, c, value=0.5))
op("addcdiv", lambda a, b, c: a.addcdiv(b, c, value=-2), [(3, 4), (4,), (3, 1)], ["any", "any", "pos"],
   torch_fn=lambda a, b, c: a.addcdiv(b, c, value=-2))
op("maximum", lambda a, b: gc.maximum(a, b), [], make=_fixed("maximum", _A, _A + _GAP),
   torch_fn=lambda a, b: torch.maximum(a, b))
op("minimum", lambda a, b: gc.minimum(a, b), [], make=_fixed("minimum", _A, _A + _GAP),
   torch_fn=lambda a, b: torch.minimum(a, b))
op("clamp_scalar", lambda x: x.clamp(-0.5, 0.5), [], make=_fixed("clamp", _CLAMP_X))
op("clamp_min_only", lambda x: gc.clamp(x, min=-0.5), [], make=_fixed("clamp_min", _CLAMP_X),
   torch_fn=lambda x: torch.clamp(x, min=-0.5))
op("clamp_tensor", lambda x, lo, hi: gc.clamp(x, lo, hi), [],
   make=_fixed("clamp_t", _CLAMP_X, np.full((2, 3), -0.5), np.full((3,), 0.5)),
   torch_fn=lambda x, lo, hi: torch.clamp(x, lo, hi))
op("floor", lambda x: x.floor() + x, [], make=_fixed("floor", np.array([[0.3, -1.4, 2.6], [-0.2, 1.7, 0.45]])))
op("sign", lambda x: x.sign() * x.sign().detach() + x, [], make=_fixed("sign", np.array([[0.3, -1.4, 2.6], [-0.2, 1.7, 0.45]])))
op("select", lambda x: x.select(1, 2), [(2, 3, 2)])
op("select_neg_index", lambda x: x[:, -1], [(2, 3)])
op("slice_step", lambda x: x[::2], [(5, 3)])
op("slice_dim1", lambda x: x[:, 1:3], [(2, 4)])
op("narrow", lambda x: x.narrow(1, 1, 2), [(2, 4)])
op("squeeze", lambda x: x.squeeze(1), [(2, 1, 3)])
op("unsqueeze", lambda x: x.unsqueeze(1), [(2, 3)])
op("diagonal", lambda x: x.diagonal(), [(3, 3)])
op("diagonal_offset", lambda x: x.diagonal(1, 0, 1), [(3, 4)])
op("unfold", lambda x: x.unfold(1, 2, 1), [(2, 4)])  # overlapping windows: their gradients add
op("as_strided", lambda x: x.as_strided((2, 2), (1, 2)), [(2, 3)])
op("contiguous", lambda x: x.t().contiguous() * x.t(), [(2, 3)])
op("index_list", lambda x: x[_IDX], [(4, 3)])
op("index_mask", lambda x: x[_MASK], [(2, 3)])
op("index_mixed", lambda x: x[:, [2, 0]], [(3, 4)])


def _setitem_basic(x: Any, v: Any) -> Any:
    y = x * 1.0
    y[:, 1] = v
    return y


def _setitem_advanced(x: Any, v: Any) -> Any:
    y = x * 1.0
    y[[0, 2]] = v
    return y


op("setitem_basic", _setitem_basic, [(2, 3), (2,)])
op("setitem_advanced", _setitem_advanced, [(3, 2), (2,)])


# ---- issue 11 item 5: reductions with indices, ordering, scans, products ----
# Ops along a dim take (3, 5)-like inputs reduced along dim 0 where PyTorch leaves the pick
# among equal values unspecified (topk, kthvalue, median): test_nonfinite.py writes its
# specials at flat positions 0, 2, 4 of the first input, one per lane then. mode reverses the
# rows first so that an injected NaN ends its lane (PyTorch's mode orders with `<`, which is
# unspecified for NaN elsewhere). The *_zero rows hold exact zeros (prod and cumprod are
# polynomials, smooth there): PyTorch's zero-safe gradient formulas.
_PROD_ZERO = np.array([[0.5, 0.0, 1.3, -0.7], [1.1, 0.0, -0.4, 0.0], [0.9, 1.2, 0.8, -1.1]])
_PROD_ZERO2 = np.array([[0.5, 0.0, 1.3], [-0.7, 0.0, 1.2]])
op("min_all", lambda x: x.min(), [(2, 3, 2)], "distinct")
op("min_dim", lambda x: gc.min(x, -1).values, [(2, 3, 2)], "distinct",
   torch_fn=lambda x: torch.min(x, -1).values)
op("amin_dims_keep", lambda x: x.amin((0, 2), keepdim=True), [(2, 3, 2)], "distinct")
op("amax_all", lambda x: gc.amax(x), [(2, 3)], "distinct",
   torch_fn=lambda x: torch.amax(x))
op("sort", lambda x: x.sort(0).values, [(3, 5)], "distinct")
op("sort_desc", lambda x: x.sort(dim=-1, descending=True).values, [(2, 3, 2)], "distinct")
op("sort_stable_fn", lambda x: gc.sort(x, dim=1, stable=True).values, [(3, 5)], "distinct",
   torch_fn=lambda x: torch.sort(x, dim=1, stable=True).values)
op("topk", lambda x: x.topk(2, dim=0).values, [(3, 5)], "distinct")
op("topk_smallest", lambda x: gc.topk(x, 2, 0, largest=False).values, [(3, 5)], "distinct",
   torch_fn=lambda x: torch.topk(x, 2, 0, largest=False).values)
op("kthvalue", lambda x: x.kthvalue(2, 0).values, [(3, 5)], "distinct")
op("median_dim", lambda x: x.median(0).values, [(3, 5)], "distinct")
op("median_keep", lambda x: gc.median(x, 0, keepdim=True).values, [(4, 5)], "distinct",
   torch_fn=lambda x: torch.median(x, 0, keepdim=True).values)
op("median_all", lambda x: x.median(), [(2, 3)], "distinct")
op("mode", lambda x: x[[2, 1, 0]].mode(0).values, [(3, 5)], "distinct")
op("cummax", lambda x: x.cummax(1).values, [(2, 4)], "distinct")
op("cummin", lambda x: gc.cummin(x, 0).values, [(3, 4)], "distinct",
   torch_fn=lambda x: torch.cummin(x, 0).values)
op("cumsum", lambda x: x.cumsum(1), [(2, 3)])
op("cumsum_fn", lambda x: gc.cumsum(x, 0), [(3, 2)],
   torch_fn=lambda x: torch.cumsum(x, 0))
op("cumprod", lambda x: x.cumprod(1), [(2, 4)])
op("cumprod_zero", lambda x: x.cumprod(1), [], make=_fixed("cumprod_zero", _PROD_ZERO))
op("cumprod_zero_d0", lambda x: gc.cumprod(x, 0), [], make=_fixed("cumprod_zero_d0", _PROD_ZERO.T.copy()),
   torch_fn=lambda x: torch.cumprod(x, 0))
op("prod_all", lambda x: x.prod(), [(2, 3)])
op("prod_dim", lambda x: gc.prod(x, 1), [(2, 3, 2)],
   torch_fn=lambda x: torch.prod(x, 1))
op("prod_dim_keep", lambda x: x.prod(-1, keepdim=True), [(2, 3)])
op("prod_zero_all", lambda x: x.prod(), [], make=_fixed("prod_zero_all", _PROD_ZERO[0]))
# two zeros: the gradient of the product is 0 but its Hessian is not (+ a square sum: a
# nonzero Jacobian for the table's forward-mode checks)
op("prod_zero2_all", lambda x: x.prod() + (x * x).sum(), [], make=_fixed("prod_zero2_all", _PROD_ZERO2))
op("prod_zero_dim", lambda x: x.prod(1), [], make=_fixed("prod_zero_dim", _PROD_ZERO))


# ---- issue 11 item 3: the index op family (index.cpp; Note [Dim-wise index ops]) ----
# Constant int64 index tensors and bool masks, as gradcore and as torch tensors. Repeated
# indices where the op sums them (gather, index_select, index_add, scatter_add, the
# scatter_reduce rows); distinct ones where the last write wins (scatter: the numerical
# gradient of an overwritten source element is 0, PyTorch's formula gives it the gradient
# anyway); amax/amin inputs fixed and distinct (gaps >= 0.01: no ties, which are kinks).
_IX_SEL = [2, 0, 2]
_IX_G = [[0, 2, 2], [1, 1, 0]]        # gather along dim 1 of (2, 3)
_IX_G0 = [[1, 0, 1], [0, 0, 1]]       # along dim 0 of (2, 3): rows, repeated
_IX_S = [[1, 0, 2], [0, 2, 1]]        # scatter along dim 1 of (2, 3): distinct in each row
_IX_R = [[0, 1, 1, 0], [2, 2, 0, 1]]  # scatter_reduce along dim 1 of (2, 3) from (2, 4): repeated
_MASK11 = np.array([[True, False, True], [False, False, True]])
_RED_X = np.array([[0.31, -0.52, 0.77], [-0.13, 0.45, -0.96]])
_RED_S = np.array([[0.12, 0.58, -0.33, 0.91], [-0.71, 0.26, 0.64, -0.05]])


def _g(a: Any) -> gc.Tensor:
    return gc.tensor(np.asarray(a))


def _t(a: Any) -> Any:
    return torch.tensor(np.asarray(a))


op("index_select", lambda x: gc.index_select(x, 1, _g(_IX_SEL)), [(2, 3)],
   torch_fn=lambda x: torch.index_select(x, 1, _t(_IX_SEL)))
op("index_select_negdim", lambda x: x.index_select(-2, _g([1, 1, 0])), [(2, 3)],
   torch_fn=lambda x: x.index_select(-2, _t([1, 1, 0])))
op("gather", lambda x: x.gather(1, _g(_IX_G)), [(2, 3)],
   torch_fn=lambda x: x.gather(1, _t(_IX_G)))
op("gather_dim0", lambda x: gc.gather(x, 0, _g(_IX_G0)), [(2, 3)],
   torch_fn=lambda x: torch.gather(x, 0, _t(_IX_G0)))
op("take_along_dim", lambda x: gc.take_along_dim(x, _g([[0], [-1]]), 1), [(2, 3)],
   torch_fn=lambda x: torch.take_along_dim(x, _t([[0], [-1]]), 1))
op("take_along_dim_bcast", lambda x: x.take_along_dim(_g([[2, 0, 2, 1]]), dim=-1), [(2, 3)],
   torch_fn=lambda x: x.take_along_dim(_t([[2, 0, 2, 1]]), dim=-1))
op("take_along_dim_flat", lambda x: gc.take_along_dim(x, _g([5, 0, 5])), [(2, 3)],
   torch_fn=lambda x: torch.take_along_dim(x, _t([5, 0, 5])))
op("scatter_src", lambda x, s: x.scatter(1, _g(_IX_S), s), [(2, 3), (2, 3)],
   torch_fn=lambda x, s: x.scatter(1, _t(_IX_S), s))
# NOTE: torch 2.13's own backward fails for a src larger than the index ("ScatterBackward0
# returned an invalid gradient"); its oracle reads the same corner of src explicitly.
op("scatter_src_larger", lambda x, s: gc.scatter(x, 0, _g([[1, 0, 1]]), s), [(2, 3), (2, 4)],
   torch_fn=lambda x, s: torch.scatter(x, 0, _t([[1, 0, 1]]), s[:1, :3]))
op("scatter_value", lambda x: x.scatter(1, _g([[2], [0]]), 0.5), [(2, 3)],
   torch_fn=lambda x: x.scatter(1, _t([[2], [0]]), 0.5))
op("scatter_add", lambda x, s: x.scatter_add(1, _g(_IX_R), s), [(2, 3), (2, 4)],
   torch_fn=lambda x, s: x.scatter_add(1, _t(_IX_R), s))
op("scatter_add_fn", lambda x, s: gc.scatter_add(x, 0, _g(_IX_G0), s), [(2, 3), (2, 3)],
   torch_fn=lambda x, s: torch.scatter_add(x, 0, _t(_IX_G0), s))
op("scatter_reduce_sum", lambda x, s: x.scatter_reduce(1, _g(_IX_R), s, "sum"), [(2, 3), (2, 4)],
   torch_fn=lambda x, s: x.scatter_reduce(1, _t(_IX_R), s, "sum"))
op("scatter_reduce_sum_noself", lambda x, s: x.scatter_reduce(1, _g(_IX_R), s, "sum", include_self=False),
   [(2, 3), (2, 4)],
   torch_fn=lambda x, s: x.scatter_reduce(1, _t(_IX_R), s, "sum", include_self=False))
op("scatter_reduce_mean", lambda x, s: gc.scatter_reduce(x, 1, _g(_IX_R), s, "mean"), [(2, 3), (2, 4)],
   torch_fn=lambda x, s: torch.scatter_reduce(x, 1, _t(_IX_R), s, "mean"))
op("scatter_reduce_mean_noself", lambda x, s: x.scatter_reduce(1, _g(_IX_R), s, "mean", include_self=False),
   [(2, 3), (2, 4)],
   torch_fn=lambda x, s: x.scatter_reduce(1, _t(_IX_R), s, "mean", include_self=False))
op("scatter_reduce_amax", lambda x, s: x.scatter_reduce(1, _g(_IX_R), s, "amax"), [],
   make=_fixed("sr_amax", _RED_X, _RED_S),
   torch_fn=lambda x, s: x.scatter_reduce(1, _t(_IX_R), s, "amax"))
op("scatter_reduce_amax_noself", lambda x, s: x.scatter_reduce(1, _g(_IX_R), s, "amax", include_self=False), [],
   make=_fixed("sr_amax_ns", _RED_X, _RED_S),
   torch_fn=lambda x, s: x.scatter_reduce(1, _t(_IX_R), s, "amax", include_self=False))
op("scatter_reduce_amin", lambda x, s: x.scatter_reduce(1, _g(_IX_R), s, "amin"), [],
   make=_fixed("sr_amin", _RED_X, _RED_S),
   torch_fn=lambda x, s: x.scatter_reduce(1, _t(_IX_R), s, "amin"))
op("scatter_reduce_prod", lambda x, s: x.scatter_reduce(1, _g(_IX_R), s, "prod"), [(2, 3), (2, 4)], "away0",
   torch_fn=lambda x, s: x.scatter_reduce(1, _t(_IX_R), s, "prod"))
op("scatter_reduce_prod_noself", lambda x, s: x.scatter_reduce(1, _g(_IX_R), s, "prod", include_self=False),
   [(2, 3), (2, 4)], "away0",
   torch_fn=lambda x, s: x.scatter_reduce(1, _t(_IX_R), s, "prod", include_self=False))
op("index_add", lambda x, s: x.index_add(1, _g([2, 0, 2, 2]), s, alpha=2.0), [(2, 3), (2, 4)],
   torch_fn=lambda x, s: x.index_add(1, _t([2, 0, 2, 2]), s, alpha=2.0))
op("index_add_fn", lambda x, s: gc.index_add(x, 0, _g([1]), s), [(2, 3), (1, 3)],
   torch_fn=lambda x, s: torch.index_add(x, 0, _t([1]), s))
op("index_fill", lambda x: x.index_fill(1, _g([2, -3, 2]), -0.5), [(2, 3)],
   torch_fn=lambda x: x.index_fill(1, _t([2, -3, 2]), -0.5))
op("index_fill_tensor", lambda x, v: gc.index_fill(x, 0, _g([1, 1]), v), [(2, 3), ()],
   torch_fn=lambda x, v: torch.index_fill(x, 0, _t([1, 1]), v))
op("index_put_accumulate", lambda x, v: gc.index_put(x, (_g([1, 0, 1]),), v, accumulate=True), [(2, 3), (3, 3)],
   torch_fn=lambda x, v: torch.index_put(x, (_t([1, 0, 1]),), v, accumulate=True))
op("masked_fill", lambda x: x.masked_fill(_g(_MASK11), 0.25), [(2, 3)],
   torch_fn=lambda x: x.masked_fill(_t(_MASK11), 0.25))
op("masked_fill_tensor", lambda x, v: gc.masked_fill(x, _g(_MASK11), v), [(2, 3), ()],
   torch_fn=lambda x, v: torch.masked_fill(x, _t(_MASK11), v))
op("masked_fill_bcast", lambda x: gc.masked_fill(x, _g(_MASK11), -1.0), [(3,)],
   torch_fn=lambda x: torch.masked_fill(x, _t(_MASK11), -1.0))
op("masked_select", lambda x: x.masked_select(_g(_MASK11)), [(2, 3)],
   torch_fn=lambda x: x.masked_select(_t(_MASK11)))
op("masked_select_bcast", lambda x: gc.masked_select(x, _g(_MASK11)), [(3,)],
   torch_fn=lambda x: torch.masked_select(x, _t(_MASK11)))
op("masked_scatter", lambda x, s: x.masked_scatter(_g(_MASK11), s), [(2, 3), (5,)],
   torch_fn=lambda x, s: x.masked_scatter(_t(_MASK11), s))
op("masked_scatter_2d_source", lambda x, s: gc.masked_scatter(x, _g(_MASK11), s), [(2, 3), (2, 2)],
   torch_fn=lambda x, s: torch.masked_scatter(x, _t(_MASK11), s))
# in-place forms, recorded (on a non-leaf; through a view: test_index_ops.py, reverse mode)
op("scatter_inplace", lambda x, s: (x * 1.0).scatter_(1, _g(_IX_S), s), [(2, 3), (2, 3)],
   torch_fn=lambda x, s: (x * 1.0).scatter_(1, _t(_IX_S), s))
op("scatter_add_inplace", lambda x, s: (x * 1.0).scatter_add_(1, _g(_IX_R), s), [(2, 3), (2, 4)],
   torch_fn=lambda x, s: (x * 1.0).scatter_add_(1, _t(_IX_R), s))
op("scatter_reduce_inplace", lambda x, s: (x * 1.0).scatter_reduce_(1, _g(_IX_R), s, "mean"), [(2, 3), (2, 4)],
   torch_fn=lambda x, s: (x * 1.0).scatter_reduce_(1, _t(_IX_R), s, "mean"))
op("index_add_inplace", lambda x, s: (x * 1.0).index_add_(0, _g([1, 1]), s), [(2, 3), (2, 3)],
   torch_fn=lambda x, s: (x * 1.0).index_add_(0, _t([1, 1]), s))
op("index_fill_inplace", lambda x, v: (x * 1.0).index_fill_(1, _g([0]), v), [(2, 3), ()],
   torch_fn=lambda x, v: (x * 1.0).index_fill_(1, _t([0]), v))
op("masked_fill_inplace", lambda x: (x * 1.0).masked_fill_(_g(_MASK11[0]), 2.0), [(2, 3)],
   torch_fn=lambda x: (x * 1.0).masked_fill_(_t(_MASK11[0]), 2.0))
op("masked_scatter_inplace", lambda x, s: (x * 1.0).masked_scatter_(_g(_MASK11), s), [(2, 3), (4,)],
   torch_fn=lambda x, s: (x * 1.0).masked_scatter_(_t(_MASK11), s))
op("index_put_inplace", lambda x, v: (x * 1.0).index_put_((_g([0, 1]), _g([2, 2])), v), [(2, 3), (2,)],
   torch_fn=lambda x, v: (x * 1.0).index_put_((_t([0, 1]), _t([2, 2])), v))

# ---- issue 12: shape ops (cat / flip / diag_embed in C++; the rest compose them with views) ----
def _pair_prod(p: Any) -> Any:
    return p[0] * p[1]


op("cat", lambda a, b: gc.cat([a, b]), [(2, 3), (1, 3)], torch_fn=lambda a, b: torch.cat([a, b]))
op("cat_dim1_three", lambda a, b, c: gc.cat((a, b, c), 1), [(2, 1), (2, 3), (2, 2)],
   torch_fn=lambda a, b, c: torch.cat((a, b, c), 1))
op("cat_negdim_batched", lambda a, b: gc.concat([a, b], dim=-1), [(2, 2, 2), (2, 2, 1)],
   torch_fn=lambda a, b: torch.concat([a, b], dim=-1))
op("cat_zero_size", lambda a, b: gc.cat([a, b], 0), [(0, 3), (2, 3)], torch_fn=lambda a, b: torch.cat([a, b], 0))
op("cat_legacy_empty", lambda a, b: gc.cat([a, b], 1), [(0,), (2, 3)], torch_fn=lambda a, b: torch.cat([a, b], 1))
op("stack", lambda a, b: gc.stack([a, b], 1), [(2, 3), (2, 3)], torch_fn=lambda a, b: torch.stack([a, b], 1))
op("hstack", lambda a, b: gc.hstack([a, b]), [(2, 1), (2, 3)], torch_fn=lambda a, b: torch.hstack([a, b]))
op("vstack", lambda a, b: gc.vstack([a, b]), [(3,), (2, 3)], torch_fn=lambda a, b: torch.vstack([a, b]))
op("dstack", lambda a, b: gc.dstack([a, b]), [(2, 3), (2, 3, 2)], torch_fn=lambda a, b: torch.dstack([a, b]))
op("split_sizes", lambda x: x.split([1, 3], 1)[1], [(2, 4)])
op("chunk_last", lambda x: x.chunk(3, 0)[2], [(5, 2)])
op("tensor_split_indices", lambda x: x.tensor_split([1, 3], 1)[1], [(2, 5)])
op("tensor_split_sections", lambda x: x.tensor_split(3, 0)[0], [(5, 2)])
op("unbind", lambda x: x.unbind(1)[2], [(2, 3)])
op("squeeze_tuple", lambda x: x.squeeze((0, 2)), [(1, 3, 1)])
op("unflatten", lambda x: x.unflatten(1, (2, -1)), [(2, 6)])
op("movedim", lambda x: x.movedim((0, 1), (2, 0)), [(2, 3, 4)])
op("repeat", lambda x: x.repeat(2, 1, 3), [(2, 3)])
op("tile", lambda x: x.tile((2,)), [(2, 3)])
op("repeat_interleave_int", lambda x: x.repeat_interleave(2, dim=1), [(2, 3)])
op("repeat_interleave_flat", lambda x: x.repeat_interleave(3), [(2, 2)])
op("repeat_interleave_tensor", lambda x: x.repeat_interleave(_g([2, 0, 3]), dim=0), [(3, 2)],
   torch_fn=lambda x: x.repeat_interleave(_t([2, 0, 3]), dim=0))
op("flip", lambda x: x.flip(0, 2), [(2, 3, 4)])
op("flip_fn", lambda x: gc.flip(x, (-1,)), [(3, 4)], torch_fn=lambda x: torch.flip(x, (-1,)))
op("fliplr", lambda x: x.fliplr(), [(3, 4)])
op("flipud", lambda x: x.flipud(), [(3, 4)])
op("roll", lambda x: x.roll((1, -2), (0, 1)), [(3, 4)])
op("roll_flat", lambda x: x.roll(5), [(3, 4)])
op("rot90", lambda x: x.rot90(1, (0, 1)), [(3, 4)])
op("rot90_k3_batched", lambda x: x.rot90(3, (1, 2)), [(2, 3, 4)])
op("rot90_k2", lambda x: x.rot90(2), [(3, 4)])
op("tril", lambda x: x.tril(), [(3, 4)])
op("tril_neg", lambda x: x.tril(-1), [(4, 3)])
op("triu_batched", lambda x: x.triu(1), [(2, 3, 4)])
op("diag_1d", lambda x: x.diag(1), [(3,)])
op("diag_2d", lambda x: x.diag(-1), [(3, 4)])
op("diag_embed", lambda x: x.diag_embed(), [(2, 3)])
op("diag_embed_offset_dims", lambda x: gc.diag_embed(x, -1, 0, 2), [(2, 3)],
   torch_fn=lambda x: torch.diag_embed(x, -1, 0, 2))
op("trace", lambda x: x.trace(), [(3, 4)])
op("pad_constant", lambda x: F.pad(x, (1, 2, 0, 1), value=0.5), [(2, 3)],
   torch_fn=lambda x: TF.pad(x, (1, 2, 0, 1), value=0.5))
op("pad_constant_crop", lambda x: F.pad(x, (-1, 2, 1, -1)), [(3, 4)], torch_fn=lambda x: TF.pad(x, (-1, 2, 1, -1)))
op("pad_reflect", lambda x: F.pad(x, (2, 1), mode="reflect"), [(2, 3, 4)],
   torch_fn=lambda x: TF.pad(x, (2, 1), mode="reflect"))
op("pad_reflect_2d", lambda x: F.pad(x, (1, 1, 2, 0), mode="reflect"), [(1, 2, 3, 4)],
   torch_fn=lambda x: TF.pad(x, (1, 1, 2, 0), mode="reflect"))
op("pad_replicate", lambda x: F.pad(x, (2, 3), mode="replicate"), [(2, 3, 4)],
   torch_fn=lambda x: TF.pad(x, (2, 3), mode="replicate"))
op("pad_replicate_2d", lambda x: F.pad(x, (1, 0, 2, 1), mode="replicate"), [(2, 3, 4)],
   torch_fn=lambda x: TF.pad(x, (1, 0, 2, 1), mode="replicate"))
op("pad_circular", lambda x: F.pad(x, (1, 2, 2, 1), mode="circular"), [(1, 2, 3, 4)],
   torch_fn=lambda x: TF.pad(x, (1, 2, 2, 1), mode="circular"))
op("pad_circular_crop", lambda x: F.pad(x, (-1, 2), mode="circular"), [(2, 4)],
   torch_fn=lambda x: TF.pad(x, (-1, 2), mode="circular"))
op("broadcast_to", lambda x: x.broadcast_to((2, 3, 4)), [(3, 1)])
op("broadcast_tensors", lambda a, b: _pair_prod(gc.broadcast_tensors(a, b)), [(3, 1), (2, 1, 4)],
   torch_fn=lambda a, b: _pair_prod(torch.broadcast_tensors(a, b)))
op("meshgrid_xy", lambda a, b: _pair_prod(gc.meshgrid(a, b, indexing="xy")), [(2,), (3,)],
   torch_fn=lambda a, b: _pair_prod(torch.meshgrid(a, b, indexing="xy")))
# ---- linear algebra (issue 12, linalg12) ----
def _mT(x: Any) -> Any:
    return x.transpose(-2, -1)


def _sym_distinct(name: str, n: int) -> Callable[[], List[Any]]:
    """A near-symmetric matrix with well-separated eigenvalues (fn symmetrizes it)."""
    def make() -> List[Any]:
        rng = np.random.default_rng(_seed(name))
        q, _ = np.linalg.qr(rng.standard_normal((n, n)))
        a = q @ np.diag(np.arange(1.0, n + 1) * 1.5 - 2.0) @ q.T + 0.05 * rng.standard_normal((n, n))
        return [leaf(a)]
    return make


def _distinct_sv(name: str, m: int, n: int) -> Callable[[], List[Any]]:
    """An m x n matrix with well-separated singular values 1, 2, 3, ..."""
    def make() -> List[Any]:
        rng = np.random.default_rng(_seed(name))
        k = min(m, n)
        u, _ = np.linalg.qr(rng.standard_normal((m, k)))
        v, _ = np.linalg.qr(rng.standard_normal((n, k)))
        return [leaf(u @ np.diag(np.arange(1.0, k + 1)) @ v.T + 0.02 * rng.standard_normal((m, n)))]
    return make


def _well_conditioned(name: str, shape: Shape, shift: float = 3.0) -> Callable[[], List[Any]]:
    def make() -> List[Any]:
        rng = np.random.default_rng(_seed(name))
        return [leaf(rng.uniform(-1, 1, shape) + shift * np.eye(shape[-1]))]
    return make


def _with(first: Callable[[], List[Any]], name: str, shapes: Sequence[Shape]) -> Callable[[], List[Any]]:
    rest = inputs(name, shapes, ["any"] * len(shapes))
    return lambda: first() + rest()


op("matmul_batched", lambda a, b: gc.matmul(a, b), [(2, 3, 4), (2, 4, 2)], torch_fn=lambda a, b: torch.matmul(a, b))
op("matmul_bcast", lambda a, b: a @ b, [(2, 1, 3, 4), (3, 4, 2)])
op("matmul_bcast_2d_left", lambda a, b: a @ b, [(3, 4), (2, 4, 2)])
op("matmul_1d_nd", lambda a, b: a @ b, [(3,), (2, 3, 2)])
op("matmul_nd_1d", lambda a, b: a @ b, [(2, 2, 3), (3,)])
op("matmul_transposed", lambda a, b: a.transpose(-1, -2) @ b.transpose(-1, -2), [(2, 4, 3), (2, 2, 4)])
op("bmm", lambda a, b: gc.bmm(a, b), [(2, 3, 4), (2, 4, 2)], torch_fn=lambda a, b: torch.bmm(a, b))
op("baddbmm", lambda i, a, b: gc.baddbmm(i, a, b, beta=0.5, alpha=2.0), [(1, 3, 2), (2, 3, 4), (2, 4, 2)],
   torch_fn=lambda i, a, b: torch.baddbmm(i, a, b, beta=0.5, alpha=2.0))
op("addmm", lambda i, a, b: gc.addmm(i, a, b, beta=1.5, alpha=-0.5), [(3,), (2, 4), (4, 3)],
   torch_fn=lambda i, a, b: torch.addmm(i, a, b, beta=1.5, alpha=-0.5))
op("addmv", lambda i, a, v: gc.addmv(i, a, v), [(2,), (2, 3), (3,)], torch_fn=lambda i, a, v: torch.addmv(i, a, v))
op("addr", lambda i, a, b: gc.addr(i, a, b, alpha=2.0), [(2, 3), (2,), (3,)],
   torch_fn=lambda i, a, b: torch.addr(i, a, b, alpha=2.0))
op("mv", lambda a, v: gc.mv(a, v), [(2, 3), (3,)], torch_fn=lambda a, v: torch.mv(a, v))
op("dot", lambda a, b: gc.dot(a, b), [(4,), (4,)], torch_fn=lambda a, b: torch.dot(a, b))
op("outer", lambda a, b: gc.outer(a, b), [(3,), (2,)], torch_fn=lambda a, b: torch.outer(a, b))
op("inner", lambda a, b: gc.inner(a, b), [(2, 3), (4, 3)], torch_fn=lambda a, b: torch.inner(a, b))
op("tensordot", lambda a, b: gc.tensordot(a, b, dims=([0, 2], [1, 0])), [(2, 3, 4), (4, 2, 3)],
   torch_fn=lambda a, b: torch.tensordot(a, b, dims=([0, 2], [1, 0])))
op("kron", lambda a, b: gc.kron(a, b), [(2, 3), (2, 2)], torch_fn=lambda a, b: torch.kron(a, b))
op("einsum_bmm", lambda a, b: gc.einsum("bij,bjk->bik", a, b), [(2, 3, 4), (2, 4, 2)],
   torch_fn=lambda a, b: torch.einsum("bij,bjk->bik", a, b))
op("einsum_attention", lambda a, b: gc.einsum("bhtd,bhsd->bhts", a, b), [(1, 2, 3, 4), (1, 2, 2, 4)],
   torch_fn=lambda a, b: torch.einsum("bhtd,bhsd->bhts", a, b))
op("einsum_diag_sum", lambda a, b: gc.einsum("iij,jk->ik", a, b), [(3, 3, 2), (2, 4)],
   torch_fn=lambda a, b: torch.einsum("iij,jk->ik", a, b))
op("einsum_ellipsis", lambda a, b: gc.einsum("...ij,...jk", a, b), [(2, 1, 2, 3), (3, 3, 2)],
   torch_fn=lambda a, b: torch.einsum("...ij,...jk", a, b))
def _torch_einsum_left_to_right(eq: str, *xs: Any) -> Any:
    """torch.einsum contracting left to right, as gradcore does. With opt_einsum installed (jax
    brings it) torch picks another order, and where inf * 0 makes a NaN depends on the order."""
    with torch.backends.opt_einsum.flags(enabled=False):
        return torch.einsum(eq, *xs)


op("einsum_three", lambda a, b, c: gc.einsum("bn,anm,bm->ba", a, b, c), [(3, 4), (2, 4, 5), (3, 5)],
   torch_fn=lambda a, b, c: _torch_einsum_left_to_right("bn,anm,bm->ba", a, b, c))
op("einsum_trace_outer", lambda a, b: gc.einsum("ii,j->j", a, b), [(3, 3), (2,)],
   torch_fn=lambda a, b: torch.einsum("ii,j->j", a, b))
op("multi_dot", lambda a, b, c: gc.linalg.multi_dot([a, b, c]), [(2, 3), (3, 4), (4,)],
   torch_fn=lambda a, b, c: torch.linalg.multi_dot([a, b, c]))
op("linalg_inv", lambda a: gc.linalg.inv(a), [], make=_well_conditioned("linalg_inv", (2, 3, 3)),
   torch_fn=lambda a: torch.linalg.inv(a))
op("linalg_det", lambda a: gc.linalg.det(a), [], make=_well_conditioned("linalg_det", (2, 3, 3), 2.0),
   torch_fn=lambda a: torch.linalg.det(a))
op("linalg_slogdet", lambda a: gc.linalg.slogdet(a)[1] * 1.0, [], make=_well_conditioned("linalg_slogdet", (3, 3)),
   torch_fn=lambda a: torch.linalg.slogdet(a)[1] * 1.0)
op("linalg_solve", lambda a, b: gc.linalg.solve(a, b), [],
   make=_with(_well_conditioned("linalg_solve", (2, 3, 3)), "linalg_solve_b", [(3, 2)]),
   torch_fn=lambda a, b: torch.linalg.solve(a, b))
_EYE3 = gc.tensor(np.eye(3), dtype=gc.float64)
op("linalg_cholesky", lambda a: gc.linalg.cholesky(a @ _mT(a) + 0.5 * _EYE3.to(a.dtype)), [(3, 3)],
   torch_fn=lambda a: torch.linalg.cholesky(a @ _mT(a) + 0.5 * torch.eye(3, dtype=a.dtype)))
op("linalg_eigh", lambda a: _eigh_inv(gc, a), [], make=_sym_distinct("linalg_eigh", 3),
   torch_fn=lambda a: _eigh_inv(torch, a))
op("linalg_svd", lambda a: _svd_inv(gc, a), [], make=_distinct_sv("linalg_svd", 4, 3),
   torch_fn=lambda a: _svd_inv(torch, a))
op("linalg_svd_wide", lambda a: _svd_inv(gc, a), [], make=_distinct_sv("linalg_svd_wide", 2, 4),
   torch_fn=lambda a: _svd_inv(torch, a))
op("linalg_svdvals", lambda a: gc.linalg.svdvals(a), [], make=_distinct_sv("linalg_svdvals", 3, 4),
   torch_fn=lambda a: torch.linalg.svdvals(a))
op("linalg_qr", lambda a: _qr_inv(gc, a), [], make=_distinct_sv("linalg_qr", 4, 3),
   torch_fn=lambda a: _qr_inv(torch, a))
op("linalg_qr_wide", lambda a: _qr_inv(gc, a), [], make=_distinct_sv("linalg_qr_wide", 3, 5),
   torch_fn=lambda a: _qr_inv(torch, a))
op("linalg_pinv", lambda a: gc.linalg.pinv(a), [], make=_distinct_sv("linalg_pinv", 4, 3),
   torch_fn=lambda a: torch.linalg.pinv(a))


def _eigh_inv(m: Any, a: Any) -> Any:
    """A function of eigh that does not depend on the eigenvectors' signs: V^2 scaled by w."""
    w, v = m.linalg.eigh((a + _mT(a)) * 0.5)
    return v * v * w.unsqueeze(-2) + w


def _svd_inv(m: Any, a: Any) -> Any:
    """Sign-invariant: U diag(S^2 + S) Vh (each (u_i, v_i) pair flips together)."""
    u, s, vh = m.linalg.svd(a, full_matrices=False)
    return (u * (s * s + s).unsqueeze(-2)) @ vh


def _qr_inv(m: Any, a: Any) -> Any:
    """Sign-invariant in the columns of Q / rows of R: (Q * Q) @ (R * R)."""
    q, r = m.linalg.qr(a)
    return (q * q) @ (r * r)

# ---- issue 12: losses and functional (nn12) ----
# Compositions of the ops above in python/gradcore/nn/functional.py (no ops.h rows of their
# own), one row per loss x reduction at least, cross_entropy's options in combination.
# ``_nn12(f)`` spells one row for both libraries: f(functional module, library, *inputs).
_Y12 = np.array([2, 0, 3], dtype=np.int64)
_Y12_IGN = np.array([2, -100, 3], dtype=np.int64)
_Y12_ND = np.array([[[1, 3], [0, 2]], [[2, 1], [3, 0]]], dtype=np.int64)   # (N=2, d1=2, d2=2)
_W12 = np.array([0.5, 2.0, 1.0, 1.5])
_PM12 = np.array([1.0, -1.0, -1.0, 1.0, 1.0])
_MLT12 = np.array([[3, 0, -1, 1], [1, 2, 3, -1], [0, 0, -1, -1]], dtype=np.int64)


def _torch_reduce(loss: Any, reduction: str) -> Any:
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def _nn12(name: str, f: Callable[..., Any], shapes: Sequence[Shape], domains: Any = "any", make: Any = None,
          **tol: float) -> None:
    op(name, lambda *a: f(F, gc, *a), shapes, domains, make=make,
       torch_fn=lambda *a: f(TF, torch, *a), **tol)


def _t12(L: Any, a: np.ndarray, like: Any = None) -> Any:
    return L.tensor(a) if like is None else L.tensor(a, dtype=like.dtype)


def _prob_inputs(name: str, shapes: Sequence[Shape]) -> Callable[[], List[Any]]:
    def make() -> List[Any]:
        rng = np.random.default_rng(_seed(name))
        return [leaf(rng.uniform(0.1, 0.9, s)) for s in shapes]
    return make


def _softmax_rows(name: str) -> Callable[[], List[Any]]:
    def make() -> List[Any]:
        rng = np.random.default_rng(_seed(name))
        x = rng.uniform(-1.5, 1.5, (3, 4))
        p = rng.uniform(0.1, 1.0, (3, 4))
        return [leaf(x), leaf(p / p.sum(1, keepdims=True))]
    return make


for _r in ("mean", "sum", "none"):
    _nn12(f"ce12_w_ign_ls_{_r}", lambda F, L, x, r=_r: F.cross_entropy(
        x, _t12(L, _Y12_IGN), weight=_t12(L, _W12, x), label_smoothing=0.2, reduction=r), [(3, 4)])
    _nn12(f"ce12_nd_ign_{_r}", lambda F, L, x, r=_r: F.cross_entropy(
        x, _t12(L, _Y12_ND), ignore_index=1, reduction=r), [(2, 4, 2, 2)])
    _nn12(f"ce12_prob_w_ls_{_r}", lambda F, L, x, p, r=_r: F.cross_entropy(
        x, p, weight=_t12(L, _W12, x), label_smoothing=0.1, reduction=r), [], make=_softmax_rows("ce12_prob"))
    _nn12(f"nll12_w_{_r}", lambda F, L, x, r=_r: F.nll_loss(x, _t12(L, _Y12_IGN), weight=_t12(L, _W12, x),
                                                           reduction=r), [(3, 4)])
    _nn12(f"bce12_{_r}", lambda F, L, x, t, r=_r: F.binary_cross_entropy(x, t, weight=_t12(L, _W12, x),
                                                                        reduction=r),
          [], make=_prob_inputs(f"bce12_{_r}", [(3, 4), (3, 4)]))
    _nn12(f"bce_logits12_{_r}", lambda F, L, x, t, r=_r: F.binary_cross_entropy_with_logits(
        x, t, weight=_t12(L, _W12, x), pos_weight=_t12(L, _W12[::-1].copy(), x), reduction=r),
        [], make=_prob_inputs(f"bce_logits12_{_r}", [(3, 4), (3, 4)]))
    _nn12(f"l1_12_{_r}", lambda F, L, a, b, r=_r: F.l1_loss(a, b, reduction=r), [(2, 3), (2, 3)])
    _nn12(f"smooth_l1_12_{_r}", lambda F, L, a, b, r=_r: F.smooth_l1_loss(a, b, reduction=r, beta=0.5),
          [(2, 3), (2, 3)])
    _nn12(f"huber12_{_r}", lambda F, L, a, b, r=_r: F.huber_loss(a, b, reduction=r, delta=0.7), [(2, 3), (2, 3)])
    _nn12(f"kl_div12_{_r}", lambda F, L, x, t, r=("batchmean" if _r == "mean" else _r): F.kl_div(x, t, reduction=r),
          [(3, 4), (3, 4)], ["any", "pos"])
    _nn12(f"poisson12_{_r}", lambda F, L, x, t, r=_r: F.poisson_nll_loss(x, t, reduction=r),
          [(2, 3), (2, 3)], ["any", "pos"])
    _nn12(f"gaussian12_{_r}", lambda F, L, x, t, v, r=_r: F.gaussian_nll_loss(x, t, v * v + 0.1, reduction=r),
          [(2, 3), (2, 3), (2, 3)])  # var = v^2 + 0.1: -inf injected in v is no negative variance
    _nn12(f"margin_ranking12_{_r}", lambda F, L, a, b, r=_r: F.margin_ranking_loss(
        a, b, _t12(L, _PM12, a), margin=0.1, reduction=r), [(5,), (5,)])
    _nn12(f"hinge12_{_r}", lambda F, L, x, r=_r: F.hinge_embedding_loss(
        x, _t12(L, _PM12, x), margin=2.0, reduction=r), [(5,)])
    _nn12(f"cosine_embedding12_{_r}", lambda F, L, a, b, r=_r: F.cosine_embedding_loss(
        a, b, _t12(L, _PM12[:3], a), margin=-0.5, reduction=r), [(3, 4), (3, 4)])
    _nn12(f"triplet12_{_r}", lambda F, L, a, p, n, r=_r: F.triplet_margin_loss(a, p, n, margin=3.0, reduction=r),
          [(3, 4), (3, 4), (3, 4)])
    _nn12(f"multi_margin12_{_r}", lambda F, L, x, r=_r: F.multi_margin_loss(x, _t12(L, _Y12), margin=3.0,
                                                                           reduction=r), [(3, 4)])
    _nn12(f"multilabel_soft_margin12_{_r}", lambda F, L, x, r=_r: F.multilabel_soft_margin_loss(
        x, _t12(L, _BCE_TARGET, x), reduction=r), [(2, 3)])
    # NOTE: torch's soft_margin_loss backward is NaN at |x| = inf (inf / inf); gradcore's
    # softplus gives the limit (+-1), the same as torch's own softplus composition here.
    op(f"soft_margin12_{_r}", lambda x, r=_r: F.soft_margin_loss(x, _t12(gc, _PM12, x), reduction=r), [(5,)],
       torch_fn=lambda x, r=_r: _torch_reduce(TF.softplus(-_t12(torch, _PM12, x) * x), r))
    _nn12(f"multilabel_margin12_{_r}", lambda F, L, x, r=_r: F.multilabel_margin_loss(
        x, _t12(L, _MLT12), reduction=r), [(3, 4)], "distinct")
_nn12("ce12_all_options_nd", lambda F, L, x: F.cross_entropy(
    x, _t12(L, _Y12_ND), weight=_t12(L, _W12, x), ignore_index=0, label_smoothing=0.3), [(2, 4, 2, 2)])
_nn12("ce12_unbatched", lambda F, L, x: F.cross_entropy(x, _t12(L, np.array(2))), [(4,)])
_nn12("kl_div12_batchmean_logt", lambda F, L, x, t: F.kl_div(x, t, reduction="batchmean", log_target=True),
      [(3, 4), (3, 4)])
_nn12("poisson12_full_nolog", lambda F, L, x: F.poisson_nll_loss(
    x, _t12(L, np.array([[0.5, 2.0, 3.5], [1.0, 6.0, 0.0]]), x), log_input=False, full=True), [(2, 3)], "pos")
_nn12("multi_margin12_p2_w", lambda F, L, x: F.multi_margin_loss(x, _t12(L, _Y12), p=2, margin=3.0,
                                                                 weight=_t12(L, _W12, x)), [(3, 4)])
_nn12("triplet12_swap_p1", lambda F, L, a, p, n: F.triplet_margin_loss(a, p, n, p=1, swap=True, margin=5.0),
      [(3, 4), (3, 4), (3, 4)])
_nn12("softmin12", lambda F, L, x: F.softmin(x, dim=1), [(3, 4)])
_nn12("log_softmax12_dtype", lambda F, L, x: F.log_softmax(x, 0, dtype=L.float64), [(3, 4)])
_nn12("glu12", lambda F, L, x: F.glu(x, 1), [(3, 4)])
_nn12("prelu12_channels", lambda F, L, x, w: F.prelu(x, w), [(2, 3, 2), (3,)], ["away0", "any"])
_nn12("normalize12", lambda F, L, x: F.normalize(x, dim=1), [(3, 4)])
_nn12("normalize12_p3", lambda F, L, x: F.normalize(x, p=3.0, dim=0), [(3, 4)], "away0")
_nn12("cosine_similarity12", lambda F, L, a, b: F.cosine_similarity(a, b), [(3, 4), (3, 4)])
_nn12("pairwise_distance12", lambda F, L, a, b: F.pairwise_distance(a, b), [(3, 4), (3, 4)])
_nn12("bilinear12", lambda F, L, a, b, w, c: F.bilinear(a, b, w, c), [(3, 2), (3, 3), (2, 2, 3), (2,)])


def case(name: str) -> Tuple[Callable[..., Any], List[Any], Dict[str, float]]:
    c = OPS[name]
    return c.fn, c.make(), dict(c.tol)


# Every differentiable declaration of csrc/autograd/ops.h -> the OPS rows (or, for detach,
# the dedicated tests) that reach it. test_higher_order.py checks this against ops.h, so a
# new op without rows here fails the suite. The backward-only ops are reached through the
# backward of the listed rows: gradgradcheck differentiates them (double backward) and runs
# forward mode over them (forward over reverse).
COVERAGE: Dict[str, List[str]] = {
    "add": ["add", "add_bcast", "add_scalar", "radd_scalar"], "sub": ["sub", "sub_bcast", "sub_scalar"],
    "mul": ["mul", "mul_bcast", "mul_0d", "mul_self", "mul_scalar", "rmul_scalar"],
    "div": ["div", "div_bcast", "div_scalar"], "rsub": ["rsub_scalar"], "rdiv": ["rdiv_scalar"],
    "remainder": ["remainder"],
    "pow": ["pow_2", "pow_3", "pow_frac", "pow_neg", "pow_half", "pow_0", "pow_1", "pow_tensor", "pow_tensor_bcast"],
    "rpow": ["rpow"], "neg": ["neg", "neg_fn"], "abs": ["abs"],
    "leaky_relu": ["leaky_relu"], "dropout": ["dropout"], "rounding": ["floor"], "sign": ["sign"],
    "gelu_backward": ["gelu", "gelu_tanh", "linear_gelu", "linear_gelu_tanh"],
    "elu": ["elu", "celu", "elu_alpha", "selu"], "hardtanh": ["hardtanh", "relu6"], "threshold": ["threshold"],
    "softshrink": ["softshrink"], "hardshrink": ["hardshrink"], "square": ["square"], "logit": ["logit", "logit_eps"],
    "nan_to_num": ["nan_to_num"], "round_decimals": ["round_decimals"],
    "where": ["where", "where_bcast"], "lerp": ["lerp", "lerp_scalar"], "maximum": ["maximum"], "minimum": ["minimum"],
    "clamp": ["clamp_scalar", "clamp_min_only", "clamp_tensor"],
    "sum": ["sum_all", "sum_dim", "sum_negdim_keep", "sum_dims_keep"],
    "mean": ["mean_all", "mean_dim", "mean_dims_keep"], "max": ["max_all"],
    "sum_to": ["add_bcast", "sub_bcast", "mul_bcast", "div_bcast", "mul_0d", "expand", "expand_0d"],
    "reshape": ["reshape", "reshape_fn", "flatten"], "view": ["view"],
    "permute": ["permute", "permute_fn", "T"], "transpose": ["transpose", "transpose_3d"],
    "expand": ["expand", "expand_0d"], "detach": [], "clone": ["clone"], "contiguous": ["contiguous"],
    "as_strided": ["as_strided"], "select": ["select", "select_neg_index", "index_int"],
    "slice": ["slice", "slice_neg", "slice_then_mul", "slice_step", "slice_dim1"], "slice0": ["slice", "slice_neg"],
    "narrow": ["narrow"], "squeeze": ["squeeze"], "unsqueeze": ["unsqueeze"],
    "diagonal": ["diagonal", "diagonal_offset"], "unfold": ["unfold"],
    "view_scatter": ["select", "slice_step", "diagonal", "unfold", "as_strided"],
    "index": ["index_list", "index_mask", "index_mixed"],
    "index_put": ["setitem_advanced", "index_put_accumulate", "index_put_inplace"],
    "view_put": ["setitem_basic", "setitem_advanced"],
    "to_dtype": ["to_float64", "to_float32_and_back"],
    "mm": ["mm", "mm_trans_a", "mm_trans_b", "mm_trans_ab"],
    "matmul": ["matmul_2d", "matmul_1d_1d", "matmul_1d_2d", "matmul_2d_1d", "matmul_nd_2d", "matmul_batched",
               "matmul_bcast", "matmul_bcast_2d_left", "matmul_1d_nd", "matmul_nd_1d", "matmul_transposed",
               "einsum_bmm", "einsum_attention", "einsum_ellipsis"],
    "linear": ["linear", "linear_nobias", "linear_relu", "linear_sigmoid", "linear_tanh", "linear_tanh_nobias",
               "linear_gelu", "linear_gelu_tanh"],
    "softmax": ["softmax", "softmax_d0", "softmax_3d_d1"], "log_softmax": ["log_softmax", "log_softmax_d0"],
    "cross_entropy": ["cross_entropy_mean", "cross_entropy_sum", "cross_entropy_none", "cross_entropy_smooth",
                      "cross_entropy_smooth_none"],
    "mse_loss": ["mse_mean", "mse_sum", "mse_none"],
    # issue 11 item 5 (the ValuesIndices ops of ops.h, max_dim ... cummin, are reached by the
    # same rows through gather_along / scatter_add_along)
    "min": ["min_all"], "amax": ["amax_dims", "amax_all"], "amin": ["amin_dims_keep"],
    "evenly_distribute_backward": ["max_all", "min_all", "median_all"],
    "median": ["median_all", "median_dim", "median_keep"],
    "gather_along": ["max_dim", "min_dim", "sort", "sort_desc", "topk", "kthvalue", "median_dim", "mode", "cummax"],
    "scatter_add_along": ["max_dim", "max_dim_keep", "min_dim", "sort", "sort_desc", "sort_stable_fn", "topk",
                          "topk_smallest", "kthvalue", "median_dim", "median_keep", "mode", "cummax", "cummin"],
    "cumsum": ["cumsum", "cumsum_fn", "cumprod"],
    "cumprod": ["cumprod", "cumprod_zero", "cumprod_zero_d0", "prod_zero_dim"],
    "prod": ["prod_all", "prod_dim", "prod_dim_keep", "prod_zero_all", "prod_zero2_all", "prod_zero_dim"],
    # issue 11 item 3: the index op family
    "index_select": ["index_select", "index_select_negdim"], "gather": ["gather", "gather_dim0", "take_along_dim"],
    "take_along_dim": ["take_along_dim", "take_along_dim_bcast", "take_along_dim_flat"],
    "scatter": ["scatter_src", "scatter_src_larger", "scatter_value", "scatter_inplace", "scatter_reduce_sum_noself"],
    "scatter_add": ["scatter_add", "scatter_add_fn", "scatter_add_inplace", "gather", "gather_dim0"],
    "scatter_reduce": ["scatter_reduce_sum", "scatter_reduce_sum_noself", "scatter_reduce_mean",
                       "scatter_reduce_mean_noself", "scatter_reduce_amax", "scatter_reduce_amax_noself",
                       "scatter_reduce_amin", "scatter_reduce_prod", "scatter_reduce_prod_noself",
                       "scatter_reduce_inplace"],
    "index_add": ["index_add", "index_add_fn", "index_add_inplace", "index_select"],
    "index_fill": ["index_fill", "index_fill_tensor", "index_fill_inplace"],
    "masked_fill": ["masked_fill", "masked_fill_tensor", "masked_fill_bcast", "masked_fill_inplace"],
    "masked_select": ["masked_select", "masked_select_bcast", "masked_scatter"],
    "masked_scatter": ["masked_scatter", "masked_scatter_2d_source", "masked_scatter_inplace", "masked_select"],
    # issue 12: shape ops (the composed ones reach these three through their rows)
    "cat": ["cat", "cat_dim1_three", "cat_negdim_batched", "cat_zero_size", "cat_legacy_empty", "stack", "hstack",
            "vstack", "dstack", "roll", "roll_flat", "pad_constant", "pad_constant_crop"],
    "flip": ["flip", "flip_fn", "fliplr", "flipud", "rot90", "rot90_k3_batched", "rot90_k2"],
    "diag_embed": ["diag_embed", "diag_embed_offset_dims", "diag_1d"],
    # issue 12 (linalg12); the Python compositions (einsum, tensordot, gradcore.linalg, ...) reach
    # matmul / mm and the view ops through their rows
    "bmm": ["bmm", "baddbmm"],
}
# The registry rows cover themselves (an activation row also its fused backward op).
for _key, _row in ELEMENTWISE.items():
    if _key in ("_softplus", "elu_alpha", "logit_eps", "round_decimals", "tanhshrink", "celu"):
        continue  # parameterised forms of the rows above, and compositions (no op of their own)
    COVERAGE.setdefault(_key, [])
    COVERAGE[_key].append(_row.name)
for _act in ("relu", "sigmoid", "tanh", "gelu", "gelu_tanh", "silu", "mish", "softplus", "hardswish", "hardsigmoid",
             "softsign", "logsigmoid", "selu", "relu6"):
    COVERAGE[_act + "_backward"] = [_act] + (["linear_" + _act] if "linear_" + _act in OPS else [])
for _alias in ("arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh"):
    COVERAGE.pop(_alias, None)  # aliases: the rows of asin ... (ops.h declares no function of theirs)
COVERAGE["softplus"].append("bce_with_logits")

# Declarations of ops.h without a derivative (comparisons, logic, helpers, factories,
# in-place machinery, optimizer updates); floor_divide's backward raises as PyTorch's.
NOT_DIFFERENTIABLE = {
    "eq", "relu_integer", "broadcast_shapes", "normalize_dim", "parse_reduction", "floor_divide", "rfloor_divide",
    "rremainder",
    "compare", "logical", "logical_not", "bitwise", "bitwise_not", "classify", "nonzero", "index_put_", "dense",
    "scalar_tensor", "zeros", "full", "scalar_like", "rand", "randn", "arange", "apply_inplace", "grad_norm",
    "tensor_norms",
    "argmax", "argmin", "argsort", "bincount", "histc", "any", "all", "count_nonzero",  # issue 11 item 5
    # issue 11 item 3: the in-place forms (recorded through the out-of-place ops: the *_inplace rows)
    "scatter_", "scatter_add_", "scatter_reduce_", "index_add_", "index_fill_", "masked_fill_", "masked_scatter_",
    # issue 12: random sampling and creation (samples carry no gradient, as PyTorch's)
    "bernoulli", "poisson", "multinomial", "randperm", "randint", "eye", "linspace", "logspace",
}


def num_hvp(f: Callable[..., gc.Tensor], args: List[gc.Tensor], vs: List[np.ndarray],
            eps: float = 1e-5) -> List[np.ndarray]:
    """(grad f(x + eps v) - grad f(x - eps v)) / 2 eps, from first derivatives only."""
    def grads(sign: float) -> List[np.ndarray]:
        xs = [leaf(a.detach().numpy() + sign * eps * v) for a, v in zip(args, vs)]
        gs = gc.grad([f(*xs)], xs, allow_unused=True)
        return [np.zeros(x.shape) if g is None else g.detach().numpy().copy() for g, x in zip(gs, xs)]
    plus, minus = grads(1.0), grads(-1.0)
    return [(p - m) / (2 * eps) for p, m in zip(plus, minus)]


# --- reductions and statistics (issue 12, reduce12) ---
# var/std at distinct values (a positive variance: std's sqrt is smooth there); norms away
# from 0 (|x| >= 0.2: |x|^p and sign are smooth), inf-norms and quantiles at distinct values
# (no ties; quantile's q avoids the ranks' integer points so 'linear' interpolates).
_Q = [0.3, 0.65]
op("var_all", lambda x: x.var(), [(2, 3)])
op("var_dim", lambda x: x.var(1), [(3, 4)])
op("var_dims_keep_corr0", lambda x: gc.var(x, (0, 2), keepdim=True, correction=0), [(2, 3, 2)],
   torch_fn=lambda x: torch.var(x, (0, 2), keepdim=True, correction=0))
op("var_unbiased_false", lambda x: x.var(0, False), [(4, 2)])
op("std_all", lambda x: x.std(), [(2, 3)], "distinct")
op("std_dim_keep", lambda x: x.std(-1, keepdim=True), [(3, 4)], "distinct")
op("std_corr2", lambda x: gc.std(x, 0, correction=2), [(5, 2)], "distinct",
   torch_fn=lambda x: torch.std(x, 0, correction=2))
op("var_mean", lambda x: gc.var_mean(x, 1)[0] + gc.var_mean(x, 1)[1], [(3, 4)],
   torch_fn=lambda x: torch.var_mean(x, 1)[0] + torch.var_mean(x, 1)[1])
op("std_mean", lambda x: gc.std_mean(x, 0)[0] * gc.std_mean(x, 0)[1], [(4, 3)], "distinct",
   torch_fn=lambda x: torch.std_mean(x, 0)[0] * torch.std_mean(x, 0)[1])
op("logsumexp_dim", lambda x: x.logsumexp(1), [(3, 4)])
op("logsumexp_dims_keep", lambda x: gc.logsumexp(x, (0, 2), keepdim=True), [(2, 3, 2)],
   torch_fn=lambda x: torch.logsumexp(x, (0, 2), keepdim=True))
op("logcumsumexp", lambda x: x.logcumsumexp(1), [(2, 4)])
op("logcumsumexp_d0", lambda x: gc.logcumsumexp(x, 0), [(4, 2)], torch_fn=lambda x: torch.logcumsumexp(x, 0))
op("vector_norm_2", lambda x: gc.linalg.vector_norm(x), [(2, 3)], "away0",
   torch_fn=lambda x: torch.linalg.vector_norm(x))
op("vector_norm_1_dim", lambda x: gc.linalg.vector_norm(x, 1, dim=1), [(3, 4)], "away0",
   torch_fn=lambda x: torch.linalg.vector_norm(x, 1, dim=1))
op("vector_norm_3_keep", lambda x: gc.linalg.vector_norm(x, 3, dim=(0, 2), keepdim=True), [(2, 3, 2)], "away0",
   torch_fn=lambda x: torch.linalg.vector_norm(x, 3, dim=(0, 2), keepdim=True))
op("vector_norm_half", lambda x: gc.linalg.vector_norm(x, 0.5, dim=0), [(3, 2)], "away0",
   torch_fn=lambda x: torch.linalg.vector_norm(x, 0.5, dim=0))
op("vector_norm_1p5", lambda x: gc.linalg.vector_norm(x, 1.5, dim=-1), [(2, 3)], "away0",
   torch_fn=lambda x: torch.linalg.vector_norm(x, 1.5, dim=-1))
op("vector_norm_inf", lambda x: gc.linalg.vector_norm(x, float("inf"), dim=1), [(2, 3)], "distinct",
   torch_fn=lambda x: torch.linalg.vector_norm(x, float("inf"), dim=1))
op("vector_norm_neginf", lambda x: gc.linalg.vector_norm(x, -float("inf")), [(2, 3)], "distinct",
   torch_fn=lambda x: torch.linalg.vector_norm(x, -float("inf")))
op("vector_norm_0", lambda x: gc.linalg.vector_norm(x, 0, dim=1) * x.sum(), [(2, 3)], "away0",
   torch_fn=lambda x: torch.linalg.vector_norm(x, 0, dim=1) * x.sum())
op("norm_fro", lambda x: x.norm(), [(2, 3)], "away0")
op("norm_p3_dim", lambda x: x.norm(3, 1), [(2, 3)], "away0")
op("matrix_norm_inf", lambda x: gc.linalg.matrix_norm(x, float("inf")), [(2, 3, 3)], "distinct",
   torch_fn=lambda x: torch.linalg.matrix_norm(x, float("inf")))
op("matrix_norm_1", lambda x: gc.linalg.matrix_norm(x, 1, keepdim=True), [(3, 4)], "distinct",
   torch_fn=lambda x: torch.linalg.matrix_norm(x, 1, keepdim=True))
op("matrix_norm_fro", lambda x: gc.linalg.norm(x, dim=(0, 1)), [(3, 4)], "away0",
   torch_fn=lambda x: torch.linalg.norm(x, dim=(0, 1)))
op("dist_p2", lambda x, y: gc.dist(x, y), [(2, 3), (3,)], "distinct", torch_fn=lambda x, y: torch.dist(x, y))
op("dist_p1p5", lambda x, y: x.dist(y, 1.5), [(2, 3), (2, 3)], "distinct")
op("cdist_p2", lambda x, y: gc.cdist(x, y), [(3, 2), (4, 2)], "distinct", torch_fn=lambda x, y: torch.cdist(x, y))
op("cdist_p2_mm", lambda x, y: gc.cdist(x, y, compute_mode="use_mm_for_euclid_dist"), [(3, 2), (4, 2)], "distinct",
   torch_fn=lambda x, y: torch.cdist(x, y, compute_mode="use_mm_for_euclid_dist"))
op("cdist_p1_batched", lambda x, y: gc.cdist(x, y, 1.0), [(2, 3, 2), (2, 2, 2)], "distinct",
   torch_fn=lambda x, y: torch.cdist(x, y, 1.0))
op("cdist_p3", lambda x, y: gc.cdist(x, y, 3.0), [(3, 2), (2, 2)], "distinct",
   torch_fn=lambda x, y: torch.cdist(x, y, 3.0))
op("nansum", lambda x: gc.nansum(x, 1), [(2, 3)], torch_fn=lambda x: torch.nansum(x, 1))
op("nanmean", lambda x: x.nanmean(), [(2, 3)])
op("aminmax", lambda x: gc.aminmax(x, dim=1).min * 2 + gc.aminmax(x, dim=1).max, [(3, 4)], "distinct",
   torch_fn=lambda x: torch.aminmax(x, dim=1).min * 2 + torch.aminmax(x, dim=1).max)
op("quantile_dim", lambda x: gc.quantile(x, 0.3, 1), [(3, 5)], "distinct",
   torch_fn=lambda x: torch.quantile(x, 0.3, 1))
op("quantile_q_tensor", lambda x: gc.quantile(x, gc.tensor(_Q, dtype=x.dtype)), [(2, 3)], "distinct",
   torch_fn=lambda x: torch.quantile(x, torch.tensor(_Q, dtype=x.dtype)))
op("quantile_midpoint_keep", lambda x: x.quantile(0.4, 0, True, interpolation="midpoint"), [(4, 2)], "distinct")
op("quantile_lower", lambda x: x.quantile(0.4, 1, interpolation="lower"), [(2, 4)], "distinct")
op("nanquantile", lambda x: gc.nanquantile(x, 0.7, 0), [(4, 3)], "distinct",
   torch_fn=lambda x: torch.nanquantile(x, 0.7, 0))
op("cov", lambda x: gc.cov(x), [(2, 5)], torch_fn=lambda x: torch.cov(x))
_AW = [0.5, 1.25, 2.0, 0.75]
op("cov_weights", lambda x: gc.cov(x, fweights=_g([1, 2, 1, 3]), aweights=gc.tensor(_AW, dtype=x.dtype)), [(3, 4)],
   torch_fn=lambda x: torch.cov(x, fweights=_t([1, 2, 1, 3]), aweights=torch.tensor(_AW, dtype=x.dtype)))
op("cov_fweights_corr0", lambda x: gc.cov(x, correction=0, fweights=_g([2, 1, 1])), [(2, 3)],
   torch_fn=lambda x: torch.cov(x, correction=0, fweights=_t([2, 1, 1])))
op("corrcoef", lambda x: gc.corrcoef(x), [(3, 5)], "distinct", torch_fn=lambda x: torch.corrcoef(x))

COVERAGE.update({
    "var": ["var_all", "var_dim", "var_dims_keep_corr0", "var_unbiased_false", "var_mean"],
    "std_dev": ["std_all", "std_dim_keep", "std_corr2", "std_mean"],
    "logsumexp": ["logsumexp_dim", "logsumexp_dims_keep"],
    "logcumsumexp": ["logcumsumexp", "logcumsumexp_d0"],
    "vector_norm": ["vector_norm_2", "vector_norm_1_dim", "vector_norm_3_keep", "vector_norm_half",
                    "vector_norm_1p5", "vector_norm_inf", "vector_norm_neginf", "vector_norm_0", "norm_fro",
                    "norm_p3_dim", "matrix_norm_inf", "matrix_norm_1", "matrix_norm_fro", "dist_p2", "dist_p1p5",
                    "cdist_p2", "cdist_p1_batched", "cdist_p3"],
})

# ---- issue 12 leftovers (left12): python/gradcore/_more_ops.py, compositions of the rows above ----
op("tril_inplace", lambda x: (x * 1).tril_(-1), [(3, 4)])
op("triu_inplace_batched", lambda x: (x * 1).triu_(1), [(2, 3, 3)])
op("diagflat", lambda x: x.diagflat(1), [(2, 2)])
op("block_diag", lambda a, b, c: gc.block_diag(a, b, c), [(2, 3), (2,), ()],
   torch_fn=lambda a, b, c: torch.block_diag(a, b, c))
op("cartesian_prod", lambda a, b: gc.cartesian_prod(a, b), [(3,), (2,)],
   torch_fn=lambda a, b: torch.cartesian_prod(a, b))
op("combinations", lambda x: gc.combinations(x, 2), [(4,)], torch_fn=lambda x: torch.combinations(x, 2))
op("combinations_replacement", lambda x: gc.combinations(x, 3, with_replacement=True), [(3,)],
   torch_fn=lambda x: torch.combinations(x, 3, with_replacement=True))
op("addbmm", lambda i, a, b: gc.addbmm(i, a, b, beta=0.5, alpha=-2.0), [(3,), (2, 2, 4), (2, 4, 3)],
   torch_fn=lambda i, a, b: torch.addbmm(i, a, b, beta=0.5, alpha=-2.0))
op("addbmm_inplace", lambda i, a, b: (i * 1).addbmm_(a, b, alpha=2.0), [(2, 3), (2, 2, 4), (2, 4, 3)])
op("slice_scatter", lambda i, s: gc.slice_scatter(i, s, 1, 1, None, 2), [(3, 5), (3, 2)],
   torch_fn=lambda i, s: torch.slice_scatter(i, s, 1, 1, None, 2))
op("select_scatter", lambda i, s: i.select_scatter(s, -1, 2), [(2, 3, 4), (2, 3)])
op("diagonal_scatter", lambda i, s: i.diagonal_scatter(s, -1, 2, 0), [(3, 2, 4), (2, 3)])
op("einsum_sublist", lambda a, b: gc.einsum(a, [Ellipsis, 0, 1], b, [1, 2], [Ellipsis, 2, 0]), [(2, 3, 4), (4, 2)],
   torch_fn=lambda a, b: torch.einsum(a, [Ellipsis, 0, 1], b, [1, 2], [Ellipsis, 2, 0]))

"""Issue 12 (nn12): the nn Module API, containers, losses and non-elementwise functional ops,
each checked against PyTorch on the same inputs (values, gradients, reprs, state_dict keys,
exception types)."""
from __future__ import annotations

import copy
import math
import warnings
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Tuple

import numpy as np
import pytest

import gradcore as gc
import gradcore.nn as nn
import gradcore.nn.functional as F

torch = pytest.importorskip("torch")
tF = torch.nn.functional

R = np.random.default_rng(12)


def _u(*shape: int, lo: float = -2.0, hi: float = 2.0) -> np.ndarray:
    return R.uniform(lo, hi, shape)


def _ints(hi: int, *shape: int) -> np.ndarray:
    return R.integers(0, hi, shape).astype(np.int64)


def _pm1(*shape: int) -> np.ndarray:
    return R.choice([-1.0, 1.0], shape)


# name -> (fn(F, lib, *tensors), [(array, requires_grad)])
# Float arrays are cast to the dtype under test; integer arrays stay int64.
X34, X34b, P34 = _u(3, 4), _u(3, 4), R.uniform(0.05, 0.95, (3, 4))
Y3 = np.array([2, 0, 3], np.int64)
Y3I = np.array([2, -100, 3], np.int64)
X3425, Y325 = _u(3, 4, 2, 5), _ints(4, 3, 2, 5)
Y325[0, 0, :2] = 1  # ignored below
W4 = np.array([0.5, 2.0, 1.0, 1.5])
SOFT = R.uniform(0.0, 1.0, (3, 4))
SOFT /= SOFT.sum(1, keepdims=True)
X5, X5b, X5c = _u(5), _u(5), _u(5)
V34 = R.uniform(0.1, 2.0, (3, 4))
CASES: Dict[str, Tuple[Callable[..., Any], List[Tuple[np.ndarray, bool]]]] = {}
for red in ("mean", "sum", "none"):
    CASES[f"cross_entropy_{red}"] = (lambda F, L, x, y, r=red: F.cross_entropy(x, y, reduction=r),
                                     [(X34, True), (Y3, False)])
    CASES[f"cross_entropy_w_ign_ls_{red}"] = (
        lambda F, L, x, y, w, r=red: F.cross_entropy(x, y, weight=w, ignore_index=-100, label_smoothing=0.2,
                                                     reduction=r), [(X34, True), (Y3I, False), (W4, False)])
    CASES[f"cross_entropy_nd_{red}"] = (
        lambda F, L, x, y, w, r=red: F.cross_entropy(x, y, weight=w, ignore_index=1, reduction=r),
        [(X3425, True), (Y325, False), (W4, False)])
    CASES[f"cross_entropy_prob_{red}"] = (
        lambda F, L, x, y, w, r=red: F.cross_entropy(x, y, weight=w, label_smoothing=0.1, reduction=r),
        [(X34, True), (SOFT, True), (W4, False)])
    CASES[f"nll_{red}"] = (lambda F, L, x, y, w, r=red: F.nll_loss(F.log_softmax(x, dim=1), y, weight=w,
                                                                  reduction=r),
                           [(X34, True), (Y3I, False), (W4, False)])
    CASES[f"bce_{red}"] = (lambda F, L, x, y, w, r=red: F.binary_cross_entropy(x, y, weight=w, reduction=r),
                           [(P34, True), (SOFT, True), (W4, False)])
    CASES[f"bce_logits_{red}"] = (
        lambda F, L, x, y, w, pw, r=red: F.binary_cross_entropy_with_logits(x, y, weight=w, pos_weight=pw,
                                                                            reduction=r),
        [(X34 * 3, True), (P34, True), (W4, False), (W4[::-1].copy(), False)])
    CASES[f"mse_{red}"] = (lambda F, L, x, y, r=red: F.mse_loss(x, y, reduction=r), [(X34, True), (X34b, True)])
    CASES[f"l1_{red}"] = (lambda F, L, x, y, r=red: F.l1_loss(x, y, reduction=r), [(X34, True), (X34b, True)])
    CASES[f"smooth_l1_{red}"] = (lambda F, L, x, y, r=red: F.smooth_l1_loss(x, y, reduction=r, beta=0.7),
                                 [(X34, True), (X34b, True)])
    CASES[f"huber_{red}"] = (lambda F, L, x, y, r=red: F.huber_loss(x, y, reduction=r, delta=0.6),
                             [(X34, True), (X34b, True)])
    CASES[f"poisson_{red}"] = (lambda F, L, x, y, r=red: F.poisson_nll_loss(x, y, reduction=r),
                               [(X34, True), (V34 * 2, False)])
    CASES[f"gaussian_{red}"] = (lambda F, L, x, y, v, r=red: F.gaussian_nll_loss(x, y, v, reduction=r),
                                [(X34, True), (X34b, True), (V34, True)])
    CASES[f"margin_ranking_{red}"] = (
        lambda F, L, a, b, y, r=red: F.margin_ranking_loss(a, b, y, margin=0.3, reduction=r),
        [(X5, True), (X5b, True), (_pm1(5), False)])
    CASES[f"hinge_{red}"] = (lambda F, L, x, y, r=red: F.hinge_embedding_loss(x, y, margin=1.5, reduction=r),
                             [(X34, True), (_pm1(3, 4), False)])
    CASES[f"cosine_embedding_{red}"] = (
        lambda F, L, a, b, y, r=red: F.cosine_embedding_loss(a, b, y, margin=0.2, reduction=r),
        [(X34, True), (X34b, True), (_pm1(3), False)])
    CASES[f"triplet_{red}"] = (
        lambda F, L, a, p, n, r=red: F.triplet_margin_loss(a, p, n, margin=2.0, reduction=r),
        [(X34, True), (X34b, True), (_u(3, 4), True)])
    CASES[f"multi_margin_{red}"] = (lambda F, L, x, y, r=red: F.multi_margin_loss(x, y, reduction=r),
                                    [(X34, True), (Y3, False)])
    CASES[f"multilabel_soft_margin_{red}"] = (
        lambda F, L, x, y, w, r=red: F.multilabel_soft_margin_loss(x, y, weight=w, reduction=r),
        [(X34, True), ((P34 > 0.5).astype(np.float64), False), (W4, False)])
    CASES[f"soft_margin_{red}"] = (lambda F, L, x, y, r=red: F.soft_margin_loss(x, y, reduction=r),
                                   [(X34, True), (_pm1(3, 4), False)])
    CASES[f"multilabel_margin_{red}"] = (
        lambda F, L, x, y, r=red: F.multilabel_margin_loss(x, y, reduction=r),
        [(X34, True), (np.array([[3, 0, -1, 1], [1, 2, 3, -1], [0, 0, -1, -1]], np.int64), False)])
for red in ("batchmean", "sum", "none"):
    CASES[f"kl_div_{red}"] = (lambda F, L, x, y, r=red: F.kl_div(x, y, reduction=r),
                              [(np.log(SOFT[::-1].copy()), True), (SOFT, True)])
    # zero targets (0 log 0 = 0); no target gradient there (torch's is NaN, gradcore's finite)
    CASES[f"kl_div_zero_t_{red}"] = (lambda F, L, x, y, r=red: F.kl_div(x, y, reduction=r),
                                     [(np.log(SOFT[::-1].copy()), True), (np.where(SOFT > 0.3, 0.0, SOFT), False)])
    CASES[f"kl_div_logt_{red}"] = (lambda F, L, x, y, r=red: F.kl_div(x, y, reduction=r, log_target=True),
                                   [(np.log(SOFT[::-1].copy()), True), (np.log(SOFT), True)])
CASES.update({
    "cross_entropy_unbatched": (lambda F, L, x, y: F.cross_entropy(x, y), [(X5, True), (np.array(3), False)]),
    "cross_entropy_all_options_nd_ls": (
        lambda F, L, x, y, w: F.cross_entropy(x, y, weight=w, ignore_index=1, label_smoothing=0.3),
        [(X3425, True), (Y325, False), (W4, False)]),
    "nll_unbatched": (lambda F, L, x, y: F.nll_loss(x, y), [(X5, True), (np.array(1), False)]),
    "poisson_full_nolog": (lambda F, L, x, y: F.poisson_nll_loss(x, y, log_input=False, full=True),
                           [(V34, True), (V34[::-1] * 3, False)]),
    "gaussian_full_homosc": (lambda F, L, x, y, v: F.gaussian_nll_loss(x, y, v, full=True),
                             [(X34, True), (X34b, True), (V34[:, :1].copy(), True)]),
    "gaussian_var_nolast": (lambda F, L, x, y, v: F.gaussian_nll_loss(x, y, v, eps=0.5),
                            [(X34, True), (X34b, True), (V34[:, 0].copy(), True)]),
    "triplet_swap_p1": (lambda F, L, a, p, n: F.triplet_margin_loss(a, p, n, p=1, swap=True, margin=3.0),
                        [(X34, True), (X34b, True), (_u(3, 4), True)]),
    "multi_margin_p2_w": (lambda F, L, x, y, w: F.multi_margin_loss(x, y, p=2, margin=0.8, weight=w),
                          [(X34, True), (Y3, False), (W4, False)]),
    "smooth_l1_beta0": (lambda F, L, x, y: F.smooth_l1_loss(x, y, beta=0.0), [(X34, True), (X34b, True)]),
    "mse_bcast_target": (lambda F, L, x, y: F.mse_loss(x, y), [(X34, True), (X34b[0].copy(), True)]),
    "softmax_dtype": (lambda F, L, x: F.softmax(x, dim=0, dtype=L.float64), [(X34, True)]),
    "log_softmax_dtype": (lambda F, L, x: F.log_softmax(x, 1, dtype=L.float64), [(X34, True)]),
    "softmin": (lambda F, L, x: F.softmin(x, dim=1), [(X34, True)]),
    "glu": (lambda F, L, x: F.glu(x, 1), [(X34, True)]),
    "glu_d0": (lambda F, L, x: F.glu(x, dim=0), [(X34[:2], True)]),
    "prelu_1": (lambda F, L, x, w: F.prelu(x, w), [(X34, True), (np.array([0.3]), True)]),
    "prelu_c": (lambda F, L, x, w: F.prelu(x, w), [(X3425, True), (W4 / 4, True)]),
    "normalize": (lambda F, L, x: F.normalize(x), [(X34, True)]),
    "normalize_p1_d0": (lambda F, L, x: F.normalize(x, p=1.0, dim=0), [(X34, True)]),
    "normalize_p3": (lambda F, L, x: F.normalize(x, p=3.0, dim=-1), [(X34, True)]),
    "cosine_similarity": (lambda F, L, a, b: F.cosine_similarity(a, b), [(X34, True), (X34b, True)]),
    "cosine_similarity_bcast": (lambda F, L, a, b: F.cosine_similarity(a, b, dim=-1),
                                [(X34, True), (X34b[:1].copy(), True)]),
    "pairwise_distance": (lambda F, L, a, b: F.pairwise_distance(a, b), [(X34, True), (X34b, True)]),
    "pairwise_distance_p1_keep": (lambda F, L, a, b: F.pairwise_distance(a, b, p=1.0, keepdim=True),
                                  [(X34, True), (X34b, True)]),
    "pairwise_distance_inf": (lambda F, L, a, b: F.pairwise_distance(a, b, p=math.inf), [(X34, True), (X34b, True)]),
    "linear": (lambda F, L, x, w, b: F.linear(x, w, b), [(X34, True), (_u(2, 4), True), (_u(2), True)]),
    "bilinear": (lambda F, L, a, b, w, c: F.bilinear(a, b, w, c),
                 [(X34, True), (_u(3, 5), True), (_u(2, 4, 5), True), (_u(2), True)]),
    "bilinear_nd_nobias": (lambda F, L, a, b, w: F.bilinear(a, b, w),
                           [(_u(2, 3, 4), True), (_u(2, 3, 5), True), (_u(2, 4, 5), True)]),
})


def _both(name: str, dtype: str) -> Tuple[List[Any], List[Any]]:
    fn, spec = CASES[name]
    out = []
    for lib, Fm in ((gc, F), (torch, tF)):
        ts = []
        for a, rg in spec:
            if a.dtype.kind == "f":
                ts.append(lib.tensor(a.astype(dtype), requires_grad=rg))
            else:
                ts.append(lib.tensor(a))
        y = fn(Fm, lib, *ts)
        up = np.random.default_rng(1).uniform(0.5, 1.5, tuple(y.shape)).astype(str(y.dtype).split(".")[-1])
        grads = lib.autograd.grad([y], [t for t in ts if t.requires_grad], [lib.tensor(up)], allow_unused=True) \
            if any(t.requires_grad for t in ts) else []
        out.append([y] + list(grads))
    return out[0], out[1]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(CASES))
def test_values_and_gradients_match_torch(name: str, dtype: str) -> None:
    rtol, atol = (1e-10, 1e-12) if dtype == "float64" else (2e-5, 2e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # mse broadcasting: checked in its own test
        got, want = _both(name, dtype)
    assert len(got) == len(want)
    for i, (g, t) in enumerate(zip(got, want)):
        if t is None:
            assert g is None or not np.asarray(g.detach().numpy()).any(), f"{name}: grad {i}"
            continue
        assert g is not None, f"{name}: grad {i} missing"
        assert tuple(g.shape) == tuple(t.shape), f"{name}: output {i} shape"
        assert str(g.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], f"{name}: output {i} dtype"
        np.testing.assert_allclose(g.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"{name} output {i}")


# --------------------------------------------------------------------------------------
# Module API: one script run on torch and on gradcore, every observation compared
# --------------------------------------------------------------------------------------
def _err(f: Callable[[], Any]) -> str:
    try:
        f()
    except Exception as e:  # noqa: BLE001 - the type and message are the observation
        return f"{type(e).__name__}: {e}"
    return "no error"


def _api_script(lib: Any) -> Dict[str, Any]:
    nnm = lib.nn
    obs: Dict[str, Any] = {}

    class Block(nnm.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nnm.Linear(2, 3, bias=False)
            self.register_buffer("stat", lib.zeros(3))
            self.register_buffer("scratch", lib.ones(1), persistent=False)
            self.scale = nnm.Parameter(lib.ones(3))
            self.act = nnm.Tanh()

        def forward(self, x: Any) -> Any:
            return self.act(self.lin(x)) * self.scale + self.stat

    class Net(nnm.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = nnm.ModuleList([Block(), Block()])
            self.heads = nnm.ModuleDict({"b": nnm.Linear(3, 1), "a": nnm.Linear(3, 2)})
            self.shared = self.blocks[0]
            self.extra = nnm.ParameterList([nnm.Parameter(lib.zeros(2)), lib.ones(1)])
            self.pd = nnm.ParameterDict({"z": lib.zeros(1), "y": nnm.Parameter(lib.ones(2))})

    net = Net()
    obs["repr"] = repr(net)
    obs["sd_keys"] = list(net.state_dict().keys())
    obs["sd_shapes"] = [tuple(v.shape) for v in net.state_dict().values()]
    obs["sd_type"] = type(net.state_dict()).__name__
    obs["sd_prefix"] = list(net.blocks[1].state_dict(prefix="p.").keys())
    obs["sd_keep_vars"] = [v.requires_grad for v in net.state_dict(keep_vars=True).values()]
    obs["sd_detached"] = [v.requires_grad for v in net.state_dict().values()]
    dest: Dict[str, Any] = OrderedDict()
    obs["sd_dest_same"] = net.heads.state_dict(destination=dest) is dest
    obs["named_modules"] = [n for n, _ in net.named_modules()]
    obs["named_modules_dup"] = [n for n, _ in net.named_modules(remove_duplicate=False)]
    obs["named_modules_prefix"] = [n for n, _ in net.heads.named_modules(prefix="h")]
    obs["named_parameters"] = [n for n, _ in net.named_parameters()]
    obs["named_parameters_dup"] = [n for n, _ in net.named_parameters(remove_duplicate=False)]
    obs["named_parameters_norec"] = [n for n, _ in net.blocks[0].named_parameters(prefix="q", recurse=False)]
    obs["named_buffers"] = [n for n, _ in net.named_buffers()]
    obs["buffers_norec"] = len(list(net.buffers(recurse=False)))
    obs["children"] = [type(m).__name__ for m in net.children()]
    obs["named_children"] = [n for n, _ in net.named_children()]
    obs["modules"] = len(list(net.modules()))
    seen: List[str] = []
    obs["apply_returns_self"] = net.apply(lambda m: seen.append(type(m).__name__)) is net
    obs["apply_order"] = seen
    obs["get_submodule"] = type(net.get_submodule("blocks.1.act")).__name__
    obs["get_parameter"] = tuple(net.get_parameter("heads.a.weight").shape)
    obs["get_buffer"] = tuple(net.get_buffer("blocks.0.stat").shape)
    obs["get_errors"] = [_err(lambda: net.get_submodule("blocks.7")), _err(lambda: net.get_submodule("blocks.0.lin.weight")),
                         _err(lambda: net.get_parameter("blocks.0.stat")), _err(lambda: net.get_buffer("blocks.0.scale")),
                         _err(lambda: net.get_parameter("heads.nope"))]
    # train / eval recursion
    net.eval()
    obs["eval"] = [m.training for m in net.modules()]
    net.blocks.train()
    obs["train_sub"] = [m.training for m in net.modules()]
    obs["train_bad"] = _err(lambda: net.train("yes"))
    # requires_grad_ / zero_grad
    net.requires_grad_(False)
    obs["frozen"] = [p.requires_grad for p in net.parameters()]
    net.requires_grad_()
    out = net.blocks[0](lib.ones(4, 2)).sum()
    out.backward()
    net.zero_grad(set_to_none=False)
    obs["zero_grad_false"] = [None if p.grad is None else float(p.grad.abs().sum()) for p in net.parameters()]
    net.zero_grad()
    obs["zero_grad"] = [p.grad is None for p in net.parameters()]
    # __setattr__ / __delattr__
    b = Block()
    obs["set_tensor_on_param"] = _err(lambda: setattr(b, "scale", lib.zeros(3)))
    b.scale = None
    obs["param_none"] = ("scale" in dict(b.named_parameters()), b.scale is None, list(b.state_dict()))
    b.scale = nnm.Parameter(lib.ones(2))
    obs["param_back"] = list(b.state_dict())
    obs["set_int_on_module"] = _err(lambda: setattr(b, "lin", 3))
    obs["set_int_on_buffer"] = _err(lambda: setattr(b, "stat", 3))
    b.stat = lib.ones(3)
    obs["buffer_assign"] = float(b.stat.sum())
    b.lin = None
    obs["module_none"] = (b.lin is None, [n for n, _ in b.named_children()])
    del b.stat
    obs["del_buffer"] = (list(b.state_dict()), _err(lambda: b.stat))
    b.newmod = nnm.ReLU()
    obs["assign_module"] = [n for n, _ in b.named_children()]
    obs["no_attr"] = _err(lambda: b.missing)
    b.plain = 5
    obs["plain"] = (b.plain, "plain" in dict(b.named_parameters()))
    # register_* checks
    obs["register_errors"] = [
        _err(lambda: b.register_buffer("a.b", None)), _err(lambda: b.register_buffer("", None)),
        _err(lambda: b.register_buffer("plain", None)), _err(lambda: b.register_buffer(3, None)),
        _err(lambda: b.register_buffer("t", 3)), _err(lambda: b.register_parameter("p.q", None)),
        _err(lambda: b.register_parameter("t", lib.zeros(1))), _err(lambda: b.add_module("m", 3)),
        _err(lambda: b.add_module("a.b", nnm.ReLU())), _err(lambda: b.add_module("plain", nnm.ReLU())),
        _err(lambda: b.register_parameter("nl", nnm.Parameter(lib.ones(1)) * 2)),
    ]
    b.register_module("rm", nnm.Sigmoid())
    b.register_parameter("rp", nnm.Parameter(lib.zeros(1)))
    b.register_parameter("rnone", None)
    obs["registered"] = (list(b.state_dict()), [n for n, _ in b.named_children()])
    # dtype conversion
    m = nnm.Linear(2, 2)
    m.register_buffer("count", lib.zeros(2, dtype=lib.int64))
    p0 = m.weight
    m.double()
    obs["double"] = (str(m.weight.dtype).split(".")[-1], str(m.count.dtype).split(".")[-1], m.weight is p0)
    m.to(lib.float32)
    obs["to"] = str(m.bias.dtype).split(".")[-1]
    m.half()
    obs["half"] = str(m.weight.dtype).split(".")[-1]
    m.float()
    obs["to_int"] = _err(lambda: m.to(lib.int64))
    obs["to_tensor"] = str(m.to(lib.zeros(1, dtype=lib.float64)).weight.dtype).split(".")[-1]
    return obs


def _norm_text(x: Any) -> Any:
    if isinstance(x, str):
        return x.replace("torch", "gradcore")
    if isinstance(x, (list, tuple)):
        return type(x)(_norm_text(v) for v in x)
    if isinstance(x, dict):
        return {k: _norm_text(v) for k, v in x.items()}
    return x


def test_module_api_matches_torch() -> None:
    want, got = _norm_text(_api_script(torch)), _norm_text(_api_script(gc))
    assert want.keys() == got.keys()
    for k in want:
        assert got[k] == want[k], k


def _load_script(lib: Any) -> Dict[str, Any]:
    nnm = lib.nn
    obs: Dict[str, Any] = {}
    src = nnm.Sequential(nnm.Linear(3, 2), nnm.ReLU(), nnm.Linear(2, 1))
    dst = nnm.Sequential(nnm.Linear(3, 2), nnm.ReLU(), nnm.Linear(2, 1))
    r = dst.load_state_dict(src.state_dict())
    obs["ok"] = (repr(r), list(r.missing_keys), list(r.unexpected_keys), type(r).__name__)
    obs["copied"] = bool((dst[0].weight == src[0].weight).all())
    sd = src.state_dict()
    del sd["2.bias"]
    sd["3.weight"] = lib.zeros(1)
    r = dst.load_state_dict(sd, strict=False)
    obs["non_strict"] = (list(r.missing_keys), list(r.unexpected_keys), repr(r))
    # gradcore's StateDictError is a RuntimeError (also KeyError and ValueError)
    obs["strict"] = _err(lambda: dst.load_state_dict(sd)).replace("StateDictError", "RuntimeError")
    bad = src.state_dict()
    bad["0.weight"] = lib.zeros(3, 2)
    obs["shape"] = _err(lambda: dst.load_state_dict(bad)).replace("StateDictError", "RuntimeError").replace("torch.Size([3, 2])", "(3, 2)") \
        .replace("torch.Size([2, 3])", "(2, 3)")
    obs["not_mapping"] = type(_lib_err(lambda: dst.load_state_dict([1, 2]))).__name__
    # assign=True: the given tensors become the parameters (requires_grad kept)
    new = {k: v.clone() for k, v in src.state_dict().items()}
    dst.load_state_dict(new, assign=True)
    obs["assign"] = (dst[0].weight.data_ptr() == new["0.weight"].data_ptr(), type(dst[0].weight).__name__,
                     dst[0].weight.requires_grad)
    # hooks
    calls: List[Any] = []

    def pre(module: Any, state_dict: Any, prefix: str, *rest: Any) -> None:
        calls.append(("pre", type(module).__name__, prefix))
        key = prefix + "old_bias"
        if key in state_dict:
            state_dict[prefix + "bias"] = state_dict.pop(key)

    def post(module: Any, keys: Any) -> None:
        calls.append(("post", type(module).__name__, list(keys.missing_keys)))
        if "extra" in keys.unexpected_keys:
            keys.unexpected_keys.remove("extra")

    lin = nnm.Linear(2, 2)
    lin.register_load_state_dict_pre_hook(pre)
    h = lin.register_load_state_dict_post_hook(post)
    sd = {"weight": lib.ones(2, 2), "old_bias": lib.ones(2), "extra": lib.zeros(1)}
    r = lin.load_state_dict(sd)
    obs["hooks"] = (calls[:], list(r.unexpected_keys), float(lin.bias.detach().sum()))
    h.remove()
    calls.clear()
    lin.load_state_dict({"weight": lib.ones(2, 2), "bias": lib.ones(2)})
    obs["hook_removed"] = calls[:]
    calls.clear()

    def pre_old(state_dict: Any, prefix: str, local_metadata: Any, strict: bool, missing: Any, unexpected: Any,
                errors: Any) -> None:
        calls.append(("old", prefix, strict))

    net = nnm.Sequential(nnm.Linear(1, 1))
    net[0]._register_load_state_dict_pre_hook(pre_old)
    net.load_state_dict(net.state_dict())
    obs["private_hook"] = calls[:]
    # non-persistent buffers: not in state_dict, not expected by load_state_dict
    m = nnm.Module()
    m.register_buffer("np_buf", lib.zeros(1), persistent=False)
    m.register_buffer("p_buf", lib.zeros(1))
    obs["nonpersistent"] = (list(m.state_dict()), repr(m.load_state_dict({"p_buf": lib.ones(1)})),
                            [n for n, _ in m.named_buffers()])
    return obs


def _lib_err(f: Callable[[], Any]) -> BaseException:
    try:
        f()
    except Exception as e:  # noqa: BLE001
        return e
    raise AssertionError("no error")


def test_load_state_dict_semantics_match_torch() -> None:
    want, got = _norm_text(_load_script(torch)), _norm_text(_load_script(gc))
    for k in want:
        assert got[k] == want[k], k


def test_failed_load_leaves_module_untouched() -> None:
    m = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    before = {k: v.detach().numpy().copy() for k, v in m.state_dict().items()}
    sd = {k: v + 1.0 for k, v in m.state_dict().items()}
    sd["1.weight"] = gc.zeros(5)
    with pytest.raises(RuntimeError, match="size mismatch for 1.weight"):
        m.load_state_dict(sd, assign=True)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


def _seq_script(lib: Any) -> Dict[str, Any]:
    nnm = lib.nn
    obs: Dict[str, Any] = {}
    s = nnm.Sequential(nnm.Linear(2, 3), nnm.ReLU(), nnm.Linear(3, 1))
    obs["len"] = len(s)
    obs["neg"] = repr(s[-1])
    obs["slice"] = repr(s[1:])
    obs["slice_type"] = type(s[::2]).__name__
    obs["oob"] = _err(lambda: s[3])
    obs["iter"] = [type(m).__name__ for m in s]
    s.append(nnm.Sigmoid())
    s.insert(1, nnm.Tanh())
    s.insert(-1, nnm.Identity())
    obs["after_insert"] = repr(s)
    obs["insert_oob"] = _err(lambda: s.insert(9, nnm.ReLU()))
    obs["pop"] = repr(s.pop(1))
    del s[0]
    obs["del"] = list(s.state_dict())
    del s[1:3]
    obs["del_slice"] = repr(s)
    s.extend([nnm.ReLU(), nnm.Tanh()])
    s[0] = nnm.Linear(3, 3)
    obs["setitem"] = repr(s)
    obs["add"] = repr(s + nnm.Sequential(nnm.GELU()))
    od = nnm.Sequential(OrderedDict([("fc", nnm.Linear(2, 2)), ("act", nnm.ReLU())]))
    obs["od"] = (repr(od), list(od.state_dict()), repr(od[0]))
    obs["bad"] = _err(lambda: nnm.Sequential(nnm.ReLU(), 3))
    # ModuleList
    ml = nnm.ModuleList([nnm.Linear(2, 2) for _ in range(3)])
    obs["ml_repr"] = repr(ml)
    ml.append(nnm.ReLU()).extend([nnm.Tanh(), nnm.Tanh()])
    ml.insert(0, nnm.Sigmoid())
    obs["ml_after"] = repr(ml)
    obs["ml_slice"] = repr(ml[1:3])
    obs["ml_neg"] = repr(ml[-1])
    obs["ml_oob"] = _err(lambda: ml[10])
    del ml[0]
    del ml[-2:]
    obs["ml_del"] = (len(ml), list(ml.state_dict()))
    obs["ml_add"] = repr(ml[:1] + nnm.ModuleList([nnm.ReLU()]))
    ml += [nnm.GELU()]
    obs["ml_iadd"] = len(ml)
    obs["ml_pop"] = repr(ml.pop(0))
    ml[0] = nnm.Identity()
    obs["ml_set"] = repr(ml[0])
    obs["ml_extend_bad"] = _err(lambda: ml.extend(3))
    obs["ml_empty"] = repr(nnm.ModuleList())
    obs["ml_iter"] = [type(m).__name__ for m in ml]
    # ModuleDict
    md = nnm.ModuleDict([("x", nnm.ReLU()), ("a", nnm.Tanh())])
    md["b"] = nnm.Linear(1, 1)
    md.update({"c": nnm.Sigmoid()})
    obs["md"] = (repr(md), list(md.keys()), [type(v).__name__ for v in md.values()], "a" in md, len(md),
                 list(md), [k for k, _ in md.items()])
    obs["md_pop"] = (repr(md.pop("x")), list(md))
    del md["a"]
    obs["md_del"] = list(md.state_dict())
    obs["md_update_bad"] = [_err(lambda: md.update(3)), _err(lambda: md.update([("k",)])),
                            _err(lambda: md.update([3]))]
    md.clear()
    obs["md_clear"] = len(md)
    # ParameterList / ParameterDict
    pl = nnm.ParameterList([lib.zeros(2, 3), nnm.Parameter(lib.ones(4))])
    pl.append(lib.ones(1))
    obs["pl"] = (repr(pl), len(pl), [type(p).__name__ for p in pl], [n for n, _ in pl.named_parameters()],
                 [tuple(p.shape) for p in pl[1:]])
    pl[0] = lib.ones(5)
    obs["pl_set"] = (tuple(pl[0].shape), type(pl[0]).__name__, tuple(pl[-1].shape))
    obs["pl_extend_bad"] = _err(lambda: pl.extend(lib.zeros(2)))
    pd = nnm.ParameterDict({"w": lib.zeros(2), "b": lib.ones(1)})
    pd["c"] = nnm.Parameter(lib.ones(3))
    obs["pd"] = (repr(pd), list(pd.keys()), list(pd.state_dict()), "w" in pd, len(pd),
                 type(pd["w"]).__name__, pd.get("zz") is None)
    obs["pd_pop"] = (tuple(pd.pop("w").shape), list(pd))
    pd.update([("z", lib.zeros(1))])
    obs["pd_update"] = list(pd)
    return obs


def test_containers_match_torch() -> None:
    want, got = _norm_text(_seq_script(torch)), _norm_text(_seq_script(gc))
    for k in want:
        assert got[k] == want[k], k


def test_module_deepcopy_and_getattr_without_init() -> None:
    m = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    c = copy.deepcopy(m)
    assert list(c.state_dict()) == list(m.state_dict())
    assert c[0].weight is not m[0].weight
    np.testing.assert_array_equal(c[0].weight.detach().numpy(), m[0].weight.detach().numpy())

    class NoInit(nn.Module):
        def __init__(self) -> None:  # forgot super().__init__()
            self.w = nn.Parameter(gc.ones(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        NoInit()


def test_module_to_device_and_half() -> None:
    m = nn.Linear(2, 2)
    assert m.to("cpu") is m and m.cpu() is m
    with pytest.raises(RuntimeError, match="CPU only"):
        m.to("cuda")
    m.half()
    assert m.weight.dtype == gc.float16
    m.bfloat16()
    assert m.weight.dtype == gc.bfloat16


def test_softmax_implicit_dim_warns_as_torch() -> None:
    x = _u(2, 3, 4)
    for fn in ("softmax", "log_softmax", "softmin"):
        with pytest.warns(UserWarning, match="Implicit dimension choice"):
            g = getattr(F, fn)(gc.tensor(x))
        with pytest.warns(UserWarning, match="Implicit dimension choice"):
            t = getattr(tF, fn)(torch.tensor(x))
        np.testing.assert_allclose(g.numpy(), t.numpy(), rtol=1e-12)


# --------------------------------------------------------------------------------------
# modules: reprs, state_dict keys and shapes, default init as torch
# --------------------------------------------------------------------------------------
MODULES: Dict[str, Callable[[Any], Any]] = {
    "PReLU": lambda L: L.nn.PReLU(), "PReLU3": lambda L: L.nn.PReLU(3, init=0.1),
    "GLU": lambda L: L.nn.GLU(), "GLU0": lambda L: L.nn.GLU(0), "Softmin": lambda L: L.nn.Softmin(1),
    "LogSoftmax": lambda L: L.nn.LogSoftmax(dim=1), "Softmax": lambda L: L.nn.Softmax(), "Softmax2d": lambda L: L.nn.Softmax2d(),
    "CosineSimilarity": lambda L: L.nn.CosineSimilarity(), "PairwiseDistance": lambda L: L.nn.PairwiseDistance(p=1.0),
    "Bilinear": lambda L: L.nn.Bilinear(3, 4, 5), "BilinearNB": lambda L: L.nn.Bilinear(3, 4, 5, bias=False),
    "Identity": lambda L: L.nn.Identity(3, foo=4), "Dropout": lambda L: L.nn.Dropout(0.2),
    "CrossEntropyLoss": lambda L: L.nn.CrossEntropyLoss(weight=L.ones(3), label_smoothing=0.1),
    "NLLLoss": lambda L: L.nn.NLLLoss(weight=L.ones(3)), "BCELoss": lambda L: L.nn.BCELoss(weight=L.ones(3)),
    "BCEWithLogitsLoss": lambda L: L.nn.BCEWithLogitsLoss(weight=L.ones(3), pos_weight=L.ones(3)),
    "BCEWithLogitsLoss0": lambda L: L.nn.BCEWithLogitsLoss(), "MSELoss": lambda L: L.nn.MSELoss(),
    "L1Loss": lambda L: L.nn.L1Loss(), "SmoothL1Loss": lambda L: L.nn.SmoothL1Loss(beta=0.5),
    "HuberLoss": lambda L: L.nn.HuberLoss(), "KLDivLoss": lambda L: L.nn.KLDivLoss(reduction="batchmean"),
    "PoissonNLLLoss": lambda L: L.nn.PoissonNLLLoss(), "GaussianNLLLoss": lambda L: L.nn.GaussianNLLLoss(),
    "MarginRankingLoss": lambda L: L.nn.MarginRankingLoss(), "HingeEmbeddingLoss": lambda L: L.nn.HingeEmbeddingLoss(),
    "CosineEmbeddingLoss": lambda L: L.nn.CosineEmbeddingLoss(), "TripletMarginLoss": lambda L: L.nn.TripletMarginLoss(),
    "MultiMarginLoss": lambda L: L.nn.MultiMarginLoss(weight=L.ones(3)),
    "MultiLabelSoftMarginLoss": lambda L: L.nn.MultiLabelSoftMarginLoss(weight=L.ones(3)),
    "SoftMarginLoss": lambda L: L.nn.SoftMarginLoss(), "MultiLabelMarginLoss": lambda L: L.nn.MultiLabelMarginLoss(),
}


@pytest.mark.parametrize("name", list(MODULES))
def test_module_repr_and_state_dict_match_torch(name: str) -> None:
    g, t = MODULES[name](gc), MODULES[name](torch)
    assert repr(g) == repr(t)
    assert [(k, tuple(v.shape)) for k, v in g.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in t.state_dict().items()]
    assert [n for n, _ in g.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert getattr(g, "reduction", None) == getattr(t, "reduction", None)


def test_default_inits_match_torch_bounds() -> None:
    gc.manual_seed(0)
    b = nn.Bilinear(16, 3, 64)
    bound = 1 / math.sqrt(16)
    w = b.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound and w.std() > 0.5 * bound / math.sqrt(3)
    assert np.abs(b.bias.detach().numpy()).max() <= bound
    np.testing.assert_array_equal(nn.PReLU(4, init=0.3).weight.detach().numpy(), np.full(4, 0.3, np.float32))


def test_modules_compute_like_functional() -> None:
    x, y = _u(4, 3), _u(4, 3)
    for name, args in [("PReLU3", (x,)), ("GLU0", (x,)), ("Softmin", (x,)), ("LogSoftmax", (x,)),
                       ("CosineSimilarity", (x, y)), ("PairwiseDistance", (x, y)),
                       ("Softmax2d", (_u(2, 3, 2, 2),))]:
        g, t = MODULES[name](gc), MODULES[name](torch)
        gout = g(*[gc.tensor(a.astype(np.float32)) for a in args])
        tout = t(*[torch.tensor(a.astype(np.float32)) for a in args])
        np.testing.assert_allclose(gout.detach().numpy(), tout.detach().numpy(), rtol=2e-5, atol=1e-6, err_msg=name)
    g, t = nn.Bilinear(3, 3, 2), torch.nn.Bilinear(3, 3, 2)
    t.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in g.state_dict().items()})
    np.testing.assert_allclose(g(gc.tensor(x.astype(np.float32)), gc.tensor(y.astype(np.float32))).detach().numpy(),
                               t(torch.tensor(x.astype(np.float32)), torch.tensor(y.astype(np.float32))).detach().numpy(),
                               rtol=2e-5, atol=1e-6)
    with pytest.raises(ValueError, match="Softmax2d: expected input to be 3D or 4D"):
        nn.Softmax2d()(gc.zeros(2, 3))


LOSS_CALLS: Dict[str, Tuple[Callable[..., Any], List[np.ndarray]]] = {
    "CrossEntropyLoss": (lambda L, **k: L.nn.CrossEntropyLoss(weight=L.tensor([1.0, 2.0, 0.5, 1.0], dtype=L.float64), ignore_index=0,
                                                              label_smoothing=0.1, **k), [X34, Y3]),
    "NLLLoss": (lambda L, **k: L.nn.NLLLoss(**k), [X34, Y3]),
    "BCELoss": (lambda L, **k: L.nn.BCELoss(**k), [P34, SOFT]),
    "BCEWithLogitsLoss": (lambda L, **k: L.nn.BCEWithLogitsLoss(pos_weight=L.tensor([1.0, 2.0, 3.0, 0.5], dtype=L.float64), **k),
                          [X34, P34]),
    "MSELoss": (lambda L, **k: L.nn.MSELoss(**k), [X34, X34b]), "L1Loss": (lambda L, **k: L.nn.L1Loss(**k), [X34, X34b]),
    "SmoothL1Loss": (lambda L, **k: L.nn.SmoothL1Loss(beta=0.5, **k), [X34, X34b]),
    "HuberLoss": (lambda L, **k: L.nn.HuberLoss(delta=0.5, **k), [X34, X34b]),
    "KLDivLoss": (lambda L, **k: L.nn.KLDivLoss(log_target=True, **k), [X34, X34b]),
    "PoissonNLLLoss": (lambda L, **k: L.nn.PoissonNLLLoss(full=True, **k), [X34, V34 * 3]),
    "GaussianNLLLoss": (lambda L, **k: L.nn.GaussianNLLLoss(full=True, **k), [X34, X34b, V34]),
    "MarginRankingLoss": (lambda L, **k: L.nn.MarginRankingLoss(margin=0.1, **k), [X5, X5b, _pm1(5)]),
    "HingeEmbeddingLoss": (lambda L, **k: L.nn.HingeEmbeddingLoss(margin=2.0, **k), [X34, _pm1(3, 4)]),
    "CosineEmbeddingLoss": (lambda L, **k: L.nn.CosineEmbeddingLoss(margin=0.1, **k), [X34, X34b, _pm1(3)]),
    "TripletMarginLoss": (lambda L, **k: L.nn.TripletMarginLoss(margin=1.5, p=1, swap=True, **k), [X34, X34b, P34]),
    "MultiMarginLoss": (lambda L, **k: L.nn.MultiMarginLoss(p=2, weight=L.tensor([1.0, 2.0, 3.0, 0.5], dtype=L.float64), **k),
                        [X34, Y3]),
    "MultiLabelSoftMarginLoss": (lambda L, **k: L.nn.MultiLabelSoftMarginLoss(**k), [X34, (P34 > 0.5) * 1.0]),
    "SoftMarginLoss": (lambda L, **k: L.nn.SoftMarginLoss(**k), [X34, _pm1(3, 4)]),
    "MultiLabelMarginLoss": (lambda L, **k: L.nn.MultiLabelMarginLoss(**k),
                             [X34, np.array([[3, 0, -1, 1], [1, 2, 3, -1], [0, 0, -1, -1]], np.int64)]),
}
LEGACY = {"CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "MSELoss", "L1Loss", "SmoothL1Loss",
          "KLDivLoss", "PoissonNLLLoss", "MarginRankingLoss", "HingeEmbeddingLoss", "CosineEmbeddingLoss",
          "TripletMarginLoss", "MultiMarginLoss", "MultiLabelSoftMarginLoss", "SoftMarginLoss",
          "MultiLabelMarginLoss"}


def _call_loss(lib: Any, name: str, **kw: Any) -> Any:
    make, arrays = LOSS_CALLS[name]
    mod = make(lib, **kw)
    return mod(*[lib.tensor(a) for a in arrays])


KL_MEAN = "ignore:reduction. 'mean' divides the total loss:UserWarning"


@pytest.mark.filterwarnings(KL_MEAN)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", list(LOSS_CALLS))
def test_loss_modules_match_torch(name: str, reduction: str) -> None:
    g = _call_loss(gc, name, reduction=reduction)
    t = _call_loss(torch, name, reduction=reduction)
    assert tuple(g.shape) == tuple(t.shape)
    np.testing.assert_allclose(g.detach().numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", list(LOSS_CALLS))
def test_invalid_reduction_raises_as_torch(name: str) -> None:
    te = _lib_err(lambda: _call_loss(torch, name, reduction="avg"))
    ge = _lib_err(lambda: _call_loss(gc, name, reduction="avg"))
    assert type(ge) is type(te) and str(ge) == str(te)


@pytest.mark.filterwarnings(KL_MEAN)
@pytest.mark.parametrize("legacy", [dict(size_average=False), dict(reduce=False), dict(size_average=True, reduce=True)])
@pytest.mark.parametrize("name", sorted(LEGACY))
def test_legacy_size_average_reduce(name: str, legacy: Dict[str, bool]) -> None:
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated") as gw:
        g = _call_loss(gc, name, **legacy)
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated") as tw:
        t = _call_loss(torch, name, **legacy)
    assert str(gw[0].message) == str(tw[0].message)
    np.testing.assert_allclose(g.detach().numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_kl_div_mean_warns_as_torch() -> None:
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size") as gw:
        g = F.kl_div(gc.tensor(X34), gc.tensor(SOFT))
    with pytest.warns(UserWarning) as tw:
        t = tF.kl_div(torch.tensor(X34), torch.tensor(SOFT))
    assert str(gw[0].message) == str(tw[0].message)
    np.testing.assert_allclose(g.numpy(), t.numpy(), rtol=1e-12)


def test_mse_family_broadcast_warns_as_torch() -> None:
    for fn in ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"):
        with pytest.warns(UserWarning, match="This will likely lead to incorrect results due to broadcasting"):
            g = getattr(F, fn)(gc.tensor(X34), gc.tensor(X34b[0]))
        with pytest.warns(UserWarning, match="This will likely lead to incorrect results"):
            t = getattr(tF, fn)(torch.tensor(X34), torch.tensor(X34b[0]))
        np.testing.assert_allclose(g.numpy(), t.numpy(), rtol=1e-12, err_msg=fn)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.mse_loss(gc.tensor(X34), gc.tensor(X34b))  # same shape: no warning


# --------------------------------------------------------------------------------------
# bad input: torch's exception types
# --------------------------------------------------------------------------------------
def _x(*s: int) -> Any:
    return {"g": gc.tensor(_u(*s)), "t": torch.tensor(_u(*s))}


ERRORS: Dict[str, Callable[[Any, Any], Any]] = {
    "ce_oob": lambda L, F: F.cross_entropy(L.zeros(3, 4), L.tensor([0, 1, 5])),
    "ce_oob_nd": lambda L, F: F.cross_entropy(L.zeros(2, 4, 3), L.tensor([[0, 1, 4]] * 2), weight=L.ones(4)),
    "ce_neg": lambda L, F: F.cross_entropy(L.zeros(3, 4), L.tensor([0, 1, -3])),
    "ce_batch": lambda L, F: F.cross_entropy(L.zeros(3, 4), L.tensor([0, 1])),
    "ce_target_2d": lambda L, F: F.cross_entropy(L.zeros(3, 4), L.zeros(3, 1, dtype=L.int64)),
    "ce_nd_target": lambda L, F: F.cross_entropy(L.zeros(2, 3, 4), L.zeros(2, 5, dtype=L.int64)),
    "ce_prob_ignore": lambda L, F: F.cross_entropy(L.zeros(3, 4), L.zeros(3, 4), ignore_index=1),
    "ce_ls": lambda L, F: F.cross_entropy(L.zeros(3, 4), L.tensor([0, 1, 2]), label_smoothing=1.5),
    "ce_weight": lambda L, F: F.cross_entropy(L.zeros(3, 4), L.tensor([0, 1, 2]), weight=L.ones(3)),
    "ce_float_labels": lambda L, F: F.cross_entropy(L.zeros(3, 4), L.tensor([0.0, 1.0, 2.0])),
    "nll_oob": lambda L, F: F.nll_loss(L.zeros(3, 4), L.tensor([0, 1, 4])),
    "nll_float": lambda L, F: F.nll_loss(L.zeros(3, 4), L.tensor([0.0, 1.0, 2.0])),
    "nll_batch": lambda L, F: F.nll_loss(L.zeros(3, 4), L.tensor([0, 1])),
    "bce_size": lambda L, F: F.binary_cross_entropy(L.full((4,), 0.5), L.full((3, 4), 0.5)),
    "bce_range": lambda L, F: F.binary_cross_entropy(L.full((2,), 1.5), L.full((2,), 0.5)),
    "bce_logits_size": lambda L, F: F.binary_cross_entropy_with_logits(L.zeros(4), L.zeros(3, 4)),
    "smooth_l1_beta": lambda L, F: F.smooth_l1_loss(L.zeros(2), L.zeros(2), beta=-1.0),
    "huber_delta": lambda L, F: F.huber_loss(L.zeros(2), L.zeros(2), delta=0.0),
    "kl_red": lambda L, F: F.kl_div(L.zeros(2), L.zeros(2), reduction="x"),
    "gnll_red": lambda L, F: F.gaussian_nll_loss(L.zeros(2), L.zeros(2), L.ones(2), reduction="x"),
    "gnll_var_size": lambda L, F: F.gaussian_nll_loss(L.zeros(3, 4), L.zeros(3, 4), L.ones(2)),
    "gnll_var_neg": lambda L, F: F.gaussian_nll_loss(L.zeros(3, 4), L.zeros(3, 4), -L.ones(3, 4)),
    "mrl_dim": lambda L, F: F.margin_ranking_loss(L.zeros(3, 4), L.zeros(3, 4), L.ones(4)),
    "cel_target": lambda L, F: F.cosine_embedding_loss(L.zeros(3, 4), L.zeros(3, 4), L.ones(3, 1)),
    "cel_inputs": lambda L, F: F.cosine_embedding_loss(L.zeros(4), L.zeros(4), L.ones(3)),
    "tml_dim": lambda L, F: F.triplet_margin_loss(L.zeros(3, 4), L.zeros(3, 4), L.zeros(4)),
    "tml_margin": lambda L, F: L.nn.TripletMarginLoss(margin=0.0),
    "mml_p": lambda L, F: F.multi_margin_loss(L.zeros(3, 4), L.tensor([0, 1, 2]), p=3),
    "mml_p_module": lambda L, F: L.nn.MultiMarginLoss(p=3),
    "mml_oob": lambda L, F: F.multi_margin_loss(L.zeros(3, 4), L.tensor([0, 1, 4])),
    "mml_size": lambda L, F: F.multi_margin_loss(L.zeros(3, 4), L.tensor([0, 1])),
    "mlsm_red": lambda L, F: F.multilabel_soft_margin_loss(L.zeros(3, 4), L.zeros(3, 4), reduction="x"),
    "mlm_oob": lambda L, F: F.multilabel_margin_loss(L.zeros(3, 4), L.tensor([[0, 5, -1, 0]] * 3)),
    "glu_scalar": lambda L, F: F.glu(L.tensor(1.0)),
    "glu_odd": lambda L, F: F.glu(L.zeros(3, 5)),
    "glu_dim": lambda L, F: F.glu(L.zeros(3, 4), 2),
    "prelu_mismatch": lambda L, F: F.prelu(L.zeros(3, 4), L.ones(3)),
    "prelu_1d": lambda L, F: F.prelu(L.zeros(4), L.ones(4)),
    "bilinear_in1": lambda L, F: F.bilinear(L.zeros(3, 4), L.zeros(3, 4), L.zeros(2, 3, 4)),
    "cos_sim_shape": lambda L, F: F.cosine_similarity(L.zeros(3, 4), L.zeros(3, 5)),
    "cos_sim_int": lambda L, F: F.cosine_similarity(L.ones(2, 2, dtype=L.int64), L.ones(2, 2, dtype=L.int64)),
    "normalize_int": lambda L, F: F.normalize(L.ones(2, 2, dtype=L.int64)),
}
# (type only: the message differs) - gradcore's own wording where torch's names kernels
TYPE_ONLY = {"ce_target_2d", "ce_oob_nd", "ce_float_labels", "nll_float", "nll_batch", "mlm_oob", "prelu_1d",
             "cos_sim_shape", "glu_dim", "ce_nd_target"}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_match_torch(name: str) -> None:
    te = _lib_err(lambda: ERRORS[name](torch, tF))
    ge = _lib_err(lambda: ERRORS[name](gc, F))
    assert isinstance(ge, type(te)), f"{name}: gradcore {type(ge).__name__}({ge}) vs torch {type(te).__name__}({te})"
    if name not in TYPE_ONLY:
        assert str(ge) == str(te).replace("torch.", "gradcore.")
    else:
        assert str(ge)


# --------------------------------------------------------------------------------------
# 0-size and dtypes
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda F, L: F.cross_entropy(L.zeros(0, 4), L.zeros(0, dtype=L.int64)),
    lambda F, L: F.cross_entropy(L.zeros(0, 4), L.zeros(0, dtype=L.int64), reduction="sum"),
    lambda F, L: F.cross_entropy(L.zeros(0, 4), L.zeros(0, dtype=L.int64), weight=L.ones(4), reduction="none"),
    lambda F, L: F.nll_loss(L.zeros(0, 4), L.zeros(0, dtype=L.int64)),
    lambda F, L: F.nll_loss(L.zeros(3, 4), L.full((3,), -100, dtype=L.int64)),
    lambda F, L: F.mse_loss(L.zeros(0, 3), L.zeros(0, 3)),
    lambda F, L: F.l1_loss(L.zeros(0), L.zeros(0), reduction="sum"),
    lambda F, L: F.binary_cross_entropy(L.zeros(0), L.zeros(0)),
    lambda F, L: F.kl_div(L.zeros(0, 2), L.zeros(0, 2), reduction="batchmean"),
    lambda F, L: F.normalize(L.zeros(0, 3)),
    lambda F, L: F.cosine_similarity(L.zeros(0, 3), L.zeros(0, 3)),
    lambda F, L: F.pairwise_distance(L.zeros(0, 3), L.zeros(0, 3)),
    lambda F, L: F.glu(L.zeros(0, 4)),
    lambda F, L: F.bilinear(L.zeros(0, 2), L.zeros(0, 3), L.zeros(4, 2, 3)),
])
def test_zero_size_matches_torch(fn: Callable[..., Any]) -> None:
    g, t = fn(F, gc), fn(tF, torch)
    assert tuple(g.shape) == tuple(t.shape)
    np.testing.assert_array_equal(np.isnan(g.numpy()), np.isnan(t.numpy()))
    np.testing.assert_allclose(g.numpy(), t.numpy())


def test_cross_entropy_fast_path_and_composition_agree() -> None:
    """The fused kernel (plain case) and the composition (weight of ones) give one result."""
    x, y = _u(6, 5), _ints(5, 6)
    for ls in (0.0, 0.3):
        a = gc.tensor(x, requires_grad=True)
        b = gc.tensor(x, requires_grad=True)
        la = F.cross_entropy(a, y, label_smoothing=ls)
        lb = F.cross_entropy(b, y, weight=gc.ones(5, dtype=gc.float64), label_smoothing=ls)
        assert la.grad_fn is not None and la.grad_fn.name() != lb.grad_fn.name()
        np.testing.assert_allclose(la.item(), lb.item(), rtol=1e-12)
        la.backward()
        lb.backward()
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_losses_keep_input_dtype_float32() -> None:
    x = gc.tensor(X34.astype(np.float32), requires_grad=True)
    for loss in (F.cross_entropy(x, Y3, weight=gc.ones(4)), F.nll_loss(x, Y3), F.l1_loss(x, x * 2),
                 F.huber_loss(x, x * 0), F.soft_margin_loss(x, gc.ones(3, 4)), F.normalize(x),
                 F.cosine_similarity(x, x)):
        assert loss.dtype == gc.float32

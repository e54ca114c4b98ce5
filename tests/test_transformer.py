"""nn.MultiheadAttention and the Transformer layers against PyTorch's: torch's weights copied
in, outputs, attention weights and every gradient compared; masks of both kinds; errors."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import pytest

import gradcore as gc

torch = pytest.importorskip("torch")


def _copy(tmod: Any, gmod: Any) -> None:
    state = {k: gc.from_numpy(v.detach().numpy().copy()) for k, v in tmod.state_dict().items()}
    assert list(state) == list(gmod.state_dict())
    gmod.load_state_dict(state)


def _run(mod: Any, lib: Any, arrays: List[np.ndarray], kwargs: Dict[str, Any], call: Any) -> Tuple[List[Any], List[Any]]:
    """Forward ``call(mod, *inputs, **kwargs)``, backward of sum(out * w); returns (outputs, grads)."""
    to = torch.from_numpy if lib is torch else gc.from_numpy
    ins = [to(a.copy()).requires_grad_() for a in arrays]
    kw = {k: (to(v.copy()) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    outs = call(mod, *ins, **kw)
    outs = outs if isinstance(outs, tuple) else (outs,)
    w = np.random.default_rng(9).standard_normal(tuple(outs[0].shape)).astype(arrays[0].dtype)
    (outs[0] * to(w)).sum().backward()
    grads = [t.grad.numpy() for t in ins] + [p.grad.numpy() for _, p in sorted(mod.named_parameters())]
    return [None if o is None else o.detach().numpy() for o in outs], grads


def _compare(tmod: Any, gmod: Any, arrays: List[np.ndarray], kwargs: Dict[str, Any], call: Any,
             tol: float = 1e-5) -> None:
    _copy(tmod, gmod)
    (to, tg), (go, gg) = _run(tmod, torch, arrays, kwargs, call), _run(gmod, gc, arrays, kwargs, call)
    assert len(to) == len(go)
    for a, b in zip(go, to):
        if b is None:
            assert a is None
        else:
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    for a, b in zip(gg, tg):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)




rng = np.random.default_rng(0)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("mask", [None, "bool2d", "float3d", "kpm_bool", "kpm_float_and_bool2d"])
def test_mha_matches_torch(batch_first: bool, need_weights: bool, average: bool, mask: Optional[str]) -> None:
    E, H, L, S, N = 16, 4, 5, 7, 3
    torch.manual_seed(0)
    t = torch.nn.MultiheadAttention(E, H, batch_first=batch_first)
    g = gc.nn.MultiheadAttention(E, H, batch_first=batch_first)
    shape = (lambda T: (N, T, E)) if batch_first else (lambda T: (T, N, E))
    arrays = [rng.standard_normal(shape(L)), rng.standard_normal(shape(S)), rng.standard_normal(shape(S))]
    arrays = [a.astype(np.float32) for a in arrays]
    kw: Dict[str, Any] = {"need_weights": need_weights, "average_attn_weights": average}
    if mask == "bool2d":
        m = rng.random((L, S)) < 0.3
        m[:, 0] = False  # no fully masked row (weights would be NaN in both)
        kw["attn_mask"] = m
    elif mask == "float3d":
        kw["attn_mask"] = rng.standard_normal((N * H, L, S)).astype(np.float32)
    elif mask == "kpm_bool":
        kpm = np.zeros((N, S), dtype=bool)
        kpm[0, 4:] = True
        kpm[2, 1] = True
        kw["key_padding_mask"] = kpm
    elif mask == "kpm_float_and_bool2d":
        kw["key_padding_mask"] = rng.standard_normal((N, S)).astype(np.float32)
        kw["attn_mask"] = rng.standard_normal((L, S)).astype(np.float32)
    _compare(t, g, arrays, kw, lambda m, q, k, v, **a: m(q, k, v, **a))


def test_mha_self_attention_kdim_vdim_unbatched_zero_attn_no_bias() -> None:
    torch.manual_seed(1)
    x = rng.standard_normal((6, 2, 8)).astype(np.float32)
    _compare(torch.nn.MultiheadAttention(8, 2), gc.nn.MultiheadAttention(8, 2), [x], {},
             lambda m, x: m(x, x, x))
    t = torch.nn.MultiheadAttention(8, 2, kdim=5, vdim=3, bias=False, add_zero_attn=True)
    g = gc.nn.MultiheadAttention(8, 2, kdim=5, vdim=3, bias=False, add_zero_attn=True)
    arrays = [rng.standard_normal((4, 2, 8)), rng.standard_normal((6, 2, 5)), rng.standard_normal((6, 2, 3))]
    _compare(t, g, [a.astype(np.float32) for a in arrays], {}, lambda m, q, k, v: m(q, k, v))
    arrays = [rng.standard_normal((4, 8)), rng.standard_normal((6, 8)), rng.standard_normal((6, 8))]
    t, g = torch.nn.MultiheadAttention(8, 2), gc.nn.MultiheadAttention(8, 2)
    _compare(t, g, [a.astype(np.float32) for a in arrays], {"key_padding_mask": np.array([0, 0, 1, 0, 0, 0], bool)},
             lambda m, q, k, v, **a: m(q, k, v, **a))


def test_mha_parameters_and_repr_match_torch() -> None:
    for kw in ({}, {"kdim": 3, "vdim": 5}, {"bias": False}):
        t, g = torch.nn.MultiheadAttention(8, 4, **kw), gc.nn.MultiheadAttention(8, 4, **kw)
        assert [(n, tuple(p.shape)) for n, p in t.named_parameters()] == \
            [(n, tuple(p.shape)) for n, p in g.named_parameters()]
        assert repr(t) == repr(g)
    g = gc.nn.MultiheadAttention(8, 4)
    assert float(g.in_proj_bias.abs().sum()) == 0 and float(g.out_proj.bias.abs().sum()) == 0
    bound = float(np.sqrt(6 / (8 + 24)))  # xavier_uniform_ of (3E, E)
    w = g.in_proj_weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound


def test_mha_errors() -> None:
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        gc.nn.MultiheadAttention(10, 3)
    m = gc.nn.MultiheadAttention(8, 2)
    x = gc.randn(4, 2, 8)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        m(x, x, x, is_causal=True)
    with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is \(3, 4\), but should be \(4, 4\)"):
        m(x, x, x, attn_mask=gc.zeros(3, 4))
    with pytest.raises(AssertionError, match="was expecting embedding dimension of 8, but got 6"):
        m(gc.randn(4, 2, 6), x, x)
    with pytest.raises(AssertionError, match=r"Expected key_padded_mask.shape\[0\] to be 2, but got 3"):
        m(x, x, x, key_padding_mask=gc.zeros(3, 4, dtype=gc.bool))


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu", "callable"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_matches_torch(norm_first: bool, activation: str, batch_first: bool) -> None:
    torch.manual_seed(2)
    kw: Dict[str, Any] = dict(dim_feedforward=32, dropout=0.0, norm_first=norm_first, batch_first=batch_first)
    t = torch.nn.TransformerEncoderLayer(16, 4, activation=torch.nn.functional.silu if activation == "callable"
                                         else activation, **kw)
    g = gc.nn.TransformerEncoderLayer(16, 4, activation=gc.nn.functional.silu if activation == "callable"
                                      else activation, **kw)
    x = rng.standard_normal((3, 6, 16) if batch_first else (6, 3, 16)).astype(np.float32)
    kpm = np.zeros((3, 6), bool)
    kpm[1, 4:] = True
    _compare(t, g, [x], {"src_key_padding_mask": kpm}, lambda m, x, **a: m(x, **a))
    causal = np.triu(np.full((6, 6), -np.inf, np.float32), 1)
    _compare(t, g, [x], {"src_mask": causal, "is_causal": True}, lambda m, x, **a: m(x, **a))


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")  # torch's, at construction
def test_encoder_decoder_transformer_match_torch() -> None:
    torch.manual_seed(3)
    kw: Dict[str, Any] = dict(d_model=16, nhead=2, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=24,
                              dropout=0.0)
    t, g = torch.nn.Transformer(**kw), gc.nn.Transformer(**kw)
    src = rng.standard_normal((7, 2, 16)).astype(np.float32)
    tgt = rng.standard_normal((5, 2, 16)).astype(np.float32)
    mask = gc.nn.Transformer.generate_square_subsequent_mask(5).numpy()
    np.testing.assert_array_equal(mask, torch.nn.Transformer.generate_square_subsequent_mask(5).numpy())
    mkpm = np.zeros((2, 7), bool)
    mkpm[0, 5:] = True
    _compare(t, g, [src, tgt], {"tgt_mask": mask, "memory_key_padding_mask": mkpm},
             lambda m, s, x, **a: m(s, x, **a), tol=2e-5)
    torch.manual_seed(4)
    layer_kw: Dict[str, Any] = dict(dim_feedforward=24, dropout=0.0, batch_first=True, norm_first=True)
    t = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(16, 4, **layer_kw), 2, torch.nn.LayerNorm(16))
    g = gc.nn.TransformerDecoder(gc.nn.TransformerDecoderLayer(16, 4, **layer_kw), 2, gc.nn.LayerNorm(16))
    _compare(t, g, [tgt.transpose(1, 0, 2).copy(), src.transpose(1, 0, 2).copy()], {"tgt_mask": mask,
             "tgt_is_causal": True}, lambda m, x, mem, **a: m(x, mem, **a), tol=2e-5)


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")  # torch's, at construction
def test_transformer_state_dict_keys_and_errors() -> None:
    kw: Dict[str, Any] = dict(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16)
    t, g = torch.nn.Transformer(**kw), gc.nn.Transformer(**kw)
    assert [(k, tuple(v.shape)) for k, v in t.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in g.state_dict().items()]
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        g(gc.randn(3, 2, 8), gc.randn(3, 4, 8))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
        g(gc.randn(3, 2, 6), gc.randn(3, 2, 6))
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        gc.nn.TransformerEncoderLayer(8, 2, activation="tanh")


def test_mha_add_bias_kv_matches_torch() -> None:
    for kw in ({"add_bias_kv": True}, {"add_bias_kv": True, "add_zero_attn": True, "kdim": 5, "vdim": 3}):
        torch.manual_seed(2)
        t, g = torch.nn.MultiheadAttention(8, 2, **kw), gc.nn.MultiheadAttention(8, 2, **kw)
        assert [(n, tuple(p.shape)) for n, p in t.named_parameters()] == \
            [(n, tuple(p.shape)) for n, p in g.named_parameters()]
        kd, vd = kw.get("kdim", 8), kw.get("vdim", 8)
        arrays = [rng.standard_normal((4, 2, 8)), rng.standard_normal((6, 2, kd)), rng.standard_normal((6, 2, vd))]
        kpm = np.zeros((2, 6), dtype=bool)
        kpm[1, 2] = True
        for need in (True, False):
            _compare(t, g, [a.astype(np.float32) for a in arrays],
                     {"key_padding_mask": kpm, "attn_mask": rng.random((4, 6)) < 0.2, "need_weights": need},
                     lambda m, q, k, v, **a: m(q, k, v, **a))
    g = gc.nn.MultiheadAttention(8, 2, add_bias_kv=True)
    assert float(g.bias_k.abs().sum()) > 0 and tuple(g.bias_v.shape) == (1, 1, 8)  # xavier_normal_


def _mha_functional_args(lib: Any, arrs: Dict[str, np.ndarray]) -> Dict[str, Any]:
    to = torch.from_numpy if lib is torch else gc.from_numpy
    return {k: to(v.copy()).requires_grad_() if v.dtype != bool else to(v.copy()) for k, v in arrs.items()}


@pytest.mark.parametrize("case", ["packed", "separate_static", "bias_kv_unbatched", "causal_sdpa", "dropout_eval"])
def test_multi_head_attention_forward_matches_torch(case: str) -> None:
    E, H, L, S, N = 8, 2, 3, 5, 2
    r = np.random.default_rng(4)
    f32 = lambda *s: r.standard_normal(s).astype(np.float32)  # noqa: E731
    a: Dict[str, np.ndarray] = {"q": f32(L, N, E), "k": f32(S, N, E), "v": f32(S, N, E), "w_in": f32(3 * E, E),
                                "b_in": f32(3 * E), "w_out": f32(E, E), "b_out": f32(E)}
    kw: Dict[str, Any] = {}
    if case == "separate_static":
        a.update(wq=f32(E, E), wk=f32(E, E), wv=f32(E, E), sk=f32(N * H, S + 1, E // H), sv=f32(N * H, S + 1, E // H))
    if case == "bias_kv_unbatched":
        a = {k: (v[:, 0] if k in ("q", "k", "v") else v) for k, v in a.items()}
        a.update(bk=f32(1, 1, E), bv=f32(1, 1, E), kpm=np.array([0, 1, 0, 0, 0], bool))
    if case == "causal_sdpa":
        L = S
        a["q"] = f32(L, N, E)
        a["mask"] = np.triu(np.ones((L, S), bool), 1)
        kw.update(need_weights=False, is_causal=True)

    def run(lib: Any) -> Tuple[List[np.ndarray], List[np.ndarray]]:
        F = lib.nn.functional
        t = _mha_functional_args(lib, a)
        extra: Dict[str, Any] = dict(kw)
        if case == "separate_static":
            extra.update(use_separate_proj_weight=True, q_proj_weight=t["wq"], k_proj_weight=t["wk"],
                         v_proj_weight=t["wv"], static_k=t["sk"], static_v=t["sv"], average_attn_weights=False)
        if "kpm" in t:
            extra["key_padding_mask"] = t["kpm"]
        if "mask" in t:
            extra["attn_mask"] = t["mask"]
        out, w = F.multi_head_attention_forward(
            t["q"], t["k"], t["v"], E, H, None if case == "separate_static" else t["w_in"], t["b_in"],
            t.get("bk"), t.get("bv"), case == "bias_kv_unbatched", 0.5 if case == "dropout_eval" else 0.0,
            t["w_out"], t["b_out"], training=case != "dropout_eval", **extra)
        out.sum().backward()
        vals = [out.detach().numpy()] + ([] if w is None else [w.detach().numpy()])
        return vals, [t[k].grad.numpy() for k in sorted(t) if t[k].grad is not None]

    (tv, tg), (gv, gg) = run(torch), run(gc)
    assert len(tv) == len(gv) and len(tg) == len(gg)
    for x, y in zip(gv + gg, tv + tg):
        np.testing.assert_allclose(x, y, rtol=2e-5, atol=2e-5 * max(1.0, float(np.abs(y).max())))


def test_multi_head_attention_forward_errors_match_torch() -> None:
    x = np.zeros((3, 2, 8), np.float32)
    w_in, w_out = np.zeros((24, 8), np.float32), np.zeros((8, 8), np.float32)
    cases = [
        lambda lib, q, w, o: lib.nn.functional.multi_head_attention_forward(
            q[0, 0], q, q, 8, 2, w, None, None, None, False, 0.0, o, None),           # 1-D query
        lambda lib, q, w, o: lib.nn.functional.multi_head_attention_forward(
            q, q, q, 8, 3, w, None, None, None, False, 0.0, o, None),                 # 8 heads of 8 / 3
        lambda lib, q, w, o: lib.nn.functional.multi_head_attention_forward(
            q, q, q, 8, 2, None, None, None, None, False, 0.0, o, None),              # no in_proj_weight
        lambda lib, q, w, o: lib.nn.functional.multi_head_attention_forward(
            q, q, q, 8, 2, w, None, q[:1, :1], None, False, 0.0, o, None),            # bias_k without bias_v
        lambda lib, q, w, o: lib.nn.functional.multi_head_attention_forward(
            q, q, q, 8, 2, w, None, None, None, False, 0.0, o, None,
            attn_mask=lib.zeros(3, 3, dtype=lib.int64)),                             # integer mask
    ]
    for case in cases:
        with pytest.raises(Exception) as te:
            case(torch, torch.from_numpy(x), torch.from_numpy(w_in), torch.from_numpy(w_out))
        with pytest.raises(type(te.value)) as ge:
            case(gc, gc.from_numpy(x), gc.from_numpy(w_in), gc.from_numpy(w_out))
        assert str(ge.value) == str(te.value)


def test_encoder_enable_nested_tensor_warns_as_torch() -> None:
    import warnings

    def nested_warnings(lib: Any, nhead: int, kw: Dict[str, Any]) -> Tuple[List[str], Any]:
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            enc = lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(8, nhead, 16, **kw), 1)
        return [str(w.message) for w in rec if "nested" in str(w.message)], enc

    for nhead, kw in ((2, {"norm_first": True}), (2, {}), (2, {"batch_first": True}),
                      (2, {"batch_first": True, "activation": lambda t: t}), (1, {"batch_first": True}),
                      (2, {"batch_first": True, "activation": "gelu"})):
        (msgs_t, _), (msgs_g, enc) = nested_warnings(torch, nhead, kw), nested_warnings(gc, nhead, kw)
        assert msgs_g == msgs_t
        assert enc.use_nested_tensor == (not msgs_t)


def test_mha_mismatched_mask_types_warn_as_torch() -> None:
    x = np.random.default_rng(0).standard_normal((3, 2, 8)).astype(np.float32)
    kpm, am = np.zeros((2, 3), bool), np.zeros((3, 3), np.float32)
    for lib, to in ((torch, torch.from_numpy), (gc, gc.from_numpy)):
        m = lib.nn.MultiheadAttention(8, 2)
        with pytest.warns(UserWarning, match="Support for mismatched key_padding_mask and attn_mask is deprecated"):
            m(to(x), to(x), to(x), key_padding_mask=to(kpm), attn_mask=to(am))

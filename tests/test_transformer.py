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
    with pytest.raises(NotImplementedError, match="add_bias_kv"):
        gc.nn.MultiheadAttention(8, 2, add_bias_kv=True)
    m = gc.nn.MultiheadAttention(8, 2)
    x = gc.randn(4, 2, 8)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        m(x, x, x, is_causal=True)
    with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is \(3, 4\), but should be \(4, 4\)"):
        m(x, x, x, attn_mask=gc.zeros(3, 4))
    with pytest.raises(AssertionError, match="was expecting embedding dimension of 8, but got 6"):
        m(gc.randn(4, 2, 6), x, x)
    with pytest.raises(AssertionError, match="expecting key_padding_mask shape of"):
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

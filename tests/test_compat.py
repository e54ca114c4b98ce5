"""What a CPU-only PyTorch answers to scripts' device and backend queries (gradcore.cuda,
gradcore.backends) and the process-wide switches (matmul precision, deterministic
algorithms, compile), against torch 2.13's CPU build."""
from __future__ import annotations

import warnings

import pytest

import gradcore as gc

torch = pytest.importorskip("torch")


def test_cuda_answers_as_a_cpu_only_torch() -> None:
    for lib in (torch, gc):
        assert lib.cuda.is_available() is False and lib.cuda.device_count() == 0
        assert lib.cuda.is_initialized() is False
        lib.cuda.manual_seed(0)
        lib.cuda.manual_seed_all(0)
        assert lib.cuda.empty_cache() is None
        for fn in (lib.cuda.synchronize, lib.cuda.current_device):
            with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
                fn()
    device = gc.device("cuda" if gc.cuda.is_available() else "cpu")
    assert gc.zeros(2).to(device).tolist() == [0.0, 0.0]


def test_backend_flags() -> None:
    for lib in (torch, gc):
        assert lib.backends.cudnn.is_available() is False and lib.backends.mps.is_available() is False
        assert lib.backends.mps.is_built() is False
    for name in ("enabled", "benchmark", "deterministic"):
        assert getattr(gc.backends.cudnn, name) == getattr(torch.backends.cudnn, name)
    gc.backends.cudnn.benchmark = True  # settable, as scripts do
    gc.backends.cudnn.benchmark = False


def test_matmul_precision_and_determinism_switches() -> None:
    assert gc.get_float32_matmul_precision() == torch.get_float32_matmul_precision() == "highest"
    try:
        gc.set_float32_matmul_precision("high")
        assert gc.get_float32_matmul_precision() == "high"
        for lib in (torch, gc):
            with warnings.catch_warnings(record=True) as rec:
                warnings.simplefilter("always")
                lib.set_float32_matmul_precision("bad")
            assert any("bad is not one of 'highest', 'high', or 'medium'" in str(w.message) for w in rec)
        assert gc.get_float32_matmul_precision() == "high"
    finally:
        gc.set_float32_matmul_precision("highest")
    assert gc.are_deterministic_algorithms_enabled() is False
    try:
        gc.use_deterministic_algorithms(True, warn_only=True)
        assert gc.are_deterministic_algorithms_enabled() and gc.is_deterministic_algorithms_warn_only_enabled()
    finally:
        gc.use_deterministic_algorithms(False)
    with pytest.raises(TypeError):
        gc.use_deterministic_algorithms("yes")  # type: ignore[arg-type]


def test_compile_returns_the_model() -> None:
    model = gc.nn.Linear(3, 2)
    assert gc.compile(model) is model
    assert gc.compile(model, mode="max-autotune", fullgraph=True) is model

    @gc.compile
    def f(x: gc.Tensor) -> gc.Tensor:
        return x * 2

    @gc.compile(dynamic=True)
    def g(x: gc.Tensor) -> gc.Tensor:
        return x + 1

    assert f(gc.ones(2)).tolist() == [2.0, 2.0] and g(gc.ones(1)).tolist() == [2.0]


def test_parameters_to_vector_and_back_match_torch() -> None:
    tm, gm = torch.nn.Linear(3, 2), gc.nn.Linear(3, 2)
    gm.load_state_dict({k: gc.from_numpy(v.detach().numpy().copy()) for k, v in tm.state_dict().items()})
    tv, gv = torch.nn.utils.parameters_to_vector(tm.parameters()), gc.nn.utils.parameters_to_vector(gm.parameters())
    assert gv.tolist() == tv.tolist() and tuple(gv.shape) == (8,)
    new = [float(i) for i in range(9)]  # one more than needed: the rest is ignored, as in torch
    torch.nn.utils.vector_to_parameters(torch.tensor(new), tm.parameters())
    gc.nn.utils.vector_to_parameters(gc.tensor(new), gm.parameters())
    assert gm.weight.tolist() == tm.weight.tolist() and gm.bias.tolist() == tm.bias.tolist()
    assert gm.weight.requires_grad and gm.weight.grad_fn is None
    with pytest.raises(TypeError, match="expected torch.Tensor, but got: list"):
        gc.nn.utils.vector_to_parameters([1.0], gm.parameters())
    with pytest.raises(RuntimeError):
        gc.nn.utils.vector_to_parameters(gc.zeros(3), gm.parameters())


def test_parameter_prints_as_torch() -> None:
    g, t = gc.nn.Parameter(gc.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    assert str(g) == str(t) == repr(t) == repr(g)
    assert str(g).startswith("Parameter containing:\n")

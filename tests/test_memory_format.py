"""Memory formats (issue 15): ``gc.channels_last`` and friends change strides, never
values; convolutions, pooling and BatchNorm take channels-last inputs and give PyTorch's
results; ``Module.to(memory_format=...)`` is accepted and keeps parameters contiguous."""
from __future__ import annotations

import numpy as np
import pytest

import gradcore as gc
import gradcore.nn as nn
import gradcore.nn.functional as F


def test_channels_last_strides_and_values(rng: np.random.Generator) -> None:
    a = rng.standard_normal((2, 3, 4, 5))
    x = gc.tensor(a)
    y = x.to(memory_format=gc.channels_last)
    assert tuple(y.stride()) == (60, 1, 15, 3)
    assert y.is_contiguous(memory_format=gc.channels_last) and not y.is_contiguous()
    assert x.is_contiguous() and not x.is_contiguous(memory_format=gc.channels_last)
    np.testing.assert_array_equal(y.numpy(), a)
    z = y.contiguous()
    assert z.is_contiguous() and tuple(z.stride()) == (60, 20, 5, 1)
    assert y.contiguous(memory_format=gc.channels_last) is y
    v = gc.tensor(rng.standard_normal((2, 3, 2, 4, 5))).contiguous(memory_format=gc.channels_last_3d)
    assert v.is_contiguous(memory_format=gc.channels_last_3d)
    assert x.to(memory_format=gc.preserve_format) is x
    assert repr(gc.channels_last) == "gradcore.channels_last"
    with pytest.raises(RuntimeError, match="required rank 4 tensor to use channels_last format"):
        gc.zeros(2, 3, 4).to(memory_format=gc.channels_last)
    with pytest.raises(TypeError, match="memory_format"):
        x.to(memory_format="channels_last")


def test_layers_on_channels_last_inputs(rng: np.random.Generator) -> None:
    torch = pytest.importorskip("torch")
    a = rng.standard_normal((2, 4, 9, 8))
    gc.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(4, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(6, 6, 3, groups=6), nn.AdaptiveAvgPool2d(1))
    model.double()
    assert model.to(memory_format=gc.channels_last) is model
    assert all(p.is_contiguous() for p in model.parameters())
    tm = torch.nn.Sequential(torch.nn.Conv2d(4, 6, 3, padding=1), torch.nn.BatchNorm2d(6), torch.nn.ReLU(),
                             torch.nn.MaxPool2d(2), torch.nn.Conv2d(6, 6, 3, groups=6),
                             torch.nn.AdaptiveAvgPool2d(1)).double()
    tm.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in model.state_dict().items()})
    tm = tm.to(memory_format=torch.channels_last)
    x = gc.tensor(a).to(memory_format=gc.channels_last).requires_grad_()
    tx = torch.tensor(a).to(memory_format=torch.channels_last).requires_grad_()
    y, ty = model(x), tm(tx)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(model[0].weight.grad.numpy(), tm[0].weight.grad.numpy(), rtol=1e-10, atol=1e-10)
    opt = gc.optim.Adam(model.parameters())
    opt.step()  # parameters stayed contiguous: the fused step runs
    assert F.conv2d(x, model[0].weight).is_contiguous()

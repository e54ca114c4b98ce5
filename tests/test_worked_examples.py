"""The worked examples of issue 2, reproduced exactly in float64.

Every expected number below is derived by hand (the chain rule on paper), not by another
autograd library, so these tests are an oracle independent of both gradcore and PyTorch.
"""
from __future__ import annotations

import numpy as np
import pytest

import gradcore as gc


def scalar(v: float) -> gc.Tensor:
    return gc.tensor(v, dtype=gc.float64, requires_grad=True)


def test_shopping_graph() -> None:
    # total = (apple_price * apples + orange_price * oranges) * tax
    apple_price, apples = scalar(100.0), scalar(2.0)
    orange_price, oranges = scalar(150.0), scalar(3.0)
    tax = scalar(1.1)
    total = (apple_price * apples + orange_price * oranges) * tax
    assert total.item() == pytest.approx(715.0, rel=1e-15)
    total.backward()
    assert apple_price.grad.item() == pytest.approx(2.2, rel=1e-15)   # apples * tax
    assert apples.grad.item() == pytest.approx(110.0, rel=1e-15)      # apple_price * tax
    assert orange_price.grad.item() == pytest.approx(3.3, rel=1e-15)  # oranges * tax
    assert oranges.grad.item() == pytest.approx(165.0, rel=1e-15)     # orange_price * tax
    assert tax.grad.item() == pytest.approx(650.0, rel=1e-15)         # 200 + 450


def test_squared_error_of_affine_unit() -> None:
    # L = (a*w + b - y)^2, r = a*w + b - y = 6 + 4 - 11 = -1 -> L = 1, dL/dr = 2r = -2.
    a, w, b, y = scalar(2.0), scalar(3.0), scalar(4.0), scalar(11.0)
    L = (a * w + b - y) ** 2
    assert L.item() == 1.0
    L.backward()
    assert a.grad.item() == -6.0   # 2r * w
    assert w.grad.item() == -4.0   # 2r * a
    assert b.grad.item() == -2.0   # 2r
    assert y.grad.item() == 2.0    # -2r


def test_relu_unit_dead_with_upstream_gradient() -> None:
    # w*x + b = 6 - 7 = -1 < 0: relu is 0 and passes no gradient, whatever comes from above.
    x, w, b = scalar(2.0), scalar(3.0), scalar(-7.0)
    y = (w * x + b).relu()
    assert y.item() == 0.0
    y.backward(gc.tensor(5.0, dtype=gc.float64))
    assert w.grad.item() == 0.0
    assert b.grad.item() == 0.0
    assert x.grad.item() == 0.0


def test_relu_unit_alive_with_upstream_gradient() -> None:
    # Counterpart of the dead unit: with b = -1, w*x + b = 5 > 0, dy/dw = x, dy/db = 1, times 5.
    x, w, b = scalar(2.0), scalar(3.0), scalar(-1.0)
    y = (w * x + b).relu()
    assert y.item() == 5.0
    y.backward(gc.tensor(5.0, dtype=gc.float64))
    assert w.grad.item() == 10.0
    assert b.grad.item() == 5.0
    assert x.grad.item() == 15.0


def test_product_of_sums_shares_b() -> None:
    # e = (a + b)(b + 1); de/da = b + 1 = 2; de/db = (b + 1) + (a + b) = 2 + 3 = 5.
    a, b = scalar(2.0), scalar(1.0)
    e = (a + b) * (b + 1)
    assert e.item() == 6.0
    e.backward()
    assert a.grad.item() == 2.0
    assert b.grad.item() == 5.0


def test_parameter_on_several_paths_gets_the_sum() -> None:
    # f = p*x1 + p**2 + exp(p) + p: df/dp = x1 + 2p + exp(p) + 1 (four paths).
    p, x1 = scalar(0.5), scalar(3.0)
    f = p * x1 + p ** 2 + p.exp() + p
    f.backward()
    assert p.grad.item() == pytest.approx(3.0 + 1.0 + np.exp(0.5) + 1.0, rel=1e-14)
    assert x1.grad.item() == 0.5

    # The same parameter reused inside one op: d(p*p*p)/dp = 3p^2.
    q = scalar(-1.5)
    (q * q * q).backward()
    assert q.grad.item() == pytest.approx(3 * 1.5 ** 2, rel=1e-15)


def test_three_layer_network_matches_hand_derived_gradients() -> None:
    rng = np.random.default_rng(7)
    n, d_in, d_hid, d_out = 8, 5, 6, 3
    X = rng.standard_normal((n, d_in))
    Y = rng.standard_normal((n, d_out))
    W1_np = rng.standard_normal((d_in, d_hid)) * 0.5
    b1_np = rng.standard_normal(d_hid) * 0.1
    W2_np = rng.standard_normal((d_hid, d_out)) * 0.5
    b2_np = rng.standard_normal(d_out) * 0.1

    # Forward and backward by hand.
    z1 = X @ W1_np + b1_np
    h = 1.0 / (1.0 + np.exp(-z1))
    y_hat = h @ W2_np + b2_np
    L_ref = 0.5 * np.sum((y_hat - Y) ** 2)
    delta = y_hat - Y                       # dL/dy_hat
    dW2 = h.T @ delta
    db2 = delta.sum(axis=0)
    dz1 = (delta @ W2_np.T) * h * (1.0 - h)
    dW1 = X.T @ dz1
    db1 = dz1.sum(axis=0)

    # The same in gradcore.
    Xt, Yt = gc.tensor(X, dtype=gc.float64), gc.tensor(Y, dtype=gc.float64)
    W1 = gc.tensor(W1_np, dtype=gc.float64, requires_grad=True)
    b1 = gc.tensor(b1_np, dtype=gc.float64, requires_grad=True)
    W2 = gc.tensor(W2_np, dtype=gc.float64, requires_grad=True)
    b2 = gc.tensor(b2_np, dtype=gc.float64, requires_grad=True)
    ht = (Xt @ W1 + b1).sigmoid()
    L = 0.5 * ((ht @ W2 + b2 - Yt) ** 2).sum()
    assert L.dtype == gc.float64
    assert L.item() == pytest.approx(L_ref, rel=1e-13)
    L.backward()
    np.testing.assert_allclose(W2.grad.detach().numpy(), dW2, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(b2.grad.detach().numpy(), db2, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(W1.grad.detach().numpy(), dW1, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(b1.grad.detach().numpy(), db1, rtol=1e-12, atol=1e-13)
    assert Xt.grad is None and Yt.grad is None

"""A walk through gradcore's reverse-mode autograd on small worked examples.

Run:  python examples/autograd_tour.py
Each example builds a graph in the forward pass, calls backward(), and prints the
gradients next to the values derived by hand.
"""
import numpy as np

import gradcore as gc

f64 = gc.float64


def leaf(v):
    return gc.tensor(v, dtype=f64, requires_grad=True)


def show(name, got, expected):
    ok = "ok" if np.allclose(got, expected) else "MISMATCH"
    print(f"  {name:<22} = {np.round(got, 6)!s:<12} (by hand: {expected})  {ok}")


print("1. Shopping: (apple price * apples + orange price * oranges) * tax")
apple, n_apple, orange, n_orange, tax = leaf(100.0), leaf(2.0), leaf(150.0), leaf(3.0), leaf(1.1)
total = (apple * n_apple + orange * n_orange) * tax
total.backward()
show("total", total.item(), 715)
show("d/d apple price", apple.grad.item(), 2.2)
show("d/d apples", n_apple.grad.item(), 110)
show("d/d orange price", orange.grad.item(), 3.3)
show("d/d oranges", n_orange.grad.item(), 165)
show("d/d tax", tax.grad.item(), 650)

print("\n2. Squared error L = (a*w + b - y)^2 with a=2, w=3, b=4, y=11")
a, w, b, y = leaf(2.0), leaf(3.0), leaf(4.0), leaf(11.0)
L = (a * w + b - y) ** 2
L.backward()
show("L", L.item(), 1)
for name, t, e in [("dL/da", a, -6), ("dL/dw", w, -4), ("dL/db", b, -2), ("dL/dy", y, 2)]:
    show(name, t.grad.item(), e)

print("\n3. A ReLU that is off: y = relu(w*x + b), x=2, w=3, b=-7, upstream gradient 5")
x, w, b = leaf(2.0), leaf(3.0), leaf(-7.0)
out = (w * x + b).relu()
out.backward(gc.tensor(5.0, dtype=f64))
show("y", out.item(), 0)
show("dy/dw", w.grad.item(), 0)
show("dy/db", b.grad.item(), 0)

print("\n4. Shared input: e = (a + b) * (b + 1), a=2, b=1")
a, b = leaf(2.0), leaf(1.0)
e = (a + b) * (b + 1)
e.backward()
show("e", e.item(), 6)
show("de/da", a.grad.item(), 2)
show("de/db (two paths)", b.grad.item(), 5)

print("\n5. A 3-layer network, batched: z1 = X W1 + b1, h = sigmoid(z1), yhat = h W2 + b2, L = 1/2 ||yhat - Y||^2")
rng = np.random.default_rng(0)
Xn, Yn = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
W1n, b1n, W2n, b2n = rng.normal(size=(3, 5)), rng.normal(size=5), rng.normal(size=(5, 2)), rng.normal(size=2)
X, Y = gc.tensor(Xn), gc.tensor(Yn)
W1, b1, W2, b2 = leaf(W1n), leaf(b1n), leaf(W2n), leaf(b2n)
h = (X @ W1 + b1).sigmoid()
yhat = h @ W2 + b2
loss = ((yhat - Y) ** 2).sum() * 0.5
loss.backward()
hn = 1 / (1 + np.exp(-(Xn @ W1n + b1n)))
delta = hn @ W2n + b2n - Yn
dz1 = delta @ W2n.T * hn * (1 - hn)
for name, t, ref in [("dW2 = h^T delta", W2, hn.T @ delta), ("db2 = sum delta", b2, delta.sum(0)),
                     ("dW1 = X^T dz1", W1, Xn.T @ dz1), ("db1 = sum dz1", b1, dz1.sum(0))]:
    err = np.abs(t.grad.detach().numpy() - ref).max()
    print(f"  {name:<22} max |engine - hand| = {err:.2e}  {'ok' if err < 1e-12 else 'MISMATCH'}")

print("\n6. gradcheck: the engine against float64 central differences")
x = gc.randn(3, 4, dtype=f64, requires_grad=True)
print("  softmax(x)          ", gc.gradcheck(lambda t: gc.softmax(t, dim=1), x))
print("  tanh(x) @ x.T       ", gc.gradcheck(lambda t: t.tanh() @ t.T, x))

print("\n7. Example 1's recorded graph as Graphviz DOT text, after backward (gc.viz.to_dot;")
print("   to_dot(total, path='receipt.svg') renders it when Graphviz's dot is installed)")
print(gc.viz.to_dot(total, params={"apple price": apple, "apples": n_apple, "orange price": orange,
                                   "oranges": n_orange, "tax": tax}))

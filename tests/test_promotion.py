"""Type promotion, dtype conversion and dtype round trips against PyTorch.

* Binary ops (+ - * / // % ** comparisons & | ^) over every dtype pair, for tensor-tensor,
  tensor-0-dim-tensor and tensor-Python-scalar operands in both orders: the result dtype and
  the values equal torch's, and where torch refuses a combination gradcore raises the same
  exception type.
* ``promote_types`` / ``can_cast`` / ``result_type`` over every pair; in-place ops keep
  self's dtype and refuse what torch refuses (``int_tensor += 1.5``).
* ``.to(dtype)`` between all dtypes, including NaN/inf/out-of-range floats to ints (torch's
  x86 results) and float16/bfloat16 rounding.
* ``tensor()`` dtype inference, ``from_numpy``/``numpy()`` zero-copy for every NumPy-expressible
  dtype, safetensors ``save``/``load`` of every dtype.
"""
from __future__ import annotations

import operator
from typing import Any, Callable, List

import numpy as np
import pytest

import gradcore as gc

torch = pytest.importorskip("torch")

NAMES = ["float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool"]
GC = {n: getattr(gc, n) for n in NAMES}
TO = {n: getattr(torch, n) for n in NAMES}
FLOATS = {"float32", "float64", "float16", "bfloat16"}


def name_of(dt: Any) -> str:
    return str(dt).split(".")[-1]


def values(n: str, divisor: bool = False) -> List[Any]:
    """Small exact operands; divisors have no zero (integer division by zero is an error)."""
    if n == "bool":
        return [True, True, True, True, True] if divisor else [True, False, True, True, False]
    if n == "uint8":
        return [2, 3, 1, 4, 2] if divisor else [0, 1, 2, 7, 5]
    v = [2, -3, 1, 4, -2] if divisor else [-7, -1, 0, 2, 5]
    return [float(t) + (0.5 if n in FLOATS and not divisor else 0.0) for t in v] if n in FLOATS else v


def pair(lib: Any, n: str, data: List[Any], zero_dim: bool = False) -> Any:
    dt = GC[n] if lib is gc else TO[n]
    return lib.tensor(data[1] if zero_dim else data, dtype=dt)


def as_f64(t: Any) -> np.ndarray:
    return t.to(gc.float64).numpy() if isinstance(t, gc.Tensor) else t.to(torch.float64).numpy()


def same(got: Any, want: Any, rtol: float = 0.0) -> None:
    assert name_of(got.dtype) == name_of(want.dtype)
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(as_f64(got), as_f64(want), rtol=rtol, atol=0, equal_nan=True)


def outcome(f: Callable[[], Any]) -> Any:
    try:
        return f()
    except Exception as e:  # noqa: BLE001 - the type is what is compared
        return e


def compare(f_gc: Callable[[], Any], f_t: Callable[[], Any], what: str) -> None:
    want = outcome(f_t)
    if isinstance(want, NotImplementedError):
        return  # a kernel torch lacks for this dtype (bool // bool): nothing to compare with
    if isinstance(want, Exception):
        with pytest.raises(type(want)):
            f_gc()
        return
    got = f_gc()
    # A few ulps: torch computes s / x as s * (1 / x) (two roundings), gradcore as s / x.
    rtol = {"float16": 1e-2, "bfloat16": 1e-2, "float32": 1e-6}.get(name_of(want.dtype), 1e-12)
    try:
        same(got, want, rtol=rtol)
    except AssertionError as e:
        raise AssertionError(f"{what}: {e}") from None


ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
         "//": operator.floordiv, "%": operator.mod, "==": operator.eq, "<": operator.lt,
         ">=": operator.ge, "!=": operator.ne}
BITS = {"&": operator.and_, "|": operator.or_, "^": operator.xor}


@pytest.mark.parametrize("a", NAMES)
@pytest.mark.parametrize("b", NAMES)
def test_binary_ops_tensor_tensor(a: str, b: str) -> None:
    ops = dict(ARITH, **(BITS if a not in FLOATS and b not in FLOATS else {}))
    xa, xb = values(a), values(b, divisor=True)
    for sym, f in ops.items():
        for zero_dim in (False, True):  # b as a 0-dim tensor: it takes part only by category
            compare(lambda: f(pair(gc, a, xa), pair(gc, b, xb, zero_dim)),
                    lambda: f(pair(torch, a, xa), pair(torch, b, xb, zero_dim)),
                    f"{a} {sym} {b}{' (0-dim)' if zero_dim else ''}")
            compare(lambda: f(pair(gc, b, xb, zero_dim), pair(gc, a, xa)),
                    lambda: f(pair(torch, b, xb, zero_dim), pair(torch, a, xa)),
                    f"{b}{' (0-dim)' if zero_dim else ''} {sym} {a}")


SCALARS = [True, False, 3, -2, 2.5, -1.5]


@pytest.mark.parametrize("a", NAMES)
@pytest.mark.parametrize("s", SCALARS, ids=repr)
def test_binary_ops_tensor_scalar(a: str, s: Any) -> None:
    ops = dict(ARITH)
    if a not in FLOATS and not isinstance(s, float):
        ops.update(BITS)
    xa = values(a, divisor=True)
    for sym, f in ops.items():
        if sym in ("//", "%") and s in (0, False) and a not in FLOATS:
            continue  # integer division by zero: checked in test_bad_input11
        compare(lambda: f(pair(gc, a, xa), s), lambda: f(pair(torch, a, xa), s), f"{a} {sym} {s!r}")
        compare(lambda: f(s, pair(gc, a, xa)), lambda: f(s, pair(torch, a, xa)), f"{s!r} {sym} {a}")


def test_integer_division_semantics() -> None:
    # / of ints is true division in the default float dtype; // floors; % has the divisor's sign.
    a, b = [-7, -7, 7, 7, -1, 0], [2, -2, 2, -2, 3, -5]
    x, y = gc.tensor(a), gc.tensor(b)
    assert (x / y).dtype == gc.float32
    np.testing.assert_allclose((x / y).numpy(), np.array(a, np.float32) / np.array(b, np.float32))
    np.testing.assert_array_equal((x // y).numpy(), np.floor_divide(a, b))
    np.testing.assert_array_equal((x % y).numpy(), np.mod(a, b))
    np.testing.assert_array_equal((x % 3).numpy(), np.mod(a, 3))
    np.testing.assert_array_equal((x // -3).numpy(), np.floor_divide(a, -3))
    f = gc.tensor([-7.5, 7.5, -0.5])
    np.testing.assert_array_equal((f // 2).numpy(), np.floor_divide([-7.5, 7.5, -0.5], 2).astype(np.float32))
    np.testing.assert_array_equal((f % -2).numpy(), np.mod([-7.5, 7.5, -0.5], -2).astype(np.float32))


def test_pow_promotion() -> None:
    for a in NAMES:
        for s in (2, 0.5, True):
            if a == "bool" and s is True:
                continue
            compare(lambda: pair(gc, a, values(a, True)) ** s, lambda: pair(torch, a, values(a, True)) ** s,
                    f"{a} ** {s!r}")


@pytest.mark.parametrize("a", NAMES)
def test_promote_types_and_can_cast(a: str) -> None:
    for b in NAMES:
        assert name_of(gc.promote_types(GC[a], GC[b])) == name_of(torch.promote_types(TO[a], TO[b])), (a, b)
        assert gc.can_cast(GC[a], GC[b]) == torch.can_cast(TO[a], TO[b]), (a, b)


@pytest.mark.parametrize("a", NAMES)
def test_result_type(a: str) -> None:
    ta, ga = pair(torch, a, values(a)), pair(gc, a, values(a))
    for b in NAMES:
        for zero_dim in (False, True):
            tb, gb = pair(torch, b, values(b), zero_dim), pair(gc, b, values(b), zero_dim)
            assert name_of(gc.result_type(ga, gb)) == name_of(torch.result_type(ta, tb)), (a, b, zero_dim)
            assert name_of(gc.result_type(gb, ga)) == name_of(torch.result_type(tb, ta)), (b, a, zero_dim)
    for s in SCALARS:
        assert name_of(gc.result_type(ga, s)) == name_of(torch.result_type(ta, s)), (a, s)
        assert name_of(gc.result_type(s, ga)) == name_of(torch.result_type(s, ta)), (s, a)


INPLACE = {"add_": "add_", "sub_": "sub_", "mul_": "mul_", "div_": "div_"}


@pytest.mark.parametrize("a", NAMES)
def test_inplace_keeps_dtype_or_refuses(a: str) -> None:
    """x.op_(y) keeps x's dtype; a result dtype that cannot be cast to x's is torch's RuntimeError."""
    for b in NAMES + ["py_int", "py_float", "py_bool"]:
        for m in INPLACE:
            def run(lib: Any) -> Any:
                x = pair(lib, a, values(a))
                y: Any = {"py_int": 2, "py_float": 1.5, "py_bool": True}.get(b)
                if y is None:
                    y = pair(lib, b, values(b, divisor=True))
                r = getattr(x, m)(y)
                assert r is x
                return x
            compare(lambda: run(gc), lambda: run(torch), f"{a}.{m}({b})")


def test_augmented_assignment_int_by_float_refused() -> None:
    x = gc.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="Long"):
        x += 1.5
    with pytest.raises(RuntimeError):
        x *= gc.tensor([0.5, 0.5, 0.5])
    np.testing.assert_array_equal(x.numpy(), [1, 2, 3])  # untouched
    x += 2
    x //= 2
    np.testing.assert_array_equal(x.numpy(), [1, 2, 2])


# Conversions: every dtype to every dtype, including values out of the target's range.
SOURCE = {
    "float": [float("nan"), float("inf"), -float("inf"), 0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 127.9, -128.9,
              255.5, 256.0, -1.0, 300.7, 65504.0, 65520.0, 70000.0, 3.0e38, 1e10, -1e10, 2.0 ** 31, -2.0 ** 31 - 1,
              2.0 ** 63, 1e-8, 1.0 / 3.0, 0.1, 1.00390625, 1.005859375],
    "int": [0, 1, -1, 127, 128, -129, 255, 256, 300, -300, 32767, 32768, -40000, 65519, 65520, 70000, 2 ** 24 + 1,
            2 ** 31 - 1, -2 ** 31, 2 ** 40 + 3, -2 ** 53 - 1],
}


def source(n: str) -> List[Any]:
    if n == "bool":
        return [True, False, True]
    if n in FLOATS:
        return SOURCE["float"]
    info = np.iinfo(n)
    return [v for v in SOURCE["int"] if info.min <= v <= info.max]


@pytest.mark.parametrize("src", NAMES)
@pytest.mark.parametrize("dst", NAMES)
def test_conversion_matches_torch(src: str, dst: str) -> None:
    # NaN/inf/out of range to an int is undefined behaviour in C++; both give x86's truncating
    # conversion (through int64 for int64 and uint8, through int32 for the others), then wrap.
    vals = source(src)
    want = torch.tensor(vals, dtype=torch.float64 if src in FLOATS else torch.int64).to(TO[src]).to(TO[dst])
    got = gc.tensor(vals, dtype=gc.float64 if src in FLOATS else gc.int64).to(GC[src]).to(GC[dst])
    assert name_of(got.dtype) == dst
    np.testing.assert_array_equal(as_f64(got), as_f64(want), err_msg=f"{src} -> {dst}: {vals}")


@pytest.mark.parametrize("dst", ["float16", "bfloat16"])
def test_low_precision_rounding_matches_torch(dst: str) -> None:
    # Round to nearest even at the halfway points, overflow to inf, subnormals.
    rng = np.random.default_rng(0)
    v = np.concatenate([rng.standard_normal(2000) * 10.0 ** rng.integers(-9, 6, 2000),
                        np.array([1 + 2.0 ** -11, 1 + 3 * 2.0 ** -11, 1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8,
                                  65519.99, 65520.0, 6e-8, 3e-8, 1e-45, 3.4e38])])
    for src in ("float32", "float64"):
        want = torch.from_numpy(v).to(TO[src]).to(TO[dst])
        got = gc.from_numpy(v).to(GC[src]).to(GC[dst])
        np.testing.assert_array_equal(as_f64(got), as_f64(want), err_msg=f"{src} -> {dst}")


@pytest.mark.parametrize("data", [
    [1, 2], [1.0, 2], [True, False], [True, 1], [True, 1.5], [[1], [2]], [[1.5], [2]], 3, 3.5, True, [],
    [[]], np.array([1, 2], np.int32), np.array([1.5], np.float16), np.float64(2.5), np.int16(3), np.bool_(True),
    [np.int32(1), np.int32(2)], [np.float64(1.5), 2], [np.float16(1), np.int32(2)], [np.int32(1), 2.5],
    [[np.int8(1)], [2]], [np.uint8(3), np.int8(1)],
    [2 ** 40],
], ids=repr)
def test_tensor_dtype_inference(data: Any) -> None:
    want = torch.tensor(data)
    got = gc.tensor(data)
    assert name_of(got.dtype) == name_of(want.dtype)
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_array_equal(as_f64(got), as_f64(want))


@pytest.mark.parametrize("n", [n for n in NAMES if n != "bfloat16"])
def test_numpy_round_trip_is_zero_copy(n: str) -> None:
    a = np.array(values(n), dtype=n).reshape(5, 1)
    t = gc.from_numpy(a)
    assert name_of(t.dtype) == n
    b = t.numpy()
    assert b.dtype == a.dtype and np.shares_memory(a, b)
    a[2, 0] = a[0, 0]
    assert t[2, 0].item() == a[0, 0].item()          # a write to the array is seen by the tensor
    t[3, 0] = values(n)[1]
    assert a[3, 0] == np.array(values(n)[1], dtype=n)  # and a write to the tensor by the array
    # A strided view's numpy() is a strided view of the same memory.
    v = gc.from_numpy(np.arange(12).astype(n)).reshape(3, 4)[::2, 1:].numpy() if n != "bool" else None
    if v is not None:
        assert v.shape == (2, 3) and not v.flags.c_contiguous


def test_bfloat16_numpy_refused_like_torch() -> None:
    with pytest.raises(TypeError):
        torch.ones(2, dtype=torch.bfloat16).numpy()
    with pytest.raises(TypeError):
        gc.ones(2, dtype=gc.bfloat16).numpy()


@pytest.mark.parametrize("n", NAMES)
def test_safetensors_round_trip_every_dtype(n: str, tmp_path: Any) -> None:
    vals = source(n)[:8]
    x = gc.tensor(vals, dtype=gc.float64 if n in FLOATS else gc.int64).to(GC[n])
    path = tmp_path / "t.safetensors"
    gc.save({"x": x, "m": x[::2]}, str(path))
    back = gc.load(str(path))
    for k, want in (("x", x), ("m", x[::2])):
        got = back[k]
        assert name_of(got.dtype) == n
        assert tuple(got.shape) == tuple(want.shape)
        np.testing.assert_array_equal(as_f64(got), as_f64(want))
    # The file is a plain safetensors file: torch's reader gets the same dtype and values.
    st = pytest.importorskip("safetensors.torch")
    d = st.load_file(str(path))
    assert name_of(d["x"].dtype) == n
    np.testing.assert_array_equal(d["x"].to(torch.float64).numpy(), as_f64(x))


@pytest.mark.parametrize("base", ["int64", "int8", "bool", "float16", "float32"])
@pytest.mark.parametrize("exp", ["float64", "float32", "int64", "int16"])
def test_pow_with_zero_dim_tensor_exponent_promotes_like_torch(base: str, exp: str) -> None:
    """x ** t with t 0-dim: t's category can lift the result (int ** float64 0-dim is float64)."""
    a = np.array([1, 2, 3]).astype(np.bool_ if base == "bool" else base)
    g = gc.tensor(a) ** gc.tensor(2, dtype=getattr(gc, exp))
    t = torch.tensor(a) ** torch.tensor(2, dtype=getattr(torch, exp))
    assert str(g.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_allclose(g.numpy().astype(np.float64), t.numpy().astype(np.float64))

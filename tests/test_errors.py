"""Every documented error path: the exception type and a message that tells the user why.

Shape mismatches -> ValueError naming both shapes; bad types / dtypes -> TypeError (ragged
lists -> NumPy's ValueError); out-of-range dims -> IndexError; graph misuse -> RuntimeError;
impossible allocations -> MemoryError; negative dims -> ValueError.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import gradcore as gc
import gradcore.nn.functional as F


def z(*shape: int, dtype: Any = gc.float32, requires_grad: bool = False) -> gc.Tensor:
    return gc.zeros(*shape, dtype=dtype, requires_grad=requires_grad)


# ---- construction ------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["abc", ["a", "b"], None, {"a": 1}, object()],
                         ids=["str", "str_list", "None", "dict", "object"])
def test_tensor_from_non_numbers_is_type_error(bad: Any) -> None:
    with pytest.raises(TypeError):
        gc.tensor(bad)


def test_tensor_from_string_names_the_type() -> None:
    with pytest.raises(TypeError, match="str"):
        gc.tensor("abc")


def test_ragged_list_is_numpy_value_error() -> None:
    with pytest.raises(ValueError, match="inhomogeneous"):
        gc.tensor([[1.0, 2.0], [3.0]])


def test_unsupported_dtype_argument_is_type_error() -> None:
    with pytest.raises(TypeError, match="complex64"):
        gc.tensor([1, 2], dtype="complex64")


@pytest.mark.parametrize("np_dtype", [np.uint16, np.uint32, np.uint64, np.complex64])
def test_from_numpy_unsupported_dtype_is_type_error(np_dtype: Any) -> None:
    with pytest.raises(TypeError, match="can't convert np.ndarray of type numpy"):
        gc.from_numpy(np.zeros(3, dtype=np_dtype))


def test_from_numpy_non_array_is_type_error() -> None:
    with pytest.raises(TypeError, match="list"):
        gc.from_numpy([1.0, 2.0])


@pytest.mark.parametrize("make", [
    lambda: np.zeros((3, 4), np.float32)[:, ::2],
    lambda: np.zeros((3, 4), np.float64).T,
    lambda: np.zeros((3, 4), np.float32, order="F"),
    lambda: np.zeros(10, np.float64)[::3],
], ids=["strided_cols", "transposed", "fortran", "strided_1d"])
def test_from_numpy_of_strided_arrays_shares_memory(make: Callable[[], np.ndarray]) -> None:
    a = make()
    a[...] = np.arange(a.size).reshape(a.shape)
    t = gc.from_numpy(a)
    np.testing.assert_array_equal(t.numpy(), a)
    assert np.shares_memory(t.numpy(), a)
    assert t.stride() == tuple(s // a.itemsize for s in a.strides)


def test_from_numpy_negative_strides_is_value_error() -> None:
    with pytest.raises(ValueError, match="negative"):
        gc.from_numpy(np.zeros(5, np.float32)[::-1])


@pytest.mark.parametrize("shape", [(3,), (2, 2), (0,)])
def test_item_of_non_single_element_is_runtime_error_like_pytorch(shape: Any) -> None:
    with pytest.raises(RuntimeError, match=r"cannot be converted to Scalar"):
        gc.zeros(*shape).item()


@pytest.mark.parametrize("factory", [
    lambda: gc.zeros(-1),
    lambda: gc.zeros(2, -3),
    lambda: gc.ones(3, -2),
    lambda: gc.full((2, -3), 1.0),
    lambda: gc.randn(-1),
    lambda: gc.rand(4, -4),
], ids=["zeros", "zeros2d", "ones", "full", "randn", "rand"])
def test_negative_dims_are_value_error(factory: Callable[[], Any]) -> None:
    with pytest.raises(ValueError, match="negative"):
        factory()


@pytest.mark.parametrize("factory", [
    lambda: gc.zeros(10 ** 12),
    lambda: gc.randn(10 ** 12),
    lambda: gc.zeros(2 ** 61),            # numel fits, bytes do not
], ids=["1e12", "randn", "2^61"])
def test_impossible_allocation_is_memory_error(factory: Callable[[], Any]) -> None:
    with pytest.raises(MemoryError):
        factory()


@pytest.mark.parametrize("factory", [
    lambda: gc.zeros(2 ** 40, 2 ** 40),   # numel overflows 64 bits unless checked
    lambda: gc.ones(2 ** 62, 4),
    lambda: gc.full((2 ** 40, 2 ** 40), 1.0),
    lambda: gc.zeros(2 ** 62, 4, 0),      # overflow even though a dim is 0
    lambda: gc.zeros(0).reshape(2 ** 62, 4),
    lambda: gc.zeros(0).reshape(0, 2 ** 62, 4),
    lambda: gc.zeros(2 ** 40, 0) @ gc.zeros(0, 2 ** 40),
    lambda: gc.zeros(2 ** 40, 1, 0) + gc.zeros(1, 2 ** 40, 0),
], ids=["2^40x2^40", "2^62x4", "full", "2^62x4x0", "reshape", "reshape0", "matmul", "broadcast"])
def test_shape_overflow_is_value_error_naming_the_shape(factory: Callable[[], Any]) -> None:
    with pytest.raises(ValueError, match=r"shape \("):
        factory()


def test_arange_zero_step_is_runtime_error_like_pytorch() -> None:
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        gc.arange(0, 5, 0)


# ---- dtypes -------------------------------------------------------------------------------

@pytest.mark.parametrize("name,op", [
    ("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b), ("mse", lambda a, b: F.mse_loss(a, b)),
])
def test_mixed_float32_float64_promotes_like_pytorch(name: str, op: Callable[..., Any]) -> None:
    a, b = z(3, 3), z(3, 3, dtype=gc.float64)
    assert op(a, b).dtype == gc.float64 and op(b, a).dtype == gc.float64


def test_matmul_of_mixed_dtypes_is_type_and_runtime_error() -> None:
    a, b = z(3, 3), z(3, 3, dtype=gc.float64)
    for x, y in ((a, b), (b, a)):
        with pytest.raises(TypeError, match="dtype") as info:  # PyTorch refuses mixed dtypes too
            x @ y
        assert isinstance(info.value, RuntimeError)


def test_integer_tensor_to_negative_power_like_torch() -> None:
    # A negative Python int exponent is refused as in PyTorch; a negative tensor exponent is
    # computed as PyTorch does (1 and -1 keep their magnitude, other bases give 0).
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        gc.tensor([2, 3]) ** -1
    got = gc.tensor([2, 1, -1, -2, 0]) ** gc.tensor([-1, -3, -3, -2, -1])
    assert got.tolist() == [0, 1, -1, 0, 0] and got.dtype == gc.int64


def test_unsupported_operand_is_type_error() -> None:
    with pytest.raises(TypeError):
        z(2) + "a"
    with pytest.raises(TypeError):
        gc.add("a", "b")


# ---- shapes -------------------------------------------------------------------------------

@pytest.mark.parametrize("name,op", [
    ("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b),
])
def test_broadcast_mismatch_names_both_shapes(name: str, op: Callable[..., Any]) -> None:
    with pytest.raises(ValueError, match=rf"{name}.*\(2, 3\).*\(4, 5\)"):
        op(z(2, 3), z(4, 5))
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 4\)"):
        op(z(3), z(2, 4))


@pytest.mark.parametrize("sa,sb", [((2, 3), (4, 5)), ((3,), (4,)), ((3,), (4, 2)), ((2, 3, 4), (5, 2)), ((2, 3), (2,))])
def test_matmul_mismatch_names_both_shapes(sa: Any, sb: Any) -> None:
    pattern = r"matmul.*" + _shape_re(sa) + r".*" + _shape_re(sb)
    with pytest.raises(ValueError, match=pattern):
        gc.matmul(z(*sa), z(*sb))
    with pytest.raises(ValueError, match=pattern):
        z(*sa) @ z(*sb)


def test_mm_mismatch_names_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 3\)"):
        gc._core.mm(z(2, 3), z(2, 3))
    # with a transpose flag the message names op(a), the operand as multiplied
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(4, 5\)"):
        gc._core.mm(z(2, 3), z(4, 5), trans_a=True)


def _shape_re(shape: Any) -> str:
    return "\\(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + "\\)"


def test_matmul_example_message() -> None:
    with pytest.raises(ValueError) as info:
        gc.matmul(z(2, 3), z(4, 5))
    assert "(2, 3)" in str(info.value) and "(4, 5)" in str(info.value)


@pytest.mark.parametrize("bad", [(4, -1), (7,), (-1, -1), (5, 2)])
def test_reshape_to_incompatible_shape_is_value_error(bad: Any) -> None:
    with pytest.raises(ValueError, match="invalid for input of size|only one dimension") as info:
        z(2, 3).reshape(*bad)
    assert isinstance(info.value, RuntimeError)  # PyTorch's type too


def test_permute_with_repeated_dim_is_value_error() -> None:
    with pytest.raises(ValueError, match="repeated") as info:
        z(2, 3).permute(0, 0)
    assert isinstance(info.value, RuntimeError)  # PyTorch's type too


def test_reduce_over_repeated_dim_is_value_error() -> None:
    with pytest.raises(ValueError, match="repeated"):
        z(2, 3).mean(dim=(0, 0))


# ---- dims ---------------------------------------------------------------------------------

@pytest.mark.parametrize("op", [
    lambda x: x.sum(dim=2), lambda x: x.sum(dim=-3), lambda x: x.mean(dim=2), lambda x: x.max(dim=5),
    lambda x: x.sum(dim=(0, 2)), lambda x: gc.softmax(x, 2), lambda x: gc.log_softmax(x, -3),
    lambda x: x.transpose(0, 2), lambda x: x.permute(0, 2),
], ids=["sum", "sum_neg", "mean", "max", "sum_tuple", "softmax", "log_softmax", "transpose", "permute"])
def test_out_of_range_dim_is_index_error(op: Callable[..., Any]) -> None:
    with pytest.raises(IndexError, match="out of range"):
        op(z(2, 3))


# ---- graph misuse -------------------------------------------------------------------------

def test_backward_of_non_scalar_without_gradient() -> None:
    with pytest.raises(RuntimeError, match="scalar"):
        (z(3, requires_grad=True) * 2).backward()


def test_backward_of_tensor_without_graph() -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        z(3).sum().backward()


def test_second_backward_through_freed_graph() -> None:
    y = (z(3, requires_grad=True) * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_backward_gradient_shape_mismatch() -> None:
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        (z(2, requires_grad=True) * 2).backward(z(3))


def test_setting_requires_grad_false_on_non_leaf() -> None:
    y = z(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False
    assert y.requires_grad


def test_grad_of_unused_input() -> None:
    x = z(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="not used"):
        gc.grad((x * 2).sum(), [x, z(1, requires_grad=True)])


def test_gradcheck_without_differentiable_inputs() -> None:
    with pytest.raises(ValueError, match="requires_grad"):
        gc.gradcheck(lambda t: t * 2, [z(2, dtype=gc.float64)])


# ---- losses -------------------------------------------------------------------------------

def test_cross_entropy_float_labels_are_type_error() -> None:
    # PyTorch raises RuntimeError; gradcore's DTypeError is a TypeError and a RuntimeError
    with pytest.raises(TypeError, match="integer") as ei:
        F.cross_entropy(z(2, 3), np.array([0.0, 1.0]))
    assert isinstance(ei.value, RuntimeError)


@pytest.mark.parametrize("labels", [[0, 3], [0, -1], np.array([7, 0]), np.array([0, 2**40])],
                         ids=["C", "negative", "numpy", "huge"])
def test_cross_entropy_label_out_of_range_is_index_error(labels: Any) -> None:
    # PyTorch's IndexError "Target 3 is out of bounds." (issue 12; was ValueError)
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(z(2, 3, requires_grad=True), labels)


def test_cross_entropy_batch_mismatch_is_value_error() -> None:
    with pytest.raises(ValueError, match=r"Expected input batch_size \(2\) to match target batch_size \(3\)"):
        F.cross_entropy(z(2, 3), [0, 1, 2])


def test_cross_entropy_bad_reduction_is_value_error() -> None:
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(z(2, 3), [0, 1], reduction="avg")


def test_mse_loss_shape_mismatch_is_value_error() -> None:
    # As PyTorch (issue 12): a target of another shape warns, then broadcasts or fails to
    with pytest.warns(UserWarning, match=r"target size \(gradcore.Size\(\[3, 2\]\)\).*input size \(gradcore.Size\(\[2, 3\]\)\)"):
        with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
            F.mse_loss(z(2, 3), z(3, 2))
    with pytest.warns(UserWarning, match="broadcasting"):
        assert F.mse_loss(z(2, 3), z(3)).shape == ()  # broadcastable: computed, with the warning


# ---- backend ------------------------------------------------------------------------------

@pytest.mark.parametrize("level", ["sse2", "neon", "AVX2x", ""])
def test_set_isa_unknown_level_is_value_error(level: str) -> None:
    before = gc.backend_info()["isa"]
    with pytest.raises(ValueError, match="ISA"):
        gc._core._set_isa(level)
    assert gc.backend_info()["isa"] == before


def test_set_isa_unsupported_level_is_value_error() -> None:
    supported = gc.backend_info()["supported_isas"]
    unsupported = [lv for lv in ("generic", "avx2", "avx512") if lv not in supported]
    before = gc.backend_info()["isa"]
    if unsupported:
        with pytest.raises(ValueError):
            gc._core._set_isa(unsupported[0])
    else:  # every level exists here: each can be selected, and an unknown one cannot
        for level in supported:
            gc._core._set_isa(level)
            assert gc.backend_info()["isa"] == level
        with pytest.raises(ValueError):
            gc._core._set_isa("avx1024")
    gc._core._set_isa(before)
    assert gc.backend_info()["isa"] == before


def test_set_num_threads_below_one_is_value_error() -> None:
    before = gc.get_num_threads()
    with pytest.raises(ValueError, match=">= 1"):
        gc.set_num_threads(0)
    assert gc.get_num_threads() == before

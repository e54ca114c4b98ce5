"""The object collectives' wire format (gradcore/distributed/_codec.py): every supported
value round-trips exactly, with its type; anything else raises TypeError (no pickle)."""
import math

import numpy as np
import pytest

import gradcore as gc
from gradcore.distributed._codec import decode, encode


@pytest.mark.parametrize("obj", [
    None, True, False, 0, -7, 2 ** 100, -(2 ** 70), 1.5, -0.0, math.inf, 3 - 4j, "", "héllo \udcff", b"\x00ab",
    bytearray(b"xy"), [], [1, [2, (3, "x")]], (), (None,), {"a": 1, 2: [3.0], (1, 2): {"n": None}}, {1, 2}, frozenset({"a"}),
    np.arange(6, dtype=np.int16).reshape(2, 3), np.float32(2.5), np.array(True), np.zeros((0, 3)),
])
def test_values_round_trip_with_their_types(obj):
    back = decode(encode(obj))
    assert type(back) is type(obj)
    if isinstance(obj, np.ndarray):
        assert back.dtype == obj.dtype and back.shape == obj.shape
        np.testing.assert_array_equal(back, obj)
    elif isinstance(obj, float) and math.copysign(1, obj) < 0:
        assert math.copysign(1, back) < 0
    else:
        assert back == obj


@pytest.mark.parametrize("dtype", [gc.float32, gc.float64, gc.bfloat16, gc.float16, gc.int64, gc.bool, gc.uint8])
def test_tensors_round_trip(dtype):
    t = (gc.arange(12.) - 3).reshape(3, 4).to(dtype)
    back = decode(encode({"w": t, "g": gc.ones(2, requires_grad=True)}))
    assert back["w"].dtype == dtype and back["w"].shape == t.shape
    assert back["w"].float().tolist() == t.float().tolist()
    assert back["g"].requires_grad and not back["w"].requires_grad


class Custom:
    pass


@pytest.mark.parametrize("obj", [Custom(), [1, Custom()], np.array([object()], dtype=object), lambda: 0])
def test_other_objects_raise_type_error(obj):
    with pytest.raises(TypeError, match="object collectives carry"):
        encode(obj)


def test_corrupt_messages_raise_value_error():
    with pytest.raises(ValueError, match="trailing"):
        decode(encode(1) + b"x")
    with pytest.raises(ValueError, match="unknown tag"):
        decode(b"?")

"""Bad input raises a clear exception of PyTorch's type, never a crash or a hang.

Every case runs for torch and for gradcore (the same source with ``torch`` renamed) in one
subprocess, so a segfault or abort shows up as a failed run instead of killing pytest; the
exception gradcore raises must be an instance of the type torch raises.
"""
from __future__ import annotations

import json
import subprocess
import sys
from typing import Dict, List

import pytest

pytest.importorskip("torch")

# name -> one statement on torch (x: float (2, 3), v: float (3,), i: int64 (3,) are defined).
CASES: Dict[str, str] = {
    "int_out_of_range": "x[2]",
    "neg_int_out_of_range": "x[-3]",
    "second_dim_out_of_range": "x[0, 3]",
    "list_out_of_range": "x[[0, 2]]",
    "tensor_out_of_range": "x[torch.tensor([0, -3])]",
    "setitem_out_of_range": "x[5] = 1.0",
    "setitem_list_out_of_range": "x[:, [0, 3]] = 1.0",
    "too_many_indices": "x[0, 0, 0]",
    "negative_step": "x[::-1]",
    "zero_step": "x[::0]",
    "float_index": "x[1.5]",
    "float_tensor_index": "x[torch.tensor([0.0])]",
    "int16_index_tensor": "x[torch.tensor([0], dtype=torch.int16)]",
    "string_index": "x['a']",
    "mask_wrong_shape": "x[torch.ones(3, 2, dtype=torch.bool)]",
    "mask_wrong_size": "x[torch.tensor([True, False, True])]",
    "mask_wrong_size_dim1": "x[:, torch.tensor([True, False])]",
    "setitem_mask_wrong_size": "x[torch.tensor([True, False, True])] = 0.0",
    "setitem_value_not_broadcastable": "x[:, :2] = torch.zeros(3)",
    "setitem_mask_value_wrong_len": "x[x > 100] = torch.zeros(2)",
    "add_would_broadcast_self": "v.add_(x)",
    "mul_would_broadcast_self": "v.mul_(torch.ones(2, 3))",
    "copy_into_smaller": "v.copy_(x)",
    "inplace_on_expanded": "v.expand(2, 3).add_(1.0)",
    "copy_into_expanded": "v.expand(2, 3).copy_(x)",
    "view_non_viewable": "x.t().view(-1)",
    "view_wrong_numel": "x.view(4)",
    "reshape_two_minus_one": "x.reshape(-1, -1)",
    "int_inplace_float": "i.add_(1.5)",
    "int_iadd_float": "i += 1.5",
    "int_floordiv_zero": "i // 0",
    "int_mod_zero": "i % torch.zeros(3, dtype=torch.int64)",
    "int_requires_grad": "torch.tensor([1, 2], requires_grad=True)",
    "item_of_many": "x.item()",
    "expand_bad_size": "x.expand(3, 3)",
    "select_out_of_range": "x.select(1, 3)",
    "narrow_too_long": "x.narrow(1, 2, 2)",
    "unbroadcastable_index_arrays": "x[[0, 1], [0, 1, 2]]",
}
# Where torch quietly accepts nonsense, gradcore refuses it (a clear error beats a silent
# difference): the type gradcore raises.
STRICTER: Dict[str, str] = {
    "two_ellipses": "x[..., ...]",            # torch: the whole tensor
    "float_list_index": "x[[0.0, 1.0]]",      # torch: reads the floats as a key of two slices/ints
}
STRICTER_TYPE = "IndexError"
# gradcore raises a different type than torch today (reported; strict xfail).
KNOWN: Dict[str, str] = {}

RUNNER = r'''
import json, sys
import LIB as torch
x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
out = {}
for name, stmt in json.loads(sys.argv[1]).items():
    v = torch.tensor([1.0, 2.0, 3.0]); i = torch.tensor([1, 2, 3])
    try:
        exec(stmt)
        out[name] = None
    except Exception as e:
        out[name] = [t.__name__ for t in type(e).__mro__]
print(json.dumps(out))
'''


def run_all(lib: str) -> Dict[str, List[str]]:
    cases = dict(CASES, **STRICTER) if lib == "gradcore" else CASES
    proc = subprocess.run([sys.executable, "-c", RUNNER.replace("LIB", lib), json.dumps(cases)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{lib} crashed (rc {proc.returncode}):\n{proc.stderr[-2000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def outcomes() -> Dict[str, Dict[str, List[str]]]:
    return {"torch": run_all("torch"), "gradcore": run_all("gradcore")}


@pytest.mark.parametrize("case", [
    pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=KNOWN[c])) if c in KNOWN else c for c in CASES])
def test_bad_input_raises_torchs_type(case: str, outcomes: Dict[str, Dict[str, List[str]]]) -> None:
    want, got = outcomes["torch"][case], outcomes["gradcore"][case]
    assert want is not None, f"torch accepts {CASES[case]!r}: not a bad-input case"
    assert got is not None, f"gradcore accepts {CASES[case]!r}; torch raises {want[0]}"
    assert want[0] in got, f"{CASES[case]!r}: gradcore raises {got[0]}, torch {want[0]}"


@pytest.mark.parametrize("case", list(STRICTER))
def test_gradcore_refuses_what_torch_lets_through(case: str, outcomes: Dict[str, Dict[str, List[str]]]) -> None:
    got = outcomes["gradcore"][case]
    assert got is not None and STRICTER_TYPE in got, f"{STRICTER[case]!r}: {got}"

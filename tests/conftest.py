"""Shared fixtures for the gradcore test suite.

* ``isa``  -- runs a test once per kernel ISA the machine supports (generic, avx2, avx512, ...),
  switching the dispatch table with ``gc._core._set_isa`` and restoring the original level
  afterwards, so every optimised kernel is checked against the same oracles as its generic twin.
* ``rng``  -- a seeded NumPy generator, so failures are reproducible.
* ``tiny_fashion`` -- a folder of four small IDX files shaped like Fashion-MNIST's, for the
  example scripts' smoke tests (no Debian data package needed).
"""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

import gradcore as gc

SUPPORTED_ISAS = list(gc.backend_info()["supported_isas"])


@pytest.fixture(params=SUPPORTED_ISAS)
def isa(request: pytest.FixtureRequest):
    original = gc.backend_info()["isa"]
    gc._core._set_isa(request.param)
    try:
        assert gc.backend_info()["isa"] == request.param
        yield request.param
    finally:
        gc._core._set_isa(original)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240607)


@pytest.fixture
def restore_threads():
    """Restores gc.get_num_threads() after a test that changes it."""
    original = gc.get_num_threads()
    try:
        yield original
    finally:
        gc.set_num_threads(original)


def _idx_bytes(arr: np.ndarray) -> bytes:
    code = {np.dtype(np.uint8): 0x08}[arr.dtype]
    header = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return header + arr.tobytes()


@pytest.fixture
def tiny_fashion(tmp_path: Path) -> Path:
    """Four IDX files shaped like Fashion-MNIST's: 64 train and 32 test images of 28x28."""
    rng = np.random.default_rng(0)
    root = tmp_path / "fashion"
    root.mkdir()
    for split, n in (("train", 64), ("t10k", 32)):
        (root / f"{split}-images-idx3-ubyte.gz").write_bytes(
            gzip.compress(_idx_bytes(rng.integers(0, 256, (n, 28, 28)).astype(np.uint8))))
        (root / f"{split}-labels-idx1-ubyte.gz").write_bytes(
            gzip.compress(_idx_bytes(rng.integers(0, 10, n).astype(np.uint8))))
    return root

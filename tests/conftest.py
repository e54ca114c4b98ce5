"""Shared fixtures for the gradcore test suite.

* ``isa``  -- runs a test once per kernel ISA the machine supports (generic, avx2, avx512, ...),
  switching the dispatch table with ``gc._core._set_isa`` and restoring the original level
  afterwards, so every optimised kernel is checked against the same oracles as its generic twin.
* ``rng``  -- a seeded NumPy generator, so failures are reproducible.
"""
from __future__ import annotations

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

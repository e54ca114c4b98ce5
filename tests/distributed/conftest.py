"""Fixtures for the MPI scenario tests: ``mpi(script, n=2, ...)`` is ``_mpi.run_mpi`` writing
its scenario files to the test's ``tmp_path`` (see _mpi.py)."""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable

import pytest

from _mpi import run_mpi


@pytest.fixture
def mpi(tmp_path: Path) -> Callable[..., Any]:
    return functools.partial(run_mpi, tmp_path=tmp_path)

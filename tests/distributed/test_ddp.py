"""DistributedDataParallel on 2 and 3 ranks (scenarios/ddp.py): equal to one process on the
full batch (SGD with momentum, Adam), bitwise equal across ranks, no_sync, buffers,
find_unused_parameters, mismatched models, a rank-0 checkpoint."""
from pathlib import Path

import pytest

SCENARIOS = Path(__file__).parent / "scenarios"


@pytest.mark.parametrize("n", [2, 3])
def test_ddp_matches_one_process_on_the_full_batch(mpi, n, tmp_path):
    r = mpi(SCENARIOS / "ddp.py", n=n, args=[str(tmp_path)], timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(r.stdout.split("\n"))[-n:] == [f"OK rank {k}" for k in range(n)]

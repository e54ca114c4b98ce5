"""gradcore.distributed's collectives on 2 and 3 ranks (scenarios/collectives.py checks every
result against NumPy), timeouts naming the missing rank, and the DETAIL-mode mismatch check."""
import sys
from pathlib import Path

import pytest

SCENARIOS = Path(__file__).parent / "scenarios"


@pytest.mark.parametrize("n", [2, 3])
def test_every_collective_against_numpy(mpi, n):
    r = mpi(SCENARIOS / "collectives.py", n=n, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(r.stdout.split("\n"))[-n:] == [f"OK rank {k}" for k in range(n)]


def test_a_stalled_collective_names_the_ranks_that_did_not_arrive(mpi):
    r = mpi(SCENARIOS / "failures.py", n=3, args=["timeout"], timeout=60)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("TIMEOUT")]
    assert len(lines) == 2, r.stdout + r.stderr
    for ln in lines:
        assert "all_reduce(shapes=[[3]]" in ln and "collective #2" in ln and "ranks [2] did not arrive" in ln


def test_mismatched_collectives_raise_on_every_rank_in_detail_mode(mpi):
    r = mpi(SCENARIOS / "failures.py", n=2, args=["mismatch"], env={"GRADCORE_DISTRIBUTED_DEBUG": "DETAIL"},
            timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    for k in range(2):
        assert f"MISMATCH rank {k}: Detected mismatch between collectives on ranks" in r.stdout
        assert f"OK rank {k}" in r.stdout
    assert "TensorShape=[[3]]" in r.stdout and "TensorShape=[[4]]" in r.stdout


def test_not_initialised_and_bad_backend_raise_like_pytorch():
    pytest.importorskip("mpi4py")
    import gradcore as gc
    import gradcore.distributed as dist
    assert dist.is_available() and not dist.is_initialized()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        dist.all_reduce(gc.ones(2))
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        dist.get_rank()
    with pytest.raises(RuntimeError, match="only the MPI backend"):
        dist.init_process_group("nccl")
    assert dist.ReduceOp.SUM == 0 and repr(dist.ReduceOp.MAX) == "<RedOpType.MAX: 4>"
    assert dist.Backend("MPI") == dist.Backend.MPI == "mpi"


def test_a_torchrun_style_launch_raises_instead_of_training_alone(monkeypatch):
    pytest.importorskip("mpi4py")
    import gradcore.distributed as dist
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.delenv("OMPI_COMM_WORLD_SIZE", raising=False)
    with pytest.raises(ValueError, match="gradcore-run -n 2"):
        dist.init_process_group("gloo")
    assert not dist.is_initialized()
    assert "mpi4py.MPI" not in sys.modules  # raised before MPI started in this (pytest's) process

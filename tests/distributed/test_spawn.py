"""gradcore.multiprocessing.spawn: a torch.multiprocessing.spawn script (imports renamed) run
with plain python re-runs itself on N MPI ranks; fn gets each rank; code after spawn runs
once; a rank that raises fails the job and spawn raises in the original process."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from _mpi import mpiexec_or_skip, run_launcher

import gradcore.multiprocessing as gmp

SCRIPT = textwrap.dedent("""
    import os, sys
    import gradcore as gc
    import gradcore.distributed as dist
    import gradcore.multiprocessing as mp

    def worker(rank, world_size, out):
        os.environ["MASTER_ADDR"] = "localhost"
        os.environ["MASTER_PORT"] = "29500"
        dist.init_process_group("gloo", rank=rank, world_size=world_size)
        t = gc.tensor([float(rank + 1)])
        dist.all_reduce(t)
        if rank == int(os.environ.get("FAIL_RANK", "-1")):
            raise ValueError("boom on purpose")
        with open(f"{out}.{rank}", "w") as f:
            f.write(f"{dist.get_rank()} {dist.get_world_size()} {t.item()}")
        dist.destroy_process_group()

    if __name__ == "__main__":
        n = int(sys.argv[1])
        try:
            mp.spawn(worker, args=(n, sys.argv[2]), nprocs=n, join=True)
        except mp.ProcessRaisedException as e:
            print("spawn raised:", type(e).__name__)
            sys.exit(3)
        print("after spawn, once")
""")


@pytest.mark.parametrize("n", [2, 3])
def test_spawn_runs_fn_on_every_rank(tmp_path: Path, n: int) -> None:
    mpiexec_or_skip()
    script = tmp_path / "train_spawn.py"
    script.write_text(SCRIPT)
    out = tmp_path / "out"
    r = run_launcher([sys.executable, str(script), str(n), str(out)], timeout=90, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("after spawn, once") == 1
    total = n * (n + 1) / 2
    for rank in range(n):
        assert (tmp_path / f"out.{rank}").read_text() == f"{rank} {n} {total}"


def test_spawn_reports_a_failing_rank(tmp_path: Path) -> None:
    mpiexec_or_skip()
    script = tmp_path / "train_spawn.py"
    script.write_text(SCRIPT)
    r = run_launcher([sys.executable, str(script), "2", str(tmp_path / "out")], timeout=90, cwd=tmp_path,
                     env={"FAIL_RANK": "1"})
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert "spawn raised: ProcessRaisedException" in r.stdout
    assert "[rank 1] ValueError: boom on purpose" in r.stderr
    assert "after spawn" not in r.stdout


def test_spawn_argument_errors() -> None:
    with pytest.raises(ValueError, match="nprocs must be a positive integer"):
        gmp.spawn(print, nprocs=0)
    with pytest.raises(NotImplementedError, match="join=False"):
        gmp.spawn(print, nprocs=2, join=False)
    assert issubclass(gmp.ProcessRaisedException, gmp.ProcessException)
    assert gmp.Queue is not None and gmp.get_context is not None  # the stdlib's names, as torch's

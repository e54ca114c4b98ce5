"""examples/train_ddp.py: the same script trained data-parallel on gradcore (MPI, under
gradcore-run) and on PyTorch (gloo, under torchrun), from the same NumPy-drawn weights on
the same batches, ends with the same parameters within float tolerance."""
import socket
import sys
from pathlib import Path

import numpy as np
import pytest

from _mpi import run_launcher

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "train_ddp.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ddp_example_agrees_with_pytorch_ddp(mpi, tiny_fashion, tmp_path):
    args = ["--root", str(tiny_fashion), "--epochs", "2", "--batch-size", "8", "--numpy-init", "3",
            "--no-shuffle", "--lr", "0.05"]
    g = mpi(EXAMPLE, n=2, args=args + ["--out", str(tmp_path / "g.safetensors"), "--dump", str(tmp_path / "g.npz")],
            timeout=120)
    assert g.returncode == 0, g.stdout + g.stderr
    assert "epoch 2" in g.stdout and "checkpoint:" in g.stdout
    pytest.importorskip("torch")
    t = run_launcher([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr",
                      "127.0.0.1", "--master_port", str(_free_port()), str(EXAMPLE), "--framework", "torch"] + args
                     + ["--out", str(tmp_path / "t.safetensors"), "--dump", str(tmp_path / "t.npz")],
                     timeout=180, env={"GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"})
    assert t.returncode == 0, t.stdout + t.stderr
    ours, theirs = np.load(tmp_path / "g.npz"), np.load(tmp_path / "t.npz")
    assert sorted(ours.files) == sorted(theirs.files)
    for k in ours.files:
        np.testing.assert_allclose(ours[k], theirs[k], rtol=1e-4, atol=1e-5, err_msg=k)

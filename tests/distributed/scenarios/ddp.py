"""DistributedDataParallel against a single process training on the full batch (run by
tests/distributed/test_ddp.py under mpiexec -n 2 and -n 3). Argument: a directory for the
rank-0 checkpoint."""
import os
import sys

import numpy as np

import gradcore as gc
import gradcore.distributed as dist
import gradcore.nn as nn
from gradcore.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("mpi")
r, n = dist.get_rank(), dist.get_world_size()
PER_RANK, STEPS = 8, 4
rng = np.random.default_rng(0)
X = gc.from_numpy(rng.standard_normal((STEPS, n * PER_RANK, 6)).astype(np.float32))
Y = gc.from_numpy(rng.integers(0, 3, size=(STEPS, n * PER_RANK)))


def make(seed):
    gc.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))


def flat_params(m):
    return np.concatenate([p.detach().numpy().ravel() for p in m.parameters()])


def same_on_every_rank(a):
    everyone = [None] * n
    dist.all_gather_object(everyone, a.tobytes())
    return all(e == everyone[0] for e in everyone)


loss_fn = nn.CrossEntropyLoss()
for opt_name, view in [("sgd", True), ("adam", True), ("sgd", False)]:
    ref = make(0)
    model = make(0 if r == 0 else 100 + r)  # different on the other ranks: DDP broadcasts rank 0's
    ddp = DDP(model, gradient_as_bucket_view=view)
    assert same_on_every_rank(flat_params(model))
    np.testing.assert_array_equal(flat_params(model), flat_params(ref))
    opt_of = (lambda ps: gc.optim.SGD(ps, lr=0.1, momentum=0.9)) if opt_name == "sgd" else \
        (lambda ps: gc.optim.Adam(ps, lr=0.01))
    opt, ref_opt = opt_of(ddp.parameters()), opt_of(ref.parameters())
    for step in range(STEPS):
        mine = slice(r * PER_RANK, (r + 1) * PER_RANK)
        opt.zero_grad()
        loss_fn(ddp(X[step][mine]), Y[step][mine]).backward()
        if view:
            for p in model.parameters():
                base = [b.buffer for b in ddp.buckets if any(q is p for q in b.params)][0]
                assert base.data_ptr() <= p.grad.data_ptr() < base.data_ptr() + base.numel() * 4
        opt.step()
        ref_opt.zero_grad()
        loss_fn(ref(X[step]), Y[step]).backward()
        ref_opt.step()
    assert same_on_every_rank(flat_params(model)), "parameters differ between ranks"
    np.testing.assert_allclose(flat_params(model), flat_params(ref), rtol=2e-5, atol=2e-6)

# no_sync: two local micro-batches, then one synchronised backward = the average over ranks
ref, model = make(0), make(0 if r == 0 else 1 + r)
ddp = DDP(model)
half = PER_RANK // 2
mine = [slice(r * PER_RANK, r * PER_RANK + half), slice(r * PER_RANK + half, (r + 1) * PER_RANK)]
with ddp.no_sync():
    loss_fn(ddp(X[0][mine[0]]), Y[0][mine[0]]).backward()
local_only = [p.grad.clone() for p in model.parameters()]
loss_fn(ddp(X[0][mine[1]]), Y[0][mine[1]]).backward()
for k in range(n):  # the reference: every rank's two micro-batch losses, averaged over ranks
    for j in range(2):
        sl = slice(k * PER_RANK + j * half, k * PER_RANK + (j + 1) * half)
        (loss_fn(ref(X[0][sl]), Y[0][sl]) / n).backward()
for p, q in zip(model.parameters(), ref.parameters()):
    np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-6)
assert n == 1 or any(not np.allclose(a.numpy(), p.grad.numpy()) for a, p in zip(local_only, model.parameters()))

# buffers: rank 0's BatchNorm statistics are broadcast before each forward
gc.manual_seed(r)
bn_model = nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4))
ddp = DDP(bn_model)
bn = bn_model[1]
for step in range(2):
    before = [None] * n
    dist.all_gather_object(before, (bn.running_mean.numpy().copy(), bn.num_batches_tracked.item()))
    xb = X[step][r * PER_RANK:(r + 1) * PER_RANK]
    out = ddp(xb)
    out.sum().backward()
    h = bn_model[0](xb).detach().numpy()
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.9 * before[0][0] + 0.1 * h.mean(0), rtol=1e-5, atol=1e-6)
    assert bn.num_batches_tracked.item() == before[0][1] + 1
ddp.eval()
with gc.no_grad():  # no buffer broadcast outside grad mode (as PyTorch)
    bn.running_mean.fill_(float(r))
    ddp(X[0][:2])
assert bn.running_mean.tolist() == [float(r)] * 4

# find_unused_parameters: a branch the forward skips
class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(6, 3), nn.Linear(6, 3)

    def forward(self, x, use_b=False):
        return self.b(x) if use_b else self.a(x)


for view in (True, False):
    gc.manual_seed(0)
    ddp = DDP(Branchy(), find_unused_parameters=True, gradient_as_bucket_view=view)
    ddp(X[0][:4]).sum().backward()  # b unused on every rank: its grad stays None (as PyTorch)
    assert ddp.module.a.weight.grad is not None and ddp.module.b.weight.grad is None
    ddp.zero_grad()
    ddp(X[0][:4], use_b=(r == 0)).sum().backward()  # b used on rank 0 only: averaged everywhere
    g = ddp.module.b.weight.grad
    assert g is not None and same_on_every_rank(g.numpy())
    ref = Branchy()
    ref.load_state_dict(ddp.module.state_dict())
    ref.b(X[0][:4]).sum().backward()
    np.testing.assert_allclose(g.numpy(), ref.b.weight.grad.numpy() / n, rtol=1e-5, atol=1e-6)
gc.manual_seed(0)
ddp = DDP(Branchy())
ddp(X[0][:4]).sum().backward()
try:
    ddp(X[0][:4])
    raise AssertionError("unused parameters without find_unused_parameters must raise")
except RuntimeError as e:
    assert "Expected to have finished reduction" in str(e) and "b.weight" in str(e)

# different models on different ranks raise at construction, on every rank
try:
    DDP(nn.Linear(6, 4 + (r == n - 1)))
    raise AssertionError("mismatched models must raise")
except RuntimeError as e:
    assert "DDP expects same model across all ranks" in str(e), e

# a checkpoint written by rank 0 from ddp.module loads into a plain model
model = make(7 + r)
ddp = DDP(model)
loss_fn(ddp(X[1][:PER_RANK]), Y[1][:PER_RANK]).backward()
if r == 0:
    assert not any(k.startswith("module.") for k in ddp.module.state_dict())
    assert all(k.startswith("module.") for k in ddp.state_dict())
    gc.save(ddp.module.state_dict(), os.path.join(sys.argv[1], "ddp.safetensors"))
dist.barrier()
plain = make(3)
plain.load_state_dict(gc.load(os.path.join(sys.argv[1], "ddp.safetensors")))
np.testing.assert_array_equal(plain(X[2]).detach().numpy(), ddp(X[2]).detach().numpy())
dist.destroy_process_group()
print(f"OK rank {r}", flush=True)

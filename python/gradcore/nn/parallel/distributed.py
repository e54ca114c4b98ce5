"""``DistributedDataParallel`` (PyTorch's ``torch.nn.parallel.DistributedDataParallel``) on
``gradcore.distributed`` (MPI).

Note [DDP buckets]: the parameters that require grad are laid out, in reverse registration
order (roughly the order backward produces their gradients), in flat per-dtype buckets: the
first holds up to 1 MiB (so communication starts early), the others up to ``bucket_cap_mb``.
The layout depends only on the model, so every rank builds the same one and results are the
same from run to run. Each parameter has a post-accumulate-grad hook; when the last
gradient of a bucket has been accumulated, the bucket is divided by the world size and its
allreduce (SUM) is started, non-blocking, while backward goes on. Buckets are started in
index order on every rank (MPI needs the same collective order everywhere): a bucket that is
ready early waits for the ones before it. The last hook waits for every bucket, so
``optimizer.step()`` after ``backward()`` sees the averaged gradients. With
``gradient_as_bucket_view`` (the default here, as the issue asks; PyTorch's default is False)
each ``param.grad`` is a view into its bucket, assigned before the forward when it is None, so
backward accumulates straight into the buffer that is sent: no copy in or out.
"""
from __future__ import annotations

import contextlib
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

import gradcore as gc
from gradcore import distributed as dist
from gradcore.distributed._coll import PreparedAllReduce
from gradcore.nn.module import Module

__all__ = ["DistributedDataParallel"]

_FIRST_BUCKET_BYTES = 1 << 20


class _Bucket:
    def __init__(self, params: List[Any], dtype: Any) -> None:
        self.params = params
        n = sum(p.numel() for p in params)
        self.buffer = gc.zeros(n, dtype=dtype)
        self.views: List[Any] = []
        off = 0
        for p in params:
            self.views.append(self.buffer[off:off + p.numel()].view(p.shape))
            off += p.numel()
        self.pending = len(params)
        self.work: Optional[dist.Work] = None
        self.allreduce: Any = None


class DistributedDataParallel(Module):
    """Data-parallel training of ``module`` over a process group (Note [DDP buckets]):
    rank 0's parameters and buffers are broadcast at construction, gradients are averaged
    during backward, buffers are broadcast before each forward (``broadcast_buffers``)."""

    def __init__(self, module: Module, device_ids: Any = None, output_device: Any = None, dim: int = 0,
                 broadcast_buffers: Optional[bool] = True, init_sync: bool = True, process_group: Any = None,
                 bucket_cap_mb: Optional[float] = None, find_unused_parameters: bool = False,
                 check_reduction: bool = False, gradient_as_bucket_view: bool = True, static_graph: bool = False,
                 delay_all_reduce_named_params: Any = None, param_to_hook_all_reduce: Any = None,
                 mixed_precision: Any = None, device_mesh: Any = None,
                 skip_all_reduce_unused_params: bool = False) -> None:
        super().__init__()
        if device_ids is not None or output_device is not None:
            raise ValueError("DistributedDataParallel device_ids and output_device arguments only work with "
                             "single-device/multiple-device GPU modules or CPU modules, but got device_ids "
                             f"{device_ids}, output_device {output_device}, and module parameters "
                             "{device(type='cpu')}.")
        for name, value in (("mixed_precision", mixed_precision), ("device_mesh", device_mesh),
                            ("delay_all_reduce_named_params", delay_all_reduce_named_params),
                            ("param_to_hook_all_reduce", param_to_hook_all_reduce)):
            if value is not None:
                raise NotImplementedError(f"DistributedDataParallel({name}=...) is not supported by gradcore")
        self.module = module
        self.process_group = dist._pg._resolve(process_group)
        if self.process_group is dist.GroupMember.NON_GROUP_MEMBER:
            raise RuntimeError("DistributedDataParallel: this rank is not a member of process_group")
        self.dim = dim
        self.broadcast_buffers = True if broadcast_buffers is None else bool(broadcast_buffers)
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 1024 * 1024)
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter "
                               "that requires a gradient.")
        self._param_names = [n for n, _ in named]
        self._params = [p for _, p in named]
        self._verify_same_model(named)
        if init_sync:
            self._broadcast([p.detach() for p in self._params] + [b for _, b in module.named_buffers()])
        self._build_buckets()
        for b in self.buckets:
            b.allreduce = PreparedAllReduce(b.buffer, self.process_group)
        self._where: Dict[int, Tuple[int, int]] = {}
        for bi, b in enumerate(self.buckets):
            for k, p in enumerate(b.params):
                self._where[id(p)] = (bi, k)
        self._next_bucket = 0   # the buckets before it have their allreduce started
        self._finished = True   # no reduction of an iteration is half done
        self._ready: Set[int] = set()  # ids of this iteration's parameters marked ready
        self._unused: Set[int] = set()  # find_unused_parameters: ids not reached on this rank
        self._grad_was_none: Set[int] = set()  # ids whose .grad was None before the forward
        self._hooks = [p.register_post_accumulate_grad_hook(self._grad_ready) for p in self._params]

    # -- construction ---------------------------------------------------------------------

    def _verify_same_model(self, named: List[Tuple[str, Any]]) -> None:
        """One all_gather of every rank's (name, shape, dtype) list; a difference raises the
        same RuntimeError on every rank, naming the first one (instead of a hang later)."""
        pg = self.process_group
        mine = [(n, tuple(p.shape), str(p.dtype)) for n, p in named]
        everyone: List[Any] = [None] * pg.size()
        dist.all_gather_object(everyone, mine, group=pg)
        ref = everyone[0]
        for r, theirs in enumerate(everyone):
            if theirs == ref:
                continue
            gr = pg.ranks[r]
            if len(theirs) != len(ref):
                raise RuntimeError(f"DDP expects same model across all ranks, but Rank {gr} has {len(theirs)} params, "
                                   f"while rank {pg.ranks[0]} has inconsistent {len(ref)} params.")
            for (n0, s0, d0), (n1, s1, d1) in zip(ref, theirs):
                if (n0, s0, d0) != (n1, s1, d1):
                    raise RuntimeError(f"DDP expects same model across all ranks, but rank {gr} has parameter "
                                       f"{n1!r} of shape {list(s1)} and dtype {d1}, while rank {pg.ranks[0]} has "
                                       f"{n0!r} of shape {list(s0)} and dtype {d0} at the same position.")

    def _broadcast(self, tensors: List[Any]) -> None:
        works = [dist.broadcast(t, group_src=0, group=self.process_group, async_op=True) for t in tensors]
        for w in works:
            if w is not None:
                w.wait()

    def _build_buckets(self) -> None:
        self.buckets: List[_Bucket] = []
        groups: Dict[Any, List[Any]] = {}
        sizes: Dict[Any, int] = {}
        for p in reversed(self._params):
            nbytes = p.numel() * p.element_size()
            cap = _FIRST_BUCKET_BYTES if not self.buckets else self.bucket_bytes_cap
            cur = groups.get(p.dtype)
            if cur and sizes[p.dtype] + nbytes > cap:
                self.buckets.append(_Bucket(cur, p.dtype))
                cur = None
            if not cur:
                groups[p.dtype] = cur = []
                sizes[p.dtype] = 0
            cur.append(p)
            sizes[p.dtype] += nbytes
        for dtype, ps in groups.items():
            if ps:
                self.buckets.append(_Bucket(ps, dtype))

    # -- forward --------------------------------------------------------------------------

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        sync = gc.is_grad_enabled() and self.require_backward_grad_sync
        if not self._finished:
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a new one. This error "
                "indicates that your module has parameters that were not used in producing loss. You can enable "
                "unused parameter detection by passing the keyword argument `find_unused_parameters=True` to "
                "`gradcore.nn.parallel.DistributedDataParallel`, and by making sure all `forward` function outputs "
                "participate in calculating loss. Parameters that did not receive a gradient on this rank: "
                + ", ".join(n for n, p in zip(self._param_names, self._params) if id(p) not in self._ready))
        self.require_forward_param_sync = sync
        if sync and self.broadcast_buffers:
            bufs = [b for _, b in self.module.named_buffers()]
            if bufs:
                self._broadcast(bufs)
        if sync:
            self._prepare_iteration()
        out = self.module(*inputs, **kwargs)
        if sync and self.find_unused_parameters:
            self._mark_unused(out)
        return out

    def _prepare_iteration(self) -> None:
        self._next_bucket = 0
        self._ready = set()
        self._unused = set()
        self._grad_was_none = {id(p) for p in self._params if p.grad is None}
        for b in self.buckets:
            b.pending = len(b.params)
            b.work = None
            if not self.gradient_as_bucket_view:
                continue
            for p, v in zip(b.params, b.views):
                if p.grad is None:
                    v.zero_()
                    p.grad = v
                elif p.grad.data_ptr() != v.data_ptr():
                    v.copy_(p.grad)
                    p.grad = v

    def _mark_unused(self, out: Any) -> None:
        """find_unused_parameters: the parameters the autograd graph of `out` does not reach
        are ready now (their bucket slot holds zeros or what no_sync accumulated)."""
        reached: Set[int] = set()
        stack = [t.grad_fn for t in _tensors(out) if t.grad_fn is not None]
        seen: Set[int] = set()
        while stack:
            fn = stack.pop()
            if fn is None or id(fn) in seen:
                continue
            seen.add(id(fn))
            var = getattr(fn, "variable", None)
            if var is not None:
                reached.add(id(var))
            stack.extend(f for f, _ in fn.next_functions if f is not None)
        for t in _tensors(out):
            if t.grad_fn is None and t.requires_grad:
                reached.add(id(t))
        for p in self._params:
            if id(p) not in reached:
                self._unused.add(id(p))
                bi, k = self._where[id(p)]
                b = self.buckets[bi]
                if p.grad is None or p.grad.data_ptr() != b.views[k].data_ptr():
                    if p.grad is None:
                        b.views[k].zero_()
                    else:
                        b.views[k].copy_(p.grad)
                self._mark_ready(p)

    # -- backward -------------------------------------------------------------------------

    def _grad_ready(self, p: Any) -> None:
        if not self.require_backward_grad_sync or not self.require_forward_param_sync:
            return
        bi, k = self._where[id(p)]
        b = self.buckets[bi]
        v = b.views[k]
        if p.grad.data_ptr() != v.data_ptr():
            v.copy_(p.grad)
            if self.gradient_as_bucket_view:
                p.grad = v
        self._mark_ready(p)

    def _mark_ready(self, p: Any) -> None:
        if id(p) in self._ready:
            raise RuntimeError(
                "Expected to mark a variable ready only once. This error is caused by one of the following reasons: "
                "1) Use of a module parameter outside the `forward` function, or the parameter is used in several "
                "backward passes of one iteration; 2) Reused parameters in multiple reentrant backward passes. "
                f"Parameter: {self._param_names[self._params.index(p)]}")
        self._finished = False
        self._ready.add(id(p))
        bi, _ = self._where[id(p)]
        self.buckets[bi].pending -= 1
        world = self.process_group.size()
        while self._next_bucket < len(self.buckets) and self.buckets[self._next_bucket].pending == 0:
            b = self.buckets[self._next_bucket]
            if world > 1:
                b.buffer.div_(world)
            b.work = b.allreduce.start()
            self._next_bucket += 1
        for b in self.buckets[:self._next_bucket]:
            if b.work is not None:
                b.work.is_completed()  # lets MPI progress the transfers in flight
        if self._next_bucket == len(self.buckets):
            self._finalize()

    def _finalize(self) -> None:
        for b in self.buckets:
            if b.work is not None:
                b.work.wait()
        unused_everywhere: Set[int] = set()
        if self.find_unused_parameters:
            # As PyTorch: a parameter no rank used keeps its .grad as it was (None stays None);
            # one used on some ranks gets the average like the others.
            used = gc.tensor([0 if id(p) in self._unused else 1 for p in self._params], dtype=gc.int32)
            dist.all_reduce(used, group=self.process_group)
            unused_everywhere = {id(p) for p, u in zip(self._params, used.tolist()) if u == 0}
        for b in self.buckets:
            for p, v in zip(b.params, b.views):
                if id(p) in unused_everywhere and id(p) in self._grad_was_none:
                    p.grad = None
                elif self.gradient_as_bucket_view:
                    continue
                elif p.grad is None:
                    p.grad = v.clone()
                else:
                    p.grad.copy_(v)
        self._finished = True

    # -- public helpers -------------------------------------------------------------------

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Inside, backward accumulates gradients locally; the first backward after it
        averages the accumulated gradients."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def will_sync_module_buffers(self) -> bool:
        return self.require_forward_param_sync and self.broadcast_buffers and \
            any(True for _ in self.module.named_buffers())

    def register_comm_hook(self, state: Any, hook: Any) -> None:
        raise NotImplementedError("DistributedDataParallel.register_comm_hook is not supported by gradcore: "
                                  "gradients are averaged by an allreduce per bucket")

    def join(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("DistributedDataParallel.join (uneven inputs) is not supported by gradcore")

    def extra_repr(self) -> str:
        return ""


def _tensors(out: Any) -> List[Any]:
    if isinstance(out, gc.Tensor):
        return [out]
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _tensors(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _tensors(o)]
    return []

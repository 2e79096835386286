"""``DistributedDataParallel``: average gradients across the ranks of the MPI process group.

At construction every rank checks that it holds the same parameter and buffer shapes, then
copies rank 0's values (one broadcast per dtype). Gradients are reduced in buckets of about
``bucket_cap_mb`` MB: the parameters, in reverse registration order (roughly the order backward
produces their gradients), are cut into buckets; each gets one flat buffer and one
``Iallreduce``. A post-accumulate-grad hook on every parameter counts its bucket down and
launches buckets strictly in bucket order (so every rank issues the same collectives in the same
order, and the sums are deterministic); a callback queued on the autograd engine runs when the
backward pass has finished, launches the buckets still waiting (those holding parameters that
got no gradient), waits for all of them and writes the averages back into ``.grad``.

Each bucket also carries one slot per parameter saying whether this rank had a gradient for it:
a parameter that got no gradient on any rank keeps ``.grad`` as it was (None), one that got a
gradient on some ranks gets the average with zeros from the others.
"""
from __future__ import annotations

import contextlib

import numpy as np

from ..._tensor import _make
from ...autograd.engine import queue_callback
from ...autograd.grad_mode import is_grad_enabled
from ...backend import backend_of_array
from ...distributed import _state
from ...distributed.collectives import check_same
from ..modules.module import Module

__all__ = ["DistributedDataParallel"]

_DEFAULT_BUCKET_MB = 25.0


class _Bucket:
    __slots__ = ("index", "params", "offsets", "numels", "buf", "pending", "req")

    def __init__(self, index, params, dtype):
        self.index = index
        self.params = params  # indices into DDP._params
        self.offsets, self.numels = [], []
        self.buf = None
        self.pending = 0
        self.req = None


class DistributedDataParallel(Module):
    """Data-parallel wrapper: each rank runs ``module`` on its own shard of the batch, and
    after ``backward()`` every rank holds the gradients averaged over all ranks.

    >>> import cadenza as torch, cadenza.distributed as dist        # doctest: +SKIP
    >>> dist.init_process_group("mpi")                               # doctest: +SKIP
    >>> ddp = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 2))  # doctest: +SKIP
    >>> ddp(torch.randn(8, 4)).sum().backward()  # grads averaged    # doctest: +SKIP
    >>> list(ddp.state_dict())                                       # doctest: +SKIP
    ['module.weight', 'module.bias']
    """

    def __init__(self, module, device_ids=None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool = True, process_group=None, bucket_cap_mb=None,
                 find_unused_parameters: bool = False, check_reduction: bool = False,
                 gradient_as_bucket_view: bool = False, static_graph: bool = False, **kwargs):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected module to be an nn.Module, got "
                            f"{type(module).__name__}")
        g = _state.group("DistributedDataParallel")
        if process_group is not None and process_group is not _state.WORLD:
            raise NotImplementedError("DistributedDataParallel: expected process_group=None "
                                      "(the world group); sub-groups are not supported yet")
        if bucket_cap_mb is None:
            bucket_cap_mb = _DEFAULT_BUCKET_MB
        if not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: expected bucket_cap_mb > 0, got "
                             f"{bucket_cap_mb}")
        self.module = module
        self.device_ids = device_ids
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.bucket_bytes_cap = int(bucket_cap_mb * 1024 * 1024)
        self.require_backward_grad_sync = True
        self._group = g
        self._params = [p for p in module.parameters() if p.requires_grad]
        self._verify_same_structure()
        self._sync_module_states()
        self._build_buckets()
        self._armed = False
        self._queued = False
        self._next = 0
        self._marked = [False] * len(self._params)
        self._handles = [p.register_post_accumulate_grad_hook(self._hook(i))
                         for i, p in enumerate(self._params)]

    # ------------------------------------------------------------------ construction
    def _verify_same_structure(self):
        params = [(n, tuple(p.shape), p.dtype.name if hasattr(p.dtype, "name") else p.dtype)
                  for n, p in self.module.named_parameters()]
        bufs = [(n, tuple(b.shape)) for n, b in self.module.named_buffers()]
        desc = {"parameters": len(params), "buffers": len(bufs),
                "shapes": tuple(params) + tuple(bufs)}
        check_same(self._group, "DistributedDataParallel", desc)

    def _sync_module_states(self):
        """Copy rank 0's parameters and buffers to every rank (one broadcast per dtype)."""
        tensors = [p for p in self.module.parameters()] + \
            [b for b in self.module.buffers()]
        self._broadcast_coalesced(tensors, "DistributedDataParallel: broadcast of rank 0's "
                                           "parameters and buffers")

    def _broadcast_coalesced(self, tensors, what):
        g = self._group
        if g.size == 1 or not tensors:
            return
        by_dtype = {}
        for t in tensors:
            by_dtype.setdefault(t._data.dtype.str, []).append(t)
        for ts in by_dtype.values():
            host = [np.ascontiguousarray(t._host()) for t in ts]
            flat = np.concatenate([h.reshape(-1).view(np.uint8) for h in host])
            g.seq += 1
            g.wait(g.comm.Ibcast(flat, root=0), f"{what} (call #{g.seq})")
            if g.rank == 0:
                continue
            off = 0
            for t, h in zip(ts, host):
                n = h.nbytes
                val = flat[off:off + n].view(h.dtype).reshape(h.shape)
                if type(t._data) is np.ndarray:
                    t._data[...] = val
                else:
                    t._data[...] = backend_of_array(t._data).xp.asarray(val)
                t._vc[0] += 1
                off += n

    def _build_buckets(self):
        """Cut the parameters, in reverse order, into buckets of at most bucket_bytes_cap."""
        buckets, cur, cur_bytes, cur_dt = [], [], 0, None
        for i in reversed(range(len(self._params))):
            p = self._params[i]
            dt = np.dtype(np.float32) if p._data.dtype.itemsize < 4 else p._data.dtype
            nbytes = p.numel() * dt.itemsize
            if cur and (dt != cur_dt or cur_bytes + nbytes > self.bucket_bytes_cap):
                buckets.append((cur, cur_dt))
                cur, cur_bytes = [], 0
            cur.append(i)
            cur_bytes += nbytes
            cur_dt = dt
        if cur:
            buckets.append((cur, cur_dt))
        self._buckets = []
        self._bucket_of = [0] * len(self._params)
        for bi, (idx, dt) in enumerate(buckets):
            b = _Bucket(bi, idx, dt)
            off = 0
            for i in idx:
                n = self._params[i].numel()
                b.offsets.append(off)
                b.numels.append(n)
                off += n
                self._bucket_of[i] = bi
            # the flat gradients, then one "this rank had a gradient" slot per parameter
            b.buf = np.empty(off + len(idx), dtype=dt)
            b.pending = len(idx)
            self._buckets.append(b)

    # ------------------------------------------------------------------ forward and sync
    def forward(self, *inputs, **kwargs):
        if self.broadcast_buffers and self._group.size > 1:
            bufs = list(self.module.buffers())
            if bufs:
                self._broadcast_coalesced(bufs, "DistributedDataParallel: broadcast of rank 0's "
                                                "buffers")
        if is_grad_enabled() and self.require_backward_grad_sync and self._params and \
                self._group.size > 1:  # one rank: its gradients are already the average
            self._reset()
            self._armed = True
        return self.module(*inputs, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Skip the gradient all-reduce inside the block: gradients accumulate locally, and the
        first backward after the block averages the accumulated gradients.

        >>> with ddp.no_sync():                                       # doctest: +SKIP
        ...     ddp(x1).sum().backward()   # local accumulation only
        >>> ddp(x2).sum().backward()       # all-reduce of x1 + x2 gradients
        """
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def _reset(self):
        self._queued = False
        self._next = 0
        self._marked = [False] * len(self._params)
        for b in self._buckets:
            b.pending = len(b.params)
            b.req = None

    def _hook(self, i):
        def hook(_param):
            if not self._armed or self._marked[i]:
                return
            if not self._queued:
                queue_callback(self._finish)
                self._queued = True
            self._marked[i] = True
            self._buckets[self._bucket_of[i]].pending -= 1
            bs = self._buckets
            while self._next < len(bs) and bs[self._next].pending == 0:
                self._launch(bs[self._next])
                self._next += 1
        return hook

    def _launch(self, b):
        """Flatten the bucket's gradients (zeros where a parameter has none) and start its
        all-reduce."""
        buf = b.buf
        n_grad = buf.size - len(b.params)
        for k, (i, off, n) in enumerate(zip(b.params, b.offsets, b.numels)):
            grad = self._params[i].grad
            if grad is None:
                buf[off:off + n] = 0
                buf[n_grad + k] = 0
            else:
                buf[off:off + n] = grad._host().reshape(-1)
                buf[n_grad + k] = 1
        g = self._group
        g.seq += 1
        b.req = g.comm.Iallreduce(g.MPI.IN_PLACE, buf, op=g.MPI.SUM)

    def _finish(self):
        """After backward: launch the buckets left, wait for all, write the averages."""
        if not self._armed:
            return
        self._armed = False
        bs, g = self._buckets, self._group
        while self._next < len(bs):
            self._launch(bs[self._next])
            self._next += 1
        scale = 1.0 / g.size
        for b in bs:
            g.wait(b.req, f"DistributedDataParallel gradient all_reduce (bucket {b.index} of "
                          f"{len(bs)}, call #{g.seq})")
            b.req = None
            buf = b.buf
            n_grad = buf.size - len(b.params)
            for k, (i, off, n) in enumerate(zip(b.params, b.offsets, b.numels)):
                if buf[n_grad + k] == 0:
                    continue  # no rank had a gradient for it: leave .grad as it is
                p = self._params[i]
                avg = buf[off:off + n] * buf.dtype.type(scale)
                avg = avg.reshape(p._data.shape).astype(p._data.dtype, copy=False)
                if p.grad is None:
                    p.grad = _make(avg if type(p._data) is np.ndarray else
                                   _to_device(avg, p._data))
                elif type(p.grad._data) is np.ndarray:
                    p.grad._data[...] = avg
                    p.grad._vc[0] += 1
                else:
                    p.grad._data[...] = _to_device(avg, p.grad._data)
                    p.grad._vc[0] += 1
        self._reset()


def _to_device(arr, like):
    return backend_of_array(like).xp.asarray(arr)

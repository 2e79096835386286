"""Collectives with ``torch.distributed``'s names and signatures, over MPI.

Each collective first checks, with one small allgather of fixed-size metadata (collective, op,
root, dtype, shape hash, element count), that every rank called the same collective with the
same shape and dtype; on a mismatch every rank raises a ValueError naming the ranks that differ.
Tensors are updated in place, as in PyTorch.

>>> import cadenza, cadenza.distributed as dist       # doctest: +SKIP
>>> dist.init_process_group("mpi")                     # doctest: +SKIP
>>> t = cadenza.ones(3) * (dist.get_rank() + 1)        # doctest: +SKIP
>>> dist.all_reduce(t, op=dist.ReduceOp.SUM)           # doctest: +SKIP
"""
from __future__ import annotations

import pickle
import zlib

import numpy as np

from .._tensor import Tensor
from ..backend import backend_of_array
from . import _state
from ._group import DistError, RankLeftError


class ReduceOp:
    """Reduction operators: ``ReduceOp.SUM``, ``AVG``, ``PRODUCT``, ``MIN``, ``MAX``, ``BAND``,
    ``BOR``, ``BXOR``."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"<ReduceOp.{self.name}>"


for _i, _n in enumerate(("SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR")):
    _op = ReduceOp(_n)
    _op.code = _i
    setattr(ReduceOp, _n, _op)
_OPS = {n: getattr(ReduceOp, n) for n in ("SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR",
                                          "BXOR")}
_COLL = {n: i for i, n in enumerate(
    ("all_reduce", "broadcast", "all_gather", "all_gather_into_tensor", "reduce_scatter",
     "reduce_scatter_tensor", "barrier", "all_gather_object", "broadcast_object_list",
     "destroy_process_group", "DistributedDataParallel"))}


class Work:
    """What ``async_op=True`` returns: ``wait()`` completes the collective."""

    def __init__(self, group, reqs, name, finish=None):
        self._group, self._reqs, self._name, self._finish = group, reqs, name, finish
        self._done = not reqs

    def wait(self, timeout=None) -> bool:
        if not self._done:
            self._group.wait(self._reqs, self._name)
            self._done = True
            if self._finish is not None:
                self._finish()
        return True

    def is_completed(self) -> bool:
        if not self._done and self._group.MPI.Request.Testall(self._reqs):
            self.wait()
        return self._done

    def is_success(self) -> bool:
        return self._done


# ---------------------------------------------------------------------- helpers
def _op(op) -> ReduceOp:
    if isinstance(op, ReduceOp):
        return op
    if isinstance(op, str) and op.upper() in _OPS:
        return _OPS[op.upper()]
    raise ValueError(f"cadenza.distributed: expected a ReduceOp (SUM, AVG, PRODUCT, MIN, MAX, "
                     f"BAND, BOR, BXOR), got {op!r}")


def _check_group(group, name):
    if group is not None and group is not _state.WORLD:
        raise NotImplementedError(f"{name}: expected group=None (the world group); sub-groups "
                                  "are not supported yet")
    return _state.group(name)


def _tensor_array(t, name, what="tensor"):
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: expected {what} to be a Tensor, got {type(t).__name__}")
    return t


class _Buf:
    """A contiguous host (NumPy) array for a Tensor, written back in place afterwards."""

    def __init__(self, t, reduce_op=None):
        self.t = t
        a = t._data
        host = a if type(a) is np.ndarray else t._host()
        self.orig_dtype = host.dtype
        self.cast = reduce_op is not None and (host.dtype.name in ("bfloat16", "float16"))
        if self.cast:
            host = host.astype(np.float32)  # MPI has no 16-bit float type: reduce in float32
        elif host.dtype == np.bool_ and reduce_op is not None:
            host = host.view(np.uint8)
        self.copied = self.cast or not host.flags["C_CONTIGUOUS"] or host is not a
        self.arr = np.ascontiguousarray(host) if not self.cast else host

    def write_back(self):
        t = self.t
        arr = self.arr
        if self.cast:
            arr = arr.astype(self.orig_dtype)
        if self.copied:
            if type(t._data) is np.ndarray:
                t._data[...] = arr.view(t._data.dtype) if arr.dtype != t._data.dtype and \
                    arr.dtype.itemsize == t._data.dtype.itemsize else arr
            else:
                t._data[...] = backend_of_array(t._data).xp.asarray(arr)
        t._vc[0] += 1


def _bytes(a):
    """A byte view of a contiguous array (for collectives that move data unchanged)."""
    return a.reshape(-1).view(np.uint8)


def _mpi_op(MPI, op: ReduceOp, buf):
    n = op.name
    if buf.orig_dtype == np.bool_:  # reduce bools as bytes holding 0/1: sum/max = or, min = and
        return MPI.BOR if n in ("SUM", "MAX", "BOR", "BXOR") else MPI.BAND
    if n in ("SUM", "AVG"):
        return MPI.SUM
    return {"PRODUCT": MPI.PROD, "MIN": MPI.MIN, "MAX": MPI.MAX, "BAND": MPI.BAND,
            "BOR": MPI.BOR, "BXOR": MPI.BXOR}[n]


def check_same(g, name: str, desc: dict, *, op=None, src=-1, check=True):
    """One small allgather of metadata; raise on every rank, naming the ranks that differ."""
    g.seq += 1
    label = f"{name} (call #{g.seq})"
    if not check or g.size == 1:
        return label
    shape_key = repr(desc.get("shapes"))
    meta = np.array([_COLL.get(name, 99), -1 if op is None else op.code, src,
                     zlib.crc32(shape_key.encode()), zlib.crc32(str(desc.get("dtype")).encode()),
                     desc.get("numel", 0)], dtype=np.int64)
    out = np.empty((g.size, meta.size), dtype=np.int64)
    g.wait(g.comm.Iallgather(meta, out), label)
    if (out == out[0]).all():
        return label
    # The slow path, only on error: gather each rank's readable description.
    mine = f"{name}(" + ", ".join(f"{k}={v}" for k, v in desc.items() if k != "numel")
    mine += (f", op={op.name}" if op is not None else "") + (f", src={src}" if src >= 0 else "")
    descs = _allgather_bytes(g, pickle.dumps(mine + ")"), label)
    groups = {}
    for r, d in enumerate(descs):
        groups.setdefault(pickle.loads(d), []).append(r)
    lines = [f"  rank{'s' if len(rs) > 1 else ''} {', '.join(map(str, rs))}: {d}"
             for d, rs in groups.items()]
    leaving = groups.get("destroy_process_group()")
    if leaving:   # a rank is leaving (exiting early, or destroy_process_group) mid-training
        others = [d for d in groups if d != "destroy_process_group()"]
        raise RankLeftError(
            f"cadenza.distributed: rank{'s' if len(leaving) > 1 else ''} "
            f"{', '.join(map(str, leaving))} left the process group (exited, or called "
            f"destroy_process_group) while other ranks wait in {', '.join(others)}; "
            f"every rank stops:\n" + "\n".join(lines))
    raise ValueError(f"cadenza.distributed.{name}: expected every rank to call the same "
                     f"collective with the same shape and dtype, but ranks differ:\n"
                     + "\n".join(lines))


def _allgather_bytes(g, data: bytes, label: str):
    n = np.array([len(data)], dtype=np.int64)
    lens = np.empty(g.size, dtype=np.int64)
    g.wait(g.comm.Iallgather(n, lens), label)
    out = np.empty(int(lens.sum()), dtype=np.uint8)
    displs = np.concatenate([[0], np.cumsum(lens)[:-1]])
    send = np.frombuffer(data, dtype=np.uint8)
    g.wait(g.comm.Iallgatherv(send, [out, lens, displs, g.MPI.BYTE]), label)
    return [out[d:d + n].tobytes() for d, n in zip(displs, lens)]


def _desc(t):
    return {"shapes": tuple(t.shape), "dtype": t.dtype, "numel": t.numel()}


def _finish(work, async_op):
    if async_op:
        return work
    work.wait()
    return None


# ---------------------------------------------------------------------- collectives
def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` across ranks, in place; every rank gets the result.

    >>> dist.all_reduce(t, op=dist.ReduceOp.AVG)          # doctest: +SKIP
    """
    g = _check_group(group, "all_reduce")
    _tensor_array(tensor, "all_reduce")
    op = _op(op)
    if op.name == "AVG" and not tensor.is_floating_point():
        raise TypeError(f"all_reduce: expected a floating-point tensor for ReduceOp.AVG, got "
                        f"{tensor.dtype}")
    label = check_same(g, "all_reduce", _desc(tensor), op=op)
    buf = _Buf(tensor, reduce_op=op)
    req = g.comm.Iallreduce(g.MPI.IN_PLACE, buf.arr, op=_mpi_op(g.MPI, op, buf))

    def done():
        if op.name == "AVG":
            buf.arr /= g.size
        buf.write_back()
    return _finish(Work(g, [req], label, done), async_op)


def broadcast(tensor, src: int = 0, group=None, async_op=False, group_src=None):
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every rank."""
    g = _check_group(group, "broadcast")
    _tensor_array(tensor, "broadcast")
    src = src if group_src is None else group_src
    if not 0 <= src < g.size:
        raise ValueError(f"broadcast: expected 0 <= src < {g.size}, got src={src}")
    label = check_same(g, "broadcast", _desc(tensor), src=src)
    buf = _Buf(tensor)
    req = g.comm.Ibcast(_bytes(buf.arr), root=src)
    return _finish(Work(g, [req], label, buf.write_back), async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """``tensor_list[r]`` becomes rank r's ``tensor``, on every rank."""
    g = _check_group(group, "all_gather")
    _tensor_array(tensor, "all_gather")
    if len(tensor_list) != g.size:
        raise ValueError(f"all_gather: expected len(tensor_list) == world size {g.size}, got "
                         f"{len(tensor_list)}")
    for i, o in enumerate(tensor_list):
        _tensor_array(o, "all_gather", f"tensor_list[{i}]")
        if tuple(o.shape) != tuple(tensor.shape) or o.dtype != tensor.dtype:
            raise ValueError(f"all_gather: expected tensor_list[{i}] of shape "
                             f"{tuple(tensor.shape)} and dtype {tensor.dtype}, got "
                             f"{tuple(o.shape)} {o.dtype}")
    label = check_same(g, "all_gather", _desc(tensor))
    send = _Buf(tensor).arr
    recv = np.empty((g.size,) + send.shape, dtype=send.dtype)
    req = g.comm.Iallgather(_bytes(send), _bytes(recv))

    def done():
        for r, o in enumerate(tensor_list):
            b = _Buf(o)
            b.arr = recv[r]
            b.copied = True
            b.write_back()
    return _finish(Work(g, [req], label, done), async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Concatenate every rank's ``input_tensor`` along dim 0 (or stack) into
    ``output_tensor`` of shape ``(world * n, ...)`` or ``(world, n, ...)``."""
    g = _check_group(group, "all_gather_into_tensor")
    _tensor_array(input_tensor, "all_gather_into_tensor", "input_tensor")
    _tensor_array(output_tensor, "all_gather_into_tensor", "output_tensor")
    if output_tensor.numel() != g.size * input_tensor.numel() or \
            output_tensor.dtype != input_tensor.dtype:
        raise ValueError(f"all_gather_into_tensor: expected output_tensor with world size "
                         f"{g.size} x {input_tensor.numel()} elements of {input_tensor.dtype}, "
                         f"got {tuple(output_tensor.shape)} {output_tensor.dtype}")
    label = check_same(g, "all_gather_into_tensor", _desc(input_tensor))
    send = _Buf(input_tensor).arr
    out = _Buf(output_tensor)
    req = g.comm.Iallgather(_bytes(send), _bytes(out.arr))
    return _finish(Work(g, [req], label, out.write_back), async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input_list[r]`` across ranks into ``output`` on rank r."""
    g = _check_group(group, "reduce_scatter")
    _tensor_array(output, "reduce_scatter", "output")
    op = _op(op)
    if len(input_list) != g.size:
        raise ValueError(f"reduce_scatter: expected len(input_list) == world size {g.size}, got "
                         f"{len(input_list)}")
    for i, t in enumerate(input_list):
        _tensor_array(t, "reduce_scatter", f"input_list[{i}]")
        if tuple(t.shape) != tuple(output.shape) or t.dtype != output.dtype:
            raise ValueError(f"reduce_scatter: expected input_list[{i}] of shape "
                             f"{tuple(output.shape)} and dtype {output.dtype}, got "
                             f"{tuple(t.shape)} {t.dtype}")
    label = check_same(g, "reduce_scatter", _desc(output), op=op)
    out = _Buf(output, reduce_op=op)
    send = np.stack([_Buf(t, reduce_op=op).arr for t in input_list])
    return _reduce_scatter(g, send, out, op, label, async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input`` (world x ``output``'s elements) across ranks; rank r keeps chunk r."""
    g = _check_group(group, "reduce_scatter_tensor")
    _tensor_array(output, "reduce_scatter_tensor", "output")
    _tensor_array(input, "reduce_scatter_tensor", "input")
    op = _op(op)
    if input.numel() != g.size * output.numel() or input.dtype != output.dtype:
        raise ValueError(f"reduce_scatter_tensor: expected input with world size {g.size} x "
                         f"{output.numel()} elements of {output.dtype}, got "
                         f"{tuple(input.shape)} {input.dtype}")
    label = check_same(g, "reduce_scatter_tensor", _desc(output), op=op)
    out = _Buf(output, reduce_op=op)
    return _reduce_scatter(g, _Buf(input, reduce_op=op).arr, out, op, label, async_op)


def _reduce_scatter(g, send, out, op, label, async_op):
    req = g.comm.Ireduce_scatter_block(send.reshape(-1), out.arr.reshape(-1),
                                       op=_mpi_op(g.MPI, op, out))

    def done():
        if op.name == "AVG":
            out.arr /= g.size
        out.copied = True
        out.write_back()
    return _finish(Work(g, [req], label, done), async_op)


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank has reached this call."""
    g = _check_group(group, "barrier")
    label = check_same(g, "barrier", {})
    return _finish(Work(g, [g.comm.Ibarrier()], label), async_op)


def all_gather_object(object_list, obj, group=None):
    """``object_list[r]`` becomes rank r's (picklable) ``obj``."""
    g = _check_group(group, "all_gather_object")
    if len(object_list) != g.size:
        raise ValueError(f"all_gather_object: expected len(object_list) == world size "
                         f"{g.size}, got {len(object_list)}")
    label = check_same(g, "all_gather_object", {})
    for r, d in enumerate(_allgather_bytes(g, pickle.dumps(obj), label)):
        object_list[r] = pickle.loads(d)


def broadcast_object_list(object_list, src: int = 0, group=None, device=None):
    """Replace ``object_list``'s items with rank ``src``'s (picklable) items."""
    g = _check_group(group, "broadcast_object_list")
    label = check_same(g, "broadcast_object_list", {"shapes": len(object_list)}, src=src)
    data = pickle.dumps(list(object_list)) if g.rank == src else b""
    n = np.array([len(data)], dtype=np.int64)
    g.wait(g.comm.Ibcast(n, root=src), label)
    buf = np.frombuffer(data, dtype=np.uint8).copy() if g.rank == src else \
        np.empty(int(n[0]), dtype=np.uint8)
    g.wait(g.comm.Ibcast(buf, root=src), label)
    if g.rank != src:
        object_list[:] = pickle.loads(buf.tobytes())


__all__ = ["ReduceOp", "Work", "DistError", "all_reduce", "broadcast", "all_gather",
           "all_gather_into_tensor", "reduce_scatter", "reduce_scatter_tensor", "barrier",
           "all_gather_object", "broadcast_object_list"]

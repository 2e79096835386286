"""In-place ops (``x.add_(y)``, ``x[i] = v``): computed out of place through the normal op
path, then written into x's own buffer (so views and ``.data`` aliases see the change), the
version counter bumped, and x re-based onto the new graph node when grad is recorded."""
from __future__ import annotations

import warnings

import numpy as np

from .._dispatch import state
from ..backend.cpu import FP_QUIET, fp_state
from ..backend.meta import MetaArray
from .._tensor_base import INFERENCE_INPLACE, InferenceVersion, TensorBase as Tensor, _make
from ..errors import ShapeError, DTypeError, fmt_shape, read_only_write_error
from .._creation import aten_name, full, tensor
from ._registry import apply, _batched, _vmap_depth
from .views import Clone
from ..autograd.node import replace_saved, saves
from ..autograd.views import bump, check_view_inplace, discard_history, positions, rebase, \
    view_grad_fn

__all__ = ["check_inplace", "commit_inplace", "make_inplace", "fill_", "zero_", "copy_",
           "expanded_target", "EXPANDED_WRITES"]




def check_inplace(self, op_name):
    if type(self._vc) is InferenceVersion and not state.inference:
        raise RuntimeError(INFERENCE_INPLACE)
    if not state.grad_enabled:
        return
    if self._requires_grad and self.grad_fn is None:
        raise RuntimeError(f"{op_name}: a leaf Variable that requires grad is being used in an "
                           "in-place operation. Wrap the update in `with cadenza.no_grad():` or "
                           "use an out-of-place op.")
    base = self._base
    if base is not None and base._requires_grad:
        check_view_inplace(self, op_name)
        view_grad_fn(self)    # a view made before its base gained a history now shares it


# in-place ops torch runs on an expanded (stride-0) tensor, writing through to the memory the
# elements share (its indexing and triangle kernels check no overlap; TensorIterator's do);
# the value: True where torch warns that this is deprecated
EXPANDED_WRITES = {"masked_fill_": True, "index_fill_": True, "index_put_": True,
                   "tril_": False, "triu_": False, "fill_diagonal_": False}


def expanded_target(t):
    """(base array, flat positions of ``t``'s elements in it) for an expanded view ``t`` of a
    writable base, or None."""
    base = t._base
    if base is None or type(t._data) is not np.ndarray or 0 not in t._data.strides or \
            type(base._data) is not np.ndarray or not base._data.flags.writeable:
        return None
    idx = positions(base._data, t._data)
    return None if idx is None else (base._data, idx)


def _write_expanded(self, src, name) -> bool:
    """Write ``src`` into the expanded view ``self`` as torch's ``name`` does: the elements
    whose value changes (bit for bit) are stored into the memory they share, in order, so the
    last write to a location wins. False when that is not possible (no writable base)."""
    target = expanded_target(self)
    if target is None:
        return False
    base, idx = target
    if EXPANDED_WRITES[name]:
        warnings.warn(f"Use of {name} on expanded tensors is deprecated. Please clone() the "
                      "tensor before performing this operation.", UserWarning, stacklevel=4)
    cur = self._data
    new = np.asarray(src).astype(cur.dtype, copy=False)
    shape = cur.shape + (cur.itemsize,)
    changed = (np.ascontiguousarray(new).view(np.uint8).reshape(shape) !=
               np.ascontiguousarray(cur).view(np.uint8).reshape(shape)).any(-1)
    base.flat[idx[changed]] = new[changed]
    return True


def commit_inplace(self, out, name=None):
    """Write ``out`` (same shape) into self's buffer and take over its graph node. ``name``:
    the in-place op, when it is one torch runs on expanded tensors (EXPANDED_WRITES)."""
    if out._data.shape != self._data.shape:
        raise ShapeError(f"in-place op: output with shape {fmt_shape(self.shape)} doesn't match "
                         f"the broadcast shape {fmt_shape(out.shape)}")
    src = out._data
    if src.dtype != self._data.dtype:
        if _category(src.dtype) > _category(self._data.dtype):
            raise DTypeError(f"in-place op: result type {_name(src.dtype)} can't be cast to the "
                             f"desired output type {_name(self._data.dtype)}")
    if _vmap_depth[0] and (type(self._data) is _batched[0] or type(src) is _batched[0]):
        return _batched[3](self, out)   # inside vmap: into the batched value
    node = out.grad_fn
    if node is not None and node.saved:
        # backward must see the value self had before this write: snapshot it (while compile
        # traces, as a recorded clone: a raw copy would be a graph input frozen at the traced
        # call's bytes; issue 14)
        if saves(node, self):
            snap = apply(Clone, self.detach())._data if state.tracer is not None else \
                self._data.copy()
            old = _make(snap, self._requires_grad, self.grad_fn)
            old._accum = self._accum
            replace_saved(node, self, old)
    _snapshot_saved_output(self)
    if state.tracer is not None:
        state.tracer.commit(self, out)
    try:
        if type(self._data) is np.ndarray:
            if not self._data.size:   # (an empty expanded view has nothing to write, as torch)
                pass
            elif name is not None and not self._data.flags.writeable and node is None and \
                    state.tracer is None and _write_expanded(self, src, name):
                pass
            else:
                np.copyto(self._data, src, casting="unsafe")
        elif type(self._data) is not MetaArray:    # a meta tensor has no values to write
            self._data.__setitem__(Ellipsis, src)
    except ValueError as e:
        if "read-only" in str(e):
            raise read_only_write_error(self._data) from None
        raise
    self._vc[0] += 1
    if node is not None:
        self.grad_fn = node
        self._requires_grad = True
        if node.out_version is not None:
            node.out_version = (self._vc, self._vc[0])
        # the history of the memory changed: a view's base is re-based onto it, and views of
        # a base written directly are regenerated on use (autograd/views.py)
        if self._base is not None:
            rebase(self, node, "in-place op")
        else:
            bump(self)
    elif state.grad_enabled and (self._requires_grad or self._base is not None and
                                 self._base._requires_grad):
        discard_history(self)
    return self


def _snapshot_saved_output(self):
    """Before a write into (a view of) the output of an op that saves its output only to
    find the winners of a max (``Op.out_snapshot``), give that op's node its own copy of the
    value, as torch's saved indices are untouched by the write."""
    base = self if self._base is None else self._base
    node = base.grad_fn
    if node is None or not getattr(node.op, "out_snapshot", False) or state.tracer is not None:
        return
    ov = node.out_version
    if ov is not None and ov[0] is base._vc and ov[1] == base._vc[0] and \
            node.out_data is base._data:
        node.out_data = base._data.copy()
        node.out_version = ([0], 0)


def _category(dt):
    return 0 if dt.kind == "b" else (1 if dt.kind in "iu" else 3 if dt.kind == "c" else 2)


_name = aten_name


# In-place arithmetic with nothing to record (optimizer updates under no_grad) runs as one
# NumPy ufunc writing into the tensor's buffer: no temporary and no copy back.
_UFUNCS = {"add_": np.add, "sub_": np.subtract, "mul_": np.multiply, "div_": np.true_divide}


def _fast_ufunc(self, ufunc, args, kwargs):
    if len(args) != 1 or type(self._data) is not np.ndarray or self._data.dtype.kind != "f" or \
            self._data.dtype.itemsize == 2:   # float16 computes in float32 (ops.in_float32)
        return False
    other = args[0]
    alpha = kwargs.get("alpha", 1)
    if len(kwargs) > ("alpha" in kwargs):
        return False
    if isinstance(other, Tensor):
        if other._requires_grad and state.grad_enabled:
            return False
        o = other._data
        if type(o) is not np.ndarray or o.dtype != self._data.dtype:
            return False
    elif type(other) in (float, int):
        o = other * alpha
        alpha = 1
    else:
        return False
    x = self._data

    def write():
        ufunc(x, o * alpha if alpha != 1 else o, out=x)
    return _raw_write(self, write)


def _raw_write(self, write) -> bool:
    """Run ``write()``, a NumPy update of self's buffer, with inf/nan silent (as in ops.apply)
    and bump self's version; False, nothing written, when write returns False or NumPy refuses
    (shapes, read-only memory: the general path then raises the clear error)."""
    token = fp_state.set(FP_QUIET)
    try:
        if write() is False:
            return False
    except ValueError:
        return False
    finally:
        fp_state.reset(token)
    self._vc[0] += 1
    return True


def _host_operand(self, o):
    """``o``'s array when it can enter a raw NumPy update of self (a float tensor of self's
    dtype on the host, nothing recording it), else None."""
    if not isinstance(o, Tensor) or (o._requires_grad and state.grad_enabled):
        return None
    a = o._data  # (0-d: NumPy would hand back scalars; the general path takes those)
    return a if type(a) is np.ndarray and a.dtype == self._data.dtype and a.ndim else None


def _lerp_parts(self, x, args, kwargs):
    """lerp_(end, weight) as input + weight * (end - input) (|weight| < 0.5): the update's
    term."""
    if len(args) != 2 or kwargs or type(args[1]) not in (float, int) or \
            not -0.5 < args[1] < 0.5:   # torch's other branch: end - (end - input)(1 - w)
        return None
    end = _host_operand(self, args[0])
    if end is None:
        return None
    t = np.subtract(end, x)
    t *= args[1]   # weight * (end - input): one rounding, in either order
    return t


def _addc_parts(div):
    """addcmul_/addcdiv_(tensor1, tensor2, value=1) as input + value * tensor1 (op) tensor2,
    evaluated left to right as the composite is."""
    def parts(self, x, args, kwargs):
        value = kwargs.get("value", 1)
        if len(args) != 2 or len(kwargs) > ("value" in kwargs) or \
                type(value) not in (float, int):
            return None
        t1, t2 = _host_operand(self, args[0]), _host_operand(self, args[1])
        if t1 is None or t2 is None:
            return None
        t = np.multiply(t1, value) if value != 1 else None
        return (np.true_divide if div else np.multiply)(t1 if t is None else t, t2, out=t)
    return parts


# Fused in-place updates with nothing to record (lerp_, addcmul_, addcdiv_ of optimizers):
# the composite's same operations in the same order on NumPy arrays, the result added into the
# tensor's buffer (the op path takes 3 dispatches, their temporaries and a copy back).
_TERNARY = {"lerp_": _lerp_parts, "addcmul_": _addc_parts(False),
            "addcdiv_": _addc_parts(True)}


def _fast_fused(self, parts, args, kwargs):
    x = self._data
    if type(x) is not np.ndarray or x.dtype.kind != "f" or x.ndim == 0 or x.dtype.itemsize == 2:
        return False

    def write():
        t = parts(self, x, args, kwargs)
        if t is None:
            return False
        np.add(x, t, out=x)
    return _raw_write(self, write)


def make_inplace(fn, name, composite=False):
    """Tensor method ``name`` (e.g. add_) from the out-of-place function ``fn``. A
    ``composite`` fn (several recorded ops) may save self in a node before the last one, which
    commit_inplace's snapshot does not reach: while grad is recorded it reads a clone of self."""
    ufunc = _UFUNCS.get(name)
    parts = _TERNARY.get(name)

    def method(self, *args, **kwargs):
        if type(self._vc) is InferenceVersion and not state.inference:
            raise RuntimeError(INFERENCE_INPLACE)
        # the raw fast paths write around ops.apply: not while compile traces, nor on a
        # tensor (or a view of one) whose history an in-place op must extend
        if (ufunc is not None or parts is not None) and state.tracer is None and \
                not ((self._requires_grad or self._base is not None and
                      self._base._requires_grad) and state.grad_enabled) and (
                    _fast_ufunc(self, ufunc, args, kwargs) if ufunc is not None else
                    _fast_fused(self, parts, args, kwargs)):
            return self
        check_inplace(self, name)
        src = apply(Clone, self) if composite and self._requires_grad and \
            state.grad_enabled else self
        out = fn(src, *args, **kwargs)
        return commit_inplace(self, out, name if name in EXPANDED_WRITES else None)
    method.__name__ = name
    method.__doc__ = f"In-place version of {fn.__name__}."
    return method


def wrap_int(v, dtype, op):
    """``v`` converted to the integer ``dtype`` as torch does: out of range raises, except that
    an unsigned dtype takes a negative ``v`` down to ``-max`` and wraps it (C's cast)."""
    info = np.iinfo(dtype)
    lowest = -int(info.max) if info.min == 0 else int(info.min)
    if not lowest <= v <= info.max:
        raise RuntimeError(f"{op}: value {v} cannot be converted to type {np.dtype(dtype).name} "
                           f"without overflow")
    return (v - int(info.min)) % (int(info.max) - int(info.min) + 1) + int(info.min)


def fill_(self, value):
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor "
                               f"with {value.ndim} dimensions.")
        if state.grad_enabled and (value._requires_grad or self._requires_grad):
            check_inplace(self, "fill_")
            return commit_inplace(self, (self * 0 + value.to(self.dtype)))
        if 0 in self._data.strides and self._data.size > 1 and type(self._data) is np.ndarray \
                and not self._data.flags.writeable:   # (torch's tensor-value kernel refuses)
            raise read_only_write_error(self._data)
        value = value.item()
        if type(value) is float and self._data.dtype.kind in "iu" and abs(value) < 2 ** 31:
            # a float tensor value truncates, then wraps, as C's cast (beyond int32 the C
            # conversion is undefined: refused below as a number is)
            value = int(np.array(int(value), np.int64).astype(self._data.dtype))
    if type(value) is int and self._data.dtype.kind in "iu":   # -2 fills uint8 with 254
        value = wrap_int(value, self._data.dtype, "fill_")
    check_inplace(self, "fill_")
    if state.grad_enabled and self._requires_grad:
        return commit_inplace(self, self * 0 + value)
    if state.tracer is not None:  # a recorded constant, not a raw write
        return commit_inplace(self, full(tuple(self.shape), value, dtype=self.dtype))
    if type(self._data) is MetaArray:
        pass   # no values to write
    else:
        write = _expanded_writer(self) if type(self._data) is np.ndarray and \
            not self._data.flags.writeable else self._data.__setitem__
        if write is None:
            raise read_only_write_error(self._data)
        try:
            write(Ellipsis, value)
        except OverflowError:   # NumPy 2 refuses uint8 <- -1.5 with OverflowError; torch:
            raise RuntimeError(f"value cannot be converted to type {self.dtype.name} without "
                               f"overflow") from None
    self._vc[0] += 1
    return self


def _expanded_writer(t):
    """``write(Ellipsis, value)`` filling an expanded (stride 0) view of a writable base with
    one value through the base's memory (torch's fill_/zero_ allow it; NumPy's broadcast view
    is read-only), or None."""
    base = t._base
    if base is None or 0 not in t._data.strides or type(base._data) is not np.ndarray or \
            not base._data.flags.writeable:
        return None
    idx = positions(base._data, t._data)
    if idx is None:
        return None
    flat = np.unique(idx)
    return lambda _, value: base._data.flat.__setitem__(flat, value)


def zero_(self):
    return fill_(self, 0)


def copy_(self, src, non_blocking=False):
    """Copy src's values (broadcast, cast) into self."""
    if not isinstance(src, Tensor):
        src = tensor(src)
    check_inplace(self, "copy_")
    if _vmap_depth[0] and (type(self._data) is _batched[0] or type(src._data) is _batched[0]):
        return commit_inplace(self, src.to(self.dtype).expand(self.shape))   # inside vmap
    if state.grad_enabled and (src._requires_grad or self._requires_grad):
        out = src.to(self.dtype).expand(self.shape) * 1 if src._requires_grad else \
            (self * 0).detach() + src.detach().to(self.dtype)
        if not src._requires_grad:
            self.grad_fn = None if self.grad_fn is None else self.grad_fn
        return commit_inplace(self, out)
    if state.tracer is not None:  # through recorded ops, not a raw copy
        try:
            out = src.detach().to(self.dtype).expand(self.shape)
        except RuntimeError:
            raise ShapeError(f"copy_: expected src {fmt_shape(src.shape)} to broadcast to "
                             f"{fmt_shape(self.shape)}") from None
        return commit_inplace(self, out)
    try:
        if type(self._data) is MetaArray:    # no values to write; the shapes must agree
            np.broadcast_to(src._data, self._data.shape)
        else:
            h = np.asarray(src._host())
            if self._data.dtype.itemsize == 1 and self._data.dtype.kind == "V" and \
                    h.dtype != self._data.dtype:   # float8: the cast op's saturation
                h = src.detach().to(self.dtype)._host()
            np.copyto(self._data, np.broadcast_to(h, self._data.shape), casting="unsafe")
    except ValueError:
        if type(self._data) is np.ndarray and not self._data.flags.writeable:
            raise read_only_write_error(self._data) from None   # an expanded view
        raise ShapeError(f"copy_: expected src {fmt_shape(src.shape)} to broadcast to "
                         f"{fmt_shape(self.shape)}") from None
    self._vc[0] += 1
    return self

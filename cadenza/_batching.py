"""The batching behind ``torch.func.vmap``: batched tensors and the rules that run an op once
over a whole batch.

Inside ``vmap`` a mapped argument is a :class:`BatchedTensor`: a ``Tensor`` whose shape, dtype
and device are those of one sample (the *logical* tensor the function sees) and whose
``_value`` is an ordinary tensor holding all samples, the batch dimension in front, at a
*level* (one per active vmap; nested vmaps nest values: a level-2 value may itself be batched
at level 1). Its ``_data`` is a :class:`BatchedArray`: shape and dtype only, so the code that
reads shapes works unchanged and any code that would read values raises instead of computing
on the wrong thing.

Every primitive goes through ``ops.apply``; one that meets a batched operand comes here
(``_registry._run`` hands it over; outside vmap that costs one flag check). :func:`run` picks
the rule of the op (elementwise ops broadcast with the batch dim in front, reductions and
softmaxes shift their dims, views prepend the batch to their shapes, linear/matmul/conv2d/
pooling/cross entropy fold the batch into their own batch dims) and runs the op once on the
values; an op without a rule runs once per sample (a loop over the batch for that op only)
and the results are stacked: slower, never different. Autograd works on the values
(ordinary tensors), so gradients through batched ops are the gradients of the batched
computation; ``cadenza.func`` lifts the arguments it differentiates to every active level
(:func:`lift`, :func:`bottom`, :func:`rebuild`) so that ``grad`` inside ``vmap`` gives
per-sample gradients.

Three more hooks below the ops reach here: indexing by a batched tensor (:func:`index`),
in-place writes of or into a batched tensor (:func:`commit`: into its value, with an in-place
copy there) and the random functions (``_trace_hooks.vmap_random``: the randomness modes).
"""
from __future__ import annotations

from weakref import ref as _weakref

import numpy as np

from . import _trace_hooks
from ._dispatch import state as _dstate
from ._tensor_base import _make
from . import functional as _F
from . import random as _random_state
from ._creation import arange
from .ops import _registry
from .ops._registry import REGISTRY, apply
from ._tensor import Tensor

_ACTIVE: list = []        # [(level, batch size)] of the vmaps running, outermost first
_NEXT_LEVEL = [0]


class BatchedArray:
    """The ``_data`` of a batched tensor: one sample's shape and dtype, no values; ``ref``
    (a weak reference) finds the tensor again where code hands the array on in an op's
    attributes (the index arrays of ``getitem``)."""
    __slots__ = ("shape", "dtype", "ref")

    def __init__(self, shape, dtype, ref):
        self.shape = shape
        self.dtype = dtype
        self.ref = ref

    def tensor(self):
        t = self.ref()
        if t is None:
            raise RuntimeError("vmap: an op got the array of a batched tensor that no longer "
                               "exists")
        return t

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        n = 1
        for s in self.shape:
            n *= s
        return n

    @property
    def itemsize(self):
        return self.dtype.itemsize

    @property
    def flags(self):
        return _FLAGS

    def __array__(self, *args, **kwargs):
        raise RuntimeError(_no_values("reading its values as a NumPy array"))

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise RuntimeError(_no_values(f"its array's '{name}'"))


class _Flags:
    """A batched array's layout flags: contiguous, as one sample is seen (its value's layout
    is the ops' business: ``contiguous()`` of a batched tensor is the tensor)."""
    c_contiguous = writeable = True
    f_contiguous = False

    def __getitem__(self, name):
        return getattr(self, name.lower())


_FLAGS = _Flags()


def _no_values(what: str) -> str:
    return (f"vmap: an operation needs {what} of a batched tensor (one sample of the mapped "
            f"inputs), which vmap does not support; rewrite it with tensor operations, or "
            f"perform it outside of vmap")


class BatchedTensor(Tensor):
    """A tensor inside ``vmap``: one sample's view of ``_value`` (batch dim 0, ``_level``)."""
    __slots__ = ("_value", "_level")

    @property
    def device(self):
        return self._value.device

    @property
    def requires_grad(self):
        return self._value.requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        raise RuntimeError("vmap: setting requires_grad of a batched tensor is not supported; "
                           "use torch.func.grad inside vmap")

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad

    def _all_samples(self):
        """The values of every sample (for checks that read values in any order, such as a
        loss's range check of its targets)."""
        return bottom(self)._host()

    def detach(self):
        return wrap(self._value.detach(), self._level)

    def backward(self, *args, **kwargs):
        raise RuntimeError("vmap: backward() on a batched tensor is not supported; use "
                           "torch.func.grad / vjp inside vmap")

    def item(self):
        raise RuntimeError("vmap: It looks like you're calling .item() on a Tensor. We don't "
                           "support vmap over calling .item() on a Tensor, please try to "
                           "rewrite what you're doing with other operations.")

    def tolist(self):
        raise RuntimeError("vmap: .tolist() of a batched tensor is not supported inside vmap")

    def numpy(self, *args, **kwargs):
        raise RuntimeError("vmap: .numpy() of a batched tensor is not supported inside vmap")

    def __bool__(self):
        raise RuntimeError("vmap: It looks like you're attempting to use a Tensor in some "
                           "data-dependent control flow. We don't support that yet, please "
                           "shout over at https://github.com/pytorch/functorch/issues/257 .")

    def __float__(self):
        return self.item()

    def __int__(self):
        return self.item()

    def __index__(self):
        return self.item()

    def __repr__(self):
        return f"BatchedTensor(lvl={self._level}, bdim=0, value=\n{self._value!r})"

    __str__ = __repr__


def wrap(value, level) -> BatchedTensor:
    """The batched tensor of ``value`` (batch dim 0) at ``level``."""
    t = object.__new__(BatchedTensor)
    d = value._data
    t._data = BatchedArray(tuple(d.shape[1:]), d.dtype, _weakref(t))
    t._requires_grad = False
    t.grad = t.grad_fn = t._base = t._accum = None
    t._vc = [0]
    t._retains_grad = False
    t._view = None
    t._value = value
    t._level = level
    return t


# ------------------------------------------------------------------------------ levels
def push(size: int, randomness: str = "error") -> int:
    """Start a vmap level over ``size`` elements (randomness: its mode for random
    functions)."""
    _NEXT_LEVEL[0] += 1
    _ACTIVE.append((_NEXT_LEVEL[0], size))
    _RANDOMNESS.append(randomness)
    _set_hooks()
    return _NEXT_LEVEL[0]


def pop(level: int) -> None:
    assert _ACTIVE and _ACTIVE[-1][0] == level
    _ACTIVE.pop()
    _RANDOMNESS.pop()
    _set_hooks()


_RANDOMNESS: list = []    # the randomness mode of each level of _ACTIVE


def _set_hooks():
    _registry._vmap_depth[0] = len(_ACTIVE)
    _trace_hooks.vmap_random[0] = _random if _ACTIVE else None


def _random(fn, args, kwargs):
    """A random function called inside vmap, as the levels' randomness modes say: 'error'
    refuses it, 'same' draws once for the whole batch, 'different' once per element."""
    if "error" in _RANDOMNESS:
        raise RuntimeError("vmap: called random operation while in randomness error mode. "
                           "Please either use the 'same' or 'different' randomness flags on "
                           "vmap or perform the randomness operation out of vmap")
    _trace_hooks.vmap_random[0] = None   # the draws below are plain calls
    try:
        return _draw(fn, args, kwargs, len(_ACTIVE) - 1)
    finally:
        _trace_hooks.vmap_random[0] = _random


def _draw(fn, args, kwargs, k):
    """fn's draws for levels 0..k: per element of each 'different' level, and per element of
    a 'same' level whose arguments are batched (each element's own arguments, the same
    random stream)."""
    if k < 0:
        return fn(*args, **kwargs)
    level, size = _ACTIVE[k]
    batched = any(is_batched_at(a, level) for a in list(args) + list(kwargs.values()))
    if _RANDOMNESS[k] == "same" and not batched:
        return _draw(fn, args, kwargs, k - 1)
    state = _random_state.get_rng_state() if _RANDOMNESS[k] == "same" else None
    outs = []
    for i in range(size):
        if state is not None:
            _random_state.set_rng_state(state)
        outs.append(_draw(fn, [_sample(a, i, level) for a in args],
                          {n: _sample(a, i, level) for n, a in kwargs.items()}, k - 1))
    return wrap(_stack(outs), level)


def active() -> list:
    """The (level, size) of the running vmaps, outermost first."""
    return list(_ACTIVE)


def is_batched_at(t, level) -> bool:
    return type(t) is BatchedTensor and t._level == level


def expand_batch(x, size):
    """``x`` with a new leading dim of ``size`` (a broadcast view)."""
    return x.unsqueeze(0).expand(size, *x.shape)


def lift(x, levels):
    """``x`` (a tensor at the innermost of ``levels``) batched at every one of them, missing
    levels by broadcasting."""
    if not levels:
        return x
    level, size = levels[-1]
    if is_batched_at(x, level):
        inner = x._value
    elif type(x._data) is np.ndarray and not x._requires_grad and _dstate.tracer is None:
        # (a tensor outside any graph: the broadcast view, without two recorded ops)
        inner = _make(np.broadcast_to(x._data, (size,) + x._data.shape))
    else:
        inner = expand_batch(x, size)
    return wrap(lift(inner, levels[:-1]), level)


def bottom(x):
    """The ordinary tensor under the levels of ``x`` (their batch dims in front, outermost
    first)."""
    while type(x) is BatchedTensor:
        x = x._value
    return x


def rebuild(plain, levels):
    """The inverse of ``bottom`` for a tensor batched at every one of ``levels``."""
    for level, _ in levels:
        plain = wrap(plain, level)
    return plain


# ------------------------------------------------------------------------------- dispatch
def run(op, args, attrs):
    """``apply(op, *args, **attrs)`` where an operand is batched: the rule of the op, or the
    per-sample loop."""
    arrays = _attr_arrays(attrs)
    level = max([a._level for a in args if type(a) is BatchedTensor] +
                [a.tensor()._level for a in arrays])
    vals, bd = [], []
    size = None
    for a in args:
        if type(a) is BatchedTensor and a._level == level:
            vals.append(a._value)
            bd.append(True)
            size = a._value.shape[0]
        else:
            vals.append(a)
            bd.append(False)
    if size is None:
        size = next(a.tensor()._value.shape[0] for a in arrays if a.tensor()._level == level)
    rule = _RULES.get(op.name) or _KIND_RULES.get(op.kind)
    out = None
    if rule is not None and not any(_has_tensor(v) for v in attrs.values()) and \
            (not arrays or rule is _getitem):
        out = rule(op, args, vals, bd, attrs, size, level)
    if out is None:
        out = _loop(op, vals, bd, attrs, size, level)
    return wrap(out, level)


def _has_tensor(v) -> bool:
    if isinstance(v, Tensor):
        return True
    if isinstance(v, (tuple, list)):
        return any(_has_tensor(x) for x in v)
    return False


def _attr_arrays(attrs) -> list:
    """The arrays of batched tensors among an op's attributes (one level of tuples deep)."""
    out = []
    for v in attrs.values():
        if type(v) is BatchedArray:
            out.append(v)
        elif type(v) is tuple or type(v) is list:
            out += [x for x in v if type(x) is BatchedArray]
    return out


def _sample(v, i, level):
    if is_batched_at(v, level):
        return v._value[i]
    if type(v) is BatchedArray:
        t = v.tensor()
        return t._value[i]._data if t._level == level else v
    if isinstance(v, (tuple, list)):
        return type(v)(_sample(x, i, level) for x in v)
    return v


def _loop(op, vals, bd, attrs, size, level):
    """The fallback: ``op`` on each sample, stacked."""
    if size == 0:
        raise RuntimeError(f"vmap: the op '{op.name}' has no batching rule, and its per-sample "
                           f"fallback cannot run over a batch of size 0")
    outs = []
    for i in range(size):
        args_i = [v[i] if b else v for v, b in zip(vals, bd)]
        attrs_i = {k: _sample(a, i, level) for k, a in attrs.items()}
        outs.append(apply(op, *args_i, **attrs_i))
    return _stack(outs)


def _stack(ts):
    return apply(REGISTRY["cat"], *[apply(REGISTRY["reshape"], t, shape=(1,) + tuple(t.shape))
                                    for t in ts], dim=0)


def _ldim(v, b) -> int:
    """Logical rank of an operand."""
    if not isinstance(v, Tensor):
        return 0
    return v.dim() - 1 if b else v.dim()


def _reshape(v, shape):
    return apply(REGISTRY["reshape"], v, shape=tuple(shape))


def _pad_to(v, rank):
    """A batched value (batch dim 0) with 1s inserted after the batch dim up to logical
    ``rank``."""
    k = v.dim() - 1
    if k >= rank:
        return v
    s = tuple(v.shape)
    return _reshape(v, (s[0],) + (1,) * (rank - k) + s[1:])


def _full(v, b, size):
    return v if b else expand_batch(v, size)


def _norm(d, n, op):
    if not -max(n, 1) <= d < max(n, 1):
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of "
                         f"[{-max(n, 1)}, {max(n, 1) - 1}], but got {d})")
    return d % max(n, 1)


# ------------------------------------------------------------------------------- rules
# a rule(op, args, vals, bd, attrs, size, level) -> the output's value (batch dim 0), or None
# for the per-sample loop
def _elementwise(op, args, vals, bd, attrs, size, level):
    rank = max(_ldim(v, b) for v, b in zip(vals, bd))
    vals = [_pad_to(v, rank) if b else v for v, b in zip(vals, bd)]
    return apply(op, *vals, **attrs)


def _reduce_dims(op, args, vals, bd, attrs, size, level):
    """Reductions over ``dims`` (None: every dim; () none, as NumPy's axis=())."""
    if not bd[0] or any(bd[1:]):
        return None
    n = vals[0].dim() - 1
    dims = attrs.get("dims")
    if n == 0:     # a scalar per sample: nothing to reduce but the sample itself
        nd = ()
    elif dims is None:
        nd = tuple(range(1, n + 1))
    elif isinstance(dims, int):
        nd = _norm(dims, n, op.name) + 1
    else:
        nd = tuple(_norm(d, n, op.name) + 1 for d in dims)
    return apply(op, *vals, **dict(attrs, dims=nd))


def _shift_dim(op, args, vals, bd, attrs, size, level):
    """Ops along one dim ``dim`` of input 0 (softmax, log_softmax, cumsum, argsort...)."""
    if not bd[0] or any(bd[1:]) or vals[0].dim() == 1 or attrs.get("dim") is None:
        return None
    n = vals[0].dim() - 1
    return apply(op, *vals, **dict(attrs, dim=_norm(attrs["dim"], n, op.name) + 1))


def _arg_reduce(op, args, vals, bd, attrs, size, level):
    """argmax/argmin: along a dim, or over each sample flattened."""
    if attrs.get("dim") is not None:
        return _shift_dim(op, args, vals, bd, attrs, size, level)
    if attrs.get("keepdim") or vals[0].dim() == 1:
        return None
    return apply(op, _reshape(vals[0], (size, -1)), **dict(attrs, dim=1))


def _shift_dims(op, args, vals, bd, attrs, size, level):
    """Ops along a tuple of dims ``dims`` (flip, roll)."""
    n = vals[0].dim() - 1
    if any(bd[1:]) or n == 0 or attrs.get("dims") is None:
        return None
    dims = attrs["dims"]
    dims = _norm(dims, n, op.name) + 1 if isinstance(dims, int) else \
        tuple(_norm(d, n, op.name) + 1 for d in dims)
    return apply(op, vals[0], **dict(attrs, dims=dims))


def _last_dims(k):
    """Ops on the last ``k`` dims of input 0 (``k(attrs)`` when a function)."""
    def rule(op, args, vals, bd, attrs, size, level):
        need = k(attrs) if callable(k) else k
        if any(bd[1:]) or vals[0].dim() - 1 < need:
            return None
        return apply(op, *vals, **attrs)
    return rule


def _trailing(op, args, vals, bd, attrs, size, level):
    """Ops acting on the trailing dims of input 0, any leading dims free, the other operands
    shared (layer_norm, rms_norm, linear with one weight)."""
    if not bd[0] or any(bd[1:]) or vals[0].dim() < 2:
        return None
    return apply(op, *vals, **attrs)


def _norm_affine(op, args, vals, bd, attrs, size, level):
    """layer_norm / rms_norm: batched weight or bias (per-sample gradients of them) apply
    after the normalisation, as the logical ops they are."""
    if not any(bd[1:]):
        return _trailing(op, args, vals, bd, attrs, size, level)
    w = args[1] if len(args) > 1 else None
    b = args[2] if len(args) > 2 else None
    out = apply(op, args[0], None, None, **attrs)
    if w is not None:
        out = out * w
    if b is not None:
        out = out + b
    return _value(out, level, size)


def _same(op, args, vals, bd, attrs, size, level):
    """Ops on one tensor whose every element is independent of the batch dim's position
    (clone, contiguous, casts, moves)."""
    if any(bd[1:]):
        return None
    return apply(op, *vals, **attrs)


def _reshape_rule(op, args, vals, bd, attrs, size, level):
    shape = tuple(attrs["shape"])
    try:
        return apply(op, vals[0], shape=(size,) + shape)
    except Exception:   # a view the batched layout cannot express: a copy has the same values
        if op.name != "view":
            raise
        return apply(REGISTRY["reshape"], vals[0], shape=(size,) + shape)


def _permute(op, args, vals, bd, attrs, size, level):
    n = vals[0].dim() - 1
    return apply(op, vals[0], dims=(0,) + tuple(_norm(d, n, "permute") + 1
                                                for d in attrs["dims"]))


def _expand(op, args, vals, bd, attrs, size, level):
    shape = tuple(attrs["shape"])
    v = _pad_to(vals[0], len(shape))
    vs = tuple(v.shape)[1:]
    shape = tuple(s if s != -1 else vs[i] for i, s in enumerate(shape))
    return apply(op, v, shape=(size,) + shape)


def _cat(op, args, vals, bd, attrs, size, level):
    n = max(_ldim(v, b) for v, b in zip(vals, bd))
    vals = [_full(v, b, size) for v, b in zip(vals, bd)]
    return apply(op, *vals, dim=_norm(attrs.get("dim", 0), n, "cat") + 1)


def _basic_index(index) -> bool:
    return all(i is None or i is Ellipsis or isinstance(i, slice) or
               (isinstance(i, int) and not isinstance(i, bool)) for i in index)


def _getitem(op, args, vals, bd, attrs, size, level):
    index = attrs["index"]
    if not isinstance(index, tuple) or any(bd[1:]):
        return None
    # the advanced entries (index arrays, and ints beside them): NumPy puts their broadcast
    # dims where they stand when they are adjacent, in front otherwise
    adv = [k for k, i in enumerate(index) if not (i is None or i is Ellipsis or
                                                 isinstance(i, slice))]
    mapped = [k for k in adv if type(index[k]) is BatchedArray and
              index[k].tensor()._level == level]
    if not any(isinstance(index[k], BatchedArray) or hasattr(index[k], "ndim") for k in adv):
        return apply(op, vals[0], index=(slice(None),) + index)   # ints and slices
    if adv[-1] - adv[0] + 1 != len(adv):
        return None
    if not mapped:              # shared index arrays of a batched input
        return apply(op, vals[0], index=(slice(None),) + index)
    if adv[0] != 0 or any(type(index[k]) is BatchedArray and k not in mapped for k in adv):
        return None
    rank = max(len(getattr(index[k], "shape", ())) for k in adv)
    new = list(index)
    for k in mapped:            # (B, ...) arrays, their dims aligned with the shared ones
        a = index[k].tensor()._value._data
        if type(a) is BatchedArray:
            return None
        new[k] = a.reshape((size,) + (1,) * (rank + 1 - a.ndim) + a.shape[1:])
    if bd[0]:                   # each sample's rows: a leading arange over the batch
        new.insert(0, np.arange(size).reshape((size,) + (1,) * rank))
    return apply(op, vals[0], index=tuple(new))


def _index_put(op, args, vals, bd, attrs, size, level):
    """``x[index] = v`` (out of place) on a batched x with a basic index: the batch dim is one
    more slice; v aligns with the indexed region."""
    index = attrs["index"]
    if not bd[0] or not isinstance(index, tuple) or not _basic_index(index):
        return None
    v = vals[1]
    if bd[1]:
        region = np.broadcast_to(np.empty((), bool), tuple(args[0].shape))[index].shape
        v = _pad_to(v, len(region))
    return apply(op, vals[0], v, **dict(attrs, index=(slice(None),) + index))


def _linear(op, args, vals, bd, attrs, size, level):
    if not any(bd[1:]):
        return apply(op, *vals, **attrs) if vals[0].dim() >= 2 else None
    x, w = args[0], args[1]
    out = _matmul_logical(x, w.transpose(0, 1) if w.dim() == 2 else w)
    if len(args) > 2 and args[2] is not None:
        out = out + args[2]
    return _value(out, level, size)


def _matmul_logical(a, b):
    return apply(REGISTRY["matmul"], a, b)


def _value(t, level, size):
    """The value at ``level`` of a logical result (broadcast when it is not batched)."""
    return t._value if is_batched_at(t, level) else expand_batch(t, size)


def _matmul(op, args, vals, bd, attrs, size, level):
    a, b = vals
    ka, kb = _ldim(a, bd[0]), _ldim(b, bd[1])
    if ka == 0 or kb == 0:
        return None
    squeeze = []
    if ka == 1 and bd[0]:   # (B, n) -> (B, 1, n); the result loses that dim
        a = _reshape(a, (a.shape[0], 1, a.shape[1]))
        ka = 2
        squeeze.append(-2)
    if kb == 1 and bd[1]:   # (B, n) -> (B, n, 1)
        b = _reshape(b, tuple(b.shape) + (1,))
        kb = 2
        squeeze.append(-1)
    if bd[0] and bd[1]:
        rank = max(ka, kb)
        a, b = _pad_to(a, rank), _pad_to(b, rank)
    elif bd[0]:
        if kb == 1:         # (B, ..., n) @ (n,)
            pass
        else:
            a = _pad_to(a, kb)
    else:
        if ka == 1:         # (n,) @ (B, ..., n, m)
            pass
        else:
            b = _pad_to(b, ka)
    out = apply(op, a, b)
    if squeeze:
        s = list(out.shape)
        for d in sorted(squeeze):
            del s[d]
        out = _reshape(out, s)
    return out


def _fold_n(rank):
    """The rule of ops over (N, ...) inputs of logical rank ``rank`` (None: any from 2) whose
    samples along N are independent (conv2d with a shared weight, pooling, im2col): the batch
    folds into N."""
    def rule(op, args, vals, bd, attrs, size, level):
        n = vals[0].dim() - 1
        if bd[0] and n == (rank or max(n, 2)):
            return _folded(op, vals, bd, attrs)
        return None
    return rule


def _folded(op, vals, bd, attrs):
    if any(bd[1:]):
        return None
    x = vals[0]
    s = tuple(x.shape)
    out = apply(op, _reshape(x, (s[0] * s[1],) + s[2:]), *vals[1:], **attrs)
    return _reshape(out, (s[0], s[1]) + tuple(out.shape)[1:])


def _conv2d(op, args, vals, bd, attrs, size, level):
    x, w = _full(vals[0], bd[0], size), _full(vals[1], bd[1], size)
    if x.dim() != 5:
        return None
    if not any(bd[1:]):
        return _folded(op, vals, bd, attrs)
    B, N, C, H, W = x.shape
    O = w.shape[1]
    xg = _reshape(x.permute(1, 0, 2, 3, 4), (N, B * C, H, W))
    wg = _reshape(w, (B * O,) + tuple(w.shape)[2:])
    bias = None
    if len(vals) > 2 and vals[2] is not None:
        bias = _reshape(_full(vals[2], bd[2], size), (B * O,))
    out = _F.conv2d(xg, wg, bias, attrs.get("stride", 1), attrs.get("padding", 0),
                    attrs.get("dilation", 1), groups=B)
    oh, ow = out.shape[2], out.shape[3]
    return _reshape(out, (N, B, O, oh, ow)).permute(1, 0, 2, 3, 4)


def _pad(op, args, vals, bd, attrs, size, level):
    """pad_constant: a (before, after) pair per dim; the batch dim gets none."""
    pads = tuple(attrs["pads"])
    if len(pads) != vals[0].dim() - 1:
        return None
    return apply(op, vals[0], **dict(attrs, pads=((0, 0),) + pads))


def _batch_norm(op, args, vals, bd, attrs, size, level):
    """Inference batch norm (running statistics): every sample on its own, so the batch folds
    into N; training statistics are each sample's own (the per-sample loop)."""
    if attrs.get("training", True):
        return None
    return _fold_n(None)(op, args, vals, bd, attrs, size, level)


def _attention(op, args, vals, bd, attrs, size, level):
    """scaled_dot_product_attention: q, k, v (..., L, E) with leading batch dims; a shared
    mask broadcasts."""
    if len(bd) > 3 and bd[3]:
        return None
    rank = max(_ldim(v, b) for v, b in zip(vals[:3], bd[:3]))
    qkv = [_pad_to(_full(v, b, size), rank) for v, b in zip(vals[:3], bd[:3])]
    return apply(op, *qkv, *vals[3:], **attrs)


def _cross_entropy(op, args, vals, bd, attrs, size, level):
    """Per-element losses of (N, C, ...) logits against (N, ...) targets: the batch folds
    into N (an unbatched target is broadcast)."""
    x, t = _full(vals[0], bd[0], size), _full(vals[1], bd[1], size)
    if x.dim() < 3:      # one sample of (C,) logits: (B, C) against (B,) is the same op
        return apply(op, x, t, **attrs) if x.dim() == 2 and t.dim() == 1 else None
    s, ts = tuple(x.shape), tuple(t.shape)
    out = apply(op, _reshape(x, (s[0] * s[1],) + s[2:]), _reshape(t, (ts[0] * ts[1],) + ts[2:]),
                **attrs)
    return _reshape(out, (s[0], s[1]) + tuple(out.shape)[1:])


_RULES = {
    "reshape": _reshape_rule, "view": _reshape_rule, "permute": _permute, "expand": _expand,
    "cat": _cat, "getitem": _getitem, "clone": _same, "contiguous": _same,
    "sum": _reduce_dims, "amax": _reduce_dims, "amin": _reduce_dims, "prod": _reduce_dims,
    "all": _reduce_dims, "any": _reduce_dims,
    "softmax": _shift_dim, "log_softmax": _shift_dim, "cumsum": _shift_dim,
    "cumprod": _shift_dim, "logcumsumexp": _shift_dim,
    "layer_norm": _norm_affine, "rms_norm": _norm_affine,
    "linear": _linear, "matmul": _matmul, "conv2d": _conv2d, "max_pool2d": _fold_n(4),
    "cross_entropy": _cross_entropy, "to_device": _same, "real": _same, "imag": _same,
    "view_as_real": _same, "view_as_complex": _same, "index_range_check": _same,
    "argmax": _arg_reduce, "argmin": _arg_reduce, "argsort": _shift_dim, "windows": _shift_dim,
    "flip": _shift_dims, "roll": _shift_dims,
    "pad_constant": _pad,
    "diagonal_last": _last_dims(2), "unfold": _fold_n(4), "fold": _fold_n(3),
    "batch_norm": _batch_norm, "scaled_dot_product_attention": _attention,
    "index_put": _index_put,
}
_KIND_RULES = {"elementwise": _elementwise}


def index(input, idx):
    """``input[idx]`` where the index holds a batched tensor: one gather for a single integer
    index tensor, else the index of each sample."""
    items = idx if isinstance(idx, tuple) else tuple(idx) if isinstance(idx, list) else (idx,)
    level = max(t._level for t in (input,) + items if type(t) is BatchedTensor)
    size = next(t._value.shape[0] for t in (input,) + items if is_batched_at(t, level))
    i = items[0]
    if len(items) == 1 and isinstance(i, Tensor) and i.dtype.is_floating_point is False and \
            i.dtype.itemsize > 1 and i.dim() > 0:   # integer indices (not a bool mask)
        iv = _value(i, level, size)
        if is_batched_at(input, level):
            xv = input._value
            rows = _reshape(apply(REGISTRY["cast"], arange(size, device=xv.device), dtype=i.dtype),
                            (size,) + (1,) * i.dim())
            return wrap(xv[rows, iv], level)
        return wrap(input[iv], level)
    outs = []
    for k in range(size):
        x = input._value[k] if is_batched_at(input, level) else input
        outs.append(x[tuple(_sample(t, k, level) for t in items)])
    return wrap(_stack(outs), level)


def commit(self, out):
    """An in-place op's result ``out`` written into ``self`` (a batched tensor): into its value,
    through an in-place copy there (views of it see the write; autograd records it)."""
    if type(self) is not BatchedTensor or (type(out) is BatchedTensor and
                                           out._level > self._level):
        raise RuntimeError(
            "vmap: inplace arithmetic(self, *extra_args) is not possible because there exists "
            "a Tensor `other` in extra_args that has more elements than `self`. This happened "
            "due to `other` being vmapped over but `self` not being vmapped over in a vmap. "
            "Please try to use out-of-place operators instead of inplace arithmetic.")
    level = self._level
    self._value.copy_(_value(out, level, self._value.shape[0]))
    return self


_registry.set_batching(BatchedArray, run, index, commit)

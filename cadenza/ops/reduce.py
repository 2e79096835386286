"""Reductions: sum, amax/amin, prod, cumsum and the index-producing argmax/argsort/topk, plus
the composites built on them (mean, var, std, logsumexp, max/min with indices, sort, norm)."""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ._registry import Op, register, apply
from .._tensor_base import TensorBase as Tensor, _make, _norm_dim
from .. import dtypes as _dt
from ..errors import DTypeError
from .._creation import _wrap_np
from .._creation import writes_out
from .._dispatch import state as _state
from .elementwise import isinf, isnan, maximum, minimum, where
from .binary import _with_zero_grad
from .index import GetItem, gather
from .inplace import make_inplace
from ..autograd.node import relabel

__all__ = ["all", "amax", "amin", "aminmax", "any", "argmax", "argmin", "count_nonzero",
           "cumprod", "cumsum", "logsumexp", "max", "mean", "min", "nansum", "norm",
           "prod", "std", "std_mean", "sum", "var", "var_mean"]



values_indices = namedtuple("values_indices", ["values", "indices"])


def _dims(dim, ndim, op):
    """Normalise dim (None, int or sequence) to a sorted tuple or None (all dims)."""
    if dim is None:
        return None
    if isinstance(dim, (int, np.integer)):
        dims = (_norm_dim(int(dim), ndim, op),)
    else:
        dims = tuple(sorted(_norm_dim(int(d), ndim, op) for d in dim))
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"{op}: dim {tuple(dim)} appears multiple times in the list of "
                               f"dims")
    # a 0-d tensor accepts dim 0 / -1 (as one element) and reduces over "all" of itself
    return dims if dims and ndim else None


def _kept_shape(shape, dims):
    if dims is None:
        return (1,) * len(shape)
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def _expand_back(g, in_shape, dims, keepdim):
    """Broadcast a reduced gradient back over the reduced dims."""
    if not keepdim:
        g = g.reshape(_kept_shape(in_shape, dims))
    return g.expand(in_shape)


def _reduce_onnx(onnx_op):
    """ONNX lowering of a reduction over attrs ``dims`` (None: all) and ``keepdim``."""
    def lower(ctx, node, out):
        nd = len(node.inputs[0].shape)
        dims = node.attrs.get("dims")
        dims = list(range(nd)) if dims is None else [int(d) % nd for d in
                                                     (dims if isinstance(dims, (tuple, list))
                                                      else (dims,))]
        ctx.reduce_node(node, out, onnx_op, dims, bool(node.attrs.get("keepdim", False)))
    return lower


def _half(a):
    """float16 or bfloat16 (NumPy kind 'f' or ml_dtypes' 'V'): PyTorch accumulates those in
    float32 (a float16 running sum stops growing at 2048 when adding ones)."""
    return a.dtype.itemsize == 2 and a.dtype.kind not in "iu"


def _running(fn, a, dtype, **kw):
    """cumsum/cumprod as torch computes them on CPU: float32 (and half) inputs accumulate in
    float64, rounded once per output element."""
    if dtype is not None and a.dtype != dtype:
        a = a.astype(dtype)
    if a.dtype == np.float32 or _half(a):
        return fn(a, dtype=np.float64, **kw).astype(a.dtype)
    return _accumulate(fn, a, None, **kw)


def _accumulate(fn, a, dtype, **kw):
    """fn (xp.sum, prod, cumsum, cumprod) with PyTorch's accumulator: int64 for integer and
    bool inputs (NumPy would give uint64 for unsigned ones), float32 for half floats."""
    if dtype is None:
        if a.dtype.kind in "biu" and a.dtype != np.int64:
            dtype = np.int64
        elif _half(a):
            return fn(a, dtype=np.float32, **kw).astype(a.dtype)
    elif a.dtype != dtype:   # torch casts the input first, then accumulates in ``dtype``
        a = a.astype(dtype)
    return fn(a, dtype=dtype, **kw)


@register
class Sum(Op):
    name, kind, onnx, saves = "sum", "reduce", _reduce_onnx("ReduceSum"), "none"
    c_reduce = "sum"

    @staticmethod
    def forward(xp, a, dims=None, keepdim=False, dtype=None):
        # np.sum is np.add.reduce behind a Python wrapper (~1 us a call): the ufunc directly
        return _accumulate(np.add.reduce if xp is np else xp.sum, a, dtype, axis=dims,
                           keepdims=keepdim)

    @staticmethod
    def backward(c, g):
        return (_expand_back(g, c.shape(0), c.attrs.get("dims"), c.attrs.get("keepdim")),)


class _Extreme(Op):
    kind, saves = "reduce", "both"

    # gradient split evenly among all elements equal to the extreme value, as torch.amax
    @staticmethod
    def backward(c, g):
        x = c.saved[0]
        dims, keepdim = c.attrs.get("dims"), c.attrs.get("keepdim")
        out = c.out
        if not keepdim:
            out = out.reshape(_kept_shape(c.shape(0), dims))
            g = g.reshape(out.shape)
        mask = (x == out)
        count = mask.sum(dim=dims, keepdim=True)
        return (g * mask / count,)


def _check_nonempty(op, a, dims, whole_error=RuntimeError):
    """An extreme (max/min or its index) of nothing is undefined: torch's errors, not NumPy's."""
    if a.size:
        return
    if dims is None:
        raise whole_error(f"{op}(): Expected reduction dim to be specified for input.numel() == "
                          f"0. Specify the reduction dim with the 'dim' argument.")
    for d in (dims if isinstance(dims, tuple) else (dims,)):
        if a.shape[d] == 0:
            raise IndexError(f"{op}(): Expected reduction dim {d} to have non-zero size.")


def _extreme(name, fn):
    def fwd(xp, a, dims=None, keepdim=False):
        _check_nonempty(name, a, dims)
        return fn(a, axis=dims, keepdims=keepdim)
    return staticmethod(fwd)


@register
class Amax(_Extreme):
    name, onnx, c_reduce = "amax", _reduce_onnx("ReduceMax"), "max"
    forward = _extreme("amax", np.max)


@register
class Amin(_Extreme):
    name, onnx, c_reduce = "amin", _reduce_onnx("ReduceMin"), "min"
    forward = _extreme("amin", np.min)


@register
class Prod(Op):
    name, kind, onnx = "prod", "reduce", _reduce_onnx("ReduceProd")
    autocast = "fp32"   # on torch's CPU autocast fp32 list

    @staticmethod
    def forward(xp, a, dims=None, keepdim=False, dtype=None):
        return _accumulate(xp.prod, a, dtype, axis=dims, keepdims=keepdim)

    # d prod / d x_i = product of the others. With no zero that is prod / x_i; with exactly one
    # zero only that element gets the product of the rest; with two or more zeros all are 0.
    @staticmethod
    def backward(c, g):
        x = c.saved[0]
        dims, keepdim = c.attrs.get("dims"), c.attrs.get("keepdim")
        if not keepdim:
            g = g.reshape(_kept_shape(c.shape(0), dims))
        nz = x != 0
        zeros = (~nz).sum(dim=dims, keepdim=True)
        prod_nz = where(nz, x, 1.0).prod(dim=dims, keepdim=True)
        others = where(nz, where(zeros == 0, prod_nz / where(nz, x, 1.0), 0.0),
                       where(zeros == 1, prod_nz, 0.0))
        return (g * others,)


@register
class Cumsum(Op):
    name, kind, onnx, saves = "cumsum", "reduce", None, "none"

    @staticmethod
    def forward(xp, a, dim=0, dtype=None):
        return _running(xp.cumsum, a, dtype, axis=dim)

    # the adjoint of a running sum is a reversed running sum
    @staticmethod
    def backward(c, g):
        d = c.attrs.get("dim", 0)
        return (g.flip(d).cumsum(d).flip(d),)


_CUMPROD_EXACT = 128


@register
class Cumprod(Op):
    name, kind, onnx, saves = "cumprod", "reduce", None, "both"

    @staticmethod
    def forward(xp, a, dim=0, dtype=None):
        return _running(xp.cumprod, a, dtype, axis=dim)

    # d out_j / d x_i = prod_{k <= j, k != i} x_k for j >= i, so grad_i = sum_{j >= i} g_j P_ij.
    # Up to _CUMPROD_EXACT elements along dim, P is built directly as the cumprod of x with x_i
    # set to 1 in row i (O(n^2), exact at zeros to every order). Longer dims use O(n): before
    # the first zero P_ij = out_j / x_i; at the first zero z it is the cumprod of x with x_z set
    # to 1; after z every term holds x_z = 0, so 0 (exact to first order, as torch's fast path).
    @staticmethod
    def backward(c, g):
        x = c.saved[0]
        d = c.attrs.get("dim", 0)
        n = x.shape[d]
        if n <= _CUMPROD_EXACT:
            xm, gm = x.movedim(d, -1), g.movedim(d, -1)                # (..., n)
            eye = _wrap_np(np.eye(n, dtype=bool))
            rows = where(eye, 1.0, xm.unsqueeze(-2).expand(*xm.shape[:-1], n, n))  # (..., i, k)
            p = apply(Cumprod, rows, dim=xm.ndim)                       # (..., i, j)
            upper = _wrap_np(np.triu(np.ones((n, n), dtype=bool)))      # j >= i
            gi = where(upper, p * gm.unsqueeze(-2), 0.0).sum(-1)       # (..., n)
            return (gi.movedim(-1, d),)

        def rev_cumsum(t):
            return t.flip(d).cumsum(d).flip(d)
        zero = x == 0
        nz_before = zero.cumsum(d)
        before = nz_before == 0
        first_zero = zero & (nz_before == 1)
        safe_x = where(zero, 1.0, x)
        g_before = rev_cumsum(g * c.out) / safe_x
        x_one = where(first_zero, 1.0, x)
        g_zero = rev_cumsum(g * apply(Cumprod, x_one, dim=d))
        return (where(before, g_before, where(first_zero, g_zero, 0.0)),)


def _nondiff(name, fwd, onnx, **fields):
    return register(type(name, (Op,), {**fields,
        "name": name, "kind": "reduce", "onnx": onnx, "differentiable": False, "saves": "none",
        "forward": staticmethod(fwd)}))


def _arg_extreme(fn):
    name = "argmax" if fn is np.argmax else "argmin"

    def fwd(xp, a, dim=None, keepdim=False):
        _check_nonempty(name, a, dim, IndexError)
        if dim is None:
            r = fn(a.reshape(-1), axis=0)
            return xp.asarray(r, dtype=np.int64).reshape((1,) * a.ndim if keepdim else ())
        return fn(a, axis=dim, keepdims=keepdim).astype(np.int64, copy=False)
    return fwd


def _arg_extreme_onnx(onnx_op):
    def lower(ctx, node, out):
        x = node.inputs[0]
        dim, keep = node.attrs.get("dim"), bool(node.attrs.get("keepdim", False))
        src = ctx.name(x)
        if dim is None:   # over the flattened tensor
            src = ctx.node("Reshape", [src, ctx.i64([-1])])
            r = ctx.node(onnx_op, [src], axis=0, keepdims=0)
            ctx.node("Reshape", [r, ctx.i64(node.out.shape)], out)
            return
        # NumPy and ONNX (select_last_index=0) both return the first extreme on ties
        ctx.node(onnx_op, [src], out, axis=int(dim) % len(x.shape), keepdims=int(keep))
    return lower


Argmax = _nondiff("argmax", _arg_extreme(np.argmax), _arg_extreme_onnx("ArgMax"))
Argmin = _nondiff("argmin", _arg_extreme(np.argmin), _arg_extreme_onnx("ArgMin"))
def _truth_reduce(fn):
    # torch keeps uint8 for all()/any() of a uint8 tensor (a legacy of its byte masks); every
    # other dtype gives bool
    def fwd(xp, a, dims=None, keepdim=False):
        r = fn(a, axis=dims, keepdims=keepdim)
        return r.astype(xp.uint8) if a.dtype == xp.uint8 else r
    return fwd


All = _nondiff("all", _truth_reduce(np.all), None)
Any = _nondiff("any", _truth_reduce(np.any), None)


# ----------------------------------------------------------------------------- public functions
def sum(input, dim=None, keepdim=False, *, dtype=None):
    """Sum over ``dim`` (all dims when None)."""
    dims = _dims(dim, input._data.ndim, "sum")
    out = apply(Sum, input, dims=dims, keepdim=keepdim,
                dtype=None if dtype is None else _dt.to_dtype(dtype).np)
    return out if dim is None else relabel(out, "SumBackward1")   # torch's name with a dim


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    if not (input.is_floating_point() or input.is_complex()):   # no NaN: sum (int64 for ints)
        return sum(input, dim, keepdim, dtype=dtype)
    return sum(where(isnan(input), 0.0, input), dim, keepdim, dtype=dtype)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    """Arithmetic mean over ``dim``."""
    if dtype is not None:
        input = input.to(dtype)
    if not (input.is_floating_point() or input.is_complex()):
        raise DTypeError(f"mean(): could not infer output dtype. Input dtype must be either a "
                         f"floating point or complex dtype. Got: {input.dtype.name.capitalize()}")
    if _half(input._data):  # in float32 as PyTorch: n itself may not fit float16
        return mean(input.float(), dim, keepdim).to(input.dtype)
    dims = _dims(dim, input._data.ndim, "mean")
    n = _count(input.shape, dims)
    out = apply(Sum, input, dims=dims, keepdim=keepdim) / n if n else \
        apply(Sum, input, dims=dims, keepdim=keepdim) * float("nan")
    # (sum / n: its node shows as torch's one mean node)
    return relabel(out, "MeanBackward0" if dim is None else "MeanBackward1", (input,))


def _count(shape, dims):
    n = 1
    for i, s in enumerate(shape):
        if dims is None or i in dims:
            n *= s
    return n


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance with Bessel's correction by default (``correction=1``)."""
    if isinstance(dim, bool):       # var(False): torch's var(unbiased) overload
        dim, unbiased = None, dim
    if isinstance(unbiased, (int, np.integer)) and not isinstance(unbiased, bool) and \
            dim is None:
        dim, unbiased = None, None  # guard against positional misuse
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    if _half(input._data):  # in float32 as PyTorch (squares overflow float16)
        return var(input.float(), dim, keepdim=keepdim, correction=correction).to(input.dtype)
    dims = _dims(dim, input._data.ndim, "var")
    n = _count(input.shape, dims)
    mu = mean(input, dim=dims, keepdim=True)
    if n - correction > 0:
        d = input - mu
        return relabel(sum(_abs2(d), dim=dims, keepdim=keepdim) / (n - correction),
                       "VarBackward0", (input,))
    # no degrees of freedom: the value is s / 0 (inf, or NaN), the gradient torch's
    # 2 (x - mean) / (n - correction) (+-inf at 0, finite below), the mean's own term left out
    s = sum(_abs2(input - mu.detach()), dim=dims, keepdim=keepdim)
    out = s / 0 if n == correction else s.detach() / 0 + (s - s.detach()) / (n - correction)
    return relabel(out, "VarBackward0", (input,))


def _abs2(x):
    """|x|^2 elementwise: x * x, or x * conj(x)'s real part for complex x (a real result)."""
    return x * x if x._data.dtype.kind != "c" else (x * x.conj()).real


def _sqrt0(s):
    """sqrt(s) with gradient 0 where s == 0 (where sqrt's is inf and the chain rule would give
    0 * inf = NaN), as PyTorch's norm and std backward mask it. Values are sqrt's own."""
    d = s._data
    if _state.tracer is None and type(d) is np.ndarray and not (d == 0).any():
        return s.sqrt()   # no zero: the same values and gradient in one op instead of four
    zero = s == 0
    return where(zero, 0.0, where(zero, 1.0, s).sqrt())


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    if _half(input._data):  # in float32 and rounded once, as PyTorch
        return std(input.float(), dim, unbiased, keepdim, correction=correction).to(input.dtype)
    return relabel(_sqrt0(var(input, dim, unbiased, keepdim, correction=correction)),
                   "StdBackward0", (input,))


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return (var(input, dim, unbiased, keepdim, correction=correction),
            _welford_mean(input, dim, keepdim))


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return (std(input, dim, unbiased, keepdim, correction=correction),
            _welford_mean(input, dim, keepdim))


def _welford_mean(input, dim, keepdim):
    """The mean var_mean/std_mean give: torch's Welford update (mean += (x - mean) / k, in
    order) turns an inf followed by any element into inf - inf = NaN; the plain mean
    elsewhere. So beside a non-finite element the mean is NaN, unless the only one is an inf
    that comes last (then it is that inf)."""
    m = mean(input, dim, keepdim)
    if input._data.dtype.kind != "f" or input._data.ndim == 0:
        return m
    dims = _dims(dim, input._data.ndim, "var_mean") or tuple(range(input.ndim))
    if _count(input.shape, dims) == 0:
        return m
    keep = [d for d in range(input.ndim) if d not in dims]
    x = input.permute(*keep, *dims).reshape(*[input.shape[d] for d in keep],
                                            _count(input.shape, dims))
    last = x[..., -1]
    bad = (~x.isfinite()).sum(-1)
    special = where((bad == 1) & isinf(last), last, float("nan"))
    if keepdim:
        for d in sorted(dims):
            special, bad = special.unsqueeze(d), bad.unsqueeze(d)
    return where(bad == 0, m, special.to(m.dtype))


def amax(input, dim=(), keepdim=False):
    dims = _dims(dim, input._data.ndim, "amax") if dim != () else None
    return apply(Amax, input, dims=dims, keepdim=keepdim)


def amin(input, dim=(), keepdim=False):
    dims = _dims(dim, input._data.ndim, "amin") if dim != () else None
    return apply(Amin, input, dims=dims, keepdim=keepdim)


def _extreme_with_indices(input, dim, keepdim, argfn, name):
    d = _norm_dim(dim, input._data.ndim, name)
    if input._data.ndim == 0:
        return values_indices(input, apply(argfn, input))
    x = input._data
    if _state.plain and type(x) is np.ndarray and x.shape[d]:
        # no hook: the (never differentiable) arg-extreme in NumPy; the values too when nothing
        # records, else picked by one recorded op on a matrix (an accuracy's ``out.max(1)``
        # without the ~4 dispatched ops below)
        i = argfn.forward(np, x, dim=d, keepdim=True)
        if not (_state.grad_enabled and (input._requires_grad or (
                input._base is not None and input._base._requires_grad))):
            v = np.take_along_axis(x, i, d)
            if not keepdim:
                i, v = i.squeeze(d), v.squeeze(d)
            return values_indices(_make(v), _make(i))
        node = "MaxBackward0" if name == "max" else "MinBackward0"   # torch's one node
        if x.ndim == 2 and not keepdim:
            i = i.squeeze(d)
            rows = np.arange(x.shape[1 - d])
            j = i.copy()   # (backward reads the index: not the array handed out)
            values = apply(GetItem, input, index=(rows, j) if d else (j, rows))
            return values_indices(relabel(values, node, (input,)), _make(i))
        idx = _make(i)
    else:
        idx = apply(argfn, input, dim=d, keepdim=True)
    values = gather(input, d, idx)
    if not keepdim:
        values, idx = values.squeeze(d), idx.squeeze(d)
    return values_indices(relabel(values, "MaxBackward0" if name == "max" else "MinBackward0",
                                  (input,)), idx)


@writes_out
def max(input, dim=None, keepdim=False, *, other=None, out=None):
    """max(x) -> value; max(x, dim) -> (values, indices); max(x, other) -> elementwise."""
    if other is not None or isinstance(dim, Tensor):
        return maximum(input, dim if other is None else other)
    if dim is None:
        if input._data.size == 0:
            raise RuntimeError("max(): Expected reduction dim to be specified for input.numel() "
                               "== 0. Specify the reduction dim with the 'dim' argument.")
        return relabel(apply(Amax, input), "MaxBackward1")
    return _extreme_with_indices(input, dim, keepdim, Argmax, "max")


@writes_out
def min(input, dim=None, keepdim=False, *, other=None, out=None):
    if other is not None or isinstance(dim, Tensor):
        return minimum(input, dim if other is None else other)
    if dim is None:
        if input._data.size == 0:
            raise RuntimeError("min(): Expected reduction dim to be specified for input.numel() "
                               "== 0. Specify the reduction dim with the 'dim' argument.")
        return relabel(apply(Amin, input), "MinBackward1")
    return _extreme_with_indices(input, dim, keepdim, Argmin, "min")


def aminmax(input, *, dim=None, keepdim=False):
    return namedtuple("aminmax", ["min", "max"])(amin(input, dim if dim is not None else (),
                                                      keepdim),
                                                 amax(input, dim if dim is not None else (),
                                                      keepdim))


def _no_bool(input, op):
    # (max/min along a dim take bool; their argmax/argmin do not, as in torch)
    if input._data.dtype == np.bool_:
        raise RuntimeError(f"{op}(): does not support bool input")


def argmax(input, dim=None, keepdim=False):
    _no_bool(input, "argmax")
    if dim is not None:
        dim = _norm_dim(dim, input._data.ndim, "argmax")
    return apply(Argmax, input, dim=dim, keepdim=keepdim)


def argmin(input, dim=None, keepdim=False):
    _no_bool(input, "argmin")
    if dim is not None:
        dim = _norm_dim(dim, input._data.ndim, "argmin")
    return apply(Argmin, input, dim=dim, keepdim=keepdim)


def prod(input, dim=None, keepdim=False, *, dtype=None):
    dims = None if dim is None else _dims(dim, input._data.ndim, "prod")
    return apply(Prod, input, dims=dims, keepdim=keepdim,
                 dtype=None if dtype is None else _dt.to_dtype(dtype).np)


def _cumulative(op, input, dim, dtype):
    """A scan along ``dim``; a 0-d input scans as one element and keeps shape () as torch."""
    d = _norm_dim(dim, input._data.ndim, op.name)
    np_dtype = None if dtype is None else _dt.to_dtype(dtype).np
    if input._data.ndim == 0:
        return apply(op, input.reshape(1), dim=0, dtype=np_dtype).reshape(())
    return apply(op, input, dim=d, dtype=np_dtype)


def cumsum(input, dim, *, dtype=None):
    return _cumulative(Cumsum, input, dim, dtype)


def cumprod(input, dim, *, dtype=None):
    return _cumulative(Cumprod, input, dim, dtype)


def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(x))) computed stably: m + log(sum(exp(x - m))) with m = max (detached)."""
    if input._data.dtype.kind in "biu":   # integers and bools compute in the default float
        input = input.to(_dt.get_default_dtype())
    dims = _dims(dim, input._data.ndim, "logsumexp")
    if input._data.size == 0:   # log(0) = -inf, as torch
        return input.exp().sum(dims, keepdim).log()
    m = amax(input, dims, keepdim=True).detach()
    m = where(isinf(m), 0.0, m)
    out = (input - m).exp().sum(dim=dims, keepdim=True).log() + m
    return out if keepdim else out.squeeze(dims if dims is not None else None) if dims else \
        out.reshape(())


def all(input, dim=None, keepdim=False):
    dims = _dims(dim, input._data.ndim, "all") if not _no_dims(dim) else ()
    return apply(All, input, dims=dims, keepdim=keepdim)


def any(input, dim=None, keepdim=False):
    dims = _dims(dim, input._data.ndim, "any") if not _no_dims(dim) else ()
    return apply(Any, input, dims=dims, keepdim=keepdim)


def _no_dims(dim):
    """dim=() for any/all: torch reduces over no dim (each element's truth value), where
    sum and mean read () as all dims."""
    return isinstance(dim, (tuple, list)) and len(dim) == 0


def count_nonzero(input, dim=None):
    return sum(input != 0, dim)


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """Vector p-norm over dim (or all elements): p in {2, 'fro', 1, inf, -inf, 0, float}."""
    return relabel(_vector_norm(input, p, dim, keepdim, dtype), "LinalgVectorNormBackward0",
                   (input,))   # (torch's one node)


def _vector_norm(input, p, dim, keepdim, dtype):
    if input._data.dtype.kind not in "fcV":
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {input.dtype.name}")
    if dtype is not None:
        dtype = _dt.to_dtype(dtype)
        if not (dtype.is_floating_point or dtype.is_complex):
            raise RuntimeError(f"linalg.vector_norm: dtype should be floating point or complex, "
                               f"but got {dtype.name}")
        if _dt.promote_types(input.dtype, dtype) != dtype:
            raise RuntimeError(f"linalg.vector_norm: the dtype of the input ({input.dtype.name}) "
                               f"should be convertible without narrowing to the specified dtype "
                               f"({dtype.name})")
        input = input.to(dtype)
    if input._data.dtype.itemsize == 2 and input.is_floating_point():
        # float16/bfloat16: 300 * 300 already overflows; PyTorch accumulates in float32
        return _vector_norm(input.float(), p, dim, keepdim, None).to(input.dtype)
    if isinstance(dim, int):
        dim = (dim,)
    if not isinstance(p, str) and (p < 0 or p == float("inf")) and input.numel() == 0 and 0 in (
            input.shape if dim is None else [input.shape[d] for d in dim]):
        raise RuntimeError(f"linalg.vector_norm cannot compute the {p} norm on an empty "
                           f"dimension because the operation does not have an identity")
    if p in ("fro", 2, 2.0):
        return _sqrt0(_abs2(input).sum(dim, keepdim))
    a = input.abs()
    if p == float("inf"):
        return a.amax(dim if dim is not None else (), keepdim)
    if p == float("-inf"):
        return a.amin(dim if dim is not None else (), keepdim)
    if p == 1:
        return a.sum(dim, keepdim)
    if p == 0:   # a count: torch's result still requires grad (a zero gradient)
        count = (input != 0).to(a.dtype).sum(dim, keepdim)
        return _with_zero_grad(count, input.sum(dim, keepdim)) if input.requires_grad else count
    nz = a != 0
    if p < 0:
        # a zero element makes the norm 0 (a ** p = inf); torch's gradient is 0 there, where
        # the chain rule through inf would give 0 * inf = NaN: compute the rows with a zero on
        # a zero-free stand-in and select 0 for them (a NaN in the row still wins, as torch)
        has_zero = (~nz).sum(dim, keepdim) > 0
        s = (where(nz, a, 1.0) ** p).sum(dim, keepdim)
        return where(has_zero & (s == s), 0.0, s ** (1.0 / p))
    # as _sqrt0: PyTorch's gradient is 0 at zero elements and for a zero vector, where the
    # chain rule through a ** p and s ** (1 / p) gives 0 * inf = NaN; values are unchanged
    s = where(nz, where(nz, a, 1.0) ** p, 0.0).sum(dim, keepdim)
    zero = s == 0
    return where(zero, 0.0, where(zero, 1.0, s) ** (1.0 / p))


_cumsum_ = make_inplace(cumsum, "cumsum_")
_cumprod_ = make_inplace(cumprod, "cumprod_")


# ----------------------------------------------------------------------------- Tensor methods
class ReduceMethods:
    """cadenza.Tensor's methods for this module's functions (``x.f(...)`` is ``f(x, ...)``,
    in-place ``x.f_(...)`` commits it into x); ``cadenza/_tensor.py`` composes them."""
    __slots__ = ()

    # --- Tensor methods (issue 10)
    def cumsum_(self, dim, *, dtype=None):
        return _cumsum_(self, dim, dtype=dtype)

    def cumprod_(self, dim, *, dtype=None):
        return _cumprod_(self, dim, dtype=dtype)
    # --- end issue 10

    sum = sum
    nansum = nansum
    mean = mean
    var = var
    std = std
    amax = amax
    amin = amin
    max = max
    min = min
    aminmax = aminmax
    argmax = argmax
    argmin = argmin
    prod = prod
    cumsum = cumsum
    cumprod = cumprod
    logsumexp = logsumexp
    all = all
    any = any
    count_nonzero = count_nonzero
    norm = norm

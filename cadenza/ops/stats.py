"""Scans and statistics (issue 10): cummax/cummin (an index primitive, values gathered so the
gradient flows to the chosen elements), logcumsumexp (a primitive), diff, NaN-aware reductions
(nanmean, nanmedian), quantiles, mode, histograms, cov/corrcoef, renorm."""
from __future__ import annotations

import builtins
import math
from collections import namedtuple

import numpy as np

from ._registry import Op, register, apply
from .._dispatch import state as _state
from .._tensor_base import TensorBase as Tensor, _norm_dim, _make
from .. import dtypes as _dt
from .._creation import _created, _wrap_np, full, tensor
from .elementwise import isnan, where
from .index import _data_dependent, gather
from .join import cat
from .reduce import _nondiff, values_indices, nansum
from .sorting import _no_bool_median, argsort, empty_median, sort
from .inplace import make_inplace
from .pointwise import float_only
from ._registry import on_host

__all__ = ["cummax", "cummin", "logcumsumexp", "diff", "msort", "nanmean", "nanmedian",
           "quantile", "nanquantile", "mode", "histc", "histogram", "cov", "corrcoef",
           "renorm", "unique_consecutive"]


# ----------------------------------------------------------------------------- cummax / cummin
def _cum_extreme_index(better):
    """Index of the running extreme along ``dim``: a later element wins ties (as PyTorch) and a
    NaN, once seen, stays the extreme."""
    def fwd(xp, a, dim=0):
        x = xp.moveaxis(a, dim, -1)
        idx = xp.zeros(x.shape, np.int64)
        if x.shape[-1]:
            best = x[..., 0].copy()
            cur = xp.zeros(x.shape[:-1], np.int64)
            for i in range(x.shape[-1]):
                v = x[..., i]
                take = better(v, best) | (v == best) | (v != v)
                if x.dtype.kind in "fV":
                    take = take & ~((best != best) & (v == v))
                best = xp.where(take, v, best)
                cur = xp.where(take, i, cur)
                idx[..., i] = cur
        return xp.moveaxis(idx, -1, dim)
    return fwd


CummaxIndex = _nondiff("cummax_index", on_host(_cum_extreme_index(np.greater)), None)
CumminIndex = _nondiff("cummin_index", on_host(_cum_extreme_index(np.less)), None)
_cummax = namedtuple("cummax", ["values", "indices"])
_cummin = namedtuple("cummin", ["values", "indices"])


def _cum_extreme(input, dim, op, result, name):
    if input._data.ndim == 0:
        _norm_dim(dim, 0, name)
        v, i = _cum_extreme(input.reshape(1), 0, op, result, name)
        return result(v.reshape(()), i.reshape(()))
    d = _norm_dim(dim, input._data.ndim, name)
    idx = apply(op, input, dim=d)
    return result(gather(input, d, idx), idx)


def cummax(input, dim):
    """(running maximum along dim, the index where each was found)."""
    return _cum_extreme(input, dim, CummaxIndex, _cummax, "cummax")


def cummin(input, dim):
    return _cum_extreme(input, dim, CumminIndex, _cummin, "cummin")


_LCSE_EXACT = 256


@register
class Logcumsumexp(Op):
    """log(cumsum(exp(x))) along dim, by NumPy's logaddexp.accumulate (no overflow)."""
    name, kind, onnx, saves = "logcumsumexp", "reduce", None, "both"
    to_float = True

    @staticmethod
    @on_host
    def forward(xp, a, dim=0):
        with np.errstate(invalid="ignore"):
            return np.logaddexp.accumulate(a, axis=dim)

    # d out_j / d x_i = exp(x_i - out_j) for j >= i. Up to _LCSE_EXACT elements along dim, the
    # (i, j) matrix is built directly (each term <= 1: no overflow, exact to every order); longer
    # dims use exp(x_i - m) * revcumsum(g_j exp(m - out_j)) with m the slice's last output.
    @staticmethod
    def backward(c, g):
        x = c.saved[0]
        d = c.attrs.get("dim", 0)
        out = c.out
        n = x.shape[d]
        if n <= _LCSE_EXACT:
            xm, om, gm = x.movedim(d, -1), out.movedim(d, -1), g.movedim(d, -1)
            upper = _wrap_np(np.triu(np.ones((n, n), dtype=bool)))      # j >= i
            w = where(upper, (xm.unsqueeze(-1) - om.unsqueeze(-2)).exp(), 0.0)  # (..., i, j)
            return ((w * gm.unsqueeze(-2)).sum(-1).movedim(-1, d),)
        m = out.narrow(d, n - 1, 1).detach()
        t = (g * (m - out).exp()).flip(d).cumsum(d).flip(d)
        return (t * (x - m).exp(),)


def logcumsumexp(input, dim):
    float_only("logcumsumexp", input)
    if input._data.ndim == 0:
        _norm_dim(dim, 1, "logcumsumexp")   # a 0-d tensor takes dim 0 or -1 only
        return apply(Logcumsumexp, input.reshape(1), dim=0).reshape(())
    return apply(Logcumsumexp, input, dim=_norm_dim(dim, input._data.ndim, "logcumsumexp"))


# ----------------------------------------------------------------------------- diff, msort
def diff(input, n=1, dim=-1, prepend=None, append=None):
    """n-th forward difference along dim (after prepending/appending)."""
    d = _norm_dim(dim, input._data.ndim, "diff")
    parts = [t for t in (prepend, input, append) if t is not None]
    if len(parts) > 1:
        parts = [t if isinstance(t, Tensor) else tensor(t, dtype=input.dtype) for t in parts]
        parts = [t.expand(*[s if i != d else t.shape[d] if t.ndim == input.ndim else 1
                            for i, s in enumerate(input.shape)]) if t.ndim == input.ndim
                 else t.reshape(*[1 if i != d else -1 for i in range(input.ndim)]).expand(
                     *[s if i != d else -1 for i, s in enumerate(input.shape)])
                 for t in parts]
        input = cat(parts, d)
    out = input
    for _ in range(n):
        k = out.shape[d]
        if k == 0:
            break
        hi, lo = out.narrow(d, 1, k - 1), out.narrow(d, 0, k - 1)
        out = hi.logical_xor(lo) if out.dtype is _dt.bool else hi - lo
    return out


def msort(input):
    return sort(input, 0).values


# ----------------------------------------------------------------------------- NaN-aware
def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    if not (input.is_floating_point() or input.is_complex()):   # (before dtype=, as torch)
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype "
                           f"but got {input.dtype.name}")
    if dtype is not None:
        if not (_dt.to_dtype(dtype).is_floating_point or _dt.to_dtype(dtype).is_complex):
            raise RuntimeError(f"nanmean(): could not infer output dtype. Optional dtype must be "
                               f"either a floating point or complex dtype. Got: {dtype}")
        input = input.to(dtype)
    count = (~isnan(input)).sum(dim, keepdim)
    none = count == 0                   # all NaN: NaN, without NumPy's 0/0 warning
    return where(none, math.nan, nansum(input, dim, keepdim) / where(none, 1, count))


def nanmedian(input, dim=None, keepdim=False):
    """Lower median of the non-NaN elements (NaN where a slice holds only NaN)."""
    _no_bool_median(input, dim)
    if dim is None:
        if input._data.size == 0:
            return empty_median(input)
        return nanmedian(input.reshape(-1), 0).values
    d = _norm_dim(dim, input._data.ndim, "nanmedian")
    if input._data.ndim == 0:
        return values_indices(input, full((), 0, dtype=_dt.int64))
    if not input.is_floating_point():
        return input.median(d, keepdim)
    if input.shape[d] == 0:
        raise IndexError(f"nanmedian(): Expected reduction dim {d} to have non-zero size.")
    order = argsort(input, d)                          # NaN sort last
    k = (~isnan(input)).sum(d, keepdim=True)
    pos = ((k - 1) * 0.5).floor().clamp(min=0).to(_dt.int64)   # (floor exports to ONNX)
    idx = gather(order, d, pos)
    v = gather(input, d, idx)
    if not keepdim:
        v, idx = v.squeeze(d), idx.squeeze(d)
    return values_indices(v, idx)


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(input, q, dim, keepdim, interpolation, ignore_nan, name):
    if not input.is_floating_point():
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"{name}() interpolation must be one of linear, lower, higher, "
                         f"midpoint or nearest. Got {interpolation}")
    scalar_q = not isinstance(q, Tensor)
    if scalar_q:
        if not 0 <= q <= 1:
            raise RuntimeError(f"{name}() q must be in the range [0, 1] but got {q}")
        qt = tensor([q], dtype=input.dtype)
    else:
        if q.ndim > 1:
            raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
        if q.dtype is not input.dtype:
            raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
        qt = q.to(input.dtype).reshape(-1)
        if _state.tracer is None and bool(((qt < 0) | (qt > 1)).any()):  # (eager check)
            raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
    x = input
    if dim is None:
        x = x.reshape(-1)
        d = 0
    else:
        d = _norm_dim(dim, x._data.ndim, name)
    if x._data.ndim == 0:
        x = x.reshape(1)
    if x.shape[d] == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    xs = sort(x.movedim(d, -1), -1).values                    # (..., n), NaN last
    n = xs.shape[-1]
    nan = isnan(xs)
    qs = qt.reshape((-1,) + (1,) * xs.ndim)                   # (Q, 1, ..., 1)
    # PyTorch's ranks: over the non-NaN count for nanquantile (0 where all are NaN); over n
    # for quantile, the last index (a NaN) where a slice holds one
    if ignore_nan:
        ranks = (qs * ((~nan).sum(-1, keepdim=True) - 1)).clamp(min=0)
    else:
        ranks = where(nan.sum(-1, keepdim=True) > 0, float(n - 1), qs * (n - 1))  # (sum: ONNX)
    if interpolation == "lower":
        ranks = ranks.floor()
    elif interpolation == "higher":
        ranks = ranks.ceil()
    elif interpolation == "nearest":
        ranks = ranks.round()
    xe = xs.unsqueeze(0).expand(qs.shape[0], *xs.shape)
    lead = tuple(xe.shape[:-1]) + (1,)
    ranks = ranks.expand(*lead)
    below = ranks.floor().to(_dt.int64)
    out = gather(xe, -1, below)
    if interpolation in ("linear", "midpoint"):
        above = gather(xe, -1, ranks.ceil().to(_dt.int64))
        w = 0.5 if interpolation == "midpoint" else ranks - below.to(ranks.dtype)
        out = out + w * (above - out)
    out = out.squeeze(-1)                                     # (Q, ...)
    if keepdim:
        if dim is None:
            out = out.reshape((out.shape[0],) + (1,) * input.ndim)
        else:
            out = out.unsqueeze(d + 1)
    if scalar_q:
        out = out.squeeze(0)
    return out


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    return _quantile(input, q, dim, keepdim, interpolation, False, "quantile")


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    return _quantile(input, q, dim, keepdim, interpolation, True, "nanquantile")


def _mode_index(xp, a, dim=-1):
    """Index (the last occurrence) of the most frequent value along dim, the smallest value
    among equally frequent ones."""
    x = np.moveaxis(np.asarray(a), dim, -1)
    flat = x.reshape(-1, x.shape[-1])
    out = np.empty(flat.shape[0], np.int64)
    for r, row in enumerate(flat):
        vals, inv, counts = np.unique(row, return_inverse=True, return_counts=True)
        best = int(np.argmax(counts))                  # first max: the smallest value
        out[r] = np.flatnonzero(inv.reshape(-1) == best)[-1]
    return out.reshape(x.shape[:-1])


ModeIndex = _nondiff("mode_index", on_host(_mode_index), None)


def mode(input, dim=-1, keepdim=False):
    """(most frequent value along dim, its index); gradient flows to that element."""
    if input._data.ndim == 0:
        _norm_dim(dim, 0, "mode")
        v, i = mode(input.reshape(1), 0)
        return _mode(v.reshape(()), i.reshape(()))
    d = _norm_dim(dim, input._data.ndim, "mode")
    if input.shape[d] == 0:
        raise IndexError(f"mode(): Expected reduction dim {d} to have non-zero size.")
    idx = apply(ModeIndex, input, dim=d).unsqueeze(d)
    v = gather(input, d, idx)
    if not keepdim:
        v, idx = v.squeeze(d), idx.squeeze(d)
    return _mode(v, idx)


_mode = namedtuple("mode", ["values", "indices"])


# ----------------------------------------------------------------------------- histograms
def _histc(xp, a, bins=100, min=0.0, max=0.0):
    lo, hi = a.dtype.type(min), a.dtype.type(max)
    if lo == hi and a.size:   # torch: the data's range, which must be finite
        lo, hi = a.min(), a.max()
    if lo == hi:
        lo, hi = lo - a.dtype.type(1), hi + a.dtype.type(1)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(f"torch.histc: range of [{lo:g}, {hi:g}] is not finite")
    # torch's bin of x: floor((x - lo) * bins / (hi - lo)) in the input's dtype, hi in the last
    # bin (np.histogram's own edge arithmetic puts some elements one bin off)
    v = a.reshape(-1)
    v = v[(v >= lo) & (v <= hi)]
    pos = ((v - lo) * a.dtype.type(bins) / (hi - lo)).astype(np.int64)
    h = np.bincount(np.minimum(pos, bins - 1), minlength=bins)
    return h.astype(a.dtype)


Histc = _nondiff("histc", on_host(_histc), None)


def histc(input, bins=100, min=0, max=0):
    """Counts of elements in ``bins`` equal-width bins over [min, max] (the data's range when
    min == max); elements outside are ignored."""
    float_only("histogram", input)
    if bins <= 0:
        raise RuntimeError(f"torch.histc: bins must be > 0, but got {bins} for dimension 0")
    if min > max:
        raise RuntimeError(f"torch.histc: min must be less than or equal to max, got {min}, "
                           f"{max}")
    return apply(Histc, input, bins=int(bins), min=float(min), max=float(max))


_histogram = namedtuple("histogram", ["hist", "bin_edges"])


def histogram(input, bins=100, *, range=None, weight=None, density=False):
    """(hist, bin_edges) as numpy.histogram, in input's dtype."""
    _data_dependent(input, "histogram")
    b = bins._data if isinstance(bins, Tensor) else int(bins)
    if isinstance(bins, Tensor) and (b.ndim != 1 or b.size < 2):
        raise RuntimeError(f"torch.histogram(): bins must be a 1-d tensor of at least 2 edges "
                           f"(at least one bin), got shape {tuple(b.shape)}")
    a = input._data
    if range is None and not isinstance(bins, Tensor) and a.size and a.min() == a.max():
        range = (float(a.min()), float(a.max()))
    lo, hi = (float(a.min()), float(a.max())) if range is None and a.size and \
        not isinstance(bins, Tensor) else (range or (0.0, 0.0))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(f"torch.histogram: dimension 0's range [{lo:g}, {hi:g}] is not "
                           f"finite")
    h, edges = np.histogram(a, bins=b, range=range,
                            weights=None if weight is None else weight._data, density=density)
    dt = a.dtype
    return _histogram(_created(_make(h.astype(dt))), _created(_make(edges.astype(dt))))


# ----------------------------------------------------------------------------- covariance
def _concrete(t):
    """Values readable now: not a meta tensor, nor a traced non-constant."""
    return not t.is_meta and (_state.tracer is None or _state.tracer.is_const(t))


def _check_cov_weights(fweights, aweights):
    """torch's refusals: integral non-negative fweights, non-negative aweights."""
    if fweights is not None and (fweights.is_floating_point() or fweights.is_complex()):
        raise RuntimeError(f"cov(): expected fweights to have integral dtype but got fweights "
                           f"with {fweights.dtype} dtype")
    for name, w in (("fweights", fweights), ("aweights", aweights)):
        if w is not None and _concrete(w) and not bool((np.asarray(w._data) >= 0).all()):
            # (NaN too: torch checks w >= 0)
            raise RuntimeError(f"cov(): {name} cannot be negative")


def cov(input, *, correction=1, fweights=None, aweights=None):
    """Covariance of the rows (variables) of a 2-d input over its columns (observations)."""
    if input.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an "
                           f"input with {input.ndim} dimensions")
    x = input if input.ndim == 2 else input.reshape(1, -1)
    if not x.is_floating_point():
        x = x.to(_dt.get_default_dtype())
    if aweights is not None and aweights.is_floating_point():  # float64 weights: a float64 cov
        x = x.to(_dt.promote_types(x.dtype, aweights.dtype))
    n = x.shape[1]
    _check_cov_weights(fweights, aweights)
    w = None
    if fweights is not None:
        w = fweights
    if aweights is not None:
        w = aweights if w is None else w * aweights
    if w is None:
        wsum = n
        avg = x.mean(1, keepdim=True)
        norm = builtins.max(n - correction, 0)
    else:
        w = w.to(x.dtype)
        wsum = w.sum()
        if _concrete(wsum) and float(np.asarray(wsum._data)) == 0:
            raise RuntimeError("cov(): weights sum to zero, can't be normalized")
        avg = (x * w).sum(1, keepdim=True) / wsum
        if correction == 0:
            norm = wsum
        elif aweights is None:
            norm = wsum - correction
        else:
            norm = wsum - correction * (w * aweights.to(x.dtype)).sum() / wsum
        norm = norm.clamp(min=0)
    xc = x - avg
    xw = xc if w is None else xc * w
    c = (xw @ xc.t()) / norm
    return c.reshape(()) if input.ndim < 2 or x.shape[0] == 1 else c  # one variable: 0-d


def corrcoef(input):
    c = cov(input)
    if c.ndim == 0:
        return c / c
    d = c.diagonal()
    sd = d.sqrt()
    c = c / sd.unsqueeze(1) / sd.unsqueeze(0)
    return c.clamp(-1, 1)


def renorm(input, p, dim, maxnorm):
    """Each sub-tensor along dim rescaled to a p-norm of at most maxnorm."""
    float_only("renorm", input, exc=RuntimeError)
    if input.ndim < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {input.ndim} "
                           "dimensions")
    d = _norm_dim(dim, input._data.ndim, "renorm")
    others = tuple(i for i in builtins.range(input.ndim) if i != d)
    norms = input.norm(p, others, keepdim=True) if others else input.abs()
    factor = where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0)
    return input * factor


# ----------------------------------------------------------------------------- unique runs
def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapse runs of equal consecutive elements (of the flattened input, or of slices along
    dim)."""
    _data_dependent(input, "unique_consecutive")
    a = input._data
    if dim is None:
        flat = a.reshape(-1)
        start = np.ones(flat.shape[0], bool)
        start[1:] = flat[1:] != flat[:-1]
        values = flat[start]
        inv_shape = a.shape
    else:
        d = _norm_dim(dim, a.ndim, "unique_consecutive")
        m = np.moveaxis(a, d, 0).reshape(a.shape[d], -1)
        start = np.ones(m.shape[0], bool)
        start[1:] = (m[1:] != m[:-1]).any(axis=1)
        values = np.compress(start, a, axis=d)
        inv_shape = (a.shape[d],)
    out = [_created(_make(np.ascontiguousarray(values)))]
    if return_inverse:
        out.append(_created(_make((np.cumsum(start) - 1).reshape(inv_shape).astype(np.int64))))
    if return_counts:
        idx = np.flatnonzero(start)
        out.append(_created(_make(np.diff(np.append(idx, start.shape[0])).astype(np.int64))))
    return out[0] if len(out) == 1 else tuple(out)


# ----------------------------------------------------------------------------- Tensor methods
class StatsMethods:
    """cadenza.Tensor's methods for this module's functions (``x.f(...)`` is ``f(x, ...)``,
    in-place ``x.f_(...)`` commits it into x); ``cadenza/_tensor.py`` composes them."""
    __slots__ = ()

    cummax = cummax
    cummin = cummin
    logcumsumexp = logcumsumexp
    diff = diff
    msort = msort
    nanmean = nanmean
    nanmedian = nanmedian
    quantile = quantile
    nanquantile = nanquantile
    mode = mode
    histc = histc
    histogram = histogram
    cov = cov
    corrcoef = corrcoef
    renorm = renorm
    unique_consecutive = unique_consecutive
    renorm_ = make_inplace(renorm, "renorm_", True)

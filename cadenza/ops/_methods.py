"""Bind Tensor's operators and methods to the op functions (PyTorch's Tensor API)."""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor, _make, _norm_dim
from .. import dtypes as _dt
from ..autograd.grad_mode import state
from . import elementwise as E, reduce as R, shape as S, index as I, linalg as L
from .inplace import make_inplace, fill_, zero_, copy_, check_inplace, commit_inplace
from ._registry import apply, register, Op


def _rev(fn):
    def r(self, other):
        return fn(other, self)
    return r


def _as_other(fn):
    """Operators accept Python scalars, NumPy scalars/arrays and tensors."""
    def op(self, other):
        t = type(other)
        if t is float or t is int or t is Tensor:
            return fn(self, other)
        if isinstance(other, np.ndarray):
            other = _make(other)
        elif isinstance(other, np.generic):
            other = other.item()
        elif not isinstance(other, (Tensor, int, float, bool)):
            return NotImplemented
        return fn(self, other)
    return op


def _rsub(self, other):
    return E.sub(other, self)


def _rpow(self, other):
    return E.pow(other, self)


def _invert(self):
    return E.logical_not(self) if self._data.dtype == np.bool_ else E.bitwise_not(self)


def _and(self, other):
    return E.logical_and(self, other) if self._data.dtype == np.bool_ else \
        E.bitwise_and(self, other)


def _or(self, other):
    return E.logical_or(self, other) if self._data.dtype == np.bool_ else \
        E.bitwise_or(self, other)


def _xor(self, other):
    return E.logical_xor(self, other) if self._data.dtype == np.bool_ else \
        E.bitwise_xor(self, other)


def _eq(self, other):
    if other is None:
        return False
    return _as_other(E.eq)(self, other)


def _ne(self, other):
    if other is None:
        return True
    return _as_other(E.ne)(self, other)


T = Tensor
for _name, _fn in {
    "__add__": E.add, "__sub__": E.sub, "__mul__": E.mul, "__truediv__": E.div,
    "__floordiv__": E.floor_divide, "__mod__": E.remainder, "__pow__": E.pow,
    "__lt__": E.lt, "__le__": E.le, "__gt__": E.gt, "__ge__": E.ge,
    "__and__": _and, "__or__": _or, "__xor__": _xor,
    "__radd__": _rev(E.add), "__rsub__": _rsub, "__rmul__": _rev(E.mul),
    "__rtruediv__": _rev(E.div), "__rfloordiv__": _rev(E.floor_divide),
    "__rmod__": _rev(E.remainder), "__rpow__": _rpow,
    "__rand__": _and, "__ror__": _or, "__rxor__": _xor,
}.items():
    setattr(T, _name, _as_other(_fn))


def _direct(op):
    """A dunder that goes straight to apply for Tensor / Python-number operands (W5's hot
    path), and through the general coercion otherwise."""
    slow = _as_other(lambda self, other: apply(op, self, other))

    def dunder(self, other):
        t = type(other)
        if t is float or t is int or t is Tensor:
            return apply(op, self, other)
        return slow(self, other)
    return dunder


T.__add__ = _direct(E.Add)
T.__mul__ = _direct(E.Mul)
T.__truediv__ = _direct(E.Div)
T.__radd__ = T.__add__
T.__rmul__ = T.__mul__
T.__eq__ = _eq
T.__ne__ = _ne
T.__hash__ = lambda self: id(self)
T.__matmul__ = lambda self, other: L.matmul(self, other)
T.__rmatmul__ = lambda self, other: L.matmul(other, self)
T.__neg__ = E.neg
T.__pos__ = lambda self: self
T.__abs__ = E.abs
T.__invert__ = _invert
T.__getitem__ = I.getitem
T.__setitem__ = I.setitem

# ----------------------------------------------------------------------------- plain methods
_METHODS = {
    # elementwise
    "add": E.add, "sub": E.sub, "subtract": E.sub, "mul": E.mul, "multiply": E.mul,
    "div": E.div, "divide": E.div, "true_divide": E.div, "floor_divide": E.floor_divide,
    "pow": E.pow, "float_power": E.float_power, "remainder": E.remainder, "fmod": E.fmod,
    "neg": E.neg, "negative": E.neg, "exp": E.exp, "exp2": E.exp2, "expm1": E.expm1,
    "log": E.log, "log1p": E.log1p, "log2": E.log2, "log10": E.log10, "sqrt": E.sqrt,
    "rsqrt": E.rsqrt, "reciprocal": E.reciprocal, "square": E.square, "sin": E.sin,
    "cos": E.cos, "tan": E.tan, "atan": E.atan, "arctan": E.atan, "asin": E.asin,
    "acos": E.acos, "sinh": E.sinh, "cosh": E.cosh, "tanh": E.tanh, "sigmoid": E.sigmoid,
    "asinh": E.asinh, "arcsinh": E.asinh,
    "erf": E.erf, "erfc": E.erfc, "relu": E.relu, "abs": E.abs, "absolute": E.abs,
    "sign": E.sign, "sgn": E.sign, "floor": E.floor, "ceil": E.ceil, "trunc": E.trunc,
    "fix": E.trunc, "round": E.round, "clamp": E.clamp, "clip": E.clamp,
    "maximum": E.maximum, "minimum": E.minimum, "atan2": E.atan2, "lerp": E.lerp,
    "addcmul": E.addcmul, "addcdiv": E.addcdiv, "nan_to_num": E.nan_to_num,
    "isnan": E.isnan, "isinf": E.isinf, "isfinite": E.isfinite, "isclose": E.isclose,
    "allclose": E.allclose, "equal": E.equal, "eq": E.eq, "ne": E.ne, "not_equal": E.ne,
    "lt": E.lt, "less": E.lt, "le": E.le, "less_equal": E.le, "gt": E.gt,
    "greater": E.gt, "ge": E.ge, "greater_equal": E.ge, "logical_not": E.logical_not,
    "logical_and": E.logical_and, "logical_or": E.logical_or, "logical_xor": E.logical_xor,
    "bitwise_not": E.bitwise_not, "bitwise_and": E.bitwise_and, "bitwise_or": E.bitwise_or,
    "bitwise_xor": E.bitwise_xor, "where": lambda self, cond, other: E.where(cond, self, other),
    # reductions
    "sum": R.sum, "nansum": R.nansum, "mean": R.mean, "var": R.var, "std": R.std,
    "amax": R.amax, "amin": R.amin, "max": R.max, "min": R.min, "aminmax": R.aminmax,
    "argmax": R.argmax, "argmin": R.argmin, "prod": R.prod, "cumsum": R.cumsum,
    "cumprod": R.cumprod, "logsumexp": R.logsumexp, "all": R.all, "any": R.any,
    "count_nonzero": R.count_nonzero, "argsort": R.argsort, "sort": R.sort, "topk": R.topk,
    "kthvalue": R.kthvalue, "median": R.median, "norm": R.norm,
    # shape
    "reshape": S.reshape, "view": S.view, "view_as": S.view_as, "reshape_as": S.reshape_as,
    "flatten": S.flatten, "unflatten": S.unflatten, "squeeze": S.squeeze,
    "unsqueeze": S.unsqueeze, "permute": S.permute, "transpose": S.transpose,
    "swapaxes": S.transpose, "swapdims": S.transpose, "t": S.t, "movedim": S.movedim,
    "moveaxis": S.movedim, "expand": S.expand, "expand_as": S.expand_as,
    "broadcast_to": S.broadcast_to, "contiguous": S.contiguous, "clone": S.clone,
    "narrow": S.narrow, "split": S.split, "tensor_split": S.tensor_split, "chunk": S.chunk,
    "unbind": S.unbind, "select": S.select, "flip": S.flip, "fliplr": S.fliplr,
    "flipud": S.flipud, "roll": S.roll, "repeat": S.repeat, "tile": S.tile,
    "repeat_interleave": S.repeat_interleave, "tril": S.tril, "triu": S.triu,
    "diagonal": S.diagonal, "diag": S.diag, "trace": S.trace,
    # indexing
    "gather": I.gather, "scatter": I.scatter, "scatter_add": I.scatter_add,
    "index_select": I.index_select, "index_add": I.index_add, "index_copy": I.index_copy,
    "index_fill": I.index_fill, "index_put": I.index_put, "masked_fill": I.masked_fill,
    "masked_select": I.masked_select, "masked_scatter": I.masked_scatter,
    "nonzero": I.nonzero, "argwhere": I.argwhere, "take": I.take,
    "take_along_dim": I.take_along_dim, "bincount": I.bincount, "unique": I.unique,
    # linear algebra
    "matmul": L.matmul, "mm": L.mm, "bmm": L.bmm, "mv": L.mv, "dot": L.dot, "inner": L.dot,
    "outer": L.outer, "ger": L.outer, "addmm": L.addmm, "baddbmm": L.baddbmm,
}
for _name, _fn in _METHODS.items():
    setattr(T, _name, _fn)

# ----------------------------------------------------------------------------- in-place methods
_INPLACE = {
    "add_": E.add, "sub_": E.sub, "subtract_": E.sub, "mul_": E.mul, "multiply_": E.mul,
    "div_": E.div, "divide_": E.div, "true_divide_": E.div, "pow_": E.pow,
    "remainder_": E.remainder, "fmod_": E.fmod, "neg_": E.neg, "exp_": E.exp,
    "log_": E.log, "log1p_": E.log1p, "sqrt_": E.sqrt, "rsqrt_": E.rsqrt,
    "reciprocal_": E.reciprocal, "square_": E.square, "sin_": E.sin, "cos_": E.cos,
    "tanh_": E.tanh, "sigmoid_": E.sigmoid, "relu_": E.relu, "abs_": E.abs,
    "sign_": E.sign, "floor_": E.floor, "ceil_": E.ceil, "trunc_": E.trunc, "round_": E.round,
    "clamp_": E.clamp, "clip_": E.clamp, "maximum_": E.maximum, "minimum_": E.minimum,
    "lerp_": E.lerp, "addcmul_": E.addcmul, "addcdiv_": E.addcdiv, "erf_": E.erf,
    "nan_to_num_": E.nan_to_num, "masked_fill_": I.masked_fill, "index_add_": I.index_add,
    "index_copy_": I.index_copy, "index_fill_": I.index_fill, "index_put_": I.index_put,
    "scatter_": I.scatter, "scatter_add_": I.scatter_add, "masked_scatter_": I.masked_scatter,
    "tril_": S.tril, "triu_": S.triu, "logical_not_": E.logical_not,
    "clamp_min_": lambda s, m: E.clamp(s, min=m), "clamp_max_": lambda s, m: E.clamp(s, max=m),
}
for _name, _fn in _INPLACE.items():
    setattr(T, _name, make_inplace(_fn, _name))
T.clamp_min = lambda self, min: E.clamp(self, min=min)
T.clamp_max = lambda self, max: E.clamp(self, max=max)
T.fill_ = fill_
T.zero_ = zero_
T.copy_ = copy_


def _iop(name):
    inplace = getattr(T, name)

    def iop(self, other):
        if isinstance(other, np.ndarray):
            other = _make(other)
        return inplace(self, other)
    return iop


for _d, _m in (("__iadd__", "add_"), ("__isub__", "sub_"), ("__imul__", "mul_"),
               ("__itruediv__", "div_"), ("__ipow__", "pow_"), ("__imod__", "remainder_")):
    setattr(T, _d, _iop(_m))


def _ifloordiv(self, other):
    return commit_inplace(self, E.floor_divide(self, other))


def _iand(self, other):
    return commit_inplace(self, _and(self, other))


def _ior(self, other):
    return commit_inplace(self, _or(self, other))


def _ixor(self, other):
    return commit_inplace(self, _xor(self, other))


T.__ifloordiv__ = _ifloordiv
T.__iand__ = _iand
T.__ior__ = _ior
T.__ixor__ = _ixor
T.__imatmul__ = lambda self, other: L.matmul(self, other)


# ----------------------------------------------------------------------------- random in-place
def _fill_random(self, arr):
    if state.tracer is not None:
        from ..graph.trace import user_line
        state.tracer.fail(f"compile: in-place random fills (uniform_, normal_, ...) are not "
                          f"captured yet ({user_line()}); use cadenza.rand / cadenza.randn and an "
                          "in-place copy_, or initialise outside the compiled function")
    check_inplace(self, "random fill")
    if state.grad_enabled and self._requires_grad:
        return commit_inplace(self, self * 0 + _make(arr.astype(self._data.dtype)))
    self._data[...] = arr
    self._vc[0] += 1
    return self


def _gen(generator):
    from ..random import _rng
    return _rng(generator)


def uniform_(self, a=0.0, b=1.0, *, generator=None):
    return _fill_random(self, _gen(generator).uniform(a, b, self._data.shape))


def normal_(self, mean=0.0, std=1.0, *, generator=None):
    return _fill_random(self, _gen(generator).normal(mean, std, self._data.shape))


def bernoulli_(self, p=0.5, *, generator=None):
    pp = p._data if isinstance(p, Tensor) else p
    return _fill_random(self, (_gen(generator).random(self._data.shape) < pp))


def exponential_(self, lambd=1.0, *, generator=None):
    return _fill_random(self, _gen(generator).exponential(1.0 / lambd, self._data.shape))


def random_(self, from_=0, to=None, *, generator=None):
    if to is None:
        from_, to = 0, from_ if from_ else (1 << 24)
    return _fill_random(self, _gen(generator).integers(from_, to, self._data.shape))


def geometric_(self, p, *, generator=None):
    return _fill_random(self, _gen(generator).geometric(p, self._data.shape))


def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    return _fill_random(self, _gen(generator).lognormal(mean, std, self._data.shape))


def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    return _fill_random(self, median + sigma * _gen(generator).standard_cauchy(
        self._data.shape))


for _f in (uniform_, normal_, bernoulli_, exponential_, random_, geometric_, log_normal_,
           cauchy_):
    setattr(T, _f.__name__, _f)


def _bernoulli(self, p=None, *, generator=None):
    from .._creation import bernoulli
    return bernoulli(self, p, generator=generator)


def _multinomial(self, num_samples, replacement=False, *, generator=None):
    from .._creation import multinomial
    return multinomial(self, num_samples, replacement, generator=generator)


T.bernoulli = _bernoulli
T.multinomial = _multinomial


# ----------------------------------------------------------------------------- conversions
def _parse_to(args, kwargs):
    from ..device import device as Device
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, _dt.dtype) or (isinstance(a, type) and a in (float, int, bool)):
            dtype = a
        elif isinstance(a, (str, Device, int)) and not isinstance(a, bool):
            device = a
        elif isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, bool):
            pass  # non_blocking / copy positional flags
        elif a is not None:
            raise TypeError(f"to() received an invalid argument {a!r}")
    return dtype, device, copy


def to(self, *args, **kwargs):
    """Cast and/or move: ``t.to(cadenza.float64)``, ``t.to('cpu')``, ``t.to(other)``."""
    dtype, device, copy = _parse_to(args, dict(kwargs))
    out = self
    if device is not None:
        out = _to_device(out, device)
    if dtype is not None:
        out = E.to_dtype(out, dtype, copy=copy and out is self)
    elif copy and out is self:
        out = S.clone(self)
    return out


@register
class ToDevice(Op):
    """Move between backends (CPU <-> CUDA); the gradient moves back."""
    name, kind, onnx, saves = "to_device", "library", None, "none"
    may_alias = True     # a move to the device an array is on hands it back

    @staticmethod
    def forward(xp, a, device=None, src=None):
        from ..backend import backend_for_device, backend_of_array
        src = backend_of_array(a)
        host = src.to_numpy(a)
        dst = backend_for_device(device)
        return host if dst.name == "cpu" else dst.asarray(host, index=device.index)

    @staticmethod
    def backward(c, g):
        return (_to_device(g, c.attrs["src"]),)


def _to_device(t, device):
    from ..device import as_device
    dev = as_device(device)
    if dev == t.device or (dev.type == "cpu" and t.device.type == "cpu"):
        return t
    return apply(ToDevice, t, device=dev, src=t.device)


def _cpu(self, memory_format=None):
    return _to_device(self, "cpu")


def _cuda(self, device=None, non_blocking=False, memory_format=None):
    return _to_device(self, "cuda" if device is None else (
        f"cuda:{device}" if isinstance(device, int) else device))


def _type(self, dtype=None, non_blocking=False, **kwargs):
    if dtype is None:
        names = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
                 "bfloat16": "BFloat16Tensor", "int64": "LongTensor", "int32": "IntTensor",
                 "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor",
                 "bool": "BoolTensor"}
        return f"torch.{names[self.dtype.name]}"
    if isinstance(dtype, str):
        rev = {"FloatTensor": "float32", "DoubleTensor": "float64", "LongTensor": "int64",
               "IntTensor": "int32", "HalfTensor": "float16", "BoolTensor": "bool",
               "ByteTensor": "uint8"}
        dtype = rev.get(dtype.split(".")[-1], dtype)
    return E.to_dtype(self, dtype)


T.to = to
T.cpu = _cpu
T.cuda = _cuda
T.type = _type
T.type_as = lambda self, other: E.to_dtype(self, other.dtype)
for _n, _d in (("float", _dt.float32), ("double", _dt.float64), ("half", _dt.float16),
               ("long", _dt.int64), ("int", _dt.int32), ("short", _dt.int16),
               ("char", _dt.int8), ("byte", _dt.uint8), ("bool", _dt.bool)):
    setattr(T, _n, (lambda d: lambda self, memory_format=None: E.to_dtype(self, d))(_d))
if _dt.bfloat16 is not None:
    T.bfloat16 = lambda self, memory_format=None: E.to_dtype(self, _dt.bfloat16)
T.T = property(lambda self: S.permute(self, tuple(range(self.ndim - 1, -1, -1))))
T.mT = property(lambda self: S.transpose(self, -2, -1))
T.H = T.T
T.mH = T.mT


def _new(fn_name):
    def new(self, *size, dtype=None, device=None, requires_grad=False, **kw):
        from .. import _creation as C
        fn = getattr(C, fn_name)
        return fn(*size, dtype=dtype or self.dtype, device=device or self.device,
                  requires_grad=requires_grad, **kw)
    return new


T.new_zeros = _new("zeros")
T.new_ones = _new("ones")
T.new_empty = _new("empty")


def _new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    from .._creation import full
    return full(size, fill_value, dtype=dtype or self.dtype, requires_grad=requires_grad)


def _new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    from .._creation import tensor
    return tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad)


T.new_full = _new_full
T.new_tensor = _new_tensor


def _apply_(self, fn):
    self._data[...] = np.vectorize(fn)(self._data)
    return self


T.apply_ = _apply_
T.softmax = lambda self, dim, dtype=None: __import__(
    "cadenza.functional", fromlist=["softmax"]).softmax(self, dim, dtype=dtype)
T.log_softmax = lambda self, dim, dtype=None: __import__(
    "cadenza.functional", fromlist=["log_softmax"]).log_softmax(self, dim, dtype=dtype)
T.size = Tensor.size
T.dim_order = lambda self: tuple(range(self.ndim))
T.unfold = lambda self, dimension, size, step: _tensor_unfold(self, dimension, size, step)


def _tensor_unfold(self, dimension, size, step):
    """Tensor.unfold: all slices of ``size`` along dim, stepping by ``step``, as a new last dim."""
    d = _norm_dim(dimension, self.ndim, "unfold")
    n = self.shape[d]
    starts = range(0, n - size + 1, step)
    parts = [S.narrow(self, d, s, size).unsqueeze(d) for s in starts]
    out = S.cat(parts, d)
    return S.movedim(out, d + 1, -1)

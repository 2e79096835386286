"""Tensor's in-place methods (``x.add_(y)``, ``x += y``, ``x.uniform_()``): computed by the
op-layer function, then committed into x's own buffer (``ops.inplace``)."""
from __future__ import annotations

import numpy as np

from .. import ops as O
from .._creation import bernoulli, multinomial
from .._dispatch import state, user_line
from .._tensor_base import TensorBase, _make
from ..ops.inplace import make_inplace, fill_, zero_, copy_, check_inplace, commit_inplace
from ..random import _rng
from .math import MathMethods
from .operators import and_, or_, xor_


def _fill_random(self, arr):
    if state.tracer is not None:
        state.tracer.fail(f"compile: in-place random fills (uniform_, normal_, ...) are not "
                          f"captured yet ({user_line()}); use cadenza.rand / cadenza.randn and an "
                          "in-place copy_, or initialise outside the compiled function")
    check_inplace(self, "random fill")
    if state.grad_enabled and self._requires_grad:
        return commit_inplace(self, self * 0 + _make(arr.astype(self._data.dtype)))
    self._data[...] = arr
    self._vc[0] += 1
    return self


def _inplace_operator(method):
    """``x op= y`` through the in-place method (a NumPy array operand becomes a tensor)."""
    def iop(self, other):
        if isinstance(other, np.ndarray):
            other = _make(other)
        return method(self, other)
    return iop


def _commit(fn):
    """``x op= y`` as ``fn(x, y)`` written into x."""
    def iop(self, other):
        return commit_inplace(self, fn(self, other))
    return iop


class InplaceMethods:
    __slots__ = ()

    add_ = make_inplace(O.add, "add_")
    sub_ = make_inplace(O.sub, "sub_")
    subtract_ = make_inplace(O.sub, "subtract_")
    mul_ = make_inplace(O.mul, "mul_")
    multiply_ = make_inplace(O.mul, "multiply_")
    div_ = make_inplace(O.div, "div_")
    divide_ = make_inplace(O.div, "divide_")
    true_divide_ = make_inplace(O.div, "true_divide_")
    pow_ = make_inplace(O.pow, "pow_")
    remainder_ = make_inplace(O.remainder, "remainder_")
    fmod_ = make_inplace(O.fmod, "fmod_")
    neg_ = make_inplace(O.neg, "neg_")
    exp_ = make_inplace(O.exp, "exp_")
    log_ = make_inplace(O.log, "log_")
    log1p_ = make_inplace(O.log1p, "log1p_")
    sqrt_ = make_inplace(O.sqrt, "sqrt_")
    rsqrt_ = make_inplace(O.rsqrt, "rsqrt_")
    reciprocal_ = make_inplace(O.reciprocal, "reciprocal_")
    square_ = make_inplace(O.square, "square_")
    sin_ = make_inplace(O.sin, "sin_")
    cos_ = make_inplace(O.cos, "cos_")
    tanh_ = make_inplace(O.tanh, "tanh_")
    sigmoid_ = make_inplace(O.sigmoid, "sigmoid_")
    relu_ = make_inplace(O.relu, "relu_")
    abs_ = make_inplace(O.abs, "abs_")
    sign_ = make_inplace(O.sign, "sign_")
    floor_ = make_inplace(O.floor, "floor_")
    ceil_ = make_inplace(O.ceil, "ceil_")
    trunc_ = make_inplace(O.trunc, "trunc_")
    round_ = make_inplace(O.round, "round_")
    clamp_ = make_inplace(O.clamp, "clamp_")
    clip_ = make_inplace(O.clamp, "clip_")
    maximum_ = make_inplace(O.maximum, "maximum_")
    minimum_ = make_inplace(O.minimum, "minimum_")
    lerp_ = make_inplace(O.lerp, "lerp_")
    addcmul_ = make_inplace(O.addcmul, "addcmul_")
    addcdiv_ = make_inplace(O.addcdiv, "addcdiv_")
    erf_ = make_inplace(O.erf, "erf_")
    nan_to_num_ = make_inplace(O.nan_to_num, "nan_to_num_")
    masked_fill_ = make_inplace(O.masked_fill, "masked_fill_")
    index_add_ = make_inplace(O.index_add, "index_add_")
    index_copy_ = make_inplace(O.index_copy, "index_copy_")
    index_fill_ = make_inplace(O.index_fill, "index_fill_")
    index_put_ = make_inplace(O.index_put, "index_put_")
    scatter_ = make_inplace(O.scatter, "scatter_")
    scatter_add_ = make_inplace(O.scatter_add, "scatter_add_")
    masked_scatter_ = make_inplace(O.masked_scatter, "masked_scatter_")
    tril_ = make_inplace(O.tril, "tril_")
    triu_ = make_inplace(O.triu, "triu_")
    logical_not_ = make_inplace(O.logical_not, "logical_not_")

    clamp_min_ = make_inplace(MathMethods.clamp_min, "clamp_min_")
    clamp_max_ = make_inplace(MathMethods.clamp_max, "clamp_max_")

    fill_ = fill_
    zero_ = zero_
    copy_ = copy_

    # in-place operators
    __iadd__ = _inplace_operator(add_)
    __isub__ = _inplace_operator(sub_)
    __imul__ = _inplace_operator(mul_)
    __itruediv__ = _inplace_operator(div_)
    __ipow__ = _inplace_operator(pow_)
    __imod__ = _inplace_operator(remainder_)
    __ifloordiv__ = _commit(O.floor_divide)
    __iand__ = _commit(and_)
    __ior__ = _commit(or_)
    __ixor__ = _commit(xor_)

    def __imatmul__(self, other):
        return O.matmul(self, other)

    # random fills (draw from ``generator`` or the default generator)
    def uniform_(self, a=0.0, b=1.0, *, generator=None):
        return _fill_random(self, _rng(generator).uniform(a, b, self._data.shape))

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        return _fill_random(self, _rng(generator).normal(mean, std, self._data.shape))

    def bernoulli_(self, p=0.5, *, generator=None):
        pp = p._data if isinstance(p, TensorBase) else p
        return _fill_random(self, (_rng(generator).random(self._data.shape) < pp))

    def exponential_(self, lambd=1.0, *, generator=None):
        return _fill_random(self, _rng(generator).exponential(1.0 / lambd, self._data.shape))

    def random_(self, from_=0, to=None, *, generator=None):
        if to is None:
            from_, to = 0, from_ if from_ else (1 << 24)
        return _fill_random(self, _rng(generator).integers(from_, to, self._data.shape))

    def geometric_(self, p, *, generator=None):
        return _fill_random(self, _rng(generator).geometric(p, self._data.shape))

    def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
        return _fill_random(self, _rng(generator).lognormal(mean, std, self._data.shape))

    def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
        return _fill_random(self, median + sigma * _rng(generator).standard_cauchy(
            self._data.shape))

    def bernoulli(self, p=None, *, generator=None):
        return bernoulli(self, p, generator=generator)

    def multinomial(self, num_samples, replacement=False, *, generator=None):
        return multinomial(self, num_samples, replacement, generator=generator)

    def apply_(self, fn):
        self._data[...] = np.vectorize(fn)(self._data)
        return self

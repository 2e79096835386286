"""Tensor's in-place methods that are not an op's in-place form (those, ``x.add_(y)``, sit
beside their op in ``cadenza/ops``): in-place operators (``x += y``), ``fill_``/``zero_``/
``copy_``, random fills (``x.uniform_()``), ``bernoulli``/``multinomial``, ``apply_``."""
from __future__ import annotations

import numpy as np

from .. import ops as O
from .._creation import as_tensor, bernoulli, multinomial
from .._dispatch import state, user_line
from .._tensor_base import TensorBase, _make
from ..errors import read_only_write_error
from ..ops.binary import BinaryMethods
from ..ops.inplace import fill_, zero_, copy_, check_inplace, commit_inplace
from ..random import _rng, draw_dtype, fill_normal, fill_uniform
from .operators import and_, or_, xor_


def _fill_random(self, arr):
    if state.tracer is not None:
        state.tracer.fail(f"compile: in-place random fills (uniform_, normal_, ...) are not "
                          f"captured yet ({user_line()}); use cadenza.rand / cadenza.randn and an "
                          "in-place copy_, or initialise outside the compiled function")
    check_inplace(self, "random fill")
    if state.grad_enabled and self._requires_grad:
        return commit_inplace(self, self * 0 + _make(arr.astype(self._data.dtype)))
    if type(self._data) is np.ndarray and not self._data.flags.writeable:
        raise read_only_write_error(self._data)   # an expanded view: torch's overlap error
    self._data[...] = arr
    self._vc[0] += 1
    return self


def _fill_drawn(self, fill, generator):
    """``self`` filled by ``fill(rng, out)`` (random.fill_uniform/fill_normal) in the draw
    dtype of its dtype (random.draw_dtype): straight into its storage when that is a plain
    C-contiguous array of that dtype and nothing records, else through _fill_random."""
    data = self._data
    if type(data) is np.ndarray and data.dtype == draw_dtype(data.dtype) and \
            data.flags.c_contiguous and data.flags.writeable and state.tracer is None and \
            not (state.grad_enabled and self._requires_grad) and type(self._vc) is list:
        check_inplace(self, "random fill")
        fill(_rng(generator), data)
        self._vc[0] += 1
        return self
    out = np.empty(data.shape, draw_dtype(data.dtype))
    fill(_rng(generator), out)
    return _fill_random(self, out)


def _no_draw_on_meta(method):
    """A random fill that on a meta tensor (no values) draws nothing, as in torch."""
    def fill(self, *args, **kwargs):
        if self.is_meta:
            check_inplace(self, method.__name__)
            self._vc[0] += 1
            return self
        return method(self, *args, **kwargs)
    fill.__name__ = fill.__qualname__ = method.__name__
    fill.__doc__ = method.__doc__
    return fill


def _inplace_operator(method):
    """``x op= y`` through the in-place method (a NumPy array operand becomes a tensor)."""
    def iop(self, other):
        if isinstance(other, np.ndarray):
            other = as_tensor(other)
        return method(self, other)
    return iop


def _commit(fn):
    """``x op= y`` as ``fn(x, y)`` written into x."""
    def iop(self, other):
        return commit_inplace(self, fn(self, other))
    return iop


class InplaceMethods:
    __slots__ = ()



    fill_ = fill_
    zero_ = zero_
    copy_ = copy_

    # in-place operators
    __iadd__ = _inplace_operator(BinaryMethods.add_)
    __isub__ = _inplace_operator(BinaryMethods.sub_)
    __imul__ = _inplace_operator(BinaryMethods.mul_)
    __itruediv__ = _inplace_operator(BinaryMethods.div_)
    __ipow__ = _inplace_operator(BinaryMethods.pow_)
    __imod__ = _inplace_operator(BinaryMethods.remainder_)
    __idiv__ = __itruediv__                  # (issue 10: the Python 2 name)
    __ifloordiv__ = _commit(O.floor_divide)
    __iand__ = _commit(and_)
    __ior__ = _commit(or_)
    __ixor__ = _commit(xor_)

    def __imatmul__(self, other):
        return O.matmul(self, other)

    # random fills (draw from ``generator`` or the default generator)
    @_no_draw_on_meta
    def uniform_(self, a=0.0, b=1.0, *, generator=None):
        return _fill_drawn(self, lambda g, out: fill_uniform(g, out, a, b), generator)

    @_no_draw_on_meta
    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        return _fill_drawn(self, lambda g, out: fill_normal(g, out, mean, std), generator)

    @_no_draw_on_meta
    def bernoulli_(self, p=0.5, *, generator=None):
        pp = p._data if isinstance(p, TensorBase) else p
        return _fill_random(self, (_rng(generator).random(self._data.shape) < pp))

    @_no_draw_on_meta
    def exponential_(self, lambd=1.0, *, generator=None):
        return _fill_random(self, _rng(generator).exponential(1.0 / lambd, self._data.shape))

    @_no_draw_on_meta
    def random_(self, from_=0, to=None, *, generator=None):
        if to is None:
            from_, to = 0, from_ if from_ else (1 << 24)
        return _fill_random(self, _rng(generator).integers(from_, to, self._data.shape))

    @_no_draw_on_meta
    def geometric_(self, p, *, generator=None):
        return _fill_random(self, _rng(generator).geometric(p, self._data.shape))

    @_no_draw_on_meta
    def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
        return _fill_random(self, _rng(generator).lognormal(mean, std, self._data.shape))

    @_no_draw_on_meta
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

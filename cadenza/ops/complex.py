"""Complex tensors: the parts (``real``/``imag``, views as in PyTorch), conjugation, the
real <-> complex views (``view_as_real``/``view_as_complex``), ``complex``/``polar``, ``angle``
and ``sgn``.

Gradients follow PyTorch's convention: for a real loss L, the gradient of a complex tensor z
is dL/d(re z) + i dL/d(im z). Most primitives' backward rules are written as for real numbers
(``g * b`` for a product); for a holomorphic op that rule is right for complex values once
conjugated, grad = conj(rule(conj(g))) = g * conj(f'(z)), and the engine applies that to every
op whose ``holomorphic`` field is True (the default) when the incoming gradient is complex.
The ops here are not holomorphic (conj, the parts, the views): their backward rules are written
for complex values directly and set ``holomorphic = False``. A real input of an op with a
complex output receives the real part of its gradient (the engine takes it).
"""
from __future__ import annotations

import math

import numpy as np

from ._registry import Op, register, apply
from .._tensor_base import TensorBase as Tensor, _make
from ..backend import xp_of
from .. import dtypes as _dt
from .unary import Abs, sign
from .binary import atan2, where
from .elementwise import Cast

__all__ = ["real", "imag", "conj", "conj_physical", "resolve_conj", "resolve_neg", "is_conj",
           "is_neg", "view_as_real", "view_as_complex", "complex", "polar", "angle", "sgn",
           "isreal"]


def _need_complex(op, t):
    if not isinstance(t, Tensor) or t._data.dtype.kind != "c":
        raise RuntimeError(f"{op} is only supported for complex tensors, got "
                           f"{t.dtype if isinstance(t, Tensor) else type(t).__name__}")


class _ComplexOp(Op):
    holomorphic = False   # backward written for complex values (see the module docstring)
    onnx = None           # the C and ONNX backends have no complex numbers
    saves = "none"
    opmath = False        # no float32 round trip: a complex result has no narrow dtype here


@register
class Real(_ComplexOp):
    """The real parts of a complex tensor, a view (writing into it changes the tensor)."""
    name, kind, view = "real", "shape", True
    forward = staticmethod(lambda xp, a: a.real)
    # L depends on re z only: grad z = g + 0i
    backward = staticmethod(
        lambda c, g: (apply(Cast, g, dtype=_dt.from_numpy_dtype(c.meta[0][1])),))


@register
class Imag(_ComplexOp):
    """The imaginary parts of a complex tensor, a view."""
    name, kind, view = "imag", "shape", True
    forward = staticmethod(lambda xp, a: a.imag)
    # L depends on im z only: grad z = 0 + i g
    backward = staticmethod(lambda c, g: (complex(g * 0, g),))


@register
class Conj(_ComplexOp):
    """Complex conjugate (materialised: Cadenza has no lazy conjugate bit)."""
    name, kind = "conj", "library"   # not "elementwise": C kernels have no complex numbers
    forward = staticmethod(lambda xp, a: xp.conj(a))
    backward = staticmethod(lambda c, g: (conj(g),))


@register
class ViewAsReal(_ComplexOp):
    """(..., ) complex -> (..., 2) real view: the parts interleaved, as stored."""
    name, kind, view = "view_as_real", "shape", True

    @staticmethod
    def forward(xp, a):
        r = a.real  # a view with a's strides; the imaginary part is one item further on
        shape, strides = a.shape + (2,), r.strides + (r.itemsize,)
        if xp is np:
            return np.lib.stride_tricks.as_strided(r, shape, strides,
                                                   writeable=r.flags.writeable)
        return xp.lib.stride_tricks.as_strided(r, shape, strides)

    # the gradient's real and imaginary parts: build a complex gradient from them
    backward = staticmethod(lambda c, g: (complex(g[..., 0], g[..., 1]),))


@register
class ViewAsComplex(_ComplexOp):
    """(..., 2) real -> (...) complex view (see view_as_complex for the layout rules)."""
    name, kind, view = "view_as_complex", "shape", True
    forward = staticmethod(lambda xp, a: a.view(np.complex64 if a.dtype == np.float32
                                                else np.complex128)[..., 0])
    backward = staticmethod(lambda c, g: (view_as_real(g),))


def _complex_fwd(xp, re, im):
    out = xp.empty(np.broadcast_shapes(re.shape, im.shape),
                   np.complex64 if re.dtype == np.float32 else np.complex128)
    out.real = re
    out.imag = im
    return out


@register
class Complex(_ComplexOp):
    """re + i im from two real tensors of one floating dtype."""
    name, kind = "complex", "library"   # not "elementwise": C kernels have no complex numbers
    forward = staticmethod(_complex_fwd)
    backward = staticmethod(lambda c, g: (real(g), imag(g)))


# ----------------------------------------------------------------------------- functions
def real(input):
    """The real parts: a view of a complex tensor; a real tensor itself."""
    if input._data.dtype.kind != "c":
        return input
    return apply(Real, input)


def imag(input):
    """The imaginary parts, a view; only complex tensors have them (as in PyTorch)."""
    if input._data.dtype.kind != "c":
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return apply(Imag, input)


def conj(input):
    """The complex conjugate; a real tensor itself."""
    if input._data.dtype.kind != "c":
        return input
    return apply(Conj, input)


conj_physical = conj


def resolve_conj(input):
    """Cadenza conjugates eagerly, so there is no conjugate bit to resolve: the input."""
    return input


resolve_neg = resolve_conj


def is_conj(input) -> bool:
    return False


is_neg = is_conj


def isreal(input):
    """True where an element's imaginary part is zero: everywhere for a real tensor."""
    if input._data.dtype.kind == "c":
        return imag(input) == 0
    return _make(xp_of(input._data).ones(input._data.shape, dtype=bool))


def view_as_real(input):
    """A real view (..., 2) of a complex tensor: real and imaginary parts in the last dim."""
    _need_complex("view_as_real", input)
    return apply(ViewAsReal, input)


def view_as_complex(input):
    """A complex view of a float32/float64 tensor whose last dim holds (real, imag) pairs; as
    in PyTorch the last dim must have size 2 and stride 1, the other strides and the storage
    offset must be even."""
    d = input._data
    if d.dtype not in (np.float32, np.float64):
        raise RuntimeError("view_as_complex is only supported for half, float and double "
                           f"tensors, but got a tensor of scalar type: {input.dtype.name}"
                           + (" (Cadenza has no complex32)" if d.dtype.kind == "f" else ""))
    if d.ndim == 0:
        raise RuntimeError("Input tensor must have one or more dimensions")
    if d.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    st = input.stride()
    if st[-1] != 1:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    if any(s % 2 for s, n in zip(st[:-1], d.shape[:-1]) if n > 1):
        raise RuntimeError("Tensor must have a stride divisible by 2 for all but last "
                           "dimension")
    if _storage_offset(d) % 2:
        raise RuntimeError("Tensor must have a storage_offset divisible by 2")
    return apply(ViewAsComplex, input)


def _storage_offset(a) -> int:
    """a's offset in elements from the start of the array that owns its memory (0 when the
    owner is not a NumPy array)."""
    owner = a
    while isinstance(owner.base, np.ndarray):
        owner = owner.base
    if owner is a or type(a) is not np.ndarray:
        return 0
    start = a.__array_interface__["data"][0] - owner.__array_interface__["data"][0]
    return start // a.itemsize


def complex(real, imag):
    """torch.complex: real + i imag, from two tensors of one floating dtype (float32 gives
    complex64, float64 complex128); broadcasts."""
    for t in (real, imag):
        if not isinstance(t, Tensor):
            raise TypeError(f"complex(): argument must be a Tensor, not {type(t).__name__}")
    if not (real.is_floating_point() and imag.is_floating_point()):
        raise RuntimeError("Expected both inputs to be Half, Float or Double tensors but got "
                           f"{real.dtype.name} and {imag.dtype.name}")
    if real.dtype is not imag.dtype:
        raise RuntimeError(f"Expected object of scalar type {real.dtype.name} but got scalar "
                           f"type {imag.dtype.name} for second argument")
    if real._data.dtype not in (np.float32, np.float64):  # float16/bfloat16: no complex32
        real, imag = real.float(), imag.float()
    return apply(Complex, real, imag)


def polar(abs, angle):
    """torch.polar: abs * (cos(angle) + i sin(angle))."""
    return complex(abs * angle.cos(), abs * angle.sin())


def angle(input):
    """The argument of each element, atan2(imag, real); for a real tensor pi where negative,
    else 0 (NaN stays NaN), as in PyTorch."""
    if input._data.dtype.kind == "c":
        re, im = real(input), imag(input)
        zero = (re == 0) & (im == 0)
        # angle(0) = 0 with gradient 0, as PyTorch's (atan2's would be 0/0 there)
        return where(zero, 0.0, atan2(where(zero, 0.0, im), where(zero, 1.0, re)))
    if input._data.dtype.kind in "iub":
        input = input.to(_dt.get_default_dtype())
    return where(input < 0, math.pi, input * 0)


def sgn(input):
    """z / |z| (0 where z is 0); for real tensors, sign."""
    if input._data.dtype.kind != "c":
        return sign(input)
    a = apply(Abs, input)
    zero = a == 0
    return input / where(zero, 1.0, a) * (~zero)


def cfloat(self):
    return self.to(_dt.complex64)


def cdouble(self):
    return self.to(_dt.complex128)


class ComplexMethods:
    """cadenza.Tensor's complex methods and the ``real``/``imag`` properties (settable:
    ``z.real = t`` writes the real parts, as in PyTorch)."""
    __slots__ = ()

    conj = conj
    conj_physical = conj_physical
    resolve_conj = resolve_conj
    resolve_neg = resolve_neg
    is_conj = is_conj
    is_neg = is_neg
    isreal = isreal
    angle = angle
    sgn = sgn
    cfloat = cfloat
    cdouble = cdouble

    @property
    def real(self):
        return real(self)

    @real.setter
    def real(self, value):
        real(self).copy_(value)

    @property
    def imag(self):
        return imag(self)

    @imag.setter
    def imag(self, value):
        imag(self).copy_(value)

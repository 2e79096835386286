"""Tensor's maths methods: elementwise functions and reductions (``x.exp()``, ``x.sum(1)``).
Each is the op-layer function itself, so ``x.exp()`` and ``cadenza.exp(x)`` are one code path."""
from __future__ import annotations

from .. import ops as O


class MathMethods:
    __slots__ = ()

    # elementwise
    add = O.add
    sub = subtract = O.sub
    mul = multiply = O.mul
    div = divide = true_divide = O.div
    floor_divide = O.floor_divide
    pow = O.pow
    float_power = O.float_power
    remainder = O.remainder
    fmod = O.fmod
    neg = negative = O.neg
    exp = O.exp
    exp2 = O.exp2
    expm1 = O.expm1
    log = O.log
    log1p = O.log1p
    log2 = O.log2
    log10 = O.log10
    sqrt = O.sqrt
    rsqrt = O.rsqrt
    reciprocal = O.reciprocal
    square = O.square
    sin = O.sin
    cos = O.cos
    tan = O.tan
    atan = arctan = O.atan
    asin = O.asin
    acos = O.acos
    sinh = O.sinh
    asinh = arcsinh = O.asinh
    cosh = O.cosh
    tanh = O.tanh
    sigmoid = O.sigmoid
    erf = O.erf
    erfc = O.erfc
    relu = O.relu
    abs = absolute = O.abs
    sign = sgn = O.sign
    floor = O.floor
    ceil = O.ceil
    trunc = fix = O.trunc
    round = O.round
    clamp = clip = O.clamp
    maximum = O.maximum
    minimum = O.minimum
    atan2 = O.atan2
    lerp = O.lerp
    addcmul = O.addcmul
    addcdiv = O.addcdiv
    nan_to_num = O.nan_to_num
    isnan = O.isnan
    isinf = O.isinf
    isfinite = O.isfinite
    isclose = O.isclose
    allclose = O.allclose
    equal = O.equal
    eq = O.eq
    ne = not_equal = O.ne
    lt = less = O.lt
    le = less_equal = O.le
    gt = greater = O.gt
    ge = greater_equal = O.ge
    logical_not = O.logical_not
    logical_and = O.logical_and
    logical_or = O.logical_or
    logical_xor = O.logical_xor
    bitwise_not = O.bitwise_not
    bitwise_and = O.bitwise_and
    bitwise_or = O.bitwise_or
    bitwise_xor = O.bitwise_xor

    def clamp_min(self, min):
        return O.clamp(self, min=min)

    def clamp_max(self, max):
        return O.clamp(self, max=max)

    def where(self, condition, other):
        return O.where(condition, self, other)

    # reductions
    sum = O.sum
    nansum = O.nansum
    mean = O.mean
    var = O.var
    std = O.std
    amax = O.amax
    amin = O.amin
    max = O.max
    min = O.min
    aminmax = O.aminmax
    argmax = O.argmax
    argmin = O.argmin
    prod = O.prod
    cumsum = O.cumsum
    cumprod = O.cumprod
    logsumexp = O.logsumexp
    all = O.all
    any = O.any
    count_nonzero = O.count_nonzero
    argsort = O.argsort
    sort = O.sort
    topk = O.topk
    kthvalue = O.kthvalue
    median = O.median
    norm = O.norm

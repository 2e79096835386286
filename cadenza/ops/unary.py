"""Unary elementwise primitives: math functions (exp, log, trig, erf, sigmoid, relu, ...),
rounding, and the predicates (isnan, logical_not, ...). Gradient maths is in each backward."""
from __future__ import annotations

import math

import numpy as np

from ._registry import Op, register, apply, in_float32
from .inplace import make_inplace
from ..backend import ckernels_conv
from ..backend.cpu import address

__all__ = ["abs", "absolute", "acos", "arccos", "arcsin", "arcsinh", "arctan",
           "argwhere", "asin", "asinh", "atan", "atanh", "arctanh", "bitwise_not", "ceil",
           "acosh", "arccosh",
           "cos", "cosh",
           "erf", "erfc", "exp", "expm1", "fix", "floor", "isfinite", "isinf", "isnan",
           "log", "log10", "log1p", "log2", "logical_not", "neg", "negative", "nonzero",
           "reciprocal", "relu", "round", "rsqrt", "sigmoid", "sign", "sin",
           "sinh", "sqrt", "tan", "tanh", "trunc"]



def _unary(name, fwd, bwd, c_expr, onnx, saves="inputs", to_float=True, differentiable=True,
           **fields):
    """A unary elementwise primitive; ``fields`` sets further Op fields (c_kinds, ...)."""
    cls = type(name.capitalize(), (Op,), {
        "name": name, "kind": "elementwise", "c_expr": c_expr, "onnx": onnx, "saves": saves,
        "to_float": to_float, "differentiable": differentiable,
        "forward": staticmethod(fwd), **fields,
    })
    if differentiable:
        cls.backward = staticmethod(bwd)
    return register(cls)


# Each backward's maths: d/dx f(x) * g.
Neg = _unary("neg", lambda xp, a: -a, lambda c, g: -g, "-{0}", "Neg", saves="none",
             to_float=False, c_kinds="fi")
Exp = _unary("exp", lambda xp, a: xp.exp(a), lambda c, g: g * c.out, "exp({0})", "Exp",
             saves="output", c_exact=False)
Expm1 = _unary("expm1", lambda xp, a: xp.expm1(a), lambda c, g: g * (c.out + 1),
               "expm1({0})", None, saves="output", c_exact=False)
Log = _unary("log", lambda xp, a: xp.log(a), lambda c, g: g / c.saved[0], "log({0})", "Log",
             c_exact=False)
Log1p = _unary("log1p", lambda xp, a: xp.log1p(a), lambda c, g: g / (c.saved[0] + 1),
               "log1p({0})", None, c_exact=False)
Sqrt = _unary("sqrt", lambda xp, a: xp.sqrt(a), lambda c, g: g / (2 * c.out), "sqrt({0})",
              "Sqrt", saves="output")
# d/dx x^-1/2 = -1/2 x^-3/2 = -1/2 out^3
Rsqrt = _unary("rsqrt", lambda xp, a: 1 / xp.sqrt(a),
               lambda c, g: g * (c.out * c.out * c.out) * -0.5, "(1 / sqrt({0}))",
               lambda ctx, node, out: ctx.node(
                   "Reciprocal", [ctx.node("Sqrt", [ctx.name(node.inputs[0])])], out),
               saves="output")
Reciprocal = _unary("reciprocal", lambda xp, a: 1 / a, lambda c, g: -g * c.out * c.out,
                    "(1 / {0})", "Reciprocal", saves="output")
Sin = _unary("sin", lambda xp, a: xp.sin(a), lambda c, g: g * c.saved[0].cos(), "sin({0})",
             "Sin", c_exact=False)
Cos = _unary("cos", lambda xp, a: xp.cos(a), lambda c, g: -g * c.saved[0].sin(), "cos({0})",
             "Cos", c_exact=False)
Tan = _unary("tan", lambda xp, a: xp.tan(a), lambda c, g: g * (1 + c.out * c.out), "tan({0})",
             "Tan", saves="output", c_exact=False)
Atan = _unary("atan", lambda xp, a: xp.arctan(a),
              lambda c, g: g / (1 + c.saved[0] * c.saved[0]), "atan({0})", "Atan", c_exact=False)
Asin = _unary("asin", lambda xp, a: xp.arcsin(a),
              lambda c, g: g * (1 - c.saved[0] * c.saved[0]).rsqrt(), "asin({0})", "Asin",
              c_exact=False)
Acos = _unary("acos", lambda xp, a: xp.arccos(a),
              lambda c, g: -g * (1 - c.saved[0] * c.saved[0]).rsqrt(), "acos({0})", "Acos",
              c_exact=False)
Sinh = _unary("sinh", lambda xp, a: xp.sinh(a), lambda c, g: g * c.saved[0].cosh(),
              "sinh({0})", "Sinh", c_exact=False)
Cosh = _unary("cosh", lambda xp, a: xp.cosh(a), lambda c, g: g * c.saved[0].sinh(),
              "cosh({0})", "Cosh", c_exact=False)
# d/dx atanh(x) = 1 / (1 - x^2)
Atanh = _unary("atanh", lambda xp, a: xp.arctanh(a),
               lambda c, g: g / (1 - c.saved[0] * c.saved[0]), "atanh({0})", "Atanh",
               c_exact=False)
# d/dx asinh(x) = 1 / sqrt(x^2 + 1)
Asinh = _unary("asinh", lambda xp, a: xp.arcsinh(a),
               lambda c, g: g * (c.saved[0] * c.saved[0] + 1).rsqrt(), "asinh({0})", "Asinh",
               c_exact=False)
# d/dx acosh(x) = 1 / sqrt(x^2 - 1)
Acosh = _unary("acosh", lambda xp, a: xp.arccosh(a),
               lambda c, g: g * (c.saved[0] * c.saved[0] - 1).rsqrt(), "acosh({0})", "Acosh",
               c_exact=False)
# the gradients of tanh and sigmoid from the output in torch's order of operations; torch's
# tanh backward computes float16/bfloat16 in float32 (one rounding), its sigmoid backward
# bfloat16 in float32 but float16 rounding after each step
Tanh = _unary("tanh", lambda xp, a: xp.tanh(a),
              lambda c, g: in_float32(lambda g, y: g * (1 - y * y), g, c.out),
              "tanh({0})", "Tanh", saves="output", c_exact=False)


def _sigmoid_fwd(xp, a):
    if a.dtype.kind == "c":
        return 1 / (1 + xp.exp(-a))
    # Split by sign so exp never overflows: 1/(1+e^-a) for a>=0, e^a/(1+e^a) otherwise.
    if xp is not np or a.ndim == 0:
        e = xp.exp(-xp.abs(a))
        return xp.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)
    e = np.abs(a)   # the same values as the where() above in fewer passes
    np.negative(e, out=e)
    np.exp(e, out=e)
    d = e + 1
    return np.where(a >= 0, np.divide(1, d), np.divide(e, d, out=e)).astype(a.dtype, copy=False)


def _sigmoid_grad(g, y):
    return g * (1 - y) * y


# the C lowering splits by sign as _sigmoid_fwd does
Sigmoid = _unary("sigmoid", _sigmoid_fwd,
                 lambda c, g: _sigmoid_grad(g, c.out) if c.out._data.dtype.kind != "V" else
                 in_float32(_sigmoid_grad, g, c.out),
                 "({0} >= 0 ? 1 / (1 + exp(-fabs({0}))) : exp(-fabs({0})) / (1 + exp(-fabs({0}))))",
                 "Sigmoid", saves="output", c_exact=False)
# d/dx erf(x) = 2/sqrt(pi) exp(-x^2)
Erf = _unary("erf", lambda xp, a: _erf(xp, a),
             lambda c, g: g * (-(c.saved[0] * c.saved[0])).exp() * (2 / math.sqrt(math.pi)),
             "erf({0})", "Erf", c_exact=False)
_C_MIN = 4096   # elements from which relu and its gradient run as C passes on the pool


def _relu(xp, a):
    if a.dtype == np.bool_:
        raise RuntimeError("relu: Boolean inputs not supported for relu")
    if xp is np and a.size >= _C_MIN:   # maximum(a, 0) as NumPy computes it, on the pool
        out = np.empty(a.shape, dtype=a.dtype)
        fn = ckernels_conv.kernel("relu", a, out)
        if fn is not None:
            fn(address(a), address(out), a.size)
            return out
    return xp.maximum(a, 0)


def _relu_grad(xp, g, out):
    if xp is np and g.size >= _C_MIN and g.shape == out.shape:
        gx = np.empty(g.shape, dtype=g.dtype)
        fn = ckernels_conv.kernel("relu_grad", g, out, gx)
        if fn is not None:
            fn(address(g), address(out), address(gx), g.size)
            return gx
    return xp.where(out <= 0, g.dtype.type(0), g)


@register
class ReluBackward(Op):
    """relu's gradient from its output: g where out > 0 (or NaN), +0 where out <= 0, as
    torch's threshold_backward(g, out, 0); one pass (C on the pool in eager, fused in C in a
    compiled graph) instead of compare, cast and multiply. Linear in g."""
    name, kind, onnx, saves, c_kinds = "relu_backward", "elementwise", None, "inputs", "f"
    c_expr = "({1} <= 0 ? ({T})0 : {0})"
    forward = staticmethod(_relu_grad)
    needs_saved = staticmethod(lambda req: (False, req[0]))

    @staticmethod
    def backward(c, gg):
        return (apply(ReluBackward, gg, c.saved[1]) if c.next[0] is not None else None, None)


def _relu_backward(c, g):
    if g.dtype.is_floating_point and c.out.dtype == g.dtype:
        return apply(ReluBackward, g, c.out)
    return g * (c.out > 0)


Relu = _unary("relu", _relu, _relu_backward,
              "CZ_MAX({0}, 0)", "Relu", saves="output", to_float=False, c_kinds="fi")
# sgn is sign for real x, x / |x| for complex x (ops/complex.py)
Abs = _unary("abs", lambda xp, a: xp.abs(a), lambda c, g: g * c.saved[0].sgn(), "fabs({0})",
             "Abs", to_float=False)
# Piecewise-constant functions: zero gradient, as in PyTorch.
def _sign(xp, a):
    if a.dtype == np.bool_:
        return a.copy()
    s = xp.sign(a)
    if a.dtype.kind in "iu":
        return s
    # sign(NaN) is 0 in PyTorch; NumPy keeps NaN (except in float16)
    return xp.where(s != s, a.dtype.type(0), s)


Sign = _unary("sign", _sign, lambda c, g: g * 0, "({0} > 0 ? 1 : ({0} < 0 ? -1 : 0))", "Sign",
              saves="none", to_float=False, c_kinds="fi")
Floor = _unary("floor", lambda xp, a: a if a.dtype.kind in "iub" else xp.floor(a),
               lambda c, g: g * 0, "floor({0})", "Floor", saves="none", to_float=False)
Ceil = _unary("ceil", lambda xp, a: a if a.dtype.kind in "iub" else xp.ceil(a),
              lambda c, g: g * 0, "ceil({0})", "Ceil", saves="none", to_float=False)
Trunc = _unary("trunc", lambda xp, a: a if a.dtype.kind in "iub" else xp.trunc(a),
               lambda c, g: g * 0, "trunc({0})", None, saves="none", to_float=False)
Round = _unary("round", lambda xp, a, decimals=0: xp.round(a, decimals),
               lambda c, g: g * 0, "nearbyint({0})", "Round", saves="none", to_float=False,
               # C rounds to an integer only (decimals=0)
               c_attrs=frozenset({"decimals"}), c_check=staticmethod(
                   lambda n: n.attrs.get("decimals", 0) == 0))


_CHUNK = 1 << 15  # elements per block: a chain of temporaries this size stays in L2 cache


def _blocked(fn, xp, *arrays):
    """Apply an elementwise chain ``fn(xp, *blocks)`` block by block over same-shaped arrays:
    NumPy makes a temporary per step, and on cache-sized blocks those stay in cache (several
    times faster than whole-array passes for activation-sized tensors)."""
    if xp is not np:
        return fn(xp, *arrays)
    arrays = np.broadcast_arrays(*arrays)
    shape = arrays[0].shape
    flat = [np.ascontiguousarray(a).reshape(-1) for a in arrays]  # 1-d: ufuncs keep arrays
    if flat[0].size <= _CHUNK:
        return fn(xp, *flat).reshape(shape)
    out = np.empty(flat[0].size, dtype=np.result_type(*arrays))
    for i in range(0, out.size, _CHUNK):
        out[i:i + _CHUNK] = fn(xp, *(f[i:i + _CHUNK] for f in flat))
    return out.reshape(shape)


# erf(x) ~ x P(x^2) / Q(x^2) on [-4, 4] (erf is +-1 in float32 beyond): the rational fit of
# Eigen's generic_fast_erf_float (also XLA's), evaluated in float32. Max error 7 ulp over
# [-6, 6] against the exact erf, and relative accuracy kept near 0 (the Numerical Recipes erfc
# fit it replaces, evaluated in float64, was off by up to 8,000 ulp for tiny |x| and 6x slower).
_ERF_P = (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06,
          -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03,
          -1.60960333262415e-02)
_ERF_Q = (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
          -7.37332916720468e-03, -1.42647390514189e-02)


def _erf_f32(xp, x):
    """The rational fit over a float32 array (in place on fresh temporaries)."""
    f = np.float32
    x = xp.clip(x, f(-4.0), f(4.0))
    x2 = x * x
    p = x2 * f(_ERF_P[0])
    for c in _ERF_P[1:]:
        p += f(c)
        p *= x2 if c is not _ERF_P[-1] else x
    q = x2 * f(_ERF_Q[0])
    for c in _ERF_Q[1:-1]:
        q += f(c)
        q *= x2
    q += f(_ERF_Q[-1])
    p /= q
    return p


def _erf(xp, a):
    """erf without SciPy. float64: the everywhere-positive series
    erf(x) = 2/sqrt(pi) e^(-x^2) sum_n 2^n x^(2n+1) / (1*3*...*(2n+1)), exact to ~1e-15 (no
    cancellation; x clipped to +-6 where erf is +-1 in double precision). Lower precisions:
    the float32 rational fit above (float16/bfloat16 computed in float32)."""
    if a.dtype == np.float64:
        x = xp.clip(a, -6.0, 6.0)
        x2 = x * x
        term = x.copy()
        total = x.copy()
        n_terms = int(2 * float(np.fmax.reduce(x2, axis=None, initial=0.0)) + 40)  # NaN-blind
        for n in range(1, n_terms):
            term = term * (2 * x2 / (2 * n + 1))
            total += term
        return total * xp.exp(-x2) * (2 / math.sqrt(math.pi))
    return _blocked(_erf_f32, xp, a.astype(np.float32, copy=False)).astype(a.dtype, copy=False)


# ----------------------------------------------------------------------------- predicates
def _pred(name, fwd, onnx, c_expr, **fields):
    return register(type(name, (Op,), {
        "name": name, "kind": "elementwise", "onnx": onnx, "differentiable": False,
        "saves": "none", "forward": staticmethod(fwd), "c_expr": c_expr, **fields}))


def _isfinite_onnx(ctx, node, out):
    x = ctx.name(node.inputs[0])
    ctx.node("Not", [ctx.node("Or", [ctx.node("IsInf", [x]), ctx.node("IsNaN", [x])])], out)


IsNan = _pred("isnan", lambda xp, a: xp.isnan(a), "IsNaN", "isnan({0})")
IsInf = _pred("isinf", lambda xp, a: xp.isinf(a), "IsInf", "isinf({0})")
IsFinite = _pred("isfinite", lambda xp, a: xp.isfinite(a), _isfinite_onnx, "isfinite({0})")
LogicalNot = _pred("logical_not", lambda xp, a: xp.logical_not(a), "Not", "(!{0})",
                   c_kinds="fib", c_operands="any")
BitwiseNot = _pred("bitwise_not", lambda xp, a: ~a, None, "CZ_NOT({0})", c_kinds="fib")

def sigmoid(input):
    return apply(Sigmoid, input)


def log2(input):
    return in_float32(lambda x: apply(Log, x) * (1 / math.log(2)), input)


def log10(input):
    return in_float32(lambda x: apply(Log, x) * (1 / math.log(10)), input)


def _unary_fn(op):
    def fn(input):
        return apply(op, input)
    fn.__name__ = op.name
    fn.__doc__ = f"Elementwise {op.name}."
    return fn


neg = negative = _unary_fn(Neg)
exp = _unary_fn(Exp)
expm1 = _unary_fn(Expm1)
log = _unary_fn(Log)
log1p = _unary_fn(Log1p)
sqrt = _unary_fn(Sqrt)
rsqrt = _unary_fn(Rsqrt)
reciprocal = _unary_fn(Reciprocal)
sin = _unary_fn(Sin)
cos = _unary_fn(Cos)
tan = _unary_fn(Tan)
atan = arctan = _unary_fn(Atan)
asin = arcsin = _unary_fn(Asin)
acos = arccos = _unary_fn(Acos)
sinh = _unary_fn(Sinh)
cosh = _unary_fn(Cosh)
tanh = _unary_fn(Tanh)
asinh = arcsinh = _unary_fn(Asinh)
atanh = arctanh = _unary_fn(Atanh)
acosh = arccosh = _unary_fn(Acosh)
erf = _unary_fn(Erf)
relu = _unary_fn(Relu)
abs = absolute = _unary_fn(Abs)
sign = _unary_fn(Sign)
floor = _unary_fn(Floor)
ceil = _unary_fn(Ceil)
trunc = fix = _unary_fn(Trunc)
isnan = _unary_fn(IsNan)
isinf = _unary_fn(IsInf)
isfinite = _unary_fn(IsFinite)
logical_not = _unary_fn(LogicalNot)
bitwise_not = _unary_fn(BitwiseNot)


def round(input, decimals=0):
    return apply(Round, input, decimals=decimals) if decimals else apply(Round, input)


def erfc(input):
    return 1 - erf(input)


# ----------------------------------------------------------------------------- nonzero
@register
class Nonzero(Op):
    name, kind, onnx, saves, differentiable = "nonzero", "index", None, "none", False
    meta = False    # how many are nonzero depends on the values
    forward = staticmethod(lambda xp, a: xp.argwhere(a).astype(np.int64))


def nonzero(input, *, as_tuple=False):
    out = apply(Nonzero, input)
    if as_tuple:
        if input.ndim == 0:   # torch: one index tensor, [0] when the scalar is nonzero
            return (out.new_zeros((int(out.shape[0]),)),)
        return tuple(out[:, i] for i in range(out.shape[1]))
    return out


def argwhere(input):
    return nonzero(input)


# ----------------------------------------------------------------------------- Tensor methods
class UnaryMethods:
    """cadenza.Tensor's methods for this module's functions (``x.f(...)`` is ``f(x, ...)``,
    in-place ``x.f_(...)`` commits it into x); ``cadenza/_tensor.py`` composes them."""
    __slots__ = ()

    # --- Tensor methods (issue 10): acosh and the in-place forms of this module's functions
    acosh = arccosh = acosh
    acosh_ = make_inplace(acosh, "acosh_")
    arccosh_ = make_inplace(acosh, "arccosh_")
    arctanh_ = make_inplace(atanh, "arctanh_")
    asinh_ = make_inplace(asinh, "asinh_")
    arcsinh_ = make_inplace(asinh, "arcsinh_")
    acos_ = make_inplace(acos, "acos_")
    arccos_ = make_inplace(acos, "arccos_")
    asin_ = make_inplace(asin, "asin_")
    arcsin_ = make_inplace(asin, "arcsin_")
    atan_ = make_inplace(atan, "atan_")
    arctan_ = make_inplace(atan, "arctan_")
    sinh_ = make_inplace(sinh, "sinh_")
    cosh_ = make_inplace(cosh, "cosh_")
    tan_ = make_inplace(tan, "tan_")
    expm1_ = make_inplace(expm1, "expm1_")
    log2_ = make_inplace(log2, "log2_", True)
    log10_ = make_inplace(log10, "log10_", True)
    erfc_ = make_inplace(erfc, "erfc_", True)
    absolute_ = make_inplace(abs, "absolute_")
    negative_ = make_inplace(neg, "negative_")
    sgn_ = make_inplace(sign, "sgn_")
    fix_ = make_inplace(trunc, "fix_")
    bitwise_not_ = make_inplace(bitwise_not, "bitwise_not_")
    arcsin = asin
    arccos = acos
    # --- end issue 10

    neg = negative = neg
    exp = exp
    expm1 = expm1
    log = log
    log1p = log1p
    log2 = log2
    log10 = log10
    sqrt = sqrt
    rsqrt = rsqrt
    reciprocal = reciprocal
    sin = sin
    cos = cos
    tan = tan
    atan = arctan = atan
    asin = asin
    acos = acos
    sinh = sinh
    asinh = arcsinh = asinh
    atanh = arctanh = atanh
    atanh_ = make_inplace(atanh, "atanh_")
    cosh = cosh
    tanh = tanh
    sigmoid = sigmoid
    erf = erf
    erfc = erfc
    relu = relu
    abs = absolute = abs
    sign = sign
    floor = floor
    ceil = ceil
    trunc = fix = trunc
    round = round
    isnan = isnan
    isinf = isinf
    isfinite = isfinite
    logical_not = logical_not
    bitwise_not = bitwise_not
    nonzero = nonzero
    argwhere = argwhere
    neg_ = make_inplace(neg, "neg_")
    exp_ = make_inplace(exp, "exp_")
    log_ = make_inplace(log, "log_")
    log1p_ = make_inplace(log1p, "log1p_")
    sqrt_ = make_inplace(sqrt, "sqrt_")
    rsqrt_ = make_inplace(rsqrt, "rsqrt_")
    reciprocal_ = make_inplace(reciprocal, "reciprocal_")
    sin_ = make_inplace(sin, "sin_")
    cos_ = make_inplace(cos, "cos_")
    tanh_ = make_inplace(tanh, "tanh_")
    sigmoid_ = make_inplace(sigmoid, "sigmoid_")
    relu_ = make_inplace(relu, "relu_")
    abs_ = make_inplace(abs, "abs_")
    sign_ = make_inplace(sign, "sign_")
    floor_ = make_inplace(floor, "floor_")
    ceil_ = make_inplace(ceil, "ceil_")
    trunc_ = make_inplace(trunc, "trunc_")
    round_ = make_inplace(round, "round_")
    erf_ = make_inplace(erf, "erf_")
    logical_not_ = make_inplace(logical_not, "logical_not_")

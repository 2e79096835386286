"""Elementwise primitives: unary math, binary arithmetic with broadcasting and PyTorch's type
promotion, comparisons, where, clamp and dtype casts. Gradient maths is in each backward."""
from __future__ import annotations

import math

import numpy as np

from ._registry import Op, register, apply, _broadcast_error
from .._tensor_base import TensorBase as Tensor
from .. import dtypes as _dt

__all__ = ["where", "clamp", "add", "sub", "subtract", "mul", "multiply", "maximum",
           "minimum", "fmod", "remainder", "atan2", "eq", "ne", "not_equal", "lt",
           "less", "le", "less_equal", "gt", "greater", "ge", "greater_equal",
           "logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or",
           "bitwise_xor", "div", "divide", "true_divide", "floor_divide", "pow",
           "float_power", "square", "sigmoid", "log2", "log10", "exp2", "neg",
           "negative", "exp", "expm1", "log", "log1p", "sqrt", "rsqrt", "reciprocal",
           "sin", "cos", "tan", "atan", "arctan", "asin", "arcsin", "acos", "arccos",
           "sinh", "cosh", "tanh", "erf", "relu", "abs", "absolute", "sign", "sgn",
           "floor", "ceil", "trunc", "fix", "isnan", "isinf", "isfinite", "logical_not",
           "bitwise_not", "round", "erfc", "lerp", "addcmul", "addcdiv", "nan_to_num",
           "isclose", "allclose", "equal", "to_dtype"]


def _unary(name, fwd, bwd, c_expr, onnx, saves="inputs", to_float=True, differentiable=True):
    cls = type(name.capitalize(), (Op,), {
        "name": name, "kind": "elementwise", "c_expr": c_expr, "onnx": onnx, "saves": saves,
        "to_float": to_float, "differentiable": differentiable,
        "forward": staticmethod(fwd),
    })
    if differentiable:
        cls.backward = staticmethod(bwd)
    return register(cls)


# Each backward's maths: d/dx f(x) * g.
Neg = _unary("neg", lambda xp, a: -a, lambda c, g: -g, "-{0}", "Neg", saves="none",
             to_float=False)
Exp = _unary("exp", lambda xp, a: xp.exp(a), lambda c, g: g * c.out, "exp({0})", "Exp",
             saves="output")
Expm1 = _unary("expm1", lambda xp, a: xp.expm1(a), lambda c, g: g * (c.out + 1),
               "expm1({0})", None, saves="output")
Log = _unary("log", lambda xp, a: xp.log(a), lambda c, g: g / c.saved[0], "log({0})", "Log")
Log1p = _unary("log1p", lambda xp, a: xp.log1p(a), lambda c, g: g / (c.saved[0] + 1),
               "log1p({0})", None)
Sqrt = _unary("sqrt", lambda xp, a: xp.sqrt(a), lambda c, g: g / (2 * c.out), "sqrt({0})",
              "Sqrt", saves="output")
# d/dx x^-1/2 = -1/2 x^-3/2 = -1/2 out^3
Rsqrt = _unary("rsqrt", lambda xp, a: 1 / xp.sqrt(a),
               lambda c, g: g * (c.out * c.out * c.out) * -0.5, "(1 / sqrt({0}))", None,
               saves="output")
Reciprocal = _unary("reciprocal", lambda xp, a: 1 / a, lambda c, g: -g * c.out * c.out,
                    "(1 / {0})", "Reciprocal", saves="output")
Sin = _unary("sin", lambda xp, a: xp.sin(a), lambda c, g: g * c.saved[0].cos(), "sin({0})",
             "Sin")
Cos = _unary("cos", lambda xp, a: xp.cos(a), lambda c, g: -g * c.saved[0].sin(), "cos({0})",
             "Cos")
Tan = _unary("tan", lambda xp, a: xp.tan(a), lambda c, g: g * (1 + c.out * c.out), "tan({0})",
             "Tan", saves="output")
Atan = _unary("atan", lambda xp, a: xp.arctan(a),
              lambda c, g: g / (1 + c.saved[0] * c.saved[0]), "atan({0})", "Atan")
Asin = _unary("asin", lambda xp, a: xp.arcsin(a),
              lambda c, g: g * (1 - c.saved[0] * c.saved[0]).rsqrt(), "asin({0})", "Asin")
Acos = _unary("acos", lambda xp, a: xp.arccos(a),
              lambda c, g: -g * (1 - c.saved[0] * c.saved[0]).rsqrt(), "acos({0})", "Acos")
Sinh = _unary("sinh", lambda xp, a: xp.sinh(a), lambda c, g: g * c.saved[0].cosh(),
              "sinh({0})", "Sinh")
Cosh = _unary("cosh", lambda xp, a: xp.cosh(a), lambda c, g: g * c.saved[0].sinh(),
              "cosh({0})", "Cosh")
Tanh = _unary("tanh", lambda xp, a: xp.tanh(a), lambda c, g: g * (1 - c.out * c.out),
              "tanh({0})", "Tanh", saves="output")


def _sigmoid_fwd(xp, a):
    # Split by sign so exp never overflows: 1/(1+e^-a) for a>=0, e^a/(1+e^a) otherwise.
    e = xp.exp(-xp.abs(a))
    return xp.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


# the C lowering splits by sign as _sigmoid_fwd does
Sigmoid = _unary("sigmoid", _sigmoid_fwd, lambda c, g: g * c.out * (1 - c.out),
                 "({0} >= 0 ? 1 / (1 + exp(-fabs({0}))) : exp(-fabs({0})) / (1 + exp(-fabs({0}))))",
                 "Sigmoid", saves="output")
# d/dx erf(x) = 2/sqrt(pi) exp(-x^2)
Erf = _unary("erf", lambda xp, a: _erf(xp, a),
             lambda c, g: g * (-(c.saved[0] * c.saved[0])).exp() * (2 / math.sqrt(math.pi)),
             "erf({0})", "Erf")
Relu = _unary("relu", lambda xp, a: xp.maximum(a, 0), lambda c, g: g * (c.out > 0),
              "CZ_MAX({0}, 0)", "Relu", saves="output", to_float=False)
Abs = _unary("abs", lambda xp, a: xp.abs(a), lambda c, g: g * c.saved[0].sign(), "fabs({0})",
             "Abs", to_float=False)
# Piecewise-constant functions: zero gradient, as in PyTorch.
_zero = staticmethod(lambda c, g: g * 0)
Sign = _unary("sign", lambda xp, a: a.copy() if a.dtype == np.bool_ else xp.sign(a),
              lambda c, g: g * 0, "({0} > 0 ? 1 : ({0} < 0 ? -1 : ({0} == 0 ? 0 : {0})))", "Sign",
              saves="none", to_float=False)
Floor = _unary("floor", lambda xp, a: a if a.dtype.kind in "iub" else xp.floor(a),
               lambda c, g: g * 0, "floor({0})", "Floor", saves="none", to_float=False)
Ceil = _unary("ceil", lambda xp, a: a if a.dtype.kind in "iub" else xp.ceil(a),
              lambda c, g: g * 0, "ceil({0})", "Ceil", saves="none", to_float=False)
Trunc = _unary("trunc", lambda xp, a: a if a.dtype.kind in "iub" else xp.trunc(a),
               lambda c, g: g * 0, "trunc({0})", None, saves="none", to_float=False)
Round = _unary("round", lambda xp, a, decimals=0: xp.round(a, decimals),
               lambda c, g: g * 0, "nearbyint({0})", "Round", saves="none", to_float=False)


def _erf(xp, a):
    """erf without SciPy. float64: the everywhere-positive series
    erf(x) = 2/sqrt(pi) e^(-x^2) sum_n 2^n x^(2n+1) / (1*3*...*(2n+1)), exact to ~1e-15 (no
    cancellation; x clipped to +-6 where erf is +-1 in double precision). Lower precisions: the
    Numerical Recipes erfc Chebyshev fit, relative error < 1.2e-7 (float32's epsilon)."""
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
    x = a.astype(np.float64)
    s = xp.sign(x)
    z = xp.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    y = t * xp.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (
        0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (
            1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
    return (s * (1 - y)).astype(a.dtype, copy=False)


# ----------------------------------------------------------------------------- predicates
def _pred(name, fwd, onnx, c_expr):
    return register(type(name, (Op,), {
        "name": name, "kind": "elementwise", "onnx": onnx, "differentiable": False,
        "saves": "none", "forward": staticmethod(fwd), "c_expr": c_expr}))


IsNan = _pred("isnan", lambda xp, a: xp.isnan(a), "IsNaN", "isnan({0})")
IsInf = _pred("isinf", lambda xp, a: xp.isinf(a), "IsInf", "isinf({0})")
IsFinite = _pred("isfinite", lambda xp, a: xp.isfinite(a), None, "isfinite({0})")
LogicalNot = _pred("logical_not", lambda xp, a: xp.logical_not(a), "Not", "(!{0})")
BitwiseNot = _pred("bitwise_not", lambda xp, a: ~a, None, "CZ_NOT({0})")


# ----------------------------------------------------------------------------- binary
class _Binary(Op):
    kind = "elementwise"
    promote = True

    @classmethod
    def check(cls, a, b, **_):
        sa = a.shape if isinstance(a, Tensor) else ()
        sb = b.shape if isinstance(b, Tensor) else ()
        try:
            np.broadcast_shapes(tuple(sa), tuple(sb))
        except ValueError:
            raise _broadcast_error(cls.name, a, b) from None


@register
class Add(_Binary):
    name, c_expr, onnx, saves = "add", "({0} + {1})", "Add", "none"
    forward = staticmethod(lambda xp, a, b: a + b)
    backward = staticmethod(lambda c, g: (g, g))


@register
class Sub(_Binary):
    name, c_expr, onnx, saves = "sub", "({0} - {1})", "Sub", "none"
    forward = staticmethod(lambda xp, a, b: a - b)
    backward = staticmethod(lambda c, g: (g, -g))


@register
class Mul(_Binary):
    name, c_expr, onnx = "mul", "({0} * {1})", "Mul"
    forward = staticmethod(lambda xp, a, b: a * b)
    needs_saved = staticmethod(lambda req: (req[1], req[0]))

    @staticmethod
    def backward(c, g):
        a, b = c.saved
        return (g * b if c.next[0] is not None else None,
                g * a if c.next[1] is not None else None)


def _true_div(xp, a, b):
    r = a / b
    if r.dtype == np.float64 and _int_like(a) and _int_like(b):
        r = r.astype(_dt.get_default_dtype().np)  # int / int is the default float, as in torch
    return r


def _int_like(x):
    return (isinstance(x, (int, bool)) and not isinstance(x, float)) or (
        hasattr(x, "dtype") and x.dtype.kind in "iub")


@register
class Div(_Binary):
    name, c_expr, onnx = "div", "({0} / {1})", "Div"
    forward = staticmethod(_true_div)
    needs_saved = staticmethod(lambda req: (req[1], True))

    # d(a/b)/da = 1/b ; d(a/b)/db = -a/b^2
    @staticmethod
    def backward(c, g):
        a, b = c.saved
        ga = g / b if c.next[0] is not None else None
        gb = -g * a / (b * b) if c.next[1] is not None else None
        return ga, gb


@register
class Pow(_Binary):
    name, c_expr, onnx = "pow", "pow({0}, {1})", "Pow"

    @staticmethod
    def forward(xp, a, b):
        if _int_like(a) and _int_like(b) and isinstance(b, int) and b < 0:
            raise ValueError("Integers to negative integer powers are not allowed.")
        return a ** b

    # d(a^b)/da = b a^(b-1) ; d(a^b)/db = a^b log(a)   (0 where a == 0, as torch masks it)
    @staticmethod
    def backward(c, g):
        a, b = c.saved
        ga = gb = None
        if c.next[0] is not None:
            if isinstance(b, Tensor):
                ga = g * b * a ** (b - 1)
            else:
                ga = g * 0 if b == 0 else g * b * a ** (b - 1)
        if c.next[1] is not None:
            out = a ** b
            if isinstance(a, Tensor):
                ga_mask = a == 0
                gb = where(ga_mask, 0.0, g * out * where(ga_mask, 1.0, a).log())
            else:
                gb = g * out * math.log(a) if a > 0 else g * 0
        return ga, gb


@register
class Maximum(_Binary):
    name, c_expr, onnx = "maximum", "CZ_MAX({0}, {1})", "Max"
    forward = staticmethod(lambda xp, a, b: xp.maximum(a, b))

    # ties split the gradient evenly, as in PyTorch
    @staticmethod
    def backward(c, g):
        a, b = c.saved
        w = (a > b) + (a == b) * 0.5
        return g * w, g * (1 - w)


@register
class Minimum(_Binary):
    name, c_expr, onnx = "minimum", "CZ_MIN({0}, {1})", "Min"
    forward = staticmethod(lambda xp, a, b: xp.minimum(a, b))

    @staticmethod
    def backward(c, g):
        a, b = c.saved
        w = (a < b) + (a == b) * 0.5
        return g * w, g * (1 - w)


@register
class Remainder(_Binary):
    name, c_expr, onnx = "remainder", "CZ_REM({0}, {1})", "Mod"
    forward = staticmethod(lambda xp, a, b: xp.remainder(a, b))

    # a - floor(a/b) b: d/da = 1, d/db = -floor(a/b)
    @staticmethod
    def backward(c, g):
        a, b = c.saved
        return g, -g * (a / b).floor()


@register
class Fmod(_Binary):
    name, c_expr, onnx = "fmod", "fmod({0}, {1})", "Mod"
    forward = staticmethod(lambda xp, a, b: xp.fmod(a, b))

    @staticmethod
    def backward(c, g):
        a, b = c.saved
        return g, -g * (a / b).trunc()


@register
class Atan2(_Binary):
    name, c_expr, onnx = "atan2", "atan2({0}, {1})", None
    to_float = True
    forward = staticmethod(lambda xp, a, b: xp.arctan2(a, b))

    # d atan2(a,b) = (b da - a db) / (a^2 + b^2)
    @staticmethod
    def backward(c, g):
        a, b = c.saved
        d = a * a + b * b
        return g * b / d, -g * a / d


def _nondiff_binary(name, fwd, onnx, c_expr=None):
    return register(type(name, (_Binary,), {
        "name": name, "onnx": onnx, "differentiable": False, "saves": "none",
        "forward": staticmethod(fwd), "c_expr": c_expr}))


FloorDivide = _nondiff_binary("floor_divide", lambda xp, a, b: xp.floor_divide(a, b), None)
Eq = _nondiff_binary("eq", lambda xp, a, b: xp.equal(a, b), "Equal", "({0} == {1})")
Ne = _nondiff_binary("ne", lambda xp, a, b: xp.not_equal(a, b), None, "({0} != {1})")
Lt = _nondiff_binary("lt", lambda xp, a, b: xp.less(a, b), "Less", "({0} < {1})")
Le = _nondiff_binary("le", lambda xp, a, b: xp.less_equal(a, b), "LessOrEqual", "({0} <= {1})")
Gt = _nondiff_binary("gt", lambda xp, a, b: xp.greater(a, b), "Greater", "({0} > {1})")
Ge = _nondiff_binary("ge", lambda xp, a, b: xp.greater_equal(a, b), "GreaterOrEqual",
                     "({0} >= {1})")
LogicalAnd = _nondiff_binary("logical_and", lambda xp, a, b: xp.logical_and(a, b), "And",
                             "({0} && {1})")
LogicalOr = _nondiff_binary("logical_or", lambda xp, a, b: xp.logical_or(a, b), "Or",
                            "({0} || {1})")
LogicalXor = _nondiff_binary("logical_xor", lambda xp, a, b: xp.logical_xor(a, b), "Xor",
                             "(!{0} != !{1})")
BitwiseAnd = _nondiff_binary("bitwise_and", lambda xp, a, b: a & b, None, "({0} & {1})")
BitwiseOr = _nondiff_binary("bitwise_or", lambda xp, a, b: a | b, None, "({0} | {1})")
BitwiseXor = _nondiff_binary("bitwise_xor", lambda xp, a, b: a ^ b, None, "({0} ^ {1})")


@register
class Where(Op):
    """where(cond, a, b): a where cond else b (a, b Tensors or scalars, promoted together)."""
    name, kind, c_expr, onnx, saves = "where", "elementwise", "({0} ? {1} : {2})", "Where", \
        "inputs"

    @staticmethod
    def forward(xp, cond, a, b):
        return xp.where(cond, a, b)

    @staticmethod
    def backward(c, g):
        cond = c.saved[0]
        ga = where(cond, g, 0.0) if c.next[1] is not None else None
        gb = where(cond, 0.0, g) if c.next[2] is not None else None
        return None, ga, gb

    @staticmethod
    def check(cond, a, b):
        shapes = [tuple(x.shape) for x in (cond, a, b) if isinstance(x, Tensor)]
        try:
            np.broadcast_shapes(*shapes)
        except ValueError:
            raise _broadcast_error("where", cond, a, b) from None


@register
class Clamp(Op):
    """clamp with scalar bounds; gradient passes where min <= x <= max (as in PyTorch)."""
    name, kind, onnx = "clamp", "elementwise", "Clip"
    c_expr = "CZ_MIN(CZ_MAX({0}, {min}), {max})"

    @staticmethod
    def forward(xp, a, min=None, max=None):
        return xp.clip(a, min, max)

    @staticmethod
    def backward(c, g):
        x = c.saved[0]
        lo, hi = c.attrs.get("min"), c.attrs.get("max")
        mask = None
        if lo is not None:
            mask = x >= lo
        if hi is not None:
            m2 = x <= hi
            mask = m2 if mask is None else mask & m2
        return (g if mask is None else g * mask,)


@register
class Cast(Op):
    """Convert to another dtype; gradients flow between floating dtypes."""
    name, kind, c_expr, onnx, saves = "cast", "elementwise", "(({T}){0})", "Cast", "none"

    @staticmethod
    def forward(xp, a, dtype=None):
        return a.astype(dtype.np)

    @staticmethod
    def backward(c, g):
        return (g,)  # the engine casts back to the input's dtype


# ----------------------------------------------------------------------------- public functions
def _t(x):
    return x if isinstance(x, Tensor) else x


def where(condition, input=None, other=None):
    """Elements of input where condition else other. ``where(cond)`` returns nonzero indices."""
    if input is None and other is None:
        from .index import nonzero
        return nonzero(condition, as_tuple=True)
    if not isinstance(condition, Tensor):
        from .._creation import tensor
        condition = tensor(condition)
    if condition.dtype is not _dt.bool:
        condition = condition != 0
    # promote a and b as a binary op would
    if isinstance(input, Tensor) and isinstance(other, Tensor) and input.dtype is not other.dtype:
        rt = _dt.result_type(input, other)
        input, other = input.to(rt), other.to(rt)
    elif isinstance(input, Tensor) and not isinstance(other, Tensor):
        rt = _dt.result_type(input, other)
        if rt is not input.dtype:
            input = input.to(rt)
        other = _scalar_for(other, rt)
    elif isinstance(other, Tensor) and not isinstance(input, Tensor):
        rt = _dt.result_type(input, other)
        if rt is not other.dtype:
            other = other.to(rt)
        input = _scalar_for(input, rt)
    elif not isinstance(input, Tensor) and not isinstance(other, Tensor):
        from .._creation import tensor
        rt = _dt.result_type(input, other)
        input = tensor(input, dtype=rt)
    return apply(Where, condition, input, other)


def _scalar_for(v, dt):
    # a NumPy scalar of the result dtype keeps np.where from widening the output
    return dt.np.type(v)


def clamp(input, min=None, max=None):
    """Clamp to [min, max]; bounds may be numbers or Tensors."""
    if min is None and max is None:
        raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = input
        if min is not None:
            out = maximum(out, min) if isinstance(min, Tensor) else apply(Clamp, out, min=min)
        if max is not None:
            out = minimum(out, max) if isinstance(max, Tensor) else apply(Clamp, out, max=max)
        return out
    if input._data.dtype.kind in "iu" and (isinstance(min, float) or isinstance(max, float)):
        input = input.to(_dt.get_default_dtype())
    return apply(Clamp, input, min=min, max=max)


def _binary_fn(op):
    def fn(input, other):
        return apply(op, input, other)
    fn.__name__ = op.name
    fn.__doc__ = f"Elementwise {op.name} with broadcasting and PyTorch's type promotion."
    return fn


def add(input, other, alpha=1):
    """input + alpha * other."""
    if alpha != 1:
        other = other * alpha
    return apply(Add, input, other)


def sub(input, other, alpha=1):
    """input - alpha * other."""
    if type(input) is bool or type(other) is bool or (
            isinstance(input, Tensor) and input._data.dtype == np.bool_) or (
            isinstance(other, Tensor) and other._data.dtype == np.bool_):
        from ..errors import DTypeError
        raise DTypeError("sub: subtraction, the `-` operator, with a bool tensor is not "
                         "supported. If you are trying to invert a mask, use the `~` or "
                         "`logical_not()` operator instead.")
    if alpha != 1:
        other = other * alpha
    return apply(Sub, input, other)


subtract = sub
mul = multiply = _binary_fn(Mul)
maximum = _binary_fn(Maximum)
minimum = _binary_fn(Minimum)
fmod = _binary_fn(Fmod)
remainder = _binary_fn(Remainder)
atan2 = _binary_fn(Atan2)
eq = _binary_fn(Eq)
ne = not_equal = _binary_fn(Ne)
lt = less = _binary_fn(Lt)
le = less_equal = _binary_fn(Le)
gt = greater = _binary_fn(Gt)
ge = greater_equal = _binary_fn(Ge)
logical_and = _binary_fn(LogicalAnd)
logical_or = _binary_fn(LogicalOr)
logical_xor = _binary_fn(LogicalXor)
bitwise_and = _binary_fn(BitwiseAnd)
bitwise_or = _binary_fn(BitwiseOr)
bitwise_xor = _binary_fn(BitwiseXor)


def div(input, other, rounding_mode=None):
    """True division (int / int gives the default float), or 'trunc' / 'floor' rounding."""
    if rounding_mode is None:
        return apply(Div, input, other)
    if rounding_mode == "floor":
        if _is_int(input) and _is_int(other):
            return apply(FloorDivide, input, other)
        return apply(Div, input, other).floor()
    if rounding_mode == "trunc":
        r = apply(Div, input, other).trunc()
        if _is_int(input) and _is_int(other):
            r = r.to(_dt.result_type(input, other))
        return r
    raise RuntimeError(f"div: expected rounding_mode None, 'trunc' or 'floor', got "
                     f"{rounding_mode!r}")


def _is_int(x):
    if isinstance(x, Tensor):
        return x._data.dtype.kind in "iub"
    return isinstance(x, int)


divide = true_divide = div


def floor_divide(input, other):
    return div(input, other, rounding_mode="floor")


def pow(input, exponent):
    """input ** exponent; either may be a Tensor or a number."""
    if not isinstance(input, Tensor):
        return apply(Pow, input, exponent) if isinstance(exponent, Tensor) else input ** exponent
    if isinstance(exponent, float) and input._data.dtype.kind in "iub":
        input = input.to(_dt.get_default_dtype())
    return apply(Pow, input, exponent)


def float_power(input, exponent):
    return pow(input.double() if isinstance(input, Tensor) else input,
               exponent.double() if isinstance(exponent, Tensor) else exponent)


def square(input):
    return apply(Mul, input, input)


def sigmoid(input):
    return apply(Sigmoid, input)


def log2(input):
    return apply(Log, input) * (1 / math.log(2))


def log10(input):
    return apply(Log, input) * (1 / math.log(10))


def exp2(input):
    return pow(2.0, input)


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
erf = _unary_fn(Erf)
relu = _unary_fn(Relu)
abs = absolute = _unary_fn(Abs)
sign = _unary_fn(Sign)
sgn = sign
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


def lerp(input, end, weight):
    """input + weight * (end - input)."""
    return input + weight * (end - input)


def addcmul(input, tensor1, tensor2, value=1):
    return input + value * tensor1 * tensor2


def addcdiv(input, tensor1, tensor2, value=1):
    return input + value * tensor1 / tensor2


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    big = np.finfo(input._data.dtype).max if input.is_floating_point() else 0
    out = where(isnan(input), nan, input)
    out = where(out == math.inf, big if posinf is None else posinf, out)
    return where(out == -math.inf, -big if neginf is None else neginf, out)


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    diff = (input - other).abs()
    close = diff <= atol + rtol * (other.abs() if isinstance(other, Tensor) else _abs_scalar(
        other))
    close = close | (input == other)
    if equal_nan:
        close = close | (isnan(input) & isnan(other))
    return close


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return bool(isclose(input, other, rtol, atol, equal_nan).all())


def equal(input, other) -> bool:
    return tuple(input.shape) == tuple(other.shape) and bool((input == other).all())


def _abs_scalar(x):
    return x if x >= 0 else -x


def to_dtype(input, dtype, copy=False):
    """Cast to ``dtype`` (differentiable between floating dtypes)."""
    dtype = _dt.to_dtype(dtype)
    if input._data.dtype == dtype.np and not copy:
        return input
    if input._requires_grad and not dtype.is_floating_point:
        from ..autograd.grad_mode import no_grad
        with no_grad():
            return apply(Cast, input, dtype=dtype)
    return apply(Cast, input, dtype=dtype)

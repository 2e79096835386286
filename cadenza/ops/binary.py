"""Binary elementwise primitives with broadcasting and PyTorch's type promotion: arithmetic,
comparisons, logical and bitwise ops, and where (the select the gradients of pow use)."""
from __future__ import annotations

import operator

import math

import numpy as np

from ._registry import Op, register, apply, _broadcast_error, _wrapped_int, is_low, in_float32
from .._tensor_base import TensorBase as Tensor
from .. import dtypes as _dt
from .._creation import tensor, zeros
from ..errors import DTypeError
from .unary import nonzero
from .inplace import make_inplace
from ..autograd.node import relabel

__all__ = ["add", "arctan2", "atan2", "bitwise_and", "bitwise_or", "bitwise_xor", "div", "divide",
           "eq", "exp2", "float_power", "floor_divide", "fmod", "ge", "greater",
           "greater_equal", "gt", "le", "less", "less_equal", "logical_and",
           "logical_or", "logical_xor", "lt", "maximum", "minimum", "mul", "multiply",
           "ne", "not_equal", "pow", "remainder", "square", "sub", "subtract",
           "true_divide", "where"]



# ----------------------------------------------------------------------------- binary
class _Binary(Op):
    kind = "elementwise"
    promote = True
    scalar_operands = True

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
    name, c_expr, onnx, saves, c_kinds = "add", "({0} + {1})", "Add", "none", "fi"
    array_scalars = operator.add
    forward = staticmethod(lambda xp, a, b: a + b)
    backward = staticmethod(lambda c, g: (g, g))


@register
class Sub(_Binary):
    name, c_expr, onnx, saves, c_kinds = "sub", "({0} - {1})", "Sub", "none", "fi"
    array_scalars = operator.sub
    forward = staticmethod(lambda xp, a, b: a - b)
    backward = staticmethod(lambda c, g: (g, -g))


@register
class Mul(_Binary):
    name, c_expr, onnx, c_kinds = "mul", "({0} * {1})", "Mul", "fi"
    opmath_scalars = True
    array_scalars = operator.mul
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


def _int_divisor(name, a, b):
    """Check that an integer division a / b (Tensors or numbers) has no zero divisor: NumPy
    returns 0 there (with a warning), PyTorch raises. Float operands pass (inf/NaN are right).
    In the public functions, not the forwards: graph verification reruns those on zeros."""
    a = a._data if isinstance(a, Tensor) else a
    b = b._data if isinstance(b, Tensor) else b
    if getattr(a, "size", 1) == 0:   # nothing is divided
        return
    if _int_like(a) and _int_like(b) and not (b.all() if hasattr(b, "all") else b):
        raise RuntimeError(f"{name}: ZeroDivisionError (integer division by zero)")


@register
class Div(_Binary):
    name, c_expr, onnx = "div", "({0} / {1})", "Div"
    opmath_scalars = True
    array_scalars = operator.truediv
    float_result = True
    forward = staticmethod(_true_div)
    needs_saved = staticmethod(lambda req: (req[1], True))

    # d(a/b)/da = 1/b ; d(a/b)/db = -a/b^2
    @staticmethod
    def backward(c, g):
        a, b = c.saved
        ga = g / b if c.next[0] is not None else None
        gb = -g * a / (b * b) if c.next[1] is not None else None
        return ga, gb


def _cube(xp, a):
    r = a * a
    r *= a
    return r


def _inv_square(xp, a):
    r = xp.asarray(a * a)   # (a 0-d operand gives a NumPy scalar, no out= target)
    return xp.divide(1.0, r, out=r)


def _rsqrt(xp, a):
    r = xp.asarray(xp.sqrt(a))
    return xp.divide(1.0, r, out=r)


# Float tensor ** these Python numbers: the products PyTorch computes for them (bit for bit, its
# pow_tensor_scalar kernel), where NumPy calls pow (x ** 3.0 of a GELU-tanh "new GELU": 60x
# slower than x * x * x). NumPy's own fast paths (2, 1, 0, -1) already agree with torch's;
# 0.5 stays NumPy's correctly rounded sqrt (torch's float32 sqrt is 1 ulp off on some inputs).
_SCALAR_POW = {3: _cube, -2: _inv_square, -0.5: _rsqrt}


@register
class Pow(_Binary):
    name, c_expr, onnx, c_exact = "pow", "CZ_POW({0}, {1})", "Pow", False
    scalar_operands = False   # pow(x, 2) is a unary kernel in torch

    @staticmethod
    def forward(xp, a, b):
        if _int_like(a) and _int_like(b):
            if isinstance(b, int) and b < 0:
                raise ValueError("Integers to negative integer powers are not allowed.")
            if not isinstance(b, int) and (b < 0).any():
                return _int_pow_negative(xp, a, b)
        elif type(b) in (float, int) and b in _SCALAR_POW and a.dtype.kind == "f" and \
                a.dtype.itemsize >= 4:  # (half precisions: torch computes in float32)
            return _SCALAR_POW[b](xp, a)
        r = a ** b
        if r.dtype.kind == "c" and isinstance(b, np.ndarray):
            r = _complex_zero_pow(xp, a, b, r)
        return r

    # d(a^b)/da = b a^(b-1) ; d(a^b)/db = a^b log(a)   (0 where a == 0, as torch masks it)
    @staticmethod
    def backward(c, g):
        a, b = c.saved
        ga = gb = None
        if c.next[0] is not None:
            if isinstance(b, Tensor):   # 0 where b == 0 (not 0 * 0^-1 = NaN), as torch
                ga = where(b == 0, 0.0, g * b * a ** (b - 1))
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


def _complex_zero_pow(xp, a, b, r):
    """torch's complex 0 ** tensor exponent b (exp(b log 0)): NaN for a zero or imaginary b,
    inf + NaN j for Re b < 0 (NumPy: 1 and NaN); a Python exponent keeps 0 ** 0 = 1."""
    zero = xp.asarray(a) == 0
    if not zero.any():
        return r
    br = xp.real(b)
    nan = xp.where(zero & (br == 0), complex(math.nan, math.nan), r)
    return xp.where(zero & (br < 0), complex(math.inf, math.nan), nan).astype(r.dtype, copy=False)


def _int_pow_negative(xp, a, b):
    """Integer a ** b where some exponents are negative: torch's integer pow gives 1 for base 1,
    +-1 for base -1 (by the exponent's parity) and 0 for any other base there."""
    dt = xp.result_type(a, b)   # (a Python int base takes the exponents' dtype)
    a, b = xp.broadcast_arrays(xp.asarray(a, dtype=dt), b)
    neg = b < 0
    out = a ** xp.where(neg, 0, b).astype(dt)
    at_neg = xp.where(a == 1, 1, xp.where(a == -1, xp.where(b % 2 == 0, 1, -1), 0))
    return xp.where(neg, at_neg, out).astype(out.dtype)


@register
class Maximum(_Binary):
    name, c_expr, onnx, c_kinds = "maximum", "CZ_MAX({0}, {1})", "Max", "fi"
    forward = staticmethod(lambda xp, a, b: xp.maximum(a, b))

    # ties split the gradient evenly, as in PyTorch
    @staticmethod
    def backward(c, g):
        a, b = c.saved
        w = (a > b) + (a == b) * 0.5
        return g * w, g * (1 - w)


@register
class Minimum(_Binary):
    name, c_expr, onnx, c_kinds = "minimum", "CZ_MIN({0}, {1})", "Min", "fi"
    forward = staticmethod(lambda xp, a, b: xp.minimum(a, b))

    @staticmethod
    def backward(c, g):
        a, b = c.saved
        w = (a < b) + (a == b) * 0.5
        return g * w, g * (1 - w)


@register
class Remainder(_Binary):
    name, c_expr, onnx = "remainder", "CZ_REM({0}, {1})", None
    forward = staticmethod(lambda xp, a, b: xp.remainder(a, b))

    # a - floor(a/b) b: d/da = 1, d/db = -floor(a/b)
    @staticmethod
    def backward(c, g):
        a, b = c.saved
        return g, -g * (a / b).floor()


@register
class Fmod(_Binary):
    name, c_expr, onnx = "fmod", "fmod({0}, {1})", None
    forward = staticmethod(lambda xp, a, b: xp.fmod(a, b))

    @staticmethod
    def backward(c, g):
        a, b = c.saved
        return g, -g * (a / b).trunc()


@register
class Atan2(_Binary):
    name, c_expr, onnx, c_exact = "atan2", "atan2({0}, {1})", None, False
    to_float = True
    forward = staticmethod(lambda xp, a, b: xp.arctan2(a, b))

    # d atan2(a,b) = (b da - a db) / (a^2 + b^2); both numerators are 0 where a = b = 0, and
    # torch's gradient is 0 there (not 0/0)
    @staticmethod
    def backward(c, g):
        a, b = c.saved
        d = a * a + b * b
        d = where(d == 0, 1.0, d)
        return g * b / d, -g * a / d


def _nondiff_binary(name, fwd, onnx, c_expr=None, **fields):
    return register(type(name, (_Binary,), {
        "name": name, "onnx": onnx, "differentiable": False, "saves": "none",
        "forward": staticmethod(fwd), "c_expr": c_expr, **fields}))


def _ne_onnx(ctx, node, out):
    ctx.node("Not", [ctx.node("Equal", ctx.operands(node, Eq))], out)


# comparisons compute in their operands' dtype (the output is bool); logical ops read any dtype
# as truth values
_CMP = {"c_compute": "input", "c_kinds": "fi"}
_LOGICAL = {"c_kinds": "fib", "c_operands": "any"}
def _floor_divide_onnx(ctx, node, out):
    if node.out.dtype.kind != "f":   # ONNX's integer Div truncates
        raise ctx.Unsupported("integer floor division")
    ctx.node("Floor", [ctx.node("Div", ctx.operands(node, FloorDivide))], out)


@register
class FloorDivide(_Binary):
    """Python's a // b: NumPy's floor_divide is torch's rule bit for bit (fmod-based, so
    5 // -inf is -1 and inf // 6 is NaN); floor(a / b) is not. Its gradient is 0 (torch)."""
    name, onnx, saves = "floor_divide", _floor_divide_onnx, "none"
    c_expr, c_kinds = "CZ_FLOORDIV({0}, {1})", "f"
    forward = staticmethod(lambda xp, a, b: xp.floor_divide(a, b))
    backward = staticmethod(lambda c, g: (g * 0, g * 0))


Eq = _nondiff_binary("eq", lambda xp, a, b: xp.equal(a, b), "Equal", "({0} == {1})",
                     **_CMP | {"c_kinds": "fib"})
Ne = _nondiff_binary("ne", lambda xp, a, b: xp.not_equal(a, b), _ne_onnx, "({0} != {1})",
                     **_CMP | {"c_kinds": "fib"})
Lt = _nondiff_binary("lt", lambda xp, a, b: xp.less(a, b), "Less", "({0} < {1})", **_CMP)
Le = _nondiff_binary("le", lambda xp, a, b: xp.less_equal(a, b), "LessOrEqual", "({0} <= {1})",
                     **_CMP)
Gt = _nondiff_binary("gt", lambda xp, a, b: xp.greater(a, b), "Greater", "({0} > {1})", **_CMP)
Ge = _nondiff_binary("ge", lambda xp, a, b: xp.greater_equal(a, b), "GreaterOrEqual",
                     "({0} >= {1})", **_CMP)
LogicalAnd = _nondiff_binary("logical_and", lambda xp, a, b: xp.logical_and(a, b), "And",
                             "({0} && {1})", **_LOGICAL)
LogicalOr = _nondiff_binary("logical_or", lambda xp, a, b: xp.logical_or(a, b), "Or",
                            "({0} || {1})", **_LOGICAL)
LogicalXor = _nondiff_binary("logical_xor", lambda xp, a, b: xp.logical_xor(a, b), "Xor",
                             "(!{0} != !{1})", **_LOGICAL)
BitwiseAnd = _nondiff_binary("bitwise_and", lambda xp, a, b: a & b, None, "({0} & {1})",
                             c_kinds="fib")
BitwiseOr = _nondiff_binary("bitwise_or", lambda xp, a, b: a | b, None, "({0} | {1})",
                            c_kinds="fib")
BitwiseXor = _nondiff_binary("bitwise_xor", lambda xp, a, b: a ^ b, None, "({0} ^ {1})",
                             c_kinds="fib")


@register
class Where(Op):
    """where(cond, a, b): a where cond else b (a, b Tensors or scalars, promoted together)."""
    name, kind, c_expr, onnx, saves = "where", "elementwise", "({0} ? {1} : {2})", "Where", \
        "inputs"
    c_kinds, c_operands = "fib", "cond"
    scalar_operands = True

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


def where(condition, input=None, other=None):
    """Elements of input where condition else other. ``where(cond)`` returns nonzero indices."""
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    if input is None or other is None:  # NumPy would make an object array of None
        raise TypeError("where() takes a condition alone or a condition, input and other; "
                        "got input or other missing")
    if not isinstance(condition, Tensor):
        condition = tensor(condition)
    if condition.dtype is not _dt.bool:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor "
                           f"with dtype {condition.dtype.name}")
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
        rt = _dt.result_type(input, other)
        input = tensor(input, dtype=rt)
    return apply(Where, condition, input, other)


def _with_zero_grad(out, x):
    """``out``'s values, with a zero gradient into tensor ``x`` when x requires grad: torch
    marks such results (copysign's sign operand, norm(p=0), nextafter's other) as requiring
    grad. A where with an all-False mask: exact values, -0.0 and NaN kept (x broadcasts to
    out's shape)."""
    if not (isinstance(x, Tensor) and x.requires_grad):
        return out
    return where(zeros(tuple(out.shape), dtype=_dt.bool), x, out)


def _scalar_for(v, dt):
    # a NumPy scalar of the result dtype keeps np.where from widening the output; a Python int
    # beyond an integer dtype wraps as in torch (where(c, -2, uint8) holds 254); bfloat16 goes
    # as a 0-d tensor (dispatch reads a NumPy scalar as the Python number, which np.where
    # would widen to float32 beside bfloat16)
    if dt.name == "bfloat16":
        return tensor(v, dtype=dt)
    if dt.np.kind in "iu" and type(v) is int:
        v = _wrapped_int(v, dt.np)
    return dt.np.type(v)


def _binary_fn(op):
    def fn(input, other):
        return apply(op, input, other)
    fn.__name__ = op.name
    fn.__doc__ = f"Elementwise {op.name} with broadcasting and PyTorch's type promotion."
    return fn


def add(input, other, alpha=1):
    """input + alpha * other."""
    if alpha != 1:
        if _half_alpha_operands(input, other):
            return _half_with_alpha(Add, input, other, alpha)
        other = _alpha_scaled("add", input, other, alpha)
    return apply(Add, input, other)


def _half_alpha_operands(input, other) -> bool:
    """A float16/bfloat16 input with an operand of its own dtype or a number."""
    return is_low(input) and (isinstance(other, Tensor) and other.dtype is input.dtype or
                              type(other) is float or type(other) is int)


def _half_with_alpha(op, input, other, alpha):
    """``input (op) alpha * other`` on float16/bfloat16 as torch's kernel: alpha rounded to the
    tensor's dtype, one float32 multiply-add (the product of two narrow values is exact in
    float32), rounded back once."""
    low = input._data.dtype
    a = float(low.type(alpha))
    return in_float32(lambda x, y: apply(op, x, y * a), input, other)


def _alpha_scaled(name, input, other, alpha):
    """alpha * other computed in the result dtype of ``input (op) other``, as torch scales it
    (int8 + bool * 2 stays int8; a bool result reads alpha as a truth value)."""
    rt = _dt.result_type(input, other)
    if rt.np.kind in "iub" and isinstance(alpha, float):
        raise RuntimeError(f"{name}: for integral input tensors, argument alpha must not be a "
                           f"floating point number (got {alpha!r})")
    if rt is _dt.bool:
        return other & bool(alpha) if isinstance(other, Tensor) else bool(other) and bool(alpha)
    if isinstance(other, Tensor) and other.dtype is not rt:
        other = other.to(rt)
    return other * alpha


def sub(input, other, alpha=1):
    """input - alpha * other."""
    if type(input) is bool or type(other) is bool or (
            isinstance(input, Tensor) and input._data.dtype == np.bool_) or (
            isinstance(other, Tensor) and other._data.dtype == np.bool_):
        raise DTypeError("sub: subtraction, the `-` operator, with a bool tensor is not "
                         "supported. If you are trying to invert a mask, use the `~` or "
                         "`logical_not()` operator instead.")
    if alpha != 1:
        if _half_alpha_operands(input, other):
            return _half_with_alpha(Sub, input, other, alpha)
        other = _alpha_scaled("sub", input, other, alpha)
    out = apply(Sub, input, other)
    if not isinstance(input, Tensor) and out.grad_fn is not None:   # number - tensor
        relabel(out, "RsubBackward1", (other,))
    return out


subtract = sub
mul = multiply = _binary_fn(Mul)
maximum = _binary_fn(Maximum)
minimum = _binary_fn(Minimum)


def _no_bool(kernel, input, other):
    """torch has no bool kernel for the divisions (fmod, remainder, rounding div)."""
    if _is_bool(input) and _is_bool(other):
        raise NotImplementedError(f"\"{kernel}_cpu\" not implemented for 'Bool'")


def fmod(input, other):
    """Elementwise C-style remainder (the sign of input); integer division by zero raises."""
    _no_bool("fmod", input, other)
    _int_divisor("fmod", input, other)
    return apply(Fmod, input, other)


def remainder(input, other):
    """Elementwise Python-style remainder (the sign of other); integer division by zero
    raises."""
    _no_bool("remainder", input, other)
    _int_divisor("remainder", input, other)
    return apply(Remainder, input, other)


atan2 = arctan2 = _binary_fn(Atan2)
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
    if rounding_mode in ("floor", "trunc"):
        _no_bool("div_" + rounding_mode, input, other)
    if rounding_mode == "floor":
        if _is_int(input) and _is_int(other):
            _int_divisor("floor_divide", input, other)
        return apply(FloorDivide, input, other)
    if rounding_mode == "trunc":
        _int_divisor("div", input, other)
        if _is_int(input) and _is_int(other):
            # integers: the operands in their result dtype first (uint8 // -1 divides by 255,
            # as torch), then divided in float64 (exact below 2**53; float32 is not)
            rt = _dt.result_type(input, other)
            a, b = (x.to(rt).to(_dt.float64) if isinstance(x, Tensor) else
                    float(_wrapped_int(x, rt.np)) for x in (input, other))
            return apply(Div, a, b).trunc().to(rt)
        return apply(Div, input, other).trunc()
    raise RuntimeError(f"div: expected rounding_mode None, 'trunc' or 'floor', got "
                     f"{rounding_mode!r}")


def _is_bool(x):
    return type(x) is bool or (isinstance(x, Tensor) and x._data.dtype == np.bool_)


def _is_int(x):
    if isinstance(x, Tensor):
        return x._data.dtype.kind in "iub"
    return isinstance(x, int)


divide = true_divide = div


def floor_divide(input, other):
    return div(input, other, rounding_mode="floor")


def pow(input, exponent):
    """input ** exponent; either may be a Tensor or a number."""
    if _is_bool(input) and _is_bool(exponent):
        # torch: a bool tensor ** a Python bool stays bool (x ** True is x, x ** False is
        # all True); bool ** bool with a bool tensor exponent has no kernel
        if isinstance(input, Tensor) and type(exponent) is bool:
            return input.clone() if exponent else input.new_ones(tuple(input.shape))
        raise NotImplementedError("\"pow\" not implemented for 'Bool'")
    if not isinstance(input, Tensor):
        if not isinstance(exponent, Tensor):
            return input ** exponent
        return relabel(apply(Pow, input, exponent), "PowBackward2", (exponent,))
    if isinstance(exponent, float) and input._data.dtype.kind in "iub":
        input = input.to(_dt.get_default_dtype())
    elif type(exponent) is int and exponent < 0 and input._data.dtype.kind in "iu":
        # checked before the exponent is cast to the tensor's dtype (uint8 would wrap it)
        raise RuntimeError(f"pow: Integers to negative integer powers are not allowed "
                           f"({input.dtype.name} ** {exponent})")
    out = apply(Pow, input, exponent)
    if out.grad_fn is not None:   # torch's names: a number exponent (0), a tensor one (1)
        if isinstance(exponent, Tensor):
            relabel(out, "PowBackward1")
        else:
            relabel(out, "PowBackward0", (input,))
    return out


def _float_power_dtype(input, exponent):
    """float_power's result dtype: complex128 when either operand is complex, else float64."""
    return _dt.complex128 if any(
        (x.dtype.is_complex if isinstance(x, Tensor) else isinstance(x, complex))
        for x in (input, exponent)) else _dt.float64


def float_power(input, exponent):
    """input ** exponent in double precision: float64, or complex128 when either is complex."""
    dt = _float_power_dtype(input, exponent)
    return pow(input.to(dt) if isinstance(input, Tensor) else input,
               exponent.to(dt) if isinstance(exponent, Tensor) else exponent)


def square(input):
    if input._data.dtype == np.bool_:   # torch squares bools as int64
        input = input.long()
    return apply(Mul, input, input)


def exp2(input):
    return pow(2.0, input)


_float_power_inplace = make_inplace(float_power, "float_power_")


# ----------------------------------------------------------------------------- Tensor methods
class BinaryMethods:
    """cadenza.Tensor's methods for this module's functions (``x.f(...)`` is ``f(x, ...)``,
    in-place ``x.f_(...)`` commits it into x); ``cadenza/_tensor.py`` composes them."""
    __slots__ = ()

    # --- Tensor methods (issue 10): the in-place forms of this module's functions
    arctan2 = arctan2
    atan2_ = make_inplace(atan2, "atan2_")
    arctan2_ = make_inplace(atan2, "arctan2_")
    exp2_ = make_inplace(exp2, "exp2_", True)
    floor_divide_ = make_inplace(floor_divide, "floor_divide_", True)
    eq_ = make_inplace(eq, "eq_")
    ne_ = make_inplace(ne, "ne_")
    not_equal_ = make_inplace(ne, "not_equal_")
    lt_ = make_inplace(lt, "lt_")
    less_ = make_inplace(lt, "less_")
    le_ = make_inplace(le, "le_")
    less_equal_ = make_inplace(le, "less_equal_")
    gt_ = make_inplace(gt, "gt_")
    greater_ = make_inplace(gt, "greater_")
    ge_ = make_inplace(ge, "ge_")
    greater_equal_ = make_inplace(ge, "greater_equal_")
    logical_and_ = make_inplace(logical_and, "logical_and_")
    logical_or_ = make_inplace(logical_or, "logical_or_")
    logical_xor_ = make_inplace(logical_xor, "logical_xor_")
    bitwise_and_ = make_inplace(bitwise_and, "bitwise_and_")
    bitwise_or_ = make_inplace(bitwise_or, "bitwise_or_")
    bitwise_xor_ = make_inplace(bitwise_xor, "bitwise_xor_")

    def float_power_(self, exponent):
        if self.dtype != _float_power_dtype(self, exponent):
            raise RuntimeError(f"the base given to float_power_ has dtype {self.dtype.name} but "
                               f"the operation's result requires dtype "
                               f"{_float_power_dtype(self, exponent).name}")
        return _float_power_inplace(self, exponent)
    # --- end issue 10

    add = add
    sub = subtract = sub
    mul = multiply = mul
    div = divide = true_divide = div
    floor_divide = floor_divide
    pow = pow
    float_power = float_power
    remainder = remainder
    fmod = fmod
    exp2 = exp2
    square = square
    maximum = maximum
    minimum = minimum
    atan2 = atan2
    eq = eq
    ne = not_equal = ne
    lt = less = lt
    le = less_equal = le
    gt = greater = gt
    ge = greater_equal = ge
    logical_and = logical_and
    logical_or = logical_or
    logical_xor = logical_xor
    bitwise_and = bitwise_and
    bitwise_or = bitwise_or
    bitwise_xor = bitwise_xor
    add_ = make_inplace(add, "add_")
    sub_ = make_inplace(sub, "sub_")
    subtract_ = make_inplace(sub, "subtract_")
    mul_ = make_inplace(mul, "mul_")
    multiply_ = make_inplace(mul, "multiply_")
    div_ = make_inplace(div, "div_")
    divide_ = make_inplace(div, "divide_")
    true_divide_ = make_inplace(div, "true_divide_")
    pow_ = make_inplace(pow, "pow_")
    remainder_ = make_inplace(remainder, "remainder_")
    fmod_ = make_inplace(fmod, "fmod_")
    square_ = make_inplace(square, "square_")
    maximum_ = make_inplace(maximum, "maximum_")
    minimum_ = make_inplace(minimum, "minimum_")

    def where(self, condition, other):
        return where(condition, self, other)

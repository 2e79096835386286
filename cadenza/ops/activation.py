"""Fused activation primitives. GELU as a composite records ~9 elementwise ops forward and
~15 backward over the MLP's widest activations; bench/w1_gpt_train.py showed it costing more
than the attention, so it is one primitive here (DESIGN.md section 2: a composite becomes a
primitive when a benchmark shows it pays). Each has a derivative primitive (fast first-order
backward) whose own backward is written in Tensor ops, so higher orders still work."""
from __future__ import annotations

import math

import numpy as np

from ._registry import Op, register, apply
from .._dispatch import state as _state
from ..backend.cpu import fp_quiet
from ..errors import ShapeError, fmt_shape
from .join import cat
from .unary import _blocked, _erf, _sigmoid_fwd

__all__ = ["gelu"]



_S = math.sqrt(2.0 / math.pi)      # tanh form: u = S (x + K x^3)
_K = 0.044715
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


# 0.5 (1 + tanh(u)) = sigmoid(2u): the tanh form is x / (1 + exp(-2u)). NumPy's float32 tanh is
# a scalar loop here (~2x the time of its exp), and gelu_tanh was the largest non-matmul cost of
# bench/w1_gpt_train.py. exp(-2u) may overflow to inf for very negative x: the result is then
# x / inf = -0 (and sigmoid 0 in the gradient), the correct limits.
def _sigmoid_2u(xp, x, x2):
    e = x2 * (-2.0 * _S * _K)
    e -= 2.0 * _S
    e *= x             # -2u = -2 S (x + K x^3)
    xp.exp(e, out=e)
    e += 1.0
    return e  # 1 / sigmoid(2u)


def _gelu_tanh(xp, x):
    with fp_quiet():
        e = _sigmoid_2u(xp, x, x * x)
    xp.divide(x, e, out=e)
    return e


def _gelu_tanh_grad(xp, g, x):
    """g gelu'(x), gelu' = 0.5 (1 + t) + 0.5 x (1 - t^2) u' = sig (1 + 2 x (1 - sig) u'),
    t = tanh(u), sig = sigmoid(2u) = 0.5 (1 + t), u' = S (1 + 3K x^2)."""
    x2 = x * x
    with fp_quiet():
        sig = _sigmoid_2u(xp, x, x2)
    xp.divide(1.0, sig, out=sig)
    x2 *= 6.0 * _K * _S
    x2 += 2.0 * _S     # 2 u'
    r = 1.0 - sig
    r *= x
    r *= x2
    r += 1.0
    r *= sig
    r *= g
    return r


def _gelu_onnx(tanh):
    """Opset 20's Gelu, or its formula for older opsets."""
    def lower(ctx, node, out):
        if node.attrs:
            raise ctx.Unsupported("attributes")
        x = ctx.name(node.inputs[0])
        dt = node.out.dtype
        if ctx.opset >= 20:
            ctx.node("Gelu", [x], out, approximate="tanh" if tanh else "none")
            return
        half = ctx.const(np.asarray(0.5, dt))
        one = ctx.const(np.asarray(1.0, dt))
        if tanh:  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
            x3 = ctx.node("Mul", [ctx.node("Mul", [x, x]), x])
            inner = ctx.node("Add", [x, ctx.node("Mul", [x3, ctx.const(
                np.asarray(0.044715, dt))])])
            t = ctx.node("Tanh", [ctx.node("Mul", [inner, ctx.const(
                np.asarray(math.sqrt(2 / math.pi), dt))])])
        else:     # 0.5 x (1 + erf(x / sqrt(2)))
            t = ctx.node("Erf", [ctx.node("Div", [x, ctx.const(
                np.asarray(math.sqrt(2.0), dt))])])
        ctx.node("Mul", [ctx.node("Mul", [x, half]), ctx.node("Add", [t, one])], out)
    return lower


@register
class GeluTanh(Op):
    """gelu(x) = 0.5 x (1 + tanh(S (x + K x^3)))."""
    name, kind, onnx, c_exact = "gelu_tanh", "elementwise", _gelu_onnx(tanh=True), False
    # the same operations in the same order as _gelu_tanh: x / (exp((x^2 (-2SK) - 2S) x) + 1)
    c_expr = "({0} / (exp(({0} * {0} * ({T})%r - ({T})%r) * {0}) + 1))" % (-2.0 * _S * _K,
                                                                        2.0 * _S)
    to_float = True

    @staticmethod
    def forward(xp, x):
        return _blocked(_gelu_tanh, xp, x).astype(x.dtype, copy=False)

    @staticmethod
    def backward(c, g):
        return (apply(GeluTanhBackward, g, c.saved[0]),)


@register
class GeluTanhBackward(Op):
    """g * gelu'(x), gelu'(x) = 0.5 (1 + t) + 0.5 x (1 - t^2) u'."""
    name, kind, onnx, c_exact = "gelu_tanh_backward", "elementwise", None, False
    # as _gelu_tanh_grad: sig = 1 / E, E = exp((x^2 (-2SK) - 2S) x) + 1,
    # g ((((1 - sig) x) (x^2 6KS + 2S) + 1) sig)
    c_expr = ("((((1 - 1 / (exp(({1} * {1} * ({T})%r - ({T})%r) * {1}) + 1)) * {1}"
              " * ({1} * {1} * ({T})%r + ({T})%r) + 1)"
              " * (1 / (exp(({1} * {1} * ({T})%r - ({T})%r) * {1}) + 1))) * {0})"
              % (-2.0 * _S * _K, 2.0 * _S, 6.0 * _K * _S, 2.0 * _S, -2.0 * _S * _K, 2.0 * _S))

    @staticmethod
    def forward(xp, g, x):
        return _blocked(_gelu_tanh_grad, xp, g, x).astype(np.result_type(g, x), copy=False)

    # d/dg: gelu'(x) again; d/dx: g gelu''(x), gelu'' = (1 - t^2)(u' - x t u'^2 + 0.5 x u''),
    # u'' = 6 S K x
    @staticmethod
    def backward(c, gg):
        g, x = c.saved
        dg = apply(GeluTanhBackward, gg, x) if c.next[0] is not None else None
        dx = None
        if c.next[1] is not None:
            x2 = x * x
            t = (x * (1.0 + _K * x2) * _S).tanh()
            du = (1.0 + 3.0 * _K * x2) * _S
            second = (1.0 - t * t) * (du - x * t * du * du + x * x * (3.0 * _S * _K))
            dx = gg * g * second
        return dg, dx


def _phi(xp, x):
    return xp.exp(-0.5 * x * x) * _INV_SQRT_2PI


def _gelu_exact(xp, x):
    e = _erf(xp, x * _INV_SQRT2)
    e += 1.0
    e *= x
    e *= 0.5
    return e


def _gelu_exact_grad(xp, g, x):
    return g * (0.5 * (1.0 + _erf(xp, x * _INV_SQRT2)) + x * _phi(xp, x))


@register
class Gelu(Op):
    """gelu(x) = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2))."""
    name, kind, onnx, c_exact = "gelu", "elementwise", _gelu_onnx(tanh=False), False
    c_expr = "(((erf({0} * ({T})%r) + 1) * {0}) * ({T})0.5)" % _INV_SQRT2
    to_float = True

    @staticmethod
    def forward(xp, x):
        if x.dtype == np.float64:  # (the float64 erf series sums as many terms as its block
            return _gelu_exact(xp, x)   # needs: whole, as it always was)
        return _blocked(_gelu_exact, xp, x).astype(x.dtype, copy=False)

    @staticmethod
    def backward(c, g):
        return (apply(GeluBackward, g, c.saved[0]),)


@register
class GeluBackward(Op):
    """g * gelu'(x), gelu'(x) = Phi(x) + x phi(x)."""
    name, kind, onnx, c_exact = "gelu_backward", "elementwise", None, False
    c_expr = ("({0} * (({T})0.5 * (1 + erf({1} * ({T})%r))"
              " + {1} * (exp(({T})-0.5 * {1} * {1}) * ({T})%r)))" % (_INV_SQRT2, _INV_SQRT_2PI))

    @staticmethod
    def forward(xp, g, x):
        if np.float64 in (g.dtype, x.dtype):
            return _gelu_exact_grad(xp, g, x)
        return _blocked(_gelu_exact_grad, xp, g, x).astype(np.result_type(g, x), copy=False)

    # gelu''(x) = phi(x) (2 - x^2)
    @staticmethod
    def backward(c, gg):
        g, x = c.saved
        dg = apply(GeluBackward, gg, x) if c.next[0] is not None else None
        dx = None
        if c.next[1] is not None:
            phi = (x * x * -0.5).exp() * _INV_SQRT_2PI
            dx = gg * g * phi * (2.0 - x * x)
        return dg, dx


def gelu(input, approximate: str = "none"):
    """GELU: x Phi(x), or its tanh approximation with ``approximate='tanh'``."""
    if approximate == "none":
        return apply(Gelu, input)
    if approximate == "tanh":
        return apply(GeluTanh, input)
    raise ValueError(f"gelu: expected approximate in ('none', 'tanh'), got {approximate!r}")


# ----------------------------------------------------------------------------- LSTM step
def _lstm_cell_grad(sig, tanh, cat_last, gout, z, c):
    """(dz, dc) of one LSTM step for the gradient ``gout`` = [dh' | dc'] of its [h' | c'],
    in operators and the given sigmoid/tanh/concatenate: NumPy arrays (the backward
    primitive) or Tensors (recorded, when the backward itself is differentiated)."""
    h = z.shape[-1] // 4
    i, f, o = sig(z[..., :h]), sig(z[..., h:2 * h]), sig(z[..., 3 * h:])
    g = tanh(z[..., 2 * h:3 * h])
    tc = tanh(f * c + i * g)
    gh, gc = gout[..., :h], gout[..., h:]
    dcn = gc + gh * o * (1 - tc * tc)
    dz = cat_last([dcn * g * i * (1 - i), dcn * c * f * (1 - f), dcn * i * (1 - g * g),
                   gh * tc * o * (1 - o)])
    return dz, dcn * f


def _split_last(ctx, x, sizes):
    """ONNX Split of ``x`` along its last dim into ``sizes``: the outputs' names."""
    if ctx.opset >= 13:
        return ctx.node_n("Split", [x, ctx.i64(sizes)], len(sizes), axis=-1)
    return ctx.node_n("Split", [x], len(sizes), axis=-1, split=list(sizes))


def _lstm_cell_onnx(ctx, node, out):
    """Split into the four gates, the step's Sigmoid/Tanh/Mul/Add, Concat [h' | c']."""
    z, c = (ctx.name(v) for v in node.inputs)
    h = int(node.inputs[0].shape[-1]) // 4
    i, f, g, o = _split_last(ctx, z, [h] * 4)
    cn = ctx.node("Add", [ctx.node("Mul", [ctx.node("Sigmoid", [f]), c]),
                          ctx.node("Mul", [ctx.node("Sigmoid", [i]), ctx.node("Tanh", [g])])])
    hn = ctx.node("Mul", [ctx.node("Sigmoid", [o]), ctx.node("Tanh", [cn])])
    ctx.node("Concat", [hn, cn], out, axis=-1)


@register
class LstmCell(Op):
    """One LSTM step from the gate pre-activations z = [i | f | g | o] (..., 4H) and the cell
    state c (..., H): c' = sigmoid(f) c + sigmoid(i) tanh(g), h' = sigmoid(o) tanh(c'), as one
    (..., 2H) array [h' | c'] (nn.LSTM/LSTMCell's step: ~14 recorded ops forward and ~25
    backward as a composite, one each here; the same values as the composite)."""
    name, kind, onnx = "lstm_cell", "library", _lstm_cell_onnx

    @staticmethod
    def forward(xp, z, c):
        h = z.shape[-1] // 4
        s = _sigmoid_fwd(xp, z)   # i, f, o (the g quarter is unused)
        cn = s[..., h:2 * h] * c
        cn += s[..., :h] * xp.tanh(z[..., 2 * h:3 * h])
        out = xp.empty(cn.shape[:-1] + (2 * h,), dtype=cn.dtype)
        out[..., h:] = cn
        xp.multiply(s[..., 3 * h:], xp.tanh(cn), out=out[..., :h])
        return out

    @staticmethod
    def backward(ctx, gout):
        z, c = ctx.saved
        if _state.grad_enabled:   # create_graph: a backward that is itself differentiable
            dz, dc = _lstm_cell_grad(lambda t: t.sigmoid(), lambda t: t.tanh(),
                                     lambda ts: cat(ts, -1), gout, z, c)
        else:
            r = apply(LstmCellBackward, gout, z, c)
            n = z.shape[-1]
            dz, dc = r[..., :n], r[..., n:]
        return dz, dc

    @staticmethod
    def check(z, c):
        if z.ndim == 0 or z.shape[-1] % 4 or tuple(c.shape) != tuple(z.shape[:-1]) + (
                z.shape[-1] // 4,):
            raise ShapeError(f"lstm_cell: expected gates (..., 4H) and a cell state (..., H) "
                             f"of the same leading shape, got {fmt_shape(z.shape)} and "
                             f"{fmt_shape(c.shape)}")


@register
class LstmCellBackward(Op):
    """[dz | dc] (..., 5H) of LstmCell for the gradient [dh' | dc'] of its output (first-order
    only: LstmCell's backward records the Tensor-op form when create_graph asks for more)."""
    name, kind, onnx, differentiable = "lstm_cell_backward", "library", None, False

    @staticmethod
    def forward(xp, gout, z, c):
        dz, dc = _lstm_cell_grad(lambda a: _sigmoid_fwd(xp, a), xp.tanh,
                                 lambda arrs: xp.concatenate(arrs, axis=-1), gout, z, c)
        return xp.concatenate([dz, dc], axis=-1)


def lstm_cell(gates, c):
    """One LSTM step: (h', c') from the gate pre-activations ``gates`` = [i | f | g | o]
    (..., 4H) and the cell state ``c`` (..., H), as ``nn.LSTM`` computes it. (Not
    ``torch.lstm_cell``, which takes the input and weights: nn's cells call this.)"""
    LstmCell.check(gates, c)
    out = apply(LstmCell, gates, c)
    h = c.shape[-1]
    return out[..., :h], out[..., h:]


# ----------------------------------------------------------------------------- GRU step
def _gru_cell_grad(sig, tanh, cat_last, g, xw, hw, h):
    """(dxw, dhw, dh) of one GRU step for the gradient ``g`` of h', as _lstm_cell_grad."""
    k = h.shape[-1]
    r = sig(xw[..., :k] + hw[..., :k])
    z = sig(xw[..., k:2 * k] + hw[..., k:2 * k])
    hn = hw[..., 2 * k:]
    n = tanh(xw[..., 2 * k:] + r * hn)
    dz = g * (h - n) * z * (1 - z)
    dn = g * (1 - z) * (1 - n * n)
    dr = dn * hn * r * (1 - r)
    return cat_last([dr, dz, dn]), cat_last([dr, dz, dn * r]), g * z


def _gru_cell_onnx(ctx, node, out):
    xw, hw, h = (ctx.name(v) for v in node.inputs)
    k = int(node.inputs[2].shape[-1])
    (xr, xz, xn), (hr, hz, hn) = (_split_last(ctx, a, [k] * 3) for a in (xw, hw))
    r = ctx.node("Sigmoid", [ctx.node("Add", [xr, hr])])
    z = ctx.node("Sigmoid", [ctx.node("Add", [xz, hz])])
    n = ctx.node("Tanh", [ctx.node("Add", [xn, ctx.node("Mul", [r, hn])])])
    one = ctx.const(np.asarray(1, node.out.dtype))
    ctx.node("Add", [ctx.node("Mul", [ctx.node("Sub", [one, z]), n]),
                     ctx.node("Mul", [z, h])], out)


@register
class GruCell(Op):
    """One GRU step from the input and hidden projections xw, hw = [r | z | n] (..., 3H) and
    h (..., H): r, z = sigmoid(xw + hw) per gate, n = tanh(xw_n + r hw_n),
    h' = (1 - z) n + z h (nn.GRU/GRUCell's step as one primitive, the composite's values)."""
    name, kind, onnx = "gru_cell", "library", _gru_cell_onnx

    @staticmethod
    def forward(xp, xw, hw, h):
        k = h.shape[-1]
        rz = _sigmoid_fwd(xp, xw[..., :2 * k] + hw[..., :2 * k])
        n = rz[..., :k] * hw[..., 2 * k:]
        n += xw[..., 2 * k:]   # (x_n + r h_n: one rounding, in either order)
        n = xp.tanh(n, out=n)
        z = rz[..., k:]
        return (1 - z) * n + z * h

    @staticmethod
    def backward(ctx, g):
        xw, hw, h = ctx.saved
        if _state.grad_enabled:   # create_graph: a backward that is itself differentiable
            return _gru_cell_grad(lambda t: t.sigmoid(), lambda t: t.tanh(),
                                  lambda ts: cat(ts, -1), g, xw, hw, h)
        r = apply(GruCellBackward, g, xw, hw, h)
        n = xw.shape[-1]
        return r[..., :n], r[..., n:2 * n], r[..., 2 * n:]

    @staticmethod
    def check(xw, hw, h):
        lead = tuple(h.shape[:-1]) if h.ndim else None
        k = h.shape[-1] if h.ndim else 0
        if lead is None or tuple(xw.shape) != lead + (3 * k,) or \
                tuple(hw.shape) != lead + (3 * k,):
            raise ShapeError(f"gru_cell: expected projections (..., 3H) and a hidden state "
                             f"(..., H) of the same leading shape, got {fmt_shape(xw.shape)}, "
                             f"{fmt_shape(hw.shape)} and {fmt_shape(h.shape)}")


@register
class GruCellBackward(Op):
    """[dxw | dhw | dh] (..., 7H) of GruCell for the gradient of h' (first-order only, as
    LstmCellBackward)."""
    name, kind, onnx, differentiable = "gru_cell_backward", "library", None, False

    @staticmethod
    def forward(xp, g, xw, hw, h):
        cat_last = lambda arrs: xp.concatenate(arrs, axis=-1)  # noqa: E731
        return cat_last(list(_gru_cell_grad(lambda a: _sigmoid_fwd(xp, a), xp.tanh, cat_last,
                                            g, xw, hw, h)))


def gru_cell(xw, hw, h):
    """One GRU step: h' from the input and hidden projections ``xw``, ``hw`` (..., 3H) and
    ``h`` (..., H), as ``nn.GRU`` computes it (not ``torch.gru_cell``: nn's cells call this)."""
    GruCell.check(xw, hw, h)
    return apply(GruCell, xw, hw, h)

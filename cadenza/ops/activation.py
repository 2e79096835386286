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
from ..backend import ckernels, ckernels_rows
from ..backend.cpu import fp_quiet
from ..errors import ShapeError, fmt_shape
from .binary import where
from .join import cat, stack
from .views import SumTo, sum_to
from .unary import _ERF_P, _ERF_Q, _blocked, _erf, _sigmoid_fwd
from .special import _erfcx
from ..backend.cpu import address

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


# the constants of _sigmoid_2u and _gelu_tanh_grad, for backend/ckernels_rows.py's kernels
_GELU_FWD = (-2.0 * _S * _K, 2.0 * _S)
_GELU_BWD = _GELU_FWD + (6.0 * _K * _S, 2.0 * _S)


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
        if xp is np and x.dtype == np.float32:
            x = ckernels_rows.contiguous(x)
            fn = ckernels_rows.kernel("gelu_tanh", x)
            if fn is not None:   # float32: one C pass, the same operations
                out = np.empty_like(x)
                fn(address(x), address(out), x.size, *_GELU_FWD)
                return out
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
        if xp is np and x.dtype == np.float32 and g.dtype == np.float32 and g.shape == x.shape:
            g, x = ckernels_rows.contiguous(g), ckernels_rows.contiguous(x)
            fn = ckernels_rows.kernel("gelu_tanh_bwd", g, x)
            if fn is not None:
                out = np.empty_like(x)
                fn(address(g), address(x), address(out), x.size, *_GELU_BWD)
                return out
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


# the float32 erf fit's coefficients (P, then Q) for backend/ckernels_rows.py's exact GELU
_ERF_COEF = np.array(_ERF_P + _ERF_Q, dtype=np.float64)
_ERF_COEF.flags.writeable = False


def _phi(xp, x):
    return xp.exp(-0.5 * x * x) * _INV_SQRT_2PI


def _cdf(xp, x):
    """Phi(x) = 0.5 (1 + erf(x / sqrt 2)). In float64 below x = -2 sqrt 2 it is
    0.5 e^(-z^2) erfcx(z), z = -x / sqrt 2: 1 + erf cancels there (gelu(-8) was 100% off)."""
    e = _erf(xp, x * _INV_SQRT2)
    e += 1.0
    e *= 0.5
    if xp is np and x.dtype == np.float64:
        low = x < -2.0 * math.sqrt(2.0)
        if low.any():
            e = np.asarray(e)  # (a NumPy scalar for a 0-d x)
            z = x[low] * -_INV_SQRT2
            with np.errstate(all="ignore"):
                e[low] = 0.5 * np.exp(-z * z) * _erfcx(z)
    return e


def _gelu_exact(xp, x):
    e = _cdf(xp, x)
    e *= x
    return e


def _gelu_exact_grad(xp, g, x):
    return g * (_cdf(xp, x) + x * _phi(xp, x))


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
        if xp is np and x.dtype == np.float32:
            x = ckernels_rows.contiguous(x)
            fn = ckernels_rows.kernel("gelu_erf", x)
            if fn is not None:   # float32: one C pass, the same operations (the same bits)
                out = np.empty_like(x)
                fn(address(x), address(out), x.size, address(_ERF_COEF), _INV_SQRT2)
                return out
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
        if xp is np and x.dtype == np.float32 and g.dtype == np.float32 and g.shape == x.shape:
            g, x = ckernels_rows.contiguous(g), ckernels_rows.contiguous(x)
            fn = ckernels_rows.kernel("gelu_erf_bwd", g, x)
            if fn is not None:   # float32: one C pass, the same operations (libm's expf)
                out = np.empty_like(x)
                fn(address(g), address(x), address(out), x.size,
                   address(_ERF_COEF), _INV_SQRT2, _INV_SQRT_2PI)
                return out
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
def _cell_kernel(xp, name, width, *arrays):
    """The recurrent cells' step (or its gradient) as one pass of backend/ckernels.py's C kernel
    ``name`` over the arrays (..., k_i), all of the same leading shape and one float32/float64
    dtype: the (..., width) result, or None where the NumPy form runs (other dtypes or devices,
    no compiler). The kernel computes the NumPy form's operations in its order, with libm's
    (libmvec's) exp and tanh: within a few ulp of it, not bit for bit (as the layer kernels)."""
    kern = _rnn_kernel(xp, name, *arrays)
    if kern is None:
        return None
    lead = arrays[-1].shape[:-1]
    n = math.prod(lead)
    arrays = [np.ascontiguousarray(a) for a in arrays]
    out = np.empty(lead + (width,), dtype=arrays[0].dtype)
    if n:
        kern(*[address(a) for a in arrays], address(out), n, arrays[-1].shape[-1])
    return out


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


def _lstm_cell_nodes(ctx, z, c, h):
    """ONNX nodes of one LSTM step (gates ``z``, cell ``c``: names; ``h`` the hidden size):
    the names of (h', c')."""
    i, f, g, o = _split_last(ctx, z, [h] * 4)
    cn = ctx.node("Add", [ctx.node("Mul", [ctx.node("Sigmoid", [f]), c]),
                          ctx.node("Mul", [ctx.node("Sigmoid", [i]), ctx.node("Tanh", [g])])])
    return ctx.node("Mul", [ctx.node("Sigmoid", [o]), ctx.node("Tanh", [cn])]), cn


def _lstm_cell_onnx(ctx, node, out):
    """Split into the four gates, the step's Sigmoid/Tanh/Mul/Add, Concat [h' | c']."""
    z, c = (ctx.name(v) for v in node.inputs)
    hn, cn = _lstm_cell_nodes(ctx, z, c, int(node.inputs[0].shape[-1]) // 4)
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
        out = _cell_kernel(xp, "lstm_cell", 2 * h, z, c)
        if out is not None:
            return out
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
        out = _cell_kernel(xp, "lstm_cell_bwd", c.shape[-1] * 5, gout, z, c)
        if out is not None:
            return out
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


def _gru_cell_nodes(ctx, xw, hw, h, k, dtype, out=None):
    """ONNX nodes of one GRU step (names ``xw``, ``hw``, ``h``; hidden size ``k``): h' as
    ``out`` (or a fresh name)."""
    (xr, xz, xn), (hr, hz, hn) = (_split_last(ctx, a, [k] * 3) for a in (xw, hw))
    r = ctx.node("Sigmoid", [ctx.node("Add", [xr, hr])])
    z = ctx.node("Sigmoid", [ctx.node("Add", [xz, hz])])
    n = ctx.node("Tanh", [ctx.node("Add", [xn, ctx.node("Mul", [r, hn])])])
    one = ctx.const(np.asarray(1, dtype))
    return ctx.node("Add", [ctx.node("Mul", [ctx.node("Sub", [one, z]), n]),
                            ctx.node("Mul", [z, h])], out)


def _gru_cell_onnx(ctx, node, out):
    xw, hw, h = (ctx.name(v) for v in node.inputs)
    _gru_cell_nodes(ctx, xw, hw, h, int(node.inputs[2].shape[-1]), node.out.dtype, out)


@register
class GruCell(Op):
    """One GRU step from the input and hidden projections xw, hw = [r | z | n] (..., 3H) and
    h (..., H): r, z = sigmoid(xw + hw) per gate, n = tanh(xw_n + r hw_n),
    h' = (1 - z) n + z h (nn.GRU/GRUCell's step as one primitive, the composite's values)."""
    name, kind, onnx = "gru_cell", "library", _gru_cell_onnx

    @staticmethod
    def forward(xp, xw, hw, h):
        k = h.shape[-1]
        out = _cell_kernel(xp, "gru_cell", k, xw, hw, h)
        if out is not None:
            return out
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
        out = _cell_kernel(xp, "gru_cell_bwd", h.shape[-1] * 7, g, xw, hw, h)
        if out is not None:
            return out
        cat_last = lambda arrs: xp.concatenate(arrs, axis=-1)  # noqa: E731
        return cat_last(list(_gru_cell_grad(lambda a: _sigmoid_fwd(xp, a), xp.tanh, cat_last,
                                            g, xw, hw, h)))


def gru_cell(xw, hw, h):
    """One GRU step: h' from the input and hidden projections ``xw``, ``hw`` (..., 3H) and
    ``h`` (..., H), as ``nn.GRU`` computes it (not ``torch.gru_cell``: nn's cells call this)."""
    GruCell.check(xw, hw, h)
    return apply(GruCell, xw, hw, h)


# ----------------------------------------------------------------------------- LSTM layer
# nn.LSTM's time loop as one primitive: per step a recorded LSTM costs a GEMM, an add and the
# fused cell (three dispatches forward, more backward, each with autograd bookkeeping), which
# on a language model's small batches is most of the time. Here forward is one dispatch per
# layer and direction, and backward one more: the gate pre-activations of every step come back
# from the saved states in ONE GEMM, the gate derivatives in whole-sequence passes, and only
# the recurrence dz_t -> dh_{t-1} = dz_t W_hh runs per step.
def _steps(seq, reverse):
    """The time steps in the order a direction runs them (backward: ``not reverse``)."""
    return range(seq - 1, -1, -1) if reverse else range(seq)


def _rnn_kernel(xp, name, *arrays):
    """The C kernel ``name`` of backend/ckernels.py when the arrays (None skipped) are host
    arrays of one float32/float64 dtype and the library is built, else None (NumPy form)."""
    arrays = [a for a in arrays if a is not None]
    dt = arrays[0].dtype
    if xp is not np or not ckernels.enabled or dt not in (np.float32, np.float64) or \
            any(type(a) is not np.ndarray or a.dtype != dt for a in arrays):
        return None
    built = ckernels.lib()
    return None if built is None else getattr(built, f"cz_{name}_{ckernels._SUFFIX[dt]}")


def _lstm_layer_fwd(xp, xw, h0, c0, w_hh, b_hh, mask, reverse):
    seq, n, g4 = xw.shape
    h = g4 // 4
    out = xp.empty((seq, n, 2 * h), dtype=np.result_type(xw, h0, c0, w_hh))
    kern = _rnn_kernel(xp, "lstm_fwd", xw, h0, c0, w_hh, b_hh)
    if kern is not None:
        return _lstm_layer_fwd_c(kern, xw, h0, c0, w_hh, b_hh, mask, reverse, out)
    wt = w_hh.T
    hp, cp = h0, c0
    for t in _steps(seq, reverse):
        z = xp.matmul(hp, wt)
        if b_hh is not None:
            z += b_hh
        z += xw[t]                 # xw + (h W^T + b): the step's rounding order
        o = out[t]
        s = _sigmoid_fwd(xp, z)    # i, f, o (the g quarter is unused): LstmCell's values
        cn = o[:, h:]
        xp.multiply(s[:, h:2 * h], cp, out=cn)
        cn += s[:, :h] * xp.tanh(z[:, 2 * h:3 * h])
        xp.multiply(s[:, 3 * h:], xp.tanh(cn), out=o[:, :h])
        if mask is not None and not mask[t].all():    # packed: finished samples keep state
            dead = ~mask[t]
            o[dead, :h] = hp[dead]
            o[dead, h:] = cp[dead]
        hp, cp = o[:, :h], o[:, h:]
    return out


def _lstm_layer_fwd_c(kern, xw, h0, c0, w_hh, b_hh, mask, reverse, out):
    """_lstm_layer_fwd's loop with each step's gate sums and cell in one C call: per step a
    GEMM, the call, and the packed batch's finished rows copied back."""
    seq, n, g4 = xw.shape
    h = g4 // 4
    xw = np.ascontiguousarray(xw)
    wt = w_hh.T
    hw = np.empty((n, g4), dtype=out.dtype)
    b = np.zeros(g4, out.dtype) if b_hh is None else np.ascontiguousarray(b_hh)
    hwp, bp, xwp, outp = address(hw), address(b), address(xw), address(out)
    xs, os_, hsz = xw.strides[0], out.strides[0], h * out.itemsize
    hp, cp = h0, np.ascontiguousarray(c0)
    cpp, ldc = address(cp), h
    for t in _steps(seq, reverse):
        np.matmul(hp, wt, out=hw)
        o = out[t]
        kern(hwp, bp, xwp + t * xs, cpp, outp + t * os_, n, h, ldc)
        if mask is not None and not mask[t].all():    # packed: finished samples keep state
            dead = ~mask[t]
            o[dead, :h] = hp[dead]
            o[dead, h:] = cp[dead]
        hp, cp = o[:, :h], o[:, h:]
        cpp, ldc = outp + t * os_ + hsz, 2 * h
    return out


def _prev_states(xp, out, h0, c0, reverse):
    """Each step's incoming (h, c), (L, N, H) each, from the states ``out`` = [h | c]."""
    h = h0.shape[-1]
    first = xp.concatenate([h0, c0], -1)[None]
    prev = xp.concatenate([out[1:], first] if reverse else [first, out[:-1]], 0)
    return prev[..., :h], prev[..., h:]


def _lstm_layer_grad(xp, gout, xw, h0, c0, w_hh, b_hh, mask, out, reverse):
    """(dxw, dh0, dc0, dw_hh, db_hh) of _lstm_layer_fwd for the gradient ``gout`` of its
    states [h | c] (L, N, 2H); db_hh None without a bias."""
    seq, n, g4 = xw.shape
    h = g4 // 4
    hp, cp = _prev_states(xp, out, h0, c0, reverse)
    z = xp.matmul(hp.reshape(-1, h), w_hh.T).reshape(seq, n, g4)
    if b_hh is not None:
        z += b_hh
    z += xw
    kern = _rnn_kernel(xp, "lstm_bwd", gout, xw, h0, c0, w_hh, b_hh, out)
    if kern is not None:
        return _lstm_layer_grad_c(kern, gout, w_hh, b_hh, mask, out, reverse, hp, cp, z)
    s = _sigmoid_fwd(xp, z)
    i, f, o = s[..., :h], s[..., h:2 * h], s[..., 3 * h:]
    g = xp.tanh(z[..., 2 * h:3 * h])
    tc = xp.tanh(out[..., h:])
    # dz = [dcn g i(1-i) | dcn c f(1-f) | dcn i(1-g^2) | dh tc o(1-o)], dcn = dc + dh o(1-tc^2)
    pc = xp.concatenate([g * i * (1 - i), cp * f * (1 - f), i * (1 - g * g)], -1)
    pc = pc.reshape(seq, n, 3, h)
    po = tc * o * (1 - o)
    a = o * (1 - tc * tc)
    dz = xp.empty((seq, n, g4), dtype=np.result_type(gout, z))
    dh = xp.zeros_like(h0, dtype=dz.dtype)
    dc = xp.zeros_like(c0, dtype=dz.dtype)
    for t in _steps(seq, not reverse):
        gh = gout[t, :, :h] + dh
        gc = gout[t, :, h:] + dc
        dcn = gh * a[t]
        dcn += gc
        dzt = dz[t]
        xp.multiply(pc[t], dcn[:, None, :], out=dzt[:, :3 * h].reshape(n, 3, h))
        xp.multiply(po[t], gh, out=dzt[:, 3 * h:])
        dc = dcn * f[t]
        if mask is not None and not mask[t].all():    # finished samples: state passes through
            dead = ~mask[t]
            dzt[dead] = 0
            dc[dead] = gc[dead]
            dh = xp.matmul(dzt, w_hh)
            dh[dead] = gh[dead]
        else:
            dh = xp.matmul(dzt, w_hh)
    flat = dz.reshape(-1, g4)
    dw = xp.matmul(flat.T, hp.reshape(-1, h))
    db = flat.sum(0) if b_hh is not None else None
    return dz, dh, dc, dw, db


def _lstm_layer_grad_c(kern, gout, w_hh, b_hh, mask, out, reverse, hp, cp, z):
    """_lstm_layer_grad's loop with each step's elementwise part in one C call (hp, cp: the
    incoming states, views 2H apart; z: the gates of every step)."""
    seq, n, g4 = z.shape
    h = g4 // 4
    gout = np.ascontiguousarray(gout)
    live = None if mask is None else np.ascontiguousarray(mask, dtype=np.uint8)
    dz = np.empty_like(z)
    dc = np.zeros((n, h), dtype=z.dtype)
    gh = np.empty((n, h), dtype=z.dtype)
    dh = np.zeros((n, h), dtype=z.dtype)
    dhp = address(dh)
    # the arrays' addresses, and each one's step (bytes per time step)
    gp, dcp, zp, cpp, outp, dzp, ghp = (address(a) for a in (gout, dc, z, cp, out, dz, gh))
    gs, zs, cs, os_ = gout.strides[0], z.strides[0], cp.strides[0], out.strides[0]
    hsz = out.itemsize * h    # from a row's h to its c
    lp = None if live is None else address(live)
    for t in _steps(seq, not reverse):
        kern(gp + t * gs, dhp, dcp, zp + t * zs, cpp + t * cs, outp + t * os_ + hsz,
             None if lp is None else lp + t * n, dzp + t * zs, ghp, n, h, 2 * h, 2 * h)
        np.matmul(dz[t], w_hh, out=dh)
        if live is not None and not live[t].all():
            dead = live[t] == 0
            dh[dead] = gh[dead]
    flat = dz.reshape(-1, g4)
    dw = np.matmul(flat.T, hp.reshape(-1, h))
    db = flat.sum(0) if b_hh is not None else None
    return dz, dh, dc, dw, db


def _lstm_layer_grad_tensors(gout, xw, h0, c0, w_hh, b_hh, mask, reverse):
    """_lstm_layer_grad in recorded Tensor ops (create_graph): the forward again step by step,
    then the cell gradient of each step in Tensor ops."""
    seq, h = xw.shape[0], h0.shape[-1]
    order = _steps(seq, reverse)
    hp, cp = h0, c0
    steps = {}
    for t in order:
        z = hp.matmul(w_hh.t())
        z = xw[t] + (z if b_hh is None else z + b_hh)
        hn, cn = lstm_cell(z, cp)
        if mask is not None:
            m = mask[t].unsqueeze(-1)
            hn, cn = where(m, hn, hp), where(m, cn, cp)
        steps[t] = (z, hp, cp)
        hp, cp = hn, cn
    dh = dc = dw = db = None
    dzs = [None] * seq
    for t in reversed(order):
        z, hp, cp = steps[t]
        gh, gc = gout[t, :, :h], gout[t, :, h:]
        if dh is not None:
            gh, gc = gh + dh, gc + dc
        dz, dcp = _lstm_cell_grad(lambda u: u.sigmoid(), lambda u: u.tanh(),
                                  lambda ts: cat(ts, -1), cat([gh, gc], -1), z, cp)
        dhp = dz.matmul(w_hh)
        if mask is not None:
            m = mask[t].unsqueeze(-1)
            dz, dcp, dhp = dz * m, where(m, dcp, gc), where(m, dhp, gh)
        dzs[t] = dz
        dwt = dz.t().matmul(hp)
        dw = dwt if dw is None else dw + dwt
        if b_hh is not None:
            db = dz.sum(0) if db is None else db + dz.sum(0)
        dh, dc = dhp, dcp
    return stack(dzs, 0), dh, dc, dw, db


def _unflatten(r, shapes):
    """The pieces of the 1-d ``r`` with the given shapes, in order (a backward primitive's
    joined gradients)."""
    grads, at = [], 0
    for shape in shapes:
        k = math.prod(shape)
        grads.append(r[at:at + k].reshape(shape))
        at += k
    return grads


def _joined(xp, grads):
    """The gradients (None skipped) flattened and joined: a layer backward primitive's one
    output, which _unflatten splits again."""
    return xp.concatenate([a.reshape(-1) for a in grads if a is not None])


def _check_layer(name, gates, xw, states, w_hh, b_hh, mask):
    """The shapes of a recurrent layer primitive's operands: projections xw (L, N, gates H),
    states (N, H), w_hh (gates H, H), b_hh (gates H,) or None, mask (L, N) or None."""
    g = xw.shape[-1] if xw.ndim == 3 else 0
    h = g // gates
    lead = tuple(xw.shape[1:2])
    if xw.ndim != 3 or g % gates or any(tuple(s.shape) != lead + (h,) for s in states) or \
            tuple(w_hh.shape) != (g, h) or (b_hh is not None and tuple(b_hh.shape) != (g,)) or \
            (mask is not None and tuple(mask.shape) != tuple(xw.shape[:2])):
        k = f"{gates}H" if gates > 1 else "H"
        got = ", ".join(fmt_shape(a.shape) for a in (xw, *states, w_hh, b_hh, mask)
                        if a is not None)
        raise ShapeError(f"{name}: expected projections (L, N, {k}), states (N, H), weight "
                         f"({k}, H), bias ({k},) and mask (L, N), got {got}")


def _unsqueeze(ctx, x, axis):
    if ctx.opset >= 13:
        return ctx.node("Unsqueeze", [x, ctx.i64([axis])])
    return ctx.node("Unsqueeze", [x], axes=[axis])


def _layer_onnx(kind):
    """ONNX lowering of a layer primitive (``kind`` "lstm", "gru" or "rnn"): its time loop
    unrolled over the traced sequence length, per step a Gather of the projections, the
    MatMul by W_hh^T (+ b_hh), the cell's nodes and, for a packed batch, Where on the mask;
    the states joined by Concat."""
    def lower(ctx, node, out):
        ins = node.inputs
        n_states = 2 if kind == "lstm" else 1
        xw = ctx.name(ins[0])
        states = [ctx.name(v) for v in ins[1:1 + n_states]]
        w, b, mask = (tuple(ins[1 + n_states:]) + (None, None))[:3]
        dt = node.out.dtype
        h = int(ins[1].shape[-1])
        wt = ctx.node("Transpose", [ctx.name(w)], perm=[1, 0])
        outs = [None] * int(ins[0].shape[0])
        for t in _steps(len(outs), node.attrs.get("reverse", False)):
            at = ctx.const(np.asarray(t, np.int64))
            xt = ctx.node("Gather", [xw, at], axis=0)
            hw = ctx.node("MatMul", [states[0], wt])
            if b is not None:
                hw = ctx.node("Add", [hw, ctx.name(b)])
            if kind == "lstm":
                new = list(_lstm_cell_nodes(ctx, ctx.node("Add", [xt, hw]), states[1], h))
            elif kind == "gru":
                new = [_gru_cell_nodes(ctx, xt, hw, states[0], h, dt)]
            else:
                act = "Relu" if node.attrs.get("nonlinearity") == "relu" else "Tanh"
                new = [ctx.node(act, [ctx.node("Add", [xt, hw])])]
            if mask is not None:
                live = _unsqueeze(ctx, ctx.node("Gather", [ctx.operand(mask, np.bool_), at],
                                                axis=0), -1)
                new = [ctx.node("Where", [live, a, s]) for a, s in zip(new, states)]
            states = new
            step = new[0] if kind != "lstm" else ctx.node("Concat", new, axis=-1)
            outs[t] = _unsqueeze(ctx, step, 0)
        ctx.node("Concat", outs, out, axis=0)
    return lower


@register
class LstmLayer(Op):
    """The states [h_t | c_t] (L, N, 2H) of one LSTM layer and direction over a sequence, from
    the input projections xw (L, N, 4H) (x W_ih^T + b_ih, gates [i | f | g | o]), the initial
    state h0, c0 (N, H), the recurrent weight w_hh (4H, H) and bias b_hh (4H,) or None;
    ``mask`` (L, N) bool or None: sample b's state changes only at steps where it is True
    (packed sequences); ``reverse``: run from the last step to the first. The same values per
    step as nn.LSTM's step (xw + (h W_hh^T + b_hh), then LstmCell)."""
    name, kind, onnx, saves = "lstm_layer", "library", _layer_onnx("lstm"), "both"

    @staticmethod
    def forward(xp, xw, h0, c0, w_hh, b_hh=None, mask=None, reverse=False):
        return _lstm_layer_fwd(xp, xw, h0, c0, w_hh, b_hh, mask, reverse)

    @staticmethod
    def backward(ctx, g):
        xw, h0, c0, w_hh, b_hh, mask = (tuple(ctx.saved) + (None, None))[:6]
        reverse = ctx.attrs.get("reverse", False)
        if _state.grad_enabled:   # create_graph: a backward that is itself differentiable
            return _lstm_layer_grad_tensors(g, xw, h0, c0, w_hh, b_hh, mask, reverse) + (None,)
        r = apply(LstmLayerBackward, g, xw, h0, c0, w_hh, b_hh, mask, ctx.out, reverse=reverse)
        grads = _unflatten(r, [xw.shape, h0.shape, c0.shape, w_hh.shape] + (
            [b_hh.shape] if b_hh is not None else []))
        return tuple(grads) + (None,) * (6 - len(grads))

    @staticmethod
    def check(xw, h0, c0, w_hh, b_hh=None, mask=None):
        _check_layer("lstm_layer", 4, xw, (h0, c0), w_hh, b_hh, mask)


@register
class LstmLayerBackward(Op):
    """The gradients of LstmLayer's inputs xw, h0, c0, w_hh (and b_hh), flattened and joined
    into one 1-d array (first-order only, as LstmCellBackward)."""
    name, kind, onnx, differentiable = "lstm_layer_backward", "library", None, False

    @staticmethod
    def forward(xp, gout, xw, h0, c0, w_hh, b_hh, mask, out, reverse=False):
        return _joined(xp, _lstm_layer_grad(xp, gout, xw, h0, c0, w_hh, b_hh, mask, out,
                                            reverse))


def lstm_layer(xw, h0, c0, w_hh, b_hh=None, mask=None, reverse=False):
    """One LSTM layer and direction over a whole sequence: (output (L, N, H), h_n, c_n) from
    the input projections ``xw`` (L, N, 4H), the initial ``h0``, ``c0`` (N, H) and the
    recurrent ``w_hh`` (4H, H), ``b_hh`` (see LstmLayer); nn.LSTM calls it (not a torch
    function)."""
    LstmLayer.check(xw, h0, c0, w_hh, b_hh, mask)
    out = apply(LstmLayer, xw, h0, c0, w_hh, b_hh, mask, reverse=reverse)
    h = h0.shape[-1]
    last = 0 if reverse else -1
    return out[..., :h], out[last, :, :h], out[last, :, h:]


# ----------------------------------------------------------------------------- GRU layer
def _prev(xp, out, first, reverse):
    """Each step's incoming state from the states ``out`` (L, N, K) and the initial one."""
    return xp.concatenate([out[1:], first[None]] if reverse else [first[None], out[:-1]], 0)


def _gru_layer_fwd(xp, xw, h0, w_hh, b_hh, mask, reverse):
    seq, n, g3 = xw.shape
    h = g3 // 3
    out = xp.empty((seq, n, h), dtype=np.result_type(xw, h0, w_hh))
    kern = _rnn_kernel(xp, "gru_fwd", xw, h0, w_hh, b_hh)
    wt = w_hh.T
    hp = h0
    if kern is not None:
        xw = np.ascontiguousarray(xw)
        hw = np.empty((n, g3), dtype=out.dtype)
        b = np.zeros(g3, out.dtype) if b_hh is None else np.ascontiguousarray(b_hh)
        hwp, bp, xwp, outp = address(hw), address(b), address(xw), address(out)
        hp = np.ascontiguousarray(h0)
        hpp, ldh = address(hp), h
    for t in _steps(seq, reverse):
        o = out[t]
        if kern is not None:
            np.matmul(hp, wt, out=hw)
            kern(hwp, bp, xwp + t * xw.strides[0], hpp, outp + t * out.strides[0], n, h, ldh)
            hpp, ldh = outp + t * out.strides[0], h
        else:
            hw = xp.matmul(hp, wt)
            if b_hh is not None:
                hw += b_hh
            o[...] = GruCell.forward(xp, xw[t], hw, hp)
        if mask is not None and not mask[t].all():    # packed: finished samples keep state
            dead = ~mask[t]
            o[dead] = hp[dead]
        hp = o
    return out


def _gru_layer_grad(xp, gout, xw, h0, w_hh, b_hh, mask, out, reverse):
    """(dxw, dh0, dw_hh, db_hh) of _gru_layer_fwd for the gradient ``gout`` of its states."""
    seq, n, g3 = xw.shape
    h = g3 // 3
    hp = _prev(xp, out, h0, reverse)
    hw = xp.matmul(hp.reshape(-1, h), w_hh.T).reshape(seq, n, g3)   # every step's h W^T
    dt = np.result_type(gout, hw)
    dxw = xp.empty((seq, n, g3), dtype=dt)
    dhw = xp.empty((seq, n, g3), dtype=dt)
    dh = xp.zeros((n, h), dtype=dt)
    order = _steps(seq, not reverse)
    kern = _rnn_kernel(xp, "gru_bwd", gout, xw, h0, w_hh, b_hh, out)
    if kern is not None:
        gout, xw = np.ascontiguousarray(gout), np.ascontiguousarray(xw)
        b = np.zeros(g3, dt) if b_hh is None else np.ascontiguousarray(b_hh)
        live = None if mask is None else np.ascontiguousarray(mask, dtype=np.uint8)
        gz = np.empty((n, h), dtype=dt)
        gp, dhp, hwp, bp, xwp, hpp, dxp, dwp, gzp = (address(a) for a in (
            gout, dh, hw, b, xw, hp, dxw, dhw, gz))
        gs, ws, xs, ps = gout.strides[0], hw.strides[0], xw.strides[0], hp.strides[0]
        for t in order:
            kern(gp + t * gs, dhp, hwp + t * ws, bp, xwp + t * xs, hpp + t * ps,
                 None if live is None else address(live) + t * n, dxp + t * ws,
                 dwp + t * ws, gzp, n, h, h)
            np.matmul(dhw[t], w_hh, out=dh)
            dh += gz
    else:
        hwb = hw if b_hh is None else hw + b_hh
        cat_last = lambda arrs: xp.concatenate(arrs, axis=-1)  # noqa: E731
        for t in order:
            g = gout[t] + dh
            dxw[t], dhw[t], dhd = _gru_cell_grad(lambda a: _sigmoid_fwd(xp, a), xp.tanh,
                                                 cat_last, g, xw[t], hwb[t], hp[t])
            if mask is not None and not mask[t].all():
                dead = ~mask[t]
                dxw[t][dead] = 0
                dhw[t][dead] = 0
                dhd[dead] = g[dead]
            dh = dhd + xp.matmul(dhw[t], w_hh)
    flat = dhw.reshape(-1, g3)
    dw = xp.matmul(flat.T, hp.reshape(-1, h))
    db = flat.sum(0) if b_hh is not None else None
    return dxw, dh, dw, db


def _gru_layer_grad_tensors(gout, xw, h0, w_hh, b_hh, mask, reverse):
    """_gru_layer_grad in recorded Tensor ops (create_graph), as _lstm_layer_grad_tensors."""
    seq = xw.shape[0]
    order = _steps(seq, reverse)
    hp = h0
    steps = {}
    for t in order:
        hw = hp.matmul(w_hh.t())
        hw = hw if b_hh is None else hw + b_hh
        hn = gru_cell(xw[t], hw, hp)
        if mask is not None:
            hn = where(mask[t].unsqueeze(-1), hn, hp)
        steps[t] = (hw, hp)
        hp = hn
    dh = dw = db = None
    dxs = [None] * seq
    for t in reversed(order):
        hw, hp = steps[t]
        g = gout[t] if dh is None else gout[t] + dh
        dx, dhw, dhd = _gru_cell_grad(lambda u: u.sigmoid(), lambda u: u.tanh(),
                                      lambda ts: cat(ts, -1), g, xw[t], hw, hp)
        if mask is not None:
            m = mask[t].unsqueeze(-1)
            dx, dhw, dhd = dx * m, dhw * m, where(m, dhd, g)
        dxs[t] = dx
        dwt = dhw.t().matmul(hp)
        dw = dwt if dw is None else dw + dwt
        if b_hh is not None:
            db = dhw.sum(0) if db is None else db + dhw.sum(0)
        dh = dhd + dhw.matmul(w_hh)
    return stack(dxs, 0), dh, dw, db


@register
class GruLayer(Op):
    """The states h_t (L, N, H) of one GRU layer and direction over a sequence, from the input
    projections xw (L, N, 3H) (x W_ih^T + b_ih, gates [r | z | n]), h0 (N, H), w_hh (3H, H),
    b_hh (3H,) or None, ``mask`` and ``reverse`` as LstmLayer's. The same values per step as
    nn.GRU's step (GruCell of xw and h W_hh^T + b_hh)."""
    name, kind, onnx, saves = "gru_layer", "library", _layer_onnx("gru"), "both"

    @staticmethod
    def forward(xp, xw, h0, w_hh, b_hh=None, mask=None, reverse=False):
        return _gru_layer_fwd(xp, xw, h0, w_hh, b_hh, mask, reverse)

    @staticmethod
    def backward(ctx, g):
        xw, h0, w_hh, b_hh, mask = (tuple(ctx.saved) + (None, None))[:5]
        reverse = ctx.attrs.get("reverse", False)
        if _state.grad_enabled:   # create_graph: a backward that is itself differentiable
            return _gru_layer_grad_tensors(g, xw, h0, w_hh, b_hh, mask, reverse) + (None,)
        r = apply(GruLayerBackward, g, xw, h0, w_hh, b_hh, mask, ctx.out, reverse=reverse)
        grads = _unflatten(r, [xw.shape, h0.shape, w_hh.shape] + (
            [b_hh.shape] if b_hh is not None else []))
        return tuple(grads) + (None,) * (5 - len(grads))

    @staticmethod
    def check(xw, h0, w_hh, b_hh=None, mask=None):
        _check_layer("gru_layer", 3, xw, (h0,), w_hh, b_hh, mask)


@register
class GruLayerBackward(Op):
    """The gradients of GruLayer's inputs xw, h0, w_hh (and b_hh), flattened and joined into
    one 1-d array (first-order only)."""
    name, kind, onnx, differentiable = "gru_layer_backward", "library", None, False

    @staticmethod
    def forward(xp, gout, xw, h0, w_hh, b_hh, mask, out, reverse=False):
        return _joined(xp, _gru_layer_grad(xp, gout, xw, h0, w_hh, b_hh, mask, out, reverse))


def gru_layer(xw, h0, w_hh, b_hh=None, mask=None, reverse=False):
    """One GRU layer and direction over a whole sequence: (output (L, N, H), h_n) (see
    GruLayer); nn.GRU calls it (not a torch function)."""
    GruLayer.check(xw, h0, w_hh, b_hh, mask)
    out = apply(GruLayer, xw, h0, w_hh, b_hh, mask, reverse=reverse)
    return out, out[0 if reverse else -1]


# ----------------------------------------------------------------------------- RNN layer
def _rnn_act(xp, z, relu, out):
    return xp.maximum(z, 0, out=out) if relu else xp.tanh(z, out=out)


def _rnn_layer_fwd(xp, xw, h0, w_hh, b_hh, mask, reverse, relu):
    seq, n, h = xw.shape
    out = xp.empty((seq, n, h), dtype=np.result_type(xw, h0, w_hh))
    wt = w_hh.T
    hp = h0
    for t in _steps(seq, reverse):
        z = xp.matmul(hp, wt)
        if b_hh is not None:
            z += b_hh
        z += xw[t]                 # act(xw + (h W^T + b)), nn.RNN's step
        o = _rnn_act(xp, z, relu, out[t])
        if mask is not None and not mask[t].all():    # packed: finished samples keep state
            dead = ~mask[t]
            o[dead] = hp[dead]
        hp = o
    return out


def _rnn_layer_grad(xp, gout, xw, h0, w_hh, b_hh, mask, out, reverse, relu):
    """(dxw, dh0, dw_hh, db_hh) of _rnn_layer_fwd: per step only da = (gout + dh) act' and
    dh = da W_hh; the activation's derivative for all steps in one pass."""
    seq, n, h = xw.shape
    deriv = (out > 0).astype(out.dtype) if relu else 1 - out * out
    dt = np.result_type(gout, deriv)
    dz = xp.empty((seq, n, h), dtype=dt)
    dh = xp.zeros((n, h), dtype=dt)
    for t in _steps(seq, not reverse):
        g = gout[t] + dh
        da = xp.multiply(g, deriv[t], out=dz[t])
        dh = xp.matmul(da, w_hh)
        if mask is not None and not mask[t].all():    # finished samples: state passes through
            dead = ~mask[t]
            da[dead] = 0
            dh[dead] = g[dead]
    hp = _prev(xp, out, h0, reverse)
    flat = dz.reshape(-1, h)
    dw = xp.matmul(flat.T, hp.reshape(-1, h))
    db = flat.sum(0) if b_hh is not None else None
    return dz, dh, dw, db


def _rnn_layer_grad_tensors(gout, xw, h0, w_hh, b_hh, mask, reverse, relu):
    """_rnn_layer_grad in recorded Tensor ops (create_graph)."""
    seq = xw.shape[0]
    order = _steps(seq, reverse)
    hp = h0
    steps = {}
    for t in order:
        z = hp.matmul(w_hh.t())
        z = xw[t] + (z if b_hh is None else z + b_hh)
        hn = z.relu() if relu else z.tanh()
        steps[t] = (hn, hp)
        if mask is not None:
            hn = where(mask[t].unsqueeze(-1), hn, hp)
        hp = hn
    dh = dw = db = None
    dzs = [None] * seq
    for t in reversed(order):
        hn, hp = steps[t]
        g = gout[t] if dh is None else gout[t] + dh
        da = g * (hn > 0) if relu else g * (1 - hn * hn)
        if mask is not None:
            m = mask[t].unsqueeze(-1)
            da = da * m
        dzs[t] = da
        dwt = da.t().matmul(hp)
        dw = dwt if dw is None else dw + dwt
        if b_hh is not None:
            db = da.sum(0) if db is None else db + da.sum(0)
        dh = da.matmul(w_hh)
        if mask is not None:
            dh = where(m, dh, g)
    return stack(dzs, 0), dh, dw, db


@register
class RnnLayer(Op):
    """The states h_t (L, N, H) of one Elman RNN layer and direction, h' = act(xw_t + (h W_hh^T
    + b_hh)), act tanh or relu (``nonlinearity``), from xw (L, N, H) (x W_ih^T + b_ih), h0
    (N, H), w_hh (H, H), b_hh (H,) or None; ``mask`` and ``reverse`` as LstmLayer's. The same
    values as nn.RNN's step (the same NumPy calls)."""
    name, kind, onnx, saves = "rnn_layer", "library", _layer_onnx("rnn"), "both"

    @staticmethod
    def forward(xp, xw, h0, w_hh, b_hh=None, mask=None, reverse=False, nonlinearity="tanh"):
        return _rnn_layer_fwd(xp, xw, h0, w_hh, b_hh, mask, reverse, nonlinearity == "relu")

    @staticmethod
    def backward(ctx, g):
        xw, h0, w_hh, b_hh, mask = (tuple(ctx.saved) + (None, None))[:5]
        reverse = ctx.attrs.get("reverse", False)
        relu = ctx.attrs.get("nonlinearity", "tanh") == "relu"
        if _state.grad_enabled:   # create_graph: a backward that is itself differentiable
            return _rnn_layer_grad_tensors(g, xw, h0, w_hh, b_hh, mask, reverse, relu) + (None,)
        r = apply(RnnLayerBackward, g, xw, h0, w_hh, b_hh, mask, ctx.out, reverse=reverse,
                  nonlinearity="relu" if relu else "tanh")
        grads = _unflatten(r, [xw.shape, h0.shape, w_hh.shape] + (
            [b_hh.shape] if b_hh is not None else []))
        return tuple(grads) + (None,) * (5 - len(grads))

    @staticmethod
    def check(xw, h0, w_hh, b_hh=None, mask=None, nonlinearity="tanh"):
        _check_layer("rnn_layer", 1, xw, (h0,), w_hh, b_hh, mask)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"rnn_layer: unknown nonlinearity {nonlinearity!r}")


@register
class RnnLayerBackward(Op):
    """The gradients of RnnLayer's inputs xw, h0, w_hh (and b_hh), flattened and joined into
    one 1-d array (first-order only)."""
    name, kind, onnx, differentiable = "rnn_layer_backward", "library", None, False

    @staticmethod
    def forward(xp, gout, xw, h0, w_hh, b_hh, mask, out, reverse=False, nonlinearity="tanh"):
        return _joined(xp, _rnn_layer_grad(xp, gout, xw, h0, w_hh, b_hh, mask, out, reverse,
                                           nonlinearity == "relu"))


def rnn_layer(xw, h0, w_hh, b_hh=None, mask=None, reverse=False, nonlinearity="tanh"):
    """One Elman RNN layer and direction over a whole sequence: (output (L, N, H), h_n) (see
    RnnLayer); nn.RNN calls it (not a torch function)."""
    RnnLayer.check(xw, h0, w_hh, b_hh, mask, nonlinearity)
    out = apply(RnnLayer, xw, h0, w_hh, b_hh, mask, reverse=reverse, nonlinearity=nonlinearity)
    return out, out[0 if reverse else -1]


# ----------------------------------------------------------------------------- PReLU
@register
class PreluKernel(Op):
    """prelu: x where x > 0, else w x, with w broadcast against x (F.prelu shapes it () or
    (C, 1, ...)): torch's one op (_prelu_kernel, PreluKernelBackward0), where the composite
    records three forward (gt, mul, where) and about six backward; the composite's values.
    Eager only: a traced prelu records the composite, whose ops compiled graphs lower."""
    name, kind, onnx = "prelu_kernel", "library", None

    @staticmethod
    def forward(xp, x, w):
        return xp.where(x > 0, x, w * x)

    # dx = g where x > 0 else w g; dw = the sum over the broadcast dims of g x where x <= 0
    @staticmethod
    def backward(c, g):
        x, w = c.saved
        if _state.grad_enabled:   # create_graph: a backward that is itself differentiable
            pos = x > 0
            gx = where(pos, g, g * w) if c.next[0] is not None else None
            gw = sum_to(where(pos, 0.0, g * x), w.shape) if c.next[1] is not None else None
            return gx, gw
        gx = apply(PreluBackward, g, x, w) if c.next[0] is not None else None
        gw = apply(PreluWeightBackward, g, x, w) if c.next[1] is not None else None
        return gx, gw


@register
class PreluBackward(Op):
    """PreluKernel's input gradient g where x > 0, else w g (first-order only: PreluKernel's
    backward records Tensor ops when create_graph asks for more)."""
    name, kind, onnx, differentiable = "prelu_backward", "library", None, False

    @staticmethod
    def forward(xp, g, x, w):
        return xp.where(x > 0, g, w * g)


@register
class PreluWeightBackward(Op):
    """PreluKernel's weight gradient: g x where x <= 0 (0 elsewhere), summed to w's shape as
    the composite's sum_to sums it (first-order only, as PreluBackward)."""
    name, kind, onnx, differentiable = "prelu_weight_backward", "library", None, False

    @staticmethod
    def forward(xp, g, x, w):
        p = g * x
        return SumTo.forward(xp, xp.where(x > 0, 0.0, p).astype(p.dtype, copy=False),
                             shape=w.shape)

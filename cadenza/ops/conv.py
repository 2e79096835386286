"""Sliding-window primitives: unfold (im2col) and its adjoint fold (col2im), both 2-d over
(N, C, H, W). Convolution, pooling and their 1-d forms are composites over these and matmul
(see cadenza/functional/conv.py), so their gradients of any order come for free."""
from __future__ import annotations

import numpy as np

from ._registry import Op, register, apply
from ..errors import ShapeError, fmt_shape

__all__ = ["fold", "unfold"]




def out_size(n, k, d, p, s):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _pad_hw(xp, x, ph, pw):
    if not (ph or pw):
        return x
    n, c, h, w = x.shape
    out = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


def _unfold_fwd(xp, x, kernel=(1, 1), dilation=(1, 1), padding=(0, 0), stride=(1, 1)):
    n, c, h, w = x.shape
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = kernel, dilation, padding, stride
    oh, ow = out_size(h, kh, dh, ph, sh), out_size(w, kw, dw, pw, sw)
    if oh <= 0 or ow <= 0:
        raise ValueError(f"output size ({oh}, {ow}) is too small")
    x = _pad_hw(xp, x, ph, pw)
    # one copy of a (N, C, kh, kw, oh, ow) strided view: no per-offset Python loop
    s0, s1, s2, s3 = x.strides
    win = xp.lib.stride_tricks.as_strided(
        x, (n, c, kh, kw, oh, ow), (s0, s1, s2 * dh, s3 * dw, s2 * sh, s3 * sw))
    return xp.ascontiguousarray(win).reshape(n, c * kh * kw, oh * ow)


def _fold_fwd(xp, cols, output_size=(1, 1), kernel=(1, 1), dilation=(1, 1), padding=(0, 0),
              stride=(1, 1)):
    (h, w), (kh, kw), (dh, dw), (ph, pw), (sh, sw) = output_size, kernel, dilation, padding, \
        stride
    n, ckk, _ = cols.shape
    c = ckk // (kh * kw)
    oh, ow = out_size(h, kh, dh, ph, sh), out_size(w, kw, dw, pw, sw)
    cols = cols.reshape(n, c, kh, kw, oh, ow)
    hp, wp = h + 2 * ph, w + 2 * pw
    out = xp.zeros((n, c, hp, wp), dtype=cols.dtype)
    # Two stages: the row offsets i first, into a buffer with the output's rows but the
    # windows' columns (with stride 1 each add is one contiguous oh*ow block per channel),
    # then the column offsets j (short rows, but kw adds instead of kh*kw).
    acc = xp.empty((n, c, hp, ow), dtype=cols.dtype) if kh > 1 else None
    for j in range(kw):
        dst = out[:, :, :, j * dw: j * dw + sw * (ow - 1) + 1: sw]
        if acc is None:
            dst[:, :, : sh * (oh - 1) + 1: sh] += cols[:, :, 0, j]
            continue
        acc.fill(0)
        for i in range(kh):
            acc[:, :, i * dh: i * dh + sh * (oh - 1) + 1: sh] += cols[:, :, i, j]
        dst += acc
    return out[:, :, ph: ph + h, pw: pw + w]


@register
class Unfold(Op):
    name, kind, saves = "unfold", "library", "none"
    forward = staticmethod(_unfold_fwd)

    @staticmethod
    def onnx(ctx, node, out):
        """im2col as a grouped convolution with one-hot kernels: channel (c, i, j) of the
        result picks input channel c at window offset (i, j), the order unfold uses."""
        x = node.inputs[0]
        n, c, _, _ = x.shape
        a = node.attrs
        (kh, kw), (dh, dw), (ph, pw), (sh, sw) = a["kernel"], a["dilation"], a["padding"], \
            a["stride"]
        w = np.zeros((c * kh * kw, 1, kh, kw), dtype=x.dtype)
        for ch in range(c):
            for i in range(kh):
                for j in range(kw):
                    w[ch * kh * kw + i * kw + j, 0, i, j] = 1
        conv = ctx.node("Conv", [ctx.name(x), ctx.const(w, "unfold_w")], group=int(c),
                        kernel_shape=[kh, kw], dilations=[dh, dw], pads=[ph, pw, ph, pw],
                        strides=[sh, sw])
        ctx.node("Reshape", [conv, ctx.i64(node.out.shape)], out)

    @staticmethod
    def backward(c, g):
        a = c.attrs
        return (apply(Fold, g, output_size=tuple(c.shape(0)[2:]), kernel=a["kernel"],
                      dilation=a["dilation"], padding=a["padding"], stride=a["stride"]),)


@register
class Fold(Op):
    name, kind, onnx, saves = "fold", "library", None, "none"
    forward = staticmethod(_fold_fwd)

    @staticmethod
    def backward(c, g):
        a = c.attrs
        return (apply(Unfold, g, kernel=a["kernel"], dilation=a["dilation"],
                      padding=a["padding"], stride=a["stride"]),)


def _pair(v, name):
    if isinstance(v, int):
        return (v, v)
    v = tuple(int(x) for x in v)
    if len(v) == 1:
        return (v[0], v[0])
    if len(v) != 2:
        raise ValueError(f"{name}: expected an int or a pair, got {v}")
    return v


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """F.unfold: sliding local blocks of a (N, C, H, W) input -> (N, C*kh*kw, L); an unbatched
    (C, H, W) input gives (C*kh*kw, L)."""
    if input.ndim == 3:
        return unfold(input.unsqueeze(0), kernel_size, dilation, padding, stride).squeeze(0)
    if input.ndim != 4:
        raise ShapeError(f"unfold: expected a 3-d (C, H, W) or 4-d input (N, C, H, W), got "
                         f"{fmt_shape(input.shape)}")
    k, d, p, s = (_pair(kernel_size, "kernel_size"), _pair(dilation, "dilation"),
                  _pair(padding, "padding"), _pair(stride, "stride"))
    _check_window("unfold", input.shape[2:], k, d, p, s)
    return apply(Unfold, input, kernel=k, dilation=d, padding=p, stride=s)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """F.fold: sum sliding blocks (N, C*kh*kw, L) back into (N, C, H, W); an unbatched
    (C*kh*kw, L) input gives (C, H, W)."""
    if input.ndim == 2:
        return fold(input.unsqueeze(0), output_size, kernel_size, dilation, padding,
                    stride).squeeze(0)
    k, d, p, s = (_pair(kernel_size, "kernel_size"), _pair(dilation, "dilation"),
                  _pair(padding, "padding"), _pair(stride, "stride"))
    size = _pair(output_size, "output_size")
    if input.ndim != 3 or input.shape[1] % (k[0] * k[1]):
        raise ShapeError(f"fold: expected input (N, C*{k[0]}*{k[1]}, L), got "
                         f"{fmt_shape(input.shape)}")
    L = out_size(size[0], k[0], d[0], p[0], s[0]) * out_size(size[1], k[1], d[1], p[1], s[1])
    if input.shape[2] != L:
        raise ShapeError(f"fold: expected input.shape[2] == {L} blocks for output_size {size}, "
                         f"got {fmt_shape(input.shape)}")
    return apply(Fold, input, output_size=size, kernel=k, dilation=d, padding=p, stride=s)


def _check_window(op, spatial, k, d, p, s):
    for n, kk, dd, pp, ss in zip(spatial, k, d, p, s):
        if ss <= 0 or dd <= 0 or pp < 0:
            raise ValueError(f"{op}: stride and dilation must be positive and padding "
                             f"non-negative, got stride={s}, dilation={d}, padding={p}")
        if out_size(n, kk, dd, pp, ss) <= 0:
            raise ShapeError(f"{op}: input spatial size {tuple(spatial)} is too small for "
                             f"kernel {k} with dilation {d} and padding {p}")

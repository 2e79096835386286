"""Max pooling as a primitive pair (the gradient over overlapping windows in C through
backend/ckernels.py, over 2x2 windows of stride 2 through backend/ckernels_conv.py, when a
compiler is found, else the NumPy form
below, which gives the same bits; NumPy's strided passes are as fast as C elsewhere). As a
composite (unfold, argmax, one-hot where, sum) it cost ~4x the convolutions' GEMMs in
bench/w4_cnn_train.py: each step materialised the windows, compared them against a one-hot and
folded the gradient back. Here the forward is kh*kw strided ``maximum`` passes over the
(padded) input (2x2 windows of stride 2: one C pass in the same order,
backend/ckernels_conv.py), and the derivative primitive ``max_pool2d_backward`` recomputes
which element of each window won (the first maximum, as torch) and writes the gradient there.
Its own backward is written in Tensor ops (unfold, argmax, where), so higher-order gradients
still work (DESIGN.md section 2)."""
from __future__ import annotations

import math

import numpy as np

from ._registry import Op, register, apply
from .._tensor_base import _make
from .conv import _conv2d_weight_grad, unfold
from .elementwise import where
from .shape import pad
from ..backend import ckernels, ckernels_conv
from ..backend.cpu import address

__all__: list = []   # max_pool2d here is the primitive helper behind F.max_pool2d




def pool_out(n, k, s, p, d, ceil_mode):
    """Output length of a pooling window sweep (PyTorch's rule, incl. ceil_mode's last window
    that must start inside the input or its left padding)."""
    num = n + 2 * p - d * (k - 1) - 1
    out = (num + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def pool_geometry(shape, kernel, stride, padding, dilation, ceil_mode):
    """(oh, ow) of a 2-d pooling over (N, C, H, W) ``shape`` and the right-hand extension
    (rh, rw) that the last window needs (shared with functional.pool's composites)."""
    H, W = shape[2], shape[3]
    oh = pool_out(H, kernel[0], stride[0], padding[0], dilation[0], ceil_mode)
    ow = pool_out(W, kernel[1], stride[1], padding[1], dilation[1], ceil_mode)
    rh = max((oh - 1) * stride[0] + dilation[0] * (kernel[0] - 1) + 1 - H - padding[0], 0)
    rw = max((ow - 1) * stride[1] + dilation[1] * (kernel[1] - 1) + 1 - W - padding[1], 0)
    return oh, ow, rh, rw


def _low(dtype):
    return -math.inf if dtype.kind in "fV" else np.iinfo(dtype).min   # V: bfloat16


def _padded(xp, x, padding, rh, rw, fill):
    ph, pw = padding
    if not (ph or pw or rh or rw):
        return x
    n, c, h, w = x.shape
    out = xp.full((n, c, ph + h + rh, pw + w + rw), fill, dtype=x.dtype)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


def _window(a, i, j, oh, ow, stride, dilation):
    """The (N, C, oh, ow) strided view of element (i, j) of every window."""
    (sh, sw), (dh, dw) = stride, dilation
    return a[:, :, i * dh: i * dh + sh * (oh - 1) + 1: sh, j * dw: j * dw + sw * (ow - 1) + 1: sw]


def _geometry_args(x, kernel, stride, padding, dilation, oh, ow):
    n, c, h, w = x.shape
    return (n * c, h, w, kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1],
            dilation[0], dilation[1], oh, ow)


def _halves(kernel, stride, padding, dilation, rh, rw):
    """2x2 windows of stride 2 inside the input: the gradient's own C kernel (one vectorised
    pass, backend/ckernels.py)."""
    return tuple(kernel) == (2, 2) and tuple(stride) == (2, 2) and tuple(dilation) == (1, 1) \
        and not (padding[0] or padding[1] or rh or rw)


def _max_pool2d_fwd(xp, x, kernel=(1, 1), stride=(1, 1), padding=(0, 0), dilation=(1, 1),
                    ceil_mode=False):
    oh, ow, rh, rw = pool_geometry(x.shape, kernel, stride, padding, dilation, ceil_mode)
    if xp is np and _halves(kernel, stride, padding, dilation, rh, rw):
        # one C pass (backend/ckernels_conv.py), the passes below in the same order
        x = np.ascontiguousarray(x)
        out = np.empty(x.shape[:2] + (oh, ow), dtype=x.dtype)
        fn = ckernels_conv.kernel("maxpool2_fwd", x, out)
        if fn is not None:
            fn(address(x), address(out), x.shape[0] * x.shape[1], x.shape[2], x.shape[3],
               oh, ow)
            return out
    a = _padded(xp, x, padding, rh, rw, _low(x.dtype))
    out = None
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            v = _window(a, i, j, oh, ow, stride, dilation)
            if out is None:
                out = v.copy()
            else:
                xp.maximum(out, v, out=out)  # propagates NaN, as torch
    return out


def window_argmax(xp, x, out, kernel, stride, padding, dilation, ceil_mode):
    """Which element (i * kw + j) of each window wins, as torch's scan: the first maximum among
    the real (unpadded) elements, or the last NaN of a window holding one. int8 or int32."""
    kh, kw = kernel
    oh, ow, rh, rw = pool_geometry(x.shape, kernel, stride, padding, dilation, ceil_mode)
    ph, pw = padding
    a = _padded(xp, x, padding, rh, rw, _low(x.dtype))
    H, W = x.shape[2], x.shape[3]
    idx = xp.zeros(out.shape, dtype=xp.int8 if kh * kw < 128 else xp.int32)
    valid = None
    # scan backwards so the first matching window element is written last
    for k in range(kh * kw - 1, -1, -1):
        i, j = divmod(k, kw)
        hit = _window(a, i, j, oh, ow, stride, dilation) == out
        if ph or pw or rh or rw:
            r = i * dilation[0] + stride[0] * xp.arange(oh)
            q = j * dilation[1] + stride[1] * xp.arange(ow)
            valid = ((r >= ph) & (r < ph + H))[:, None] & ((q >= pw) & (q < pw + W))[None, :]
            hit &= valid
        xp.copyto(idx, k, where=hit)
    if out.dtype.kind == "f":
        nan = xp.isnan(out)
        if nan.any():  # torch's scan takes every NaN it meets: the window's last one wins
            for k in range(kh * kw):
                i, j = divmod(k, kw)
                xp.copyto(idx, k, where=nan & xp.isnan(_window(a, i, j, oh, ow, stride,
                                                                 dilation)))
    return idx


_BLOCK = 1 << 16  # window outputs per block: the block's temporaries stay in L2 cache


def _scatter_first_max(xp, gx, g, x, out, kernel, stride, dilation):
    """gx[winner of each window] = g, the winner being the window's first element equal to
    out; for non-overlapping windows of an unpadded input whose outputs hold no NaN. Runs over
    blocks of the batch so the boolean temporaries stay in cache."""
    kh, kw = kernel
    oh, ow = out.shape[2], out.shape[3]
    per = max(1, _BLOCK // max(1, out[0].size))
    for b in range(0, out.shape[0], per):
        o, gb, xb, gxb = out[b:b + per], g[b:b + per], x[b:b + per], gx[b:b + per]
        taken = None
        for k in range(kh * kw):
            i, j = divmod(k, kw)
            dst = _window(gxb, i, j, oh, ow, stride, dilation)
            if k == kh * kw - 1 and taken is not None:
                hit = ~taken  # out is one of the window's elements: the last wins if no other
            else:
                eq = _window(xb, i, j, oh, ow, stride, dilation) == o
                if taken is None:
                    hit = taken = eq
                else:
                    hit = xp.greater(eq, taken)  # eq and not taken
                    taken |= eq
            dst[...] = xp.where(hit, gb, 0)   # +0 elsewhere (g * hit gives -0 and NaN)


def _max_pool2d_bwd(xp, g, x, out, kernel=(1, 1), stride=(1, 1), padding=(0, 0),
                    dilation=(1, 1), ceil_mode=False):
    oh, ow, rh, rw = pool_geometry(x.shape, kernel, stride, padding, dilation, ceil_mode)
    (kh, kw), (ph, pw) = kernel, padding
    n, c, h, w = x.shape
    padded = bool(ph or pw or rh or rw)
    # windows overlap when a stride is shorter than the dilated kernel: accumulate there
    overlap = stride[0] < dilation[0] * (kh - 1) + 1 or stride[1] < dilation[1] * (kw - 1) + 1
    dt = np.result_type(g, x)
    halves = _halves(kernel, stride, padding, dilation, rh, rw)
    if (halves or overlap) and xp is np:   # one C pass (backend/ckernels_conv.py, ckernels.py)
        g, x, out = (np.ascontiguousarray(a) for a in (g, x, out))
        gx = np.empty(x.shape, dtype=dt)
        if halves:
            fn, geometry = ckernels_conv.kernel("maxpool2_bwd", g, x, out, gx), \
                (n * c, h, w, oh, ow)
        else:
            fn, geometry = ckernels.kernel("maxpool_bwd", g, x, out, gx), \
                _geometry_args(x, kernel, stride, padding, dilation, oh, ow)
        if fn is not None:
            fn(address(g), address(x), address(out), address(gx), *geometry)
            return gx
    nan = out.dtype.kind == "f" and xp.isnan(out).any()
    if not padded and not overlap and xp is np and not nan:
        tiled = tuple(stride) == tuple(kernel) and tuple(dilation) == (1, 1) and \
            h == oh * kh and w == ow * kw
        gx = xp.empty(x.shape, dtype=dt) if tiled else xp.zeros(x.shape, dtype=dt)
        _scatter_first_max(xp, gx, g, x, out, kernel, stride, dilation)
        return gx
    idx = window_argmax(xp, x, out, kernel, stride, padding, dilation, ceil_mode)
    gx = xp.zeros((n, c, ph + h + rh, pw + w + rw) if padded else x.shape, dtype=dt)
    for k in range(kh * kw):
        i, j = divmod(k, kw)
        dst = _window(gx, i, j, oh, ow, stride, dilation)
        hit = idx == k
        if overlap:
            dst += xp.where(hit, g, 0)
        else:
            xp.copyto(dst, g, where=hit)
    if padded:
        gx = gx[:, :, ph:ph + h, pw:pw + w]
    return gx


_ATTRS = ("kernel", "stride", "padding", "dilation", "ceil_mode")


@register
class MaxPool2d(Op):
    """out[n, c, y, x] = max over the (dilated, strided) window; padding never wins."""
    name, kind, saves = "max_pool2d", "library", "both"
    out_snapshot = True
    forward = staticmethod(_max_pool2d_fwd)

    @staticmethod
    def onnx(ctx, node, out):
        a = node.attrs
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = a["kernel"], a["stride"], a["padding"], \
            a["dilation"]
        ctx.node("MaxPool", [ctx.name(node.inputs[0])], out, kernel_shape=[kh, kw],
                 strides=[sh, sw], pads=[ph, pw, ph, pw], dilations=[dh, dw],
                 ceil_mode=int(bool(a.get("ceil_mode", False))))

    @staticmethod
    def backward(c, g):
        return (apply(MaxPool2dBackward, g, c.saved[0], c.out, **c.attrs),)


@register
class MaxPool2dBackward(Op):
    """gx = g written at each window's winning element (summed where windows overlap). Linear
    in g: its adjoint gathers gg at the winners; x and out only choose the winners, so their
    derivative is zero almost everywhere."""
    name, kind, onnx, saves = "max_pool2d_backward", "library", None, "inputs"
    needs_saved = staticmethod(lambda req: (False, True, True))
    forward = staticmethod(_max_pool2d_bwd)

    @staticmethod
    def backward(c, gg):
        if c.next[0] is None:
            return None, None, None
        _, x, out = c.saved
        a = c.attrs
        k, s, p, d = a["kernel"], a["stride"], a["padding"], a["dilation"]
        N, C = x.shape[0], x.shape[1]
        oh, ow, rh, rw = pool_geometry(x.shape, k, s, p, d, a["ceil_mode"])
        widths = (p[1], rw, p[0], rh)

        def windows(t, fill):  # (N, C, kh*kw, oh*ow)
            if any(widths):
                t = pad(t, widths, value=fill)
            return unfold(t, k, d, 0, s).reshape(N, C, k[0] * k[1], oh * ow)
        win = windows(x.detach(), -math.inf)
        pick = win.argmax(2, keepdim=True) == \
            _make(np.arange(k[0] * k[1], dtype=np.int64).reshape(1, 1, -1, 1))
        dg = where(pick, windows(gg, 0.0), 0.0).sum(2).reshape(N, C, oh, ow)
        return dg, None, None


def max_pool2d(x, kernel, stride, padding, dilation, ceil_mode):
    """The primitive on a 4-d input with validated pairs (see functional.max_pool2d)."""
    return apply(MaxPool2d, x, kernel=kernel, stride=stride, padding=padding,
                 dilation=dilation, ceil_mode=ceil_mode)


_POOL2 = dict(kernel=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1), ceil_mode=False)


def pooled_weight_grad_fits(pool_attrs, r_shape, x_shape, kernel, stride, dilation,
                            dtype) -> bool:
    """Whether conv2d_weight_grad(max_pool2d_backward(g, r, p), x) can run as one
    Conv2dPooledWeightGrad node: float32, 2x2 pooling of stride 2 tiling r's planes (even
    sizes), and a convolution the direct one-channel kernel takes (ckernels_conv.direct)."""
    a = pool_attrs
    return dtype == np.float32 and all(
        tuple(a[k]) == v if isinstance(v, tuple) else bool(a[k]) == v
        for k, v in _POOL2.items()) and \
        r_shape[2] % 2 == 0 and r_shape[3] % 2 == 0 and \
        ckernels_conv.direct(x_shape[1], kernel, stride, dilation, r_shape[3])


@register
class Conv2dPooledWeightGrad(Op):
    """conv2d's weight gradient where its output gradient is 2x2 max pooling's:
    conv2d_weight_grad(max_pool2d_backward(g, r, p), x) as one node (made by
    graph/passes/fuse_pool_weight_grad.py in compiled float32 graphs; a CNN's first layer on
    grey images): the C kernel makes each plane of the unpooled gradient in cache and uses it
    at once, so the full-size gradient is never written nor read back. Never traced: no
    backward. Without the C kernel, the two ops' own forms."""
    name, kind, onnx, differentiable = "conv2d_pooled_weight_grad", "library", None, False

    @staticmethod
    def forward(xp, g, r, p, x, kernel=(1, 1), stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
        n, o, oh, ow = r.shape
        if xp is np and pooled_weight_grad_fits(_POOL2, r.shape, x.shape, kernel, stride,
                                                dilation, r.dtype):
            g, r, p, x = (np.ascontiguousarray(a) for a in (g, r, p, x))
            gw = np.empty((o, x.shape[1]) + tuple(kernel), dtype=r.dtype)
            fn = ckernels_conv.kernel("direct1_wgrad", g, x, gw, r, p)
            if fn is not None:
                geo = ckernels_conv.geometry(*x.shape, o, kernel, dilation, padding, stride,
                                             oh, ow)
                fn(address(g), address(x), address(gw), geo.ctypes.data, address(r),
                   address(p))
                return gw
        full = _max_pool2d_bwd(xp, g, r, p, **_POOL2)
        return _conv2d_weight_grad(xp, full, x, kernel, stride, padding, dilation)

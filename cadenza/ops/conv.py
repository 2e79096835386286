"""Sliding-window primitives: unfold (im2col) and its adjoint fold (col2im), both 2-d over
(N, C, H, W), and conv2d (groups=1) with its two gradient primitives (each one GEMM between
C-kernel layout passes; their own gradients are each other, so every order works). Grouped
convolutions, pooling composites and the 3-d forms are built over unfold/fold and matmul
(see cadenza/functional/conv.py)."""
from __future__ import annotations

import numpy as np

from ._registry import Op, register, apply
from ..errors import ShapeError, fmt_shape
from ..backend import ckernels, ckernels_conv
from .unary import _relu
from ..backend.cpu import address

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


# --------------------------------------------------------------------------- convolution
# conv2d (groups=1) as three primitives around GEMMs. Two forms, chosen by the shape alone
# (``_per_image``), so every path and thread count computes the same products:
# - per image, when each image has enough output positions (L = oh*ow >= 32) and the batch
#   enough images to share out: out[n] = W (O, C*kh*kw) @ cols(x[n]) (C*kh*kw, L) written
#   straight into NCHW with the bias, gx[n] = col2im(W^T g[n]), gw = the sum over images of
#   g[n] cols(x[n])^T in a fixed number of chunks (summed in chunk order). Each image's
#   columns are built in a task's own buffer and used while in cache
#   (backend/ckernels_conv.py: one image per task of the pool, single-threaded BLAS);
# - whole batch otherwise (ResNet's late layers have L = 4 or 1): one GEMM over the
#   (C*kh*kw, N*L) columns, with g as the (O, N*L) matrix, in the fixed blocks of
#   ckernels_conv.product.
# - float32 with one input channel (a CNN's first layer on grey images; ckernels_conv.direct):
#   direct C kernels for the forward and the weight gradient, no im2col or K = kh*kw GEMM
#   (within rounding of the other forms; float64 keeps the forms above).
# Without the C kernels the NumPy forms below compute the same products in the same order (the
# same bits in float64; float32 within rounding, as ckernels_conv explains).

_GEOM = ("stride", "padding", "dilation")
_WGRAD_CHUNKS = 16    # chunks of images the per-image weight gradient is summed in


def _per_image(n, oh, ow):
    return oh * ow >= 32 and n >= 4


def _live(n, k, d, p, s, o):
    """(first, last) kernel offset along one axis whose window element reads inside the input
    (0..n-1) for at least one of the o outputs; None when every offset does or none does."""
    live = []
    for t in range(k):
        y = max(0, -(-(p - t * d) // s))          # the first output whose position is >= 0
        if y < o and y * s + t * d - p < n:
            live.append(t)
    if not live or (live[0] == 0 and live[-1] == k - 1):
        return None
    return live[0], live[-1]


def _cropped(size, kernel, stride, padding, dilation, oh, ow):
    """A convolution whose outer kernel rows or columns only ever read padding (a 3x3 window
    with padding 1 over a 1x1 or 2x2 map, late in a ResNet on small images) computes the same
    sums without them: ((i0, i1), (j0, j1), padding) of the kernel rows and columns that
    remain and the padding that keeps the output size, or None (nothing to drop, or the
    cropped window would need padding that is not symmetric). The dropped terms are products
    with zeros, so the outputs and input gradients are the same sums (in the order of the
    shorter product), and the weight gradient is +0 at the dropped offsets."""
    rows = _live(size[0], kernel[0], dilation[0], padding[0], stride[0], oh)
    cols = _live(size[1], kernel[1], dilation[1], padding[1], stride[1], ow)
    if rows is None and cols is None:
        return None
    rows, cols = rows or (0, kernel[0] - 1), cols or (0, kernel[1] - 1)
    pad = (padding[0] - rows[0] * dilation[0], padding[1] - cols[0] * dilation[1])
    if pad[0] < 0 or pad[1] < 0 or \
            out_size(size[0], rows[1] - rows[0] + 1, dilation[0], pad[0], stride[0]) != oh or \
            out_size(size[1], cols[1] - cols[0] + 1, dilation[1], pad[1], stride[1]) != ow:
        return None
    return rows, cols, pad


def _crop_weight(w, crop):
    (i0, i1), (j0, j1), _ = crop
    return w[:, :, i0:i1 + 1, j0:j1 + 1]


def _geometry(x_shape, o, kernel, stride, padding, dilation, oh, ow):
    return ckernels_conv.geometry(*x_shape, o, kernel, dilation, padding, stride, oh, ow)


def _windows(xp, x, kernel, stride, padding, dilation, oh, ow, order):
    """A copy of x's windows (zeros where a window reads padding), its axes the ``order`` of
    (c, kh, kw, n, oh, ow) named by the letters "ckjnyx"."""
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = kernel, dilation, padding, stride
    n, c = x.shape[:2]
    x = _pad_hw(xp, x, ph, pw)
    s0, s1, s2, s3 = x.strides
    dims = dict(c=(c, s1), k=(kh, s2 * dh), j=(kw, s3 * dw), n=(n, s0), y=(oh, s2 * sh),
                x=(ow, s3 * sw))
    win = xp.lib.stride_tricks.as_strided(x, tuple(dims[a][0] for a in order),
                                          tuple(dims[a][1] for a in order))
    return xp.ascontiguousarray(win)


def _im2col(xp, x, kernel, stride, padding, dilation, oh, ow):
    """The (C*kh*kw, N*oh*ow) matrix of x's windows (zeros where a window reads padding)."""
    n, c, h, w = x.shape
    (kh, kw) = kernel
    if xp is np:
        x = np.ascontiguousarray(x)
        cols = np.empty((c * kh * kw, n * oh * ow), dtype=x.dtype)
        fn = ckernels_conv.kernel("im2col", x, cols)
        if fn is not None:
            geo = _geometry(x.shape, 0, kernel, stride, padding, dilation, oh, ow)
            fn(address(x), address(cols), geo.ctypes.data)
            return cols
    return _windows(xp, x, kernel, stride, padding, dilation, oh, ow, "ckjnyx").reshape(
        c * kh * kw, n * oh * ow)


def _col2im(xp, cols, n, size, kernel, stride, padding, dilation, oh, ow):
    """The adjoint of _im2col: (C*kh*kw, N*L) -> (N, C, H, W), window sums in fold's order."""
    (h, w), (kh, kw) = size, kernel
    c = cols.shape[0] // (kh * kw)
    if xp is np:
        out = np.empty((n, c, h, w), dtype=cols.dtype)
        fn = ckernels_conv.kernel("col2im", cols, out)
        if fn is not None:
            geo = _geometry(out.shape, 0, kernel, stride, padding, dilation, oh, ow)
            fn(address(cols), address(out), geo.ctypes.data)
            return out
    batched = cols.reshape(c * kh * kw, n, oh * ow).transpose(1, 0, 2)
    return _fold_fwd(xp, batched, output_size=size, kernel=kernel, dilation=dilation,
                     padding=padding, stride=stride)


def _product(xp, a, b):
    """a @ b for the convolution's GEMMs: on the CPU in backend/ckernels_conv.py's blocks
    over the thread pool (single-threaded BLAS per block; the NumPy form runs the same blocks)."""
    return ckernels_conv.product(a, b) if xp is np else xp.matmul(a, b)


def _as_matrix(xp, g):
    """A gradient (N, O, oh, ow) as the (O, N*oh*ow) matrix of the GEMMs."""
    n, o, oh, ow = g.shape
    if xp is np:
        g = np.ascontiguousarray(g)
        m = np.empty((o, n * oh * ow), dtype=g.dtype)
        fn = ckernels.kernel("nol_to_onl", g, m)
        if fn is not None:
            fn(address(g), address(m), o, n, oh * ow)
            return m
    return xp.ascontiguousarray(g.reshape(n, o, oh * ow).transpose(1, 0, 2)).reshape(
        o, n * oh * ow)


def _exact(a):
    return int(a.dtype == np.float64)


def _image_columns(xp, x, kernel, stride, padding, dilation, oh, ow):
    """(N, C*kh*kw, L): each image's columns (the per-image form's NumPy path)."""
    n, c = x.shape[:2]
    return _windows(xp, x, kernel, stride, padding, dilation, oh, ow, "nckjyx").reshape(
        n, c * kernel[0] * kernel[1], oh * ow)


def _conv2d_fwd(xp, x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1),
                relu=False):
    """conv2d's forward; with ``relu`` relu(conv2d) (Conv2dRelu): the per-image C kernel applies
    the ReLU in each image's output pass, the other forms run relu's own forward after."""
    n, _, h, wd = x.shape
    o, _, kh, kw = w.shape
    oh, ow = out_size(h, kh, dilation[0], padding[0], stride[0]), \
        out_size(wd, kw, dilation[1], padding[1], stride[1])
    crop = _cropped((h, wd), (kh, kw), stride, padding, dilation, oh, ow)
    if crop is not None:
        return _conv2d_fwd(xp, x, _crop_weight(w, crop), b, stride, crop[2], dilation, relu)
    if xp is np and ckernels_conv.direct(x.shape[1], (kh, kw), stride, dilation, ow):
        out = np.empty((n, o, oh, ow), dtype=np.promote_types(x.dtype, w.dtype))
        x, w = np.ascontiguousarray(x), np.ascontiguousarray(w)
        bias = None if b is None else np.ascontiguousarray(b, dtype=out.dtype)
        fn = ckernels_conv.kernel("direct1_fwd", x, w, bias, out)
        if fn is not None:
            geo = _geometry(x.shape, o, (kh, kw), stride, padding, dilation, oh, ow)
            fn(address(x), address(w), ckernels.ptr(bias), address(out), geo.ctypes.data,
               int(relu))
            return out
    if _per_image(n, oh, ow):
        out = xp.empty((n, o, oh, ow), dtype=np.promote_types(x.dtype, w.dtype))
        if xp is np:
            x, w = np.ascontiguousarray(x), np.ascontiguousarray(w)
            bias = None if b is None else np.ascontiguousarray(b, dtype=out.dtype)
            fn = ckernels_conv.kernel("conv_fwd", x, w, bias, out)
            if fn is not None:
                geo = _geometry(x.shape, o, (kh, kw), stride, padding, dilation, oh, ow)
                fn(address(x), address(w), ckernels.ptr(bias), address(out),
                   geo.ctypes.data, _exact(out), int(relu))
                return out
        prod = xp.matmul(w.reshape(o, -1),
                         _image_columns(xp, x, (kh, kw), stride, padding, dilation, oh, ow))
        if b is not None:
            prod += b.reshape(o, 1)
        out = prod.reshape(n, o, oh, ow)
        return _relu(xp, out) if relu else out
    cols = _im2col(xp, x, (kh, kw), stride, padding, dilation, oh, ow)
    prod = _product(xp, w.reshape(o, -1), cols)                     # (O, N*L)
    out = xp.empty((n, o, oh, ow), dtype=prod.dtype)
    if xp is np:
        bias = None if b is None else np.ascontiguousarray(b, dtype=prod.dtype)
        fn = ckernels.kernel("onl_to_nol", prod, out, *(() if bias is None else (bias,)))
        if fn is not None:
            fn(address(prod), ckernels.ptr(bias), address(out), o, n, oh * ow)
            return _relu(xp, out) if relu else out
    prod = prod.reshape(o, n, oh, ow).transpose(1, 0, 2, 3)
    if b is None:
        out[...] = prod
    else:
        xp.add(prod, b.reshape(1, o, 1, 1), out=out)
    return _relu(xp, out) if relu else out


def _conv2d_input_grad(xp, g, w, input_size=(1, 1), stride=(1, 1), padding=(0, 0),
                       dilation=(1, 1)):
    n, o, oh, ow = g.shape
    c, kernel = w.shape[1], tuple(w.shape[2:])
    crop = _cropped(input_size, kernel, stride, padding, dilation, oh, ow)
    if crop is not None:
        return _conv2d_input_grad(xp, g, _crop_weight(w, crop), input_size, stride, crop[2],
                                  dilation)
    if _per_image(n, oh, ow):
        if xp is np:
            g, w = np.ascontiguousarray(g), np.ascontiguousarray(w)
            gx = np.empty((n, c, *input_size), dtype=np.promote_types(g.dtype, w.dtype))
            fn = ckernels_conv.kernel("conv_igrad", g, w, gx)
            if fn is not None:
                geo = _geometry(gx.shape, o, kernel, stride, padding, dilation, oh, ow)
                fn(address(g), address(w), address(gx),
                   geo.ctypes.data, _exact(gx))
                return gx
        cols = xp.matmul(w.reshape(o, -1).T, g.reshape(n, o, oh * ow))   # (N, C*kh*kw, L)
        return _fold_fwd(xp, cols, output_size=input_size, kernel=kernel, dilation=dilation,
                         padding=padding, stride=stride)
    cols = _product(xp, w.reshape(o, -1).T, _as_matrix(xp, g))     # (C*kh*kw, N*L)
    return _col2im(xp, cols, n, input_size, kernel, stride, padding, dilation, oh, ow)


def _conv2d_weight_grad(xp, g, x, kernel=(1, 1), stride=(1, 1), padding=(0, 0),
                        dilation=(1, 1)):
    n, o, (oh, ow) = g.shape[0], g.shape[1], g.shape[2:]
    c = x.shape[1]
    crop = _cropped(x.shape[2:], kernel, stride, padding, dilation, oh, ow)
    if crop is not None:
        (i0, i1), (j0, j1), pad = crop
        part = _conv2d_weight_grad(xp, g, x, (i1 - i0 + 1, j1 - j0 + 1), stride, pad, dilation)
        gw = xp.zeros((o, c) + tuple(kernel), dtype=part.dtype)
        gw[:, :, i0:i1 + 1, j0:j1 + 1] = part
        return gw
    if xp is np and ckernels_conv.direct(c, kernel, stride, dilation, ow):
        gw = np.empty((o, c) + tuple(kernel), dtype=np.promote_types(g.dtype, x.dtype))
        g, x = np.ascontiguousarray(g), np.ascontiguousarray(x)
        fn = ckernels_conv.kernel("direct1_wgrad", g, x, gw)
        if fn is not None:
            geo = _geometry(x.shape, o, kernel, stride, padding, dilation, oh, ow)
            fn(address(g), address(x), address(gw), geo.ctypes.data, None, None)
            return gw
    if _per_image(n, oh, ow):
        kc = min(n, _WGRAD_CHUNKS)
        gw = xp.empty((o, c * kernel[0] * kernel[1]), dtype=np.promote_types(g.dtype, x.dtype))
        part = xp.empty((kc,) + gw.shape, dtype=gw.dtype) if kc > 1 else None
        if xp is np:
            g, x = np.ascontiguousarray(g), np.ascontiguousarray(x)
            fn = ckernels_conv.kernel("conv_wgrad", g, x, gw, part)
            if fn is not None:
                geo = _geometry(x.shape, o, kernel, stride, padding, dilation, oh, ow)
                fn(address(g), address(x), address(gw), ckernels.ptr(part),
                   geo.ctypes.data, kc, _exact(gw))
                return gw.reshape(o, c, *kernel)
        cols = _image_columns(xp, x, kernel, stride, padding, dilation, oh, ow)
        gm = g.reshape(n, o, oh * ow)
        dst = gw if part is None else part
        for ch in range(kc):
            d = dst if part is None else dst[ch]
            n0, n1 = n * ch // kc, n * (ch + 1) // kc
            xp.matmul(gm[n0], cols[n0].T, out=d)
            for i in range(n0 + 1, n1):
                d += gm[i] @ cols[i].T
        if part is not None:
            gw[...] = part[0]
            for ch in range(1, kc):
                gw += part[ch]
        return gw.reshape(o, c, *kernel)
    # (O, C*kh*kw) = g @ cols^T straight (the blocks of ckernels_conv.product split the
    # output, so the long N*L sum does not decide how threads share the work)
    cols = _im2col(xp, x, kernel, stride, padding, dilation, oh, ow)
    return _product(xp, _as_matrix(xp, g), cols.T).reshape(o, c, *kernel)


def _geom(attrs):
    return {k: attrs[k] for k in _GEOM}


@register
class Conv2d(Op):
    """out = conv(x, w) + b for x (N, C, H, W), w (O, C, kh, kw), b (O,) or None, groups=1:
    im2col, one GEMM, and the (O, N, L) -> (N, O, L) pass that adds the bias."""
    autocast = "lower"   # a GEMM, as the matmul it replaces
    name, kind = "conv2d", "library"
    forward = staticmethod(_conv2d_fwd)

    @staticmethod
    def onnx(ctx, node, out):
        a = node.attrs
        (dh, dw), (ph, pw), (sh, sw) = a["dilation"], a["padding"], a["stride"]
        ins = [ctx.name(v) for v in node.inputs if hasattr(v, "shape")]
        kh, kw = node.inputs[1].shape[2:]
        ctx.node("Conv", ins, out, kernel_shape=[kh, kw], dilations=[dh, dw],
                 pads=[ph, pw, ph, pw], strides=[sh, sw])

    @staticmethod
    def backward(c, g):
        x, w, b = c.saved
        a = _geom(c.attrs)
        gx = apply(Conv2dInputGrad, g, w, input_size=tuple(x.shape[2:]), **a) \
            if c.next[0] is not None else None
        gw = apply(Conv2dWeightGrad, g, x, kernel=tuple(w.shape[2:]), **a) \
            if c.next[1] is not None else None
        gb = apply(Conv2dBiasGrad, g) if b is not None and c.next[2] is not None else None
        return gx, gw, gb


@register
class Conv2dInputGrad(Op):
    """gx = col2im(W^T g): the adjoint of conv2d in x (linear in g and in w)."""
    autocast = "lower"   # a GEMM, as the matmul it replaces
    name, kind, onnx = "conv2d_input_grad", "library", None
    forward = staticmethod(_conv2d_input_grad)

    @staticmethod
    def backward(c, gg):   # <gg, gx(g, w)> = <conv2d(gg, w), g>
        g, w = c.saved
        a = _geom(c.attrs)
        dg = apply(Conv2d, gg, w, None, **a) if c.next[0] is not None else None
        dw = apply(Conv2dWeightGrad, g, gg, kernel=tuple(w.shape[2:]), **a) \
            if c.next[1] is not None else None
        return dg, dw


@register
class Conv2dWeightGrad(Op):
    """gw = g cols(x)^T: the adjoint of conv2d in w (linear in g and in x)."""
    autocast = "lower"   # a GEMM, as the matmul it replaces
    name, kind, onnx = "conv2d_weight_grad", "library", None
    forward = staticmethod(_conv2d_weight_grad)

    @staticmethod
    def backward(c, gg):   # <gg, gw(g, x)> = <conv2d(x, gg), g>
        g, x = c.saved
        a = _geom(c.attrs)
        dg = apply(Conv2d, x, gg, None, **a) if c.next[0] is not None else None
        dx = apply(Conv2dInputGrad, g, gg, input_size=tuple(x.shape[2:]), **a) \
            if c.next[1] is not None else None
        return dg, dx


@register
class Conv2dRelu(Op):
    """relu(conv2d(x, w) + b) as one node: made by graph/passes/fuse_conv_relu.py in compiled
    graphs for a conv2d read only by a relu (the CNN layer's activation applied while each
    image's output is in cache, no second pass over the whole output). Never traced from user
    code: the graph it lives in already holds the gradient's nodes, so it has no backward."""
    name, kind, onnx, differentiable = "conv2d_relu", "library", None, False

    @staticmethod
    def forward(xp, x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
        return _conv2d_fwd(xp, x, w, b, stride, padding, dilation, relu=True)


def _conv2d_bias_grad(xp, g):
    """gb (O,) = g (N, O, oh, ow) summed over n, oh, ow: per channel in double, in
    ckernels_conv.BIAS_LANES lanes (element l of each image's plane into lane l % lanes, images
    in order, then the lanes in order;
    backend/ckernels_conv.py's bias_grad on the pool, one channel per task); without the C
    kernel the NumPy form below adds in the same order (float64 cumulative sums: the same
    bits). Other dtypes: NumPy's sum."""
    if xp is not np or g.dtype not in (np.float32, np.float64):
        return g.sum((0, 2, 3))
    n, o = g.shape[:2]
    length = g.shape[2] * g.shape[3]
    g = np.ascontiguousarray(g)
    out = np.empty(o, dtype=g.dtype)
    fn = ckernels_conv.kernel("bias_grad", g, out)
    if fn is not None:
        fn(address(g), address(out), n, o, length)
        return out
    k = ckernels_conv.BIAS_LANES
    lp = -(-length // k) * k             # +0 pads each plane to whole lanes (adds nothing)
    planes = np.zeros((n, o, lp), dtype=np.float64)
    planes[:, :, :length] = g.reshape(n, o, length)
    lanes = planes.reshape(n, o, lp // k, k).transpose(1, 3, 0, 2).reshape(o, k, -1)
    acc = np.cumsum(lanes, axis=2)[:, :, -1] if lanes.shape[2] else np.zeros((o, k))
    s = acc[:, 0].copy()
    for lane in range(1, k):
        s += acc[:, lane]
    return s.astype(g.dtype)


@register
class Conv2dBiasGrad(Op):
    """gb = g summed over (N, H, W): conv2d's bias gradient (one C pass on the pool)."""
    name, kind, onnx, saves = "conv2d_bias_grad", "library", None, "none"
    forward = staticmethod(_conv2d_bias_grad)

    @staticmethod
    def backward(c, gg):
        return (gg.reshape(1, -1, 1, 1).expand(*c.shape(0)),)


def conv2d(x, w, b, stride, padding, dilation):
    """The primitive on a 4-d input with validated pairs (see functional.conv2d)."""
    return apply(Conv2d, x, w, b, stride=stride, padding=padding, dilation=dilation)

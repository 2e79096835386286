"""Convolutions: 2-d with groups=1 (and 1-d, on a height-1 image) is the conv2d primitive
(ops/conv.py: im2col in C + one GEMM, gradients as primitives of their own); grouped and 3-d
ones are composites: unfold (im2col) followed by one (batched) matmul, so their gradients of
every order come from unfold/fold and matmul. 1-d forms run the 2-d code on a
height-1 image. Transposed convolutions are the adjoint: a matmul followed by fold (col2im)."""
from __future__ import annotations

from .. import ops
from .._dispatch import state as _state
from .._creation import zeros as _zeros
from .._tensor_base import TensorBase as Tensor
from ..ops.conv import unfold, fold, out_size, conv2d as conv2d_prim
from ..ops.views import owned
from ..errors import ShapeError, DTypeError, fmt_shape
from ._util import ntuple, keeps_channels_last, conv_node
from ..autograd.node import relabel

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "conv_tbc", "unfold", "fold",
           "pad", "linear", "bilinear", "pixel_shuffle", "pixel_unshuffle", "channel_shuffle",
           "native_channel_shuffle"]

pad = ops.pad


def _check_conv(input, weight, bias, groups, nd, op, transposed=False):
    if not isinstance(input, Tensor) or input.ndim not in (nd + 1, nd + 2):
        shp = fmt_shape(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise ShapeError(f"{op}: expected a {nd + 1}-d (C, ...) or {nd + 2}-d (N, C, ...) input, "
                         f"got {shp}")
    if weight.ndim != nd + 2:
        raise ShapeError(f"{op}: expected a {nd + 2}-d weight, got {fmt_shape(weight.shape)}")
    if input.dtype is not weight.dtype and _state.autocast is None:   # (autocast casts both)
        raise DTypeError(f"{op}: expected input and weight of one dtype, got "
                         f"{input.dtype.name} and {weight.dtype.name}")
    if groups <= 0:
        raise ValueError(f"{op}: expected groups > 0, got {groups}")
    c_in = input.shape[-nd - 1]
    if transposed:
        if weight.shape[0] != c_in or c_in % groups:
            raise ShapeError(f"{op}: expected weight.shape[0] == input channels ({c_in}) and "
                             f"divisible by groups={groups}, got weight {fmt_shape(weight.shape)}")
        c_out = weight.shape[1] * groups
    else:
        if weight.shape[1] * groups != c_in:
            raise ShapeError(f"{op}: expected input.shape[1] == weight.shape[1] * groups = "
                             f"{weight.shape[1] * groups}, got input {fmt_shape(input.shape)} "
                             f"and weight {fmt_shape(weight.shape)}")
        c_out = weight.shape[0]
        if c_out % groups:
            raise ShapeError(f"{op}: expected out_channels ({c_out}) divisible by groups "
                             f"({groups}), got weight {fmt_shape(weight.shape)}")
    if bias is not None and tuple(bias.shape) != (c_out,):
        raise ShapeError(f"{op}: expected bias.shape == ({c_out},), got {fmt_shape(bias.shape)}")


def _autocast_bias(bias):
    """The bias a composite convolution adds after its lowered GEMMs, in the autocast region's
    dtype (torch's convolution is one lowered op: a float32 bias would promote the output)."""
    low = _state.autocast
    if low is None or bias is None or bias.dtype is low or bias.dtype.itemsize > 4:
        return bias
    return bias.to(low)


def _conv2d(x, weight, bias, stride, padding, dilation, groups, op):
    """x (N, C, H, W), weight (O, C/g, kh, kw); padding a pair or 'same' / 'valid'."""
    kh, kw = weight.shape[2], weight.shape[3]
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{op}: padding='same' is not supported for strided "
                                 f"convolutions, got stride={stride}")
            # total padding d (k - 1) per dim, the odd one extra on the right (as torch)
            tot = (dilation[0] * (kh - 1), dilation[1] * (kw - 1))
            lo = (tot[0] // 2, tot[1] // 2)
            hi = (tot[0] - lo[0], tot[1] - lo[1])
            if lo != hi:
                x = ops.pad(x, (lo[1], hi[1], lo[0], hi[0]))
                padding = (0, 0)
            else:
                padding = lo
        else:
            raise ValueError(f"{op}: expected padding 'same', 'valid' or ints, got {padding!r}")
    N, C, H, W = x.shape
    for n, k, d, p, s in zip((H, W), (kh, kw), dilation, padding, stride):
        if s <= 0 or d <= 0 or p < 0:
            raise ValueError(f"{op}: expected positive stride and dilation and non-negative "
                             f"padding, got stride={stride}, dilation={dilation}, "
                             f"padding={padding}")
        if out_size(n, k, d, p, s) <= 0:
            raise ShapeError(f"{op}: expected input spatial size >= the dilated kernel "
                             f"({k} dilated by {d}) after padding {p}, got "
                             f"{fmt_shape(x.shape)}")
    oh = out_size(H, kh, dilation[0], padding[0], stride[0])
    ow = out_size(W, kw, dilation[1], padding[1], stride[1])
    O = weight.shape[0]
    if groups == 1 and (bias is None or bias.dtype is x.dtype or _state.autocast is not None):
        return conv2d_prim(x, weight, bias, tuple(stride), tuple(padding), tuple(dilation))
    bias = _autocast_bias(bias)
    cols = unfold(x, (kh, kw), dilation, padding, stride)  # (N, C*kh*kw, L)
    L = oh * ow
    if groups == 1:
        out = ops.matmul(weight.reshape(O, -1), cols)  # (O, C*kk) @ (N, C*kk, L) -> (N, O, L)
    else:
        g = groups
        w = weight.reshape(g, O // g, -1)                 # (g, O/g, C/g*kk)
        out = ops.matmul(w, cols.reshape(N, g, -1, L))    # (N, g, O/g, L)
        out = out.reshape(N, O, L)
    out = owned(out.reshape(N, O, oh, ow))
    # not a view (of the matmul output): programs follow convolutions with in-place
    # activations (nn.ReLU(inplace=True)), which Cadenza refuses on views
    return out + bias.reshape(1, O, 1, 1) if bias is not None else out


@keeps_channels_last(2)
def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-d cross-correlation: out[n, o] = sum_c,i,j w[o, c, i, j] x[n, c, s h + d i, s w + d j]
    (+ bias[o]); input (N, C, H, W) or (C, H, W), weight (O, C / groups, kh, kw).

    >>> conv2d(cadenza.ones(1, 1, 3, 3), cadenza.ones(1, 1, 2, 2))
    tensor([[[[4., 4.],
              [4., 4.]]]])
    """
    _check_conv(input, weight, bias, groups, 2, "conv2d")
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    pad2 = padding if isinstance(padding, str) else ntuple(padding, 2, "padding", "conv2d")
    out = _conv2d(x, weight, bias, ntuple(stride, 2, "stride", "conv2d"), pad2,
                  ntuple(dilation, 2, "dilation", "conv2d"), groups, "conv2d")
    return out.squeeze(0) if unbatched else out


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """1-d cross-correlation over (N, C, L) or (C, L); weight (O, C / groups, k).

    >>> conv1d(cadenza.ones(1, 1, 4), cadenza.ones(1, 1, 2))
    tensor([[[2., 2., 2.]]])
    """
    _check_conv(input, weight, bias, groups, 1, "conv1d")
    unbatched = input.ndim == 2
    x = input.unsqueeze(0) if unbatched else input
    s = ntuple(stride, 1, "stride", "conv1d")[0]
    d = ntuple(dilation, 1, "dilation", "conv1d")[0]
    p = padding if isinstance(padding, str) else (0, ntuple(padding, 1, "padding", "conv1d")[0])
    out = owned(_conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, s), p, (1, d), groups,
                        "conv1d").squeeze(2))
    relabel(out, "ConvolutionBackward0", (x, weight, bias))   # (torch's one node)
    return out.squeeze(0) if unbatched else out


def _check_output_padding(op, value, stride, dilation, all_padding, all_stride, all_dilation):
    """torch's rule: each output padding is smaller than its stride or its dilation."""
    if value < 0 or value >= max(stride, dilation):
        raise RuntimeError(f"{op}: output padding must be smaller than either stride or "
                           f"dilation, got output_padding={tuple(all_padding)}, "
                           f"stride={tuple(all_stride)}, dilation={tuple(all_dilation)}")


def _conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups, dilation, op):
    bias = _autocast_bias(bias)
    N, Cin, H, W = x.shape
    kh, kw = weight.shape[2], weight.shape[3]
    for op_, s, d in zip(output_padding, stride, dilation):
        _check_output_padding(op, op_, s, d, output_padding, stride, dilation)
    # out = (in - 1) s - 2 p + d (k - 1) + output_padding + 1
    oh = (H - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kh - 1) + output_padding[0] + 1
    ow = (W - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kw - 1) + output_padding[1] + 1
    if oh <= 0 or ow <= 0:
        raise ShapeError(f"{op}: expected a positive output size, got ({oh}, {ow}) for input "
                         f"{fmt_shape(x.shape)}")
    Cout = weight.shape[1] * groups
    L = H * W
    xs = x.reshape(N, Cin, L)
    if groups == 1:
        # each input pixel scatters w[c_in]^T x into its kh x kw window: cols = W^T x
        cols = ops.matmul(weight.reshape(Cin, -1).transpose(0, 1), xs)  # (N, Cout*kk, L)
    else:
        g = groups
        w = weight.reshape(g, Cin // g, -1).transpose(1, 2)        # (g, Cout/g*kk, Cin/g)
        cols = ops.matmul(w, xs.reshape(N, g, Cin // g, L))         # (N, g, Cout/g*kk, L)
        cols = cols.reshape(N, -1, L)
    if all(o < s for o, s in zip(output_padding, stride)):
        out = fold(cols, (oh, ow), (kh, kw), dilation, padding, stride)  # (N, Cout, oh, ow)
    else:
        # output padding >= stride (allowed when below the dilation): fold the uncropped
        # output, extend it with zeros, then crop the padding
        full = [(n - 1) * st + d * (k - 1) + 1
                for n, st, d, k in zip((H, W), stride, dilation, (kh, kw))]
        out = fold(cols, tuple(full), (kh, kw), dilation, 0, stride)
        extra = [max(0, p + o - f) for p, o, f in zip(padding, (oh, ow), full)]
        if any(extra):
            out = pad(out, (0, extra[1], 0, extra[0]))
        out = out[:, :, padding[0]:padding[0] + oh, padding[1]:padding[1] + ow]
    if bias is not None:
        out = out + bias.reshape(1, Cout, 1, 1)
    return out


@keeps_channels_last(2)
def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """The adjoint of conv2d (a "deconvolution"); weight (C_in, C_out / groups, kh, kw).

    >>> conv_transpose2d(cadenza.ones(1, 1, 2, 2), cadenza.ones(1, 1, 2, 2)).shape
    cadenza.Size([1, 1, 3, 3])
    """
    _check_conv(input, weight, bias, groups, 2, "conv_transpose2d", transposed=True)
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    nt = ntuple
    out = _conv_transpose2d(x, weight, bias, nt(stride, 2, "stride", "conv_transpose2d"),
                            nt(padding, 2, "padding", "conv_transpose2d"),
                            nt(output_padding, 2, "output_padding", "conv_transpose2d"), groups,
                            nt(dilation, 2, "dilation", "conv_transpose2d"), "conv_transpose2d")
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """The adjoint of conv1d; weight (C_in, C_out / groups, k).

    >>> conv_transpose1d(cadenza.ones(1, 1, 3), cadenza.ones(1, 1, 2))
    tensor([[[1., 2., 2., 1.]]])
    """
    _check_conv(input, weight, bias, groups, 1, "conv_transpose1d", transposed=True)
    unbatched = input.ndim == 2
    x = input.unsqueeze(0) if unbatched else input
    one = lambda v, n: (0 if n in ("padding", "output_padding") else 1,  # noqa: E731
                        ntuple(v, 1, n, "conv_transpose1d")[0])
    out = _conv_transpose2d(x.unsqueeze(2), weight.unsqueeze(2), bias, one(stride, "stride"),
                            one(padding, "padding"), one(output_padding, "output_padding"),
                            groups, one(dilation, "dilation"), "conv_transpose1d").squeeze(2)
    relabel(out, "ConvolutionBackward0", (x, weight, bias))   # (torch's one node)
    return out.squeeze(0) if unbatched else out


def _same_pads(k, d):
    """'same' padding of one dim: total d (k - 1), the odd one extra on the right (torch)."""
    tot = d * (k - 1)
    return tot // 2, tot - tot // 2


@keeps_channels_last(2, conv_node)
def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """3-d cross-correlation over (N, C, D, H, W) or (C, D, H, W); weight
    (O, C / groups, kd, kh, kw): the sum over depth offsets i of conv2d of the depth slices
    d_out * s + i * dil with weight[:, :, i] (depth folded into the batch).

    >>> conv3d(cadenza.ones(1, 1, 3, 3, 3), cadenza.ones(1, 1, 2, 2, 2)).shape
    cadenza.Size([1, 1, 2, 2, 2])
    """
    op = "conv3d"
    _check_conv(input, weight, bias, groups, 3, op)
    unbatched = input.ndim == 4
    x = input.unsqueeze(0) if unbatched else input
    s = ntuple(stride, 3, "stride", op)
    d = ntuple(dilation, 3, "dilation", op)
    k = tuple(weight.shape[2:])
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"{op}: expected padding 'same', 'valid' or ints, got {padding!r}")
        if padding == "same" and s != (1, 1, 1):
            raise ValueError(f"{op}: padding='same' is not supported for strided "
                             f"convolutions, got stride={s}")
        pairs = [_same_pads(kk, dd) if padding == "same" else (0, 0) for kk, dd in zip(k, d)]
    else:
        pairs = [(pp, pp) for pp in ntuple(padding, 3, "padding", op)]
    if any(a or b for a, b in pairs):
        x = ops.pad(x, tuple(v for pr in reversed(pairs) for v in pr))
    N, C, D, H, W = x.shape
    od = out_size(D, k[0], d[0], 0, s[0])
    if od <= 0 or any(s_ <= 0 or d_ <= 0 for s_, d_ in zip(s, d)):
        raise ShapeError(f"{op}: expected positive stride and dilation and a padded input at "
                         f"least the dilated kernel, got input {fmt_shape(input.shape)}, "
                         f"weight {fmt_shape(weight.shape)}, stride={s}, dilation={d}")
    out = None
    for i in range(k[0]):
        sl = x[:, :, i * d[0]: i * d[0] + s[0] * (od - 1) + 1: s[0]]      # (N, C, od, H, W)
        sl = sl.transpose(1, 2).reshape(N * od, C, H, W)
        y = _conv2d(sl, weight[:, :, i], None, s[1:], (0, 0), d[1:], groups, op)
        out = y if out is None else out + y
    O = weight.shape[0]
    out = out.reshape(N, od, O, *out.shape[2:]).transpose(1, 2)
    if bias is not None:
        out = out + bias.reshape(1, O, 1, 1, 1)
    return out.squeeze(0) if unbatched else out


@keeps_channels_last(2)
def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """The adjoint of conv3d; weight (C_in, C_out / groups, kd, kh, kw): conv_transpose2d of
    every depth slice with weight[:, :, i], scattered to depth d_in * s + i * dil.

    >>> conv_transpose3d(cadenza.ones(1, 1, 2, 2, 2), cadenza.ones(1, 1, 2, 2, 2)).shape
    cadenza.Size([1, 1, 3, 3, 3])
    """
    op = "conv_transpose3d"
    _check_conv(input, weight, bias, groups, 3, op, transposed=True)
    unbatched = input.ndim == 4
    x = input.unsqueeze(0) if unbatched else input
    s = ntuple(stride, 3, "stride", op)
    p = ntuple(padding, 3, "padding", op)
    op_ = ntuple(output_padding, 3, "output_padding", op)
    d = ntuple(dilation, 3, "dilation", op)
    _check_output_padding(op, op_[0], s[0], d[0], op_, s, d)
    N, Cin, D, H, W = x.shape
    kd = weight.shape[2]
    full = (D - 1) * s[0] + d[0] * (kd - 1) + 1 + op_[0]          # before cropping padding
    od = full - 2 * p[0]
    if od <= 0:
        raise ShapeError(f"{op}: expected a positive output size, got depth {od} for input "
                         f"{fmt_shape(input.shape)}")
    xs = x.transpose(1, 2).reshape(N * D, Cin, H, W)
    out = None
    for i in range(kd):
        y = _conv_transpose2d(xs, weight[:, :, i], None, s[1:], p[1:], op_[1:], groups, d[1:],
                              op)                                    # (N*D, Cout, OH, OW)
        y = y.reshape(N, D, *y.shape[1:])
        if s[0] > 1:      # interleave s - 1 zero slices between the input depths
            z = _zeros((N, D, s[0] - 1, *y.shape[2:]), dtype=y.dtype, device=y.device)
            y = ops.cat([y.unsqueeze(2), z], 2).reshape(N, D * s[0], *y.shape[2:])
            y = y[:, :(D - 1) * s[0] + 1]
        lo = i * d[0]
        y = ops.pad(y.movedim(1, -1), (lo, full - lo - y.shape[1])).movedim(-1, 1)
        out = y if out is None else out + y
    out = out[:, p[0]: p[0] + od].transpose(1, 2)                   # (N, Cout, od, OH, OW)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1, 1)
    return out.squeeze(0) if unbatched else out


def conv_tbc(input: Tensor, weight: Tensor, bias: Tensor, pad: int = 0) -> Tensor:
    """1-d convolution over time-batch-channel input (T, N, C_in) with weight (k, C_in, C_out)
    and bias (C_out,), ``pad`` zeros at both ends of time: out (T + 2 pad - k + 1, N, C_out).

    >>> conv_tbc(cadenza.ones(4, 2, 3), cadenza.ones(2, 3, 5), cadenza.zeros(5)).shape
    cadenza.Size([3, 2, 5])
    """
    if input.ndim != 3 or weight.ndim != 3 or input.shape[2] != weight.shape[1]:
        raise ShapeError(f"conv_tbc: expected input (T, N, C_in) and weight (k, C_in, C_out), "
                         f"got {fmt_shape(input.shape)} and {fmt_shape(weight.shape)}")
    out = conv1d(input.permute(1, 2, 0), weight.permute(2, 1, 0), bias, padding=pad)
    return out.permute(2, 0, 1)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias; weight (out_features, in_features).

    >>> linear(cadenza.ones(2, 3), cadenza.ones(4, 3)).shape
    cadenza.Size([2, 4])
    """
    if weight.ndim not in (1, 2):
        raise ShapeError(f"linear: expected a 1-d or 2-d weight, got {fmt_shape(weight.shape)}")
    if input.ndim == 0 or input.shape[-1] != weight.shape[-1]:
        raise ShapeError(f"linear: expected input.shape[-1] == weight.shape[-1] "
                         f"(in_features={weight.shape[-1]}), got input {fmt_shape(input.shape)}"
                         f" and weight {fmt_shape(weight.shape)}")
    if input.dtype is not weight.dtype and _state.autocast is None:  # (autocast casts both)
        raise DTypeError(f"linear: expected input and weight of one dtype, got "
                         f"{input.dtype.name} and {weight.dtype.name}")
    return ops.linear(input, weight, bias)  # one primitive: GEMM + in-place bias


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor,
             bias: Tensor | None = None) -> Tensor:
    """out[..., o] = x1[..., i] W[o, i, j] x2[..., j] + b[o].

    >>> bilinear(cadenza.ones(2, 3), cadenza.ones(2, 4), cadenza.ones(5, 3, 4)).shape
    cadenza.Size([2, 5])
    """
    if weight.ndim != 3 or input1.shape[-1] != weight.shape[1] or \
            input2.shape[-1] != weight.shape[2] or tuple(input1.shape[:-1]) != \
            tuple(input2.shape[:-1]):
        raise ShapeError(f"bilinear: expected input1 (..., in1), input2 (..., in2) with equal "
                         f"leading dims and weight (out, in1, in2), "
                         f"got {fmt_shape(input1.shape)}, {fmt_shape(input2.shape)} and "
                         f"{fmt_shape(weight.shape)}")
    # (..., in1) @ W viewed as (in1, out*in2) -> (..., out, in2), then contract with x2
    O, I, J = weight.shape
    t = ops.matmul(input1, weight.permute(1, 0, 2).reshape(I, O * J))
    t = t.reshape(tuple(input1.shape[:-1]) + (O, J))
    out = ops.matmul(t, input2.unsqueeze(-1)).squeeze(-1)
    if bias is not None:
        out = out + bias
    return out


@keeps_channels_last()
def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C r^2, H, W) -> (*, C, H r, W r) (Shi et al., 2016).

    >>> pixel_shuffle(cadenza.ones(1, 4, 2, 2), 2).shape
    cadenza.Size([1, 1, 4, 4])
    """
    r = upscale_factor
    if input.ndim < 3 or input.shape[-3] % (r * r):
        raise ShapeError(f"pixel_shuffle: expected input (*, C*{r}^2, H, W), got "
                         f"{fmt_shape(input.shape)}")
    *lead, C, H, W = input.shape
    c = C // (r * r)
    x = input.reshape(*lead, c, r, r, H, W)
    n = len(lead)
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)  # (*, c, H, r, W, r)
    return x.reshape(*lead, c, H * r, W * r)


@keeps_channels_last()
def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H r, W r) -> (*, C r^2, H, W), the inverse of pixel_shuffle.

    >>> pixel_unshuffle(cadenza.ones(1, 1, 4, 4), 2).shape
    cadenza.Size([1, 4, 2, 2])
    """
    r = downscale_factor
    if input.ndim < 3 or input.shape[-1] % r or input.shape[-2] % r:
        raise ShapeError(f"pixel_unshuffle: expected input (*, C, H*{r}, W*{r}), got "
                         f"{fmt_shape(input.shape)}")
    *lead, C, H, W = input.shape
    n = len(lead)
    x = input.reshape(*lead, C, H // r, r, W // r, r)
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)  # (*, C, r, r, H/r, W/r)
    return x.reshape(*lead, C * r * r, H // r, W // r)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """(N, C, *) with C = g k: view the channels as (g, k), transpose to (k, g) (ShuffleNet).

    >>> channel_shuffle(cadenza.arange(4.0).reshape(1, 4, 1), 2).flatten()
    tensor([0., 2., 1., 3.])
    """
    if input.ndim < 3:
        raise ShapeError(f"channel_shuffle: expected an input with more than 2 dims "
                         f"(N, C, *), got {fmt_shape(input.shape)}")
    if groups <= 0:
        raise ValueError(f"channel_shuffle: expected groups > 0, got {groups}")
    N, C, *rest = input.shape
    if C % groups:
        raise ShapeError(f"channel_shuffle: expected the number of channels ({C}) divisible "
                         f"by groups ({groups}), got input {fmt_shape(input.shape)}")
    x = input.reshape(N, groups, C // groups, *rest).transpose(1, 2)
    return x.reshape(N, C, *rest)


native_channel_shuffle = channel_shuffle

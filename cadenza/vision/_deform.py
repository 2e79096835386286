"""torchvision.ops.deform_conv2d and DeformConv2d: deformable convolution (Dai et al. 2017) with
the optional modulation mask of DCNv2 (Zhu et al. 2019), written in NumPy as a custom autograd
Function with gradients for the input, offset, mask, weight and bias.

Every kernel tap k = (i, j) of output position (oh, ow) samples its input at
``(oh*stride - pad + i*dilation + dy, ow*stride - pad + j*dilation + dx)`` by bilinear
interpolation (each of the four corners outside the image counting as zero, so a point at
y = -1 still has a gradient by y, as in torchvision), with (dy, dx) read from
``offset[:, g*2K + 2k : g*2K + 2k + 2]`` for the offset group g of the channel; the sample is
scaled by ``mask[:, g*K + k]``; the samples form the im2col matrix that the (grouped) weight
multiplies."""
from __future__ import annotations

import math

import numpy as np

import cadenza as torch
from cadenza import nn

__all__ = ["deform_conv2d", "DeformConv2d"]


def _pair(v, name):
    if isinstance(v, int):
        return (v, v)
    t = tuple(int(a) for a in v)
    if len(t) != 2:
        raise ValueError(f"deform_conv2d: {name} should be an int or a pair, got {v}")
    return t


def _sample_plan(off, H, W, kh, kw, stride, pad, dil, oh, ow):
    """Bilinear corners of every sample: flat indices (4, B, G, K, P) into an H*W plane, their
    weights (4, B, G, K, P) (zero for corners outside the image), and the derivatives of the
    weights by y and by x (the floor held fixed)."""
    B = off.shape[0]
    K, P = kh * kw, oh * ow
    dt = off.dtype.type
    o = off.reshape(B, -1, K, 2, P)
    ki, kj = np.divmod(np.arange(K), kw)
    gy, gx = np.divmod(np.arange(P), ow)
    base_y = (gy[None, :] * stride[0] - pad[0] + ki[:, None] * dil[0]).astype(off.dtype)
    base_x = (gx[None, :] * stride[1] - pad[1] + kj[:, None] * dil[1]).astype(off.dtype)
    y = base_y + o[:, :, :, 0]
    x = base_x + o[:, :, :, 1]
    y0, x0 = np.floor(y), np.floor(x)
    ly, lx = y - y0, x - x0
    hy, hx = dt(1) - ly, dt(1) - lx
    y0, x0 = y0.astype(np.int64), x0.astype(np.int64)
    idx, wts, dwy, dwx = [], [], [], []
    for cy, cx, wy, wx, sy, sx in ((y0, x0, hy, hx, -1, -1), (y0, x0 + 1, hy, lx, -1, 1),
                                   (y0 + 1, x0, ly, hx, 1, -1), (y0 + 1, x0 + 1, ly, lx, 1, 1)):
        ok = (cy >= 0) & (cy < H) & (cx >= 0) & (cx < W)
        idx.append(np.where(ok, np.clip(cy, 0, H - 1) * W + np.clip(cx, 0, W - 1), 0))
        wts.append(np.where(ok, wy * wx, dt(0)))
        dwy.append(np.where(ok, sy * wx, dt(0)))
        dwx.append(np.where(ok, sx * wy, dt(0)))
    return np.stack(idx), np.stack(wts), np.stack(dwy), np.stack(dwx)


def _corner(xb, idx, G):
    """One bilinear corner's values for one image: xb (C, H*W), idx (G, K, P) -> (C, K, P)."""
    C = xb.shape[0]
    _, K, P = idx.shape
    vals = np.take_along_axis(xb.reshape(G, C // G, -1), idx.reshape(G, 1, K * P), axis=2)
    return vals.reshape(C, K, P)


def _per_channel(a, C):
    """(G, K, P) per offset group -> (C, K, P) per channel (channels split evenly)."""
    return np.repeat(a, C // a.shape[0], axis=0)


def _samples(xb, idx, wts, C, G):
    """The bilinear samples of one image: (C, K, P)."""
    out = None
    for c in range(4):
        term = _corner(xb, idx[c], G) * _per_channel(wts[c], C)
        out = term if out is None else out + term
    return out


class _DeformConv2dFunction(torch.autograd.Function):
    """Image by image (the sampled im2col matrix of one image at a time, as torchvision's CPU
    kernel); the backward recomputes the samples rather than keeping them."""

    @staticmethod
    def forward(ctx, input, offset, weight, bias, mask, conf):
        stride, pad, dil, groups = conf
        x = input.detach().numpy()
        off = offset.detach().numpy()
        w = weight.detach().numpy()
        B, C, H, W = x.shape
        O, _, kh, kw = w.shape
        oh, ow = off.shape[2], off.shape[3]
        K, P = kh * kw, oh * ow
        G = off.shape[1] // (2 * K)
        plan = _sample_plan(off, H, W, kh, kw, stride, pad, dil, oh, ow)
        idx, wts = plan[0], plan[1]
        m = None if mask is None else mask.detach().numpy().reshape(B, G, K, P)
        wg = w.reshape(groups, O // groups, (C // groups) * K)
        out = np.empty((B, O, P), x.dtype)
        xf = x.reshape(B, C, H * W)
        for b in range(B):
            cols = _samples(xf[b], idx[:, b], wts[:, b], C, G)
            if m is not None:
                cols = cols * _per_channel(m[b], C)
            out[b] = np.matmul(wg, cols.reshape(groups, -1, P)).reshape(O, P)
        if bias is not None:
            out += bias.detach().numpy()[None, :, None]
        ctx.saved = (x, w, plan, m, G, groups, bias is not None)
        return torch.from_numpy(out.reshape(B, O, oh, ow))

    @staticmethod
    def backward(ctx, grad):
        x, w, (idx, wts, dwy, dwx), m, G, groups, has_bias = ctx.saved
        need_x, need_off, need_w, need_b, need_m = ctx.needs_input_grad[:5]
        B, C, H, W = x.shape
        O, _, kh, kw = w.shape
        K = kh * kw
        g = grad.detach().numpy().astype(x.dtype, copy=False)
        oh, ow = g.shape[2:]
        P = oh * ow
        gg = g.reshape(B, groups, O // groups, P)
        wg = w.reshape(groups, O // groups, (C // groups) * K)
        xf = x.reshape(B, C, H * W)
        dw = np.zeros(wg.shape, x.dtype) if need_w else None
        dx = np.zeros((B, C * H * W), np.float64) if need_x else None
        doff = np.zeros((B, G, K, 2, P), x.dtype) if need_off else None
        dm = np.zeros((B, G, K, P), x.dtype) if (m is not None and need_m) else None
        plane = (np.arange(C) * (H * W))[:, None, None]
        for b in range(B):
            sampled = _samples(xf[b], idx[:, b], wts[:, b], C, G)
            mb = None if m is None else _per_channel(m[b], C)
            if need_w:
                cols = sampled if mb is None else sampled * mb
                dw += np.matmul(gg[b], cols.reshape(groups, -1, P).transpose(0, 2, 1))
            if not (need_x or need_off or dm is not None):
                continue
            gcols = np.matmul(wg.transpose(0, 2, 1), gg[b]).reshape(C, K, P)
            if dm is not None:
                dm[b] = (gcols * sampled).reshape(G, C // G, K, P).sum(1)
            gs = gcols if mb is None else gcols * mb  # gradient of the bilinear samples
            for c in range(4):
                if need_off:
                    gsc = (gs * _corner(xf[b], idx[c, b], G)).reshape(G, C // G, K, P).sum(1)
                    doff[b, :, :, 0] += gsc * dwy[c, b]
                    doff[b, :, :, 1] += gsc * dwx[c, b]
                if need_x:
                    flat = plane + _per_channel(idx[c, b], C)
                    dx[b] += np.bincount(flat.ravel(), (gs * _per_channel(wts[c, b], C)).ravel(),
                                         minlength=C * H * W)
        return (None if dx is None else torch.from_numpy(dx.astype(x.dtype).reshape(x.shape)),
                None if doff is None else torch.from_numpy(doff.reshape(B, -1, oh, ow)),
                None if dw is None else torch.from_numpy(dw.reshape(w.shape)),
                torch.from_numpy(g.sum((0, 2, 3))) if has_bias and need_b else None,
                None if dm is None else torch.from_numpy(dm.reshape(B, G * K, oh, ow)),
                None)


def _shape_error(msg, **shapes):
    desc = ", ".join(f"{k} {list(v.shape)}" for k, v in shapes.items() if v is not None)
    return ValueError(f"deform_conv2d: {msg} (got {desc})")


def deform_conv2d(input, offset, weight, bias=None, stride=(1, 1), padding=(0, 0),
                  dilation=(1, 1), mask=None):
    """Deformable convolution (DCN; DCNv2 with ``mask``): input [B, C_in, H, W], offset
    [B, 2*offset_groups*kh*kw, out_h, out_w], weight [C_out, C_in/groups, kh, kw], bias
    [C_out], mask [B, offset_groups*kh*kw, out_h, out_w] -> [B, C_out, out_h, out_w]."""
    for name, t in (("input", input), ("offset", offset), ("weight", weight)):
        if not isinstance(t, torch.Tensor) or t.dim() != 4:
            raise ValueError(f"deform_conv2d: {name} should be a 4-d Tensor, got "
                             f"{list(t.shape) if isinstance(t, torch.Tensor) else type(t)}")
    stride, pad, dil = _pair(stride, "stride"), _pair(padding, "padding"), _pair(dilation,
                                                                                 "dilation")
    B, C, H, W = input.shape
    O, cin_g, kh, kw = weight.shape
    if cin_g == 0 or C % cin_g:
        raise _shape_error("the input's channels should be a multiple of weight.shape[1]",
                           input=input, weight=weight)
    groups = C // cin_g
    if O % groups:
        raise _shape_error(f"the output channels should be a multiple of groups={groups}",
                           weight=weight)
    K = kh * kw
    if offset.shape[1] % (2 * K) or offset.shape[1] == 0:
        raise _shape_error(f"offset.shape[1] should be 2 * offset_groups * {kh} * {kw}",
                           offset=offset, weight=weight)
    G = offset.shape[1] // (2 * K)
    if C % G:
        raise _shape_error(f"the input's channels should be a multiple of offset_groups={G}",
                           input=input, offset=offset)
    oh = (H + 2 * pad[0] - (dil[0] * (kh - 1) + 1)) // stride[0] + 1
    ow = (W + 2 * pad[1] - (dil[1] * (kw - 1) + 1)) // stride[1] + 1
    if oh <= 0 or ow <= 0:
        raise _shape_error("the output would be empty", input=input, weight=weight)
    if offset.shape[0] != B or tuple(offset.shape[2:]) != (oh, ow):
        raise _shape_error(f"offset should be [{B}, {2 * G * K}, {oh}, {ow}]",
                           offset=offset, input=input)
    if mask is not None and tuple(mask.shape) != (B, G * K, oh, ow):
        raise _shape_error(f"mask should be [{B}, {G * K}, {oh}, {ow}]", mask=mask)
    if bias is not None and tuple(bias.shape) != (O,):
        raise _shape_error(f"bias should be [{O}]", bias=bias)
    return _DeformConv2dFunction.apply(input, offset, weight, bias, mask,
                                       (stride, pad, dil, groups))


class DeformConv2d(nn.Module):
    """The module of deform_conv2d; ``forward(input, offset, mask=None)``."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True):
        super().__init__()
        if in_channels % groups:
            raise ValueError("DeformConv2d: in_channels must be divisible by groups")
        if out_channels % groups:
            raise ValueError("DeformConv2d: out_channels must be divisible by groups")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride, self.padding = _pair(stride, "stride"), _pair(padding, "padding")
        self.dilation, self.groups = _pair(dilation, "dilation"), groups
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups,
                                               *self.kernel_size))
        self.register_parameter("bias", nn.Parameter(torch.empty(out_channels)) if bias else None)
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * self.kernel_size[0] * self.kernel_size[1]
            bound = 1 / math.sqrt(fan_in)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, input, offset, mask=None):
        return deform_conv2d(input, offset, self.weight, self.bias, stride=self.stride,
                             padding=self.padding, dilation=self.dilation, mask=mask)

    def __repr__(self):
        s = (f"{type(self).__name__}({self.in_channels}, {self.out_channels}, "
             f"kernel_size={self.kernel_size}, stride={self.stride}")
        s += f", padding={self.padding}" if self.padding != (0, 0) else ""
        s += f", dilation={self.dilation}" if self.dilation != (1, 1) else ""
        s += f", groups={self.groups}" if self.groups != 1 else ""
        s += ", bias=False" if self.bias is None else ""
        return s + ")"

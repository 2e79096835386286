"""torchvision.ops roi_align and roi_pool with gradients (custom autograd Functions whose forward
and backward follow torchvision's CPU kernels: same sampling points, bilinear weights, bin
bounds and arg-max rule), and their RoIAlign / RoIPool modules."""
from __future__ import annotations

import math

import numpy as np

import cadenza as torch
from cadenza import nn

__all__ = ["roi_align", "RoIAlign", "roi_pool", "RoIPool", "ps_roi_align", "PSRoIAlign",
           "ps_roi_pool", "PSRoIPool"]

# roi_align's backward builds the (pixels x bins) sampling matrix densely up to this many entries
_DENSE_LIMIT = 1 << 24


def _check_input(t, op):
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{op}: input should be a Tensor, got {type(t).__name__}")
    if t.dim() != 4:
        raise ValueError(f"{op}: input should be [N, C, H, W], got {list(t.shape)}")


def _rois(boxes, op, dtype):
    """(K, 5) NumPy rois (batch index, x1, y1, x2, y2) from a [K, 5] Tensor or a list of [L, 4]."""
    if isinstance(boxes, (list, tuple)):
        parts = []
        for i, b in enumerate(boxes):
            if not isinstance(b, torch.Tensor) or b.dim() != 2 or b.shape[1] != 4:
                raise ValueError(f"{op}: each Tensor of the boxes list should be [L, 4] "
                                 f"(x1, y1, x2, y2), got "
                                 f"{list(b.shape) if isinstance(b, torch.Tensor) else type(b)}")
            a = b.detach().numpy().astype(dtype)
            parts.append(np.concatenate([np.full((len(a), 1), i, dtype), a], 1))
        return np.concatenate(parts, 0) if parts else np.zeros((0, 5), dtype)
    if not isinstance(boxes, torch.Tensor):
        raise TypeError(f"{op}: boxes should be a Tensor [K, 5] or a list of Tensors [L, 4], "
                        f"got {type(boxes).__name__}")
    if boxes.dim() != 2 or boxes.shape[1] != 5:
        raise ValueError(f"{op}: boxes should be a Tensor [K, 5] (batch index, x1, y1, x2, y2) "
                         f"or a list of [L, 4] Tensors, got shape {list(boxes.shape)}")
    return boxes.detach().numpy().astype(dtype)


def _checked_rois(boxes, input, op):
    rois = _rois(boxes, op, input.detach().numpy().dtype)
    bad = (rois[:, 0] < 0) | (rois[:, 0] >= input.shape[0])
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise IndexError(f"{op}: box {k} has batch index {int(rois[k, 0])}, input has "
                         f"{input.shape[0]} images")
    return rois


def _pair(size):
    return (size, size) if isinstance(size, int) else tuple(int(s) for s in size)


def _axis_corners(start, bin_size, grid, pooled, extent, dt):
    """Sample positions along one axis for rois sharing ``grid`` samples per bin: (K, pooled,
    grid, 2) corner indices and weights (zero where the sample lies outside [-1, extent])."""
    p = np.arange(pooled, dtype=dt)[None, :, None]
    i = (np.arange(grid, dtype=dt) + dt(0.5))[None, None, :]
    pos = (start[:, None, None] + p * bin_size[:, None, None]
           + i * bin_size[:, None, None] / dt(grid))
    valid = (pos >= -1.0) & (pos <= extent)
    pos = np.maximum(pos, dt(0))
    low = pos.astype(np.int64)
    top = low >= extent - 1
    low = np.where(top, extent - 1, low)
    high = np.where(top, extent - 1, low + 1)
    pos = np.where(top, low.astype(dt), pos)
    frac = pos - low
    w = np.stack([(1 - frac) * valid, frac * valid], -1).astype(dt)
    return np.stack([low, high], -1), w


def _align_plan(rois, shape, pooled, scale, sampling, aligned, dt):
    """[(rows, idx, w)]: output rows (k*ph*pw + bin) of a group of rois with the same sampling
    grid, with, per row, the flat (n*H*W + y*W + x) indices and weights of its samples (the
    1/count average included)."""
    _, _, H, W = shape
    ph, pw = pooled
    dt = np.dtype(dt).type
    scale = dt(scale)
    off = dt(0.5) if aligned else dt(0)
    bi = rois[:, 0].astype(np.int64)
    sw, sh = rois[:, 1] * scale - off, rois[:, 2] * scale - off
    rw, rh = rois[:, 3] * scale - off - sw, rois[:, 4] * scale - off - sh
    if not aligned:
        rw, rh = np.maximum(rw, dt(1)), np.maximum(rh, dt(1))
    bh, bw = rh / dt(ph), rw / dt(pw)
    if sampling > 0:
        gh = np.full(len(rois), sampling, np.int64)
        gw = gh
    else:
        gh = np.ceil(rh / dt(ph)).astype(np.int64)
        gw = np.ceil(rw / dt(pw)).astype(np.int64)
    plan = []
    for g_h, g_w in sorted(set(zip(gh.tolist(), gw.tolist()))):
        ks = np.flatnonzero((gh == g_h) & (gw == g_w))
        rows = (ks[:, None] * (ph * pw) + np.arange(ph * pw)[None, :]).ravel()
        if g_h * g_w == 0:
            plan.append((rows, np.zeros((len(rows), 0), np.int64), np.zeros((len(rows), 0), dt)))
            continue
        yi, wy = _axis_corners(sh[ks], bh[ks], g_h, ph, H, dt)  # (k, ph, gh, 2)
        xi, wx = _axis_corners(sw[ks], bw[ks], g_w, pw, W, dt)  # (k, pw, gw, 2)
        idx = (bi[ks][:, None, None, None, None, None, None] * (H * W)
               + yi[:, :, None, :, :, None, None] * W + xi[:, None, :, None, None, :, :])
        w = wy[:, :, None, :, :, None, None] * wx[:, None, :, None, None, :, :] / dt(g_h * g_w)
        n = len(rows)
        plan.append((rows, idx.reshape(n, -1), w.reshape(n, -1)))
    return plan


class _RoIAlignFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, rois, pooled, scale, sampling, aligned):
        x = input.detach().numpy()
        N, C, H, W = x.shape
        ph, pw = pooled
        plan = _align_plan(rois, x.shape, pooled, scale, sampling, aligned, x.dtype)
        flat = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(-1, C)
        out = np.zeros((len(rois) * ph * pw, C), x.dtype)
        for rows, idx, w in plan:
            acc = np.zeros((len(rows), C), x.dtype)
            for s in range(idx.shape[1]):
                acc += w[:, s, None] * flat[idx[:, s]]
            out[rows] = acc
        ctx.plan, ctx.shape, ctx.k = plan, x.shape, len(rois)
        out = out.reshape(len(rois), ph, pw, C).transpose(0, 3, 1, 2)
        return torch.from_numpy(np.ascontiguousarray(out))

    @staticmethod
    def backward(ctx, grad):
        N, C, H, W = ctx.shape
        g = grad.detach().numpy()
        g = np.ascontiguousarray(g.transpose(0, 2, 3, 1)).reshape(-1, C)
        dx = np.zeros((N * H * W, C), g.dtype)
        for rows, idx, w in ctx.plan:
            gr = g[rows]
            if N * H * W * len(rows) <= _DENSE_LIMIT:
                # small maps: the transposed sampling matrix, densely, times the gradient (BLAS)
                m = np.zeros((N * H * W, len(rows)), g.dtype)
                np.add.at(m, (idx, np.arange(len(rows))[:, None]), w)
                dx += m @ gr
                continue
            for s in range(idx.shape[1]):
                np.add.at(dx, idx[:, s], w[:, s, None] * gr)
        dx = dx.reshape(N, H, W, C).transpose(0, 3, 1, 2)
        return torch.from_numpy(np.ascontiguousarray(dx)), None, None, None, None, None


def roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    """Average of bilinear samples over each of the output_size bins of every box: [K, C, h, w]
    (differentiable in ``input``; the boxes get no gradient, as in torchvision)."""
    _check_input(input, "roi_align")
    rois = _checked_rois(boxes, input, "roi_align")
    return _RoIAlignFunction.apply(input, rois, _pair(output_size), float(spatial_scale),
                                   int(sampling_ratio), bool(aligned))


def _round(a):
    """C's round (half away from zero), as torchvision's roi_pool kernel."""
    return np.sign(a) * np.floor(np.abs(a) + 0.5)


class _RoIPoolFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, rois, pooled, scale):
        x = input.detach().numpy()
        N, C, H, W = x.shape
        ph, pw = pooled
        dt = x.dtype.type
        out = np.zeros((len(rois), C, ph, pw), x.dtype)
        arg = np.full((len(rois), C, ph, pw), -1, np.int64)
        for k, roi in enumerate(rois):
            b = int(roi[0])
            x1, y1, x2, y2 = (int(v) for v in _round(roi[1:] * dt(scale)))
            rw, rh = max(x2 - x1 + 1, 1), max(y2 - y1 + 1, 1)
            bh, bw = dt(rh) / dt(ph), dt(rw) / dt(pw)
            for i in range(ph):
                hs = min(max(int(math.floor(dt(i) * bh)) + y1, 0), H)
                he = min(max(int(math.ceil(dt(i + 1) * bh)) + y1, 0), H)
                for j in range(pw):
                    ws = min(max(int(math.floor(dt(j) * bw)) + x1, 0), W)
                    we = min(max(int(math.ceil(dt(j + 1) * bw)) + x1, 0), W)
                    if he <= hs or we <= ws:
                        continue
                    win = x[b, :, hs:he, ws:we].reshape(C, -1)
                    a = win.argmax(1)  # first maximum, as the kernel's strict '>'
                    out[k, :, i, j] = win[np.arange(C), a]
                    arg[k, :, i, j] = (hs + a // (we - ws)) * W + ws + a % (we - ws)
        ctx.arg, ctx.b, ctx.shape = arg, rois[:, 0].astype(np.int64), x.shape
        return torch.from_numpy(out)

    @staticmethod
    def backward(ctx, grad):
        N, C, H, W = ctx.shape
        g = grad.detach().numpy()
        arg = ctx.arg
        ok = arg >= 0
        plane = (ctx.b[:, None, None, None] * C + np.arange(C)[None, :, None, None]) * (H * W)
        flat = np.bincount((plane + arg)[ok], g[ok], minlength=N * C * H * W)
        return (torch.from_numpy(flat.astype(g.dtype).reshape(N, C, H, W)), None, None, None)


def roi_pool(input, boxes, output_size, spatial_scale=1.0):
    """Max over each of the output_size bins of every (rounded) box: [K, C, h, w], the gradient
    going to each bin's arg-max."""
    _check_input(input, "roi_pool")
    rois = _rois(boxes, "roi_pool", input.detach().numpy().dtype)
    return _RoIPoolFunction.apply(input, rois, _pair(output_size), float(spatial_scale))


class RoIAlign(nn.Module):
    def __init__(self, output_size, spatial_scale, sampling_ratio, aligned=False):
        super().__init__()
        self.output_size, self.spatial_scale = output_size, spatial_scale
        self.sampling_ratio, self.aligned = sampling_ratio, aligned

    def forward(self, input, rois):
        return roi_align(input, rois, self.output_size, self.spatial_scale,
                         self.sampling_ratio, self.aligned)

    def __repr__(self):
        return (f"{type(self).__name__}(output_size={self.output_size}, spatial_scale="
                f"{self.spatial_scale}, sampling_ratio={self.sampling_ratio}, "
                f"aligned={self.aligned})")


class RoIPool(nn.Module):
    def __init__(self, output_size, spatial_scale):
        super().__init__()
        self.output_size, self.spatial_scale = output_size, spatial_scale

    def forward(self, input, rois):
        return roi_pool(input, rois, self.output_size, self.spatial_scale)

    def __repr__(self):
        return (f"{type(self).__name__}(output_size={self.output_size}, "
                f"spatial_scale={self.spatial_scale})")


# Position-sensitive RoI pooling (R-FCN, Dai et al. 2016): the input's C = C_out * ph * pw
# channels are C_out groups of ph*pw score maps; bin (i, j) of output channel c reads input
# channel (c * ph + i) * pw + j.

def _ps_channels(input, pooled, op):
    C = input.shape[1]
    n = pooled[0] * pooled[1]
    if C % n:
        raise ValueError(f"{op}: input channels ({C}) should be a multiple of output_size[0] * "
                         f"output_size[1] = {n}, got input {list(input.shape)}")
    return C // n


class _PSRoIAlignFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, rois, pooled, scale, sampling, cout):
        x = input.detach().numpy()
        N, C, H, W = x.shape
        nb = pooled[0] * pooled[1]
        flat = np.ascontiguousarray(  # (N*H*W, bin, C_out): each bin's own score maps
            x.reshape(N, cout, nb, H, W).transpose(0, 3, 4, 2, 1)).reshape(N * H * W, nb, cout)
        plan = _align_plan(rois, x.shape, pooled, scale, sampling, True, x.dtype)
        out = np.zeros((len(rois) * nb, cout), x.dtype)
        for rows, idx, w in plan:
            bins = rows % nb
            # no sample (an empty box with adaptive sampling): 0 / 0, NaN as torchvision's
            acc = np.zeros((len(rows), cout), x.dtype) if idx.shape[1] else np.nan
            for s in range(idx.shape[1]):
                acc += w[:, s, None] * flat[idx[:, s], bins]
            out[rows] = acc
        ctx.plan, ctx.shape, ctx.cout = plan, x.shape, cout
        out = out.reshape(len(rois), *pooled, cout).transpose(0, 3, 1, 2)
        return torch.from_numpy(np.ascontiguousarray(out))

    @staticmethod
    def backward(ctx, grad):
        N, C, H, W = ctx.shape
        cout = ctx.cout
        g = grad.detach().numpy()
        nb = g.shape[2] * g.shape[3]
        g = np.ascontiguousarray(g.transpose(0, 2, 3, 1)).reshape(-1, cout)
        dx = np.zeros((N * H * W, nb, cout), g.dtype)
        for rows, idx, w in ctx.plan:
            bins = np.broadcast_to((rows % nb)[:, None], idx.shape)
            np.add.at(dx, (idx, bins), w[:, :, None] * g[rows][:, None, :])
        dx = dx.reshape(N, H, W, nb, cout).transpose(0, 4, 3, 1, 2).reshape(N, C, H, W)
        return torch.from_numpy(np.ascontiguousarray(dx)), None, None, None, None, None


def ps_roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1):
    """Position-sensitive roi_align (R-FCN): [K, C / (h*w), h, w], bin (i, j) of channel c
    averaging bilinear samples of input channel (c*h + i)*w + j; the boxes are shifted by half a
    pixel as roi_align's ``aligned=True``. Differentiable in ``input``."""
    _check_input(input, "ps_roi_align")
    pooled = _pair(output_size)
    cout = _ps_channels(input, pooled, "ps_roi_align")
    rois = _checked_rois(boxes, input, "ps_roi_align")
    return _PSRoIAlignFunction.apply(input, rois, pooled, float(spatial_scale),
                                     int(sampling_ratio), cout)


def _ps_pool_bins(rois, shape, pooled, scale, end_h, end_w):
    """Per roi and bin: (batch, hs, he, ws, we) of the averaged window (rounded box corners,
    bins of (x2 - x1) / pw pixels, floor/ceil bounds, the exclusive ends clipped at end_h /
    end_w: torchvision's forward kernel clips them at H - 1 / W - 1, so the last row and column
    are never read, while its backward clips them at H / W)."""
    H, W = shape[2:]
    ph, pw = pooled
    dt = rois.dtype.type
    out = []
    for roi in rois:
        x1, y1, x2, y2 = (dt(v) for v in _round(roi[1:] * dt(scale)))
        rw, rh = max(x2 - x1, dt(0.1)), max(y2 - y1, dt(0.1))
        bh, bw = rh / dt(ph), rw / dt(pw)
        for i in range(ph):
            hs = min(max(int(math.floor(dt(i) * bh + y1)), 0), H)
            he = min(max(int(math.ceil(dt(i + 1) * bh + y1)), 0), end_h)
            for j in range(pw):
                ws = min(max(int(math.floor(dt(j) * bw + x1)), 0), W)
                we = min(max(int(math.ceil(dt(j + 1) * bw + x1)), 0), end_w)
                out.append((int(roi[0]), hs, he, ws, we))
    return out


class _PSRoIPoolFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, rois, pooled, scale, cout):
        x = input.detach().numpy()
        N, C, H, W = x.shape
        nb = pooled[0] * pooled[1]
        xs = x.reshape(N, cout, nb, H, W)
        bins = _ps_pool_bins(rois, x.shape, pooled, scale, H - 1, W - 1)
        out = np.zeros((len(rois), nb, cout), x.dtype)
        for r, (b, hs, he, ws, we) in enumerate(bins):
            if he > hs and we > ws:
                k, p = divmod(r, nb)
                out[k, p] = xs[b, :, p, hs:he, ws:we].sum((1, 2)) / x.dtype.type(
                    (he - hs) * (we - ws))
        ctx.bins = _ps_pool_bins(rois, x.shape, pooled, scale, H, W)
        ctx.shape, ctx.cout = x.shape, cout
        out = out.reshape(len(rois), *pooled, cout).transpose(0, 3, 1, 2)
        return torch.from_numpy(np.ascontiguousarray(out))

    @staticmethod
    def backward(ctx, grad):
        N, C, H, W = ctx.shape
        g = grad.detach().numpy()
        K, cout = g.shape[0], ctx.cout
        nb = g.shape[2] * g.shape[3]
        g = g.reshape(K, cout, nb)
        dx = np.zeros((N, cout, nb, H, W), g.dtype)
        for r, (b, hs, he, ws, we) in enumerate(ctx.bins):
            if he > hs and we > ws:
                k, p = divmod(r, nb)
                dx[b, :, p, hs:he, ws:we] += (g[k, :, p] / g.dtype.type(
                    (he - hs) * (we - ws)))[:, None, None]
        return torch.from_numpy(dx.reshape(N, C, H, W)), None, None, None, None


def ps_roi_pool(input, boxes, output_size, spatial_scale=1.0):
    """Position-sensitive average RoI pooling (R-FCN): [K, C / (h*w), h, w], bin (i, j) of
    channel c the mean of input channel (c*h + i)*w + j over the bin's pixels."""
    _check_input(input, "ps_roi_pool")
    pooled = _pair(output_size)
    cout = _ps_channels(input, pooled, "ps_roi_pool")
    rois = _checked_rois(boxes, input, "ps_roi_pool")
    return _PSRoIPoolFunction.apply(input, rois, pooled, float(spatial_scale), cout)


class PSRoIAlign(nn.Module):
    def __init__(self, output_size, spatial_scale, sampling_ratio):
        super().__init__()
        self.output_size, self.spatial_scale = output_size, spatial_scale
        self.sampling_ratio = sampling_ratio

    def forward(self, input, rois):
        return ps_roi_align(input, rois, self.output_size, self.spatial_scale,
                            self.sampling_ratio)

    def __repr__(self):
        return (f"{type(self).__name__}(output_size={self.output_size}, spatial_scale="
                f"{self.spatial_scale}, sampling_ratio={self.sampling_ratio})")


class PSRoIPool(RoIPool):
    def forward(self, input, rois):
        return ps_roi_pool(input, rois, self.output_size, self.spatial_scale)

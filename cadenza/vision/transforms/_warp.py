"""Grid-sampled warps of tensor images, as torchvision computes them (perspective and
elastic: ``_apply_grid_transform`` over ``grid_sample``, align_corners=False, zero padding, the
fill blended in through a ones channel); PIL images go through Pillow's PERSPECTIVE transform
(perspective) or round-trip through a tensor (elastic)."""
from __future__ import annotations

import math

import numpy as np

import cadenza as torch
from cadenza.nn import functional as _nnF
from .._pil import is_pil_image, pil as _pil
from ._image import InterpolationMode, _PIL_CODES, _interp, _parse_fill

__all__ = ["perspective", "elastic_transform"]


def _check_interpolation(mode):
    if isinstance(mode, str):
        return InterpolationMode(mode.lower())
    return _interp(mode)


def _np(t):
    return np.array(t.detach().numpy() if isinstance(t, torch.Tensor) else t)


def _get_perspective_coeffs(startpoints, endpoints):
    """(a, b, c, d, e, f, g, h) mapping output pixels to input pixels, solved in float64 and
    rounded to float32 as torchvision does."""
    if len(startpoints) != 4 or len(endpoints) != 4:
        raise ValueError(f"Please provide exactly four corners, got {len(startpoints)} "
                         f"startpoints and {len(endpoints)} endpoints.")
    a = np.zeros((8, 8), dtype=np.float64)
    for i, (p1, p2) in enumerate(zip(endpoints, startpoints)):
        a[2 * i] = [p1[0], p1[1], 1, 0, 0, 0, -p2[0] * p1[0], -p2[0] * p1[1]]
        a[2 * i + 1] = [0, 0, 0, p1[0], p1[1], 1, -p2[1] * p1[0], -p2[1] * p1[1]]
    b = np.array(startpoints, dtype=np.float64).reshape(8)
    res = np.linalg.lstsq(a, b, rcond=None)[0].astype(np.float32)
    return [float(v) for v in res]


def _identity_grid(h, w, dtype):
    g = np.empty((1, h, w, 2), dtype=dtype)
    g[..., 0] = np.linspace((-w + 1) / w, (w - 1) / w, w, dtype=dtype)
    g[..., 1] = np.linspace((-h + 1) / h, (h - 1) / h, h, dtype=dtype)[:, None]
    return g


def _check_displacement(displacement, h, w):
    if not isinstance(displacement, torch.Tensor):
        raise TypeError("Argument displacement should be a Tensor")
    if tuple(displacement.shape) != (1, h, w, 2):
        raise ValueError(f"Argument displacement shape should be {(1, h, w, 2)}, but given "
                         f"{tuple(displacement.shape)}")


def _affine_matrix(center, angle, translate, scale, shear, inverted):
    """torchvision's _get_inverse_affine_matrix (inverted: output -> input pixel map)."""
    rot = math.radians(angle)
    sx, sy = math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    cos_sy, tan_sx = math.cos(sy), math.tan(sx)
    a = math.cos(rot - sy) / cos_sy
    b = -(a * tan_sx + math.sin(rot))
    c = math.sin(rot - sy) / cos_sy
    d = math.cos(rot) - c * tan_sx
    if inverted:
        m = [d / scale, -b / scale, 0.0, -c / scale, a / scale, 0.0]
        m[2] += cx - m[0] * (cx + tx) - m[1] * (cy + ty)
        m[5] += cy - m[3] * (cx + tx) - m[4] * (cy + ty)
    else:
        m = [a * scale, b * scale, 0.0, c * scale, d * scale, 0.0]
        m[2] += cx + tx - m[0] * cx - m[1] * cy
        m[5] += cy + ty - m[3] * cx - m[4] * cy
    return m


def _affine_output_size(matrix, w, h):
    """(width, height) of the expanded canvas (torchvision's float32 tensor computation)."""
    half = np.array([0.5 * w, 0.5 * h], dtype=np.float32)
    pts = np.array([[-half[0], -half[1], 1.0], [-half[0], half[1], 1.0],
                    [half[0], half[1], 1.0], [half[0], -half[1], 1.0]], dtype=np.float32)
    new_pts = pts @ np.array(matrix, dtype=np.float32).reshape(2, 3).T
    min_vals, max_vals = new_pts.min(0) + half, new_pts.max(0) + half
    tol, inv_tol = np.float32(1e-4), np.float32(1.0 / 1e-4)
    cmax = np.ceil(np.trunc(max_vals * inv_tol) * tol)
    cmin = np.floor(np.trunc(min_vals * inv_tol) * tol)
    size = cmax - cmin
    return int(size[0]), int(size[1])


def _affine_grid(theta, w, h, ow, oh):
    dtype = theta.dtype
    x, y = _base(oh, ow, dtype, (1.0 - ow) * 0.5, (ow - 1.0) * 0.5, (1.0 - oh) * 0.5,
                 (oh - 1.0) * 0.5)
    g = _plane(x, y, theta.T / np.array([0.5 * w, 0.5 * h], dtype=dtype), dtype)
    return np.stack(g, -1)[None]


def affine_grid_image(img, angle, translate, scale, shear, interpolation, fill, center):
    """torchvision's tensor affine (parsed arguments): an inverse-matrix grid, grid-sampled."""
    def grid(h, w, dt):
        c = [0.0, 0.0] if center is None else [c - s * 0.5 for c, s in zip(center, [w, h])]
        m = _affine_matrix(c, angle, [float(t) for t in translate], scale, shear, True)
        return _affine_grid(np.array(m, dtype=dt).reshape(2, 3), w, h, w, h)
    return _grid_image(img, grid, interpolation, fill, "affine")


def rotate_grid_image(img, angle, interpolation, expand, center, fill):
    """torchvision's tensor rotate (counter-clockwise degrees; rot90 for right angles)."""
    angle = angle % 360
    a = img
    if center is None and (angle == 180 or (expand or a.shape[-1] == a.shape[-2])
                           and angle in (90, 270)):
        k = {90: 1, 180: 2, 270: 3}[angle]
        return torch.from_numpy(np.ascontiguousarray(np.rot90(_np(a), k, axes=(-2, -1))))
    if center is None and angle == 0:
        return img.clone()
    h, w = a.shape[-2:]
    c = [0.0, 0.0] if center is None else [c - s * 0.5 for c, s in zip(center, [w, h])]
    m = _affine_matrix(c, -angle, [0.0, 0.0], 1.0, [0.0, 0.0], True)
    ow, oh = _affine_output_size(m, w, h) if expand else (w, h)

    def grid(h_, w_, dt):
        return _affine_grid(np.array(m, dtype=dt).reshape(2, 3), w, h, ow, oh)
    return _grid_image(img, grid, interpolation, fill, "rotate")


def _grid_transform(a, grid, mode, fill):
    """torchvision's _apply_grid_transform on a [..., C, H, W] array (grid [1, Ho, Wo, 2])."""
    shape = a.shape
    c, h, w = shape[-3:]
    oh, ow = grid.shape[1:3]
    if a.size == 0:
        return a.reshape(shape[:-3] + (c, oh, ow))
    fp = a.dtype == grid.dtype
    x = a.reshape(-1, c, h, w).astype(grid.dtype)
    n = x.shape[0]
    if fill is not None:
        x = np.concatenate([x, np.ones((n, 1, h, w), grid.dtype)], axis=1)
    g = np.broadcast_to(grid, (n,) + grid.shape[1:])
    y = _nnF.grid_sample(torch.from_numpy(np.ascontiguousarray(x)),
                         torch.from_numpy(np.ascontiguousarray(g)), mode=mode,
                         padding_mode="zeros", align_corners=False).numpy()
    if fill is not None:
        y, m = y[:, :-1], np.broadcast_to(y[:, -1:], y[:, :-1].shape)
        fl = fill if isinstance(fill, (tuple, list)) else [float(fill)]
        fimg = np.array(fl, dtype=y.dtype).reshape(1, -1, 1, 1)
        if mode == "nearest":
            y = np.where(m < 0.5, np.broadcast_to(fimg, y.shape), y)
        else:
            y = (y - fimg) * m + fimg
    if not fp:
        y = np.round(y).astype(a.dtype)
    return y.reshape(shape[:-3] + (c, oh, ow))


def _grid_image(image, grid_fn, interpolation, fill, name):
    """A grid-sampled warp of a tensor image (PIL images round-trip through a tensor)."""
    mode = _check_interpolation(interpolation)
    if mode not in (InterpolationMode.NEAREST, InterpolationMode.BILINEAR):
        raise ValueError(f"{name}: interpolation should be nearest or bilinear, got "
                         f"{mode.value}")
    if is_pil_image(image):
        a = np.asarray(image)
        chw = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
        out = _grid_image(torch.from_numpy(np.ascontiguousarray(chw)), grid_fn, mode, fill,
                          name).numpy()
        out = out[0] if a.ndim == 2 else out.transpose(1, 2, 0)
        return _pil().Image.fromarray(np.ascontiguousarray(out), mode=image.mode)
    a = _np(image)
    two_d = a.ndim == 2
    b = a[None] if two_d else a
    dtype = b.dtype if np.issubdtype(b.dtype, np.floating) and b.dtype != np.float16 \
        else np.dtype(np.float32)
    out = _grid_transform(b, grid_fn(b.shape[-2], b.shape[-1], dtype), mode.value, fill)
    if a.dtype == np.float16:
        out = out.astype(np.float16)
    return torch.from_numpy(np.ascontiguousarray(out[0] if two_d else out))


def _plane(x, y, r, dtype):
    """x * r[0] + y * r[1] + r[2] per output coordinate, in ``dtype`` step by step (the
    rounding of torch's small float32 bmm, which a BLAS matmul with FMA does not give)."""
    return [x * r[0, k] + y * r[1, k] + r[2, k] for k in range(r.shape[1])]


def _base(oh, ow, dtype, x0, x1, y0, y1):
    x = np.linspace(x0, x1, ow, dtype=np.float32).astype(dtype)[None, :].repeat(oh, 0)
    y = np.linspace(y0, y1, oh, dtype=np.float32).astype(dtype)[:, None].repeat(ow, 1)
    return x, y


def _perspective_grid(c, oh, ow, dtype):
    theta1 = np.array([[c[0], c[1], c[2]], [c[3], c[4], c[5]]], dtype=dtype)
    theta2 = np.array([[c[6], c[7], 1.0], [c[6], c[7], 1.0]], dtype=dtype)
    x, y = _base(oh, ow, dtype, 0.5, ow - 0.5, 0.5, oh - 0.5)
    g1 = _plane(x, y, theta1.T / np.array([0.5 * ow, 0.5 * oh], dtype=dtype), dtype)
    g2 = _plane(x, y, theta2.T, dtype)
    return np.stack([g1[k] / g2[k] - dtype.type(1) for k in range(2)], -1)[None]


def perspective(img, startpoints, endpoints, interpolation=InterpolationMode.BILINEAR,
                fill=None, coefficients=None):
    """The perspective warp taking ``startpoints`` (four corners) to ``endpoints``."""
    c = _perspective_coefficients(startpoints, endpoints, coefficients)
    mode = _check_interpolation(interpolation)
    if is_pil_image(img):
        Image = _pil().Image
        return img.transform(img.size, Image.PERSPECTIVE, c, _PIL_CODES[mode],
                             **_parse_fill(fill, img))
    return _grid_image(img, lambda h, w, dt: _perspective_grid(c, h, w, dt), mode, fill,
                       "perspective")


def _perspective_coefficients(startpoints, endpoints, coefficients):
    if coefficients is not None:
        if startpoints is not None and endpoints is not None:
            raise ValueError("The startpoints/endpoints and the coefficients shouldn't be "
                             "defined concurrently.")
        if len(coefficients) != 8:
            raise ValueError("Argument coefficients should have 8 float values")
        return list(coefficients)
    if startpoints is not None and endpoints is not None:
        return _get_perspective_coeffs(startpoints, endpoints)
    raise ValueError("Either the startpoints/endpoints or the coefficients must have non `None` "
                     "values.")


def elastic_transform(img, displacement, interpolation=InterpolationMode.BILINEAR, fill=None):
    """Each output pixel sampled at its position plus ``displacement`` [1, H, W, 2] (in
    normalised [-1, 1] units)."""
    def grid(h, w, dt):
        _check_displacement(displacement, h, w)
        return _identity_grid(h, w, dt) + _np(displacement).astype(dt)
    return _grid_image(img, grid, interpolation, fill, "elastic")



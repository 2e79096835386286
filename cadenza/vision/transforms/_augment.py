"""The augmentation functions of torchvision.transforms.functional: affine warps, blur,
erasing and the colour operations AutoAugment draws from (invert, posterize, solarize,
sharpness, autocontrast, equalize, gamma). PIL images go through Pillow as torchvision does;
tensors (``[..., C, H, W]``, float in [0, 1] or uint8) through NumPy with torchvision's
formulas."""
from __future__ import annotations

import numbers

import numpy as np

from .._pil import is_pil_image as _is_pil_image, pil as _pil
from ._image import (InterpolationMode, _PIL_CODES, _interp, _check_image, _arr, _tensor,
                     _is_float, get_dimensions, _parse_fill, _blend)
from ._warp import _affine_matrix, affine_grid_image

__all__ = ["invert", "posterize", "solarize", "adjust_sharpness", "autocontrast", "equalize",
           "adjust_gamma", "gaussian_blur", "erase", "affine"]


def _bound(a):
    return 1.0 if _is_float(a) else float(np.iinfo(a.dtype).max)


def invert(img):
    _check_image(img, "invert")
    if _is_pil_image(img):
        return _pil().ImageOps.invert(img)
    a = _arr(img)
    return _tensor((_bound(a) - a).astype(a.dtype))


def posterize(img, bits):
    """Keep the ``bits`` high bits of each uint8 channel value."""
    _check_image(img, "posterize")
    if not 0 <= bits <= 8:
        raise ValueError(f"The number if bits should be between 0 and 8. Got {bits}")
    if _is_pil_image(img):
        return _pil().ImageOps.posterize(img, bits)
    a = _arr(img)
    if a.dtype != np.uint8:
        raise TypeError(f"Only torch.uint8 image tensors are supported, but found {a.dtype}")
    mask = np.uint8((0xFF << (8 - bits)) & 0xFF)
    return _tensor(a & mask)


def solarize(img, threshold):
    """Invert every value at or above ``threshold``."""
    _check_image(img, "solarize")
    if _is_pil_image(img):
        return _pil().ImageOps.solarize(img, threshold)
    a = _arr(img)
    if threshold > _bound(a):
        raise TypeError("Threshold should be less than bound of img.")
    return _tensor(np.where(a >= threshold, (_bound(a) - a).astype(a.dtype), a))


def _sharpness_degenerate(a):
    """The 3x3 smoothing torchvision blends with (weights 1, centre 5, over 13); the border
    pixels keep their values."""
    f = a.astype(np.float32)
    k = np.ones((3, 3), np.float32)
    k[1, 1] = 5.0
    k /= k.sum()
    h, w = a.shape[-2:]
    out = f.copy()
    if h > 2 and w > 2:
        acc = np.zeros(f.shape[:-2] + (h - 2, w - 2), np.float32)
        for i in range(3):
            for j in range(3):
                acc += k[i, j] * f[..., i:i + h - 2, j:j + w - 2]
        if not _is_float(a):
            acc = np.round(acc)
        out[..., 1:-1, 1:-1] = acc
    return out.astype(a.dtype)


def adjust_sharpness(img, sharpness_factor):
    _check_image(img, "adjust_sharpness")
    if sharpness_factor < 0:
        raise ValueError(f"sharpness_factor ({sharpness_factor}) is not non-negative.")
    if _is_pil_image(img):
        return _pil().ImageEnhance.Sharpness(img).enhance(sharpness_factor)
    a = _arr(img)
    if a.shape[-1] <= 2 or a.shape[-2] <= 2:
        return img
    return _tensor(_blend(a, _sharpness_degenerate(a).astype(np.float32), sharpness_factor))


def autocontrast(img):
    """Stretch each channel's values to the full range."""
    _check_image(img, "autocontrast")
    if _is_pil_image(img):
        return _pil().ImageOps.autocontrast(img)
    a = _arr(img)
    bound = _bound(a)
    f = a.astype(np.float32)
    lo = f.min(axis=(-2, -1), keepdims=True)
    hi = f.max(axis=(-2, -1), keepdims=True)
    with np.errstate(divide="ignore"):
        scale = np.float32(bound) / (hi - lo)
    flat = ~np.isfinite(scale)
    lo = np.where(flat, 0, lo)
    scale = np.where(flat, 1, scale).astype(np.float32)
    return _tensor(np.clip((f - lo) * scale, 0, bound).astype(a.dtype))


def _equalize_channel(ch):
    hist = np.bincount(ch.reshape(-1), minlength=256)
    nonzero = hist[hist != 0]
    step = int(nonzero[:-1].sum()) // 255
    if step == 0:
        return ch
    lut = (np.cumsum(hist) + step // 2) // step
    lut = np.clip(np.concatenate([[0], lut[:-1]]), 0, 255).astype(np.uint8)
    return lut[ch]


def equalize(img):
    """Histogram equalisation of each uint8 channel."""
    _check_image(img, "equalize")
    if _is_pil_image(img):
        return _pil().ImageOps.equalize(img)
    a = _arr(img)
    if a.dtype != np.uint8:
        raise TypeError(f"Only torch.uint8 image tensors are supported, but found {a.dtype}")
    flat = a.reshape((-1,) + a.shape[-2:])
    return _tensor(np.stack([_equalize_channel(c) for c in flat]).reshape(a.shape))


def adjust_gamma(img, gamma, gain=1):
    """``gain * img ** gamma`` on values scaled to [0, 1]."""
    _check_image(img, "adjust_gamma")
    if gamma < 0:
        raise ValueError("Gamma should be a non-negative real number")
    if _is_pil_image(img):
        mode = img.mode
        im = img.convert("RGB")
        table = [int((255 + 1 - 1e-3) * gain * pow(e / 255.0, gamma))
                 for e in range(256)] * 3
        return im.point(table).convert(mode)
    a = _arr(img)
    f = a.astype(np.float32) if _is_float(a) else a.astype(np.float32) / np.float32(255)
    out = np.clip(np.float32(gain) * f ** np.float32(gamma), 0, 1)
    if not _is_float(a):      # convert_image_dtype's float -> uint8 (scale by 256 - 1e-3)
        out = out * np.float32(255 + 1.0 - 1e-3)
    return _tensor(out.astype(a.dtype))


def _gaussian_kernel1d(size, sigma):
    half = (size - 1) * 0.5
    x = np.linspace(-half, half, size, dtype=np.float32)
    pdf = np.exp(-0.5 * (x / np.float32(sigma)) ** 2)
    return (pdf / pdf.sum()).astype(np.float32)


def gaussian_blur(img, kernel_size, sigma=None):
    """Blur with a Gaussian kernel (odd sizes; sigma defaults to 0.3 ((k - 1) / 2 - 1) + 0.8),
    reflecting at the borders. A PIL image is blurred as a tensor and converted back."""
    _check_image(img, "gaussian_blur")
    if isinstance(kernel_size, int):
        kernel_size = [kernel_size, kernel_size]
    kernel_size = list(kernel_size)
    if len(kernel_size) == 1:
        kernel_size = kernel_size * 2
    if len(kernel_size) != 2 or any(k <= 0 or k % 2 == 0 for k in kernel_size):
        raise ValueError(f"kernel_size should have odd and positive integers. Got "
                         f"{kernel_size}")
    if sigma is None:
        sigma = [k * 0.15 + 0.35 for k in kernel_size]
    if isinstance(sigma, numbers.Number):
        sigma = [float(sigma), float(sigma)]
    sigma = [float(s) for s in sigma]
    if len(sigma) == 1:
        sigma = sigma * 2
    if any(s <= 0 for s in sigma):
        raise ValueError(f"sigma should have positive values. Got {sigma}")
    if _is_pil_image(img):
        a = np.asarray(img)
        chw = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
        out = _blur_array(chw, kernel_size, sigma)
        out = out[0] if a.ndim == 2 else out.transpose(1, 2, 0)
        return _pil().Image.fromarray(np.ascontiguousarray(out), mode=img.mode)
    return _tensor(_blur_array(_arr(img), kernel_size, sigma))


def _blur_array(a, kernel_size, sigma):
    kx = _gaussian_kernel1d(kernel_size[0], sigma[0])
    ky = _gaussian_kernel1d(kernel_size[1], sigma[1])
    k2 = np.outer(ky, kx).astype(np.float32)
    f = a.astype(np.float32)
    px, py = kernel_size[0] // 2, kernel_size[1] // 2
    pad = [(0, 0)] * (f.ndim - 2) + [(py, py), (px, px)]
    p = np.pad(f, pad, mode="reflect")
    h, w = a.shape[-2:]
    out = np.zeros(f.shape, np.float32)
    for i in range(kernel_size[1]):
        for j in range(kernel_size[0]):
            out += k2[i, j] * p[..., i:i + h, j:j + w]
    if not _is_float(a):
        out = np.round(out)
    return out.astype(a.dtype)


def erase(img, i, j, h, w, v, inplace=False):
    """Set the region [i, i+h) x [j, j+w) of a tensor image to ``v``."""
    from cadenza import Tensor  # reason: isinstance check of the value only
    if not isinstance(img, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(img)}")
    out = img if inplace else img.clone()
    out[..., i:i + h, j:j + w] = v
    return out


def _affine_parse(angle, translate, scale, shear, center):
    """torchvision's checks of affine's arguments: (angle, translate, [shear_x, shear_y],
    center as floats or None)."""
    if not isinstance(angle, (int, float)):
        raise TypeError("Argument angle should be int or float")
    if not isinstance(translate, (list, tuple)):
        raise TypeError("Argument translate should be a sequence")
    if len(translate) != 2:
        raise ValueError("Argument translate should be a sequence of length 2")
    if scale <= 0.0:
        raise ValueError("Argument scale should be positive")
    if isinstance(shear, numbers.Number):
        shear = [shear, 0.0]
    shear = list(shear)
    if len(shear) == 1:
        shear = [shear[0], shear[0]]
    if len(shear) != 2:
        raise ValueError(f"Shear should be a sequence containing two values. Got {shear}")
    center = None if center is None else [float(c) for c in center]
    return float(angle), list(translate), shear, center


def affine(img, angle, translate, scale, shear, interpolation=InterpolationMode.NEAREST,
           fill=None, center=None):
    """Rotate by ``angle`` degrees, translate by ``translate`` pixels, scale and shear (degrees,
    one value or (x, y)) about ``center`` (default: the image centre), keeping the size."""
    _check_image(img, "affine")
    interpolation = _interp(interpolation)
    angle, translate, shear, center = _affine_parse(angle, translate, scale, shear, center)
    if interpolation not in (InterpolationMode.NEAREST, InterpolationMode.BILINEAR):
        raise ValueError(f"affine: interpolation should be nearest or bilinear, got "
                         f"{interpolation.value}")
    if not _is_pil_image(img):
        # torchvision warps tensors by grid sampling (Pillow's AFFINE picks other pixels)
        return affine_grid_image(img, angle, translate, scale, shear, interpolation, fill,
                                 center)
    _, h, w = get_dimensions(img)
    center = [w * 0.5, h * 0.5] if center is None else list(center)
    m = _affine_matrix(center, angle, [float(t) for t in translate], scale, shear, True)
    return img.transform(img.size, _pil().Image.AFFINE, m, _PIL_CODES[interpolation],
                         **_parse_fill(fill, img))

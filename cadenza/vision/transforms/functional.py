"""torchvision.transforms.functional: the same functions on PIL images (Pillow does the work,
exactly as torchvision does) and on tensors (``[..., C, H, W]``, float in [0, 1] or uint8;
computed in NumPy with torchvision's formulas and rounding)."""
from __future__ import annotations

import numbers

import numpy as np

import cadenza as torch
from .._pil import is_pil_image as _is_pil_image, pil as _pil
from ._image import (InterpolationMode, _PIL_CODES, _interp, _check_image, _arr, _tensor,
                     _is_float, _channels, get_dimensions, _round_back,
                     _parse_fill, _blend, _gray, _check_factor)
from ._augment import (invert, posterize, solarize, adjust_sharpness,  # noqa: F401
                       autocontrast, equalize, adjust_gamma, gaussian_blur, erase, affine)
from ._warp import perspective, elastic_transform, rotate_grid_image  # noqa: F401

__all__ = ["InterpolationMode", "to_tensor", "pil_to_tensor", "to_pil_image", "normalize",
           "resize", "center_crop", "crop", "resized_crop", "pad", "hflip", "vflip", "rotate",
           "adjust_brightness", "adjust_contrast", "adjust_saturation", "adjust_hue",
           "rgb_to_grayscale", "to_grayscale", "get_dimensions", "get_image_size",
           "get_image_num_channels", "convert_image_dtype", "five_crop", "ten_crop",
           "invert", "posterize", "solarize", "adjust_sharpness", "autocontrast", "equalize",
           "adjust_gamma", "gaussian_blur", "erase", "affine", "perspective", "elastic_transform"]


# ---------------------------------------------------------------------------------------------
# sizes and conversions

def get_image_size(img) -> list:
    """[width, height]."""
    c, h, w = get_dimensions(img)
    return [w, h]


def get_image_num_channels(img) -> int:
    return get_dimensions(img)[0]


def to_tensor(pic):
    """PIL image or HWC ndarray -> CHW float tensor in [0, 1] (uint8 input divided by 255)."""
    if isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"to_tensor: pic should be 2/3 dimensional, got {pic.ndim} dimensions")
        a = pic[:, :, None] if pic.ndim == 2 else pic
        a = np.ascontiguousarray(a.transpose(2, 0, 1))
        if a.dtype == np.uint8:
            return _tensor(a.astype(np.float32) / np.float32(255))
        return _tensor(a)
    if not _is_pil_image(pic):
        raise TypeError(f"to_tensor: pic should be a PIL Image or ndarray, "
                        f"got {type(pic).__name__}")
    nptype = {"I": np.int32, "I;16": np.int16, "F": np.float32}.get(pic.mode, np.uint8)
    a = np.array(pic, nptype, copy=True)
    if pic.mode == "1":
        a = 255 * a
    a = a.reshape(pic.size[1], pic.size[0], len(pic.getbands())).transpose(2, 0, 1)
    if a.dtype == np.uint8:
        return _tensor(a.astype(np.float32) / np.float32(255))
    return _tensor(a)


def pil_to_tensor(pic):
    """PIL image -> CHW tensor of its own dtype (uint8 for L/RGB), no scaling."""
    if not _is_pil_image(pic):
        raise TypeError(f"pil_to_tensor: pic should be a PIL Image, got {type(pic).__name__}")
    a = np.array(pic, copy=True)
    a = a.reshape(pic.size[1], pic.size[0], len(pic.getbands())).transpose(2, 0, 1)
    return _tensor(a)


def to_pil_image(pic, mode=None):
    """CHW tensor or HWC ndarray -> PIL image (float data is multiplied by 255 and truncated)."""
    if isinstance(pic, torch.Tensor):
        a = _arr(pic)
        if a.ndim == 3:
            a = a.transpose(1, 2, 0)
    elif isinstance(pic, np.ndarray):
        a = pic
    else:
        raise TypeError(f"to_pil_image: pic should be Tensor or ndarray, got {type(pic).__name__}")
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3:
        raise ValueError(f"to_pil_image: pic should be 2/3 dimensional, got {a.ndim} dimensions")
    if a.shape[-1] > 4:
        raise ValueError(f"to_pil_image: pic should not have > 4 channels, got {a.shape[-1]}")
    if _is_float(a) and mode != "F":
        a = (a * 255).astype(np.uint8)
    n = a.shape[2]
    if n == 1:
        a = a[:, :, 0]
        expected = {np.dtype(np.uint8): "L", np.dtype(np.int16): "I;16",
                    np.dtype(np.int32): "I", np.dtype(np.float32): "F"}.get(a.dtype)
        if mode is not None and mode != expected:
            raise ValueError(f"to_pil_image: incorrect mode ({mode}) for input type {a.dtype}; "
                             f"should be {expected}")
        mode = expected
    else:
        allowed = {2: ["LA"], 3: ["RGB", "YCbCr", "HSV"], 4: ["RGBA", "CMYK", "RGBX"]}[n]
        if mode is not None and mode not in allowed:
            raise ValueError(f"to_pil_image: only modes {allowed} are supported for {n} channels")
        if mode is None and a.dtype == np.uint8:
            mode = allowed[0]
    if mode is None:
        raise TypeError(f"to_pil_image: input type {a.dtype} is not supported")
    if mode == "I;16":
        a = a.astype("<u2")
    return _pil().Image.fromarray(np.ascontiguousarray(a), mode=mode)


def convert_image_dtype(image, dtype=None):
    """Scale between float [0, 1] and integer ranges as torchvision does."""
    dtype = torch.float32 if dtype is None else dtype
    if image.dtype == dtype:
        return image
    a = _arr(image)
    target = torch.empty(0, dtype=dtype).numpy().dtype
    if _is_float(a):
        if np.issubdtype(target, np.floating):
            return _tensor(a.astype(target))
        hi = np.iinfo(target).max
        return _tensor((a * np.float32(hi + 1.0 - 1e-3)).astype(target))
    hi = np.iinfo(a.dtype).max
    if np.issubdtype(target, np.floating):
        return _tensor(a.astype(target) / target.type(hi))
    return _tensor(a.astype(target) * (np.iinfo(target).max + 1) // (hi + 1)
                   if np.iinfo(target).max > hi else a // ((hi + 1) // (np.iinfo(target).max + 1)))


def normalize(tensor, mean, std, inplace=False):
    """(tensor - mean) / std per channel, on float tensors [..., C, H, W]."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"normalize: img should be a Tensor, got {type(tensor).__name__}")
    if not tensor.is_floating_point():
        raise TypeError(f"normalize: input tensor should be a float tensor, got {tensor.dtype}")
    if tensor.ndim < 3:
        raise ValueError(f"normalize: expected a tensor image of size (..., C, H, W), "
                         f"got {tuple(tensor.shape)}")
    m = torch.as_tensor(mean, dtype=tensor.dtype)
    s = torch.as_tensor(std, dtype=tensor.dtype)
    if bool((s == 0).any()):
        raise ValueError(f"normalize: std evaluated to zero after conversion to {tensor.dtype}, "
                         "leading to division by zero")
    m = m.view(-1, 1, 1) if m.ndim == 1 else m
    s = s.view(-1, 1, 1) if s.ndim == 1 else s
    if inplace:
        return tensor.sub_(m).div_(s)
    return (tensor - m) / s


# ---------------------------------------------------------------------------------------------
# geometry

def _resized_size(h, w, size, max_size):
    if isinstance(size, numbers.Number):
        size = [int(size)]
    size = list(size) if size is not None else None
    if size is None:
        if max_size is None:
            raise ValueError("resize: size can only be None if max_size is given")
        scale = max_size / max(h, w)
        return [int(h * scale), int(w * scale)]
    if len(size) == 1:
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = size[0], int(size[0] * long / short)
        if max_size is not None:
            if max_size <= size[0]:
                raise ValueError(f"resize: max_size = {max_size} must be strictly greater than "
                                 f"the requested size for the smaller edge = {size[0]}")
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
        return [new_h, new_w]
    if len(size) != 2:
        raise ValueError(f"resize: size must be an int or a 1 or 2 element sequence, got {size}")
    if max_size is not None:
        raise ValueError("resize: max_size is only supported when size is one int")
    return [int(size[0]), int(size[1])]


def _bicubic_axis(a, out_n, axis):
    """torch's bicubic upsampling along one axis (a = -0.75, half-pixel centres, indices
    clamped at the borders)."""
    n = a.shape[axis]
    src = (np.arange(out_n) + 0.5) * (n / out_n) - 0.5
    i0 = np.floor(src).astype(np.int64)
    t = (src - i0).astype(np.float32)
    A = np.float32(-0.75)

    def near(x):  # |x| <= 1
        return ((A + 2) * x - (A + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A

    weights = [far(t + 1), near(t), near(1 - t), far(2 - t)]
    out = 0
    for k, w in zip(range(-1, 3), weights):
        idx = np.clip(i0 + k, 0, n - 1)
        shape = [1] * a.ndim
        shape[axis] = out_n
        out = out + np.take(a, idx, axis=axis) * w.reshape(shape)
    return out


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
    """Resize to ``size`` ((h, w), or an int for the smaller edge keeping the aspect ratio)."""
    return _resize(img, size, interpolation, max_size, antialias, uint8_kernel=False)


def _resize(img, size, interpolation, max_size, antialias, uint8_kernel):
    """``resize``; integer tensors are resized in float32 and rounded back (torchvision's
    ``transforms.functional``), or with ``uint8_kernel`` uint8 ones bilinearly / bicubically by
    torch's uint8 kernel (``transforms.v2.functional``)."""
    _check_image(img, "resize")
    interpolation = _interp(interpolation)
    c, h, w = get_dimensions(img)
    out_h, out_w = _resized_size(h, w, size, max_size)
    if [h, w] == [out_h, out_w]:
        return img
    if _is_pil_image(img):
        if interpolation == InterpolationMode.NEAREST_EXACT:
            raise ValueError("resize: NEAREST_EXACT is not supported for PIL images")
        return img.resize((out_w, out_h), _PIL_CODES[interpolation])
    a = _arr(img)
    if interpolation in (InterpolationMode.NEAREST, InterpolationMode.NEAREST_EXACT):
        off = 0.5 if interpolation == InterpolationMode.NEAREST_EXACT else 0.0
        rows = np.minimum(np.floor((np.arange(out_h) + off) * (h / out_h)).astype(int), h - 1)
        cols = np.minimum(np.floor((np.arange(out_w) + off) * (w / out_w)).astype(int), w - 1)
        return _tensor(a[..., rows, :][..., cols])
    if interpolation not in (InterpolationMode.BILINEAR, InterpolationMode.BICUBIC):
        raise ValueError(f"resize: tensors support nearest, nearest-exact, bilinear and bicubic "
                         f"interpolation, got {interpolation.value}")
    as_u8 = uint8_kernel and a.dtype == np.uint8
    work = a.dtype if as_u8 or a.dtype == np.float64 else np.float32
    flat = torch.from_numpy(np.ascontiguousarray(
        a.reshape((-1,) + a.shape[-3:] if a.ndim > 2 else (1, 1) + a.shape).astype(work)))
    out = torch.nn.functional.interpolate(flat, size=(out_h, out_w), mode=interpolation.value,
                                          align_corners=False, antialias=antialias).numpy()
    out = out.reshape(a.shape[:-2] + (out_h, out_w))
    return _tensor(_round_back(out, a.dtype, clamp=interpolation == InterpolationMode.BICUBIC))


def crop(img, top, left, height, width):
    """The region [top, top+height) x [left, left+width); outside the image is zero."""
    _check_image(img, "crop")
    if _is_pil_image(img):
        return img.crop((left, top, left + width, top + height))
    a = _arr(img)
    _, h, w = get_dimensions(img)
    right, bottom = left + width, top + height
    if left < 0 or top < 0 or right > w or bottom > h:
        pad_ = [max(-left, 0), max(-top, 0), max(right - w, 0), max(bottom - h, 0)]
        a = a[..., max(top, 0):min(bottom, h), max(left, 0):min(right, w)]
        return _tensor(_pad_array(a, pad_, 0, "constant"))
    return _tensor(a[..., top:bottom, left:right])


def center_crop(img, output_size):
    """Crop the centre (padding with zeros first when the image is smaller)."""
    _check_image(img, "center_crop")
    if isinstance(output_size, numbers.Number):
        output_size = (int(output_size), int(output_size))
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 1:
        output_size = (output_size[0], output_size[0])
    _, h, w = get_dimensions(img)
    ch, cw = output_size
    if cw > w or ch > h:
        padding = [(cw - w) // 2 if cw > w else 0, (ch - h) // 2 if ch > h else 0,
                   (cw - w + 1) // 2 if cw > w else 0, (ch - h + 1) // 2 if ch > h else 0]
        img = pad(img, padding, fill=0)
        _, h, w = get_dimensions(img)
        if cw == w and ch == h:
            return img
    return crop(img, int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0)), ch, cw)


def five_crop(img, size):
    """The four corner crops and the centre crop of ``size`` ((h, w) or an int)."""
    if isinstance(size, numbers.Number):
        size = (int(size), int(size))
    elif isinstance(size, (tuple, list)) and len(size) == 1:
        size = (size[0], size[0])
    if len(size) != 2:
        raise ValueError("Please provide only two dimensions (h, w) for size.")
    _, h, w = get_dimensions(img)
    ch, cw = size
    if cw > w or ch > h:
        raise ValueError(f"Requested crop size {size} is bigger than input size {(h, w)}")
    return (crop(img, 0, 0, ch, cw), crop(img, 0, w - cw, ch, cw), crop(img, h - ch, 0, ch, cw),
            crop(img, h - ch, w - cw, ch, cw), center_crop(img, [ch, cw]))


def ten_crop(img, size, vertical_flip=False):
    """``five_crop`` of the image and of its horizontal (or vertical) flip."""
    first = five_crop(img, size)
    return first + five_crop(vflip(img) if vertical_flip else hflip(img), size)


def resized_crop(img, top, left, height, width, size, interpolation=InterpolationMode.BILINEAR,
                 antialias=True):
    return resize(crop(img, top, left, height, width), size, interpolation, antialias=antialias)


def _parse_padding(padding):
    if isinstance(padding, numbers.Number):
        padding = [int(padding)]
    if not isinstance(padding, (list, tuple)):
        raise TypeError(f"pad: padding should be an int or a sequence, "
                        f"got {type(padding).__name__}")
    padding = list(padding)
    if len(padding) == 1:
        return padding * 4
    if len(padding) == 2:
        return [padding[0], padding[1], padding[0], padding[1]]
    if len(padding) == 4:
        return padding
    raise ValueError(f"pad: padding must be an int or a 1, 2, or 4 element sequence, not a "
                     f"{len(padding)} element one")


def _pad_array(a, ltrb, fill, mode):
    left, top, right, bottom = ltrb
    crop_ = [max(-p, 0) for p in ltrb]
    if any(crop_):
        a = a[..., crop_[1]:a.shape[-2] - crop_[3], crop_[0]:a.shape[-1] - crop_[2]]
        left, top, right, bottom = [max(p, 0) for p in ltrb]
    widths = [(0, 0)] * (a.ndim - 2) + [(top, bottom), (left, right)]
    if mode == "constant":
        fill_ = 0 if fill is None else fill
        if isinstance(fill_, (list, tuple)):
            if a.ndim < 3 or len(fill_) not in (1, a.shape[-3]):
                raise ValueError(f"pad: fill {fill_} does not match the image's channels")
            out = np.stack([np.pad(a[..., i, :, :], widths[:-3] + widths[-2:], "constant",
                                   constant_values=fill_[i if len(fill_) > 1 else 0])
                            for i in range(a.shape[-3])], axis=-3)
            return out
        return np.pad(a, widths, "constant", constant_values=fill_)
    return np.pad(a, widths, {"edge": "edge", "reflect": "reflect", "symmetric": "symmetric"}[mode])


def pad(img, padding, fill=0, padding_mode="constant"):
    """Pad the borders: an int (all sides), (left/right, top/bottom) or (left, top, right,
    bottom); padding_mode constant (with ``fill``), edge, reflect or symmetric."""
    _check_image(img, "pad")
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("pad: padding mode should be either constant, edge, reflect or symmetric")
    ltrb = _parse_padding(padding)
    if _is_pil_image(img):
        PIL = _pil()
        if padding_mode == "constant":
            opts = _parse_fill(fill, img, "fill")
            border = ltrb[0] if len(set(ltrb)) == 1 else tuple(ltrb)
            out = PIL.ImageOps.expand(img, border=border, **opts)
            if img.mode == "P":
                out.putpalette(img.getpalette())
            return out
        a = _pad_array(np.asarray(img)[None] if np.asarray(img).ndim == 2
                       else np.asarray(img).transpose(2, 0, 1), ltrb, None, padding_mode)
        a = a[0] if np.asarray(img).ndim == 2 else a.transpose(1, 2, 0)
        out = PIL.Image.fromarray(np.ascontiguousarray(a))
        if img.mode == "P":
            out.putpalette(img.getpalette())
        return out
    a = _arr(img)
    two_d = a.ndim == 2
    out = _pad_array(a[None] if two_d else a, ltrb, fill, padding_mode)
    return _tensor(out[0] if two_d else out)


def hflip(img):
    _check_image(img, "hflip")
    if _is_pil_image(img):
        return img.transpose(_pil().Image.FLIP_LEFT_RIGHT)
    return _tensor(_arr(img)[..., ::-1])


def vflip(img):
    _check_image(img, "vflip")
    if _is_pil_image(img):
        return img.transpose(_pil().Image.FLIP_TOP_BOTTOM)
    return _tensor(_arr(img)[..., ::-1, :])


def rotate(img, angle, interpolation=InterpolationMode.NEAREST, expand=False, center=None,
           fill=None):
    """Rotate by ``angle`` degrees counter-clockwise about ``center`` (default: the centre)."""
    _check_image(img, "rotate")
    interpolation = _interp(interpolation)
    if interpolation not in (InterpolationMode.NEAREST, InterpolationMode.BILINEAR):
        raise ValueError(f"rotate: interpolation should be nearest or bilinear, got "
                         f"{interpolation.value}")
    if _is_pil_image(img):
        return img.rotate(angle, _PIL_CODES[interpolation], expand, center,
                          **_parse_fill(fill, img))
    # torchvision rotates tensors by grid sampling (Pillow's rotate picks other pixels)
    return rotate_grid_image(img, angle, interpolation, expand, center, fill)


# ---------------------------------------------------------------------------------------------
# colour

def adjust_brightness(img, brightness_factor):
    _check_image(img, "adjust_brightness")
    _check_factor("adjust_brightness", brightness_factor)
    if _is_pil_image(img):
        return _pil().ImageEnhance.Brightness(img).enhance(brightness_factor)
    a = _arr(img)
    return _tensor(_blend(a, np.zeros_like(a, dtype=np.float32), brightness_factor))


def adjust_contrast(img, contrast_factor):
    _check_image(img, "adjust_contrast")
    _check_factor("adjust_contrast", contrast_factor)
    if _is_pil_image(img):
        return _pil().ImageEnhance.Contrast(img).enhance(contrast_factor)
    a = _arr(img)
    g = _gray(a) if _channels(a) == 3 else a
    mean = g.astype(np.float32).mean(axis=(-3, -2, -1), keepdims=True, dtype=np.float32)
    return _tensor(_blend(a, mean, contrast_factor))


def adjust_saturation(img, saturation_factor):
    _check_image(img, "adjust_saturation")
    _check_factor("adjust_saturation", saturation_factor)
    if _is_pil_image(img):
        return _pil().ImageEnhance.Color(img).enhance(saturation_factor)
    a = _arr(img)
    if _channels(a) == 1:
        return img
    return _tensor(_blend(a, _gray(a).astype(np.float32), saturation_factor))


def _rgb2hsv(a):
    r, g, b = a[..., 0, :, :], a[..., 1, :, :], a[..., 2, :, :]
    maxc, minc = a.max(axis=-3), a.min(axis=-3)
    eqc = maxc == minc
    cr = maxc - minc
    ones = np.ones_like(maxc)
    s = cr / np.where(eqc, ones, maxc)
    div = np.where(eqc, ones, cr)
    rc, gc, bc = (maxc - r) / div, (maxc - g) / div, (maxc - b) / div
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (np.float32(2.0) + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (np.float32(4.0) + gc - rc)
    h = np.fmod((hr + hg + hb) / np.float32(6.0) + np.float32(1.0), np.float32(1.0))
    return h.astype(np.float32), s.astype(np.float32), maxc


def _hsv2rgb(h, s, v):
    i = np.floor(h * np.float32(6.0))
    f = h * np.float32(6.0) - i
    i = i.astype(np.int32) % 6
    one = np.float32(1.0)
    p = np.clip(v * (one - s), 0.0, 1.0)
    q = np.clip(v * (one - s * f), 0.0, 1.0)
    t = np.clip(v * (one - s * (one - f)), 0.0, 1.0)
    sel = [i == k for k in range(6)]
    r = np.select(sel, [v, q, p, p, t, v])
    g = np.select(sel, [t, v, v, q, p, p])
    b = np.select(sel, [p, p, t, v, v, q])
    return np.stack([r, g, b], axis=-3).astype(np.float32)


def adjust_hue(img, hue_factor):
    """Shift the hue by ``hue_factor`` (in [-0.5, 0.5], a fraction of the colour wheel)."""
    _check_image(img, "adjust_hue")
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    if _is_pil_image(img):
        PIL = _pil()
        mode = img.mode
        if mode in {"L", "1", "I", "F"}:
            return img
        h, s, v = img.convert("HSV").split()
        np_h = np.array(h, dtype=np.uint8)
        np_h += np.array(np.int32(hue_factor * 255)).astype(np.uint8)
        h = PIL.Image.fromarray(np_h)
        return PIL.Image.merge("HSV", (h, s, v)).convert(mode)
    a = _arr(img)
    if _channels(a) == 1:
        return img
    f = a.astype(np.float32) if _is_float(a) else a.astype(np.float32) / np.float32(255)
    h, s, v = _rgb2hsv(f)
    h = np.mod(h + np.float32(hue_factor), np.float32(1.0))
    out = _hsv2rgb(h, s, v)
    if not _is_float(a):
        out = (out * np.float32(255 + 1.0 - 1e-3)).astype(a.dtype)
    return _tensor(out.astype(a.dtype))


def rgb_to_grayscale(img, num_output_channels=1):
    """Luma (ITU-R 601-2: 0.2989 R + 0.587 G + 0.114 B), 1 or 3 output channels."""
    _check_image(img, "rgb_to_grayscale")
    if num_output_channels not in (1, 3):
        raise ValueError("num_output_channels should be either 1 or 3")
    if _is_pil_image(img):
        out = img.convert("L")
        if num_output_channels == 3:
            g = np.asarray(out)
            out = _pil().Image.fromarray(np.ascontiguousarray(np.dstack([g, g, g])))
        return out
    a = _arr(img)
    c = _channels(a)
    if c not in (1, 3):
        raise TypeError(f"rgb_to_grayscale: input image should have 1 or 3 channels, got {c}")
    g = a if c == 1 else _gray(a)
    if num_output_channels == 3:
        g = np.broadcast_to(g, g.shape[:-3] + (3,) + g.shape[-2:])
    return _tensor(g)


to_grayscale = rgb_to_grayscale

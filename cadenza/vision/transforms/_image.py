"""Shared pieces of the image functions (``functional`` and ``_augment``): interpolation modes,
input checks, the tensor image <-> NumPy array conventions and the blending/grey formulas that
torchvision's tensor kernels use."""
from __future__ import annotations

import enum

import numpy as np

import cadenza as torch
from .._pil import is_pil_image as _is_pil_image, pil as _pil


class InterpolationMode(enum.Enum):
    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


_PIL_CODES = {InterpolationMode.NEAREST: 0, InterpolationMode.NEAREST_EXACT: 0,
              InterpolationMode.LANCZOS: 1, InterpolationMode.BILINEAR: 2,
              InterpolationMode.BICUBIC: 3, InterpolationMode.BOX: 4,
              InterpolationMode.HAMMING: 5}


_FROM_PIL = {0: InterpolationMode.NEAREST, 1: InterpolationMode.LANCZOS,
             2: InterpolationMode.BILINEAR, 3: InterpolationMode.BICUBIC,
             4: InterpolationMode.BOX, 5: InterpolationMode.HAMMING}


def _interp(mode) -> InterpolationMode:
    if isinstance(mode, InterpolationMode):
        return mode
    if isinstance(mode, int) and mode in _FROM_PIL:
        return _FROM_PIL[mode]
    raise TypeError(f"interpolation should be an InterpolationMode or a PIL code, got {mode!r}")


def _check_image(img, fn):
    if not (_is_pil_image(img) or isinstance(img, torch.Tensor)):
        raise TypeError(f"{fn}: img should be a PIL Image or a Tensor, got {type(img).__name__}")


def _arr(t):
    """A tensor image's NumPy array ([..., C, H, W]); a 2-D tensor counts as one channel."""
    if t.ndim < 2:
        raise TypeError(f"tensor is not an image: expected [..., H, W], got shape {tuple(t.shape)}")
    return t.detach().numpy()


def _tensor(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def _is_float(a) -> bool:
    return np.issubdtype(a.dtype, np.floating)


def _channels(a) -> int:
    return 1 if a.ndim == 2 else a.shape[-3]


def get_dimensions(img) -> list:
    """[channels, height, width]."""
    if isinstance(img, torch.Tensor):
        a = img.shape
        return [1 if len(a) == 2 else a[-3], a[-2], a[-1]]
    _check_image(img, "get_dimensions")
    return [len(img.getbands()), img.height, img.width]


def _per_channel_pil(a, fn):
    """Apply ``fn`` (PIL 'F' image -> PIL 'F' image) to every channel of a float [..., H, W]
    array (torchvision's antialiased tensor kernels follow Pillow's, so this matches them)."""
    Image = _pil().Image
    lead = a.shape[:-2]
    flat = a.reshape(-1, a.shape[-2], a.shape[-1]).astype(np.float32)
    outs = [np.asarray(fn(Image.fromarray(np.ascontiguousarray(ch), mode="F")), dtype=np.float32)
            for ch in flat]
    return np.stack(outs).reshape(lead + outs[0].shape)


def _round_back(out, dtype, clamp=False):
    if np.issubdtype(dtype, np.floating):
        return out.astype(dtype)
    info = np.iinfo(dtype)
    if clamp:
        out = np.clip(out, info.min, info.max)
    return np.round(out).astype(dtype)


def _parse_fill(fill, img, name="fillcolor"):
    n = len(img.getbands())
    fill = 0 if fill is None else fill
    if isinstance(fill, (int, float)) and n > 1:
        fill = tuple([fill] * n)
    if isinstance(fill, (list, tuple)):
        if len(fill) == 1:
            fill = tuple(fill) * n
        elif len(fill) != n:
            raise ValueError(f"The number of elements in 'fill' does not match the number of "
                             f"channels of the image ({len(fill)} != {n})")
        fill = tuple(fill)
    if img.mode != "F":
        fill = tuple(int(x) for x in fill) if isinstance(fill, tuple) else int(fill)
    return {name: fill}


def _blend(a, b, ratio):
    bound = 1.0 if _is_float(a) else 255.0
    out = np.clip(np.float32(ratio) * a.astype(np.float32) + np.float32(1.0 - ratio) * b,
                  0, bound)
    return out.astype(a.dtype)


def _gray(a):
    r, g, b = a[..., 0, :, :], a[..., 1, :, :], a[..., 2, :, :]
    f = np.float32
    return (f(0.2989) * r.astype(f) + f(0.587) * g.astype(f) + f(0.114) * b.astype(f)) \
        .astype(a.dtype)[..., None, :, :]


def _check_factor(name, factor):
    if factor < 0:
        raise ValueError(f"{name}: factor ({factor}) is not non-negative.")

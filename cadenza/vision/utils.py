"""torchvision.utils: make_grid and save_image (PNG, or any format Pillow writes)."""
from __future__ import annotations

import math

import numpy as np

import cadenza as torch
from ._pil import pil as _pil

__all__ = ["make_grid", "save_image"]


def _normalize(a, value_range):
    low, high = (float(a.min()), float(a.max())) if value_range is None else value_range
    a = np.clip(a, low, high)
    return (a - np.float32(low)) / np.float32(max(high - low, 1e-5))


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False,
              pad_value=0.0):
    """Tile a batch (B, C, H, W) or list of images into one (3 or C, H', W') image: ``nrow``
    images a row, ``padding`` pixels of ``pad_value`` between them; ``normalize`` shifts each
    image (``scale_each``) or the batch to [0, 1] by ``value_range`` or its min and max."""
    if isinstance(tensor, list):
        for t in tensor:
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"tensor or list of tensors expected, got a list containing "
                                f"{type(t)}")
        tensor = torch.stack(tensor, dim=0)
    elif not isinstance(tensor, torch.Tensor):
        raise TypeError(f"tensor or list of tensors expected, got {type(tensor)}")
    a = tensor.detach().numpy()
    if a.ndim == 2:
        a = a[None]
    if a.ndim == 3:
        if a.shape[0] == 1:
            a = np.concatenate([a, a, a], 0)
        a = a[None]
    if a.ndim != 4:
        raise ValueError(f"make_grid: expected images of shape (B, C, H, W), (C, H, W) or (H, W), "
                         f"got {tuple(tensor.shape)}")
    if a.shape[1] == 1:
        a = np.concatenate([a, a, a], 1)
    if normalize:
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError("value_range has to be a tuple (min, max) if specified. min and max "
                            "are numbers")
        a = (np.stack([_normalize(t, value_range) for t in a]) if scale_each
             else _normalize(a, value_range)).astype(a.dtype)
    if a.shape[0] == 1:
        return torch.from_numpy(np.ascontiguousarray(a[0]))
    nmaps = a.shape[0]
    xmaps = min(nrow, nmaps)
    ymaps = int(math.ceil(float(nmaps) / xmaps))
    height, width = a.shape[2] + padding, a.shape[3] + padding
    grid = np.full((a.shape[1], height * ymaps + padding, width * xmaps + padding), pad_value,
                   dtype=a.dtype)
    for k in range(nmaps):
        y, x = divmod(k, xmaps)
        grid[:, y * height + padding:(y + 1) * height, x * width + padding:(x + 1) * width] = a[k]
    return torch.from_numpy(grid)


def save_image(tensor, fp, format=None, **kwargs):
    """make_grid(tensor, **kwargs) written as an image file (values in [0, 1] rounded to 0..255)."""
    grid = make_grid(tensor, **kwargs).numpy()
    arr = np.clip(grid * np.float32(255) + np.float32(0.5), 0, 255).astype(np.uint8)
    _pil().Image.fromarray(np.ascontiguousarray(arr.transpose(1, 2, 0))).save(fp, format=format)

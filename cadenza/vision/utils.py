"""torchvision.utils: make_grid, save_image (PNG, or any format Pillow writes), and drawing boxes
and segmentation masks on uint8 images."""
from __future__ import annotations

import math

import numpy as np

import cadenza as torch
from ._pil import pil as _pil

__all__ = ["make_grid", "save_image", "draw_bounding_boxes", "draw_segmentation_masks"]


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


def _palette(n):
    """torchvision's default box/mask colours: (i * (2^25-1, 2^15-1, 2^21-1)) mod 255."""
    base = np.array([2 ** 25 - 1, 2 ** 15 - 1, 2 ** 21 - 1])
    return [tuple(int(c) for c in (i * base) % 255) for i in range(n)]


def _colors(colors, n):
    if colors is None:
        return _palette(n)
    if isinstance(colors, (str, tuple)):
        colors = [colors] * n
    if len(colors) < n:
        raise ValueError(f"Number of colors ({len(colors)}) is less than number of boxes ({n})")
    PIL = _pil()
    return [PIL.ImageColor.getrgb(c) if isinstance(c, str) else tuple(int(v) for v in c)
            for c in colors[:n]]


def _check_uint8_image(image, op):
    if not isinstance(image, torch.Tensor) or image.dtype is not torch.uint8 or \
            image.dim() != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"{op}: expected a uint8 tensor [C, H, W] with 1 or 3 channels")


def draw_bounding_boxes(image, boxes, labels=None, colors=None, fill=False, width=1,
                        font=None, font_size=None, label_colors=None):
    """The image (uint8 [C, H, W]) with the boxes (x1, y1, x2, y2) drawn, optionally filled
    (translucent) and labelled."""
    _check_uint8_image(image, "draw_bounding_boxes")
    b = boxes.detach().numpy()
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError("draw_bounding_boxes: boxes should be [N, 4] (x1, y1, x2, y2)")
    if ((b[:, 0] > b[:, 2]) | (b[:, 1] > b[:, 3])).any():
        raise ValueError("Boxes need to be in (xmin, ymin, xmax, ymax) format. Use "
                         "torchvision.ops.box_convert to convert them")
    n = b.shape[0]
    if labels is not None and len(labels) != n:
        raise ValueError(f"Number of boxes ({n}) and labels ({len(labels)}) mismatch. Please "
                         f"specify labels for each box.")
    if n == 0:
        return image
    PIL = _pil()
    a = image.numpy().transpose(1, 2, 0)
    gray = a.shape[2] == 1
    img = PIL.Image.fromarray(np.ascontiguousarray(np.repeat(a, 3, 2) if gray else a))
    draw = PIL.ImageDraw.Draw(img, "RGBA" if fill else None)
    cols = _colors(colors, n)
    lcols = _colors(label_colors, n) if label_colors is not None else cols
    txt_font = PIL.ImageFont.load_default() if font is None else \
        PIL.ImageFont.truetype(font=font, size=font_size or 10)
    for k, (box, color) in enumerate(zip(b.tolist(), cols)):
        if fill:
            draw.rectangle(box, width=width, outline=color, fill=color + (100,))
        else:
            draw.rectangle(box, width=width, outline=color)
        if labels is not None and labels[k]:
            margin = width + 1
            draw.text((box[0] + margin, box[1] + margin), labels[k], fill=lcols[k],
                      font=txt_font)
    out = np.asarray(img)
    out = out[:, :, :1] if gray else out
    return torch.from_numpy(np.ascontiguousarray(out.transpose(2, 0, 1)))


def draw_segmentation_masks(image, masks, alpha=0.8, colors=None):
    """The image with each boolean mask [H, W] (or [N, H, W]) painted in its colour, blended
    with weight ``alpha``."""
    _check_uint8_image(image, "draw_segmentation_masks")
    m = masks.detach().numpy()
    if m.ndim == 2:
        m = m[None]
    if m.dtype != np.bool_:
        raise ValueError(f"The masks must be of dtype bool. Got {m.dtype}")
    if m.shape[-2:] != tuple(image.shape[-2:]):
        raise ValueError("The image and the masks must have the same height and width")
    a = image.numpy()
    if m.shape[0] == 0:
        return image
    out = a.copy()
    for mask, color in zip(m, _colors(colors, m.shape[0])):
        out[:, mask] = np.array(color[:a.shape[0]], dtype=np.uint8)[:, None]
    out[:, m.sum(0) > 1] = 0              # overlaps are black, as in torchvision
    f = np.float32
    blended = a.astype(f) * f(1 - alpha) + out.astype(f) * f(alpha)
    return torch.from_numpy(blended.astype(np.uint8))

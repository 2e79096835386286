"""torchvision.io for images: read/decode/encode/write PNG and JPEG through Pillow. Images are
uint8 tensors [C, H, W]; encoded files are 1-d uint8 tensors of their bytes."""
from __future__ import annotations

import enum
import io as _io

import numpy as np

import cadenza as torch
from ._pil import pil as _pil

__all__ = ["ImageReadMode", "read_file", "write_file", "decode_image", "read_image",
           "decode_png", "decode_jpeg", "encode_png", "encode_jpeg", "write_png", "write_jpeg"]


class ImageReadMode(enum.Enum):
    UNCHANGED = 0
    GRAY = 1
    GRAY_ALPHA = 2
    RGB = 3
    RGB_ALPHA = 4
    RGBA = 4


_PIL_MODE = {ImageReadMode.GRAY: "L", ImageReadMode.GRAY_ALPHA: "LA",
             ImageReadMode.RGB: "RGB", ImageReadMode.RGB_ALPHA: "RGBA"}


def read_file(path) -> torch.Tensor:
    """The file's bytes as a 1-d uint8 tensor."""
    with open(path, "rb") as f:
        data = f.read()
    return torch.from_numpy(np.frombuffer(data, dtype=np.uint8).copy())


def write_file(filename, data) -> None:
    if not isinstance(data, torch.Tensor) or data.dtype is not torch.uint8 or data.dim() != 1:
        raise ValueError("write_file: data should be a 1-d uint8 tensor")
    with open(filename, "wb") as f:
        f.write(data.numpy().tobytes())


def _mode(mode):
    if isinstance(mode, str):
        mode = ImageReadMode[mode.upper()]
    if not isinstance(mode, ImageReadMode):
        raise TypeError(f"mode should be an ImageReadMode, got {mode!r}")
    return mode


def decode_image(input, mode=ImageReadMode.UNCHANGED, apply_exif_orientation=False):
    """Encoded bytes (a 1-d uint8 tensor) or a path -> uint8 image tensor [C, H, W]."""
    if isinstance(input, (str, bytes)) or hasattr(input, "__fspath__"):
        input = read_file(input)
    if not isinstance(input, torch.Tensor) or input.dtype is not torch.uint8 or \
            input.dim() != 1:
        raise ValueError("decode_image: expected a 1-d uint8 tensor of encoded bytes")
    PIL = _pil()
    img = PIL.Image.open(_io.BytesIO(input.numpy().tobytes()))
    if apply_exif_orientation:
        img = PIL.ImageOps.exif_transpose(img)
    mode = _mode(mode)
    if mode is not ImageReadMode.UNCHANGED:
        img = img.convert(_PIL_MODE[mode])
    elif img.mode not in ("L", "LA", "RGB", "RGBA"):
        img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
    a = np.asarray(img)
    a = a[:, :, None] if a.ndim == 2 else a
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))


def read_image(path, mode=ImageReadMode.UNCHANGED, apply_exif_orientation=False):
    return decode_image(read_file(path), mode, apply_exif_orientation)


decode_png = decode_image


def decode_jpeg(input, mode=ImageReadMode.UNCHANGED, device="cpu",
                apply_exif_orientation=False):
    if isinstance(input, (list, tuple)):
        return [decode_image(x, mode, apply_exif_orientation) for x in input]
    return decode_image(input, mode, apply_exif_orientation)


def _to_pil(image, op):
    if not isinstance(image, torch.Tensor) or image.dtype is not torch.uint8 or \
            image.dim() != 3 or image.shape[0] not in (1, 2, 3, 4):
        raise ValueError(f"{op}: expected a uint8 tensor [C, H, W] with 1 to 4 channels")
    a = image.numpy().transpose(1, 2, 0)
    modes = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
    return _pil().Image.fromarray(np.ascontiguousarray(a[:, :, 0] if a.shape[2] == 1 else a),
                                  mode=modes[a.shape[2]])


def _encode(image, fmt, op, **kw):
    buf = _io.BytesIO()
    _to_pil(image, op).save(buf, format=fmt, **kw)
    return torch.from_numpy(np.frombuffer(buf.getvalue(), dtype=np.uint8).copy())


def encode_png(input, compression_level=6):
    if not 0 <= compression_level <= 9:
        raise ValueError("Compression level should be between 0 and 9")
    return _encode(input, "PNG", "encode_png", compress_level=compression_level)


def encode_jpeg(input, quality=75):
    if isinstance(input, (list, tuple)):
        return [encode_jpeg(x, quality) for x in input]
    if not 1 <= quality <= 100:
        raise ValueError("Image quality should be a positive number between 1 and 100")
    if input.dim() == 3 and input.shape[0] in (2, 4):
        raise ValueError("encode_jpeg: JPEG has no alpha channel (1 or 3 channels expected)")
    return _encode(input, "JPEG", "encode_jpeg", quality=quality)


def write_png(input, filename, compression_level=6):
    write_file(filename, encode_png(input, compression_level))


def write_jpeg(input, filename, quality=75):
    write_file(filename, encode_jpeg(input, quality))

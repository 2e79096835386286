"""torchvision.transforms.v2.functional: the v1 functions, plus functionals that dispatch on
what the input is (``tv_tensors``): images (PIL, ``Image`` or a plain tensor), videos, masks and
bounding boxes, each with its own kernel (``resize_image``, ``resize_mask``,
``resize_bounding_boxes`` ...), the output wrapped as the input was (same tv_tensor type, boxes
with their new ``canvas_size``). Box kernels follow torchvision's arithmetic (integer boxes
computed in float32 and truncated back; clamping to the canvas by ``clamping_mode``); masks are
resampled with nearest interpolation. Axis-aligned box formats (XYXY, XYWH, CXCYWH) only."""
from __future__ import annotations

import io as _io
import numbers

import numpy as np

import cadenza as torch
from .. import functional as _v1
from ..functional import *  # noqa: F401,F403
from ..functional import __all__ as _v1_all
from .._augment import _affine_parse
from ..functional import (convert_image_dtype, pil_to_tensor, to_pil_image, InterpolationMode,
                          get_dimensions)
from .._warp import (perspective as perspective_image, elastic_transform as elastic_image,
                     _perspective_coefficients, _check_displacement, _identity_grid,
                     _check_interpolation, _affine_matrix, _affine_output_size,
                     affine_grid_image, rotate_grid_image)
from ..._pil import is_pil_image, pil as _pil
from ... import tv_tensors
from ...tv_tensors import BoundingBoxes, BoundingBoxFormat, Mask, Video
from ... import io as _vio

__all__ = list(_v1_all) + [
    "to_image", "to_dtype", "horizontal_flip", "vertical_flip", "get_size",
    "resize_image", "resize_mask", "resize_bounding_boxes", "resize_video",
    "crop_image", "crop_mask", "crop_bounding_boxes", "center_crop_image", "center_crop_mask",
    "center_crop_bounding_boxes", "resized_crop_bounding_boxes", "resized_crop_mask",
    "pad_image", "pad_mask", "pad_bounding_boxes", "horizontal_flip_image",
    "horizontal_flip_mask", "horizontal_flip_bounding_boxes", "vertical_flip_image",
    "vertical_flip_mask", "vertical_flip_bounding_boxes", "affine_image", "affine_mask",
    "affine_bounding_boxes", "rotate_image", "rotate_mask", "rotate_bounding_boxes",
    "perspective_image", "perspective_mask", "perspective_bounding_boxes",
    "elastic", "elastic_image", "elastic_mask", "elastic_bounding_boxes",
    "convert_bounding_box_format", "clamp_bounding_boxes", "sanitize_bounding_boxes",
    "gaussian_noise", "permute_channels", "jpeg", "to_pure_tensor", "grayscale_to_rgb",
    "grayscale_to_rgb_image", "uniform_temporal_subsample", "uniform_temporal_subsample_video",
    "is_pure_tensor", "get_num_channels", "get_num_frames", "get_size_image", "get_size_mask",
    "get_size_video", "get_size_bounding_boxes"]

_ROTATED = ("XYWHR", "CXCYWHR", "XYXYXYXY")


# ---------------------------------------------------------------------------------------------
# conversions

def to_image(inpt):
    """PIL image or HWC ndarray -> ``tv_tensors.Image`` (CHW, same dtype)."""
    if isinstance(inpt, np.ndarray):
        a = inpt[:, :, None] if inpt.ndim == 2 else inpt
        return tv_tensors.Image(torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))))
    if isinstance(inpt, torch.Tensor):
        return tv_tensors.Image(inpt)
    if is_pil_image(inpt):
        return tv_tensors.Image(pil_to_tensor(inpt))
    raise TypeError(f"Input can either be a pure Tensor, a numpy array, or a PIL image, but "
                    f"got {type(inpt)} instead.")


def to_dtype(inpt, dtype=torch.float32, scale=False):
    if not scale or isinstance(inpt, (BoundingBoxes, Mask)):
        return _like(inpt.to(dtype), inpt)
    return _like(convert_image_dtype(inpt, dtype), inpt)


def to_pure_tensor(inpt):
    return inpt.as_subclass(torch.Tensor) if isinstance(inpt, torch.Tensor) else inpt


def _like(out, inpt, **kwargs):
    """``out`` wrapped as ``inpt``'s tv_tensor type (PIL and plain tensors as they are)."""
    if isinstance(inpt, tv_tensors.TVTensor):
        if isinstance(out, tv_tensors.TVTensor):
            out = out.as_subclass(torch.Tensor)
        return tv_tensors.wrap(out, like=inpt, **kwargs)
    return out


# ---------------------------------------------------------------------------------------------
# dispatch

def _dispatch(name, inpt, image, mask, boxes, video=None, pil=None):
    """Call the kernel for what ``inpt`` is and wrap the output like the input."""
    if isinstance(inpt, (BoundingBoxes, Mask)) and (boxes if isinstance(inpt, BoundingBoxes)
                                                    else mask) is None:
        return inpt      # not a geometric change: boxes and masks pass through
    if isinstance(inpt, BoundingBoxes):
        if tv_tensors.is_rotated_bounding_format(inpt.format):
            raise ValueError(f"{name}: rotated bounding boxes ({inpt.format.value}) are not "
                             f"supported by cadenza.vision; use XYXY, XYWH or CXCYWH")
        out = boxes(inpt)
        if isinstance(out, tuple):
            out, canvas = out
            return _like(out, inpt, canvas_size=tuple(canvas))
        return _like(out, inpt)
    if isinstance(inpt, Mask):
        return _like(mask(inpt.as_subclass(torch.Tensor)), inpt)
    if isinstance(inpt, Video):
        return _like((video or image)(inpt.as_subclass(torch.Tensor)), inpt)
    if is_pil_image(inpt):
        return (pil or image)(inpt)
    if isinstance(inpt, torch.Tensor):
        plain = inpt.as_subclass(torch.Tensor) if isinstance(inpt, tv_tensors.TVTensor) \
            else inpt
        return _like(image(plain), inpt)
    raise TypeError(f"{name}() got an unsupported input type: {type(inpt).__name__} (expected a "
                    f"PIL image, a tensor or a tv_tensor)")


def _on_mask(fn, mask):
    """An image kernel on a mask: [..., H, W] with a channel dimension added when 2-d, bool
    computed as uint8."""
    squeeze = mask.ndim < 3
    m = mask.unsqueeze(0) if squeeze else mask
    is_bool = m.dtype == torch.bool
    out = fn(m.to(torch.uint8) if is_bool else m)
    if is_bool:
        out = out.to(torch.bool)
    return out.squeeze(0) if squeeze else out


def get_size(inpt):
    """[height, width] of an image, video, mask or the canvas of bounding boxes."""
    if isinstance(inpt, BoundingBoxes):
        return list(inpt.canvas_size)
    if is_pil_image(inpt):
        return [inpt.height, inpt.width]
    if isinstance(inpt, torch.Tensor):
        return list(inpt.shape[-2:])
    raise TypeError(f"get_size: unsupported input type {type(inpt).__name__}")


# ---------------------------------------------------------------------------------------------
# bounding box arithmetic (NumPy, torchvision's dtype rules)

def _fmt(format):
    if isinstance(format, str):
        format = BoundingBoxFormat[format.upper()]
    if not isinstance(format, BoundingBoxFormat):
        raise TypeError(f"format should be a BoundingBoxFormat or str, got {type(format)}")
    return format


def _np(t):
    return np.array(t.detach().numpy() if isinstance(t, torch.Tensor) else t)


def _float_dtype(a):
    return a.dtype if np.issubdtype(a.dtype, np.floating) else np.dtype(np.float32)


def _convert_np(a, old, new):
    """torchvision's box format conversion of an [..., 4] array (copy)."""
    old, new = _fmt(old), _fmt(new)
    if old == new:
        return a.copy()
    if (old.value in _ROTATED) != (new.value in _ROTATED):
        raise ValueError("Cannot convert between rotated and unrotated bounding boxes.")
    if old.value in _ROTATED:
        raise ValueError("convert_bounding_box_format: rotated formats are not supported by "
                         "cadenza.vision")
    is_int = not np.issubdtype(a.dtype, np.floating)
    b = a.copy()
    if old == BoundingBoxFormat.XYWH and new == BoundingBoxFormat.CXCYWH:
        b[..., :2] += b[..., 2:] // 2 if is_int else b[..., 2:] / 2
        return b
    if old == BoundingBoxFormat.CXCYWH and new == BoundingBoxFormat.XYWH:
        f = b.astype(np.float32) if is_int else b
        f[..., :2] -= f[..., 2:] / 2
        if is_int:
            x2y2 = (f[..., :2] + f[..., 2:]).astype(a.dtype)
            b = f.astype(a.dtype)
            b[..., 2:] = x2y2 - b[..., :2]
            return b
        return f
    if old == BoundingBoxFormat.XYWH:
        b[..., 2:] += b[..., :2]
    elif old == BoundingBoxFormat.CXCYWH:
        f = b.astype(np.float32) if is_int else b
        f[..., :2] -= f[..., 2:] / 2
        f[..., 2:] += f[..., :2]
        b = f.astype(a.dtype)
    if new == BoundingBoxFormat.XYWH:
        b[..., 2:] -= b[..., :2]
    elif new == BoundingBoxFormat.CXCYWH:
        b[..., 2:] -= b[..., :2]
        b[..., :2] = b[..., :2] * 2 + b[..., 2:]
        b[..., :2] = b[..., :2] // 2 if is_int else b[..., :2] / 2
    return b


def _clamp_np(a, format, canvas_size, clamping_mode):
    if clamping_mode is None:
        return a.copy()
    f = a.astype(_float_dtype(a), copy=True)
    xyxy = _convert_np(f, format, BoundingBoxFormat.XYXY)
    xyxy[..., 0::2] = np.clip(xyxy[..., 0::2], 0, canvas_size[1])
    xyxy[..., 1::2] = np.clip(xyxy[..., 1::2], 0, canvas_size[0])
    return _convert_np(xyxy, BoundingBoxFormat.XYXY, format).astype(a.dtype)


def _boxes_out(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def _box_kernel(fn):
    """A box kernel on tensors: (boxes, format=..., canvas_size=..., ...) computed on arrays."""
    def kernel(bounding_boxes, format, *args, **kwargs):
        format = _fmt(format)
        if format.value in _ROTATED:
            raise ValueError(f"{fn.__name__}: rotated bounding boxes are not supported by "
                             f"cadenza.vision")
        out = fn(_np(bounding_boxes), format, *args, **kwargs)
        if isinstance(out, tuple):
            return _boxes_out(out[0]), tuple(int(v) for v in out[1])
        return _boxes_out(out)
    kernel.__name__ = fn.__name__
    kernel.__doc__ = fn.__doc__
    return kernel


def convert_bounding_box_format(inpt, old_format=None, new_format=None, inplace=False):
    """Boxes from ``old_format`` to ``new_format`` (BoundingBoxes carry their own format)."""
    if new_format is None:
        raise TypeError("convert_bounding_box_format() missing 1 required argument: "
                        "'new_format'")
    new_format = _fmt(new_format)
    if isinstance(inpt, BoundingBoxes):
        if old_format is not None:
            raise ValueError("For bounding box tv_tensor inputs, `old_format` must not be "
                             "passed.")
        out = _boxes_out(_convert_np(_np(inpt), inpt.format, new_format))
        return tv_tensors.wrap(out, like=inpt, format=new_format)
    if isinstance(inpt, torch.Tensor):
        if old_format is None:
            raise ValueError("For pure tensor inputs, `old_format` has to be passed.")
        out = _boxes_out(_convert_np(_np(inpt), old_format, new_format))
        if inplace:
            inpt.copy_(out)
            return inpt
        return out
    raise TypeError(f"Input can either be a plain tensor or a bounding box tv_tensor, but got "
                    f"{type(inpt)} instead.")


def clamp_bounding_boxes(inpt, format=None, canvas_size=None, clamping_mode="auto"):
    """Boxes clamped to the canvas [0, W] x [0, H] (None: unchanged)."""
    if clamping_mode is not None and clamping_mode not in ("soft", "hard", "auto"):
        raise ValueError(f"clamping_mode must be soft, hard, auto or None, got {clamping_mode}")
    if isinstance(inpt, BoundingBoxes):
        if format is not None or canvas_size is not None:
            raise ValueError("For bounding box tv_tensor inputs, `format` and `canvas_size` "
                             "must not be passed.")
        if clamping_mode == "auto":
            clamping_mode = inpt.clamping_mode
        out = _clamp_np(_np(inpt), inpt.format, inpt.canvas_size, clamping_mode)
        return tv_tensors.wrap(_boxes_out(out), like=inpt)
    if isinstance(inpt, torch.Tensor):
        if format is None or canvas_size is None or clamping_mode == "auto":
            raise ValueError("For pure tensor inputs, `format`, `canvas_size` and "
                             "`clamping_mode` have to be passed.")
        return _boxes_out(_clamp_np(_np(inpt), _fmt(format), canvas_size, clamping_mode))
    raise TypeError(f"Input can either be a plain tensor or a bounding box tv_tensor, but got "
                    f"{type(inpt)} instead.")


def _flip_np(a, format, canvas_size, axis):
    size = canvas_size[1] if axis == 0 else canvas_size[0]
    b = a.reshape(-1, 4).copy()
    if format == BoundingBoxFormat.XYXY:
        b[:, [axis + 2, axis]] = size - b[:, [axis, axis + 2]]
    elif format == BoundingBoxFormat.XYWH:
        b[:, axis] = size - (b[:, axis] + b[:, axis + 2])
    else:
        b[:, axis] = size - b[:, axis]
    return b.reshape(a.shape)


@_box_kernel
def horizontal_flip_bounding_boxes(a, format, canvas_size):
    return _flip_np(a, format, canvas_size, 0)


@_box_kernel
def vertical_flip_bounding_boxes(a, format, canvas_size):
    return _flip_np(a, format, canvas_size, 1)


def _resized_size(canvas_size, size, max_size):
    if isinstance(size, int):
        size = [size]
    elif max_size is not None and size is not None and len(size) != 1:
        raise ValueError("max_size should only be passed if size is None or specifies the length "
                         "of the smaller edge, i.e. size should be an int or a sequence of "
                         "length 1 in torchscript mode.")
    return _v1._resized_size(canvas_size[0], canvas_size[1], size, max_size)


@_box_kernel
def resize_bounding_boxes(a, format, canvas_size, size, max_size=None, clamping_mode="soft"):
    new_h, new_w = _resized_size(canvas_size, size, max_size)
    if (new_h, new_w) == tuple(canvas_size):
        return a, canvas_size
    ratios = np.array([new_w / canvas_size[1], new_h / canvas_size[0]] * 2, dtype=np.float32)
    fd = _float_dtype(a)
    out = a.astype(fd) * ratios.astype(fd)
    return out.astype(a.dtype), (new_h, new_w)


def _shift_np(a, format, dx, dy, sign):
    shift = [dx, dy, dx, dy] if format == BoundingBoxFormat.XYXY else [dx, dy, 0, 0]
    return a + sign * np.array(shift, dtype=a.dtype)


@_box_kernel
def crop_bounding_boxes(a, format, top, left, height, width, clamping_mode="soft"):
    out = _shift_np(a, format, left, top, -1)
    return _clamp_np(out, format, (height, width), clamping_mode), (height, width)


def _center_crop_size(output_size):
    if isinstance(output_size, numbers.Number):
        return int(output_size), int(output_size)
    if isinstance(output_size, (tuple, list)) and len(output_size) == 1:
        return output_size[0], output_size[0]
    return output_size[0], output_size[1]


@_box_kernel
def center_crop_bounding_boxes(a, format, canvas_size, output_size, clamping_mode="soft"):
    ch, cw = _center_crop_size(output_size)
    top = int(round((canvas_size[0] - ch) / 2.0))
    left = int(round((canvas_size[1] - cw) / 2.0))
    out = _shift_np(a, format, left, top, -1)
    return _clamp_np(out, format, (ch, cw), clamping_mode), (ch, cw)


def resized_crop_bounding_boxes(bounding_boxes, format, top, left, height, width, size,
                                clamping_mode="soft"):
    boxes, canvas = crop_bounding_boxes(bounding_boxes, format, top, left, height, width,
                                        clamping_mode=clamping_mode)
    return resize_bounding_boxes(boxes, format, canvas_size=canvas, size=size,
                                 clamping_mode=clamping_mode)


def _parse_pad(padding):
    """[left, right, top, bottom] from an int or a 1, 2 or 4 element sequence."""
    if isinstance(padding, int):
        return [padding] * 4
    if isinstance(padding, (tuple, list)):
        if len(padding) == 1:
            return [padding[0]] * 4
        if len(padding) == 2:
            return [padding[0], padding[0], padding[1], padding[1]]
        if len(padding) == 4:
            return [padding[0], padding[2], padding[1], padding[3]]
        raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple or list. Found "
                         f"{len(padding)}")
    raise TypeError(f"`padding` should be an integer or tuple or list of integers, but got "
                    f"{padding}")


@_box_kernel
def pad_bounding_boxes(a, format, canvas_size, padding, padding_mode="constant",
                       clamping_mode="soft"):
    if padding_mode != "constant":
        raise ValueError(f"Padding mode '{padding_mode}' is not supported with bounding boxes")
    left, right, top, bottom = _parse_pad(padding)
    out = _shift_np(a, format, left, top, 1)
    canvas = (canvas_size[0] + top + bottom, canvas_size[1] + left + right)
    return _clamp_np(out, format, canvas, clamping_mode), canvas


def _affine_boxes_np(a, format, canvas_size, angle, translate, scale, shear, center=None,
                     expand=False, clamping_mode="soft"):
    if a.size == 0:
        return a, canvas_size
    f = a.astype(_float_dtype(a), copy=True)
    xyxy = _convert_np(f, format, BoundingBoxFormat.XYXY).reshape(-1, 4)
    angle, translate, shear, center = _affine_parse(angle, translate, scale, shear, center)
    height, width = canvas_size
    if center is None:
        center = [width * 0.5, height * 0.5]
    mt = np.array(_affine_matrix(center, angle, translate, scale, shear, False),
                  dtype=f.dtype).reshape(2, 3).T
    pts = xyxy[:, [[0, 1], [2, 1], [2, 3], [0, 3]]].reshape(-1, 2)
    pts = np.concatenate([pts, np.ones((pts.shape[0], 1), f.dtype)], axis=-1)
    tp = (pts @ mt).reshape(-1, 4, 2)
    out = np.concatenate([tp.min(1), tp.max(1)], axis=1)
    if expand:
        corners = np.array([[0.0, 0.0, 1.0], [0.0, float(height), 1.0],
                            [float(width), float(height), 1.0], [float(width), 0.0, 1.0]],
                           dtype=f.dtype)
        tr = (corners @ mt).min(0, keepdims=True)
        out = out - np.tile(tr, (1, 2))
        inv = _affine_matrix(center, angle, translate, scale, shear, True)
        new_w, new_h = _affine_output_size(inv, width, height)
        canvas_size = (new_h, new_w)
    out = _clamp_np(out, BoundingBoxFormat.XYXY, canvas_size, clamping_mode)
    out = _convert_np(out, BoundingBoxFormat.XYXY, format).reshape(a.shape)
    return out.astype(a.dtype), canvas_size


@_box_kernel
def affine_bounding_boxes(a, format, canvas_size, angle, translate, scale, shear, center=None,
                          clamping_mode="soft"):
    return _affine_boxes_np(a, format, canvas_size, angle, translate, scale, shear, center,
                            False, clamping_mode)[0]


@_box_kernel
def rotate_bounding_boxes(a, format, canvas_size, angle, expand=False, center=None,
                          clamping_mode="soft"):
    return _affine_boxes_np(a, format, canvas_size, -angle, [0.0, 0.0], 1.0, [0.0, 0.0],
                            center, expand, clamping_mode)


@_box_kernel
def perspective_bounding_boxes(a, format, canvas_size, startpoints, endpoints,
                               coefficients=None, clamping_mode="soft"):
    if a.size == 0:
        return a
    c = _perspective_coefficients(startpoints, endpoints, coefficients)
    xyxy = _convert_np(a, format, BoundingBoxFormat.XYXY).reshape(-1, 4)
    dt = _float_dtype(a)
    denom = c[0] * c[4] - c[1] * c[3]
    if denom == 0:
        raise RuntimeError(f"Provided perspective_coeffs {c} can not be inverted to transform "
                           f"bounding boxes. Denominator is zero, denom={denom}")
    inv = [(c[4] - c[5] * c[7]) / denom, (-c[1] + c[2] * c[7]) / denom,
           (c[1] * c[5] - c[2] * c[4]) / denom, (-c[3] + c[5] * c[6]) / denom,
           (c[0] - c[2] * c[6]) / denom, (-c[0] * c[5] + c[2] * c[3]) / denom,
           (-c[4] * c[6] + c[3] * c[7]) / denom, (-c[0] * c[7] + c[1] * c[6]) / denom]
    theta1 = np.array([inv[0:3], inv[3:6]], dtype=dt)
    theta2 = np.array([[inv[6], inv[7], 1.0]] * 2, dtype=dt)
    pts = xyxy[:, [[0, 1], [2, 1], [2, 3], [0, 3]]].reshape(-1, 2).astype(dt)
    pts = np.concatenate([pts, np.ones((pts.shape[0], 1), dt)], axis=-1)
    tp = ((pts @ theta1.T) / (pts @ theta2.T)).reshape(-1, 4, 2)
    out = np.concatenate([tp.min(1), tp.max(1)], axis=1)
    out = _clamp_np(out, BoundingBoxFormat.XYXY, canvas_size, clamping_mode)
    return _convert_np(out, BoundingBoxFormat.XYXY, format).reshape(a.shape).astype(a.dtype)


@_box_kernel
def elastic_bounding_boxes(a, format, canvas_size, displacement, clamping_mode="soft"):
    _check_displacement(displacement, *canvas_size)
    if a.size == 0:
        return a
    dt = _float_dtype(a)
    xyxy = _convert_np(a, format, BoundingBoxFormat.XYXY).reshape(-1, 4)
    inv_grid = _identity_grid(canvas_size[0], canvas_size[1], dt) - _np(displacement).astype(dt)
    pts = xyxy[:, [[0, 1], [2, 1], [2, 3], [0, 3]]].reshape(-1, 2)
    if np.issubdtype(pts.dtype, np.floating):
        pts = np.ceil(pts)
    idx = pts.astype(np.int64)
    ix = np.clip(idx[:, 0], 0, inv_grid.shape[2] - 1)
    iy = np.clip(idx[:, 1], 0, inv_grid.shape[1] - 1)
    t_size = np.array(canvas_size[::-1], dtype=dt)
    tp = ((inv_grid[0, iy, ix, :] + 1) * (dt.type(0.5) * t_size) - dt.type(0.5)).reshape(-1, 4, 2)
    out = np.concatenate([tp.min(1), tp.max(1)], axis=1).astype(a.dtype)
    out = _clamp_np(out, BoundingBoxFormat.XYXY, canvas_size, clamping_mode)
    return _convert_np(out, BoundingBoxFormat.XYXY, format).reshape(a.shape)


def sanitize_bounding_boxes(bounding_boxes, format=None, canvas_size=None, min_size=1.0,
                            min_area=1.0):
    """(the boxes kept, the boolean keep mask): boxes at least ``min_size`` wide and high, of
    area at least ``min_area``, inside the canvas."""
    if isinstance(bounding_boxes, BoundingBoxes):
        if format is not None or canvas_size is not None:
            raise ValueError("For BoundingBoxes inputs, `format` and `canvas_size` must be None")
        format, canvas_size = bounding_boxes.format, bounding_boxes.canvas_size
    elif format is None or canvas_size is None:
        raise ValueError("For pure tensor inputs, `format` and `canvas_size` must be passed")
    valid = torch.from_numpy(_valid_boxes(_np(bounding_boxes), _fmt(format), canvas_size,
                                          min_size, min_area))
    return bounding_boxes[valid], valid


def _valid_boxes(a, format, canvas_size, min_size, min_area):
    xyxy = _convert_np(a, format, BoundingBoxFormat.XYXY)
    ws, hs = xyxy[..., 2] - xyxy[..., 0], xyxy[..., 3] - xyxy[..., 1]
    valid = (ws >= min_size) & (hs >= min_size) & (xyxy >= 0).all(-1)
    valid &= (xyxy[..., 0] <= canvas_size[1]) & (xyxy[..., 1] <= canvas_size[0])
    valid &= (xyxy[..., 2] <= canvas_size[1]) & (xyxy[..., 3] <= canvas_size[0])
    valid &= ws * hs >= min_area
    return np.ascontiguousarray(valid)


# ---------------------------------------------------------------------------------------------
# image and mask kernels

def horizontal_flip_image(image):
    return _v1.hflip(image)


def vertical_flip_image(image):
    return _v1.vflip(image)


def horizontal_flip_mask(mask):
    return _v1.hflip(mask)


def vertical_flip_mask(mask):
    return _v1.vflip(mask)


def resize_image(image, size, interpolation=InterpolationMode.BILINEAR, max_size=None,
                 antialias=True):
    if isinstance(size, int):
        size = [size]
    return _v1._resize(image, size, _check_interpolation(interpolation), max_size, antialias,
                       uint8_kernel=True)


resize_video = resize_image


def resize_mask(mask, size, interpolation=InterpolationMode.NEAREST, max_size=None):
    mode = _check_interpolation(interpolation)
    if mode not in (InterpolationMode.NEAREST, InterpolationMode.NEAREST_EXACT):
        mode = InterpolationMode.NEAREST
    return _on_mask(lambda m: resize_image(m, size, mode, max_size), mask)


def crop_image(image, top, left, height, width):
    return _v1.crop(image, top, left, height, width)


def crop_mask(mask, top, left, height, width):
    return _on_mask(lambda m: _v1.crop(m, top, left, height, width), mask)


def center_crop_image(image, output_size):
    return _v1.center_crop(image, list(_center_crop_size(output_size)))


def center_crop_mask(mask, output_size):
    return _on_mask(lambda m: center_crop_image(m, output_size), mask)


def resized_crop_mask(mask, top, left, height, width, size):
    return resize_mask(crop_mask(mask, top, left, height, width), size)


def pad_image(image, padding, fill=None, padding_mode="constant"):
    return _v1.pad(image, padding, 0 if fill is None else fill, padding_mode)


def pad_mask(mask, padding, fill=None, padding_mode="constant"):
    if fill is None:
        fill = 0
    if isinstance(fill, (tuple, list)):
        raise ValueError("Non-scalar fill value is not supported")
    return _on_mask(lambda m: pad_image(m, padding, fill, padding_mode), mask)


def affine_image(image, angle, translate, scale, shear,
                 interpolation=InterpolationMode.NEAREST, fill=None, center=None):
    """PIL images through Pillow; tensors grid-sampled as torchvision's tensor kernel."""
    if is_pil_image(image):
        return _v1.affine(image, angle, list(translate), scale, shear,
                          _check_interpolation(interpolation), fill, center)
    angle, translate, shear, center = _affine_parse(angle, translate, scale, shear, center)
    return affine_grid_image(image, angle, translate, scale, shear, interpolation, fill, center)


def affine_mask(mask, angle, translate, scale, shear, fill=None, center=None):
    return _on_mask(lambda m: affine_image(m, angle, translate, scale, shear,
                                           InterpolationMode.NEAREST, fill, center), mask)


def rotate_image(image, angle, interpolation=InterpolationMode.NEAREST, expand=False,
                 center=None, fill=None):
    """PIL images through Pillow; tensors grid-sampled as torchvision's tensor kernel."""
    if is_pil_image(image):
        return _v1.rotate(image, angle, _check_interpolation(interpolation), expand, center,
                          fill)
    return rotate_grid_image(image, angle, interpolation, expand, center, fill)


def rotate_mask(mask, angle, expand=False, center=None, fill=None):
    return _on_mask(lambda m: rotate_image(m, angle, InterpolationMode.NEAREST, expand, center,
                                           fill), mask)


def perspective_mask(mask, startpoints, endpoints, fill=None, coefficients=None):
    return _on_mask(lambda m: perspective_image(m, startpoints, endpoints,
                                                InterpolationMode.NEAREST, fill, coefficients),
                    mask)


def elastic_mask(mask, displacement, fill=None):
    return _on_mask(lambda m: elastic_image(m, displacement, InterpolationMode.NEAREST, fill),
                    mask)


# ---------------------------------------------------------------------------------------------
# dispatching functionals

def horizontal_flip(inpt):
    return _dispatch("horizontal_flip", inpt, horizontal_flip_image, horizontal_flip_mask,
                     lambda b: horizontal_flip_bounding_boxes(b, b.format, b.canvas_size))


def vertical_flip(inpt):
    return _dispatch("vertical_flip", inpt, vertical_flip_image, vertical_flip_mask,
                     lambda b: vertical_flip_bounding_boxes(b, b.format, b.canvas_size))


hflip, vflip = horizontal_flip, vertical_flip


def resize(inpt, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
    return _dispatch(
        "resize", inpt, lambda x: resize_image(x, size, interpolation, max_size, antialias),
        lambda m: resize_mask(m, size, interpolation, max_size),
        lambda b: resize_bounding_boxes(b, b.format, canvas_size=b.canvas_size, size=size,
                                        max_size=max_size, clamping_mode=b.clamping_mode))


def crop(inpt, top, left, height, width):
    return _dispatch(
        "crop", inpt, lambda x: crop_image(x, top, left, height, width),
        lambda m: crop_mask(m, top, left, height, width),
        lambda b: crop_bounding_boxes(b, b.format, top, left, height, width,
                                      clamping_mode=b.clamping_mode))


def center_crop(inpt, output_size):
    return _dispatch(
        "center_crop", inpt, lambda x: center_crop_image(x, output_size),
        lambda m: center_crop_mask(m, output_size),
        lambda b: center_crop_bounding_boxes(b, b.format, b.canvas_size, output_size,
                                             clamping_mode=b.clamping_mode))


def resized_crop(inpt, top, left, height, width, size, interpolation=InterpolationMode.BILINEAR,
                 antialias=True):
    return _dispatch(
        "resized_crop", inpt,
        lambda x: resize_image(crop_image(x, top, left, height, width), size, interpolation,
                               antialias=antialias),
        lambda m: resized_crop_mask(m, top, left, height, width, size),
        lambda b: resized_crop_bounding_boxes(b, b.format, top, left, height, width, size,
                                              clamping_mode=b.clamping_mode))


def pad(inpt, padding, fill=None, padding_mode="constant"):
    return _dispatch(
        "pad", inpt, lambda x: pad_image(x, padding, fill, padding_mode),
        lambda m: pad_mask(m, padding, fill, padding_mode),
        lambda b: pad_bounding_boxes(b, b.format, b.canvas_size, padding, padding_mode,
                                     clamping_mode=b.clamping_mode))


def affine(inpt, angle, translate, scale, shear, interpolation=InterpolationMode.NEAREST,
           fill=None, center=None):
    return _dispatch(
        "affine", inpt,
        lambda x: affine_image(x, angle, translate, scale, shear, interpolation, fill, center),
        lambda m: affine_mask(m, angle, translate, scale, shear, fill, center),
        lambda b: affine_bounding_boxes(b, b.format, b.canvas_size, angle, translate, scale,
                                        shear, center, clamping_mode=b.clamping_mode))


def rotate(inpt, angle, interpolation=InterpolationMode.NEAREST, expand=False, center=None,
           fill=None):
    return _dispatch(
        "rotate", inpt,
        lambda x: rotate_image(x, angle, interpolation, expand, center, fill),
        lambda m: rotate_mask(m, angle, expand, center, fill),
        lambda b: rotate_bounding_boxes(b, b.format, b.canvas_size, angle, expand, center,
                                        clamping_mode=b.clamping_mode))


def perspective(inpt, startpoints, endpoints, interpolation=InterpolationMode.BILINEAR,
                fill=None, coefficients=None):
    return _dispatch(
        "perspective", inpt,
        lambda x: perspective_image(x, startpoints, endpoints, interpolation, fill,
                                    coefficients),
        lambda m: perspective_mask(m, startpoints, endpoints, fill, coefficients),
        lambda b: perspective_bounding_boxes(b, b.format, b.canvas_size, startpoints,
                                             endpoints, coefficients,
                                             clamping_mode=b.clamping_mode))


def elastic(inpt, displacement, interpolation=InterpolationMode.BILINEAR, fill=None):
    return _dispatch(
        "elastic", inpt, lambda x: elastic_image(x, displacement, interpolation, fill),
        lambda m: elastic_mask(m, displacement, fill),
        lambda b: elastic_bounding_boxes(b, b.format, b.canvas_size, displacement,
                                         clamping_mode=b.clamping_mode))


elastic_transform = elastic


# ---------------------------------------------------------------------------------------------
# v2-only image functionals

def gaussian_noise(inpt, mean=0.0, sigma=0.1, clip=True):
    """``inpt + N(mean, sigma)`` (float images only), clipped to [0, 1] with ``clip``."""
    if isinstance(inpt, (BoundingBoxes, Mask)):
        return inpt
    if not isinstance(inpt, torch.Tensor) or not inpt.is_floating_point():
        raise ValueError(f"Input tensor is expected to be in float dtype, got dtype="
                         f"{getattr(inpt, 'dtype', type(inpt).__name__)}")
    if sigma < 0:
        raise ValueError(f"sigma shouldn't be negative. Got {sigma}")
    plain = inpt.as_subclass(torch.Tensor) if isinstance(inpt, tv_tensors.TVTensor) else inpt
    noise = mean + torch.randn_like(plain) * sigma
    out = plain + noise
    if clip:
        out = torch.clamp(out, 0, 1)
    return _like(out, inpt)


def permute_channels(inpt, permutation):
    """The channels of an image ([..., C, H, W], PIL too) in the order ``permutation``."""
    def image(x):
        if is_pil_image(x):
            return to_pil_image(image(pil_to_tensor(x)))
        return x[..., list(permutation), :, :]
    return _dispatch("permute_channels", inpt, image, None, None)


def jpeg(image, quality):
    """JPEG-encode then decode the image (uint8 tensors [..., C, H, W] or PIL) at
    ``quality`` 1..100, through Pillow."""
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"quality must be an integer from 1 to 100, got quality={quality}")
    def one(x):
        if is_pil_image(x):
            buf = _io.BytesIO()
            x.save(buf, format="JPEG", quality=int(quality))
            buf.seek(0)
            return _pil().Image.open(buf).convert(x.mode)
        if x.dtype != torch.uint8:
            raise TypeError(f"Input tensor dtype should be uint8, got {x.dtype}")
        if x.ndim == 3:
            return _vio.decode_jpeg(_vio.encode_jpeg(x, quality=int(quality)))
        flat = x.reshape(-1, *x.shape[-3:])
        return torch.stack([one(f) for f in flat]).reshape(x.shape)
    return _dispatch("jpeg", image, one, None, None)


def is_pure_tensor(inpt):
    return isinstance(inpt, torch.Tensor) and not isinstance(inpt, tv_tensors.TVTensor)


def get_num_channels(inpt):
    return get_dimensions(inpt)[0]


def get_num_frames(inpt):
    return int(inpt.shape[-4])


get_size_image = get_size_mask = get_size_video = get_size_bounding_boxes = get_size


def _image_op(fn, inpt, *args):
    """A v1 image function on an image-like leaf, the tv_tensor type kept."""
    plain = inpt.as_subclass(torch.Tensor) if isinstance(inpt, tv_tensors.TVTensor) else inpt
    return _like(fn(plain, *args), inpt)


def grayscale_to_rgb(inpt):
    """Grey images (1 channel) to 3 channels; images with 3 or more channels unchanged."""
    if is_pil_image(inpt):
        return inpt.convert(mode="RGB")
    if inpt.shape[-3] >= 3:
        return inpt
    return _like(inpt.as_subclass(torch.Tensor).expand(*inpt.shape[:-3], 3, *inpt.shape[-2:])
                 .clone(), inpt)


grayscale_to_rgb_image = grayscale_to_rgb


def uniform_temporal_subsample(inpt, num_samples):
    t_max = inpt.shape[-4] - 1
    idx = torch.linspace(0, t_max, num_samples).long()
    return _like(torch.index_select(inpt.as_subclass(torch.Tensor), -4, idx), inpt)


uniform_temporal_subsample_video = uniform_temporal_subsample


def _aliases(names, suffixes):
    """torchvision's per-type kernels of the v1 image functions (they take [..., C, H, W])."""
    g = globals()
    for name in names:
        for suffix in suffixes:
            if f"{name}_{suffix}" not in g:
                g[f"{name}_{suffix}"] = g[name]
                __all__.append(f"{name}_{suffix}")


_aliases(["adjust_brightness", "adjust_contrast", "adjust_gamma", "adjust_hue",
          "adjust_saturation", "adjust_sharpness", "autocontrast", "equalize", "erase",
          "five_crop", "gaussian_blur", "gaussian_noise", "invert", "jpeg", "normalize",
          "permute_channels", "posterize", "solarize", "ten_crop", "to_dtype", "get_dimensions",
          "get_num_channels"], ("image", "video"))
_aliases(["affine", "center_crop", "crop", "elastic", "horizontal_flip", "pad", "perspective",
          "resize", "resized_crop", "rotate", "vertical_flip"], ("video",))
_aliases(["resized_crop", "rgb_to_grayscale"], ("image",))

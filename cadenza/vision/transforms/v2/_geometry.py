"""transforms.v2 geometric transforms (images, videos, masks and bounding boxes moved together,
parameters drawn as torchvision draws them), the bounding-box meta transforms (convert, clamp,
sanitize, set the clamping mode) and v2-only image transforms (GaussianNoise,
RandomChannelPermutation, JPEG)."""
from __future__ import annotations

import collections.abc
import math
import numbers

import cadenza as torch
from cadenza.func import _flatten, _unflatten  # the one tree walk (tuples, lists, dicts)
from ... import tv_tensors
from ..._pil import is_pil_image
from .. import transforms as _v1
from .. import _random as _v1r
from ..._boxes import box_iou
from .._warp import _get_perspective_coeffs
from . import functional as F
from ._color import query_size as _query_size
from ._transform import Transform, _RandomApplyTransform, _is_pure_tensor

__all__ = ["RandomHorizontalFlip", "RandomVerticalFlip", "Resize", "CenterCrop",
           "RandomResizedCrop", "Pad", "RandomZoomOut", "RandomRotation", "RandomAffine",
           "RandomCrop", "RandomPerspective", "ElasticTransform", "RandomIoUCrop", "ScaleJitter",
           "RandomShortestSize", "RandomResize", "ConvertBoundingBoxFormat",
           "ClampBoundingBoxes", "SetClampingMode", "SanitizeBoundingBoxes", "GaussianNoise",
           "RandomChannelPermutation", "JPEG"]


def _uniform(lo, hi) -> float:
    return float(torch.empty(1).uniform_(float(lo), float(hi)).item())


def _randint(lo, hi) -> int:
    return int(torch.randint(lo, hi, size=(1,)).item())


def _setup_size(size, error_msg="Please provide only two dimensions (h, w) for size."):
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, collections.abc.Sequence) and len(size) == 1:
        return size[0], size[0]
    if len(size) != 2:
        raise ValueError(error_msg)
    return size[0], size[1]


def _setup_angle(x, name, req_sizes=(2,)):
    if isinstance(x, numbers.Number):
        if x < 0:
            raise ValueError(f"If {name} is a single number, it must be positive.")
        x = [-x, x]
    elif not isinstance(x, collections.abc.Sequence) or len(x) not in req_sizes:
        raise ValueError(f"{name} should be a sequence of length "
                         f"{' or '.join(str(s) for s in req_sizes)}.")
    return [float(d) for d in x]


def _check_sequence(x, name, req_sizes):
    if not isinstance(x, collections.abc.Sequence):
        raise TypeError(f"{name} should be a sequence of length "
                        f"{' or '.join(str(s) for s in req_sizes)}.")
    if len(x) not in req_sizes:
        raise ValueError(f"{name} should be a sequence of length "
                         f"{' or '.join(str(s) for s in req_sizes)}.")


def _setup_fill(fill):
    if fill is not None and not isinstance(fill, (numbers.Number, tuple, list, dict)):
        raise TypeError("Got inappropriate fill arg, only Numbers, tuples, lists and dicts are "
                        "allowed.")
    return dict(fill) if isinstance(fill, dict) else {"others": fill}


def _get_fill(fill_dict, inpt_type):
    return fill_dict.get(inpt_type, fill_dict.get("others"))


def _check_padding(padding, padding_mode):
    if not isinstance(padding, (numbers.Number, tuple, list)):
        raise TypeError("Got inappropriate padding arg")
    if isinstance(padding, (tuple, list)) and len(padding) not in (1, 2, 4):
        raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple, not a "
                         f"{len(padding)} element tuple")
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")


class RandomHorizontalFlip(_RandomApplyTransform):
    def transform(self, inpt, params):
        return F.horizontal_flip(inpt)


class RandomVerticalFlip(_RandomApplyTransform):
    def transform(self, inpt, params):
        return F.vertical_flip(inpt)


class Resize(Transform):
    def __init__(self, size, interpolation="bilinear", max_size=None, antialias=True):
        super().__init__()
        if isinstance(size, int):
            size = [size]
        elif isinstance(size, collections.abc.Sequence) and len(size) in (1, 2):
            size = list(size)
        elif size is None:
            if not isinstance(max_size, int):
                raise ValueError(f"max_size must be an integer when size is None, but got "
                                 f"{max_size} instead.")
        else:
            raise ValueError(f"size can be an integer, a sequence of one or two integers, or "
                             f"None, but got {size} instead.")
        self.size, self.interpolation = size, interpolation
        self.max_size, self.antialias = max_size, antialias

    def transform(self, inpt, params):
        return F.resize(inpt, self.size, interpolation=self.interpolation,
                        max_size=self.max_size, antialias=self.antialias)


class CenterCrop(Transform):
    def __init__(self, size):
        super().__init__()
        self.size = _setup_size(size)

    def transform(self, inpt, params):
        return F.center_crop(inpt, output_size=self.size)


class RandomResizedCrop(Transform):
    get_params = staticmethod(_v1.RandomResizedCrop.get_params)

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0),
                 interpolation="bilinear", antialias=True):
        super().__init__()
        self.size = _setup_size(size)
        if not isinstance(scale, collections.abc.Sequence) or len(scale) != 2:
            raise TypeError("Scale should be a sequence of two floats.")
        if not isinstance(ratio, collections.abc.Sequence) or len(ratio) != 2:
            raise TypeError("Ratio should be a sequence of two floats.")
        self.scale, self.ratio = scale, ratio
        self.interpolation, self.antialias = interpolation, antialias

    def make_params(self, flat_inputs):
        height, width = _query_size(flat_inputs)
        area = height * width
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target_area = area * _uniform(self.scale[0], self.scale[1])
            aspect_ratio = math.exp(_uniform(log_ratio[0], log_ratio[1]))
            w = int(round(math.sqrt(target_area * aspect_ratio)))
            h = int(round(math.sqrt(target_area / aspect_ratio)))
            if 0 < w <= width and 0 < h <= height:
                i = _randint(0, height - h + 1)
                j = _randint(0, width - w + 1)
                return dict(top=i, left=j, height=h, width=w)
        in_ratio = float(width) / float(height)
        if in_ratio < min(self.ratio):
            w, h = width, int(round(width / min(self.ratio)))
        elif in_ratio > max(self.ratio):
            h, w = height, int(round(height * max(self.ratio)))
        else:
            w, h = width, height
        return dict(top=(height - h) // 2, left=(width - w) // 2, height=h, width=w)

    def transform(self, inpt, params):
        return F.resized_crop(inpt, **params, size=self.size, interpolation=self.interpolation,
                              antialias=self.antialias)


class Pad(Transform):
    def __init__(self, padding, fill=0, padding_mode="constant"):
        super().__init__()
        _check_padding(padding, padding_mode)
        self.padding = padding if isinstance(padding, int) else list(padding)
        self.fill, self._fill = fill, _setup_fill(fill)
        self.padding_mode = padding_mode

    def transform(self, inpt, params):
        return F.pad(inpt, padding=self.padding, fill=_get_fill(self._fill, type(inpt)),
                     padding_mode=self.padding_mode)


class RandomZoomOut(_RandomApplyTransform):
    """Place the image on a canvas ``side_range`` times larger, at a random position."""

    def __init__(self, fill=0, side_range=(1.0, 4.0), p=0.5):
        super().__init__(p=p)
        self.fill, self._fill = fill, _setup_fill(fill)
        _check_sequence(side_range, "side_range", (2,))
        self.side_range = side_range
        if side_range[0] < 1.0 or side_range[0] > side_range[1]:
            raise ValueError(f"Invalid side range provided {side_range}.")

    def make_params(self, flat_inputs):
        orig_h, orig_w = _query_size(flat_inputs)
        r = self.side_range[0] + float(torch.rand(1).item()) * (self.side_range[1] -
                                                                self.side_range[0])
        canvas_w, canvas_h = int(orig_w * r), int(orig_h * r)
        r = torch.rand(2).tolist()
        left, top = int((canvas_w - orig_w) * r[0]), int((canvas_h - orig_h) * r[1])
        return dict(padding=[left, top, canvas_w - (left + orig_w),
                             canvas_h - (top + orig_h)])

    def transform(self, inpt, params):
        return F.pad(inpt, **params, fill=_get_fill(self._fill, type(inpt)))


class RandomRotation(Transform):
    get_params = staticmethod(_v1.RandomRotation.get_params)

    def __init__(self, degrees, interpolation="nearest", expand=False, center=None, fill=0):
        super().__init__()
        self.degrees = _setup_angle(degrees, "degrees")
        self.interpolation, self.expand = interpolation, expand
        self.fill, self._fill = fill, _setup_fill(fill)
        if center is not None:
            _check_sequence(center, "center", (2,))
        self.center = center

    def make_params(self, flat_inputs):
        return dict(angle=_uniform(self.degrees[0], self.degrees[1]))

    def transform(self, inpt, params):
        return F.rotate(inpt, **params, interpolation=self.interpolation, expand=self.expand,
                        center=self.center, fill=_get_fill(self._fill, type(inpt)))


class RandomAffine(Transform):
    get_params = staticmethod(_v1r.RandomAffine.get_params)

    def __init__(self, degrees, translate=None, scale=None, shear=None,
                 interpolation="nearest", fill=0, center=None):
        super().__init__()
        self.degrees = _setup_angle(degrees, "degrees")
        if translate is not None:
            _check_sequence(translate, "translate", (2,))
            if not all(0.0 <= t <= 1.0 for t in translate):
                raise ValueError("translation values should be between 0 and 1")
        self.translate = translate
        if scale is not None:
            _check_sequence(scale, "scale", (2,))
            if any(s <= 0 for s in scale):
                raise ValueError("scale values should be positive")
        self.scale = scale
        self.shear = _setup_angle(shear, "shear", (2, 4)) if shear is not None else None
        self.interpolation = interpolation
        self.fill, self._fill = fill, _setup_fill(fill)
        if center is not None:
            _check_sequence(center, "center", (2,))
        self.center = center

    def make_params(self, flat_inputs):
        height, width = _query_size(flat_inputs)
        angle = _uniform(self.degrees[0], self.degrees[1])
        if self.translate is not None:
            max_dx, max_dy = float(self.translate[0] * width), float(self.translate[1] * height)
            translate = (int(round(_uniform(-max_dx, max_dx))),
                         int(round(_uniform(-max_dy, max_dy))))
        else:
            translate = (0, 0)
        scale = _uniform(self.scale[0], self.scale[1]) if self.scale is not None else 1.0
        shear_x = shear_y = 0.0
        if self.shear is not None:
            shear_x = _uniform(self.shear[0], self.shear[1])
            if len(self.shear) == 4:
                shear_y = _uniform(self.shear[2], self.shear[3])
        return dict(angle=angle, translate=translate, scale=scale, shear=(shear_x, shear_y))

    def transform(self, inpt, params):
        return F.affine(inpt, **params, interpolation=self.interpolation,
                        fill=_get_fill(self._fill, type(inpt)), center=self.center)


class RandomCrop(Transform):
    get_params = staticmethod(_v1.RandomCrop.get_params)

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0,
                 padding_mode="constant"):
        super().__init__()
        self.size = _setup_size(size)
        if pad_if_needed or padding is not None:
            if padding is not None:
                _check_padding(padding, padding_mode)
            elif padding_mode not in ("constant", "edge", "reflect", "symmetric"):
                raise ValueError("Padding mode should be either constant, edge, reflect or "
                                 "symmetric")
        self.padding = F._parse_pad(padding) if padding else None   # left, right, top, bottom
        self.pad_if_needed = pad_if_needed
        self.fill, self._fill = fill, _setup_fill(fill)
        self.padding_mode = padding_mode

    def make_params(self, flat_inputs):
        padded_h, padded_w = _query_size(flat_inputs)
        if self.padding is not None:
            pad_left, pad_right, pad_top, pad_bottom = self.padding
            padded_h += pad_top + pad_bottom
            padded_w += pad_left + pad_right
        else:
            pad_left = pad_right = pad_top = pad_bottom = 0
        crop_h, crop_w = self.size
        if self.pad_if_needed:
            if padded_h < crop_h:
                diff = crop_h - padded_h
                pad_top, pad_bottom = pad_top + diff, pad_bottom + diff
                padded_h += 2 * diff
            if padded_w < crop_w:
                diff = crop_w - padded_w
                pad_left, pad_right = pad_left + diff, pad_right + diff
                padded_w += 2 * diff
        if padded_h < crop_h or padded_w < crop_w:
            raise ValueError(f"Required crop size {(crop_h, crop_w)} is larger than "
                             f"{'padded ' if self.padding is not None else ''}input image size "
                             f"{(padded_h, padded_w)}.")
        padding = [pad_left, pad_top, pad_right, pad_bottom]
        top = _randint(0, padded_h - crop_h + 1) if padded_h > crop_h else 0
        left = _randint(0, padded_w - crop_w + 1) if padded_w > crop_w else 0
        return dict(needs_crop=padded_h > crop_h or padded_w > crop_w, top=top, left=left,
                    height=crop_h, width=crop_w, needs_pad=any(padding), padding=padding)

    def transform(self, inpt, params):
        if params["needs_pad"]:
            inpt = F.pad(inpt, padding=params["padding"], fill=_get_fill(self._fill, type(inpt)),
                         padding_mode=self.padding_mode)
        if params["needs_crop"]:
            inpt = F.crop(inpt, top=params["top"], left=params["left"],
                          height=params["height"], width=params["width"])
        return inpt


class RandomPerspective(_RandomApplyTransform):
    def __init__(self, distortion_scale=0.5, p=0.5, interpolation="bilinear", fill=0):
        super().__init__(p=p)
        if not 0 <= distortion_scale <= 1:
            raise ValueError("Argument distortion_scale value should be between 0 and 1")
        self.distortion_scale, self.interpolation = distortion_scale, interpolation
        self.fill, self._fill = fill, _setup_fill(fill)

    get_params = staticmethod(_v1r._perspective_points)

    def make_params(self, flat_inputs):
        height, width = _query_size(flat_inputs)
        start, end = _v1r._perspective_points(width, height, self.distortion_scale)
        return dict(coefficients=_get_perspective_coeffs(start, end))

    def transform(self, inpt, params):
        return F.perspective(inpt, startpoints=None, endpoints=None,
                             fill=_get_fill(self._fill, type(inpt)),
                             interpolation=self.interpolation, **params)


def _number_or_pair(x, name):
    if isinstance(x, numbers.Number):
        x = [float(x), float(x)]
    elif isinstance(x, collections.abc.Sequence) and len(x) in (1, 2):
        x = [float(v) for v in x] * (2 if len(x) == 1 else 1)
    else:
        raise TypeError(f"{name} should be a number or a sequence of one or two numbers.")
    if any(v <= 0 for v in x) and name == "sigma":
        raise ValueError(f"{name} values should be positive")
    return x


class ElasticTransform(Transform):
    def __init__(self, alpha=50.0, sigma=5.0, interpolation="bilinear", fill=0):
        super().__init__()
        self.alpha, self.sigma = _number_or_pair(alpha, "alpha"), _number_or_pair(sigma, "sigma")
        self.interpolation = interpolation
        self.fill, self._fill = fill, _setup_fill(fill)

    get_params = staticmethod(_v1r._elastic_displacement)

    def make_params(self, flat_inputs):
        height, width = _query_size(flat_inputs)
        return dict(displacement=_v1r._elastic_displacement(self.alpha, self.sigma,
                                                            [height, width]))

    def transform(self, inpt, params):
        return F.elastic(inpt, **params, fill=_get_fill(self._fill, type(inpt)),
                         interpolation=self.interpolation)


class RandomIoUCrop(Transform):
    """SSD's random crop: a crop whose IoU with some box whose centre it contains is at least
    a threshold drawn from ``sampler_options``; boxes whose centre falls outside are zeroed
    (follow with SanitizeBoundingBoxes)."""

    def __init__(self, min_scale=0.3, max_scale=1.0, min_aspect_ratio=0.5,
                 max_aspect_ratio=2.0, sampler_options=None, trials=40):
        super().__init__()
        self.min_scale, self.max_scale = min_scale, max_scale
        self.min_aspect_ratio, self.max_aspect_ratio = min_aspect_ratio, max_aspect_ratio
        self.options = [0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0] if sampler_options is None \
            else sampler_options
        self.trials = trials

    def check_inputs(self, flat_inputs):
        has_boxes = any(isinstance(x, tv_tensors.BoundingBoxes) for x in flat_inputs)
        has_image = any(is_pil_image(x) or isinstance(x, tv_tensors.Image) or _is_pure_tensor(x)
                        for x in flat_inputs)
        if not (has_boxes and has_image):
            raise TypeError(f"{type(self).__name__}() requires input sample to contain tensor or "
                            f"PIL images and bounding boxes. Sample can also contain masks.")

    def make_params(self, flat_inputs):
        orig_h, orig_w = _query_size(flat_inputs)
        boxes = next(x for x in flat_inputs if isinstance(x, tv_tensors.BoundingBoxes))
        xyxy = F.convert_bounding_box_format(boxes.as_subclass(torch.Tensor), boxes.format,
                                             tv_tensors.BoundingBoxFormat.XYXY)
        cx = 0.5 * (xyxy[..., 0] + xyxy[..., 2])
        cy = 0.5 * (xyxy[..., 1] + xyxy[..., 3])
        while True:
            min_iou = self.options[_randint(0, len(self.options))]
            if min_iou >= 1.0:
                return dict()
            for _ in range(self.trials):
                r = (self.min_scale + (self.max_scale - self.min_scale) * torch.rand(2)).tolist()
                new_w, new_h = int(orig_w * r[0]), int(orig_h * r[1])
                if new_h == 0 or not (self.min_aspect_ratio <= new_w / new_h <=
                                      self.max_aspect_ratio):
                    continue
                r = torch.rand(2).tolist()
                left, top = int((orig_w - new_w) * r[0]), int((orig_h - new_h) * r[1])
                right, bottom = left + new_w, top + new_h
                if left == right or top == bottom:
                    continue
                inside = (left < cx) & (cx < right) & (top < cy) & (cy < bottom)
                if not bool(inside.any()):
                    continue
                ious = box_iou(xyxy[inside], torch.tensor([[left, top, right, bottom]],
                                                          dtype=xyxy.dtype))
                if float(ious.max()) < min_iou:
                    continue
                return dict(top=top, left=left, height=new_h, width=new_w,
                            is_within_crop_area=inside)

    def transform(self, inpt, params):
        if not params:
            return inpt
        out = F.crop(inpt, top=params["top"], left=params["left"], height=params["height"],
                     width=params["width"])
        if isinstance(out, tv_tensors.BoundingBoxes):
            out[~params["is_within_crop_area"]] = 0
        return out


class ScaleJitter(Transform):
    """Resize by a random factor in ``scale_range`` of the scale fitting ``target_size``."""

    def __init__(self, target_size, scale_range=(0.1, 2.0), interpolation="bilinear",
                 antialias=True):
        super().__init__()
        self.target_size, self.scale_range = target_size, scale_range
        self.interpolation, self.antialias = interpolation, antialias

    def make_params(self, flat_inputs):
        orig_h, orig_w = _query_size(flat_inputs)
        scale = self.scale_range[0] + float(torch.rand(1).item()) * (self.scale_range[1] -
                                                                     self.scale_range[0])
        r = min(self.target_size[1] / orig_h, self.target_size[0] / orig_w) * scale
        return dict(size=(int(orig_h * r), int(orig_w * r)))

    def transform(self, inpt, params):
        return F.resize(inpt, size=params["size"], interpolation=self.interpolation,
                        antialias=self.antialias)


class RandomShortestSize(Transform):
    """Resize so the shorter side is one of ``min_size`` (at random), the longer at most
    ``max_size``."""

    def __init__(self, min_size, max_size=None, interpolation="bilinear", antialias=True):
        super().__init__()
        self.min_size = [min_size] if isinstance(min_size, int) else list(min_size)
        self.max_size, self.interpolation, self.antialias = max_size, interpolation, antialias

    def make_params(self, flat_inputs):
        orig_h, orig_w = _query_size(flat_inputs)
        min_size = self.min_size[_randint(0, len(self.min_size))]
        r = min_size / min(orig_h, orig_w)
        if self.max_size is not None:
            r = min(r, self.max_size / max(orig_h, orig_w))
        return dict(size=(int(orig_h * r), int(orig_w * r)))

    def transform(self, inpt, params):
        return F.resize(inpt, size=params["size"], interpolation=self.interpolation,
                        antialias=self.antialias)


class RandomResize(Transform):
    """Resize the shorter side to a random size in [min_size, max_size)."""

    def __init__(self, min_size, max_size, interpolation="bilinear", antialias=True):
        super().__init__()
        self.min_size, self.max_size = min_size, max_size
        self.interpolation, self.antialias = interpolation, antialias

    def make_params(self, flat_inputs):
        return dict(size=[_randint(self.min_size, self.max_size)])

    def transform(self, inpt, params):
        return F.resize(inpt, params["size"], interpolation=self.interpolation,
                        antialias=self.antialias)


class ConvertBoundingBoxFormat(Transform):
    _transformed_types = (tv_tensors.BoundingBoxes,)

    def __init__(self, format):
        super().__init__()
        self.format = format

    def transform(self, inpt, params):
        return F.convert_bounding_box_format(inpt, new_format=self.format)


class ClampBoundingBoxes(Transform):
    _transformed_types = (tv_tensors.BoundingBoxes,)

    def __init__(self, clamping_mode="auto"):
        super().__init__()
        self.clamping_mode = clamping_mode

    def transform(self, inpt, params):
        return F.clamp_bounding_boxes(inpt, clamping_mode=self.clamping_mode)


class SetClampingMode(Transform):
    _transformed_types = (tv_tensors.BoundingBoxes,)

    def __init__(self, clamping_mode):
        super().__init__()
        if clamping_mode not in (None, "soft", "hard"):
            raise ValueError(f"clamping_mode must be soft, hard or None, got {clamping_mode}")
        self.clamping_mode = clamping_mode

    def transform(self, inpt, params):
        out = inpt.clone()
        out.clamping_mode = self.clamping_mode
        return out


def _default_labels(inputs):
    """torchvision's labels heuristic: the second item of a pair (a tensor, or a dict's
    "labels"/"*label*" entry) or such an entry of a dict."""
    if isinstance(inputs, (tuple, list)):
        inputs = inputs[1]
    if _is_pure_tensor(inputs):
        return inputs
    if not isinstance(inputs, collections.abc.Mapping):
        raise ValueError(f"When using the default labels_getter, the input passed to forward must "
                         f"be a dictionary or a two-tuple whose second item is a dictionary or a "
                         f"tensor, but got {inputs} instead.")
    key = next((k for k in inputs if k.lower() == "labels"), None)
    if key is None:
        key = next((k for k in inputs if "label" in k.lower()), None)
    if key is None:
        raise ValueError("Could not infer where the labels are in the sample. Try passing a "
                         "callable as the labels_getter parameter?If there are no labels in the "
                         "sample by design, pass labels_getter=None.")
    return inputs[key]


class SanitizeBoundingBoxes(Transform):
    """Drop degenerate boxes (smaller than ``min_size``, of area under ``min_area``, or outside
    the canvas) and the matching rows of the masks and labels."""

    def __init__(self, min_size=1.0, min_area=1.0, labels_getter="default"):
        super().__init__()
        if min_size < 1:
            raise ValueError(f"min_size must be >= 1, got {min_size}.")
        if min_area < 1:
            raise ValueError(f"min_area must be >= 1, got {min_area}.")
        self.min_size, self.min_area, self.labels_getter = min_size, min_area, labels_getter
        if labels_getter == "default":
            self._labels_getter = _default_labels
        elif callable(labels_getter):
            self._labels_getter = labels_getter
        elif labels_getter is None:
            self._labels_getter = lambda _: None
        else:
            raise ValueError(f"labels_getter should either be 'default', a callable, or None, "
                             f"but got {labels_getter}.")

    def forward(self, *inputs):
        inputs = inputs if len(inputs) > 1 else inputs[0]
        labels = self._labels_getter(inputs)
        if labels is not None:
            msg = "The labels in the input to forward() must be a tensor or None, got {} instead."
            if isinstance(labels, torch.Tensor):
                labels = (labels,)
            elif isinstance(labels, (tuple, list)):
                for entry in labels:
                    if not isinstance(entry, torch.Tensor):
                        raise ValueError(msg.format(type(entry)))
            else:
                raise ValueError(msg.format(type(labels)))
        flat_inputs, spec = _flatten(inputs)
        boxes = next((x for x in flat_inputs if isinstance(x, tv_tensors.BoundingBoxes)), None)
        if boxes is None:
            raise ValueError("No bounding boxes were found in the sample")
        if labels is not None:
            for label in labels:
                if boxes.shape[0] != label.shape[0]:
                    raise ValueError(f"Number of boxes (shape={boxes.shape}) and must match the "
                                     f"number of labels.Found labels with shape={label.shape}).")
        _, valid = F.sanitize_bounding_boxes(boxes, min_size=self.min_size,
                                             min_area=self.min_area)
        params = dict(valid=valid, labels=labels)
        return _unflatten([self.transform(x, params) for x in flat_inputs], spec)

    def transform(self, inpt, params):
        is_label = params["labels"] is not None and any(inpt is lab for lab in params["labels"])
        is_boxes = isinstance(inpt, tv_tensors.BoundingBoxes)
        is_mask = isinstance(inpt, tv_tensors.Mask)
        if not (is_label or is_boxes or is_mask):
            return inpt
        try:
            out = inpt[params["valid"]]
        except IndexError:
            return inpt
        return out if is_label else tv_tensors.wrap(out.as_subclass(torch.Tensor), like=inpt)


class GaussianNoise(Transform):
    """Add N(mean, sigma) noise to float images (clipped to [0, 1] with ``clip``)."""

    def __init__(self, mean=0.0, sigma=0.1, clip=True):
        super().__init__()
        self.mean, self.sigma, self.clip = mean, sigma, clip

    def transform(self, inpt, params):
        return F.gaussian_noise(inpt, mean=self.mean, sigma=self.sigma, clip=self.clip)


class RandomChannelPermutation(Transform):
    """The image channels in a random order."""

    def make_params(self, flat_inputs):
        x = next(x for x in flat_inputs if is_pil_image(x) or isinstance(x, torch.Tensor)
                 and not isinstance(x, (tv_tensors.BoundingBoxes, tv_tensors.Mask)))
        c = len(x.getbands()) if is_pil_image(x) else x.shape[-3]
        return dict(permutation=torch.randperm(c).tolist())

    def transform(self, inpt, params):
        return F.permute_channels(inpt, params["permutation"])


class JPEG(Transform):
    """JPEG compression artefacts at a random quality in ``quality`` (an int or a range)."""

    def __init__(self, quality):
        super().__init__()
        if isinstance(quality, int):
            if isinstance(quality, bool):
                raise TypeError("quality can't be bool")
            quality = [quality, quality]
        else:
            _check_sequence(quality, "quality", (2,))
        if not (isinstance(quality[0], int) and isinstance(quality[1], int)
                and 1 <= quality[0] <= quality[1] <= 100):
            raise ValueError(f"quality must be an integer from 1 to 100, got quality ={quality!r}")
        self.quality = quality

    def make_params(self, flat_inputs):
        return dict(quality=_randint(self.quality[0], self.quality[1] + 1))

    def transform(self, inpt, params):
        return F.jpeg(inpt, quality=params["quality"])

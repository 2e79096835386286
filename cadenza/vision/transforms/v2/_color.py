"""transforms.v2 colour and video transforms of v2's own: RGB, RandomPhotometricDistort (SSD's
photometric augmentation), UniformTemporalSubsample; boxes and masks pass through."""
from __future__ import annotations

import cadenza as torch
from ..._pil import is_pil_image
from ... import tv_tensors
from . import functional as F
from ._transform import Transform, _is_image_like, _is_pure_tensor

__all__ = ["RGB", "RandomPhotometricDistort", "UniformTemporalSubsample", "query_size",
           "query_chw", "has_any", "has_all", "check_type", "get_bounding_boxes"]


def check_type(obj, types_or_checks):
    return any(isinstance(obj, t) if isinstance(t, type) else t(obj) for t in types_or_checks)


def has_any(flat_inputs, *types_or_checks):
    return any(check_type(x, types_or_checks) for x in flat_inputs)


def has_all(flat_inputs, *types_or_checks):
    return all(any(check_type(x, (t,)) for x in flat_inputs) for t in types_or_checks)


def get_bounding_boxes(flat_inputs):
    try:
        return next(x for x in flat_inputs if isinstance(x, tv_tensors.BoundingBoxes))
    except StopIteration:
        raise ValueError("No bounding boxes were found in the sample") from None


def _query(flat_inputs, types, measure, missing, what):
    """The one ``measure`` shared by the leaves of ``types`` (pure tensors included)."""
    found = {tuple(measure(x)) for x in flat_inputs
             if _is_pure_tensor(x) or is_pil_image(x) or isinstance(x, types)}
    if not found:
        raise TypeError(f"No {missing} was found in the sample")
    if len(found) > 1:
        raise ValueError(f"Found multiple {what} dimensions in the sample: "
                         f"{', '.join(str(s) for s in sorted(found))}")
    return found.pop()


def query_size(flat_inputs):
    """(height, width) shared by the images, videos, masks and boxes of a sample."""
    return _query(flat_inputs, (tv_tensors.Image, tv_tensors.Video, tv_tensors.Mask,
                                tv_tensors.BoundingBoxes), F.get_size,
                  "image, video, mask, bounding box of keypoint", "HxW")


def query_chw(flat_inputs):
    """(channels, height, width) shared by the images and videos of a sample."""
    return _query(flat_inputs, (tv_tensors.Image, tv_tensors.Video), F.get_dimensions,
                  "image or video", "CxHxW")


class RGB(Transform):
    """Grey images to 3 channels (RGB images unchanged)."""

    def transform(self, inpt, params):
        return F.grayscale_to_rgb(inpt)


class RandomPhotometricDistort(Transform):
    """Each of brightness, contrast (before or after saturation/hue), saturation, hue and a
    channel permutation applied with probability ``p``, with factors drawn from their ranges."""
    _transformed_types = (_is_image_like,)

    def __init__(self, brightness=(0.875, 1.125), contrast=(0.5, 1.5), saturation=(0.5, 1.5),
                 hue=(-0.05, 0.05), p=0.5):
        super().__init__()
        self.brightness, self.contrast, self.hue, self.saturation = \
            brightness, contrast, hue, saturation
        self.p = p

    def make_params(self, flat_inputs):
        num_channels = query_chw(flat_inputs)[0]
        params = {}
        for key, rng in (("brightness_factor", self.brightness),
                         ("contrast_factor", self.contrast),
                         ("saturation_factor", self.saturation), ("hue_factor", self.hue)):
            params[key] = float(torch.empty(1).uniform_(rng[0], rng[1]).item()) \
                if float(torch.rand(1).item()) < self.p else None
        params["contrast_before"] = bool(float(torch.rand(()).item()) < 0.5)
        params["channel_permutation"] = torch.randperm(num_channels).tolist() \
            if float(torch.rand(1).item()) < self.p else None
        return params

    def transform(self, inpt, params):
        steps = [("brightness_factor", F.adjust_brightness, True),
                 ("contrast_factor", F.adjust_contrast, params["contrast_before"]),
                 ("saturation_factor", F.adjust_saturation, True),
                 ("hue_factor", F.adjust_hue, True),
                 ("contrast_factor", F.adjust_contrast, not params["contrast_before"])]
        for key, fn, now in steps:
            if params[key] is not None and now:
                inpt = F._image_op(fn, inpt, params[key])
        if params["channel_permutation"] is not None:
            inpt = F.permute_channels(inpt, params["channel_permutation"])
        return inpt


class UniformTemporalSubsample(Transform):
    """``num_samples`` frames evenly spaced over a video's time dimension (-4)."""
    _transformed_types = (lambda x: _is_pure_tensor(x) or isinstance(x, tv_tensors.Video),)

    def __init__(self, num_samples):
        super().__init__()
        self.num_samples = num_samples

    def transform(self, inpt, params):
        return F.uniform_temporal_subsample(inpt, self.num_samples)

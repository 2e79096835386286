"""The detectors' input and output adapter (the names of
``torchvision.models.detection.transform``).

``GeneralizedRCNNTransform`` normalises each image with the model's mean / std, rescales it so
its short side is ``min_size`` unless that would push the long side past ``max_size`` (or to
``fixed_size``), scales the target boxes, masks and keypoints along, and zero-pads the batch to
a common size divisible by ``size_divisible`` (the FPN's coarsest stride). ``postprocess``
maps the detections back to the original image sizes and pastes the masks into them.

The padding is an ``F.pad``, so the image path
stays differentiable and the sizes come out exactly as torchvision's.
"""
from __future__ import annotations
import math
from typing import Any, Optional

import numpy as np

import cadenza as torch
from cadenza import Tensor, nn
from cadenza.nn import functional as F

from .image_list import ImageList
from .roi_heads import paste_masks_in_image


def _ratios(original_size, new_size) -> tuple[float, float]:
    """(height, width) scale factors, rounded to float32 like the detectors' boxes."""
    return tuple(float(np.float32(new) / np.float32(old))
                 for new, old in zip(new_size, original_size))


def _resize_image_and_masks(
    image: Tensor,
    self_min_size: int,
    self_max_size: int,
    target: Optional[dict[str, Tensor]] = None,
    fixed_size: Optional[tuple[int, int]] = None,
) -> tuple[Tensor, Optional[dict[str, Tensor]]]:
    """Bilinear resize of a (C, H, W) image (nearest for the target's masks): to
    ``fixed_size`` = (width, height) when given, else by the largest factor that keeps the
    short side <= ``self_min_size`` and the long side <= ``self_max_size``."""
    if fixed_size is not None:
        how = dict(size=[fixed_size[1], fixed_size[0]])
    else:
        short, long = sorted(int(s) for s in image.shape[-2:])
        # in double precision: a float32 factor floors sides such as 9 * 30 / 9 to 29 pixels
        scale = min(self_min_size / short, self_max_size / long)
        how = dict(scale_factor=float(scale), recompute_scale_factor=True)
    image = F.interpolate(image[None], mode="bilinear", align_corners=False, **how)[0]
    if target is not None and "masks" in target:
        masks = target["masks"][:, None].float()
        target["masks"] = F.interpolate(masks, **how)[:, 0].byte()
    return image, target


class GeneralizedRCNNTransform(nn.Module):
    """Normalise, resize and batch detector inputs; undo the resize on the outputs.
    ``min_size`` may be a tuple: training then picks one at random per image (multi-scale
    training), evaluation uses the last."""

    def __init__(
        self,
        min_size: int,
        max_size: int,
        image_mean: list[float],
        image_std: list[float],
        size_divisible: int = 32,
        fixed_size: Optional[tuple[int, int]] = None,
        **kwargs: Any,
    ):
        super().__init__()
        self.min_size = tuple(min_size) if isinstance(min_size, (list, tuple)) else (min_size,)
        self.max_size = max_size
        self.image_mean = image_mean
        self.image_std = image_std
        self.size_divisible = size_divisible
        self.fixed_size = fixed_size
        # set by models that resize their inputs themselves (torchvision's SSDlite recipe)
        self._skip_resize = kwargs.pop("_skip_resize", False)

    def forward(
        self, images: list[Tensor], targets: Optional[list[dict[str, Tensor]]] = None
    ) -> tuple[ImageList, Optional[list[dict[str, Tensor]]]]:
        """Returns the padded batch as an ImageList (with each image's resized size) and the
        targets rescaled to it (new dicts: the caller's are left as they were)."""
        if targets is not None:
            targets = [dict(target) for target in targets]
        prepared = []
        for index, image in enumerate(images):
            if image.dim() != 3:
                raise ValueError("images is expected to be a list of 3d tensors of shape "
                                 f"[C, H, W], got {image.shape}")
            target = targets[index] if targets is not None else None
            image, target = self.resize(self.normalize(image), target)
            if target is not None:
                targets[index] = target
            prepared.append(image)
        sizes = [(int(im.shape[-2]), int(im.shape[-1])) for im in prepared]
        return ImageList(self.batch_images(prepared, self.size_divisible), sizes), targets

    def normalize(self, image: Tensor) -> Tensor:
        if not image.is_floating_point():
            raise TypeError("Expected input images to be of floating type (in range [0, 1]), "
                            f"but found type {image.dtype} instead")
        mean = torch.as_tensor(self.image_mean, dtype=image.dtype, device=image.device)
        std = torch.as_tensor(self.image_std, dtype=image.dtype, device=image.device)
        return (image - mean[:, None, None]) / std[:, None, None]

    def torch_choice(self, k: list[int]) -> int:
        """A uniformly random element of ``k`` drawn with Cadenza's generator (so
        ``torch.manual_seed`` fixes it)."""
        return k[min(int(torch.rand(1).item() * len(k)), len(k) - 1)]

    def resize(
        self, image: Tensor, target: Optional[dict[str, Tensor]] = None
    ) -> tuple[Tensor, Optional[dict[str, Tensor]]]:
        old_size = image.shape[-2:]
        if self.training:
            if self._skip_resize:
                return image, target
            size = self.torch_choice(self.min_size)
        else:
            size = self.min_size[-1]
        image, target = _resize_image_and_masks(image, size, self.max_size, target,
                                                self.fixed_size)
        if target is None:
            return image, target
        new_size = image.shape[-2:]
        target["boxes"] = resize_boxes(target["boxes"], old_size, new_size)
        if "keypoints" in target:
            target["keypoints"] = resize_keypoints(target["keypoints"], old_size, new_size)
        return image, target

    def max_by_axis(self, the_list: list[list[int]]) -> list[int]:
        """Elementwise maximum of equally long lists (the batch's shape envelope)."""
        return [max(column) for column in zip(*the_list)]

    def batch_images(self, images: list[Tensor], size_divisible: int = 32) -> Tensor:
        """Zero-pad every image at the bottom / right (and missing channels) to the largest
        height and width rounded up to multiples of ``size_divisible``, then stack."""
        channels, height, width = self.max_by_axis([list(im.shape) for im in images])
        height = int(math.ceil(height / float(size_divisible)) * size_divisible)
        width = int(math.ceil(width / float(size_divisible)) * size_divisible)
        return torch.stack([F.pad(im, (0, width - im.shape[2], 0, height - im.shape[1],
                                       0, channels - im.shape[0])) for im in images])

    def postprocess(
        self,
        result: list[dict[str, Tensor]],
        image_shapes: list[tuple[int, int]],
        original_image_sizes: list[tuple[int, int]],
    ) -> list[dict[str, Tensor]]:
        """Detections (eval mode) rescaled from the resized to the original image sizes, with
        the per-box masks pasted into full-image masks; training results pass through."""
        if self.training:
            return result
        for detections, size, original in zip(result, image_shapes, original_image_sizes):
            detections["boxes"] = resize_boxes(detections["boxes"], size, original)
            if "masks" in detections:
                detections["masks"] = paste_masks_in_image(detections["masks"],
                                                           detections["boxes"], original)
            if "keypoints" in detections:
                detections["keypoints"] = resize_keypoints(detections["keypoints"], size,
                                                           original)
        return result

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(\n"
                f"    Normalize(mean={self.image_mean}, std={self.image_std})\n"
                f"    Resize(min_size={self.min_size}, max_size={self.max_size}, "
                "mode='bilinear')\n)")


def resize_keypoints(keypoints: Tensor, original_size: list[int], new_size: list[int]) -> Tensor:
    """Scale the (x, y) of (..., K, 3 or more) keypoints; visibility and the rest unchanged."""
    ratio_h, ratio_w = _ratios(original_size, new_size)
    scale = [ratio_w, ratio_h] + [1.0] * (keypoints.shape[-1] - 2)
    return keypoints * torch.as_tensor(scale, dtype=keypoints.dtype, device=keypoints.device)


def resize_boxes(boxes: Tensor, original_size: list[int], new_size: list[int]) -> Tensor:
    """Scale (N, 4) (x1, y1, x2, y2) boxes from an image of ``original_size`` (h, w) to one of
    ``new_size``."""
    ratio_h, ratio_w = _ratios(original_size, new_size)
    scale = torch.as_tensor([ratio_w, ratio_h, ratio_w, ratio_h], dtype=boxes.dtype,
                            device=boxes.device)
    return boxes * scale

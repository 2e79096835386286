"""The inference transforms a ``*_Weights`` entry hands out (``weights.transforms()``), as
torchvision documents them: classification resizes (antialiased), centre-crops, scales to
float and normalises; segmentation resizes and normalises; detection only scales to float."""
from __future__ import annotations

import cadenza as torch
from . import functional as F
from ._image import InterpolationMode

__all__ = ["ImageClassification", "SemanticSegmentation", "ObjectDetection"]


def _as_float_tensor(img):
    if not isinstance(img, torch.Tensor):
        img = F.pil_to_tensor(img)
    return F.convert_image_dtype(img, torch.float)



class ObjectDetection(torch.nn.Module):
    def forward(self, img):
        return _as_float_tensor(img)

    def __repr__(self):
        return self.__class__.__name__ + "()"

    def describe(self):
        return ("Accepts ``PIL.Image``, batched ``(B, C, H, W)`` and single ``(C, H, W)`` image "
                "``torch.Tensor`` objects. The images are rescaled to ``[0.0, 1.0]``.")


class ImageClassification(torch.nn.Module):
    def __init__(self, *, crop_size, resize_size=256, mean=(0.485, 0.456, 0.406),
                 std=(0.229, 0.224, 0.225), interpolation=InterpolationMode.BILINEAR,
                 antialias=True):
        super().__init__()
        self.crop_size = [crop_size]
        self.resize_size = [resize_size]
        self.mean, self.std = list(mean), list(std)
        self.interpolation, self.antialias = interpolation, antialias

    def forward(self, img):
        img = F.resize(img, self.resize_size, interpolation=self.interpolation,
                       antialias=self.antialias)
        img = F.center_crop(img, self.crop_size)
        return F.normalize(_as_float_tensor(img), mean=self.mean, std=self.std)

    def _fields(self):
        return (("crop_size", self.crop_size), ("resize_size", self.resize_size),
                ("mean", self.mean), ("std", self.std), ("interpolation", self.interpolation))

    def __repr__(self):
        return f"{self.__class__.__name__}(\n    " + "\n    ".join(
            f"{k}={v}" for k, v in self._fields()) + "\n)"

    def describe(self):
        return ("Accepts ``PIL.Image``, batched ``(B, C, H, W)`` and single ``(C, H, W)`` image "
                "``torch.Tensor`` objects. The images are resized to ``resize_size="
                f"{self.resize_size}`` using ``interpolation={self.interpolation}``, followed "
                f"by a central crop of ``crop_size={self.crop_size}``. Finally the values are "
                "first rescaled to ``[0.0, 1.0]`` and then normalized using ``mean="
                f"{self.mean}`` and ``std={self.std}``.")


class SemanticSegmentation(torch.nn.Module):
    def __init__(self, *, resize_size, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                 interpolation=InterpolationMode.BILINEAR, antialias=True):
        super().__init__()
        self.resize_size = [resize_size] if resize_size is not None else None
        self.mean, self.std = list(mean), list(std)
        self.interpolation, self.antialias = interpolation, antialias

    def forward(self, img):
        if isinstance(self.resize_size, list):
            img = F.resize(img, self.resize_size, interpolation=self.interpolation,
                           antialias=self.antialias)
        return F.normalize(_as_float_tensor(img), mean=self.mean, std=self.std)

    def __repr__(self):
        return (f"{self.__class__.__name__}(\n    resize_size={self.resize_size}\n    "
                f"mean={self.mean}\n    std={self.std}\n    "
                f"interpolation={self.interpolation}\n)")

    def describe(self):
        return ("Accepts ``PIL.Image``, batched ``(B, C, H, W)`` and single ``(C, H, W)`` image "
                "``torch.Tensor`` objects. The images are resized to ``resize_size="
                f"{self.resize_size}`` using ``interpolation={self.interpolation}``. Finally "
                "the values are first rescaled to ``[0.0, 1.0]`` and then normalized using "
                f"``mean={self.mean}`` and ``std={self.std}``.")

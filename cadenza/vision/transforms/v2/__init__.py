"""torchvision.transforms.v2: transforms called on any structure of inputs (``t(img)``,
``t(img, boxes, label)``, ``t({"image": img, "boxes": boxes, "masks": masks})`` ...), each leaf
handled by what it is: images (PIL, ``tv_tensors.Image`` or a plain tensor), videos, masks and
bounding boxes (``cadenza.vision.tv_tensors``), everything else passed through. A plain tensor is
the image only when there is no Image, Video or PIL image in the sample, and then only the first
one (torchvision's rule). Random parameters are drawn once per call (``make_params``) and applied
to every leaf (``transform``): subclass ``Transform`` and override those two, as in torchvision.
Geometric transforms move boxes and masks with the image (``_geometry.py``); colour transforms
pass boxes and masks through. ``ToImage``, ``ToDtype`` (with ``scale``), ``ToPureTensor``,
``Identity``, ``MixUp`` and ``CutMix`` are v2's own."""
from __future__ import annotations

import enum

import numpy as np

import cadenza as torch
from cadenza import nn
from cadenza.func import _flatten, _unflatten  # the one tree walk (tuples, lists, dicts)
from .. import _random, autoaugment, transforms as _v1
from .. import functional as _F
from ..functional import InterpolationMode  # noqa: F401
from ..._pil import is_pil_image
from ... import tv_tensors
from . import functional
from ._geometry import *  # noqa: F401,F403
from ._geometry import __all__ as _geometry_names
from ._color import *  # noqa: F401,F403
from ._color import __all__ as _color_names
from ._transform import (Transform, _RandomApplyTransform, _is_pure_tensor,  # noqa: F401
                         _is_image_like)

__all__ = ["Transform", "Compose", "ToImage", "ToDtype", "ToPureTensor", "Identity", "MixUp",
           "CutMix", "InterpolationMode"]


def _v2(v1_class, name=None):
    """The v2 form of a v1 image transform class: its call on each image-like leaf (PIL,
    Image, Video or the image tensor), boxes and masks passed through."""
    def transform(self, inpt, params):
        call = v1_class.forward if isinstance(self, nn.Module) else v1_class.__call__
        out = call(self, inpt.as_subclass(torch.Tensor)
                   if isinstance(inpt, tv_tensors.TVTensor) else inpt)
        if isinstance(inpt, tv_tensors.TVTensor) and isinstance(out, torch.Tensor) \
                and not isinstance(out, tv_tensors.TVTensor):
            out = tv_tensors.wrap(out, like=inpt)
        return out

    def __call__(self, *inputs):
        return Transform.forward(self, *inputs)
    return type(name or v1_class.__name__, (v1_class, Transform),
                {"transform": transform, "__call__": __call__, "_transformed_types":
                 (_is_image_like,), "forward": Transform.forward, "__module__": __name__,
                 "__doc__": v1_class.__doc__, "extra_repr": _wrapped_extra_repr,
                 "__repr__": lambda self: f"{type(self).__name__}({self.extra_repr()})"})


def _wrapped_extra_repr(self):
    """torchvision's v2 repr of the public attributes: ``p`` and ``interpolation`` first (v2's
    bases set them before the others), interpolation modes by value, AutoAugment's policy table
    left out (v2 keeps it private)."""
    items = [(k, v) for k, v in self.__dict__.items()
             if not k.startswith("_") and k not in ("training", "policies")
             and isinstance(v, (bool, int, float, str, tuple, list, enum.Enum))]
    items.sort(key=lambda kv: {"p": 0, "interpolation": 1}.get(kv[0], 2))
    return ", ".join(f"{k}={v.value if isinstance(v, InterpolationMode) else v}"
                     for k, v in items)



_WRAPPED = [n for n in _v1.__all__ + _random.__all__ + autoaugment.__all__
            if isinstance(getattr(_v1, n, None) or getattr(_random, n, None) or
                          getattr(autoaugment, n, None), type)
            and n not in ("Compose", "InterpolationMode", "AutoAugmentPolicy", "RandomChoice",
                          "RandomOrder", "RandomApply", "Lambda")
            and n not in _geometry_names + _color_names]
for _n in _WRAPPED:
    _cls = getattr(_v1, _n, None) or getattr(_random, _n, None) or getattr(autoaugment, _n)
    globals()[_n] = _v2(_cls)
AutoAugmentPolicy = autoaugment.AutoAugmentPolicy
__all__ += _WRAPPED + _geometry_names + _color_names + [
    "AutoAugmentPolicy", "RandomChoice", "RandomOrder", "RandomApply", "Lambda"]


class Compose(Transform):
    """Each transform on the whole input structure, in order."""

    def __init__(self, transforms):
        super().__init__()
        if not isinstance(transforms, (list, tuple)):
            raise TypeError("Argument transforms should be a sequence of callables")
        if not transforms:
            raise ValueError("Pass at least one transform")
        self.transforms = transforms

    def forward(self, *inputs):
        unpack = len(inputs) > 1
        for t in self.transforms:
            out = t(*inputs)
            inputs = out if unpack else (out,)
        return out

    def extra_repr(self):
        return "\n".join(f"    {t}" for t in self.transforms)


class RandomApply(Compose):
    """All of ``transforms`` with probability p, else none."""

    def __init__(self, transforms, p=0.5):
        super().__init__(list(transforms))
        if not 0.0 <= p <= 1.0:
            raise ValueError("`p` should be a floating point value in the interval [0.0, 1.0].")
        self.p = p

    def forward(self, *inputs):
        if float(torch.rand(1).item()) >= self.p:
            return inputs if len(inputs) > 1 else inputs[0]
        return super().forward(*inputs)


class RandomChoice(Transform):
    def __init__(self, transforms, p=None):
        super().__init__()
        if p is not None and len(p) != len(transforms):
            raise ValueError(f"Length of p doesn't match the number of transforms: {len(p)} != "
                             f"{len(transforms)}")
        self.transforms = transforms
        w = [1.0] * len(transforms) if p is None else list(p)
        self.p = [x / sum(w) for x in w]

    def forward(self, *inputs):
        idx = int(torch.multinomial(torch.tensor(self.p, dtype=torch.float64), 1).item())
        return self.transforms[idx](*inputs)


class RandomOrder(Transform):
    def __init__(self, transforms):
        super().__init__()
        self.transforms = transforms

    def forward(self, *inputs):
        unpack = len(inputs) > 1
        out = inputs if unpack else inputs[0]
        for i in torch.randperm(len(self.transforms)).tolist():
            out = self.transforms[i](*inputs)
            inputs = out if unpack else (out,)
        return out


class Lambda(Transform):
    """``lambd`` applied to every leaf (of ``types``, if given)."""

    def __init__(self, lambd, *types):
        super().__init__()
        self.lambd, self.types = lambd, types or (object,)

    def extra_repr(self):
        name = getattr(self.lambd, "__name__", type(self.lambd).__name__)
        return f"{name}, types={[t.__name__ for t in self.types]}"

    def forward(self, *inputs):
        tree = inputs if len(inputs) > 1 else inputs[0]
        leaves, spec = _flatten(tree)
        return _unflatten([self.lambd(x) if isinstance(x, self.types) else x for x in leaves],
                          spec)


class Identity(Transform):
    def transform(self, inpt, params):
        return inpt


class ToImage(Transform):
    """PIL image, ndarray (HWC) or the image tensor -> ``tv_tensors.Image`` (CHW, same
    dtype, no scaling)."""
    _transformed_types = (_is_pure_tensor, is_pil_image, np.ndarray)

    def transform(self, inpt, params):
        return functional.to_image(inpt)


class ToPureTensor(Transform):
    """Every tv_tensor as a plain tensor."""
    _transformed_types = (tv_tensors.TVTensor,)

    def transform(self, inpt, params):
        return inpt.as_subclass(torch.Tensor)


class ToDtype(Transform):
    """Cast images and videos to ``dtype``; or, with a dict ``{type: dtype, "others": dtype}``,
    each tv_tensor type to its own dtype (None: unchanged). With ``scale``, images map their
    value range (uint8 0..255 <-> float 0..1) as convert_image_dtype does."""
    _transformed_types = (torch.Tensor,)

    def __init__(self, dtype, scale=False):
        super().__init__()
        if not isinstance(dtype, (dict, torch.dtype)):
            raise ValueError(f"dtype must be a dict or a torch.dtype, got {type(dtype)} instead")
        self.dtype, self.scale = dtype, scale

    def transform(self, inpt, params):
        if isinstance(self.dtype, torch.dtype):
            if not _is_pure_tensor(inpt) and not isinstance(inpt, (tv_tensors.Image,
                                                                    tv_tensors.Video)):
                return inpt
            dtype = self.dtype
        elif type(inpt) in self.dtype:
            dtype = self.dtype[type(inpt)]
        elif "others" in self.dtype:
            dtype = self.dtype["others"]
        else:
            raise ValueError(f"No dtype was specified for type {type(inpt)}. If you only need to "
                             f"convert the dtype of images or videos, you can just pass e.g. "
                             f"dtype=torch.float32. If you're passing a dict as dtype, you can "
                             f"use \"others\" as a catch-all key e.g. dtype={{tv_tensors.Mask: "
                             f"torch.int64, \"others\": None}} to pass-through the rest of the "
                             f"inputs.")
        if dtype is None:
            return inpt
        return functional.to_dtype(inpt, dtype=dtype, scale=self.scale)


class _BatchMix(Transform):
    """MixUp/CutMix on a batch: ``(images [N, C, H, W], labels [N])`` -> (mixed images, soft
    labels [N, num_classes])."""

    def __init__(self, *, alpha=1.0, num_classes=None, labels_getter="default"):
        super().__init__()
        self.alpha, self.num_classes = float(alpha), num_classes
        self._labels_getter = labels_getter

    def _lam(self):
        a = self.alpha
        return float(np.random.default_rng(int(torch.randint(0, 2 ** 31 - 1, (1,)).item()))
                     .beta(a, a))

    def forward(self, *inputs):
        images, labels = inputs if len(inputs) == 2 else inputs[0]
        if images.dim() != 4:
            raise ValueError(f"Expected a batched input with 4 dims, but got {images.dim()} "
                             f"dimensions.")
        if labels.dim() != 1 or labels.shape[0] != images.shape[0]:
            raise ValueError(f"labels should be a 1-d tensor of the batch size "
                             f"{images.shape[0]}, got shape {tuple(labels.shape)}")
        n = self.num_classes if self.num_classes is not None else int(labels.max()) + 1
        one_hot = nn.functional.one_hot(labels, n).to(images.dtype if images.is_floating_point()
                                                      else torch.float32)
        lam = self._lam()
        images, lam = self._mix(images, lam)
        mixed = one_hot.roll(1, 0) * (1.0 - lam) + one_hot * lam
        return images, mixed


class MixUp(_BatchMix):
    def _mix(self, images, lam):
        return images.roll(1, 0) * (1.0 - lam) + images * lam, lam


class CutMix(_BatchMix):
    def _mix(self, images, lam):
        h, w = images.shape[-2:]
        r_x = int(torch.randint(w, (1,)).item())
        r_y = int(torch.randint(h, (1,)).item())
        rh, rw = 0.5 * (1.0 - lam) ** 0.5 * h, 0.5 * (1.0 - lam) ** 0.5 * w
        x1, y1 = int(max(r_x - rw, 0)), int(max(r_y - rh, 0))
        x2, y2 = int(min(r_x + rw, w)), int(min(r_y + rh, h))
        out = images.clone()
        out[..., y1:y2, x1:x2] = images.roll(1, 0)[..., y1:y2, x1:x2]
        return out, 1.0 - ((x2 - x1) * (y2 - y1)) / (w * h)

"""torchvision.transforms.v2 for images: the same transforms as ``transforms``, called on any
structure of inputs (``t(img)``, ``t(img, label)``, ``t({"image": img, "label": 3})``,
``t([img1, img2])`` ...). The image leaves are transformed and everything else passes through:
PIL images are images, and a plain tensor is the image when it is the first tensor leaf (the
rule torchvision applies to pure tensors). Random parameters are drawn once per call.
``ToImage``, ``ToDtype`` (with ``scale``), ``ToPureTensor``, ``Identity``, ``MixUp`` and
``CutMix`` are v2's own. Bounding boxes, masks and videos (``tv_tensors``) are not supported."""
from __future__ import annotations

import numpy as np

import cadenza as torch
from cadenza import nn
from cadenza.func import _flatten, _unflatten  # the one tree walk (tuples, lists, dicts)
from .. import _random, autoaugment, transforms as _v1
from .. import functional as _F
from ..functional import InterpolationMode  # noqa: F401
from ..._pil import is_pil_image
from . import functional

__all__ = ["Transform", "Compose", "ToImage", "ToDtype", "ToPureTensor", "Identity", "MixUp",
           "CutMix", "InterpolationMode"]


def _image_positions(leaves):
    """Which leaves are images: every PIL image and, if there is no PIL image, the first
    tensor (torchvision's rule for pure tensors)."""
    pil = [i for i, x in enumerate(leaves) if is_pil_image(x)]
    if pil:
        return pil
    for i, x in enumerate(leaves):
        if isinstance(x, (torch.Tensor, np.ndarray)):
            return [i]
    return []


class Transform(nn.Module):
    """A v2 transform: ``transform_image(img)`` applied to the image leaves of the input."""

    def transform_image(self, img):
        return img

    def forward(self, *inputs):
        tree = inputs if len(inputs) > 1 else inputs[0]
        leaves, spec = _flatten(tree)
        for i in _image_positions(leaves):
            leaves[i] = self.transform_image(leaves[i])
        return _unflatten(leaves, spec)


def _v2(v1_class, name=None):
    """The v2 form of a v1 transform class: its call on the image, once per call."""
    def transform_image(self, img):
        return v1_class.__call__(self, img) if not isinstance(self, nn.Module) \
            else v1_class.forward(self, img)

    def __call__(self, *inputs):
        return Transform.forward(self, *inputs)
    return type(name or v1_class.__name__, (v1_class, Transform),
                {"transform_image": transform_image, "__call__": __call__,
                 "forward": Transform.forward, "__module__": __name__,
                 "__doc__": v1_class.__doc__})


_WRAPPED = [n for n in _v1.__all__ + _random.__all__ + autoaugment.__all__
            if isinstance(getattr(_v1, n, None) or getattr(_random, n, None) or
                          getattr(autoaugment, n, None), type)
            and n not in ("Compose", "InterpolationMode", "AutoAugmentPolicy", "RandomChoice",
                          "RandomOrder", "RandomApply", "Lambda")]
for _n in _WRAPPED:
    _cls = getattr(_v1, _n, None) or getattr(_random, _n, None) or getattr(autoaugment, _n)
    globals()[_n] = _v2(_cls)
AutoAugmentPolicy = autoaugment.AutoAugmentPolicy
__all__ += _WRAPPED + ["AutoAugmentPolicy", "RandomChoice", "RandomOrder", "RandomApply",
                       "Lambda"]


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

    def __repr__(self):
        inner = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({inner}\n)"


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

    def forward(self, *inputs):
        tree = inputs if len(inputs) > 1 else inputs[0]
        leaves, spec = _flatten(tree)
        return _unflatten([self.lambd(x) if isinstance(x, self.types) else x for x in leaves],
                          spec)


class Identity(Transform):
    pass


class ToImage(Transform):
    """PIL image or HWC ndarray -> CHW tensor of the same dtype (no scaling)."""

    def transform_image(self, img):
        return functional.to_image(img)


class ToPureTensor(Transform):
    """Cadenza's images are plain tensors already."""


class ToDtype(Transform):
    """Cast images to ``dtype`` (a dtype, or a dict with a ``torch.Tensor``/"others" entry);
    with ``scale``, map the value range (uint8 0..255 <-> float 0..1) as convert_image_dtype
    does."""

    def __init__(self, dtype, scale=False):
        super().__init__()
        if not isinstance(dtype, (dict, torch.dtype)):
            raise ValueError(f"dtype must be a dict or a torch.dtype, got {type(dtype)} instead")
        self.dtype, self.scale = dtype, scale

    def transform_image(self, img):
        d = self.dtype
        if isinstance(d, dict):
            d = d.get(torch.Tensor, d.get("others"))
            if d is None:
                return img
        if not isinstance(img, torch.Tensor):
            raise TypeError(f"ToDtype: expected a tensor image (use ToImage first), got "
                            f"{type(img).__name__}")
        return _F.convert_image_dtype(img, d) if self.scale else img.to(d)


class _BatchMix(nn.Module):
    """MixUp/CutMix on a batch: ``(images [N, C, H, W], labels [N])`` -> (mixed images, soft
    labels [N, num_classes])."""

    def __init__(self, *, alpha=1.0, num_classes=None, labels_getter="default"):
        super().__init__()
        self.alpha, self.num_classes = float(alpha), num_classes

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

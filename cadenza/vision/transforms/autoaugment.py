"""torchvision.transforms' learned and random augmentation policies: AutoAugment (the ImageNet,
CIFAR-10 and SVHN policies of Cubuk et al., 2019), RandAugment and TrivialAugmentWide. Each op
is one of the functional image ops with a magnitude taken from a table of bins; random draws
use Cadenza's default generator (``cadenza.manual_seed`` makes them repeatable)."""
from __future__ import annotations

import enum
import math

import numpy as np

import cadenza as torch
from cadenza import nn
from cadenza.distributions import Dirichlet
from . import functional as F
from .functional import InterpolationMode

__all__ = ["AutoAugmentPolicy", "AutoAugment", "RandAugment", "TrivialAugmentWide", "AugMix"]


class AutoAugmentPolicy(enum.Enum):
    IMAGENET = "imagenet"
    CIFAR10 = "cifar10"
    SVHN = "svhn"


# the published policies: two (op, probability, magnitude bin) per sub-policy, "-" = no bin
_POLICIES = {
    AutoAugmentPolicy.IMAGENET: """
        Posterize .4 8 Rotate .6 9 | Solarize .6 5 AutoContrast .6 - | Equalize .8 - Equalize .6 -
        Posterize .6 7 Posterize .6 6 | Equalize .4 - Solarize .2 4 | Equalize .4 - Rotate .8 8
        Solarize .6 3 Equalize .6 - | Posterize .8 5 Equalize 1 - | Rotate .2 3 Solarize .6 8
        Equalize .6 - Posterize .4 6 | Rotate .8 8 Color .4 0 | Rotate .4 9 Equalize .6 -
        Equalize 0 - Equalize .8 - | Invert .6 - Equalize 1 - | Color .6 4 Contrast 1 8
        Rotate .8 8 Color 1 2 | Color .8 8 Solarize .8 7 | Sharpness .4 7 Invert .6 -
        ShearX .6 5 Equalize 1 - | Color .4 0 Equalize .6 - | Equalize .4 - Solarize .2 4
        Solarize .6 5 AutoContrast .6 - | Invert .6 - Equalize 1 - | Color .6 4 Contrast 1 8
        Equalize .8 - Equalize .6 -""",
    AutoAugmentPolicy.CIFAR10: """
        Invert .1 - Contrast .2 6 | Rotate .7 2 TranslateX .3 9 | Sharpness .8 1 Sharpness .9 3
        ShearY .5 8 TranslateY .7 9 | AutoContrast .5 - Equalize .9 - | ShearY .2 7 Posterize .3 7
        Color .4 3 Brightness .6 7 | Sharpness .3 9 Brightness .7 9 | Equalize .6 - Equalize .5 -
        Contrast .6 7 Sharpness .6 5 | Color .7 7 TranslateX .5 8 | Equalize .3 - AutoContrast .4 -
        TranslateY .4 3 Sharpness .2 6 | Brightness .9 6 Color .2 8 | Solarize .5 2 Invert 0 -
        Equalize .2 - AutoContrast .6 - | Equalize .2 - Equalize .6 - | Color .9 9 Equalize .6 -
        AutoContrast .8 - Solarize .2 8 | Brightness .1 3 Color .7 0
        Solarize .4 5 AutoContrast .9 - | TranslateY .9 9 TranslateY .7 9
        AutoContrast .9 - Solarize .8 3 | Equalize .8 - Invert .1 -
        TranslateY .7 9 AutoContrast .9 -""",
    AutoAugmentPolicy.SVHN: """
        ShearX .9 4 Invert .2 - | ShearY .9 8 Invert .7 - | Equalize .6 - Solarize .6 6
        Invert .9 - Equalize .6 - | Equalize .6 - Rotate .9 3 | ShearX .9 4 AutoContrast .8 -
        ShearY .9 8 Invert .4 - | ShearY .9 5 Solarize .2 6 | Invert .9 - AutoContrast .8 -
        Equalize .6 - Rotate .9 3 | ShearX .9 4 Solarize .3 3 | ShearY .8 8 Invert .7 -
        Equalize .9 - TranslateY .6 6 | Invert .9 - Equalize .6 - | Contrast .3 3 Rotate .8 4
        Invert .8 - TranslateY 0 2 | ShearY .7 6 Solarize .4 8 | Invert .6 - Rotate .8 4
        ShearY .3 7 TranslateX .9 3 | ShearX .1 6 Invert .6 - | Solarize .7 2 TranslateY .6 7
        ShearY .8 4 Invert .8 - | ShearX .7 9 TranslateY .8 3 | ShearY .8 5 AutoContrast .7 -
        ShearX .7 2 Invert .1 -""",
}


def _parse_policy(text):
    """The table as torchvision holds it: [((op, p, bin), (op, p, bin)), ...]."""
    w = [t for t in text.split() if t != "|"]
    ops = [(w[i], float(w[i + 1]), None if w[i + 2] == "-" else int(w[i + 2]))
           for i in range(0, len(w), 3)]
    return [tuple(ops[i:i + 2]) for i in range(0, len(ops), 2)]


def _apply_op(img, op, magnitude, interpolation, fill):
    if op == "ShearX":
        return F.affine(img, 0.0, [0, 0], 1.0, [math.degrees(math.atan(magnitude)), 0.0],
                        interpolation=interpolation, fill=fill, center=[0, 0])
    if op == "ShearY":
        return F.affine(img, 0.0, [0, 0], 1.0, [0.0, math.degrees(math.atan(magnitude))],
                        interpolation=interpolation, fill=fill, center=[0, 0])
    if op == "TranslateX":
        return F.affine(img, 0.0, [int(magnitude), 0], 1.0, [0.0, 0.0],
                        interpolation=interpolation, fill=fill)
    if op == "TranslateY":
        return F.affine(img, 0.0, [0, int(magnitude)], 1.0, [0.0, 0.0],
                        interpolation=interpolation, fill=fill)
    if op == "Rotate":
        return F.rotate(img, magnitude, interpolation=interpolation, fill=fill)
    enhance = {"Brightness": F.adjust_brightness, "Color": F.adjust_saturation,
               "Contrast": F.adjust_contrast, "Sharpness": F.adjust_sharpness}
    if op in enhance:
        return enhance[op](img, 1.0 + magnitude)
    if op == "Posterize":
        return F.posterize(img, int(magnitude))
    if op == "Solarize":
        return F.solarize(img, magnitude)
    plain = {"AutoContrast": F.autocontrast, "Equalize": F.equalize, "Invert": F.invert,
             "Identity": lambda x: x}
    if op in plain:
        return plain[op](img)
    raise ValueError(f"The provided operator {op} is not recognized.")


def _fill_for(img, fill):
    if isinstance(img, torch.Tensor):
        if isinstance(fill, (int, float)):
            return [float(fill)] * F.get_dimensions(img)[0]
        if fill is not None:
            return [float(f) for f in fill]
    return fill


def _randint(n):
    return int(torch.randint(n, (1,)).item())


def _space(num_bins, size, wide=False):
    """op -> (magnitude bins or None, signed): torchvision's augmentation spaces."""
    h, w = size
    lin = np.linspace
    if wide:     # TrivialAugmentWide's wider ranges
        return {"Identity": (None, False), "ShearX": (lin(0.0, 0.99, num_bins), True),
                "ShearY": (lin(0.0, 0.99, num_bins), True),
                "TranslateX": (lin(0.0, 32.0, num_bins), True),
                "TranslateY": (lin(0.0, 32.0, num_bins), True),
                "Rotate": (lin(0.0, 135.0, num_bins), True),
                **{k: (lin(0.0, 0.99, num_bins), True) for k in
                   ("Brightness", "Color", "Contrast", "Sharpness")},
                "Posterize": (8 - np.round(np.arange(num_bins) / ((num_bins - 1) / 6)), False),
                "Solarize": (lin(255.0, 0.0, num_bins), False),
                "AutoContrast": (None, False), "Equalize": (None, False)}
    return {"ShearX": (lin(0.0, 0.3, num_bins), True), "ShearY": (lin(0.0, 0.3, num_bins), True),
            "TranslateX": (lin(0.0, 150.0 / 331.0 * w, num_bins), True),
            "TranslateY": (lin(0.0, 150.0 / 331.0 * h, num_bins), True),
            "Rotate": (lin(0.0, 30.0, num_bins), True),
            **{k: (lin(0.0, 0.9, num_bins), True) for k in
               ("Brightness", "Color", "Contrast", "Sharpness")},
            "Posterize": (8 - np.round(np.arange(num_bins) / ((num_bins - 1) / 4)), False),
            "Solarize": (lin(255.0, 0.0, num_bins), False),
            "AutoContrast": (None, False), "Equalize": (None, False)}


def _size(img):
    _, h, w = F.get_dimensions(img)
    return h, w


class AutoAugment(nn.Module):
    """One random sub-policy of ``policy`` per call; each of its two ops applies with its
    probability, at its magnitude bin (10 bins), with a random sign where the op has one."""

    def __init__(self, policy=AutoAugmentPolicy.IMAGENET,
                 interpolation=InterpolationMode.NEAREST, fill=None):
        super().__init__()
        self.policy, self.interpolation, self.fill = policy, interpolation, fill
        if policy not in _POLICIES:
            raise ValueError(f"The provided policy {policy} is not recognized.")
        self.policies = _parse_policy(_POLICIES[policy])

    @staticmethod
    def get_params(transform_num):
        return _randint(transform_num), torch.rand((2,)), torch.randint(2, (2,))

    def forward(self, img):
        fill = _fill_for(img, self.fill)
        space = dict(_space(10, _size(img)), Invert=(None, False))
        pid, probs, signs = self.get_params(len(self.policies))
        for i, (op, p, mag_id) in enumerate(self.policies[pid]):
            if float(probs[i]) <= p:
                bins, signed = space[op]
                mag = float(bins[mag_id]) if mag_id is not None and bins is not None else 0.0
                if signed and int(signs[i]) == 0:
                    mag = -mag
                img = _apply_op(img, op, mag, self.interpolation, fill)
        return img

    def __repr__(self):
        return f"{type(self).__name__}(policy={self.policy}, fill={self.fill})"


class RandAugment(nn.Module):
    """``num_ops`` ops drawn uniformly, each at bin ``magnitude`` of ``num_magnitude_bins``."""

    def __init__(self, num_ops=2, magnitude=9, num_magnitude_bins=31,
                 interpolation=InterpolationMode.NEAREST, fill=None):
        super().__init__()
        self.num_ops, self.magnitude = num_ops, magnitude
        self.num_magnitude_bins = num_magnitude_bins
        self.interpolation, self.fill = interpolation, fill

    def forward(self, img):
        fill = _fill_for(img, self.fill)
        space = {"Identity": (None, False), **_space(self.num_magnitude_bins, _size(img))}
        names = list(space)
        for _ in range(self.num_ops):
            op = names[_randint(len(names))]
            bins, signed = space[op]
            mag = float(bins[self.magnitude]) if bins is not None else 0.0
            if signed and _randint(2):
                mag = -mag
            img = _apply_op(img, op, mag, self.interpolation, fill)
        return img

    def __repr__(self):
        return (f"{type(self).__name__}(num_ops={self.num_ops}, magnitude={self.magnitude}, "
                f"num_magnitude_bins={self.num_magnitude_bins}, "
                f"interpolation={self.interpolation}, fill={self.fill})")


class TrivialAugmentWide(nn.Module):
    """One op drawn uniformly, at a magnitude bin drawn uniformly (the wide ranges)."""

    def __init__(self, num_magnitude_bins=31, interpolation=InterpolationMode.NEAREST,
                 fill=None):
        super().__init__()
        self.num_magnitude_bins = num_magnitude_bins
        self.interpolation, self.fill = interpolation, fill

    def forward(self, img):
        fill = _fill_for(img, self.fill)
        space = _space(self.num_magnitude_bins, _size(img), wide=True)
        names = list(space)
        op = names[_randint(len(names))]
        bins, signed = space[op]
        mag = float(bins[_randint(len(bins))]) if bins is not None else 0.0
        if signed and _randint(2):
            mag = -mag
        return _apply_op(img, op, mag, self.interpolation, fill)

    def __repr__(self):
        return (f"{type(self).__name__}(num_magnitude_bins={self.num_magnitude_bins}, "
                f"interpolation={self.interpolation}, fill={self.fill})")


class AugMix(nn.Module):
    """AugMix: ``mixture_width`` chains of 1-3 (or ``chain_depth``) random ops at
    ``severity``, mixed with Dirichlet(alpha) weights, then mixed with the original image with
    Beta(alpha, alpha) weights (torchvision's algorithm; PIL images round-trip through uint8
    tensors)."""

    _PARAMETER_MAX = 10

    def __init__(self, severity=3, mixture_width=3, chain_depth=-1, alpha=1.0, all_ops=True,
                 interpolation=InterpolationMode.BILINEAR, fill=None):
        super().__init__()
        if not 1 <= severity <= self._PARAMETER_MAX:
            raise ValueError(f"The severity must be between [1, {self._PARAMETER_MAX}]. Got "
                             f"{severity} instead.")
        self.severity, self.mixture_width, self.chain_depth = severity, mixture_width, chain_depth
        self.alpha, self.all_ops = alpha, all_ops
        self.interpolation, self.fill = interpolation, fill

    def _augmentation_space(self, num_bins, image_size):
        h, w = image_size
        lin = np.linspace
        s = {"ShearX": (lin(0.0, 0.3, num_bins), True), "ShearY": (lin(0.0, 0.3, num_bins), True),
             "TranslateX": (lin(0.0, w / 3.0, num_bins), True),
             "TranslateY": (lin(0.0, h / 3.0, num_bins), True),
             "Rotate": (lin(0.0, 30.0, num_bins), True),
             "Posterize": (4 - np.round(np.arange(num_bins) / ((num_bins - 1) / 4)), False),
             "Solarize": (lin(255.0, 0.0, num_bins), False),
             "AutoContrast": (None, False), "Equalize": (None, False)}
        if self.all_ops:
            s.update({k: (lin(0.0, 0.9, num_bins), True)
                      for k in ("Brightness", "Color", "Contrast", "Sharpness")})
        return s

    def forward(self, orig_img):
        fill = _fill_for(orig_img, self.fill)
        channels, height, width = F.get_dimensions(orig_img)
        img = orig_img if isinstance(orig_img, torch.Tensor) else F.pil_to_tensor(orig_img)
        op_meta = self._augmentation_space(self._PARAMETER_MAX, (height, width))
        names = list(op_meta)
        orig_dims = list(img.shape)
        batch = img.view([1] * max(4 - img.ndim, 0) + orig_dims)
        n = batch.shape[0]
        bdims = [n] + [1] * (batch.ndim - 1)
        m = Dirichlet(torch.full((n, 2), float(self.alpha))).sample()
        weights = Dirichlet(torch.full((n, self.mixture_width), float(self.alpha))).sample() \
            * m[:, 1].view(n, -1)
        mix = m[:, 0].view(bdims) * batch
        for i in range(self.mixture_width):
            aug = batch
            depth = self.chain_depth if self.chain_depth > 0 else \
                int(torch.randint(low=1, high=4, size=(1,)).item())
            for _ in range(depth):
                op = names[_randint(len(names))]
                bins, signed = op_meta[op]
                mag = float(bins[_randint(self.severity)]) if bins is not None else 0.0
                if signed and _randint(2):
                    mag = -mag
                aug = _apply_op(aug, op, mag, self.interpolation, fill)
            mix = mix + weights[:, i].view(bdims) * aug
        mix = mix.view(orig_dims).to(img.dtype)
        return mix if isinstance(orig_img, torch.Tensor) else F.to_pil_image(mix)

    def __repr__(self):
        return (f"{type(self).__name__}(severity={self.severity}, mixture_width="
                f"{self.mixture_width}, chain_depth={self.chain_depth}, alpha={self.alpha}, "
                f"all_ops={self.all_ops}, interpolation={self.interpolation}, fill={self.fill})")

"""RegNetX / RegNetY (Radosavovic et al., 2020) with torchvision's module names: ``stem``,
``trunk_output.block{i}.block{i}-{j}`` residual bottlenecks, ``fc``."""
from __future__ import annotations

import math
from collections import OrderedDict
from functools import partial

import numpy as np

from cadenza import nn
from .._layers import Conv2dNormActivation, SqueezeExcitation
from ._api import build, make_weights
from .mobilenetv2 import _make_divisible

__all__ = ["RegNet", "BlockParams"]


class SimpleStemIN(Conv2dNormActivation):
    def __init__(self, width_in, width_out, norm_layer, activation_layer):
        super().__init__(width_in, width_out, kernel_size=3, stride=2, norm_layer=norm_layer,
                         activation_layer=activation_layer)


class BottleneckTransform(nn.Sequential):
    """1x1 (a), grouped 3x3 (b), optional squeeze-excitation (se), 1x1 (c)."""

    def __init__(self, width_in, width_out, stride, norm_layer, activation_layer, group_width,
                 bottleneck_multiplier, se_ratio):
        w_b = int(round(width_out * bottleneck_multiplier))
        layers = OrderedDict()
        layers["a"] = Conv2dNormActivation(width_in, w_b, kernel_size=1, stride=1,
                                           norm_layer=norm_layer,
                                           activation_layer=activation_layer)
        layers["b"] = Conv2dNormActivation(w_b, w_b, kernel_size=3, stride=stride,
                                           groups=w_b // group_width, norm_layer=norm_layer,
                                           activation_layer=activation_layer)
        if se_ratio:
            layers["se"] = SqueezeExcitation(w_b, int(round(se_ratio * width_in)),
                                             activation=activation_layer)
        layers["c"] = Conv2dNormActivation(w_b, width_out, kernel_size=1, stride=1,
                                           norm_layer=norm_layer, activation_layer=None)
        super().__init__(layers)


class ResBottleneckBlock(nn.Module):
    def __init__(self, width_in, width_out, stride, norm_layer, activation_layer, group_width=1,
                 bottleneck_multiplier=1.0, se_ratio=None):
        super().__init__()
        self.proj = None
        if width_in != width_out or stride != 1:
            self.proj = Conv2dNormActivation(width_in, width_out, kernel_size=1, stride=stride,
                                             norm_layer=norm_layer, activation_layer=None)
        self.f = BottleneckTransform(width_in, width_out, stride, norm_layer, activation_layer,
                                     group_width, bottleneck_multiplier, se_ratio)
        self.activation = activation_layer(inplace=True)

    def forward(self, x):
        skip = self.proj(x) if self.proj is not None else x
        return self.activation(skip + self.f(x))


class AnyStage(nn.Sequential):
    def __init__(self, width_in, width_out, stride, depth, block_constructor, norm_layer,
                 activation_layer, group_width, bottleneck_multiplier, se_ratio=None,
                 stage_index=0):
        super().__init__()
        for i in range(depth):
            self.add_module(f"block{stage_index}-{i}", block_constructor(
                width_in if i == 0 else width_out, width_out, stride if i == 0 else 1,
                norm_layer, activation_layer, group_width, bottleneck_multiplier, se_ratio))


class BlockParams:
    def __init__(self, depths, widths, group_widths, bottleneck_multipliers, strides,
                 se_ratio=None):
        self.depths, self.widths, self.group_widths = depths, widths, group_widths
        self.bottleneck_multipliers, self.strides = bottleneck_multipliers, strides
        self.se_ratio = se_ratio

    @classmethod
    def from_init_params(cls, depth, w_0, w_a, w_m, group_width, bottleneck_multiplier=1.0,
                         se_ratio=None, **kwargs):
        """Per-stage settings from the RegNet parameters: block widths grow linearly
        (w_0 + w_a * i), are snapped to w_0 * w_m^k in log space and quantized to 8; blocks
        of equal width form a stage (float32 arithmetic, as torchvision computes it)."""
        if w_a < 0 or w_0 <= 0 or w_m <= 1 or w_0 % 8 != 0:
            raise ValueError("Invalid RegNet settings")
        f32 = np.float32
        cont = np.arange(depth, dtype=f32) * f32(w_a) + f32(w_0)
        capacity = np.round(np.log(cont / f32(w_0)) / f32(math.log(w_m)))
        widths = (np.round(np.power(f32(w_m), capacity, dtype=f32) * f32(w_0) / f32(8)) * 8)
        widths = widths.astype(np.int32).tolist()
        starts = [i for i in range(depth + 1)
                  if i == 0 or i == depth or widths[i] != widths[i - 1]]
        stage_widths = [widths[i] for i in starts[:-1]]
        depths = np.diff(starts).tolist()
        n = len(stage_widths)
        stage_widths, group_widths = cls._adjust_widths_groups_compatibilty(
            stage_widths, [bottleneck_multiplier] * n, [group_width] * n)
        return cls(depths, stage_widths, group_widths, [bottleneck_multiplier] * n, [2] * n,
                   se_ratio)

    def _get_expanded_params(self):
        return zip(self.widths, self.strides, self.depths, self.group_widths,
                   self.bottleneck_multipliers)

    @staticmethod
    def _adjust_widths_groups_compatibilty(stage_widths, bottleneck_ratios, group_widths):
        widths = [int(w * b) for w, b in zip(stage_widths, bottleneck_ratios)]
        group_min = [min(g, w) for g, w in zip(group_widths, widths)]
        ws_bot = [_make_divisible(w, g) for w, g in zip(widths, group_min)]
        return [int(w / b) for w, b in zip(ws_bot, bottleneck_ratios)], group_min


class RegNet(nn.Module):
    def __init__(self, block_params, num_classes=1000, stem_width=32, stem_type=None,
                 block_type=None, norm_layer=None, activation=None):
        super().__init__()
        stem_type, block_type = stem_type or SimpleStemIN, block_type or ResBottleneckBlock
        norm_layer, activation = norm_layer or nn.BatchNorm2d, activation or nn.ReLU
        self.stem = stem_type(3, stem_width, norm_layer, activation)
        width, blocks = stem_width, []
        for i, (w_out, stride, depth, gw, bm) in enumerate(block_params._get_expanded_params()):
            blocks.append((f"block{i + 1}", AnyStage(width, w_out, stride, depth, block_type,
                                                     norm_layer, activation, gw, bm,
                                                     block_params.se_ratio, stage_index=i + 1)))
            width = w_out
        self.trunk_output = nn.Sequential(OrderedDict(blocks))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(in_features=width, out_features=num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, mean=0.0, std=math.sqrt(2.0 / fan_out))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, mean=0.0, std=0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.avgpool(self.trunk_output(self.stem(x)))
        return self.fc(x.flatten(start_dim=1))


_URL = "https://download.pytorch.org/models/regnet_"
# name: (depth, w_0, w_a, w_m, group_width, V1 weights file hash); RegNetY adds se_ratio=0.25
_CONFIGS = {
    "y_400mf": (16, 48, 27.89, 2.09, 8, "c65dace8"),
    "y_800mf": (14, 56, 38.84, 2.4, 16, "1b27b58c"),
    "y_1_6gf": (27, 48, 20.71, 2.65, 24, "b11a554e"),
    "y_3_2gf": (21, 80, 42.63, 2.66, 24, "b5a9779c"),
    "y_8gf": (17, 192, 76.82, 2.19, 56, "d0d0e4a8"),
    "y_16gf": (18, 200, 106.23, 2.48, 112, "9e6ed7dd"),
    "y_32gf": (20, 232, 115.89, 2.53, 232, "4dee3f7a"),
    "y_128gf": (27, 456, 160.83, 2.52, 264, None),
    "x_400mf": (22, 24, 24.48, 2.54, 16, "adf1edd5"),
    "x_800mf": (16, 56, 35.73, 2.28, 16, "ad17e45c"),
    "x_1_6gf": (18, 80, 34.01, 2.25, 24, "e3633e7f"),
    "x_3_2gf": (25, 88, 26.31, 2.25, 48, "f342aeae"),
    "x_8gf": (23, 80, 49.56, 2.88, 120, "03ceed89"),
    "x_16gf": (22, 216, 55.59, 2.1, 128, "2007eb11"),
    "x_32gf": (23, 320, 69.86, 2.0, 168, "9d47f8d0"),
}


_V2 = {"y_400mf": "e6988f5f", "y_800mf": "58fc7688", "y_1_6gf": "0d7bc02a", "y_3_2gf": "9180c971",
       "y_8gf": "dc2b1b54", "y_16gf": "3e4a00f9", "y_32gf": "8db6d4b5", "x_400mf": "62229a5f",
       "x_800mf": "94a99ebd", "x_1_6gf": "a12f2b72", "x_3_2gf": "7071aa85", "x_8gf": "2b70d774",
       "x_16gf": "ba3796d7", "x_32gf": "6eb8fdc6"}
# SWAG weights (Singh et al., 2022): end-to-end at 384x384 and linear-classifier
_SWAG = {"y_16gf": ("43afe44d", "f3ec0043"), "y_32gf": ("04fdfa75", "e1583746"),
         "y_128gf": ("c8ce3e52", "cbe8ce12")}


def _swag(prefix, digests):
    e2e, linear = digests
    return {"IMAGENET1K_SWAG_E2E_V1": (f"{prefix}_swag-{e2e}.pth", {}),
            "IMAGENET1K_SWAG_LINEAR_V1": (f"{prefix}_lc_swag-{linear}.pth", {})}


def _make_builder(name):
    depth, w_0, w_a, w_m, group_width, digest = _CONFIGS[name]
    wname = f"RegNet_{name.upper()}_Weights"
    weights_cls = make_weights(wname, digest and f"{_URL}{name}-{digest}.pth",
                               v2=name in _V2 and f"{_URL}{name}-{_V2[name]}.pth",
                               extra=_swag(_URL + name, _SWAG[name]) if name in _SWAG
                               else None)
    se_ratio = 0.25 if name.startswith("y") else None

    def builder(*, weights=None, progress=True, **kwargs):
        def make(norm_layer=partial(nn.BatchNorm2d, eps=1e-05, momentum=0.1), **kw):
            params = BlockParams.from_init_params(depth=depth, w_0=w_0, w_a=w_a, w_m=w_m,
                                                  group_width=group_width, se_ratio=se_ratio,
                                                  **kw)
            return RegNet(params, norm_layer=norm_layer, **kw)
        return build(weights_cls, weights, kwargs, make)
    builder.__name__ = builder.__qualname__ = f"regnet_{name}"
    builder.__module__ = __name__
    builder.__doc__ = f"RegNet{name[0].upper()}-{name[2:].upper()} (depth {depth}, w_0 {w_0})."
    return wname, weights_cls, builder


for _name in _CONFIGS:
    _wname, _wcls, _fn = _make_builder(_name)
    globals()[_wname], globals()[_fn.__name__] = _wcls, _fn
    __all__ += [_wname, _fn.__name__]

"""torchvision.ops' FeaturePyramidNetwork (with its LastLevelMaxPool / LastLevelP6P7 extra
blocks) and MultiScaleRoIAlign (each box pooled from the pyramid level its size maps to, eq. 1 of
the FPN paper); torchvision's module names and state-dict keys."""
from __future__ import annotations

import math
from collections import OrderedDict

import cadenza as torch
from cadenza import nn
from cadenza.nn import functional as F

from ._boxes import box_area
from ._layers import Conv2dNormActivation
from ._roi import roi_align

__all__ = ["FeaturePyramidNetwork", "ExtraFPNBlock", "LastLevelMaxPool", "LastLevelP6P7",
           "MultiScaleRoIAlign"]


class ExtraFPNBlock(nn.Module):
    """Base of the blocks run on the FPN's outputs: forward(results, x, names) -> (results,
    names)."""

    def forward(self, results, x, names):
        raise NotImplementedError(f"{type(self).__name__} should define forward")


class FeaturePyramidNetwork(nn.Module):
    """Top-down pathway with lateral 1x1 convs (``inner_blocks``) and 3x3 output convs
    (``layer_blocks``) over an ordered dict of feature maps (finest first)."""

    _version = 2

    def __init__(self, in_channels_list, out_channels, extra_blocks=None, norm_layer=None):
        super().__init__()
        self.inner_blocks = nn.ModuleList()
        self.layer_blocks = nn.ModuleList()
        for in_channels in in_channels_list:
            if in_channels == 0:
                raise ValueError("in_channels=0 is currently not supported")
            self.inner_blocks.append(Conv2dNormActivation(
                in_channels, out_channels, kernel_size=1, padding=0, norm_layer=norm_layer,
                activation_layer=None))
            self.layer_blocks.append(Conv2dNormActivation(
                out_channels, out_channels, kernel_size=3, norm_layer=norm_layer,
                activation_layer=None))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_uniform_(m.weight, a=1)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
        if extra_blocks is not None and not isinstance(extra_blocks, ExtraFPNBlock):
            raise TypeError(f"extra_blocks should be of type ExtraFPNBlock not "
                            f"{type(extra_blocks)}")
        self.extra_blocks = extra_blocks

    def forward(self, x):
        names = list(x.keys())
        x = list(x.values())
        last_inner = self.inner_blocks[-1](x[-1])
        results = [self.layer_blocks[-1](last_inner)]
        for idx in range(len(x) - 2, -1, -1):
            inner_lateral = self.inner_blocks[idx](x[idx])
            top_down = F.interpolate(last_inner, size=tuple(inner_lateral.shape[-2:]),
                                     mode="nearest")
            last_inner = inner_lateral + top_down
            results.insert(0, self.layer_blocks[idx](last_inner))
        if self.extra_blocks is not None:
            results, names = self.extra_blocks(results, x, names)
        return OrderedDict(zip(names, results))


class LastLevelMaxPool(ExtraFPNBlock):
    """Adds a 'pool' level: the last level subsampled by 2."""

    def forward(self, x, y, names):
        names.append("pool")
        x.append(F.max_pool2d(x[-1], kernel_size=1, stride=2, padding=0))
        return x, names


class LastLevelP6P7(ExtraFPNBlock):
    """RetinaNet's extra levels P6 and P7 (from P5 when the channel counts agree, else C5)."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.p6 = nn.Conv2d(in_channels, out_channels, 3, 2, 1)
        self.p7 = nn.Conv2d(out_channels, out_channels, 3, 2, 1)
        for module in [self.p6, self.p7]:
            nn.init.kaiming_uniform_(module.weight, a=1)
            nn.init.constant_(module.bias, 0)
        self.use_P5 = in_channels == out_channels

    def forward(self, p, c, names):
        x = p[-1] if self.use_P5 else c[-1]
        p6 = self.p6(x)
        p7 = self.p7(F.relu(p6))
        p.extend([p6, p7])
        names.extend(["p6", "p7"])
        return p, names


class LevelMapper:
    """FPN level of each box: floor(k0 + log2(sqrt(area) / s0) + eps), clamped to the levels."""

    def __init__(self, k_min, k_max, canonical_scale=224, canonical_level=4, eps=1e-6):
        self.k_min, self.k_max = k_min, k_max
        self.s0, self.lvl0, self.eps = canonical_scale, canonical_level, eps

    def __call__(self, boxlists):
        s = torch.sqrt(torch.cat([box_area(b) for b in boxlists]))
        lvls = torch.floor(self.lvl0 + torch.log2(s / self.s0)
                           + torch.tensor(self.eps, dtype=s.dtype))
        lvls = torch.clamp(lvls, min=self.k_min, max=self.k_max)
        return lvls.to(torch.int64) - self.k_min


def _convert_to_roi_format(boxes):
    concat = torch.cat(boxes, dim=0)
    ids = torch.cat([torch.full_like(b[:, :1], i) for i, b in enumerate(boxes)], dim=0)
    return torch.cat([ids, concat], dim=1)


def _infer_scale(feature, original_size):
    scales = []
    for s1, s2 in zip(feature.shape[-2:], original_size):
        approx = float(torch.tensor(float(s1) / float(s2)).log2().round())
        scales.append(2 ** approx)
    return scales[0]


def _setup_scales(features, image_shapes, canonical_scale, canonical_level):
    if not image_shapes:
        raise ValueError("images list should not be empty")
    original = (max(s[0] for s in image_shapes), max(s[1] for s in image_shapes))
    scales = [_infer_scale(f, original) for f in features]
    lvl_min = -math.log2(scales[0])
    lvl_max = -math.log2(scales[-1])
    return scales, LevelMapper(int(lvl_min), int(lvl_max), canonical_scale=canonical_scale,
                               canonical_level=canonical_level)


class MultiScaleRoIAlign(nn.Module):
    """roi_align of each box on the feature map (among ``featmap_names``) its size maps to; the
    scales are inferred from the feature and image sizes on the first call."""

    def __init__(self, featmap_names, output_size, sampling_ratio, *, canonical_scale=224,
                 canonical_level=4):
        super().__init__()
        if isinstance(output_size, int):
            output_size = (output_size, output_size)
        self.featmap_names = featmap_names
        self.sampling_ratio = sampling_ratio
        self.output_size = tuple(output_size)
        self.scales = None
        self.map_levels = None
        self.canonical_scale = canonical_scale
        self.canonical_level = canonical_level

    def forward(self, x, boxes, image_shapes):
        feats = [v for k, v in x.items() if k in self.featmap_names]
        if self.scales is None or self.map_levels is None:
            self.scales, self.map_levels = _setup_scales(
                feats, image_shapes, self.canonical_scale, self.canonical_level)
        rois = _convert_to_roi_format(boxes)
        if len(feats) == 1:
            return roi_align(feats[0], rois, self.output_size, self.scales[0],
                             self.sampling_ratio)
        levels = self.map_levels(boxes)
        parts, order = [], []
        for level, (feat, scale) in enumerate(zip(feats, self.scales)):
            idx = torch.where(levels == level)[0]
            if idx.numel() == 0:
                continue
            parts.append(roi_align(feat, rois[idx], self.output_size, scale,
                                   self.sampling_ratio))
            order.append(idx)
        if not parts:
            return feats[0].new_zeros((0, feats[0].shape[1]) + self.output_size)
        out = torch.cat(parts)
        return out[torch.argsort(torch.cat(order))]

    def __repr__(self):
        return (f"{type(self).__name__}(featmap_names={self.featmap_names}, "
                f"output_size={self.output_size}, sampling_ratio={self.sampling_ratio})")

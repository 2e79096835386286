"""ConvNeXt tiny/small/base/large (Liu et al., 2022) with torchvision's module names."""
from __future__ import annotations

from functools import partial

import cadenza as torch
from cadenza import nn
from cadenza.nn import functional as F
from .._layers import Conv2dNormActivation, Permute, StochasticDepth
from ._api import build, make_weights

__all__ = ["ConvNeXt", "CNBlockConfig", "LayerNorm2d", "convnext_tiny", "convnext_small",
           "convnext_base", "convnext_large", "ConvNeXt_Tiny_Weights", "ConvNeXt_Small_Weights",
           "ConvNeXt_Base_Weights", "ConvNeXt_Large_Weights"]


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an (N, C, H, W) tensor."""

    def forward(self, x):
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias,
                         self.eps)
        return x.permute(0, 3, 1, 2)


class CNBlock(nn.Module):
    """Depthwise 7x7, LayerNorm, Linear 4x, GELU, Linear, scaled by ``layer_scale``, plus the
    input (with stochastic depth)."""

    def __init__(self, dim, layer_scale, stochastic_depth_prob, norm_layer=None):
        super().__init__()
        norm_layer = norm_layer or partial(nn.LayerNorm, eps=1e-6)
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True),
            Permute([0, 2, 3, 1]), norm_layer(dim),
            nn.Linear(dim, 4 * dim, bias=True), nn.GELU(), nn.Linear(4 * dim, dim, bias=True),
            Permute([0, 3, 1, 2]))
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * layer_scale)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")

    def forward(self, input):
        return self.stochastic_depth(self.layer_scale * self.block(input)) + input


class CNBlockConfig:
    def __init__(self, input_channels, out_channels, num_layers):
        self.input_channels, self.out_channels = input_channels, out_channels
        self.num_layers = num_layers

    def __repr__(self):
        return (f"{type(self).__name__}(input_channels={self.input_channels}, "
                f"out_channels={self.out_channels}, num_layers={self.num_layers})")


class ConvNeXt(nn.Module):
    def __init__(self, block_setting, stochastic_depth_prob=0.0, layer_scale=1e-6,
                 num_classes=1000, block=None, norm_layer=None, **kwargs):
        super().__init__()
        if not block_setting:
            raise ValueError("The block_setting should not be empty")
        if not all(isinstance(s, CNBlockConfig) for s in block_setting):
            raise TypeError("The block_setting should be List[CNBlockConfig]")
        block = block or CNBlock
        norm_layer = norm_layer or partial(LayerNorm2d, eps=1e-6)
        layers = [Conv2dNormActivation(3, block_setting[0].input_channels, kernel_size=4,
                                       stride=4, padding=0, norm_layer=norm_layer,
                                       activation_layer=None, bias=True)]
        total = sum(cnf.num_layers for cnf in block_setting)
        block_id = 0
        for cnf in block_setting:
            stage = []
            for _ in range(cnf.num_layers):
                sd_prob = stochastic_depth_prob * block_id / (total - 1.0)
                stage.append(block(cnf.input_channels, layer_scale, sd_prob))
                block_id += 1
            layers.append(nn.Sequential(*stage))
            if cnf.out_channels is not None:
                layers.append(nn.Sequential(norm_layer(cnf.input_channels),
                                            nn.Conv2d(cnf.input_channels, cnf.out_channels,
                                                      kernel_size=2, stride=2)))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        last = block_setting[-1]
        last_out = last.out_channels if last.out_channels is not None else last.input_channels
        self.classifier = nn.Sequential(norm_layer(last_out), nn.Flatten(1),
                                        nn.Linear(last_out, num_classes))
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)))


_URL = "https://download.pytorch.org/models/"
ConvNeXt_Tiny_Weights = make_weights("ConvNeXt_Tiny_Weights",
                                     _URL + "convnext_tiny-983f1562.pth", 28589128)
ConvNeXt_Small_Weights = make_weights("ConvNeXt_Small_Weights",
                                      _URL + "convnext_small-0c510722.pth", 50223688)
ConvNeXt_Base_Weights = make_weights("ConvNeXt_Base_Weights",
                                     _URL + "convnext_base-6075fbad.pth", 88591464)
ConvNeXt_Large_Weights = make_weights("ConvNeXt_Large_Weights",
                                      _URL + "convnext_large-ea097f82.pth", 197767336)


def _convnext(weights_cls, weights, kwargs, widths, depths, sd_prob):
    setting = [CNBlockConfig(w, widths[i + 1] if i + 1 < len(widths) else None, d)
               for i, (w, d) in enumerate(zip(widths, depths))]
    return build(weights_cls, weights, kwargs, lambda stochastic_depth_prob=sd_prob, **kw:
                 ConvNeXt(setting, stochastic_depth_prob=stochastic_depth_prob, **kw))


def convnext_tiny(*, weights=None, progress=True, **kwargs):
    return _convnext(ConvNeXt_Tiny_Weights, weights, kwargs, [96, 192, 384, 768], [3, 3, 9, 3],
                     0.1)


def convnext_small(*, weights=None, progress=True, **kwargs):
    return _convnext(ConvNeXt_Small_Weights, weights, kwargs, [96, 192, 384, 768],
                     [3, 3, 27, 3], 0.4)


def convnext_base(*, weights=None, progress=True, **kwargs):
    return _convnext(ConvNeXt_Base_Weights, weights, kwargs, [128, 256, 512, 1024],
                     [3, 3, 27, 3], 0.5)


def convnext_large(*, weights=None, progress=True, **kwargs):
    return _convnext(ConvNeXt_Large_Weights, weights, kwargs, [192, 384, 768, 1536],
                     [3, 3, 27, 3], 0.5)

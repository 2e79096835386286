"""EfficientNet B0-B7 (Tan & Le, 2019) and EfficientNetV2 S/M/L (Tan & Le, 2021) with
torchvision's module names: MBConv / FusedMBConv stages in ``features``, then ``classifier``."""
from __future__ import annotations

import copy
import math
from functools import partial

from cadenza import nn
from .._layers import Conv2dNormActivation, SqueezeExcitation, StochasticDepth
from ._api import build, init_mobile, make_weights
from .mobilenetv2 import _make_divisible

__all__ = ["EfficientNet", "MBConvConfig", "FusedMBConvConfig", "MBConv", "FusedMBConv"]


class _MBConvConfig:
    def __init__(self, expand_ratio, kernel, stride, input_channels, out_channels, num_layers,
                 block):
        self.expand_ratio, self.kernel, self.stride = expand_ratio, kernel, stride
        self.input_channels, self.out_channels = input_channels, out_channels
        self.num_layers, self.block = num_layers, block

    @staticmethod
    def adjust_channels(channels, width_mult, min_value=None):
        return _make_divisible(channels * width_mult, 8, min_value)


class MBConvConfig(_MBConvConfig):
    def __init__(self, expand_ratio, kernel, stride, input_channels, out_channels, num_layers,
                 width_mult=1.0, depth_mult=1.0, block=None):
        super().__init__(expand_ratio, kernel, stride,
                         self.adjust_channels(input_channels, width_mult),
                         self.adjust_channels(out_channels, width_mult),
                         int(math.ceil(num_layers * depth_mult)), block or MBConv)


class FusedMBConvConfig(_MBConvConfig):
    def __init__(self, expand_ratio, kernel, stride, input_channels, out_channels, num_layers,
                 block=None):
        super().__init__(expand_ratio, kernel, stride, input_channels, out_channels, num_layers,
                         block or FusedMBConv)


class _Residual(nn.Module):
    """``block`` plus, when shapes allow, a stochastic-depth skip connection."""

    def _finish(self, cnf, layers, stochastic_depth_prob):
        if not 1 <= cnf.stride <= 2:
            raise ValueError("illegal stride value")
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.out_channels = cnf.out_channels

    def forward(self, input):
        result = self.block(input)
        if self.use_res_connect:
            result = self.stochastic_depth(result) + input
        return result


class MBConv(_Residual):
    """1x1 expansion, depthwise conv, squeeze-excitation, 1x1 projection (SiLU)."""

    def __init__(self, cnf, stochastic_depth_prob, norm_layer, se_layer=SqueezeExcitation):
        super().__init__()
        expanded = cnf.adjust_channels(cnf.input_channels, cnf.expand_ratio)
        layers = []
        if expanded != cnf.input_channels:
            layers.append(Conv2dNormActivation(cnf.input_channels, expanded, kernel_size=1,
                                               norm_layer=norm_layer, activation_layer=nn.SiLU))
        layers += [
            Conv2dNormActivation(expanded, expanded, kernel_size=cnf.kernel, stride=cnf.stride,
                                 groups=expanded, norm_layer=norm_layer,
                                 activation_layer=nn.SiLU),
            se_layer(expanded, max(1, cnf.input_channels // 4),
                     activation=partial(nn.SiLU, inplace=True)),
            Conv2dNormActivation(expanded, cnf.out_channels, kernel_size=1,
                                 norm_layer=norm_layer, activation_layer=None)]
        self._finish(cnf, layers, stochastic_depth_prob)


class FusedMBConv(_Residual):
    """A full kxk expansion conv, then a 1x1 projection (or one kxk conv when not expanding)."""

    def __init__(self, cnf, stochastic_depth_prob, norm_layer):
        super().__init__()
        expanded = cnf.adjust_channels(cnf.input_channels, cnf.expand_ratio)
        if expanded != cnf.input_channels:
            layers = [Conv2dNormActivation(cnf.input_channels, expanded, kernel_size=cnf.kernel,
                                           stride=cnf.stride, norm_layer=norm_layer,
                                           activation_layer=nn.SiLU),
                      Conv2dNormActivation(expanded, cnf.out_channels, kernel_size=1,
                                           norm_layer=norm_layer, activation_layer=None)]
        else:
            layers = [Conv2dNormActivation(cnf.input_channels, cnf.out_channels,
                                           kernel_size=cnf.kernel, stride=cnf.stride,
                                           norm_layer=norm_layer, activation_layer=nn.SiLU)]
        self._finish(cnf, layers, stochastic_depth_prob)


class EfficientNet(nn.Module):
    def __init__(self, inverted_residual_setting, dropout, stochastic_depth_prob=0.2,
                 num_classes=1000, norm_layer=None, last_channel=None):
        super().__init__()
        if not inverted_residual_setting:
            raise ValueError("The inverted_residual_setting should not be empty")
        if not all(isinstance(s, _MBConvConfig) for s in inverted_residual_setting):
            raise TypeError("The inverted_residual_setting should be List[MBConvConfig]")
        norm_layer = norm_layer or nn.BatchNorm2d
        layers = [Conv2dNormActivation(3, inverted_residual_setting[0].input_channels,
                                       kernel_size=3, stride=2, norm_layer=norm_layer,
                                       activation_layer=nn.SiLU)]
        total = sum(cnf.num_layers for cnf in inverted_residual_setting)
        block_id = 0
        for cnf in inverted_residual_setting:
            stage = []
            for _ in range(cnf.num_layers):
                block_cnf = copy.copy(cnf)
                if stage:
                    block_cnf.input_channels, block_cnf.stride = block_cnf.out_channels, 1
                sd_prob = stochastic_depth_prob * float(block_id) / total
                stage.append(block_cnf.block(block_cnf, sd_prob, norm_layer))
                block_id += 1
            layers.append(nn.Sequential(*stage))
        last_in = inverted_residual_setting[-1].out_channels
        last_out = last_channel if last_channel is not None else 4 * last_in
        layers.append(Conv2dNormActivation(last_in, last_out, kernel_size=1,
                                           norm_layer=norm_layer, activation_layer=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True),
                                        nn.Linear(last_out, num_classes))
        init_mobile(self, lambda m: nn.init.uniform_(m.weight, -1.0 / math.sqrt(m.out_features),
                                                     1.0 / math.sqrt(m.out_features)))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def _v1_setting(width_mult, depth_mult):
    conf = partial(MBConvConfig, width_mult=width_mult, depth_mult=depth_mult)
    return [conf(1, 3, 1, 32, 16, 1), conf(6, 3, 2, 16, 24, 2), conf(6, 5, 2, 24, 40, 2),
            conf(6, 3, 2, 40, 80, 3), conf(6, 5, 1, 80, 112, 3), conf(6, 5, 2, 112, 192, 4),
            conf(6, 3, 1, 192, 320, 1)]


_F, _M = FusedMBConvConfig, MBConvConfig
_V2 = {  # (expand, kernel, stride, in, out, layers) per stage
    "s": [_F(1, 3, 1, 24, 24, 2), _F(4, 3, 2, 24, 48, 4), _F(4, 3, 2, 48, 64, 4),
          _M(4, 3, 2, 64, 128, 6), _M(6, 3, 1, 128, 160, 9), _M(6, 3, 2, 160, 256, 15)],
    "m": [_F(1, 3, 1, 24, 24, 3), _F(4, 3, 2, 24, 48, 5), _F(4, 3, 2, 48, 80, 5),
          _M(4, 3, 2, 80, 160, 7), _M(6, 3, 1, 160, 176, 14), _M(6, 3, 2, 176, 304, 18),
          _M(6, 3, 1, 304, 512, 5)],
    "l": [_F(1, 3, 1, 32, 32, 4), _F(4, 3, 2, 32, 64, 7), _F(4, 3, 2, 64, 96, 7),
          _M(4, 3, 2, 96, 192, 10), _M(6, 3, 1, 192, 224, 19), _M(6, 3, 2, 224, 384, 25),
          _M(6, 3, 1, 384, 640, 7)],
}
_URL = "https://download.pytorch.org/models/efficientnet_"
# name: (width, depth, dropout, batch-norm eps/momentum or None, weights file)
_V1 = {"b0": (1.0, 1.0, 0.2, None, "b0_rwightman-7f5810bc"),
       "b1": (1.0, 1.1, 0.2, None, "b1_rwightman-bac287d4"),
       "b2": (1.1, 1.2, 0.3, None, "b2_rwightman-c35c1473"),
       "b3": (1.2, 1.4, 0.3, None, "b3_rwightman-b3899882"),
       "b4": (1.4, 1.8, 0.4, None, "b4_rwightman-23ab8bcd"),
       "b5": (1.6, 2.2, 0.4, 1, "b5_lukemelas-1a07897c"),
       "b6": (1.8, 2.6, 0.5, 1, "b6_lukemelas-24a108a5"),
       "b7": (2.0, 3.1, 0.5, 1, "b7_lukemelas-c5b4e57e")}
_V2_META = {"s": (0.2, "v2_s-dd5fe13b"), "m": (0.3, "v2_m-dc08266a"), "l": (0.4, "v2_l-59c71312")}


def _build(weights_cls, weights, kwargs, setting, dropout, last_channel, norm_layer=None):
    if norm_layer is not None:
        kwargs.setdefault("norm_layer", norm_layer)
    return build(weights_cls, weights, kwargs, lambda dropout=dropout, **kw: EfficientNet(
        setting, dropout, last_channel=last_channel, **kw))


def _v1_builder(name):
    width, depth, dropout, lukemelas, file = _V1[name]
    wname = f"EfficientNet_{name.upper()}_Weights"
    v2 = f"{_URL}b1-c27df63c.pth" if name == "b1" else None
    weights_cls = make_weights(wname, f"{_URL}{file}.pth", v2=v2)
    norm = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01) if lukemelas else None

    def builder(*, weights=None, progress=True, **kwargs):
        return _build(weights_cls, weights, kwargs, _v1_setting(width, depth), dropout, None,
                      norm)
    builder.__name__ = builder.__qualname__ = f"efficientnet_{name}"
    builder.__doc__ = f"EfficientNet-{name.upper()} (width x{width}, depth x{depth})."
    return wname, weights_cls, builder


def _v2_builder(name):
    dropout, file = _V2_META[name]
    wname = f"EfficientNet_V2_{name.upper()}_Weights"
    weights_cls = make_weights(wname, f"{_URL}{file}.pth")

    def builder(*, weights=None, progress=True, **kwargs):
        return _build(weights_cls, weights, kwargs, copy.deepcopy(_V2[name]), dropout, 1280,
                      partial(nn.BatchNorm2d, eps=1e-03))
    builder.__name__ = builder.__qualname__ = f"efficientnet_v2_{name}"
    builder.__doc__ = f"EfficientNetV2-{name.upper()}."
    return wname, weights_cls, builder


for _name, _make in [(n, _v1_builder) for n in _V1] + [(n, _v2_builder) for n in _V2]:
    _wname, _wcls, _fn = _make(_name)
    _fn.__module__ = __name__
    globals()[_wname], globals()[_fn.__name__] = _wcls, _fn
    __all__ += [_wname, _fn.__name__]

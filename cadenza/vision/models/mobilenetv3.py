"""MobileNetV3 small / large (Howard et al., 2019) with torchvision's module names."""
from __future__ import annotations

from functools import partial

from cadenza import nn
from .._layers import Conv2dNormActivation, SqueezeExcitation
from ._api import build, init_mobile, make_weights
from .mobilenetv2 import _make_divisible

__all__ = ["MobileNetV3", "InvertedResidualConfig", "mobilenet_v3_large", "mobilenet_v3_small",
           "MobileNet_V3_Large_Weights", "MobileNet_V3_Small_Weights"]


class InvertedResidualConfig:
    def __init__(self, input_channels, kernel, expanded_channels, out_channels, use_se,
                 activation, stride, dilation, width_mult):
        self.input_channels = self.adjust_channels(input_channels, width_mult)
        self.kernel = kernel
        self.expanded_channels = self.adjust_channels(expanded_channels, width_mult)
        self.out_channels = self.adjust_channels(out_channels, width_mult)
        self.use_se, self.use_hs = use_se, activation == "HS"
        self.stride, self.dilation = stride, dilation

    @staticmethod
    def adjust_channels(channels, width_mult):
        return _make_divisible(channels * width_mult, 8)


class InvertedResidual(nn.Module):
    """Optional 1x1 expansion, depthwise conv, optional squeeze-excitation (hard sigmoid),
    1x1 projection; a skip connection when shapes allow."""

    def __init__(self, cnf, norm_layer,
                 se_layer=partial(SqueezeExcitation, scale_activation=nn.Hardsigmoid)):
        super().__init__()
        if not 1 <= cnf.stride <= 2:
            raise ValueError("illegal stride value")
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        act = nn.Hardswish if cnf.use_hs else nn.ReLU
        exp = cnf.expanded_channels
        layers = []
        if exp != cnf.input_channels:
            layers.append(Conv2dNormActivation(cnf.input_channels, exp, kernel_size=1,
                                               norm_layer=norm_layer, activation_layer=act))
        layers.append(Conv2dNormActivation(
            exp, exp, kernel_size=cnf.kernel, stride=1 if cnf.dilation > 1 else cnf.stride,
            dilation=cnf.dilation, groups=exp, norm_layer=norm_layer, activation_layer=act))
        if cnf.use_se:
            layers.append(se_layer(exp, _make_divisible(exp // 4, 8)))
        layers.append(Conv2dNormActivation(exp, cnf.out_channels, kernel_size=1,
                                           norm_layer=norm_layer, activation_layer=None))
        self.block = nn.Sequential(*layers)
        self.out_channels = cnf.out_channels
        self._is_cn = cnf.stride > 1

    def forward(self, input):
        result = self.block(input)
        return result + input if self.use_res_connect else result


class MobileNetV3(nn.Module):
    def __init__(self, inverted_residual_setting, last_channel, num_classes=1000, block=None,
                 norm_layer=None, dropout=0.2, **kwargs):
        super().__init__()
        if not inverted_residual_setting:
            raise ValueError("The inverted_residual_setting should not be empty")
        if not all(isinstance(s, InvertedResidualConfig) for s in inverted_residual_setting):
            raise TypeError("The inverted_residual_setting should be List[InvertedResidualConfig]")
        block = block or InvertedResidual
        norm_layer = norm_layer or partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
        layers = [Conv2dNormActivation(3, inverted_residual_setting[0].input_channels,
                                       kernel_size=3, stride=2, norm_layer=norm_layer,
                                       activation_layer=nn.Hardswish)]
        layers += [block(cnf, norm_layer) for cnf in inverted_residual_setting]
        last_in = inverted_residual_setting[-1].out_channels
        layers.append(Conv2dNormActivation(last_in, 6 * last_in, kernel_size=1,
                                           norm_layer=norm_layer, activation_layer=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(6 * last_in, last_channel), nn.Hardswish(inplace=True),
            nn.Dropout(p=dropout, inplace=True), nn.Linear(last_channel, num_classes))
        init_mobile(self, lambda m: nn.init.normal_(m.weight, 0, 0.01))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


# (input, kernel, expanded, out, use_se, activation, stride, dilated) per block; "r": the
# channel count is halved with reduced_tail
_LARGE = [(16, 3, 16, 16, False, "RE", 1, 0), (16, 3, 64, 24, False, "RE", 2, 0),
          (24, 3, 72, 24, False, "RE", 1, 0), (24, 5, 72, 40, True, "RE", 2, 0),
          (40, 5, 120, 40, True, "RE", 1, 0), (40, 5, 120, 40, True, "RE", 1, 0),
          (40, 3, 240, 80, False, "HS", 2, 0), (80, 3, 200, 80, False, "HS", 1, 0),
          (80, 3, 184, 80, False, "HS", 1, 0), (80, 3, 184, 80, False, "HS", 1, 0),
          (80, 3, 480, 112, True, "HS", 1, 0), (112, 3, 672, 112, True, "HS", 1, 0),
          (112, 5, 672, "160r", True, "HS", 2, 1), ("160r", 5, "960r", "160r", True, "HS", 1, 1),
          ("160r", 5, "960r", "160r", True, "HS", 1, 1)]
_SMALL = [(16, 3, 16, 16, True, "RE", 2, 0), (16, 3, 72, 24, False, "RE", 2, 0),
          (24, 3, 88, 24, False, "RE", 1, 0), (24, 5, 96, 40, True, "HS", 2, 0),
          (40, 5, 240, 40, True, "HS", 1, 0), (40, 5, 240, 40, True, "HS", 1, 0),
          (40, 5, 120, 48, True, "HS", 1, 0), (48, 5, 144, 48, True, "HS", 1, 0),
          (48, 5, 288, "96r", True, "HS", 2, 1), ("96r", 5, "576r", "96r", True, "HS", 1, 1),
          ("96r", 5, "576r", "96r", True, "HS", 1, 1)]


def _mobilenet_v3_conf(arch, width_mult=1.0, reduced_tail=False, dilated=False, **kwargs):
    div, dilation = (2 if reduced_tail else 1), (2 if dilated else 1)

    def ch(c):
        return int(c[:-1]) // div if isinstance(c, str) else c
    table, last = (_LARGE, 1280) if arch == "mobilenet_v3_large" else (_SMALL, 1024)
    if arch not in ("mobilenet_v3_large", "mobilenet_v3_small"):
        raise ValueError(f"Unsupported model type {arch}")
    setting = [InvertedResidualConfig(ch(i), k, ch(e), ch(o), se, act, s,
                                      dilation if d else 1, width_mult)
               for i, k, e, o, se, act, s, d in table]
    return setting, InvertedResidualConfig.adjust_channels(last // div, width_mult)


_URL = "https://download.pytorch.org/models/"
MobileNet_V3_Large_Weights = make_weights("MobileNet_V3_Large_Weights",
                                          _URL + "mobilenet_v3_large-8738ca79.pth", 5483032,
                                          _URL + "mobilenet_v3_large-5c1a4163.pth")
MobileNet_V3_Small_Weights = make_weights("MobileNet_V3_Small_Weights",
                                          _URL + "mobilenet_v3_small-047dcff4.pth", 2542856)


def _mobilenet_v3(arch, weights_cls, weights, kwargs):
    def make(**kw):
        return MobileNetV3(*_mobilenet_v3_conf(arch, **kw), **kw)
    return build(weights_cls, weights, kwargs, make)


def mobilenet_v3_large(*, weights=None, progress=True, **kwargs):
    return _mobilenet_v3("mobilenet_v3_large", MobileNet_V3_Large_Weights, weights, kwargs)


def mobilenet_v3_small(*, weights=None, progress=True, **kwargs):
    return _mobilenet_v3("mobilenet_v3_small", MobileNet_V3_Small_Weights, weights, kwargs)

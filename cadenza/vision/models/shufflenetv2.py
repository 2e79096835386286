"""ShuffleNetV2 (Ma et al., 2018) with torchvision's module names."""
from __future__ import annotations

import cadenza as torch
from cadenza import nn
from ._api import build, make_weights

__all__ = ["ShuffleNetV2", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5",
           "shufflenet_v2_x2_0", "ShuffleNet_V2_X0_5_Weights", "ShuffleNet_V2_X1_0_Weights",
           "ShuffleNet_V2_X1_5_Weights", "ShuffleNet_V2_X2_0_Weights"]


def channel_shuffle(x, groups):
    n, c, h, w = x.shape
    return x.reshape(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


def _depthwise_conv(i, o, kernel_size, stride=1, padding=0, bias=False):
    return nn.Conv2d(i, o, kernel_size, stride, padding, bias=bias, groups=i)


class InvertedResidual(nn.Module):
    """Stride 1: half the channels pass through, half go through branch2; stride > 1: both
    branches see the whole input. The halves are concatenated and channel-shuffled."""

    def __init__(self, inp, oup, stride):
        super().__init__()
        if not 1 <= stride <= 3:
            raise ValueError("illegal stride value")
        self.stride = stride
        bf = oup // 2
        if stride == 1 and inp != bf << 1:
            raise ValueError(f"Invalid combination of stride {stride}, inp {inp} and oup {oup} "
                             "values. If stride == 1 then inp should be equal to oup // 2 << 1.")
        if stride > 1:
            self.branch1 = nn.Sequential(
                _depthwise_conv(inp, inp, 3, stride, 1), nn.BatchNorm2d(inp),
                nn.Conv2d(inp, bf, 1, 1, 0, bias=False), nn.BatchNorm2d(bf), nn.ReLU(inplace=True))
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(inp if stride > 1 else bf, bf, 1, 1, 0, bias=False), nn.BatchNorm2d(bf),
            nn.ReLU(inplace=True), _depthwise_conv(bf, bf, 3, stride, 1), nn.BatchNorm2d(bf),
            nn.Conv2d(bf, bf, 1, 1, 0, bias=False), nn.BatchNorm2d(bf), nn.ReLU(inplace=True))

    depthwise_conv = staticmethod(_depthwise_conv)

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    def __init__(self, stages_repeats, stages_out_channels, num_classes=1000,
                 inverted_residual=InvertedResidual):
        super().__init__()
        if len(stages_repeats) != 3:
            raise ValueError("expected stages_repeats as list of 3 positive ints")
        if len(stages_out_channels) != 5:
            raise ValueError("expected stages_out_channels as list of 5 positive ints")
        self._stage_out_channels = stages_out_channels
        c = stages_out_channels[0]
        self.conv1 = nn.Sequential(nn.Conv2d(3, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c),
                                   nn.ReLU(inplace=True))
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        for i, repeats, out in zip((2, 3, 4), stages_repeats, stages_out_channels[1:]):
            seq = [inverted_residual(c, out, 2)]
            seq += [inverted_residual(out, out, 1) for _ in range(repeats - 1)]
            setattr(self, f"stage{i}", nn.Sequential(*seq))
            c = out
        out = stages_out_channels[-1]
        self.conv5 = nn.Sequential(nn.Conv2d(c, out, 1, 1, 0, bias=False), nn.BatchNorm2d(out),
                                   nn.ReLU(inplace=True))
        self.fc = nn.Linear(out, num_classes)

    def forward(self, x):
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
        return self.fc(x.mean([2, 3]))


_URL = "https://download.pytorch.org/models/"
ShuffleNet_V2_X0_5_Weights = make_weights("ShuffleNet_V2_X0_5_Weights",
                                          _URL + "shufflenetv2_x0.5-f707e7126e.pth", 1366792)
ShuffleNet_V2_X1_0_Weights = make_weights("ShuffleNet_V2_X1_0_Weights",
                                          _URL + "shufflenetv2_x1-5666bf0f80.pth", 2278604)
ShuffleNet_V2_X1_5_Weights = make_weights("ShuffleNet_V2_X1_5_Weights",
                                          _URL + "shufflenetv2_x1_5-3c479a10.pth", 3503624)
ShuffleNet_V2_X2_0_Weights = make_weights("ShuffleNet_V2_X2_0_Weights",
                                          _URL + "shufflenetv2_x2_0-8be3c8ee.pth", 7393996)


def _shufflenetv2(weights_cls, weights, kwargs, channels):
    return build(weights_cls, weights, kwargs, lambda **kw: ShuffleNetV2([4, 8, 4], channels, **kw))


def shufflenet_v2_x0_5(*, weights=None, progress=True, **kwargs):
    return _shufflenetv2(ShuffleNet_V2_X0_5_Weights, weights, kwargs, [24, 48, 96, 192, 1024])


def shufflenet_v2_x1_0(*, weights=None, progress=True, **kwargs):
    return _shufflenetv2(ShuffleNet_V2_X1_0_Weights, weights, kwargs, [24, 116, 232, 464, 1024])


def shufflenet_v2_x1_5(*, weights=None, progress=True, **kwargs):
    return _shufflenetv2(ShuffleNet_V2_X1_5_Weights, weights, kwargs, [24, 176, 352, 704, 1024])


def shufflenet_v2_x2_0(*, weights=None, progress=True, **kwargs):
    return _shufflenetv2(ShuffleNet_V2_X2_0_Weights, weights, kwargs, [24, 244, 488, 976, 2048])

"""DenseNet-121/161/169/201 (Huang et al., 2016) with torchvision's module names."""
from __future__ import annotations

import re
from collections import OrderedDict

import cadenza as torch
from cadenza import nn
from cadenza.nn import functional as F
from ._api import build, make_weights

__all__ = ["DenseNet", "densenet121", "densenet161", "densenet169", "densenet201",
           "DenseNet121_Weights", "DenseNet161_Weights", "DenseNet169_Weights",
           "DenseNet201_Weights"]


class _DenseLayer(nn.Module):
    """BN-ReLU-1x1 conv (bn_size * growth_rate) then BN-ReLU-3x3 conv (growth_rate) over the
    concatenation of all earlier features."""

    def __init__(self, num_input_features, growth_rate, bn_size, drop_rate,
                 memory_efficient=False):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1,
                               stride=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, stride=1,
                               padding=1, bias=False)
        self.drop_rate = float(drop_rate)
        # torchvision recomputes the bottleneck in backward to save memory; results are equal
        self.memory_efficient = memory_efficient

    def bn_function(self, inputs):
        return self.conv1(self.relu1(self.norm1(torch.cat(list(inputs), 1))))

    def forward(self, input):
        prev = [input] if isinstance(input, torch.Tensor) else input
        new = self.conv2(self.relu2(self.norm2(self.bn_function(prev))))
        if self.drop_rate > 0:
            new = F.dropout(new, p=self.drop_rate, training=self.training)
        return new


class _DenseBlock(nn.ModuleDict):
    def __init__(self, num_layers, num_input_features, bn_size, growth_rate, drop_rate,
                 memory_efficient=False):
        super().__init__()
        for i in range(num_layers):
            self.add_module(f"denselayer{i + 1}", _DenseLayer(
                num_input_features + i * growth_rate, growth_rate=growth_rate, bn_size=bn_size,
                drop_rate=drop_rate, memory_efficient=memory_efficient))

    def forward(self, init_features):
        features = [init_features]
        for _, layer in self.items():
            features.append(layer(features))
        return torch.cat(features, 1)


class _Transition(nn.Sequential):
    def __init__(self, num_input_features, num_output_features):
        super().__init__()
        self.norm = nn.BatchNorm2d(num_input_features)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(num_input_features, num_output_features, kernel_size=1, stride=1,
                              bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(nn.Module):
    def __init__(self, growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64,
                 bn_size=4, drop_rate=0, num_classes=1000, memory_efficient=False):
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(3, num_init_features, kernel_size=7, stride=2, padding=3,
                                bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1))]))
        num_features = num_init_features
        for i, num_layers in enumerate(block_config):
            self.features.add_module(f"denseblock{i + 1}", _DenseBlock(
                num_layers, num_features, bn_size, growth_rate, drop_rate, memory_efficient))
            num_features += num_layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}",
                                         _Transition(num_features, num_features // 2))
                num_features //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(num_features))
        self.classifier = nn.Linear(num_features, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        out = F.adaptive_avg_pool2d(F.relu(self.features(x)), (1, 1))
        return self.classifier(out.flatten(1))


# torchvision's published files use the old names 'norm.1' for 'norm1' (and so on)
_OLD_KEY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\."
                      r"(?:weight|bias|running_mean|running_var))$")


def _load(model, weights):
    if weights is not None:
        sd = {_OLD_KEY.sub(r"\1\2", k): v for k, v in weights.get_state_dict().items()}
        # those files predate batch norm's num_batches_tracked (torch fills it in, too)
        for k, v in model.state_dict().items():
            if k.endswith("num_batches_tracked"):
                sd.setdefault(k, v)
        model.load_state_dict(sd, strict=True)
    return model


_URL = "https://download.pytorch.org/models/"
DenseNet121_Weights = make_weights("DenseNet121_Weights", _URL + "densenet121-a639ec97.pth",
                                   7978856)
DenseNet161_Weights = make_weights("DenseNet161_Weights", _URL + "densenet161-8d451a50.pth",
                                   28681000)
DenseNet169_Weights = make_weights("DenseNet169_Weights", _URL + "densenet169-b2777c0a.pth",
                                   14149480)
DenseNet201_Weights = make_weights("DenseNet201_Weights", _URL + "densenet201-c1103571.pth",
                                   20013928)


def _densenet(weights_cls, weights, kwargs, growth_rate, block_config, num_init_features):
    return build(weights_cls, weights, kwargs, lambda **kw: DenseNet(
        growth_rate, block_config, num_init_features, **kw), load=_load)


def densenet121(*, weights=None, progress=True, **kwargs):
    return _densenet(DenseNet121_Weights, weights, kwargs, 32, (6, 12, 24, 16), 64)


def densenet161(*, weights=None, progress=True, **kwargs):
    return _densenet(DenseNet161_Weights, weights, kwargs, 48, (6, 12, 36, 24), 96)


def densenet169(*, weights=None, progress=True, **kwargs):
    return _densenet(DenseNet169_Weights, weights, kwargs, 32, (6, 12, 32, 32), 64)


def densenet201(*, weights=None, progress=True, **kwargs):
    return _densenet(DenseNet201_Weights, weights, kwargs, 32, (6, 12, 48, 32), 64)

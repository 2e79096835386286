"""VGG (Simonyan & Zisserman, 2014) with torchvision's module names."""
from __future__ import annotations

from cadenza import nn
from ._api import load_pretrained, make_weights, resolve_weights

__all__ = ["VGG", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
           "vgg19_bn", "VGG11_Weights", "VGG11_BN_Weights", "VGG13_Weights", "VGG13_BN_Weights",
           "VGG16_Weights", "VGG16_BN_Weights", "VGG19_Weights", "VGG19_BN_Weights"]

CFGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512,
          "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512,
          512, 512, 512, "M"],
}


class VGG(nn.Module):
    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes))
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def make_layers(cfg, batch_norm=False):
    layers, in_channels = [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers.append(nn.Conv2d(in_channels, v, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU(inplace=True))
            in_channels = v
    return nn.Sequential(*layers)


_URL = "https://download.pytorch.org/models/"
VGG11_Weights = make_weights("VGG11_Weights", _URL + "vgg11-8a719046.pth", 132863336)
VGG11_BN_Weights = make_weights("VGG11_BN_Weights", _URL + "vgg11_bn-6002323d.pth", 132868840)
VGG13_Weights = make_weights("VGG13_Weights", _URL + "vgg13-19584684.pth", 133047848)
VGG13_BN_Weights = make_weights("VGG13_BN_Weights", _URL + "vgg13_bn-abd245e5.pth", 133053736)
# IMAGENET1K_FEATURES: amdegroot's SSD backbone; only ``features`` is trained (the
# classifier is NaN in that file) and it has no class count
VGG16_Weights = make_weights("VGG16_Weights", _URL + "vgg16-397923af.pth", 138357544, extra={
    "IMAGENET1K_FEATURES": (_URL + "vgg16_features-amdegroot-88682ab5.pth",
                            {"num_classes": None})})
VGG16_BN_Weights = make_weights("VGG16_BN_Weights", _URL + "vgg16_bn-6c64b313.pth", 138365992)
VGG19_Weights = make_weights("VGG19_Weights", _URL + "vgg19-dcbb9e9d.pth", 143667240)
VGG19_BN_Weights = make_weights("VGG19_BN_Weights", _URL + "vgg19_bn-c79401a0.pth", 143678248)


def _vgg(cfg, batch_norm, weights_cls, weights, kwargs):
    weights = resolve_weights(weights_cls, weights, kwargs)
    kwargs.pop("progress", None)
    if weights is not None:
        kwargs["init_weights"] = False
    return load_pretrained(VGG(make_layers(CFGS[cfg], batch_norm), **kwargs), weights)


def vgg11(*, weights=None, progress=True, **kwargs):
    return _vgg("A", False, VGG11_Weights, weights, kwargs)


def vgg11_bn(*, weights=None, progress=True, **kwargs):
    return _vgg("A", True, VGG11_BN_Weights, weights, kwargs)


def vgg13(*, weights=None, progress=True, **kwargs):
    return _vgg("B", False, VGG13_Weights, weights, kwargs)


def vgg13_bn(*, weights=None, progress=True, **kwargs):
    return _vgg("B", True, VGG13_BN_Weights, weights, kwargs)


def vgg16(*, weights=None, progress=True, **kwargs):
    return _vgg("D", False, VGG16_Weights, weights, kwargs)


def vgg16_bn(*, weights=None, progress=True, **kwargs):
    return _vgg("D", True, VGG16_BN_Weights, weights, kwargs)


def vgg19(*, weights=None, progress=True, **kwargs):
    return _vgg("E", False, VGG19_Weights, weights, kwargs)


def vgg19_bn(*, weights=None, progress=True, **kwargs):
    return _vgg("E", True, VGG19_BN_Weights, weights, kwargs)

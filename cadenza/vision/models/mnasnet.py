"""MNASNet B1 (Tan et al., 2018) at depth multipliers 0.5/0.75/1.0/1.3, with torchvision's
module names (current "version 2" layout)."""
from __future__ import annotations

from cadenza import nn
from ._api import build, make_weights

__all__ = ["MNASNet", "mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3",
           "MNASNet0_5_Weights", "MNASNet0_75_Weights", "MNASNet1_0_Weights",
           "MNASNet1_3_Weights"]

# Paper: momentum 0.9997 in TensorFlow's convention (= 1 - PyTorch's momentum)
_BN_MOMENTUM = 1 - 0.9997


class _InvertedResidual(nn.Module):
    def __init__(self, in_ch, out_ch, kernel_size, stride, expansion_factor, bn_momentum=0.1):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride should be 1 or 2 instead of {stride}")
        if kernel_size not in (3, 5):
            raise ValueError(f"kernel_size should be 3 or 5 instead of {kernel_size}")
        mid = in_ch * expansion_factor
        self.apply_residual = in_ch == out_ch and stride == 1
        self.layers = nn.Sequential(
            nn.Conv2d(in_ch, mid, 1, bias=False), nn.BatchNorm2d(mid, momentum=bn_momentum),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, kernel_size, padding=kernel_size // 2, stride=stride, groups=mid,
                      bias=False),
            nn.BatchNorm2d(mid, momentum=bn_momentum), nn.ReLU(inplace=True),
            nn.Conv2d(mid, out_ch, 1, bias=False), nn.BatchNorm2d(out_ch, momentum=bn_momentum))

    def forward(self, input):
        out = self.layers(input)
        return out + input if self.apply_residual else out


def _stack(in_ch, out_ch, kernel_size, stride, exp_factor, repeats, bn_momentum):
    if repeats < 1:
        raise ValueError(f"repeats should be >= 1, instead got {repeats}")
    return nn.Sequential(
        _InvertedResidual(in_ch, out_ch, kernel_size, stride, exp_factor, bn_momentum),
        *[_InvertedResidual(out_ch, out_ch, kernel_size, 1, exp_factor, bn_momentum)
          for _ in range(1, repeats)])


def _round_to_multiple_of(val, divisor, round_up_bias=0.9):
    """Round to a multiple of divisor, up unless that is within 10% above the lower one."""
    if not 0.0 < round_up_bias < 1.0:
        raise ValueError("round_up_bias should be greater than 0.0 and smaller than 1.0 "
                         f"instead of {round_up_bias}")
    new_val = max(divisor, int(val + divisor / 2) // divisor * divisor)
    return new_val if new_val >= round_up_bias * val else new_val + divisor


def _get_depths(alpha):
    return [_round_to_multiple_of(d * alpha, 8) for d in (32, 16, 24, 40, 80, 96, 192, 320)]


class MNASNet(nn.Module):
    _version = 2

    def __init__(self, alpha, num_classes=1000, dropout=0.2):
        super().__init__()
        if alpha <= 0.0:
            raise ValueError(f"alpha should be greater than 0.0 instead of {alpha}")
        self.alpha, self.num_classes = alpha, num_classes
        d, m = _get_depths(alpha), _BN_MOMENTUM
        self.layers = nn.Sequential(
            nn.Conv2d(3, d[0], 3, padding=1, stride=2, bias=False),
            nn.BatchNorm2d(d[0], momentum=m), nn.ReLU(inplace=True),
            nn.Conv2d(d[0], d[0], 3, padding=1, stride=1, groups=d[0], bias=False),
            nn.BatchNorm2d(d[0], momentum=m), nn.ReLU(inplace=True),
            nn.Conv2d(d[0], d[1], 1, padding=0, stride=1, bias=False),
            nn.BatchNorm2d(d[1], momentum=m),
            _stack(d[1], d[2], 3, 2, 3, 3, m), _stack(d[2], d[3], 5, 2, 3, 3, m),
            _stack(d[3], d[4], 5, 2, 6, 3, m), _stack(d[4], d[5], 3, 1, 6, 2, m),
            _stack(d[5], d[6], 5, 2, 6, 4, m), _stack(d[6], d[7], 3, 1, 6, 1, m),
            nn.Conv2d(d[7], 1280, 1, padding=0, stride=1, bias=False),
            nn.BatchNorm2d(1280, momentum=m), nn.ReLU(inplace=True))
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True),
                                        nn.Linear(1280, num_classes))
        for mod in self.modules():
            if isinstance(mod, nn.Conv2d):
                nn.init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="relu")
                if mod.bias is not None:
                    nn.init.zeros_(mod.bias)
            elif isinstance(mod, nn.BatchNorm2d):
                nn.init.ones_(mod.weight)
                nn.init.zeros_(mod.bias)
            elif isinstance(mod, nn.Linear):
                nn.init.kaiming_uniform_(mod.weight, mode="fan_out", nonlinearity="sigmoid")
                nn.init.zeros_(mod.bias)

    def forward(self, x):
        return self.classifier(self.layers(x).mean([2, 3]))


_URL = "https://download.pytorch.org/models/"
MNASNet0_5_Weights = make_weights("MNASNet0_5_Weights",
                                  _URL + "mnasnet0.5_top1_67.823-3ffadce67e.pth", 2218512)
MNASNet0_75_Weights = make_weights("MNASNet0_75_Weights", _URL + "mnasnet0_75-7090bc5f.pth",
                                   3170208)
MNASNet1_0_Weights = make_weights("MNASNet1_0_Weights",
                                  _URL + "mnasnet1.0_top1_73.512-f206786ef8.pth", 4383312)
MNASNet1_3_Weights = make_weights("MNASNet1_3_Weights", _URL + "mnasnet1_3-a4c69d6f.pth",
                                  6282256)


def _mnasnet(alpha, weights_cls, weights, kwargs):
    return build(weights_cls, weights, kwargs, lambda **kw: MNASNet(alpha, **kw))


def mnasnet0_5(*, weights=None, progress=True, **kwargs):
    return _mnasnet(0.5, MNASNet0_5_Weights, weights, kwargs)


def mnasnet0_75(*, weights=None, progress=True, **kwargs):
    return _mnasnet(0.75, MNASNet0_75_Weights, weights, kwargs)


def mnasnet1_0(*, weights=None, progress=True, **kwargs):
    return _mnasnet(1.0, MNASNet1_0_Weights, weights, kwargs)


def mnasnet1_3(*, weights=None, progress=True, **kwargs):
    return _mnasnet(1.3, MNASNet1_3_Weights, weights, kwargs)

"""torchvision.ops' building blocks for models: MLP, Conv2dNormActivation (and its 3-d
form), SqueezeExcitation, StochasticDepth, DropBlock2d/3d, FrozenBatchNorm2d, Permute; same
structure and state-dict keys as torchvision's."""
from __future__ import annotations

import math

import cadenza as torch
from cadenza import nn
from cadenza.nn import functional as F

__all__ = ["MLP", "Conv2dNormActivation", "Conv3dNormActivation", "SqueezeExcitation",
           "StochasticDepth", "stochastic_depth", "DropBlock2d", "DropBlock3d", "drop_block2d",
           "drop_block3d", "FrozenBatchNorm2d", "Permute"]


def _act_kwargs(inplace):
    return {} if inplace is None else {"inplace": inplace}


class MLP(nn.Sequential):
    """Linear (+ norm) + activation + dropout for each hidden size, then a last Linear and
    dropout."""

    def __init__(self, in_channels, hidden_channels, norm_layer=None,
                 activation_layer=nn.ReLU, inplace=None, bias=True, dropout=0.0):
        params = _act_kwargs(inplace)
        layers, in_dim = [], in_channels
        for hidden in hidden_channels[:-1]:
            layers.append(nn.Linear(in_dim, hidden, bias=bias))
            if norm_layer is not None:
                layers.append(norm_layer(hidden))
            layers.append(activation_layer(**params))
            layers.append(nn.Dropout(dropout, **params))
            in_dim = hidden
        layers.append(nn.Linear(in_dim, hidden_channels[-1], bias=bias))
        layers.append(nn.Dropout(dropout, **params))
        super().__init__(*layers)


class _ConvNormActivation(nn.Sequential):
    def __init__(self, conv, in_channels, out_channels, kernel_size, stride, padding, groups,
                 norm_layer, activation_layer, dilation, inplace, bias):
        if padding is None:
            if isinstance(kernel_size, int) and isinstance(dilation, int):
                padding = (kernel_size - 1) // 2 * dilation
            else:
                n = len(kernel_size) if not isinstance(kernel_size, int) else len(dilation)
                ks = (kernel_size,) * n if isinstance(kernel_size, int) else kernel_size
                dl = (dilation,) * n if isinstance(dilation, int) else dilation
                padding = tuple((k - 1) // 2 * d for k, d in zip(ks, dl))
        if bias is None:
            bias = norm_layer is None
        layers = [conv(in_channels, out_channels, kernel_size, stride, padding,
                       dilation=dilation, groups=groups, bias=bias)]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            layers.append(activation_layer(**_act_kwargs(inplace)))
        super().__init__(*layers)
        self.out_channels = out_channels


def _conv_norm_activation(name, conv, norm):
    """Conv{2,3}dNormActivation: the conv, then ``norm_layer`` and ``activation_layer``."""
    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=None,
                 groups=1, norm_layer=norm, activation_layer=nn.ReLU, dilation=1,
                 inplace=True, bias=None):
        _ConvNormActivation.__init__(self, conv, in_channels, out_channels, kernel_size,
                                     stride, padding, groups, norm_layer, activation_layer,
                                     dilation, inplace, bias)
    return type(name, (_ConvNormActivation,), {"__init__": __init__, "__module__": __name__})


Conv2dNormActivation = _conv_norm_activation("Conv2dNormActivation", nn.Conv2d, nn.BatchNorm2d)
Conv3dNormActivation = _conv_norm_activation("Conv3dNormActivation", nn.Conv3d, nn.BatchNorm3d)


class SqueezeExcitation(nn.Module):
    """Channel attention (Hu et al., 2018): the input scaled by
    scale_activation(fc2(activation(fc1(mean over H, W))))."""

    def __init__(self, input_channels, squeeze_channels, activation=nn.ReLU,
                 scale_activation=nn.Sigmoid):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def _scale(self, x):
        return self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))

    def forward(self, input):
        return self._scale(input) * input


def stochastic_depth(input, p, mode, training=True):
    """Drop whole samples ("row") or the whole batch ("batch") with probability p, scaling
    the survivors by 1 / (1 - p)."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"drop probability has to be between 0 and 1, but got {p}")
    if mode not in ("batch", "row"):
        raise ValueError(f"mode has to be either 'batch' or 'row', but got {mode}")
    if not training or p == 0.0:
        return input
    survival = 1.0 - p
    size = [input.shape[0]] + [1] * (input.dim() - 1) if mode == "row" else [1] * input.dim()
    noise = torch.empty(size, dtype=input.dtype).bernoulli_(survival)
    if survival > 0.0:
        noise = noise / survival
    return input * noise


class StochasticDepth(nn.Module):
    def __init__(self, p, mode):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, input):
        return stochastic_depth(input, self.p, self.mode, self.training)

    def __repr__(self):
        return f"{type(self).__name__}(p={self.p}, mode={self.mode})"


def _drop_block(input, p, block_size, inplace, eps, training, dims):
    """DropBlock (Ghiasi et al. 2018) over the last ``dims`` dims of ``input``: block centres
    are drawn with the rate that drops a fraction ``p`` of the elements, every element within
    ``block_size // 2`` of a centre is zeroed, and the kept ones are scaled by
    numel / (eps + number kept)."""
    if input.dim() != dims + 2:
        raise ValueError(f"input should be {dims + 2} dimensional. Got {input.dim()} "
                         "dimensions.")
    if p < 0.0 or p > 1.0:
        raise ValueError(f"drop probability has to be between 0 and 1, but got {p}.")
    if not training or p == 0.0:
        return input
    spatial = tuple(input.shape[2:])
    block_size = min(block_size, *spatial)
    if block_size % 2 == 0:
        raise ValueError(f"block size should be odd. Got {block_size} which is even.")
    valid = [s - block_size + 1 for s in spatial]   # centres whose whole block fits
    rate = p * math.prod(spatial) / (block_size ** dims * math.prod(valid))
    centres = torch.empty(tuple(input.shape[:2]) + tuple(valid), dtype=input.dtype,
                          device=input.device).bernoulli_(min(rate, 1.0))
    half = block_size // 2
    centres = F.pad(centres, [half] * (2 * dims))
    pool = F.max_pool2d if dims == 2 else F.max_pool3d
    keep = 1.0 - pool(centres, kernel_size=block_size, stride=1, padding=half)
    keep = keep * (keep.numel() / (eps + keep.sum()))
    if inplace:
        return input.mul_(keep)
    return input * keep


def drop_block2d(input, p, block_size, inplace=False, eps=1e-06, training=True):
    """DropBlock on (N, C, H, W): zeroes square blocks of side ``block_size`` (odd)."""
    return _drop_block(input, p, block_size, inplace, eps, training, 2)


def drop_block3d(input, p, block_size, inplace=False, eps=1e-06, training=True):
    """DropBlock on (N, C, D, H, W): zeroes cubes of side ``block_size`` (odd)."""
    return _drop_block(input, p, block_size, inplace, eps, training, 3)


class DropBlock2d(nn.Module):
    _fn = staticmethod(drop_block2d)

    def __init__(self, p, block_size, inplace=False, eps=1e-06):
        super().__init__()
        self.p, self.block_size, self.inplace, self.eps = p, block_size, inplace, eps

    def forward(self, input):
        return self._fn(input, self.p, self.block_size, self.inplace, self.eps, self.training)

    def __repr__(self):
        return (f"{type(self).__name__}(p={self.p}, block_size={self.block_size}, "
                f"inplace={self.inplace})")


class DropBlock3d(DropBlock2d):
    _fn = staticmethod(drop_block3d)


class FrozenBatchNorm2d(nn.Module):
    """Batch norm with fixed statistics and affine parameters (all buffers)."""

    def __init__(self, num_features, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x):
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale.reshape(1, -1, 1, 1) + shift.reshape(1, -1, 1, 1)

    def __repr__(self):
        return f"{type(self).__name__}({self.weight.shape[0]}, eps={self.eps})"


class Permute(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.dims = list(dims)

    def forward(self, x):
        return x.permute(*self.dims)

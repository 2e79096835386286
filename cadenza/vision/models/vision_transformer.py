"""Vision Transformer (Dosovitskiy et al., 2020) with torchvision's module names: ``conv_proj``
patches, ``class_token``, ``encoder`` (pos_embedding, encoder_layer_i blocks, ln), ``heads``."""
from __future__ import annotations

import math
from collections import OrderedDict
from functools import partial
from typing import Callable, NamedTuple

import cadenza as torch
from cadenza import nn
from .._layers import MLP, Conv2dNormActivation
from ._api import load_pretrained, make_weights, overwrite_params, resolve_weights

__all__ = ["VisionTransformer", "ConvStemConfig", "MLPBlock", "EncoderBlock", "Encoder",
           "vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14", "ViT_B_16_Weights",
           "ViT_B_32_Weights", "ViT_L_16_Weights", "ViT_L_32_Weights", "ViT_H_14_Weights"]


class ConvStemConfig(NamedTuple):
    out_channels: int
    kernel_size: int
    stride: int
    norm_layer: Callable[..., nn.Module] = nn.BatchNorm2d
    activation_layer: Callable[..., nn.Module] = nn.ReLU


class MLPBlock(MLP):
    """Linear, GELU, dropout, Linear, dropout (keys ``0`` and ``3``)."""

    def __init__(self, in_dim, mlp_dim, dropout):
        super().__init__(in_dim, [mlp_dim, in_dim], activation_layer=nn.GELU, inplace=None,
                         dropout=dropout)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.normal_(m.bias, std=1e-6)


class EncoderBlock(nn.Module):
    """Pre-norm transformer block: x + attention(ln_1(x)), then + mlp(ln_2(.))."""

    def __init__(self, num_heads, hidden_dim, mlp_dim, dropout, attention_dropout,
                 norm_layer=partial(nn.LayerNorm, eps=1e-6)):
        super().__init__()
        self.num_heads = num_heads
        self.ln_1 = norm_layer(hidden_dim)
        self.self_attention = nn.MultiheadAttention(hidden_dim, num_heads,
                                                    dropout=attention_dropout, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = norm_layer(hidden_dim)
        self.mlp = MLPBlock(hidden_dim, mlp_dim, dropout)

    def forward(self, input):
        if input.dim() != 3:
            raise ValueError("EncoderBlock: expected (batch_size, seq_length, hidden_dim), got "
                             f"{tuple(input.shape)}")
        x = self.ln_1(input)
        x, _ = self.self_attention(x, x, x, need_weights=False)
        x = self.dropout(x) + input
        return x + self.mlp(self.ln_2(x))


class Encoder(nn.Module):
    def __init__(self, seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout,
                 attention_dropout, norm_layer=partial(nn.LayerNorm, eps=1e-6)):
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.empty(1, seq_length, hidden_dim).normal_(std=0.02))
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.Sequential(OrderedDict(
            (f"encoder_layer_{i}", EncoderBlock(num_heads, hidden_dim, mlp_dim, dropout,
                                                attention_dropout, norm_layer))
            for i in range(num_layers)))
        self.ln = norm_layer(hidden_dim)

    def forward(self, input):
        if input.dim() != 3:
            raise ValueError("Encoder: expected (batch_size, seq_length, hidden_dim), got "
                             f"{tuple(input.shape)}")
        return self.ln(self.layers(self.dropout(input + self.pos_embedding)))


class VisionTransformer(nn.Module):
    def __init__(self, image_size, patch_size, num_layers, num_heads, hidden_dim, mlp_dim,
                 dropout=0.0, attention_dropout=0.0, num_classes=1000, representation_size=None,
                 norm_layer=partial(nn.LayerNorm, eps=1e-6), conv_stem_configs=None):
        super().__init__()
        if image_size % patch_size != 0:
            raise ValueError(f"Input shape indivisible by patch size! image_size {image_size}, "
                             f"patch_size {patch_size}")
        self.image_size, self.patch_size = image_size, patch_size
        self.hidden_dim, self.mlp_dim = hidden_dim, mlp_dim
        self.attention_dropout, self.dropout = attention_dropout, dropout
        self.num_classes, self.representation_size = num_classes, representation_size
        self.norm_layer = norm_layer
        if conv_stem_configs is not None:
            seq_proj, prev = nn.Sequential(), 3
            for i, cfg in enumerate(conv_stem_configs):
                seq_proj.add_module(f"conv_bn_relu_{i}", Conv2dNormActivation(
                    prev, cfg.out_channels, kernel_size=cfg.kernel_size, stride=cfg.stride,
                    norm_layer=cfg.norm_layer, activation_layer=cfg.activation_layer))
                prev = cfg.out_channels
            seq_proj.add_module("conv_last", nn.Conv2d(prev, hidden_dim, kernel_size=1))
            self.conv_proj = seq_proj
        else:
            self.conv_proj = nn.Conv2d(3, hidden_dim, kernel_size=patch_size, stride=patch_size)
        self.seq_length = (image_size // patch_size) ** 2 + 1
        self.class_token = nn.Parameter(torch.zeros(1, 1, hidden_dim))
        self.encoder = Encoder(self.seq_length, num_layers, num_heads, hidden_dim, mlp_dim,
                               dropout, attention_dropout, norm_layer)
        heads = OrderedDict()
        if representation_size is None:
            heads["head"] = nn.Linear(hidden_dim, num_classes)
        else:
            heads["pre_logits"] = nn.Linear(hidden_dim, representation_size)
            heads["act"] = nn.Tanh()
            heads["head"] = nn.Linear(representation_size, num_classes)
        self.heads = nn.Sequential(heads)
        if isinstance(self.conv_proj, nn.Conv2d):
            k = self.conv_proj.kernel_size
            nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1 / (3 * k[0] * k[1])))
            nn.init.zeros_(self.conv_proj.bias)
        else:
            last = self.conv_proj.conv_last
            nn.init.normal_(last.weight, mean=0.0, std=math.sqrt(2.0 / last.out_channels))
            nn.init.zeros_(last.bias)
        if representation_size is not None:
            pre = self.heads.pre_logits
            nn.init.trunc_normal_(pre.weight, std=math.sqrt(1 / pre.in_features))
            nn.init.zeros_(pre.bias)
        nn.init.zeros_(self.heads.head.weight)
        nn.init.zeros_(self.heads.head.bias)

    def _process_input(self, x):
        n, _, h, w = x.shape
        if h != self.image_size or w != self.image_size:
            raise ValueError(f"Wrong image size! Expected {self.image_size}x{self.image_size} "
                             f"but got {h}x{w}")
        p = self.patch_size
        x = self.conv_proj(x).reshape(n, self.hidden_dim, (h // p) * (w // p))
        return x.permute(0, 2, 1)

    def forward(self, x):
        x = self._process_input(x)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        return self.heads(self.encoder(x)[:, 0])


_URL = "https://download.pytorch.org/models/"


def _swag(name, e2e, linear, size, e2e_params):
    """SWAG weights (Singh et al., 2022): fine-tuned end to end at ``size`` pixels, or a linear
    classifier on the frozen trunk at 224."""
    return {"IMAGENET1K_SWAG_E2E_V1": (f"{_URL}{name}_swag-{e2e}.pth",
                                       {"min_size": (size, size), "num_params": e2e_params}),
            "IMAGENET1K_SWAG_LINEAR_V1": (f"{_URL}{name}_lc_swag-{linear}.pth",
                                          {"min_size": (224, 224)})}


ViT_B_16_Weights = make_weights("ViT_B_16_Weights", _URL + "vit_b_16-c867db91.pth", 86567656,
                                extra=_swag("vit_b_16", "9ac1b537", "4e70ced5", 384, 86859496))
ViT_B_32_Weights = make_weights("ViT_B_32_Weights", _URL + "vit_b_32-d86f8d99.pth", 88224232)
ViT_L_16_Weights = make_weights("ViT_L_16_Weights", _URL + "vit_l_16-852ce7e3.pth", 304326632,
                                extra=_swag("vit_l_16", "4f3808c9", "4d563306", 512, 305174504))
ViT_L_32_Weights = make_weights("ViT_L_32_Weights", _URL + "vit_l_32-c7638314.pth", 306535400)
ViT_H_14_Weights = make_weights("ViT_H_14_Weights", None, 632045800,
                                extra=_swag("vit_h_14", "80465313", "c1eb923e", 518, 633470440))


def _vit(weights_cls, weights, kwargs, patch_size, num_layers, num_heads, hidden_dim, mlp_dim):
    weights = resolve_weights(weights_cls, weights, kwargs)
    kwargs.pop("progress", None)
    if weights is not None:  # the weights fix the position-embedding length
        overwrite_params(kwargs, image_size=weights.meta.get("min_size", (224, 224))[0])
    model = VisionTransformer(kwargs.pop("image_size", 224), patch_size, num_layers, num_heads,
                              hidden_dim, mlp_dim, **kwargs)
    return load_pretrained(model, weights)


def vit_b_16(*, weights=None, progress=True, **kwargs):
    return _vit(ViT_B_16_Weights, weights, kwargs, 16, 12, 12, 768, 3072)


def vit_b_32(*, weights=None, progress=True, **kwargs):
    return _vit(ViT_B_32_Weights, weights, kwargs, 32, 12, 12, 768, 3072)


def vit_l_16(*, weights=None, progress=True, **kwargs):
    return _vit(ViT_L_16_Weights, weights, kwargs, 16, 24, 16, 1024, 4096)


def vit_l_32(*, weights=None, progress=True, **kwargs):
    return _vit(ViT_L_32_Weights, weights, kwargs, 32, 24, 16, 1024, 4096)


def vit_h_14(*, weights=None, progress=True, **kwargs):
    return _vit(ViT_H_14_Weights, weights, kwargs, 14, 32, 16, 1280, 5120)

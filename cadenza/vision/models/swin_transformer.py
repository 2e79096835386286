"""Swin Transformer V1 / V2 tiny, small, base (Liu et al., 2021 / 2022) with torchvision's
module names: (shifted) window attention with relative position bias over (B, H, W, C)."""
from __future__ import annotations

import math
from functools import partial

import numpy as np

import cadenza as torch
from cadenza import nn
from cadenza.nn import functional as F
from .._layers import MLP, Permute, StochasticDepth
from ._api import build, make_weights

__all__ = ["SwinTransformer", "swin_t", "swin_s", "swin_b", "swin_v2_t", "swin_v2_s",
           "swin_v2_b", "Swin_T_Weights", "Swin_S_Weights", "Swin_B_Weights",
           "Swin_V2_T_Weights", "Swin_V2_S_Weights", "Swin_V2_B_Weights"]


def _patch_merging_pad(x):
    """(..., H, W, C) -> (..., H/2, W/2, 4C): the four pixels of each 2x2 patch side by side
    (odd sizes are zero-padded first)."""
    h, w = x.shape[-3], x.shape[-2]
    x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
    return torch.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :],
                      x[..., 1::2, 1::2, :]], -1)


class PatchMerging(nn.Module):
    def __init__(self, dim, norm_layer=nn.LayerNorm):
        super().__init__()
        self.dim = dim
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = norm_layer(4 * dim)

    def forward(self, x):
        return self.reduction(self.norm(_patch_merging_pad(x)))


class PatchMergingV2(nn.Module):
    """V2 normalizes after the reduction."""

    def __init__(self, dim, norm_layer=nn.LayerNorm):
        super().__init__()
        self.dim = dim
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = norm_layer(2 * dim)

    def forward(self, x):
        return self.norm(self.reduction(_patch_merging_pad(x)))


def _shift_mask(pad_h, pad_w, window_size, shift_size):
    """(windows, N, N) additive mask: -100 between tokens from different regions of the
    cyclically shifted image."""
    regions = np.zeros((pad_h, pad_w), dtype=np.float32)
    (wh, ww), (sh, sw) = window_size, shift_size
    count = 0
    for h in ((0, -wh), (-wh, -sh), (-sh, None)):
        for w in ((0, -ww), (-ww, -sw), (-sw, None)):
            regions[h[0]:h[1], w[0]:w[1]] = count
            count += 1
    regions = regions.reshape(pad_h // wh, wh, pad_w // ww, ww).transpose(0, 2, 1, 3)
    regions = regions.reshape(-1, wh * ww)
    diff = regions[:, None, :] - regions[:, :, None]
    return torch.from_numpy(np.where(diff != 0, -100.0, 0.0).astype(np.float32))


def shifted_window_attention(input, qkv_weight, proj_weight, relative_position_bias,
                             window_size, num_heads, shift_size, attention_dropout=0.0,
                             dropout=0.0, qkv_bias=None, proj_bias=None, logit_scale=None,
                             training=True):
    """Multi-head self-attention within (shifted) windows of an (B, H, W, C) input, with a
    relative position bias; cosine attention scaled by ``logit_scale`` (V2) if given."""
    b, h, w, c = input.shape
    wh, ww = window_size
    x = F.pad(input, (0, 0, 0, (ww - w % ww) % ww, 0, (wh - h % wh) % wh))
    pad_h, pad_w = x.shape[1], x.shape[2]
    shift = [0 if wh >= pad_h else shift_size[0], 0 if ww >= pad_w else shift_size[1]]
    if sum(shift) > 0:
        x = torch.roll(x, shifts=(-shift[0], -shift[1]), dims=(1, 2))
    n_win = (pad_h // wh) * (pad_w // ww)
    x = x.reshape(b, pad_h // wh, wh, pad_w // ww, ww, c).permute(0, 1, 3, 2, 4, 5)
    x = x.reshape(b * n_win, wh * ww, c)
    if logit_scale is not None and qkv_bias is not None:  # V2: no key bias
        keep = np.ones(qkv_bias.shape[0], dtype=np.float32)
        keep[qkv_bias.shape[0] // 3:2 * qkv_bias.shape[0] // 3] = 0
        qkv_bias = qkv_bias * torch.from_numpy(keep)
    qkv = F.linear(x, qkv_weight, qkv_bias)
    qkv = qkv.reshape(x.shape[0], x.shape[1], 3, num_heads, c // num_heads)
    q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
    if logit_scale is not None:
        attn = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
        attn = attn * torch.clamp(logit_scale, max=math.log(100.0)).exp()
    else:
        attn = (q * (c // num_heads) ** -0.5) @ k.transpose(-2, -1)
    attn = attn + relative_position_bias
    n = x.shape[1]
    if sum(shift) > 0:
        mask = _shift_mask(pad_h, pad_w, window_size, shift)
        attn = attn.reshape(b, n_win, num_heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
        attn = attn.reshape(-1, num_heads, n, n)
    attn = F.dropout(F.softmax(attn, dim=-1), p=attention_dropout, training=training)
    x = (attn @ v).transpose(1, 2).reshape(x.shape[0], n, c)
    x = F.dropout(F.linear(x, proj_weight, proj_bias), p=dropout, training=training)
    x = x.reshape(b, pad_h // wh, pad_w // ww, wh, ww, c).permute(0, 1, 3, 2, 4, 5)
    x = x.reshape(b, pad_h, pad_w, c)
    if sum(shift) > 0:
        x = torch.roll(x, shifts=(shift[0], shift[1]), dims=(1, 2))
    return x[:, :h, :w, :].contiguous()


def _relative_position_index(window_size):
    wh, ww = window_size
    coords = np.stack(np.meshgrid(np.arange(wh), np.arange(ww), indexing="ij")).reshape(2, -1)
    rel = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0)
    return ((rel[..., 0] + wh - 1) * (2 * ww - 1) + rel[..., 1] + ww - 1).reshape(-1)


class ShiftedWindowAttention(nn.Module):
    def __init__(self, dim, window_size, shift_size, num_heads, qkv_bias=True, proj_bias=True,
                 attention_dropout=0.0, dropout=0.0):
        super().__init__()
        if len(window_size) != 2 or len(shift_size) != 2:
            raise ValueError("window_size and shift_size must be of length 2")
        self.window_size, self.shift_size = list(window_size), list(shift_size)
        self.num_heads = num_heads
        self.attention_dropout, self.dropout = attention_dropout, dropout
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        self.define_relative_position_bias_table()
        self.define_relative_position_index()

    def define_relative_position_bias_table(self):
        wh, ww = self.window_size
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * wh - 1) * (2 * ww - 1), self.num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def define_relative_position_index(self):
        self.register_buffer("relative_position_index",
                             torch.from_numpy(_relative_position_index(self.window_size)))

    def _bias_from(self, table):
        n = self.window_size[0] * self.window_size[1]
        bias = table[self.relative_position_index].reshape(n, n, -1)
        return bias.permute(2, 0, 1).contiguous().unsqueeze(0)

    def get_relative_position_bias(self):
        return self._bias_from(self.relative_position_bias_table)

    def _logit_scale(self):
        return None

    def forward(self, x):
        return shifted_window_attention(
            x, self.qkv.weight, self.proj.weight, self.get_relative_position_bias(),
            self.window_size, self.num_heads, shift_size=self.shift_size,
            attention_dropout=self.attention_dropout, dropout=self.dropout,
            qkv_bias=self.qkv.bias, proj_bias=self.proj.bias, logit_scale=self._logit_scale(),
            training=self.training)


class ShiftedWindowAttentionV2(ShiftedWindowAttention):
    """Cosine attention with a learned temperature; the position bias comes from a small MLP
    over log-spaced relative coordinates."""

    def __init__(self, dim, window_size, shift_size, num_heads, qkv_bias=True, proj_bias=True,
                 attention_dropout=0.0, dropout=0.0):
        super().__init__(dim, window_size, shift_size, num_heads, qkv_bias=qkv_bias,
                         proj_bias=proj_bias, attention_dropout=attention_dropout,
                         dropout=dropout)
        self.logit_scale = nn.Parameter(torch.log(10 * torch.ones((num_heads, 1, 1))))
        self.cpb_mlp = nn.Sequential(nn.Linear(2, 512, bias=True), nn.ReLU(inplace=True),
                                     nn.Linear(512, num_heads, bias=False))
        if qkv_bias:
            length = self.qkv.bias.numel() // 3
            with torch.no_grad():
                self.qkv.bias[length:2 * length].zero_()

    def define_relative_position_bias_table(self):
        wh, ww = self.window_size
        hs = np.arange(-(wh - 1), wh, dtype=np.float32) / np.float32(wh - 1)
        ws = np.arange(-(ww - 1), ww, dtype=np.float32) / np.float32(ww - 1)
        table = np.stack(np.meshgrid(hs, ws, indexing="ij")).transpose(1, 2, 0)[None] * 8
        table = np.sign(table) * np.log2(np.abs(table) + np.float32(1.0)) / np.float32(3.0)
        self.register_buffer("relative_coords_table", torch.from_numpy(table.astype(np.float32)))

    def get_relative_position_bias(self):
        table = self.cpb_mlp(self.relative_coords_table).reshape(-1, self.num_heads)
        return 16 * torch.sigmoid(self._bias_from(table))

    def _logit_scale(self):
        return self.logit_scale


class SwinTransformerBlock(nn.Module):
    def __init__(self, dim, num_heads, window_size, shift_size, mlp_ratio=4.0, dropout=0.0,
                 attention_dropout=0.0, stochastic_depth_prob=0.0, norm_layer=nn.LayerNorm,
                 attn_layer=ShiftedWindowAttention):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = attn_layer(dim, window_size, shift_size, num_heads,
                               attention_dropout=attention_dropout, dropout=dropout)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.norm2 = norm_layer(dim)
        self.mlp = MLP(dim, [int(dim * mlp_ratio), dim], activation_layer=nn.GELU, inplace=None,
                       dropout=dropout)
        for m in self.mlp.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.normal_(m.bias, std=1e-6)

    def forward(self, x):
        x = x + self.stochastic_depth(self.attn(self.norm1(x)))
        return x + self.stochastic_depth(self.mlp(self.norm2(x)))


class SwinTransformerBlockV2(SwinTransformerBlock):
    """Post-norm residual branches."""

    def __init__(self, dim, num_heads, window_size, shift_size, mlp_ratio=4.0, dropout=0.0,
                 attention_dropout=0.0, stochastic_depth_prob=0.0, norm_layer=nn.LayerNorm,
                 attn_layer=ShiftedWindowAttentionV2):
        super().__init__(dim, num_heads, window_size, shift_size, mlp_ratio, dropout,
                         attention_dropout, stochastic_depth_prob, norm_layer, attn_layer)

    def forward(self, x):
        x = x + self.stochastic_depth(self.norm1(self.attn(x)))
        return x + self.stochastic_depth(self.norm2(self.mlp(x)))


class SwinTransformer(nn.Module):
    def __init__(self, patch_size, embed_dim, depths, num_heads, window_size, mlp_ratio=4.0,
                 dropout=0.0, attention_dropout=0.0, stochastic_depth_prob=0.1,
                 num_classes=1000, norm_layer=None, block=None,
                 downsample_layer=PatchMerging):
        super().__init__()
        self.num_classes = num_classes
        block = block or SwinTransformerBlock
        norm_layer = norm_layer or partial(nn.LayerNorm, eps=1e-5)
        layers = [nn.Sequential(
            nn.Conv2d(3, embed_dim, kernel_size=tuple(patch_size), stride=tuple(patch_size)),
            Permute([0, 2, 3, 1]), norm_layer(embed_dim))]
        total, block_id = sum(depths), 0
        for i_stage, depth in enumerate(depths):
            dim, stage = embed_dim * 2 ** i_stage, []
            for i_layer in range(depth):
                stage.append(block(
                    dim, num_heads[i_stage], window_size=window_size,
                    shift_size=[0 if i_layer % 2 == 0 else w // 2 for w in window_size],
                    mlp_ratio=mlp_ratio, dropout=dropout, attention_dropout=attention_dropout,
                    stochastic_depth_prob=stochastic_depth_prob * float(block_id) / (total - 1),
                    norm_layer=norm_layer))
                block_id += 1
            layers.append(nn.Sequential(*stage))
            if i_stage < len(depths) - 1:
                layers.append(downsample_layer(dim, norm_layer))
        self.features = nn.Sequential(*layers)
        num_features = embed_dim * 2 ** (len(depths) - 1)
        self.norm = norm_layer(num_features)
        self.permute = Permute([0, 3, 1, 2])
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.head = nn.Linear(num_features, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.permute(self.norm(self.features(x)))
        return self.head(self.flatten(self.avgpool(x)))


_URL = "https://download.pytorch.org/models/"
Swin_T_Weights = make_weights("Swin_T_Weights", _URL + "swin_t-704ceda3.pth", 28288354)
Swin_S_Weights = make_weights("Swin_S_Weights", _URL + "swin_s-5e29d889.pth", 49606258)
Swin_B_Weights = make_weights("Swin_B_Weights", _URL + "swin_b-68c6b09e.pth", 87768224)
Swin_V2_T_Weights = make_weights("Swin_V2_T_Weights", _URL + "swin_v2_t-b137f0e2.pth", 28351570)
Swin_V2_S_Weights = make_weights("Swin_V2_S_Weights", _URL + "swin_v2_s-637d8ceb.pth", 49737442)
Swin_V2_B_Weights = make_weights("Swin_V2_B_Weights", _URL + "swin_v2_b-781e5279.pth", 87930848)
_V2 = {"block": SwinTransformerBlockV2, "downsample_layer": PatchMergingV2}


def _swin(weights_cls, weights, kwargs, embed_dim, depths, num_heads, window, sd_prob, v2=False):
    def make(**kw):
        return SwinTransformer([4, 4], embed_dim, depths, num_heads, [window, window],
                               stochastic_depth_prob=sd_prob, **(_V2 if v2 else {}), **kw)
    return build(weights_cls, weights, kwargs, make)


def swin_t(*, weights=None, progress=True, **kwargs):
    return _swin(Swin_T_Weights, weights, kwargs, 96, [2, 2, 6, 2], [3, 6, 12, 24], 7, 0.2)


def swin_s(*, weights=None, progress=True, **kwargs):
    return _swin(Swin_S_Weights, weights, kwargs, 96, [2, 2, 18, 2], [3, 6, 12, 24], 7, 0.3)


def swin_b(*, weights=None, progress=True, **kwargs):
    return _swin(Swin_B_Weights, weights, kwargs, 128, [2, 2, 18, 2], [4, 8, 16, 32], 7, 0.5)


def swin_v2_t(*, weights=None, progress=True, **kwargs):
    return _swin(Swin_V2_T_Weights, weights, kwargs, 96, [2, 2, 6, 2], [3, 6, 12, 24], 8, 0.2,
                 v2=True)


def swin_v2_s(*, weights=None, progress=True, **kwargs):
    return _swin(Swin_V2_S_Weights, weights, kwargs, 96, [2, 2, 18, 2], [3, 6, 12, 24], 8, 0.3,
                 v2=True)


def swin_v2_b(*, weights=None, progress=True, **kwargs):
    return _swin(Swin_V2_B_Weights, weights, kwargs, 128, [2, 2, 18, 2], [4, 8, 16, 32], 8,
                 0.5, v2=True)

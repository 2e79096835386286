"""An independent PyTorch implementation of cadenza.models.gpt's architecture (same parameter
names, so state dicts copy across), used as the oracle in the model tests. Written plainly:
explicit attention maths, dense MoE (every expert on every token, zero weight when unrouted)."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class RefGPT(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        C, H, K, D = c.n_embd, c.n_head, c.n_kv_head, c.n_embd // c.n_head
        hidden = c.hidden

        def norm():
            if c.norm == "rmsnorm":
                m = nn.Module()
                m.weight = nn.Parameter(torch.ones(C))
                return m
            return nn.LayerNorm(C, eps=c.norm_eps, bias=c.bias)

        def ffn():
            m = nn.Module()
            if c.mlp == "gelu":
                m.c_fc = nn.Linear(C, hidden, bias=c.bias)
                m.c_proj = nn.Linear(hidden, C, bias=c.bias)
            else:
                m.w1 = nn.Linear(C, hidden, bias=c.bias)
                m.w3 = nn.Linear(C, hidden, bias=c.bias)
                m.w2 = nn.Linear(hidden, C, bias=c.bias)
            return m

        self.transformer = nn.ModuleDict(dict(wte=nn.Embedding(c.vocab_size, C)))
        if c.pos == "learned":
            self.transformer["wpe"] = nn.Embedding(c.block_size, C)
        blocks = []
        for _ in range(c.n_layer):
            b = nn.Module()
            b.ln_1, b.ln_2 = norm(), norm()
            b.attn = nn.Module()
            b.attn.c_attn = nn.Linear(C, (H + 2 * K) * D, bias=c.bias)
            b.attn.c_proj = nn.Linear(C, C, bias=c.bias)
            if c.n_expert:
                b.mlp = nn.Module()
                b.mlp.router = nn.Linear(C, c.n_expert, bias=False)
                b.mlp.experts = nn.ModuleList([ffn() for _ in range(c.n_expert)])
            else:
                b.mlp = ffn()
            blocks.append(b)
        self.transformer["h"] = nn.ModuleList(blocks)
        self.transformer["ln_f"] = norm()
        self.lm_head = nn.Linear(C, c.vocab_size, bias=False)
        if c.tie_weights:
            self.lm_head.weight = self.transformer["wte"].weight

    def _norm(self, m, x):
        if self.c.norm == "rmsnorm":
            return x / torch.sqrt((x * x).mean(-1, keepdim=True) + self.c.norm_eps) * m.weight
        return m(x)

    def _ffn(self, m, x):
        if self.c.mlp == "gelu":
            return m.c_proj(F.gelu(m.c_fc(x), approximate="tanh"))
        return m.w2(F.silu(m.w1(x)) * m.w3(x))

    def _rope(self, x):
        T, D = x.shape[-2], x.shape[-1]
        inv = 1.0 / self.c.rope_theta ** (torch.arange(0, D, 2, dtype=torch.float64) / D)
        ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None]
        cos = torch.cos(ang).float().repeat(1, 2)
        sin = torch.sin(ang).float().repeat(1, 2)
        x1, x2 = x[..., :D // 2], x[..., D // 2:]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    def _attn(self, m, x):
        c = self.c
        B, T, C = x.shape
        H, K, D = c.n_head, c.n_kv_head, C // c.n_head
        qkv = m.c_attn(x)
        q = qkv[..., :H * D].view(B, T, H, D).transpose(1, 2)
        k = qkv[..., H * D:(H + K) * D].view(B, T, K, D).transpose(1, 2)
        v = qkv[..., (H + K) * D:].view(B, T, K, D).transpose(1, 2)
        if c.pos == "rope":
            q, k = self._rope(q), self._rope(k)
        k = k.repeat_interleave(H // K, dim=1)
        v = v.repeat_interleave(H // K, dim=1)
        att = q @ k.transpose(-1, -2) / math.sqrt(D)
        mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        return m.c_proj(y)

    def _moe(self, m, x):
        c = self.c
        B, T, C = x.shape
        xf = x.reshape(-1, C)
        logits = m.router(xf)
        probs = logits.softmax(-1)
        topv, topi = logits.topk(c.n_expert_active, dim=-1)
        w = topv.softmax(-1)
        dense_w = torch.zeros_like(logits).scatter(1, topi, w)
        out = sum(dense_w[:, e:e + 1] * self._ffn(ex, xf) for e, ex in enumerate(m.experts))
        onehot = F.one_hot(topi, c.n_expert).float().sum((0, 1))
        frac = onehot / (xf.shape[0] * c.n_expert_active)
        aux = c.n_expert * (frac * probs.mean(0)).sum()
        return out.view(B, T, C), aux

    def forward(self, idx, targets=None):
        c = self.c
        B, T = idx.shape
        x = self.transformer["wte"](idx)
        if c.pos == "learned":
            x = x + self.transformer["wpe"](torch.arange(T))
        auxes = []
        for b in self.transformer["h"]:
            x = x + self._attn(b.attn, self._norm(b.ln_1, x))
            h = self._norm(b.ln_2, x)
            if c.n_expert:
                y, aux = self._moe(b.mlp, h)
                auxes.append(aux)
            else:
                y = self._ffn(b.mlp, h)
            x = x + y
        logits = self.lm_head(self._norm(self.transformer["ln_f"], x))
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                               ignore_index=-1)
        if auxes and c.moe_aux_weight:
            loss = loss + c.moe_aux_weight * torch.stack(auxes).mean()
        return logits, loss

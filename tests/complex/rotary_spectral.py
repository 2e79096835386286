"""A PyTorch program, unmodified: a tiny attention block with Llama's rotary embeddings
(complex freqs_cis) trained with a spectral (torch.fft) loss term. Prints the losses."""
import math

import torch
import torch.fft
import torch.nn as nn
import torch.nn.functional as F


def precompute_freqs_cis(dim: int, end: int, theta: float = 10000.0):
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2)[: (dim // 2)].float() / dim))
    t = torch.arange(end, device=freqs.device)
    freqs = torch.outer(t, freqs).float()
    return torch.polar(torch.ones_like(freqs), freqs)


def reshape_for_broadcast(freqs_cis, x):
    ndim = x.ndim
    shape = [d if i == 1 or i == ndim - 1 else 1 for i, d in enumerate(x.shape)]
    return freqs_cis.view(*shape)


def apply_rotary_emb(xq, xk, freqs_cis):
    xq_ = torch.view_as_complex(xq.float().reshape(*xq.shape[:-1], -1, 2))
    xk_ = torch.view_as_complex(xk.float().reshape(*xk.shape[:-1], -1, 2))
    freqs_cis = reshape_for_broadcast(freqs_cis, xq_)
    xq_out = torch.view_as_real(xq_ * freqs_cis).flatten(3)
    xk_out = torch.view_as_real(xk_ * freqs_cis).flatten(3)
    return xq_out.type_as(xq), xk_out.type_as(xk)


class Block(nn.Module):
    def __init__(self, dim=16, heads=2, seq=8):
        super().__init__()
        self.heads, self.hd = heads, dim // heads
        self.wq = nn.Linear(dim, dim, bias=False)
        self.wk = nn.Linear(dim, dim, bias=False)
        self.wv = nn.Linear(dim, dim, bias=False)
        self.wo = nn.Linear(dim, dim, bias=False)
        self.freqs_cis = precompute_freqs_cis(self.hd, seq * 2)

    def forward(self, x):
        b, s, _ = x.shape
        q = self.wq(x).view(b, s, self.heads, self.hd)
        k = self.wk(x).view(b, s, self.heads, self.hd)
        v = self.wv(x).view(b, s, self.heads, self.hd)
        q, k = apply_rotary_emb(q, k, self.freqs_cis[:s])
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(self.hd)
        att = att.masked_fill(torch.triu(torch.ones(s, s, dtype=torch.bool), 1), float("-inf"))
        out = (F.softmax(att, dim=-1) @ v).transpose(1, 2).reshape(b, s, -1)
        return self.wo(out)


def spectral_loss(pred, target):
    p = torch.fft.rfft(pred, dim=1, norm="ortho")
    t = torch.fft.rfft(target, dim=1, norm="ortho")
    return (p.abs() - t.abs()).pow(2).mean() + F.mse_loss(torch.view_as_real(p),
                                                          torch.view_as_real(t))


torch.manual_seed(0)
model = Block()
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
x = torch.randn(4, 8, 16)
y = torch.sin(torch.linspace(0, 6.28, 8))[None, :, None] * torch.ones(4, 8, 16)
for step in range(5):
    out = model(x)
    loss = F.mse_loss(out, y) + 0.1 * spectral_loss(out, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    print(f"step {step} loss {loss.item():.6f}")
print(torch.fft.fftshift(torch.fft.fftfreq(6)))
print(model.freqs_cis[:2, :2])

"""mamba-minimal style selective state-space LM (one-file Mamba in plain PyTorch): a ModelArgs
dataclass with `__post_init__` deriving d_inner / dt_rank, RMSNorm with `torch.rsqrt`, a
MambaBlock with in_proj split by `Tensor.split`, a depthwise causal `nn.Conv1d(groups=d_inner,
padding=d_conv - 1)` cut back to length L, x_proj -> (delta, B, C) via `split`, `F.softplus`
dt_proj, `A = -torch.exp(A_log)` from a `repeat`-style `arange` init, the discretised scan with
`torch.einsum` ("b l d, d n -> b l d n", "b l d, b l n, b l d -> b l d n") stepped over the
sequence and stacked, skip term `u * D`, `F.silu` gating, residual blocks, a final norm and an
lm_head tied to the embedding. Trained with AdamW on a synthetic character language whose next
token depends on earlier context (a selective-copy language). The metric is validation loss."""
import argparse
import math
from dataclasses import dataclass
from typing import Union

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class ModelArgs:
    d_model: int
    n_layer: int
    vocab_size: int
    d_state: int = 8
    expand: int = 2
    dt_rank: Union[int, str] = "auto"
    d_conv: int = 4
    pad_vocab_size_multiple: int = 8
    conv_bias: bool = True
    bias: bool = False

    def __post_init__(self):
        self.d_inner = int(self.expand * self.d_model)
        if self.dt_rank == "auto":
            self.dt_rank = math.ceil(self.d_model / 16)
        if self.vocab_size % self.pad_vocab_size_multiple != 0:
            self.vocab_size += (self.pad_vocab_size_multiple
                                - self.vocab_size % self.pad_vocab_size_multiple)


class RMSNorm(nn.Module):
    def __init__(self, d_model, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class MambaBlock(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.args = args
        self.in_proj = nn.Linear(args.d_model, args.d_inner * 2, bias=args.bias)
        self.conv1d = nn.Conv1d(in_channels=args.d_inner, out_channels=args.d_inner,
                                bias=args.conv_bias, kernel_size=args.d_conv,
                                groups=args.d_inner, padding=args.d_conv - 1)
        self.x_proj = nn.Linear(args.d_inner, args.dt_rank + args.d_state * 2, bias=False)
        self.dt_proj = nn.Linear(args.dt_rank, args.d_inner, bias=True)
        A = torch.arange(1, args.d_state + 1).float().unsqueeze(0).repeat(args.d_inner, 1)
        self.A_log = nn.Parameter(torch.log(A))
        self.D = nn.Parameter(torch.ones(args.d_inner))
        self.out_proj = nn.Linear(args.d_inner, args.d_model, bias=args.bias)

    def forward(self, x):
        (b, l, d) = x.shape
        x_and_res = self.in_proj(x)
        (x, res) = x_and_res.split(split_size=[self.args.d_inner, self.args.d_inner], dim=-1)
        x = x.transpose(1, 2)            # b d_in l
        x = self.conv1d(x)[:, :, :l]
        x = x.transpose(1, 2)
        x = F.silu(x)
        y = self.ssm(x)
        y = y * F.silu(res)
        return self.out_proj(y)

    def ssm(self, x):
        (d_in, n) = self.A_log.shape
        A = -torch.exp(self.A_log.float())
        D = self.D.float()
        x_dbl = self.x_proj(x)
        (delta, B, C) = x_dbl.split(split_size=[self.args.dt_rank, n, n], dim=-1)
        delta = F.softplus(self.dt_proj(delta))
        return self.selective_scan(x, delta, A, B, C, D)

    def selective_scan(self, u, delta, A, B, C, D):
        (b, l, d_in) = u.shape
        n = A.shape[1]
        deltaA = torch.exp(torch.einsum("bld,dn->bldn", delta, A))
        deltaB_u = torch.einsum("bld,bln,bld->bldn", delta, B, u)
        x = torch.zeros((b, d_in, n), device=deltaA.device)
        ys = []
        for i in range(l):
            x = deltaA[:, i] * x + deltaB_u[:, i]
            y = torch.einsum("bdn,bn->bd", x, C[:, i, :])
            ys.append(y)
        y = torch.stack(ys, dim=1)
        return y + u * D


class ResidualBlock(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.mixer = MambaBlock(args)
        self.norm = RMSNorm(args.d_model)

    def forward(self, x):
        return self.mixer(self.norm(x)) + x


class Mamba(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.args = args
        self.embedding = nn.Embedding(args.vocab_size, args.d_model)
        self.layers = nn.ModuleList([ResidualBlock(args) for _ in range(args.n_layer)])
        self.norm_f = RMSNorm(args.d_model)
        self.lm_head = nn.Linear(args.d_model, args.vocab_size, bias=False)
        self.lm_head.weight = self.embedding.weight

    def forward(self, input_ids):
        x = self.embedding(input_ids)
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.norm_f(x))


def make_corpus(gen, n_seq, seq_len, vocab):
    """Each sequence: a few 'key' letters scattered among noise '.', then '|' and the keys in
    order; the model must remember the keys selectively."""
    noise, sep = 0, 1
    seqs = []
    for _ in range(n_seq):
        k = 4
        keys = torch.randint(2, vocab, (k,), generator=gen)
        body = torch.full((seq_len - k - 1,), noise)
        pos = torch.randperm(body.numel(), generator=gen)[:k].sort().values
        body[pos] = keys
        seqs.append(torch.cat([body, torch.tensor([sep]), keys]))
    return torch.stack(seqs)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(1234)
    vocab = 10
    data = make_corpus(gen, 600, 20, vocab)
    train, val = data[:512], data[512:]
    margs = ModelArgs(d_model=32, n_layer=2, vocab_size=vocab)
    model = Mamba(margs)
    print("params", sum(p.numel() for p in model.parameters()), "vocab", margs.vocab_size)
    opt = torch.optim.AdamW(model.parameters(), lr=4e-3, weight_decay=0.01)

    def loss_on(batch):
        logits = model(batch[:, :-1])
        # only the recall part is predictable; weigh every position anyway, like an LM
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1))

    for step in range(args.steps):
        idx = torch.randint(0, train.size(0), (32,))
        loss = loss_on(train[idx])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 30 == 0:
            print(f"step {step} loss {loss.item():.4f}")

    model.eval()
    with torch.no_grad():
        val_loss = loss_on(val).item()
        logits = model(val[:, :-1])
        pred = logits[:, -4:].argmax(-1)
        recall = (pred == val[:, -4:]).float().mean().item()
    print(f"recall accuracy {recall:.3f}")
    print(f"final_loss {val_loss:.4f}")


if __name__ == "__main__":
    main()

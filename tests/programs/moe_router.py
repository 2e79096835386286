"""Sparse mixture-of-experts transformer block (Switch / Mixtral style) for token
classification: top-k router with softmax over the selected logits, token dispatch by
torch.nonzero / index_select and combination with index_add_, a load-balancing auxiliary loss
from one_hot + bincount statistics, router z-loss, expert capacity dropping via cumsum, and
torch.nn.utils.parameters_to_vector for a weight-norm log. The task: each token's label
depends on a per-cluster rule, so experts specialise; the metric is token accuracy."""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import parameters_to_vector


class Expert(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.w1 = nn.Linear(d, h, bias=False)
        self.w2 = nn.Linear(h, d, bias=False)
        self.w3 = nn.Linear(d, h, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class MoE(nn.Module):
    def __init__(self, d, h, n_experts=4, top_k=2, capacity_factor=1.5):
        super().__init__()
        self.router = nn.Linear(d, n_experts, bias=False)
        self.experts = nn.ModuleList(Expert(d, h) for _ in range(n_experts))
        self.top_k, self.n_experts, self.cf = top_k, n_experts, capacity_factor

    def forward(self, x):
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        logits = self.router(x)
        probs = logits.softmax(dim=-1)
        top_w, top_i = torch.topk(logits, self.top_k, dim=-1)
        top_w = F.softmax(top_w, dim=-1, dtype=torch.float32).to(x.dtype)
        capacity = int(self.cf * x.shape[0] * self.top_k / self.n_experts)
        onehot = F.one_hot(top_i, self.n_experts)                 # (N, k, E)
        position = torch.cumsum(onehot.reshape(-1, self.n_experts), dim=0).reshape(onehot.shape)
        keep = ((position <= capacity) & onehot.bool()).any(-1)  # (N, k)
        out = torch.zeros_like(x)
        for e, expert in enumerate(self.experts):
            token, slot = torch.nonzero((top_i == e) & keep, as_tuple=True)
            if token.numel() == 0:
                continue
            y = expert(x.index_select(0, token)) * top_w[token, slot].unsqueeze(-1)
            out.index_add_(0, token, y)
        counts = torch.bincount(top_i[:, 0], minlength=self.n_experts).float()
        frac = counts / counts.sum()
        self.aux_loss = self.n_experts * (frac * probs.mean(0)).sum()
        self.z_loss = torch.logsumexp(logits, dim=-1).pow(2).mean()
        self.dropped = (~keep).sum().item()
        return out.reshape(shape), counts


class Block(nn.Module):
    def __init__(self, d, heads, h):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.moe = MoE(d, h)

    def forward(self, x):
        a = self.ln1(x)
        x = x + self.attn(a, a, a, need_weights=False)[0]
        y, counts = self.moe(self.ln2(x))
        return x + y, counts


class Model(nn.Module):
    def __init__(self, vocab=32, d=32, n_classes=4):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.zeros(1, 16, d))
        self.blocks = nn.ModuleList([Block(d, 4, 48) for _ in range(1)])
        self.head = nn.Linear(d, n_classes)

    def forward(self, tokens):
        x = self.emb(tokens) + self.pos[:, :tokens.shape[1]]
        usage = []
        for blk in self.blocks:
            x, counts = blk(x)
            usage.append(counts)
        return self.head(x), usage


def make_batch(n, g, seq=16, vocab=32):
    tokens = torch.randint(0, vocab, (n, seq), generator=g)
    cluster = tokens // 8                         # 4 clusters of 8 tokens
    prev = torch.roll(tokens, 1, dims=1)
    prev[:, 0] = 0
    # the rule depends on the cluster: each expert can learn one
    rules = torch.stack([tokens % 4, (tokens + prev) % 4, (prev // 8), (tokens * 3) % 4], dim=-1)
    labels = rules.gather(-1, cluster.unsqueeze(-1)).squeeze(-1)
    return tokens, labels


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=100)
    args = p.parse_args()
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    model = Model()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.steps, eta_min=3e-4)
    for step in range(args.steps):
        tokens, labels = make_batch(32, g)
        logits, usage = model(tokens)
        ce = F.cross_entropy(logits.reshape(-1, 4), labels.reshape(-1))
        aux = sum(b.moe.aux_loss for b in model.blocks)
        z = sum(b.moe.z_loss for b in model.blocks)
        loss = ce + 0.01 * aux + 1e-3 * z
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 25 == 0:
            norm = parameters_to_vector(model.parameters()).norm().item()
            print(f"step {step} ce {ce.item():.4f} aux {aux.item():.3f} "
                  f"usage {usage[0].tolist()} dropped {model.blocks[0].moe.dropped} "
                  f"|w| {norm:.2f}")
    model.eval()
    tokens, labels = make_batch(256, torch.Generator().manual_seed(99))
    with torch.no_grad():
        logits, _ = model(tokens)
    acc = (logits.argmax(-1) == labels).float().mean().item()
    print(f"final_acc {acc:.4f}")


if __name__ == "__main__":
    main()

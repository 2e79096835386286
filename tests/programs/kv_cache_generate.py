"""GPT inference the way serving code writes it: a decoder with a preallocated key/value cache
(register_buffer(persistent=False), index_copy_ at the write position), rotary-free learned
positions, F.scaled_dot_product_attention with is_causal for the prompt and an explicit boolean
attn_mask for cached steps, and sampling with temperature, top-k (topk + masked_fill -inf) and
top-p (sort, cumsum, scatter) through torch.multinomial with a seeded Generator. Training uses
the "optimizer in backward" pattern: per-parameter optimizers stepped from
Tensor.register_post_accumulate_grad_hook. Cached and uncached decoding must agree; the metric
is the final training loss."""
import argparse
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    def __init__(self, d, heads, max_len, batch):
        super().__init__()
        self.heads, self.hd = heads, d // heads
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.register_buffer("k_cache", torch.zeros(batch, heads, max_len, self.hd),
                             persistent=False)
        self.register_buffer("v_cache", torch.zeros(batch, heads, max_len, self.hd),
                             persistent=False)

    def forward(self, x, pos=None):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, self.hd).transpose(1, 2) for t in (q, k, v))
        if pos is None:                       # training / no cache
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            idx = torch.arange(pos, pos + T)
            self.k_cache[:B].index_copy_(2, idx, k)
            self.v_cache[:B].index_copy_(2, idx, v)
            L = pos + T
            keys, values = self.k_cache[:B, :, :L], self.v_cache[:B, :, :L]
            mask = torch.ones(T, L, dtype=torch.bool).tril(diagonal=pos)
            y = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
        return self.out(y.transpose(1, 2).contiguous().view(B, T, C))


class Block(nn.Module):
    def __init__(self, d, heads, max_len, batch):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = Attention(d, heads, max_len, batch)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(approximate="tanh"),
                                 nn.Linear(4 * d, d))

    def forward(self, x, pos=None):
        x = x + self.attn(self.ln1(x), pos)
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, vocab, d=48, heads=4, layers=2, max_len=64, batch=4):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(max_len, d)
        self.blocks = nn.ModuleList(Block(d, heads, max_len, batch) for _ in range(layers))
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        self.tok.weight = self.head.weight
        self.apply(self._init)
        for n, p in self.named_parameters():
            if n.endswith("out.weight") or n.endswith("mlp.2.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * layers))

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def forward(self, idx, pos=None):
        start = 0 if pos is None else pos
        x = self.tok(idx) + self.pos(torch.arange(start, start + idx.shape[1]))
        for b in self.blocks:
            x = b(x, pos)
        return self.head(self.ln(x))


def filter_logits(logits, top_k=None, top_p=None):
    if top_k is not None:
        v, _ = torch.topk(logits, top_k)
        logits = logits.masked_fill(logits < v[:, [-1]], float("-inf"))
    if top_p is not None:
        sorted_logits, sorted_idx = torch.sort(logits, descending=True)
        cum = torch.cumsum(F.softmax(sorted_logits, dim=-1), dim=-1)
        remove = cum > top_p
        remove[:, 1:] = remove[:, :-1].clone()
        remove[:, 0] = False
        mask = remove.scatter(1, sorted_idx, remove)
        logits = logits.masked_fill(mask, float("-inf"))
    return logits


@torch.no_grad()
def generate(model, prompt, steps, gen, use_cache, temperature=0.8, top_k=8, top_p=0.9):
    idx = prompt
    if use_cache:
        logits = model(idx, pos=0)[:, -1]
    for t in range(steps):
        if not use_cache:
            logits = model(idx)[:, -1]
        probs = F.softmax(filter_logits(logits / temperature, top_k, top_p), dim=-1)
        nxt = torch.multinomial(probs, 1, generator=gen)
        idx = torch.cat([idx, nxt], dim=1)
        if use_cache:
            logits = model(nxt, pos=idx.shape[1] - 1)[:, -1]
    return idx


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=120)
    args = p.parse_args()
    torch.manual_seed(0)
    text = ("the cache holds keys and values so each new token attends to the past "
            "without recomputing it. ") * 20
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text])
    model = GPT(len(chars))
    optimizers = {p: torch.optim.AdamW([p], lr=3e-3, weight_decay=0.0 if p.ndim < 2 else 0.1)
                  for p in model.parameters()}

    def step_hook(param):
        optimizers[param].step()
        optimizers[param].zero_grad()

    for prm in model.parameters():
        prm.register_post_accumulate_grad_hook(step_hook)
    block = 32
    for step in range(args.steps):
        ix = torch.randint(len(data) - block - 1, (16,))
        x = torch.stack([data[i:i + block] for i in ix])
        y = torch.stack([data[i + 1:i + block + 1] for i in ix])
        loss = F.cross_entropy(model(x).view(-1, len(chars)), y.view(-1))
        loss.backward()                 # the optimizers step inside backward
        assert all(q.grad is None for q in model.parameters())
        if step % 30 == 0:
            print(f"step {step} loss {loss.item():.4f}")
    model.eval()
    prompt = torch.stack([data[i:i + 8] for i in (0, 13, 40, 77)])
    a = generate(model, prompt, 40, torch.Generator().manual_seed(5), use_cache=False)
    b = generate(model, prompt, 40, torch.Generator().manual_seed(5), use_cache=True)
    agree = (a == b).float().mean().item()
    print("sample:", repr("".join(chars[i] for i in b[0].tolist())))
    print(f"cached/uncached agreement {agree:.3f}")
    assert agree > 0.95
    print(f"final_loss {loss.item():.4f}")


if __name__ == "__main__":
    main()

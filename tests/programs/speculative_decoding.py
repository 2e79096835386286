"""Speculative sampling (Leviathan et al. 2023 / Chen et al. 2023) as the from-scratch blog posts
write it: a character-level target model (Embedding + 2-layer `nn.GRU` + Linear, trained with
`F.cross_entropy` on Python stdlib source read by `inspect.getsource`) and a cheap draft model
(a bigram logits table, `nn.Embedding(V, V)`), both sampled through `top_k_top_p`-free
temperature softmax; the draft proposes gamma tokens autoregressively, the target scores all of
them in one forward pass over the prefix, each proposal is accepted when
`torch.rand(1, generator=g) < min(1, p/q)`, and on the first rejection a token is drawn from the
residual `torch.clamp(p - q, min=0)` renormalised, with a bonus token from the target when every
proposal is accepted. The acceptance rule is checked exactly: the implied distribution
`q * min(1, p/q) + (1 - sum) * residual` equals p (`torch.allclose`). Sampling uses
`torch.multinomial(..., generator=g)` with a seeded `torch.Generator`. The metric is the target
model's validation loss."""
import argparse
import inspect
import json.decoder
import textwrap

import torch
import torch.nn as nn
import torch.nn.functional as F


class CharGRU(nn.Module):
    def __init__(self, vocab, emb=48, hidden=96):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.rnn = nn.GRU(emb, hidden, num_layers=2, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, idx, h=None):
        out, h = self.rnn(self.emb(idx), h)
        return self.head(out), h


class Bigram(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.table = nn.Embedding(vocab, vocab)

    def forward(self, idx):
        return self.table(idx)


def get_batch(data, block, bs):
    ix = torch.randint(len(data) - block - 1, (bs,))
    x = torch.stack([data[i: i + block] for i in ix.tolist()])
    y = torch.stack([data[i + 1: i + 1 + block] for i in ix.tolist()])
    return x, y


def train_model(model, data, steps, lr, block=48, bs=24):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        x, y = get_batch(data, block, bs)
        out = model(x)
        logits = out[0] if isinstance(out, tuple) else out
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return loss.item()


def probs(logits, temperature):
    return F.softmax(logits / temperature, dim=-1)


@torch.no_grad()
def speculative_generate(target, draft, prefix, n_new, gamma, temperature, g):
    seq = prefix.clone()
    accepted = proposed = 0
    while seq.numel() < prefix.numel() + n_new:
        draft_tokens, q_list = [], []
        last = seq[-1:]
        for _ in range(gamma):
            q = probs(draft(last)[-1], temperature)
            tok = torch.multinomial(q, 1, generator=g)
            draft_tokens.append(tok)
            q_list.append(q)
            last = tok
        cand = torch.cat([seq] + draft_tokens)
        logits, _ = target(cand.unsqueeze(0))
        p_all = probs(logits[0, seq.numel() - 1:], temperature)   # gamma + 1 rows
        n_ok = 0
        for i, tok in enumerate(draft_tokens):
            p, q = p_all[i], q_list[i]
            ratio = p[tok] / q[tok]
            proposed += 1
            if torch.rand(1, generator=g) < torch.clamp(ratio, max=1.0):
                n_ok += 1
                accepted += 1
            else:
                residual = torch.clamp(p - q, min=0)
                residual = residual / residual.sum()
                extra = torch.multinomial(residual, 1, generator=g)
                break
        else:
            extra = torch.multinomial(p_all[-1], 1, generator=g)
        seq = torch.cat([seq] + draft_tokens[:n_ok] + [extra])
    return seq[: prefix.numel() + n_new], accepted / max(proposed, 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    text = textwrap.dedent(inspect.getsource(json.decoder))
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    n = int(0.9 * len(data))
    train, val = data[:n], data[n:]
    V = len(chars)
    print(f"{len(text)} characters, vocab {V}")

    target, draft = CharGRU(V), Bigram(V)
    print(f"draft loss {train_model(draft, train, args.steps, 0.1):.3f}")
    print(f"target loss {train_model(target, train, args.steps, 4e-3):.3f}")
    target.eval()
    draft.eval()

    # the accept/resample rule reproduces the target distribution exactly
    with torch.no_grad():
        ctx = val[:40].unsqueeze(0)
        p = probs(target(ctx)[0][0, -1], 0.8)
        q = probs(draft(ctx[0, -1:])[-1], 0.8)
        accept = torch.minimum(torch.ones_like(p), p / q)
        residual = torch.clamp(p - q, min=0)
        implied = q * accept + (1 - (q * accept).sum()) * residual / residual.sum()
        print("speculative rule preserves p:", torch.allclose(implied, p, atol=1e-6))

    g = torch.Generator().manual_seed(args.seed)
    out, rate = speculative_generate(target, draft, val[:20], 120, 4, 0.8, g)
    print(f"acceptance rate {rate:.2f}")
    print("".join(chars[i] for i in out.tolist()))

    with torch.no_grad():
        xs = val[:-1].unfold(0, 64, 64)
        ys = val[1:].unfold(0, 64, 64)
        logits, _ = target(xs)
        val_loss = F.cross_entropy(logits.reshape(-1, V), ys.reshape(-1)).item()
    print(f"final_loss {val_loss:.4f}")


if __name__ == "__main__":
    main()

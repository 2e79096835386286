"""A small decoder-only LM with T5-style pieces, as HuggingFace's modeling_t5 writes them: the
relative-position bucket function (`torch.abs`/`torch.min`/`torch.zeros_like`, the log-spaced
large-distance buckets via `torch.log(...float() / max_exact) / math.log(...)` cast
`.to(torch.long)`, `torch.full_like` clamp, `torch.where`), a `relative_attention_bias`
Embedding computed in the first layer only and passed on (`has_relative_attention_bias`), the
bias added to unscaled `torch.matmul` scores together with a causal mask filled with
`torch.finfo(dtype).min`, `T5LayerNorm` (RMS in float32 via `.to(torch.float32).pow(2)`,
no mean, no bias), a gated-GELU feed-forward with the tanh-approximation written out
(`torch.pow(x, 3.0)`), `nn.Dropout`, `config` as a `types.SimpleNamespace`,
`torch.optim.Adafactor` and an inverse-square-root warmup LambdaLR. A variant with ALiBi slopes
(`torch.pow(2, -8 * (i + 1) / n_heads)` times a distance matrix) instead of learnt buckets is
trained beside it. The data: arithmetic-progression token sequences where extrapolating the
step needs relative positions. The metric is the T5 model's validation loss."""
import argparse
import math
import types

import torch
import torch.nn as nn
import torch.nn.functional as F


def relative_position_bucket(relative_position, bidirectional=True, num_buckets=32,
                             max_distance=128):
    relative_buckets = 0
    if bidirectional:
        num_buckets //= 2
        relative_buckets += (relative_position > 0).to(torch.long) * num_buckets
        relative_position = torch.abs(relative_position)
    else:
        relative_position = -torch.min(relative_position, torch.zeros_like(relative_position))
    max_exact = num_buckets // 2
    is_small = relative_position < max_exact
    relative_position_if_large = max_exact + (
        torch.log(relative_position.float() / max_exact)
        / math.log(max_distance / max_exact) * (num_buckets - max_exact)
    ).to(torch.long)
    relative_position_if_large = torch.min(
        relative_position_if_large, torch.full_like(relative_position_if_large, num_buckets - 1))
    relative_buckets += torch.where(is_small, relative_position, relative_position_if_large)
    return relative_buckets


class T5LayerNorm(nn.Module):
    def __init__(self, hidden_size, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        variance = hidden_states.to(torch.float32).pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states


def new_gelu(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi)
                                       * (x + 0.044715 * torch.pow(x, 3.0))))


class Attention(nn.Module):
    def __init__(self, config, has_relative_attention_bias=False):
        super().__init__()
        self.n_heads, self.d_kv = config.num_heads, config.d_kv
        inner = self.n_heads * self.d_kv
        self.q = nn.Linear(config.d_model, inner, bias=False)
        self.k = nn.Linear(config.d_model, inner, bias=False)
        self.v = nn.Linear(config.d_model, inner, bias=False)
        self.o = nn.Linear(inner, config.d_model, bias=False)
        self.has_relative_attention_bias = has_relative_attention_bias
        self.num_buckets = config.relative_attention_num_buckets
        self.max_distance = config.relative_attention_max_distance
        self.alibi = config.alibi
        if has_relative_attention_bias and not config.alibi:
            self.relative_attention_bias = nn.Embedding(self.num_buckets, self.n_heads)
        self.dropout = nn.Dropout(config.dropout_rate)

    def compute_bias(self, q_len, k_len):
        context_position = torch.arange(q_len, dtype=torch.long)[:, None]
        memory_position = torch.arange(k_len, dtype=torch.long)[None, :]
        relative_position = memory_position - context_position
        if self.alibi:
            slopes = torch.pow(2.0, -8.0 * torch.arange(1, self.n_heads + 1) / self.n_heads)
            return (slopes[:, None, None] * relative_position.clamp(max=0)).unsqueeze(0)
        buckets = relative_position_bucket(relative_position, bidirectional=False,
                                           num_buckets=self.num_buckets,
                                           max_distance=self.max_distance)
        values = self.relative_attention_bias(buckets)          # (q, k, heads)
        return values.permute([2, 0, 1]).unsqueeze(0)           # (1, heads, q, k)

    def forward(self, x, mask, position_bias=None):
        B, T, _ = x.shape

        def shape(s):
            return s.view(B, -1, self.n_heads, self.d_kv).transpose(1, 2)

        q, k, v = shape(self.q(x)), shape(self.k(x)), shape(self.v(x))
        scores = torch.matmul(q, k.transpose(3, 2))
        if position_bias is None:
            position_bias = self.compute_bias(T, T) + mask
        scores = scores + position_bias
        attn = self.dropout(F.softmax(scores.float(), dim=-1).type_as(scores))
        out = torch.matmul(attn, v).transpose(1, 2).contiguous().view(B, T, -1)
        return self.o(out), position_bias


class Block(nn.Module):
    def __init__(self, config, has_relative_attention_bias):
        super().__init__()
        self.ln1 = T5LayerNorm(config.d_model)
        self.attn = Attention(config, has_relative_attention_bias)
        self.ln2 = T5LayerNorm(config.d_model)
        self.wi_0 = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.wi_1 = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.wo = nn.Linear(config.d_ff, config.d_model, bias=False)
        self.dropout = nn.Dropout(config.dropout_rate)

    def forward(self, x, mask, position_bias):
        y, position_bias = self.attn(self.ln1(x), mask, position_bias)
        x = x + self.dropout(y)
        h = self.ln2(x)
        x = x + self.dropout(self.wo(new_gelu(self.wi_0(h)) * self.wi_1(h)))
        return x, position_bias


class T5DecoderLM(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.shared = nn.Embedding(config.vocab_size, config.d_model)
        self.block = nn.ModuleList([Block(config, i == 0) for i in range(config.num_layers)])
        self.final_layer_norm = T5LayerNorm(config.d_model)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)

    def forward(self, input_ids, labels=None):
        T = input_ids.size(1)
        x = self.shared(input_ids)
        causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        mask = torch.zeros(T, T).masked_fill(causal, torch.finfo(x.dtype).min)[None, None]
        position_bias = None
        for layer in self.block:
            x, position_bias = layer(x, mask, position_bias)
        logits = self.lm_head(self.final_layer_norm(x))
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), labels.view(-1),
                                   ignore_index=-100)
        return logits, loss


def make_data(gen, n, length, vocab):
    start = torch.randint(0, vocab, (n, 1), generator=gen)
    step = torch.randint(1, 6, (n, 1), generator=gen)
    return (start + step * torch.arange(length)) % vocab


def train_one(config, train, val, steps, seed):
    torch.manual_seed(seed)
    model = T5DecoderLM(config)
    opt = torch.optim.Adafactor(model.parameters(), lr=1e-2)
    warmup = 20
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, math.sqrt(warmup / (s + 1))))
    for step in range(steps):
        idx = torch.randint(0, train.size(0), (32,))
        x = train[idx]
        labels = x[:, 1:].clone()
        labels[:, :1] = -100          # the first step is not predictable yet
        _, loss = model(x[:, :-1], labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    with torch.no_grad():
        labels = val[:, 1:].clone()
        labels[:, :1] = -100
        _, val_loss = model(val[:, :-1], labels)
    return model, val_loss.item(), loss.item()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    gen = torch.Generator().manual_seed(42)
    vocab = 24
    data = make_data(gen, 800, 17, vocab)
    train, val = data[:640], data[640:]
    base = dict(vocab_size=vocab, d_model=48, d_kv=12, num_heads=4, d_ff=96, num_layers=2,
                relative_attention_num_buckets=16, relative_attention_max_distance=32,
                dropout_rate=0.0)
    print("buckets of distances 0..20:",
          relative_position_bucket(-torch.arange(21), bidirectional=False, num_buckets=16,
                                   max_distance=32).tolist())
    _, alibi_val, _ = train_one(types.SimpleNamespace(**base, alibi=True), train, val,
                                args.steps, args.seed)
    print(f"alibi val loss {alibi_val:.4f}")
    model, val_loss, train_loss = train_one(types.SimpleNamespace(**base, alibi=False), train,
                                            val, args.steps, args.seed)
    print(f"t5 train loss {train_loss:.4f} val loss {val_loss:.4f}")
    print(f"final_loss {val_loss:.4f}")


if __name__ == "__main__":
    main()

"""Shared parts of the W1/W2 GPT benchmarks: a nanoGPT-style PyTorch model with Cadenza's
parameter names (so both start from the same weights) and a machine-busy check."""
from __future__ import annotations

import os
import time

W1 = dict(vocab_size=256, block_size=128, n_layer=4, n_head=4, n_embd=256, bias=True,
          mlp="gelu", norm="layernorm", pos="learned", tie_weights=False, dropout=0.0)


def cpu_snapshot():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    busy = sum(v) - v[3] - v[4]  # minus idle and iowait
    t = os.times()
    return busy, t.user + t.system, time.perf_counter()


def others_busy(before, after) -> str:
    """Cores kept busy by other processes during the timed window (jiffies at 100 Hz)."""
    hz = os.sysconf("SC_CLK_TCK")
    wall = after[2] - before[2]
    others = ((after[0] - before[0]) / hz - (after[1] - before[1])) / max(wall, 1e-9)
    return (f"other processes used ~{max(others, 0):.2f} of {os.cpu_count()} cores"
            + (" (BUSY MACHINE: figures are noisy)" if others > 0.25 else ""))


def torch_gpt(cfg):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
            self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd)

        def forward(self, x, cache=None):
            B, T, C = x.shape
            H = cfg.n_head
            q, k, v = self.c_attn(x).split(C, dim=2)
            q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))
            if cache is not None:
                if cache.get("k") is not None:
                    k = torch.cat([cache["k"], k], 2)
                    v = torch.cat([cache["v"], v], 2)
                cache["k"], cache["v"] = k, v
            causal = k.shape[2] == T
            y = F.scaled_dot_product_attention(q, k, v, is_causal=causal and T > 1)
            return self.c_proj(y.transpose(1, 2).reshape(B, T, C))

    class Mlp(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd)
            self.c_proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd)

        def forward(self, x):
            return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.attn = nn.LayerNorm(cfg.n_embd), Attn()
            self.ln_2, self.mlp = nn.LayerNorm(cfg.n_embd), Mlp()

        def forward(self, x, cache=None):
            x = x + self.attn(self.ln_1(x), cache)
            return x + self.mlp(self.ln_2(x))

    class TorchGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(cfg.vocab_size, cfg.n_embd),
                wpe=nn.Embedding(cfg.block_size, cfg.n_embd),
                h=nn.ModuleList([Block() for _ in range(cfg.n_layer)]),
                ln_f=nn.LayerNorm(cfg.n_embd)))
            self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)

        def forward(self, idx, targets=None, caches=None, start=0):
            B, T = idx.shape
            x = self.transformer.wte(idx) + self.transformer.wpe(torch.arange(start, start + T))
            for i, b in enumerate(self.transformer.h):
                x = b(x, None if caches is None else caches[i])
            logits = self.lm_head(self.transformer.ln_f(x))
            if targets is None:
                return logits, None
            return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))

    return TorchGPT()


def copy_weights(cmodel, tmodel):
    import numpy as np
    import torch
    sd = {k: torch.from_numpy(np.array(v.detach().numpy()))
          for k, v in cmodel.state_dict().items()}
    tmodel.load_state_dict(sd, strict=True)


def matmul_gflops() -> float:
    import numpy as np
    a = np.random.rand(1024, 1024).astype(np.float32)
    a @ a
    t = time.perf_counter()
    for _ in range(5):
        a @ a
    return 5 * 2 * 1024 ** 3 / (time.perf_counter() - t) / 1e9


def train_flops_per_token(cfg) -> float:
    n = cfg.n_layer * 12 * cfg.n_embd ** 2 + cfg.n_embd * cfg.vocab_size
    attn = cfg.n_layer * 2 * cfg.block_size * cfg.n_embd  # QK^T and AV, averaged causal-free
    return 6 * n + 6 * attn


# ------------------------------------------------------------------ W1 builders (compiled.py)
W1_BATCH = 16


def w1_data(cfg, batch=W1_BATCH):
    """W1's fixed-seed (inputs, targets) as int64 numpy arrays (batch, block_size)."""
    import numpy as np
    rng = np.random.default_rng(0)
    return (rng.integers(0, cfg.vocab_size, (batch, cfg.block_size)),
            rng.integers(0, cfg.vocab_size, (batch, cfg.block_size)))


def w1_model(lib, cfg):
    """A fresh W1 model and AdamW optimizer in ``lib`` (cadenza or torch); both libraries
    start from the same weights (Cadenza's seed-0 initialisation, copied into torch)."""
    import cadenza
    from cadenza.models.gpt import GPT
    cadenza.manual_seed(0)
    cm = GPT(cfg)
    model = cm
    if lib is not cadenza:
        model = torch_gpt(cfg)
        copy_weights(cm, model)
    return model, lib.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)


def gpt_train_step(model, opt):
    """W1's training step ``step(x, y) -> loss`` (zero_grad, forward with the loss, backward,
    AdamW step); the same code for both libraries."""
    def step(x, y):
        opt.zero_grad(set_to_none=True)
        _, loss = model(x, y)
        loss.backward()
        opt.step()
        return loss
    return step

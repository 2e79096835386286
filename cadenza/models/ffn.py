"""Feed-forward layers of the language model: GPT-2's MLP, Llama's SwiGLU, and the mixture of
experts over either."""
from __future__ import annotations

import cadenza as torch
import cadenza.nn as nn
import cadenza.nn.functional as F
from .config import GPTConfig

__all__ = ["MLP", "SwiGLU", "MoE", "make_ffn"]


class MLP(nn.Module):
    """GPT-2's feed-forward: Linear -> GELU (tanh approximation) -> Linear."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(cfg.n_embd, cfg.hidden, bias=cfg.bias)
        self.c_proj = nn.Linear(cfg.hidden, cfg.n_embd, bias=cfg.bias)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate="tanh")))


class SwiGLU(nn.Module):
    """Llama's gated feed-forward: w2(silu(w1 x) * w3 x)."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.w1 = nn.Linear(cfg.n_embd, cfg.hidden, bias=cfg.bias)  # gate
        self.w3 = nn.Linear(cfg.n_embd, cfg.hidden, bias=cfg.bias)  # up
        self.w2 = nn.Linear(cfg.hidden, cfg.n_embd, bias=cfg.bias)  # down
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x):
        return self.dropout(self.w2(F.silu(self.w1(x)) * self.w3(x)))


def make_ffn(cfg: GPTConfig) -> nn.Module:
    return SwiGLU(cfg) if cfg.mlp == "swiglu" else MLP(cfg)


class MoE(nn.Module):
    """Mixture of experts: a router scores E experts per token, the top k run, and their outputs
    are mixed with a softmax over the k selected scores (Mixtral). ``aux_loss`` after forward is
    Switch's load-balancing loss E * sum_e f_e * P_e, where f_e is the fraction of the N*k
    routing assignments that went to expert e and P_e the mean router probability of e; it is
    1.0 when routing is uniform."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_expert, self.k = cfg.n_expert, cfg.n_expert_active
        self.router = nn.Linear(cfg.n_embd, cfg.n_expert, bias=False)
        self.experts = nn.ModuleList([make_ffn(cfg) for _ in range(cfg.n_expert)])
        self.aux_loss = None

    def forward(self, x):
        B, T, C = x.shape
        E, k = self.n_expert, self.k
        xf = x.reshape(B * T, C)                            # (N, C), N = B*T tokens
        scores = self.router(xf)                            # (N, E)
        top_scores, top_idx = scores.topk(k, dim=-1)        # (N, k) each
        weights = F.softmax(top_scores, dim=-1)             # (N, k)
        probs = F.softmax(scores, dim=-1)                   # (N, E)
        counts = F.one_hot(top_idx, E).sum(dim=(0, 1))      # (E,) assignments per expert
        frac = counts.to(probs.dtype) / (B * T * k)         # (E,)
        self.aux_loss = E * (frac * probs.mean(dim=0)).sum()
        # a static graph (ONNX export, cadenza.compile) cannot route data-dependently
        if torch.onnx.is_in_onnx_export() or torch.compiler.is_compiling():
            return self._mix_dense(xf, top_idx, weights).view(B, T, C)
        out = torch.zeros_like(xf)                          # (N, C)
        idx_np = top_idx.numpy()                            # routing is data-dependent: eager
        for e, expert in enumerate(self.experts):
            tok, slot = (idx_np == e).nonzero()             # tokens routed to e, and which slot
            if len(tok) == 0:
                continue
            tok_t, slot_t = torch.from_numpy(tok), torch.from_numpy(slot)
            y = expert(xf[tok_t]) * weights[tok_t, slot_t].unsqueeze(-1)  # (n_e, C)
            out = out.index_add(0, tok_t, y)
        return out.view(B, T, C)

    def _mix_dense(self, xf, top_idx, weights):
        """The same mixture with every expert run on every token and weighted by a gate that
        is 0 for unselected experts: E/k times the work, but shapes are data-independent, so
        it traces to a static graph (ONNX export, compiled mode). Each token adds its experts'
        outputs in expert order, as the routed loop does (the unselected ones add exact
        zeros)."""
        E = self.n_expert
        chosen = top_idx[..., None] == torch.arange(E)                  # (N, k, E)
        gate = (chosen.to(weights.dtype) * weights[..., None]).sum(1)   # (N, E)
        out = self.experts[0](xf) * gate[:, :1]  # not zeros + ...: zeros' size would be baked
        for e in range(1, E):                    # into the graph as a constant
            out = out + self.experts[e](xf) * gate[:, e:e + 1]          # (N, C)
        return out

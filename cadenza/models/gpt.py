"""A decoder-only transformer language model, from GPT-2 to Grok-1, in one readable file.

One config covers both families:

* GPT-2 style: learned position embeddings, LayerNorm, GELU MLP, multi-head attention.
  Radford et al. 2019, "Language Models are Unsupervised Multitask Learners".
* Grok / Llama style: rotary position embedding (Su et al. 2021, "RoFormer: Enhanced Transformer
  with Rotary Position Embedding", arXiv:2104.09864), RMSNorm (Zhang & Sennrich 2019, "Root Mean
  Square Layer Normalization", arXiv:1910.07467), SwiGLU feed-forward (Shazeer 2020, "GLU
  Variants Improve Transformer", arXiv:2002.05202), grouped-query attention (Ainslie et al. 2023,
  "GQA: Training Generalized Multi-Query Transformer Models", arXiv:2305.13245), and a
  mixture-of-experts feed-forward with top-k routing (Fedus et al. 2021, "Switch Transformers",
  arXiv:2101.03961, for the load-balancing loss; Jiang et al. 2024, "Mixtral of Experts",
  arXiv:2401.04088, for softmax over the selected experts). Grok-1 (xAI 2024, open release of
  a 314B MoE with 8 experts, 2 active per token) is this recipe at scale.

Shapes: B batch, T time (tokens), C = n_embd, H = n_head, K = n_kv_head, D = head_dim = C // H.

    >>> from cadenza.models.gpt import GPT, GPTConfig
    >>> model = GPT(GPTConfig(vocab_size=256, block_size=32, n_layer=2, n_head=2, n_embd=32))
    >>> logits, loss = model(idx, targets)          # idx, targets: (B, T) int64
    >>> out = model.generate(idx, max_new_tokens=20, temperature=0.8, top_k=40)
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Iterator, NamedTuple, Optional, Sequence

import cadenza as torch
import cadenza.nn as nn
import cadenza.nn.functional as F

__all__ = ["GPTConfig", "GPT", "PRESETS", "KVCache", "RMSNorm", "RotaryEmbedding",
           "CausalSelfAttention", "MLP", "SwiGLU", "MoE", "Block"]


@dataclass
class GPTConfig:
    """Hyper-parameters of :class:`GPT`. ``validate()`` runs on construction."""
    vocab_size: int = 256
    block_size: int = 128           # the context window, in tokens
    n_layer: int = 4
    n_head: int = 4
    n_kv_head: Optional[int] = None  # None: = n_head (multi-head); 1: multi-query; else GQA
    n_embd: int = 128
    mlp: str = "gelu"               # 'gelu' (GPT-2) | 'swiglu' (Llama, Grok)
    ffn_hidden: Optional[int] = None  # None: 4C for gelu, 8C/3 rounded up to 32 for swiglu
    norm: str = "layernorm"         # 'layernorm' | 'rmsnorm'
    norm_eps: float = 1e-5
    pos: str = "learned"            # 'learned' | 'rope'
    rope_theta: float = 10000.0
    n_expert: int = 0               # 0: a dense feed-forward; >= 2: a mixture of experts
    n_expert_active: int = 2        # top-k experts per token (Grok-1: 2 of 8)
    moe_aux_weight: float = 0.01    # weight of the load-balancing loss in the returned loss
    dropout: float = 0.0
    bias: bool = True               # biases in Linear layers and LayerNorm (GPT-2: True)
    tie_weights: bool = False       # share the token embedding with the output head

    def __post_init__(self):
        if self.n_kv_head is None:
            self.n_kv_head = self.n_head
        self.validate()

    def validate(self) -> "GPTConfig":
        def bad(name, expected):
            raise ValueError(f"GPTConfig.{name}: expected {expected}, "
                             f"got {getattr(self, name)!r}")
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_kv_head", "n_embd"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                bad(name, "a positive int")
        if self.mlp not in ("gelu", "swiglu"):
            bad("mlp", "'gelu' or 'swiglu'")
        if self.norm not in ("layernorm", "rmsnorm"):
            bad("norm", "'layernorm' or 'rmsnorm'")
        if self.pos not in ("learned", "rope"):
            bad("pos", "'learned' or 'rope'")
        if self.n_embd % self.n_head:
            bad("n_embd", f"a multiple of n_head={self.n_head}")
        if self.n_head % self.n_kv_head:
            bad("n_kv_head", f"a divisor of n_head={self.n_head}")
        if self.pos == "rope" and (self.n_embd // self.n_head) % 2:
            bad("n_head", "an even head_dim (n_embd // n_head) for rotary embeddings")
        if self.ffn_hidden is not None and (not isinstance(self.ffn_hidden, int)
                                            or self.ffn_hidden < 1):
            bad("ffn_hidden", "None or a positive int")
        if not isinstance(self.n_expert, int) or self.n_expert < 0 or self.n_expert == 1:
            bad("n_expert", "0 (dense) or an int >= 2")
        if self.n_expert and not 1 <= self.n_expert_active <= self.n_expert:
            bad("n_expert_active", f"an int in [1, n_expert={self.n_expert}]")
        if not self.rope_theta > 0:
            bad("rope_theta", "a positive float")
        if not self.norm_eps > 0:
            bad("norm_eps", "a positive float")
        if not 0.0 <= self.dropout < 1.0:
            bad("dropout", "a float in [0, 1)")
        if not self.moe_aux_weight >= 0:
            bad("moe_aux_weight", "a float >= 0")
        return self

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    @property
    def hidden(self) -> int:
        if self.ffn_hidden is not None:
            return self.ffn_hidden
        if self.mlp == "gelu":
            return 4 * self.n_embd
        return 32 * math.ceil(8 * self.n_embd / 3 / 32)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "GPTConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"GPTConfig: unknown field(s) {unknown}; known: {sorted(known)}")
        return cls(**d)


# Size presets. `tiny` trains to Python-looking text on the stdlib corpus in ~2 min on 2 cores.
PRESETS = {
    "tiny": dict(vocab_size=256, block_size=128, n_layer=4, n_head=4, n_embd=128),
    "small": dict(vocab_size=256, block_size=256, n_layer=6, n_head=6, n_embd=384),
    "grok-tiny": dict(vocab_size=256, block_size=128, n_layer=4, n_head=4, n_kv_head=2,
                      n_embd=128, mlp="swiglu", norm="rmsnorm", pos="rope", bias=False,
                      n_expert=4, n_expert_active=2),
    "llama-tiny": dict(vocab_size=256, block_size=128, n_layer=4, n_head=4, n_kv_head=2,
                       n_embd=128, mlp="swiglu", norm="rmsnorm", pos="rope", bias=False),
    "gpt2": dict(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768,
                 tie_weights=True),
}


class RMSNorm(nn.Module):
    """y = x / sqrt(mean(x^2) + eps) * weight: LayerNorm without centring or bias."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return F.rms_norm(x, self.weight.shape, self.weight, self.eps)


def _norm(cfg: GPTConfig) -> nn.Module:
    if cfg.norm == "rmsnorm":
        return RMSNorm(cfg.n_embd, cfg.norm_eps)
    return nn.LayerNorm(cfg.n_embd, eps=cfg.norm_eps, bias=cfg.bias)


class RotaryEmbedding(nn.Module):
    """Rotates each (i, i + D/2) pair of q and k by angle pos * theta^(-2i/D), so attention
    scores depend on relative positions. Uses the 'rotate half' layout of Llama/HF checkpoints."""

    def __init__(self, head_dim: int, max_len: int, theta: float = 10000.0):
        super().__init__()
        inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
        angles = torch.outer(torch.arange(max_len, dtype=torch.float64), inv_freq)  # (T, D/2)
        angles = torch.cat([angles, angles], dim=-1)                               # (T, D)
        self.register_buffer("cos", angles.cos().float(), persistent=False)
        self.register_buffer("sin", angles.sin().float(), persistent=False)

    def forward(self, x, start=0):
        """x: (B, heads, T, D) -> the same shape, rotated for positions start..start+T-1, or
        for the positions in ``start`` when it is a (T,) int64 tensor (GPT.forward_step)."""
        T = x.shape[2]
        if isinstance(start, torch.Tensor):  # gathered rows: no Python int from a tensor
            cos, sin = self.cos[start], self.sin[start]                  # (T, D)
        else:
            cos, sin = self.cos[start:start + T], self.sin[start:start + T]  # (T, D)
        x1, x2 = x.chunk(2, dim=-1)                                      # (B, h, T, D/2) each
        rotated = torch.cat([-x2, x1], dim=-1)                           # (B, h, T, D)
        return x * cos + rotated * sin


class KVCache:
    """Pre-allocated keys and values of every layer for incremental decoding.

    ``pos`` is the number of tokens already stored; ``GPT.forward(idx, cache=c)`` appends idx's
    keys/values and advances ``pos``. One buffer per layer, (B, 2K, max_len, D): keys in heads
    0..K-1, values in K..2K-1, so the keys and values of a step are stored with one write and
    decoding never concatenates."""

    def __init__(self, cfg: GPTConfig, batch_size: int, max_len: Optional[int] = None,
                 dtype=None):
        self.max_len = max_len or cfg.block_size
        self.n_kv_head = cfg.n_kv_head
        shape = (batch_size, 2 * cfg.n_kv_head, self.max_len, cfg.head_dim)
        self.kv = [torch.zeros(shape, dtype=dtype) for _ in range(cfg.n_layer)]
        self.pos = 0

    def _end(self, T: int) -> int:
        end = self.pos + T
        if end > self.max_len:
            raise ValueError(f"KVCache: expected at most {self.max_len} tokens, got {end}")
        return end

    def update(self, layer: int, k, v):
        """Store k, v (B, K, T, D) at pos..pos+T; return all keys/values so far (B, K, S, D)."""
        end, K, buf = self._end(k.shape[2]), self.n_kv_head, self.kv[layer]
        buf[:, :K, self.pos:end] = k
        buf[:, K:, self.pos:end] = v
        return buf[:, :K, :end], buf[:, K:, :end]

    def update_kv(self, layer: int, kv):
        """Like update, for keys and values stacked on the head dim: kv (B, 2K, T, D)."""
        end, K, buf = self._end(kv.shape[2]), self.n_kv_head, self.kv[layer]
        buf[:, :, self.pos:end] = kv
        return buf[:, :K, :end], buf[:, K:, :end]


class _Step(NamedTuple):
    """Where the tokens of one GPT.forward_step go, worked out once from pos for all layers.
    S is the cache length; every field is a tensor computed from pos, so a traced step graph
    serves any position."""
    positions: "torch.Tensor"  # (T,) int64: pos, pos+1, ..., pos+T-1
    visible: "torch.Tensor"    # (T, S) bool: query i attends to slot j iff j <= pos + i
    written: "torch.Tensor"    # (S, 1) bool: slot s takes a new token iff pos <= s < pos + T
    src: "torch.Tensor"        # (S,) int64: which new token slot s takes (0 elsewhere)


class CausalSelfAttention(nn.Module):
    """Masked multi-head attention with grouped-query heads: H query heads share K key/value
    heads (K = H: multi-head; K = 1: multi-query)."""

    def __init__(self, cfg: GPTConfig, layer: int):
        super().__init__()
        self.layer, self.n_head, self.n_kv_head = layer, cfg.n_head, cfg.n_kv_head
        self.head_dim, self.dropout = cfg.head_dim, cfg.dropout
        # q, k and v projections fused in one matmul: (C) -> (H*D + 2*K*D)
        self.c_attn = nn.Linear(cfg.n_embd, (cfg.n_head + 2 * cfg.n_kv_head) * cfg.head_dim,
                                bias=cfg.bias)
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def forward(self, x, rope: Optional[RotaryEmbedding] = None, cache: Optional[KVCache] = None):
        B, T, C = x.shape
        H, K, D = self.n_head, self.n_kv_head, self.head_dim
        qkv = self.c_attn(x)                                            # (B, T, (H+2K)*D)
        if T == 1:  # decoding: (B, 1, H+2K, D) has the layout of (B, H+2K, 1, D), a view
            qkv = qkv.view(B, H + 2 * K, 1, D)
        else:
            qkv = qkv.view(B, T, H + 2 * K, D).transpose(1, 2)          # (B, H+2K, T, D)
        start = cache.pos if cache is not None else 0
        if rope is not None:  # rotate queries and keys together: one rope, same positions
            qk = rope(qkv[:, :H + K], start)                              # (B, H+K, T, D)
            q, k, v = qk[:, :H], qk[:, H:], qkv[:, H + K:]
            if cache is not None:
                k, v = cache.update(self.layer, k, v)  # (B, K, S, D), S = start + T
        else:
            q = qkv[:, :H]                                                # (B, H, T, D)
            if cache is not None:                      # keys and values in one write
                k, v = cache.update_kv(self.layer, qkv[:, H:])  # (B, K, S, D), S = start + T
            else:
                k, v = qkv[:, H:H + K], qkv[:, H + K:]                    # (B, K, T, D)
        S = k.shape[2]
        if K != H:  # each group of H // K query heads reads the same key/value head
            k = k[:, :, None].expand(B, K, H // K, S, D).reshape(B, H, S, D)  # (B, H, S, D)
            v = v[:, :, None].expand(B, K, H // K, S, D).reshape(B, H, S, D)  # (B, H, S, D)
        p = self.dropout if self.training else 0.0
        if S == T:      # no earlier tokens: the plain causal mask
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        elif T == 1:    # one new token sees every cached one: no mask
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        else:           # a chunk after a prefix: query i sees keys 0..start+i
            mask = torch.ones(T, S, dtype=torch.bool).tril(diagonal=S - T)  # (T, S)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        if T > 1:       # (with T == 1, (B, H, 1, D) already has (B, 1, H, D)'s layout)
            y = y.transpose(1, 2)                                         # (B, T, H, D)
        y = y.reshape(B, T, C)                  # (B, T, H*D) = (B, T, C)
        return self.resid_dropout(self.c_proj(y))

    def forward_step(self, x, rope, past_k, past_v, step: _Step):
        """forward with this layer's cache as tensors: past_k, past_v (B, K, S, D) ->
        (y (B, T, C), present_k, present_v (B, K, S, D)). No branch depends on T or pos."""
        B, T, C = x.shape
        H, K, D = self.n_head, self.n_kv_head, self.head_dim
        qkv = self.c_attn(x).view(B, T, H + 2 * K, D).transpose(1, 2)   # (B, H+2K, T, D)
        if rope is not None:
            qk = rope(qkv[:, :H + K], step.positions)                    # (B, H+K, T, D)
            q, k = qk[:, :H], qk[:, H:]
        else:
            q, k = qkv[:, :H], qkv[:, H:H + K]
        v = qkv[:, H + K:]                                               # (B, K, T, D)
        # write the new keys/values into their slots: a select, not an in-place write
        k = torch.where(step.written, k[:, :, step.src], past_k)        # (B, K, S, D)
        v = torch.where(step.written, v[:, :, step.src], past_v)        # (B, K, S, D)
        kk, vv, S = k, v, k.shape[2]
        if K != H:  # each group of H // K query heads reads the same key/value head
            kk = k[:, :, None].expand(B, K, H // K, S, D).reshape(B, H, S, D)  # (B, H, S, D)
            vv = v[:, :, None].expand(B, K, H // K, S, D).reshape(B, H, S, D)  # (B, H, S, D)
        y = F.scaled_dot_product_attention(q, kk, vv, attn_mask=step.visible)  # (B, H, T, D)
        y = y.transpose(1, 2).reshape(B, T, C)                           # (B, T, C)
        return self.resid_dropout(self.c_proj(y)), k, v


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


def _ffn(cfg: GPTConfig) -> nn.Module:
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
        self.experts = nn.ModuleList([_ffn(cfg) for _ in range(cfg.n_expert)])
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


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + ffn(norm(x))."""

    def __init__(self, cfg: GPTConfig, layer: int):
        super().__init__()
        self.ln_1 = _norm(cfg)
        self.attn = CausalSelfAttention(cfg, layer)
        self.ln_2 = _norm(cfg)
        self.mlp = MoE(cfg) if cfg.n_expert else _ffn(cfg)

    def forward(self, x, rope=None, cache=None):
        x = x + self.attn(self.ln_1(x), rope, cache)
        return x + self.mlp(self.ln_2(x))

    def forward_step(self, x, rope, past_k, past_v, step: _Step):
        a, k, v = self.attn.forward_step(self.ln_1(x), rope, past_k, past_v, step)
        x = x + a
        return x + self.mlp(self.ln_2(x)), k, v


class GPT(nn.Module):
    """The language model: embeddings, n_layer blocks, a final norm and the output head."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        config.validate()
        self.config = cfg = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(cfg.vocab_size, cfg.n_embd),
            drop=nn.Dropout(cfg.dropout),
            h=nn.ModuleList([Block(cfg, i) for i in range(cfg.n_layer)]),
            ln_f=_norm(cfg),
        ))
        if cfg.pos == "learned":
            self.transformer["wpe"] = nn.Embedding(cfg.block_size, cfg.n_embd)
            self.rope = None
        else:
            self.rope = RotaryEmbedding(cfg.head_dim, cfg.block_size, cfg.rope_theta)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        if cfg.tie_weights:
            self.lm_head.weight = self.transformer.wte.weight
        self.apply(self._init_weights)
        # GPT-2: scale residual projections by 1/sqrt(2 * n_layer) at init
        for name, p in self.named_parameters():
            if name.endswith(("c_proj.weight", "w2.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_params(self, non_embedding: bool = True) -> int:
        n = sum(p.numel() for p in self.parameters())
        if non_embedding and self.config.pos == "learned":
            n -= self.transformer.wpe.weight.numel()
        return n

    def forward(self, idx, targets=None, cache: Optional[KVCache] = None):
        """idx (B, T) int64 -> (logits (B, T, vocab), loss or None). With targets the loss is
        the mean cross-entropy (targets == -1 ignored) plus moe_aux_weight * the mean MoE
        load-balancing loss over layers. With a cache, idx continues the cached tokens."""
        B, T = idx.shape
        start = cache.pos if cache is not None else 0
        if start + T > self.config.block_size:
            raise ValueError(f"GPT: expected at most block_size={self.config.block_size} "
                             f"tokens, got {start + T}")
        x = self.transformer.wte(idx)                                    # (B, T, C)
        if self.rope is None:  # rows start..start+T-1 of the table: wpe(arange(start, ...))
            x = x + self.transformer.wpe.weight[start:start + T]         # (B, T, C)
        x = self.transformer.drop(x)
        for block in self.transformer.h:
            x = block(x, self.rope, cache)
        if cache is not None:
            cache.pos += T
        x = self.transformer.ln_f(x)
        logits = self.lm_head(x)                                         # (B, T, V)
        if targets is None:
            return logits, None
        V = logits.shape[-1]
        loss = F.cross_entropy(logits.reshape(B * T, V), targets.reshape(B * T),  # (BT, V)
                               ignore_index=-1)
        if self.config.n_expert and self.config.moe_aux_weight:
            aux = [blk.mlp.aux_loss for blk in self.transformer.h]
            loss = loss + self.config.moe_aux_weight * torch.stack(aux).mean()
        return logits, loss

    # ----------------------------------------------------------------- explicit KV cache
    def empty_cache(self, batch_size: int, max_len: Optional[int] = None, dtype=None):
        """Zeroed (past_k, past_v) for forward_step, each (L, B, K, S, D), S = max_len
        (default block_size)."""
        cfg = self.config
        S = max_len or cfg.block_size
        shape = (cfg.n_layer, batch_size, cfg.n_kv_head, S, cfg.head_dim)
        return torch.zeros(shape, dtype=dtype), torch.zeros(shape, dtype=dtype)

    def forward_step(self, idx, past_k, past_v, pos):
        """One decoding step with the KV cache as explicit tensors: the functional form of
        ``forward(idx, cache=...)``, for ONNX export (``cadenza.onnx.export``) and callers
        that keep the cache themselves.

        idx (B, T) int64 continues the ``pos`` tokens already in the cache; past_k, past_v
        (L, B, K, S, D) hold keys/values in slots 0..S-1 (S <= block_size; slots >= pos are
        ignored); pos is a 0-d int64 tensor and the caller keeps pos + T <= S. Returns
        (logits (B, T, V), present_k, present_v): the caches with slots pos..pos+T-1 written.
        Positions come from tensor maths on pos (no Python int is read from it, no branch
        depends on T), so one traced graph serves every position.

            >>> past_k, past_v = model.empty_cache(batch_size=1)
            >>> logits, past_k, past_v = model.forward_step(prompt, past_k, past_v,
            ...                                             cadenza.tensor(0))
        """
        cfg = self.config
        B, T = idx.shape
        L, K, D = cfg.n_layer, cfg.n_kv_head, cfg.head_dim
        S = past_k.shape[3] if past_k.ndim == 5 else -1
        for name, c in (("past_k", past_k), ("past_v", past_v)):
            if tuple(c.shape) != (L, B, K, S, D) or not 1 <= S <= cfg.block_size:
                raise ValueError(f"GPT.forward_step: expected {name} of shape (L, B, K, S, D) "
                                 f"= ({L}, {B}, {K}, S, {D}) with 1 <= S <= block_size="
                                 f"{cfg.block_size}, got {tuple(c.shape)}")
        if pos.ndim != 0 or pos.dtype != torch.int64:
            raise ValueError(f"GPT.forward_step: expected pos a 0-d int64 tensor, got "
                             f"{tuple(pos.shape)} {pos.dtype}")
        slots = torch.arange(S)                                          # (S,)
        positions = pos + torch.arange(T)                                # (T,)
        # T enters only through arange(T) and positions[-1], never as a Python number in the
        # maths, so an export with a dynamic sequence axis can rebuild it at run time
        new = (slots >= pos) & (slots <= positions[-1])                  # (S,)
        step = _Step(positions=positions,
                     visible=slots[None, :] <= positions[:, None],       # (T, S)
                     written=new[:, None],                               # (S, 1)
                     src=torch.where(new, slots - pos, 0))               # (S,)
        x = self.transformer.wte(idx)                                    # (B, T, C)
        if self.rope is None:
            x = x + self.transformer.wpe.weight[positions]               # (B, T, C)
        x = self.transformer.drop(x)
        present_k, present_v = [], []
        for i, block in enumerate(self.transformer.h):
            x, k, v = block.forward_step(x, self.rope, past_k[i], past_v[i], step)
            present_k.append(k)
            present_v.append(v)
        logits = self.lm_head(self.transformer.ln_f(x))                  # (B, T, V)
        return logits, torch.stack(present_k), torch.stack(present_v)   # (L, B, K, S, D)

    # ----------------------------------------------------------------------------- sampling

    @staticmethod
    def sample(logits, temperature: float = 1.0, top_k: Optional[int] = None,
               top_p: Optional[float] = None, generator=None):
        """Pick next tokens (B, 1) from last-position logits (B, V)."""
        if temperature == 0:
            return logits.argmax(dim=-1, keepdim=True)
        logits = logits / temperature
        if top_k is not None and top_k < logits.shape[-1]:
            kth = logits.topk(top_k, dim=-1)[0][:, -1:]                  # (B, 1)
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if top_p is not None and top_p < 1.0:
            sorted_logits, order = logits.sort(dim=-1, descending=True)  # (B, V)
            cum = F.softmax(sorted_logits, dim=-1).cumsum(dim=-1)        # (B, V)
            drop_sorted = (cum - F.softmax(sorted_logits, dim=-1)) > top_p  # keeps >= 1 token
            drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
            logits = logits.masked_fill(drop, float("-inf"))
        probs = F.softmax(logits, dim=-1)
        return torch.multinomial(probs, num_samples=1, generator=generator)  # (B, 1)

    def generate_stream(self, idx, max_new_tokens: int, temperature: float = 1.0,
                        top_k: Optional[int] = None, top_p: Optional[float] = None,
                        stop_tokens: Sequence[int] = (), generator=None,
                        use_cache: bool = True) -> Iterator:
        """Yield each new token batch (B, 1) as it is sampled. Stops after max_new_tokens or
        once every row has produced one of stop_tokens (the stop token is yielded). Past
        block_size the context is cropped to the last block_size tokens and recomputed."""
        bs = self.config.block_size
        if idx.shape[1] > bs:
            raise ValueError(f"generate: expected a prompt of at most block_size={bs} tokens, "
                             f"got {idx.shape[1]}")
        if idx.shape[1] == 0:
            raise ValueError("generate: expected a prompt of at least 1 token, got 0")
        was_training = self.training
        self.eval()
        stop = set(int(t) for t in stop_tokens)
        done = [False] * idx.shape[0]
        try:
            with torch.no_grad():
                cache = KVCache(self.config, idx.shape[0]) if use_cache else None
                logits, _ = self(idx, cache=cache)                       # prefill
                new = []  # tokens so far, joined to idx only when the context is recomputed
                for _ in range(max_new_tokens):
                    nxt = self.sample(logits[:, -1, :], temperature, top_k, top_p, generator)
                    yield nxt
                    new.append(nxt)
                    if stop:
                        done = [d or int(t) in stop for d, t in zip(done, nxt[:, 0].tolist())]
                        if all(done):
                            return
                    if cache is not None and cache.pos < bs:
                        logits, _ = self(nxt, cache=cache)               # one token
                    else:                                                # recompute (cropped)
                        cache = None
                        idx, new = torch.cat([idx] + new, dim=1), []
                        logits, _ = self(idx[:, -bs:])
        finally:
            self.train(was_training)

    def generate(self, idx, max_new_tokens: int, temperature: float = 1.0,
                 top_k: Optional[int] = None, top_p: Optional[float] = None,
                 stop_tokens: Sequence[int] = (), generator=None, use_cache: bool = True):
        """Return idx (B, T) extended by up to max_new_tokens sampled tokens (B, T + n).
        temperature=0 is greedy; a seeded ``cadenza.Generator`` makes sampling reproducible."""
        new = list(self.generate_stream(idx, max_new_tokens, temperature, top_k, top_p,
                                        stop_tokens, generator, use_cache))
        return torch.cat([idx] + new, dim=1)

"""A decoder-only transformer language model, from GPT-2 to Grok-1 (the blocks and the model
here; configuration in ``config``, attention in ``attention``, feed-forward layers in ``ffn``).

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
from typing import Iterator, Optional, Sequence

import cadenza as torch
import cadenza.nn as nn
import cadenza.nn.functional as F
from .attention import CausalSelfAttention, KVCache, RotaryEmbedding, SlotCache, _Step
from .config import PRESETS, GPTConfig
from .ffn import MLP, MoE, SwiGLU, make_ffn

__all__ = ["GPTConfig", "GPT", "PRESETS", "KVCache", "SlotCache", "RMSNorm", "RotaryEmbedding",
           "CausalSelfAttention", "MLP", "SwiGLU", "MoE", "Block"]


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


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + ffn(norm(x))."""

    def __init__(self, cfg: GPTConfig, layer: int):
        super().__init__()
        self.ln_1 = _norm(cfg)
        self.attn = CausalSelfAttention(cfg, layer)
        self.ln_2 = _norm(cfg)
        self.mlp = MoE(cfg) if cfg.n_expert else make_ffn(cfg)

    def forward(self, x, rope=None, cache=None):
        x = x + self.attn(self.ln_1(x), rope, cache)
        return x + self.mlp(self.ln_2(x))

    def forward_step(self, x, rope, past_k, past_v, step: _Step, store=None):
        a, k, v = self.attn.forward_step(self.ln_1(x), rope, past_k, past_v, step, store)
        x = x + a
        return x + self.mlp(self.ln_2(x)), k, v


def _store_into(past_k, past_v, layer: int, positions, window: Optional[int] = None):
    """GPT.forward_step(inplace=True)'s writer for one layer: k, v (B, K, T, D) into slots
    ``positions`` of layer ``layer`` of the whole caches (an index write into the tensors the
    caller passed, which a compiled step runs in place), -> that layer's caches (B, K, S, D),
    or their first ``window`` slots (B, K, W, D)."""
    def store(k, v):
        past_k[layer, :, :, positions] = k
        past_v[layer, :, :, positions] = v
        if window is None:
            return past_k[layer], past_v[layer]
        return past_k[layer, :, :, :window], past_v[layer, :, :, :window]
    return store


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

    def _embed(self, idx, rows):
        """Token embeddings plus, for learned positions, the rows ``rows`` of the position
        table (a slice start..start+T, or a (T,) or (B, T) tensor of positions), then
        dropout."""
        x = self.transformer.wte(idx)                                    # (B, T, C)
        if self.rope is None:
            x = x + self.transformer.wpe.weight[rows]                    # (B, T, C)
        return self.transformer.drop(x)

    def forward(self, idx, targets=None, cache=None):
        """idx (B, T) int64 -> (logits (B, T, vocab), loss or None). With targets the loss is
        the mean cross-entropy (targets == -1 ignored) plus moe_aux_weight * the mean MoE
        load-balancing loss over layers. With a cache, idx continues the cached tokens: a
        KVCache (all rows at one position) or a SlotCache's ``batch(slots)`` (row b continues
        slot slots[b] at its own position; continuous batching)."""
        B, T = idx.shape
        start = cache.begin(T) if cache is not None else 0  # an int, or (B, T) positions
        if isinstance(start, int):
            if start + T > self.config.block_size:
                raise ValueError(f"GPT: expected at most block_size={self.config.block_size} "
                                 f"tokens, got {start + T}")
            start = slice(start, start + T)
        x = self._embed(idx, start)                                      # (B, T, C)
        for block in self.transformer.h:
            x = block(x, self.rope, cache)
        if cache is not None:
            cache.advance(T)
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

    @property
    def kv_dtype(self):
        """The dtype of the activations, and so of a KV cache: the first floating parameter's
        (int8-quantized weights are buffers; norms and biases stay float)."""
        return next((p.dtype for p in self.parameters() if p.is_floating_point()),
                    torch.get_default_dtype())

    # ----------------------------------------------------------------- explicit KV cache
    def empty_cache(self, batch_size: int, max_len: Optional[int] = None, dtype=None):
        """Zeroed (past_k, past_v) for forward_step, each (L, B, K, S, D), S = max_len
        (default block_size)."""
        cfg = self.config
        S = max_len or cfg.block_size
        shape = (cfg.n_layer, batch_size, cfg.n_kv_head, S, cfg.head_dim)
        return torch.zeros(shape, dtype=dtype), torch.zeros(shape, dtype=dtype)

    def forward_step(self, idx, past_k, past_v, pos, inplace: bool = False,
                     window: Optional[int] = None):
        """One decoding step with the KV cache as explicit tensors: the functional form of
        ``forward(idx, cache=...)``, for ONNX export (``cadenza.onnx.export``) and callers
        that keep the cache themselves.

        idx (B, T) int64 continues the ``pos`` tokens already in the cache; past_k, past_v
        (L, B, K, S, D) hold keys/values in slots 0..S-1 (S <= block_size; slots >= pos are
        ignored); pos is a 0-d int64 tensor and the caller keeps pos + T <= S. Returns
        (logits (B, T, V), present_k, present_v): the caches with slots pos..pos+T-1 written.
        Positions come from tensor maths on pos (no Python int is read from it, no branch
        depends on T), so one traced graph serves every position.

        ``inplace=True`` writes the new keys/values into past_k and past_v themselves (an
        index write at ``pos``: decoding copies no cache) and returns them as present_k,
        present_v. Compiled (``cadenza.compile(model.forward_step)``), the writes go straight
        into the caller's buffers; the default, out-of-place form is the one ONNX export takes.
        With it, ``window`` (a Python int, pos + T <= window <= S) attends over slots
        0..window-1 only: a compiled step then costs what the tokens so far need, with one
        graph per window size (round it up, e.g. to a multiple of 64).

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
        if window is not None and (not inplace or not 1 <= window <= S):
            raise ValueError(f"GPT.forward_step: expected window in 1..S={S} with inplace=True, "
                             f"got window={window!r}, inplace={inplace!r}")
        if pos.ndim != 0 or pos.dtype != torch.int64:
            raise ValueError(f"GPT.forward_step: expected pos a 0-d int64 tensor, got "
                             f"{tuple(pos.shape)} {pos.dtype}")
        slots = torch.arange(S)                                          # (S,)
        positions = pos + torch.arange(T)                                # (T,)
        # T enters only through arange(T) and positions[-1], never as a Python number in the
        # maths, so an export with a dynamic sequence axis can rebuild it at run time
        new = (slots >= pos) & (slots <= positions[-1])                  # (S,)
        seen = slots if window is None else slots[:window]               # (S,) or (W,)
        step = _Step(positions=positions,
                     visible=seen[None, :] <= positions[:, None],        # (T, S) or (T, W)
                     written=new[:, None],                               # (S, 1)
                     src=torch.where(new, slots - pos, 0))               # (S,)
        x = self._embed(idx, positions)                                  # (B, T, C)
        present_k, present_v = [], []
        for i, block in enumerate(self.transformer.h):
            store = _store_into(past_k, past_v, i, positions, window) if inplace else None
            pk, pv = (None, None) if inplace else (past_k[i], past_v[i])
            x, k, v = block.forward_step(x, self.rope, pk, pv, step, store)
            present_k.append(k)
            present_v.append(v)
        logits = self.lm_head(self.transformer.ln_f(x))                  # (B, T, V)
        if inplace:
            return logits, past_k, past_v
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
                cache = (KVCache(self.config, idx.shape[0], dtype=self.kv_dtype)
                         if use_cache else None)
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

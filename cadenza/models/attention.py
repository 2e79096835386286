"""Attention of the language model: rotary position embedding, the KV caches (one sequence
batch, or a slot per sequence for continuous batching), and causal self-attention with
grouped-query heads (prefill, decoding and the explicit-cache step share one path)."""
from __future__ import annotations

from typing import NamedTuple, Optional, Sequence

import cadenza as torch
import cadenza.nn as nn
import cadenza.nn.functional as F
from .config import GPTConfig

__all__ = ["RotaryEmbedding", "KVCache", "SlotCache", "SlotBatch", "CausalSelfAttention"]


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
        for the positions in ``start`` when it is a (T,) int64 tensor (GPT.forward_step) or a
        (B, T) one (each row at its own positions: SlotBatch)."""
        T = x.shape[2]
        if isinstance(start, torch.Tensor):  # gathered rows: no Python int from a tensor
            cos, sin = self.cos[start], self.sin[start]                  # (T, D) or (B, T, D)
            if start.ndim == 2:
                cos, sin = cos[:, None], sin[:, None]                    # (B, 1, T, D)
        else:
            cos, sin = self.cos[start:start + T], self.sin[start:start + T]  # (T, D)
        x1, x2 = x.chunk(2, dim=-1)                                      # (B, h, T, D/2) each
        rotated = torch.cat([-x2, x1], dim=-1)                           # (B, h, T, D)
        return x * cos + rotated * sin


def _prefix_mask(T: int, S: int) -> dict:
    """sdpa's mask arguments for T new queries after S - T cached tokens (every row alike)."""
    if S == T:      # no earlier tokens: the plain causal mask
        return dict(is_causal=True)
    if T == 1:      # one new token sees every cached one: no mask
        return {}
    # a chunk after a prefix: query i sees keys 0..S-T+i
    return dict(attn_mask=torch.ones(T, S, dtype=torch.bool).tril(diagonal=S - T))


def _kv_buffers(cfg: GPTConfig, rows: int, max_len: int, dtype) -> list:
    """One zeroed (rows, 2K, max_len, D) buffer per layer: keys in heads 0..K-1, values in
    K..2K-1 (the layout of both caches)."""
    shape = (rows, 2 * cfg.n_kv_head, max_len, cfg.head_dim)
    return [torch.zeros(shape, dtype=dtype) for _ in range(cfg.n_layer)]


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
        self.kv = _kv_buffers(cfg, batch_size, self.max_len, dtype)
        self.pos = 0

    # the interface GPT.forward and CausalSelfAttention.forward use (SlotBatch has it too):
    # begin(T) once per forward, then positions / update(_kv) / mask per layer, then advance(T)
    def begin(self, T: int) -> int:
        """The position of the first of T new tokens."""
        return self.pos

    @property
    def positions(self) -> int:
        return self.pos

    def mask(self, T: int, S: int) -> dict:
        """sdpa's mask arguments for T new queries over S = pos + T keys."""
        return _prefix_mask(T, S)

    def advance(self, T: int) -> None:
        self.pos += T

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


class SlotCache:
    """Keys and values of up to ``n_slots`` independent sequences, each in its own slot, for
    continuous batching (cadenza.serve.engine): sequences join and leave between forwards and
    every one is at its own length. Allocated once: per layer (n_slots, 2K, max_len, D), keys
    in heads 0..K-1, values in K..2K-1 (KVCache's layout). ``lengths[s]`` is the number of
    tokens stored in slot s. ``GPT.forward(idx, cache=cache.batch(slots))`` runs idx (B, T)
    with row b continuing slot slots[b]; ``cache.batch(slots, counts)`` for rows right-padded
    to T, row b holding counts[b] real tokens."""

    def __init__(self, cfg: GPTConfig, n_slots: int, max_len: Optional[int] = None,
                 dtype=None):
        self.n_slots, self.max_len = n_slots, max_len or cfg.block_size
        self.n_kv_head = cfg.n_kv_head
        self.kv = _kv_buffers(cfg, n_slots, self.max_len, dtype)
        self.lengths = [0] * n_slots

    @property
    def nbytes(self) -> int:
        return sum(b.numel() * b.element_size() for b in self.kv)

    def reset(self, slot: int) -> None:
        """Empty slot ``slot`` for a new sequence (its old keys/values are never read again)."""
        self.lengths[slot] = 0

    def batch(self, slots: Sequence[int], counts: Optional[Sequence[int]] = None
              ) -> "SlotBatch":
        """The cache of one forward whose row b continues slot slots[b] (with counts[b] real
        tokens, the rest padding)."""
        return SlotBatch(self, slots, counts)


class SlotBatch:
    """A SlotCache seen by one forward (KVCache's interface): row b of the input continues slot
    slots[b] at its own position lengths[slots[b]]. New keys/values are written in place at
    each row's positions; attention reads the rows' slots up to the longest filled length S,
    each row masked to its own length (later slots, stale or empty, take no part).

    ``counts``: rows right-padded to T hold counts[b] real tokens; the padding is computed and
    written past the row's length (the caller keeps those positions inside the cache), where
    no real query sees it and the row's next tokens overwrite it; the row advances by
    counts[b]."""

    def __init__(self, cache: SlotCache, slots: Sequence[int],
                 counts: Optional[Sequence[int]] = None):
        self.cache, self.slots = cache, [int(s) for s in slots]
        self.counts = None if counts is None else [int(c) for c in counts]
        if len(set(self.slots)) != len(self.slots) or not all(
                0 <= s < cache.n_slots for s in self.slots):
            raise ValueError(f"SlotCache: expected distinct slots in [0, {cache.n_slots}), "
                             f"got {self.slots}")
        lo = self.slots[0]
        contiguous = self.slots == list(range(lo, lo + len(self.slots)))
        # a run of slots reads as a view; any other set is gathered
        self._read = slice(lo, lo + len(self.slots)) if contiguous else torch.tensor(self.slots)
        self._rows = torch.tensor(self.slots)[:, None]                   # (B, 1)
        self.positions = None            # set by begin(T), with what the layers share:
        self._S, self._aligned, self._mask = 0, False, None  # keys read, one position?, mask

    def begin(self, T: int):
        """-> the (B, T) int64 positions of the new tokens: row b at lengths[slots[b]] + t."""
        starts = [self.cache.lengths[s] for s in self.slots]
        if max(starts) + T > self.cache.max_len:
            raise ValueError(f"SlotCache: expected at most {self.cache.max_len} tokens per "
                             f"slot, got {max(starts) + T}")
        self.positions = torch.tensor(starts)[:, None] + torch.arange(T)  # (B, T)
        self._S, self._mask = max(starts) + T, None
        self._aligned = len(set(starts)) == 1   # every row at one position
        return self.positions

    def update(self, layer: int, k, v):
        """Store k, v (B, K, T, D) at each row's positions; return every row's keys/values up
        to the longest length (B, K, S, D)."""
        K, buf = self.cache.n_kv_head, self.cache.kv[layer]
        buf[self._rows, :K, self.positions] = k.transpose(1, 2)           # (B, T, K, D)
        buf[self._rows, K:, self.positions] = v.transpose(1, 2)
        return self._read_kv(buf)

    def update_kv(self, layer: int, kv):
        """Like update, for keys and values stacked on the head dim: kv (B, 2K, T, D)."""
        buf = self.cache.kv[layer]
        buf[self._rows, :, self.positions] = kv.transpose(1, 2)          # (B, T, 2K, D)
        return self._read_kv(buf)

    def _read_kv(self, buf):
        K = self.cache.n_kv_head
        kv = buf[self._read, :, :self._S]                                # (B, 2K, S, D)
        return kv[:, :K], kv[:, K:]

    def mask(self, T: int, S: int) -> dict:
        """Query (b, t) sees keys 0..positions[b, t] of its own slot: (B, 1, T, S), built
        once per forward (every layer has the same). Rows all at one position take
        KVCache's mask (none for one new token: sdpa's fused path)."""
        if self._aligned:
            return _prefix_mask(T, S)
        if self._mask is None:
            self._mask = (torch.arange(S) <= self.positions[:, :, None])[:, None]
        return dict(attn_mask=self._mask)

    def advance(self, T: int) -> None:
        for b, s in enumerate(self.slots):
            self.cache.lengths[s] += T if self.counts is None else self.counts[b]


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

    def forward(self, x, rope: Optional[RotaryEmbedding] = None, cache=None):
        """x (B, T, C) -> (B, T, C); with a cache (KVCache or SlotBatch, after its begin(T)), x
        continues the cached tokens (prefill or decoding) and its keys/values are stored."""
        T, H = x.shape[1], self.n_head
        qkv = self._heads(x, decode_view=True)                           # (B, H+2K, T, D)
        start = cache.positions if cache is not None else 0
        if cache is not None and rope is None:          # keys and values in one write
            q = qkv[:, :H]                                               # (B, H, T, D)
            k, v = cache.update_kv(self.layer, qkv[:, H:])  # (B, K, S, D), S = start + T
        else:
            q, k, v = self._split(qkv, rope, start)
            if cache is not None:
                k, v = cache.update(self.layer, k, v)   # (B, K, S, D), S = start + T
        mask = cache.mask(T, k.shape[2]) if cache is not None else dict(is_causal=True)
        return self._attend(q, k, v, True, **mask)

    def forward_step(self, x, rope, past_k, past_v, step: _Step, store=None):
        """forward with this layer's cache as tensors: past_k, past_v (B, K, S, D) ->
        (y (B, T, C), present_k, present_v (B, K, S, D)). No branch depends on T or pos.
        ``store(k, v)``, if given, writes the new keys/values (B, K, T, D) into the caches in
        place and returns this layer's (present_k, present_v); past_k, past_v are unused. That
        form is not exported (ONNX takes the select), so one token may take the view shortcuts
        (a compiled graph serves only the T it was traced with)."""
        inplace = store is not None
        q, k, v = self._split(self._heads(x, decode_view=inplace), rope, step.positions)
        if inplace:
            k, v = store(k, v)                                           # (B, K, S, D)
        else:  # write the new keys/values into their slots: a select, not an in-place write
            k = torch.where(step.written, k[:, :, step.src], past_k)    # (B, K, S, D)
            v = torch.where(step.written, v[:, :, step.src], past_v)    # (B, K, S, D)
        return self._attend(q, k, v, inplace, attn_mask=step.visible), k, v

    def _heads(self, x, decode_view: bool):
        """x (B, T, C) -> the fused q/k/v projection as heads (B, H+2K, T, D). ``decode_view``:
        T is a Python fact of this call (not of a traced graph that must serve any T), so one
        token may take the view shortcut."""
        B, T, _ = x.shape
        n, D = self.n_head + 2 * self.n_kv_head, self.head_dim
        qkv = self.c_attn(x)                                             # (B, T, n*D)
        if decode_view and T == 1:  # (B, 1, n, D) has the layout of (B, n, 1, D): a view
            return qkv.view(B, n, 1, D)
        return qkv.view(B, T, n, D).transpose(1, 2)                      # (B, n, T, D)

    def _split(self, qkv, rope, positions):
        """-> q (B, H, T, D), k, v (B, K, T, D); rope rotates queries and keys together (one
        call, the same positions: a start index or a (T,) tensor)."""
        H, K = self.n_head, self.n_kv_head
        if rope is None:
            return qkv[:, :H], qkv[:, H:H + K], qkv[:, H + K:]
        qk = rope(qkv[:, :H + K], positions)                             # (B, H+K, T, D)
        return qk[:, :H], qk[:, H:], qkv[:, H + K:]

    def _attend(self, q, k, v, decode_view: bool, **mask):
        """q (B, H, T, D) over k, v (B, K, S, D) with ``mask`` (sdpa's is_causal / attn_mask),
        then the output projection: (B, T, C)."""
        B, H, T, D = q.shape
        K, S = self.n_kv_head, k.shape[2]
        if K != H:  # each group of H // K query heads reads the same key/value head
            k = k[:, :, None].expand(B, K, H // K, S, D).reshape(B, H, S, D)  # (B, H, S, D)
            v = v[:, :, None].expand(B, K, H // K, S, D).reshape(B, H, S, D)  # (B, H, S, D)
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, **mask)  # (B, H, T, D)
        if not (decode_view and T == 1):  # (B, H, 1, D) already has (B, 1, H, D)'s layout
            y = y.transpose(1, 2)                                         # (B, T, H, D)
        return self.resid_dropout(self.c_proj(y.reshape(B, T, H * D)))   # (B, T, C)

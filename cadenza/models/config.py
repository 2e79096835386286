"""Model configuration: ``GPTConfig``, the size ``PRESETS``, and the dict loader that this
config and the trainer's share."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Optional

__all__ = ["ConfigError", "FromDict", "GPTConfig", "PRESETS"]


class ConfigError(ValueError):
    """Bad user configuration; the CLI reports it in one line with exit code 2."""


class FromDict:
    """``from_dict`` for config dataclasses: a key that is not a field is an error naming it (a
    typo in a saved or hand-written config must not be dropped silently)."""
    _unknown = "unknown key(s)"     # the error's first words
    _error = ValueError             # the error's type

    @classmethod
    def from_dict(cls, d: dict):
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise cls._error(f"{cls._unknown} {unknown}; known: {sorted(known)}")
        return cls(**d)


@dataclass
class GPTConfig(FromDict):
    """Hyper-parameters of :class:`GPT`. ``validate()`` runs on construction."""
    _unknown = "GPTConfig: unknown field(s)"
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

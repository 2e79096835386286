"""int8 weight-only quantization of the language model (``cadenza serve --quantize int8``).

Every ``nn.Linear`` of a :class:`~cadenza.models.gpt.GPT` (attention ``c_attn``/``c_proj``,
the MLP or SwiGLU, each MoE expert, the output head) becomes an :class:`Int8Linear`: the weight
is stored as int8 with one float32 scale per output channel (row), symmetric,

    scale[o] = max_i |W[o, i]| / 127,    W_q[o, i] = round(W[o, i] / scale[o])  in [-127, 127]

and the bias stays float. Activations stay float (weight-only: no calibration data needed), so
the forward is ``y = (x @ W_q^T) * scale + bias``, one primitive (``cadenza.ops.int8_linear``):
the int8 weight is widened to the input's dtype inside the call (block by block for large
weights, so the float copy stays in cache) and the scale is applied to the (much smaller)
output, never to the weight; no float copy of the weights is kept between calls. Weights take
a quarter of their float32 memory (plus 4 bytes per output channel).

Measured alternatives (bench/quant.py and per-layer timings, 2 cores): a composite of cast,
linear, mul and add costs four dispatches per layer (tiny preset decode 1.22x the float32
time; the primitive: ~1.04x); scaling the weight instead of the output adds an out*in
multiply per call; keeping a dequantized float copy would undo the memory saving; widening a
(50257, 768) head whole per call streams 154 MB through memory (3x slower than blocks).

Tied embeddings (``GPTConfig.tie_weights``, GPT-2): the output head and the token embedding
share one matrix, whose rows are both the head's output channels and the embedding's tokens,
so one int8 matrix and one scale vector serve both: the embedding becomes an
:class:`Int8Embedding` holding the same two tensors as the head (the tie survives
``state_dict`` / ``load_state_dict``, and the matrix is quantized once).

Not quantized by default: the MoE router (a few columns, and int8 rounding there would flip
which experts a token goes to, a discontinuous change; see ``DEFAULT_SKIP``), norms, biases
and untied embeddings (a lookup reads one row per token: no compute to save).

    >>> from cadenza.models.gpt import GPT, GPTConfig
    >>> from cadenza.models.quant import quantize_int8
    >>> model = quantize_int8(GPT(GPTConfig(n_layer=2, n_embd=64, n_head=2)).eval())
    >>> model.transformer.h[0].attn.c_attn
    Int8Linear(in_features=64, out_features=192, bias=True)

A quantized checkpoint is the quantized model's ``state_dict()`` (int8 ``*.weight``, float32
``*.weight_scale``, float biases); it loads into ``quantize_int8(GPT(config))`` with
``load_state_dict``, through ``cadenza.save``/``load`` or ``cadenza.io.save_safetensors``.
"""
from __future__ import annotations

import fnmatch
from typing import Iterable, Optional, Tuple

import cadenza as torch
import cadenza.nn as nn
from ..ops import int8_linear
from .gpt import GPT

__all__ = ["Int8Linear", "Int8Embedding", "quantize_int8", "quantize_per_channel",
           "DEFAULT_SKIP"]

# module names (fnmatch patterns over the dotted name, or its tail) left in float by default
DEFAULT_SKIP: Tuple[str, ...] = ("router",)
QMAX = 127  # symmetric: -128 is never used, so -W quantizes to -W_q exactly


@torch.no_grad()
def quantize_per_channel(weight) -> Tuple["torch.Tensor", "torch.Tensor"]:
    """A float (out, in) weight -> (int8 (out, in), float32 scale (out,)), symmetric per row:
    scale = absmax(row) / 127 (0 for an all-zero row, which quantizes to zeros), computed in
    float32; W_q = round(W / scale) (half to even), so |W - W_q * scale| <= scale / 2."""
    if weight.ndim != 2 or not weight.is_floating_point():
        raise ValueError(f"quantize_per_channel: expected a 2-d float weight, got "
                         f"{tuple(weight.shape)} {weight.dtype}")
    w = weight.detach().to(torch.float32)
    if not bool(torch.isfinite(w).all()):
        raise ValueError(f"quantize_per_channel: the weight {tuple(weight.shape)} has NaN or "
                         "infinite entries; they cannot be quantized")
    scale = w.abs().amax(dim=1) / QMAX                                   # (out,)
    safe = torch.where(scale == 0, torch.ones_like(scale), scale)        # all-zero rows
    q = (w / safe[:, None]).round().clamp(-QMAX, QMAX).to(torch.int8)   # (out, in)
    return q, scale


class Int8Linear(nn.Module):
    """``y = (x @ weight^T) * weight_scale + bias`` with an int8 ``weight`` (out, in) and a
    float32 ``weight_scale`` (out,) as buffers (not trainable); ``bias`` stays a float
    Parameter. Build one from a float layer with :meth:`from_float`; ``dequantize()`` gives
    the float weight it stands for."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype=None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.register_buffer("weight", torch.zeros(out_features, in_features, dtype=torch.int8))
        self.register_buffer("weight_scale", torch.ones(out_features, dtype=torch.float32))
        if bias:
            self.bias = nn.Parameter(torch.zeros(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.register_load_state_dict_pre_hook(_check_loaded_dtypes)

    @classmethod
    def from_float(cls, linear: nn.Linear) -> "Int8Linear":
        if type(linear) is not nn.Linear:
            raise TypeError(f"Int8Linear.from_float: expected an nn.Linear, got "
                            f"{type(linear).__name__}")
        bias = linear.bias
        mod = cls(linear.in_features, linear.out_features, bias is not None,
                  dtype=None if bias is None else bias.dtype)
        mod.weight, mod.weight_scale = quantize_per_channel(linear.weight)
        if bias is not None:
            mod.bias = bias  # the same Parameter (a float layer keeps its bias as it was)
        return mod.train(linear.training)

    def dequantize(self):
        """The float32 (out, in) weight this layer computes with: weight * weight_scale."""
        return self.weight.to(torch.float32) * self.weight_scale[:, None]

    def forward(self, x):
        # one primitive (it checks the shapes and dtypes): the int8 weight is widened inside
        # the GEMM call and the scales multiply its (smaller) output; no float copy of the
        # weight outlives the call
        return int8_linear(x, self.weight, self.weight_scale, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Int8Embedding(nn.Module):
    """The token embedding of a tied model whose head is an :class:`Int8Linear`: row ``t`` is
    ``weight[t] * weight_scale[t]``; ``weight`` and ``weight_scale`` are the head's own
    tensors (one int8 matrix serves both)."""

    def __init__(self, head: Int8Linear) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = head.out_features, head.in_features
        self.register_buffer("weight", head.weight)
        self.register_buffer("weight_scale", head.weight_scale)
        self.register_load_state_dict_pre_hook(_check_loaded_dtypes)

    def forward(self, idx):
        F = torch.nn.functional
        rows = F.embedding(idx, self.weight).to(self.weight_scale.dtype)  # (..., C)
        return rows * F.embedding(idx, self.weight_scale[:, None])      # (..., 1) scales

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


def _check_loaded_dtypes(module, state_dict, prefix, local_metadata, strict, missing,
                         unexpected, errors) -> None:
    """load_state_dict would cast a float checkpoint's weight into the int8 buffer; refuse."""
    for name, want in (("weight", torch.int8), ("weight_scale", torch.float32)):
        val = state_dict.get(prefix + name)
        if isinstance(val, torch.Tensor) and val.dtype != want:
            errors.append(f"{prefix}{name}: expected {want} in a quantized checkpoint, got "
                          f"{val.dtype} (a float checkpoint loads into the float model, "
                          "then quantize_int8)")


def _skipped(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(name, "*." + p)
               for p in patterns)


def _set(model, name: str, module) -> None:
    parent, _, leaf = name.rpartition(".")
    owner = model.get_submodule(parent) if parent else model
    setattr(owner, leaf, module)


def quantize_int8(model: GPT, *, skip: Optional[Iterable[str]] = None) -> GPT:
    """Replace the model's ``nn.Linear`` layers by :class:`Int8Linear` IN PLACE and return
    the model (no second copy of the weights exists at any time beyond one layer's).

    ``skip``: module names to leave in float, as fnmatch patterns matched against the dotted
    name or its tail (``"lm_head"``, ``"mlp.*"``, ``"transformer.h.0.attn.c_attn"``); default
    ``DEFAULT_SKIP`` (the MoE router). A pattern given here that matches no Linear is an error
    (a typo would otherwise quantize what it meant to keep)."""
    if not isinstance(model, GPT):
        raise TypeError(f"quantize_int8: expected a cadenza.models.gpt.GPT, got "
                        f"{type(model).__name__}")
    for name, mod in model.named_modules():
        if isinstance(mod, (Int8Linear, Int8Embedding)):
            raise ValueError(f"quantize_int8: the model is already quantized ({name or 'model'}"
                             " is an int8 layer)")
    if isinstance(skip, str):
        raise TypeError(f"quantize_int8: expected skip to be a sequence of names, got the "
                        f"string {skip!r} (write skip=({skip!r},))")
    patterns = DEFAULT_SKIP if skip is None else tuple(skip)
    linears = [(n, m) for n, m in model.named_modules() if type(m) is nn.Linear]
    if skip is not None:
        unused = [p for p in patterns if not any(_skipped(n, (p,)) for n, _ in linears)]
        if unused:
            raise ValueError(f"quantize_int8: skip pattern(s) {unused} match no Linear layer; "
                             f"the layers are {[n for n, _ in linears]}")
    wte = model.transformer.wte
    tied = model.lm_head.weight is wte.weight
    for name, lin in linears:
        if _skipped(name, patterns):
            continue
        q = Int8Linear.from_float(lin)
        _set(model, name, q)
        if name == "lm_head" and tied:
            model.transformer.wte = Int8Embedding(q).train(wte.training)
    return model

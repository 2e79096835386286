"""Hugging Face interop: load a local GPT-2 or Llama-format checkpoint directory
(``config.json`` + ``model.safetensors``) into :class:`GPT`, and save a GPT back to that format.
Nothing is downloaded; ``safetensors`` (an optional extra) reads and writes the weights.

    >>> model = load_hf("path/to/gpt2-dir")          # GPT2LMHeadModel or LlamaForCausalLM layout
    >>> save_hf(model, "out/hf")                     # readable by transformers' from_pretrained

Name mapping (i = layer index; HF prefixes ``transformer.`` / ``model.`` are optional on load):

=====================================  ============================================  =========
Cadenza GPT                            GPT-2 (GPT2LMHeadModel)                       note
=====================================  ============================================  =========
transformer.wte.weight                 transformer.wte.weight
transformer.wpe.weight                 transformer.wpe.weight
transformer.h.i.ln_{1,2}.{weight,bias} transformer.h.i.ln_{1,2}.{weight,bias}
transformer.h.i.attn.c_attn.{w,b}      transformer.h.i.attn.c_attn.{weight,bias}     Conv1D: W^T
transformer.h.i.attn.c_proj.{w,b}      transformer.h.i.attn.c_proj.{weight,bias}     Conv1D: W^T
transformer.h.i.mlp.c_fc.{w,b}         transformer.h.i.mlp.c_fc.{weight,bias}        Conv1D: W^T
transformer.h.i.mlp.c_proj.{w,b}       transformer.h.i.mlp.c_proj.{weight,bias}      Conv1D: W^T
transformer.ln_f.{weight,bias}         transformer.ln_f.{weight,bias}
lm_head.weight                         lm_head.weight (absent when tied)
=====================================  ============================================  =========

=====================================  ============================================  =========
Cadenza GPT                            Llama (LlamaForCausalLM)                      note
=====================================  ============================================  =========
transformer.wte.weight                 model.embed_tokens.weight
transformer.h.i.ln_1.weight            model.layers.i.input_layernorm.weight
transformer.h.i.attn.c_attn.weight     model.layers.i.self_attn.{q,k,v}_proj.weight  stacked
transformer.h.i.attn.c_proj.weight     model.layers.i.self_attn.o_proj.weight
transformer.h.i.ln_2.weight            model.layers.i.post_attention_layernorm.weight
transformer.h.i.mlp.w1.weight          model.layers.i.mlp.gate_proj.weight
transformer.h.i.mlp.w3.weight          model.layers.i.mlp.up_proj.weight
transformer.h.i.mlp.w2.weight          model.layers.i.mlp.down_proj.weight
transformer.ln_f.weight                model.norm.weight
lm_head.weight                         lm_head.weight
=====================================  ============================================  =========

Both use the same rotary layout ('rotate half') and RMSNorm as :mod:`cadenza.models.gpt`.
"""
from __future__ import annotations

import json
import os
from typing import Dict

import numpy as np

import cadenza
from .gpt import GPT, GPTConfig


def _safetensors():
    try:  # an optional extra (cadenza[checkpoints]): imported when HF weights are read/written
        from safetensors.numpy import load_file, save_file
    except ImportError:
        raise ImportError("hf interop: the optional package 'safetensors' is not installed; "
                          "run `pip install safetensors`") from None
    return load_file, save_file


def _config_from_hf(hf: dict) -> GPTConfig:
    kind = hf.get("model_type")
    if kind == "gpt2":
        act = hf.get("activation_function", "gelu_new")
        if act not in ("gelu_new", "gelu_pytorch_tanh"):
            raise ValueError(f"load_hf: expected GPT-2 activation 'gelu_new', got {act!r}")
        return GPTConfig(vocab_size=hf["vocab_size"], block_size=hf["n_positions"],
                         n_layer=hf["n_layer"], n_head=hf["n_head"], n_embd=hf["n_embd"],
                         ffn_hidden=hf.get("n_inner") or None, mlp="gelu", norm="layernorm",
                         norm_eps=hf.get("layer_norm_epsilon", 1e-5), pos="learned",
                         bias=True, tie_weights=hf.get("tie_word_embeddings", True))
    if kind == "llama":
        if hf.get("attention_bias", False) != hf.get("mlp_bias", False):
            raise ValueError("load_hf: expected attention_bias == mlp_bias (Cadenza has one "
                             "`bias` switch)")
        if hf.get("hidden_act", "silu") != "silu":
            raise ValueError(f"load_hf: expected hidden_act 'silu', got {hf['hidden_act']!r}")
        rope = hf.get("rope_parameters") or hf.get("rope_scaling") or {}
        if rope.get("rope_type", rope.get("type", "default")) != "default":
            raise ValueError(f"load_hf: only default rotary embeddings are supported, got {rope}")
        theta = hf.get("rope_theta", rope.get("rope_theta", 10000.0))
        n_head = hf["num_attention_heads"]
        head_dim = hf.get("head_dim") or hf["hidden_size"] // n_head
        if head_dim * n_head != hf["hidden_size"]:
            raise ValueError("load_hf: expected head_dim * num_attention_heads == hidden_size")
        return GPTConfig(vocab_size=hf["vocab_size"], block_size=hf["max_position_embeddings"],
                         n_layer=hf["num_hidden_layers"], n_head=n_head,
                         n_kv_head=hf.get("num_key_value_heads") or n_head,
                         n_embd=hf["hidden_size"], mlp="swiglu",
                         ffn_hidden=hf["intermediate_size"], norm="rmsnorm",
                         norm_eps=hf.get("rms_norm_eps", 1e-6), pos="rope", rope_theta=theta,
                         bias=bool(hf.get("attention_bias", False)),
                         tie_weights=hf.get("tie_word_embeddings", False))
    raise ValueError(f"load_hf: expected model_type 'gpt2' or 'llama' in config.json, "
                     f"got {kind!r}")


def _from_gpt2(w: Dict[str, np.ndarray], cfg: GPTConfig) -> Dict[str, np.ndarray]:
    w = {(k if k.startswith(("transformer.", "lm_head")) else "transformer." + k): v
         for k, v in w.items()}
    out = {}
    for k, v in w.items():
        if k.endswith((".attn.bias", ".attn.masked_bias")):  # causal-mask buffers
            continue
        if k.endswith((".c_attn.weight", ".c_proj.weight", ".c_fc.weight")):
            v = v.T  # Conv1D stores (in, out)
        out[k] = np.ascontiguousarray(v)
    out.setdefault("lm_head.weight", out["transformer.wte.weight"])
    return out


def _llama_names(i: int):
    p = f"model.layers.{i}."
    return {"ln_1.weight": p + "input_layernorm.weight",
            "ln_2.weight": p + "post_attention_layernorm.weight",
            "attn.c_proj.weight": p + "self_attn.o_proj.weight",
            "mlp.w1.weight": p + "mlp.gate_proj.weight",
            "mlp.w3.weight": p + "mlp.up_proj.weight",
            "mlp.w2.weight": p + "mlp.down_proj.weight"}


def _from_llama(w: Dict[str, np.ndarray], cfg: GPTConfig) -> Dict[str, np.ndarray]:
    w = {(k if k.startswith(("model.", "lm_head")) else "model." + k): v for k, v in w.items()}
    out = {"transformer.wte.weight": w["model.embed_tokens.weight"],
           "transformer.ln_f.weight": w["model.norm.weight"],
           "lm_head.weight": w.get("lm_head.weight", w["model.embed_tokens.weight"])}
    for i in range(cfg.n_layer):
        p, q = f"transformer.h.{i}.", f"model.layers.{i}.self_attn."
        for ours, theirs in _llama_names(i).items():
            out[p + ours] = w[theirs]
        out[p + "attn.c_attn.weight"] = np.concatenate(
            [w[q + "q_proj.weight"], w[q + "k_proj.weight"], w[q + "v_proj.weight"]], 0)
        if cfg.bias:
            out[p + "attn.c_attn.bias"] = np.concatenate(
                [w[q + "q_proj.bias"], w[q + "k_proj.bias"], w[q + "v_proj.bias"]], 0)
            out[p + "attn.c_proj.bias"] = w[q + "o_proj.bias"]
            for n, m in (("w1", "gate_proj"), ("w3", "up_proj"), ("w2", "down_proj")):
                out[p + f"mlp.{n}.bias"] = w[f"model.layers.{i}.mlp.{m}.bias"]
    return out


def load_hf(directory: str) -> GPT:
    """A GPT holding the weights of a local Hugging Face GPT-2 or Llama checkpoint."""
    load_file, _ = _safetensors()
    cfg_path = os.path.join(directory, "config.json")
    st_path = os.path.join(directory, "model.safetensors")
    for p in (cfg_path, st_path):
        if not os.path.isfile(p):
            raise FileNotFoundError(f"load_hf: expected {p}, found no such file")
    with open(cfg_path) as f:
        hf = json.load(f)
    cfg = _config_from_hf(hf)
    w = {k: v.astype(np.float32) for k, v in load_file(st_path).items()}
    sd = _from_gpt2(w, cfg) if hf["model_type"] == "gpt2" else _from_llama(w, cfg)
    model = GPT(cfg)
    model.load_state_dict({k: cadenza.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()},
                          strict=True)
    model.eval()
    return model


def save_hf(model: GPT, directory: str, kind: str = None) -> str:
    """Write ``config.json`` + ``model.safetensors`` in GPT-2 layout (learned positions,
    LayerNorm, GELU) or Llama layout (rope, RMSNorm, SwiGLU); other mixes raise ValueError."""
    _, save_file = _safetensors()
    c = model.config
    if kind is None:
        kind = "gpt2" if c.pos == "learned" else "llama"
    sd = {k: np.ascontiguousarray(v.detach().numpy()) for k, v in model.state_dict().items()}
    if c.n_expert:
        raise ValueError("save_hf: mixture-of-experts models have no GPT-2/Llama layout")
    if kind == "gpt2":
        if (c.pos, c.norm, c.mlp, c.n_kv_head, c.bias) != ("learned", "layernorm", "gelu",
                                                             c.n_head, True):
            raise ValueError("save_hf: GPT-2 layout needs pos='learned', norm='layernorm', "
                             "mlp='gelu', n_kv_head == n_head and bias=True")
        w = {k: (v.T if k.endswith((".c_attn.weight", ".c_proj.weight", ".c_fc.weight")) else v)
             for k, v in sd.items()}
        if c.tie_weights:
            w.pop("lm_head.weight")
        hf = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"],
              "vocab_size": c.vocab_size, "n_positions": c.block_size, "n_embd": c.n_embd,
              "n_layer": c.n_layer, "n_head": c.n_head, "n_inner": c.hidden,
              "activation_function": "gelu_new", "layer_norm_epsilon": c.norm_eps,
              "tie_word_embeddings": c.tie_weights, "resid_pdrop": 0.0, "embd_pdrop": 0.0,
              "attn_pdrop": 0.0}
    elif kind == "llama":
        if (c.pos, c.norm, c.mlp) != ("rope", "rmsnorm", "swiglu") or c.bias:
            raise ValueError("save_hf: Llama layout needs pos='rope', norm='rmsnorm', "
                             "mlp='swiglu' and bias=False")
        H, K, D = c.n_head, c.n_kv_head, c.head_dim
        w = {"model.embed_tokens.weight": sd["transformer.wte.weight"],
             "model.norm.weight": sd["transformer.ln_f.weight"]}
        if not c.tie_weights:
            w["lm_head.weight"] = sd["lm_head.weight"]
        for i in range(c.n_layer):
            p, q = f"transformer.h.{i}.", f"model.layers.{i}.self_attn."
            for ours, theirs in _llama_names(i).items():
                w[theirs] = sd[p + ours]
            qkv = sd[p + "attn.c_attn.weight"]  # (H*D + 2*K*D, C)
            w[q + "q_proj.weight"] = qkv[:H * D]
            w[q + "k_proj.weight"] = qkv[H * D:(H + K) * D]
            w[q + "v_proj.weight"] = qkv[(H + K) * D:]
        hf = {"model_type": "llama", "architectures": ["LlamaForCausalLM"],
              "vocab_size": c.vocab_size, "hidden_size": c.n_embd,
              "intermediate_size": c.hidden, "num_hidden_layers": c.n_layer,
              "num_attention_heads": H, "num_key_value_heads": K, "head_dim": D,
              "max_position_embeddings": c.block_size, "rms_norm_eps": c.norm_eps,
              "rope_theta": c.rope_theta, "hidden_act": "silu", "attention_bias": False,
              "mlp_bias": False, "tie_word_embeddings": c.tie_weights}
    else:
        raise ValueError(f"save_hf: expected kind 'gpt2' or 'llama', got {kind!r}")
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, "model.safetensors.tmp")
    save_file({k: np.ascontiguousarray(v) for k, v in w.items()}, tmp, metadata={"format": "pt"})
    os.replace(tmp, os.path.join(directory, "model.safetensors"))
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(hf, f, indent=2)
    return directory

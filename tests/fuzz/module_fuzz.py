"""Differential nn.Module fuzzer: random layer configurations built in PyTorch (the oracle) and in
Cadenza with the same weights, run on the same input, compared.

    python tests/fuzz/module_fuzz.py -n 2000 --seed 0 [--modules Conv2d,LSTM] [--examples 3]

Each trial is reproducible from (seed, index): ``gen_trial(seed, i)`` rebuilds it. A trial
constructs ``torch.nn.<Name>(*args, **kwargs)`` in float64, copies its state dict into
``cadenza.nn.<Name>(*args, **kwargs)``, runs forward in training mode (and again in eval mode
for layers whose modes differ), then backward of ``sum(out * w)``, and classifies:

  equal     outputs, input and parameter gradients, buffers (running stats), state-dict keys and
            ``repr`` all agree; or both constructors/forwards raise the same class of error
  keys      the state dicts have different keys or shapes
  repr      ``repr(module)`` differs (what ``print(model)`` shows)
  value     outputs differ          grad   gradients differ       buffers  buffers differ
  shape     output shapes differ
  missing   Cadenza lacks the class or an argument (AttributeError, unexpected keyword)
  rejected  torch runs it, Cadenza raises     accepted_bad  torch raises, Cadenza runs it
  exc_class both raise different classes      crash  Cadenza raises a non-ordinary error
  skip      torch itself refuses in a way that is not an ordinary error

Dropout is always 0 (outputs must be deterministic); float64 throughout, so tolerances are tight.

Six trials in ten also draw a variant (``gen_variant(seed, i)``, from a stream of its own, so
``gen_trial`` is unchanged): each input handed over as a strided view with the same values
(channels_last, transposed, expanded with stride 0, every other element), parameters
re-laid out non-contiguously (transposed; channels_last for 4-d/5-d weights), a sequence of
forwards on the same module (train/eval switches, a second forward: running stats move twice,
gradients of both accumulate), and a state-dict round trip into a fresh module whose forward
must agree too. Parameter gradients must then also have torch's strides (its gradient layout
contract: a dense parameter's .grad has the parameter's strides), as must the inputs'
gradients (not expanded ones) and, for a channels_last input, the output's memory format where
torch documents that it follows the input (convolutions, batch norm, pooling, activations):
class ``stride``.
"""
from __future__ import annotations

import argparse
import re
import warnings

import numpy as np

from _diff import (cadenza, dense, error_outcome, grad_strides, lay_out,  # noqa: E402
                   pick_layout, summarize as _summarize, torch)

BAD_CLASSES = ("keys", "repr", "value", "shape", "grad", "buffers", "stride", "accepted_bad",
               "crash", "rejected")
ALL_CLASSES = ("equal", "keys", "repr", "value", "shape", "grad", "buffers", "stride", "missing",
               "rejected", "accepted_bad", "exc_class", "crash", "quirk", "skip")
RTOL, ATOL = 1e-7, 1e-9

# module -> reason: modules whose mismatches on the CI slice are known and left alone
KNOWN: dict[str, str] = {}
# regular expression over the spelled trial -> reason: torch quirks, reclassified "quirk"
QUIRKS: dict[str, str] = {
    r"^nn\.(BatchNorm|InstanceNorm).*track_running_stats=True.*\[[^\]]*eval/train": "an "
    "eval forward, then a train forward that updates the running stats in place, then "
    "backward: torch's eval-mode backward reads the running variance as it is at backward "
    "time (no version check on buffers); Cadenza uses the one the forward used (the true "
    "gradient)",
}


class Ints(np.ndarray):
    """An integer input (indices, targets): never requires grad."""


def ints(a):
    return np.asarray(a, dtype=np.int64).view(Ints)


class Const(np.ndarray):
    """A float input that does not require grad (a loss target torch cannot differentiate)."""


def const(a):
    return np.asarray(a, dtype=np.float64).view(Const)


class R:
    """Random choices for one trial."""

    def __init__(self, rng):
        self.rng = rng

    def p(self, prob=0.5):
        return bool(self.rng.random() < prob)

    def choice(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def int(self, lo, hi):
        """lo <= n <= hi."""
        return int(self.rng.integers(lo, hi + 1))

    def x(self, *shape, scale=1.0):
        return self.rng.standard_normal(shape) * scale

    def pos(self, *shape):
        return self.rng.random(shape) * 0.9 + 0.05

    def idx(self, hi, *shape):
        return ints(self.rng.integers(0, hi, size=shape))


SPECS: dict = {}


def spec(*names):
    def deco(fn):
        for n in names:
            SPECS[n] = fn
        return fn
    return deco


# ---------------------------------------------------------------- layers with weights

@spec("Linear")
def _linear(r, name):
    i, o = r.int(1, 6), r.int(1, 6)
    lead = [r.int(1, 3) for _ in range(r.int(0, 2))]
    return (i, o), {"bias": r.p(0.7)}, [r.x(*lead, i)]


@spec("Bilinear")
def _bilinear(r, name):
    a, b, o, n = r.int(1, 4), r.int(1, 4), r.int(1, 4), r.int(1, 3)
    return (a, b, o), {"bias": r.p(0.7)}, [r.x(n, a), r.x(n, b)]


@spec("Conv1d", "Conv2d", "Conv3d")
def _conv(r, name):
    d = int(name[-2])
    g = r.choice([1, 1, 2])
    cin, cout = g * r.int(1, 2), g * r.int(1, 3)
    k = tuple(r.int(1, 3) for _ in range(d)) if r.p(0.3) else r.int(1, 3)
    kw = {"bias": r.p(0.7), "groups": g}
    if r.p(0.3):
        kw["padding"] = r.choice(["same", "valid"])
        if kw["padding"] == "same" and r.p(0.5):
            kw["dilation"] = r.int(1, 2)
    else:
        kw["stride"] = r.int(1, 2)
        kw["padding"] = r.int(0, 1)
        kw["dilation"] = r.int(1, 2)
    if r.p(0.3):
        kw["padding_mode"] = r.choice(["reflect", "replicate", "circular"])
    size = [r.int(4, 7) for _ in range(d)]
    batch = [r.int(1, 2)] if r.p(0.8) else []
    return (cin, cout, k), kw, [r.x(*batch, cin, *size)]


@spec("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
def _convt(r, name):
    d = int(name[-2])
    g = r.choice([1, 1, 2])
    cin, cout = g * r.int(1, 2), g * r.int(1, 3)
    k = r.int(1, 3)
    stride, dil = r.int(1, 2), r.int(1, 2)
    kw = {"stride": stride, "padding": r.int(0, 1), "dilation": dil, "groups": g,
          "bias": r.p(0.7), "output_padding": r.int(0, max(stride, dil) - 1)}
    size = [r.int(2, 5) for _ in range(d)]
    batch = [r.int(1, 2)] if r.p(0.8) else []
    return (cin, cout, k), kw, [r.x(*batch, cin, *size)]


@spec("Embedding")
def _embedding(r, name):
    n, dim = r.int(2, 8), r.int(1, 4)
    kw = {}
    if r.p(0.4):
        kw["padding_idx"] = r.int(-n, n - 1)
    if r.p(0.3):
        kw["scale_grad_by_freq"] = True
    if r.p(0.25):
        kw["max_norm"] = r.choice([0.5, 1.0, 2.0])
        kw["norm_type"] = r.choice([1.0, 2.0])
    shape = [r.int(1, 4) for _ in range(r.int(1, 2))]
    return (n, dim), kw, [r.idx(n, *shape)]


@spec("EmbeddingBag")
def _embedding_bag(r, name):
    n, dim = r.int(2, 8), r.int(1, 4)
    kw = {"mode": r.choice(["sum", "mean", "max"])}
    if r.p(0.3):
        kw["padding_idx"] = r.int(0, n - 1)
    if r.p(0.5):
        return (n, dim), kw, [r.idx(n, r.int(1, 3), r.int(1, 4))]
    total = r.int(1, 8)
    cuts = sorted(r.int(0, total) for _ in range(r.int(1, 3)))
    return (n, dim), kw, [r.idx(n, total), ints([0] + cuts[1:] if cuts[0] != 0 else cuts)]


# ---------------------------------------------------------------- recurrent

@spec("RNN", "LSTM", "GRU")
def _rnn(r, name):
    i, h = r.int(1, 4), r.int(1, 4)
    layers, bi, bf = r.int(1, 2), r.p(0.4), r.p(0.5)
    kw = {"num_layers": layers, "bias": r.p(0.8), "batch_first": bf, "bidirectional": bi}
    if name == "RNN":
        kw["nonlinearity"] = r.choice(["tanh", "relu"])
    proj = 0
    if name == "LSTM" and r.p(0.3):
        proj = r.int(1, h - 1) if h > 1 else 0
        if proj:
            kw["proj_size"] = proj
    t, n = r.int(1, 4), r.int(1, 3)
    unbatched = r.p(0.2)
    x = r.x(t, i) if unbatched else (r.x(n, t, i) if bf else r.x(t, n, i))
    inputs = [x]
    if r.p(0.5):
        dirs = 2 if bi else 1
        hshape = (dirs * layers, h if not proj else proj) if unbatched else (
            dirs * layers, n, proj or h)
        if name == "LSTM":
            cshape = (dirs * layers, h) if unbatched else (dirs * layers, n, h)
            inputs.append((r.x(*hshape), r.x(*cshape)))
        else:
            inputs.append(r.x(*hshape))
    return (i, h), kw, inputs


@spec("RNNCell", "LSTMCell", "GRUCell")
def _cell(r, name):
    i, h, n = r.int(1, 4), r.int(1, 4), r.int(1, 3)
    kw = {"bias": r.p(0.8)}
    if name == "RNNCell":
        kw["nonlinearity"] = r.choice(["tanh", "relu"])
    unbatched = r.p(0.2)
    x = r.x(i) if unbatched else r.x(n, i)
    inputs = [x]
    if r.p(0.5):
        hs = (h,) if unbatched else (n, h)
        inputs.append((r.x(*hs), r.x(*hs)) if name == "LSTMCell" else r.x(*hs))
    return (i, h), kw, inputs


# ---------------------------------------------------------------- attention / transformer

@spec("MultiheadAttention")
def _mha(r, name):
    heads = r.int(1, 2)
    e = heads * r.int(1, 3)
    kw = {"bias": r.p(0.8), "add_bias_kv": r.p(0.2), "add_zero_attn": r.p(0.2),
          "batch_first": r.p(0.5), "dropout": 0.0}
    kdim = vdim = e
    if r.p(0.3):
        kdim, vdim = r.int(1, 4), r.int(1, 4)
        kw["kdim"], kw["vdim"] = kdim, vdim
    n, lq, lk = r.int(1, 2), r.int(1, 4), r.int(1, 4)
    if kdim == vdim == e and r.p(0.4):
        lk = lq
    bf = kw["batch_first"]

    def seq(length, dim):
        return r.x(n, length, dim) if bf else r.x(length, n, dim)
    q, k, v = seq(lq, e), seq(lk, kdim), seq(lk, vdim)
    fkw = {"need_weights": r.p(0.6)}
    if fkw["need_weights"]:
        fkw["average_attn_weights"] = r.p(0.7)
    if r.p(0.3):
        m = r.rng.random((n, lk)) < 0.3
        m[:, 0] = False
        fkw["key_padding_mask"] = m
    if r.p(0.3):
        fkw["attn_mask"] = r.x(lq, lk) if r.p(0.5) else (r.rng.random((lq, lk)) < 0.3) & (
            np.arange(lk)[None, :] > 0)
    return (e, heads), kw, [q, k, v], fkw


@spec("TransformerEncoderLayer", "TransformerDecoderLayer")
def _tlayer(r, name):
    heads = r.int(1, 2)
    d = heads * r.int(1, 3)
    kw = {"dim_feedforward": r.int(1, 8), "dropout": 0.0,
          "activation": r.choice(["relu", "gelu"]), "batch_first": r.p(0.5),
          "norm_first": r.p(0.5), "bias": r.p(0.85), "layer_norm_eps": r.choice([1e-5, 1e-3])}
    n, t = r.int(1, 2), r.int(1, 4)
    bf = kw["batch_first"]

    def seq(length):
        return r.x(n, length, d) if bf else r.x(length, n, d)
    fkw = {}
    if name == "TransformerEncoderLayer":
        inputs = [seq(t)]
        if r.p(0.3):
            fkw["src_mask"] = np.triu(np.full((t, t), -np.inf), 1)
    else:
        s = r.int(1, 4)
        inputs = [seq(t), seq(s)]
        if r.p(0.4):
            fkw["tgt_mask"] = np.triu(np.full((t, t), -np.inf), 1)
    return (d, heads), kw, inputs, fkw


@spec("Transformer")
def _transformer(r, name):
    heads = r.int(1, 2)
    d = heads * r.int(1, 3)
    kw = {"nhead": heads, "num_encoder_layers": r.int(1, 2), "num_decoder_layers": r.int(1, 2),
          "dim_feedforward": r.int(1, 6), "dropout": 0.0, "batch_first": r.p(0.5),
          "norm_first": r.p(0.5), "activation": r.choice(["relu", "gelu"])}
    n, s, t = r.int(1, 2), r.int(1, 4), r.int(1, 4)
    bf = kw["batch_first"]

    def seq(length):
        return r.x(n, length, d) if bf else r.x(length, n, d)
    fkw = {}
    if r.p(0.5):
        fkw["tgt_mask"] = np.triu(np.full((t, t), -np.inf), 1)
    if r.p(0.3):
        m = r.rng.random((n, s)) < 0.3
        m[:, 0] = False
        fkw["src_key_padding_mask"] = m
    return (), dict(kw, d_model=d), [seq(s), seq(t)], fkw


@spec("TransformerEncoder")
def _tencoder(r, name):
    heads = r.int(1, 2)
    d = heads * r.int(1, 3)
    layer = ("TransformerEncoderLayer", (d, heads), {
        "dim_feedforward": r.int(1, 6), "dropout": 0.0, "batch_first": True,
        "norm_first": r.p(0.5)})
    kw = {"num_layers": r.int(1, 3), "enable_nested_tensor": False}
    if r.p(0.4):
        kw["norm"] = ("LayerNorm", (d,), {})
    fkw = {}
    t = r.int(1, 4)
    if r.p(0.4):
        fkw["mask"] = np.triu(np.full((t, t), -np.inf), 1)
    return (layer,), kw, [r.x(r.int(1, 2), t, d)], fkw


# ---------------------------------------------------------------- normalisation

@spec("BatchNorm1d", "BatchNorm2d", "BatchNorm3d")
def _bn(r, name):
    d = int(name[-2])
    c = r.int(1, 4)
    kw = {"eps": r.choice([1e-5, 1e-3]), "momentum": r.choice([0.1, 0.5, None]),
          "affine": r.p(0.8), "track_running_stats": r.p(0.8)}
    n = r.int(2, 3)
    if d == 1:
        x = r.x(n, c) if r.p(0.5) else r.x(n, c, r.int(1, 4))
    else:
        x = r.x(n, c, *[r.int(1, 3) for _ in range(d)])
    return (c,), kw, [x]


@spec("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")
def _in(r, name):
    d = int(name[-2])
    c = r.int(1, 3)
    kw = {"affine": r.p(0.5), "track_running_stats": r.p(0.4), "eps": r.choice([1e-5, 1e-3])}
    size = [r.int(2, 4) for _ in range(d)]
    batch = [r.int(1, 2)] if r.p(0.8) else []
    return (c,), kw, [r.x(*batch, c, *size)]


@spec("LayerNorm", "RMSNorm")
def _ln(r, name):
    shape = [r.int(1, 4) for _ in range(r.int(1, 2))]
    lead = [r.int(1, 3) for _ in range(r.int(0, 2))]
    kw = {"elementwise_affine": r.p(0.8)}
    if name == "LayerNorm":
        kw["eps"] = r.choice([1e-5, 1e-2])
        kw["bias"] = r.p(0.8)
    else:
        kw["eps"] = r.choice([None, 1e-6, 1e-2])
    return (shape if r.p(0.6) or len(shape) > 1 else shape[0],), kw, [r.x(*lead, *shape)]


@spec("GroupNorm")
def _gn(r, name):
    g = r.int(1, 3)
    c = g * r.int(1, 2)
    return (g, c), {"eps": r.choice([1e-5, 1e-3]), "affine": r.p(0.8)}, [
        r.x(r.int(1, 2), c, *[r.int(1, 3) for _ in range(r.int(0, 2))])]


@spec("LocalResponseNorm")
def _lrn(r, name):
    return (r.int(1, 4),), {"alpha": r.choice([1e-4, 0.1]), "beta": r.choice([0.75, 0.5]),
                            "k": r.choice([1.0, 2.0])}, [r.x(2, r.int(1, 5), r.int(1, 3))]


# ---------------------------------------------------------------- pooling

@spec("MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d")
def _pool(r, name):
    d = int(name[-2])
    k = r.int(1, 3)
    kw = {"stride": r.choice([None, 1, 2]), "padding": r.int(0, k // 2),
          "ceil_mode": r.p(0.4)}
    if name.startswith("Max"):
        kw["dilation"] = r.int(1, 2)
        kw["return_indices"] = r.p(0.3)
    else:
        kw["count_include_pad"] = r.p(0.5)
        if d > 1 and r.p(0.2):
            kw["divisor_override"] = r.int(1, 3)
    size = [r.int(3, 6) for _ in range(d)]
    batch = [r.int(1, 2)] if r.p(0.8) else []
    return (k,), kw, [r.x(*batch, r.int(1, 2), *size)]


@spec("AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
      "AdaptiveMaxPool2d", "AdaptiveMaxPool3d")
def _apool(r, name):
    d = int(name[-2])
    size = [r.int(1, 7) for _ in range(d)]
    out = tuple(r.choice([None, r.int(1, 4)]) if d > 1 else r.int(1, 4) for _ in range(d))
    out = out[0] if d == 1 else out
    kw = {"return_indices": True} if name.startswith("AdaptiveMax") and r.p(0.3) else {}
    batch = [r.int(1, 2)] if r.p(0.8) else []
    return (out,), kw, [r.x(*batch, r.int(1, 2), *size)]


@spec("LPPool1d", "LPPool2d")
def _lppool(r, name):
    d = int(name[-2])
    return (r.choice([1.0, 2.0, 3.0]), r.int(1, 3)), {"stride": r.choice([None, 1, 2]),
                                                      "ceil_mode": r.p(0.3)}, [
        r.pos(r.int(1, 2), r.int(1, 2), *[r.int(3, 6) for _ in range(d)])]


# ---------------------------------------------------------------- activations

ACTS = {
    "ReLU": lambda r: {}, "ReLU6": lambda r: {}, "Sigmoid": lambda r: {}, "Tanh": lambda r: {},
    "SiLU": lambda r: {}, "Mish": lambda r: {}, "Hardswish": lambda r: {},
    "Hardsigmoid": lambda r: {}, "SELU": lambda r: {}, "LogSigmoid": lambda r: {},
    "Softsign": lambda r: {}, "Tanhshrink": lambda r: {}, "Identity": lambda r: {},
    "LeakyReLU": lambda r: {"negative_slope": r.choice([0.01, 0.2, -0.5])},
    "ELU": lambda r: {"alpha": r.choice([1.0, 0.5, 2.0])},
    "CELU": lambda r: {"alpha": r.choice([1.0, 0.5, 2.0])},
    "GELU": lambda r: {"approximate": r.choice(["none", "tanh"])},
    "Hardtanh": lambda r: {"min_val": r.choice([-1.0, -0.5]), "max_val": r.choice([1.0, 2.0])},
    "Softplus": lambda r: {"beta": r.choice([1.0, 2.0, 0.5]), "threshold": r.choice([20, 1])},
    "Softshrink": lambda r: {"lambd": r.choice([0.5, 0.1])},
    "Hardshrink": lambda r: {"lambd": r.choice([0.5, 0.1])},
    "Threshold": lambda r: {"threshold": r.choice([0.1, -0.2]), "value": r.choice([0.0, 5.0])},
    "PReLU": lambda r: {"num_parameters": 1, "init": r.choice([0.25, 0.1])},
    "Softmax": lambda r: {"dim": r.choice([0, 1, -1])},
    "LogSoftmax": lambda r: {"dim": r.choice([0, 1, -1])},
    "Softmin": lambda r: {"dim": r.choice([0, 1, -1])},
    "GLU": lambda r: {"dim": r.choice([-1, 0])},
}


def _act(r, name):
    kw = ACTS[name](r)
    shape = [r.int(1, 4) for _ in range(r.int(2, 3))]
    if name == "GLU":
        shape[kw["dim"]] = 2 * r.int(1, 2)
    inplace_ok = name in ("ReLU", "ReLU6", "LeakyReLU", "ELU", "CELU", "SELU", "SiLU",
                          "Hardswish", "Hardsigmoid", "Hardtanh", "Mish", "Threshold")
    if inplace_ok and r.p(0.2):
        kw["inplace"] = True
    return (), kw, [r.x(*shape, scale=2.0)]


for _n in ACTS:
    SPECS[_n] = _act


# ---------------------------------------------------------------- shape layers

@spec("Flatten")
def _flatten(r, name):
    shape = [r.int(1, 3) for _ in range(r.int(1, 4))]
    s = r.int(-len(shape), len(shape) - 1)
    rank = len(shape)
    e = r.int(s % rank, rank - 1)
    return (), {"start_dim": s, "end_dim": e if r.p(0.5) else e - rank}, [r.x(*shape)]


@spec("Unflatten")
def _unflatten(r, name):
    a, b = r.int(1, 3), r.int(1, 3)
    return (1, (a, b) if r.p(0.7) else (-1, b)), {}, [r.x(2, a * b, 2)]


@spec("PixelShuffle", "PixelUnshuffle")
def _pixel(r, name):
    f = r.int(1, 3)
    if name == "PixelShuffle":
        return (f,), {}, [r.x(r.int(1, 2), r.int(1, 2) * f * f, r.int(1, 3), r.int(1, 3))]
    return (f,), {}, [r.x(r.int(1, 2), r.int(1, 2), f * r.int(1, 2), f * r.int(1, 2))]


@spec("Upsample")
def _upsample(r, name):
    mode = r.choice(["nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear"])
    d = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}.get(mode, r.int(1, 3))
    kw = {"mode": mode}
    if mode not in ("nearest", "nearest-exact"):
        kw["align_corners"] = r.choice([None, False, True])
    if r.p(0.5):
        kw["scale_factor"] = r.choice([2, 2.0, 1.5, 0.5, 3])
    else:
        kw["size"] = tuple(r.int(1, 6) for _ in range(d)) if d > 1 else r.int(1, 6)
    return (), kw, [r.x(r.int(1, 2), r.int(1, 2), *[r.int(2, 5) for _ in range(d)])]


@spec("ZeroPad1d", "ZeroPad2d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
      "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d",
      "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d")
def _pad(r, name):
    d = int(name[-2])
    size = [r.int(3, 5) for _ in range(d)]
    pad = r.int(0, 2) if r.p(0.4) else tuple(r.int(0, 2) for _ in range(2 * d))
    args = (pad, r.choice([0.0, 1.5])) if name.startswith("Constant") else (pad,)
    batch = [r.int(1, 2)] if r.p(0.8) else []
    return args, {}, [r.x(*batch, r.int(1, 2), *size)]


@spec("Fold", "Unfold")
def _fold(r, name):
    k = (r.int(1, 2), r.int(1, 2))
    kw = {"dilation": r.int(1, 2), "padding": r.int(0, 1), "stride": r.int(1, 2)}
    if name == "Unfold":
        return (k,), kw, [r.x(r.int(1, 2), r.int(1, 2), r.int(3, 5), r.int(3, 5))]
    out = (r.int(3, 5), r.int(3, 5))
    blocks = 1
    for o, kk in zip(out, k):
        blocks *= (o + 2 * kw["padding"] - kw["dilation"] * (kk - 1) - 1) // kw["stride"] + 1
    c = r.int(1, 2)
    return (out, k), kw, [r.x(r.int(1, 2), c * k[0] * k[1], blocks)]


@spec("ChannelShuffle")
def _chshuffle(r, name):
    g = r.int(1, 3)
    return (g,), {}, [r.x(r.int(1, 2), g * r.int(1, 2), r.int(1, 3), r.int(1, 3))]


@spec("CosineSimilarity", "PairwiseDistance")
def _dist(r, name):
    shape = (r.int(1, 3), r.int(1, 4))
    if name == "CosineSimilarity":
        kw = {"dim": r.choice([0, 1, -1]), "eps": r.choice([1e-8, 1e-3])}
    else:
        kw = {"p": r.choice([1.0, 2.0, 3.0]), "eps": r.choice([1e-6, 1e-3]),
              "keepdim": r.p(0.4)}
    return (), kw, [r.x(*shape), r.x(*shape)]


# ---------------------------------------------------------------- losses

REDUCTIONS = ["mean", "sum", "none"]


@spec("MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "SoftMarginLoss")
def _pointwise_loss(r, name):
    kw = {"reduction": r.choice(REDUCTIONS)}
    if name == "SmoothL1Loss":
        kw["beta"] = r.choice([1.0, 0.5, 0.0])
    if name == "HuberLoss":
        kw["delta"] = r.choice([1.0, 0.5, 2.0])
    shape = [r.int(1, 3) for _ in range(r.int(1, 3))]
    y = r.x(*shape) if name != "SoftMarginLoss" else const(np.sign(r.x(*shape)) + 0.0)
    return (), kw, [r.x(*shape), y]


@spec("CrossEntropyLoss", "NLLLoss")
def _ce(r, name):
    c, n = r.int(2, 5), r.int(1, 4)
    kw = {"reduction": r.choice(REDUCTIONS)}
    if r.p(0.3):
        kw["weight"] = r.pos(c)
    if r.p(0.3):
        kw["ignore_index"] = r.int(0, c - 1)
    if name == "CrossEntropyLoss" and r.p(0.3):
        kw["label_smoothing"] = r.choice([0.1, 0.3])
    extra = [r.int(1, 3) for _ in range(r.int(0, 2))]
    x = r.x(n, c, *extra)
    if name == "NLLLoss":
        x = x - np.log(np.exp(x).sum(1, keepdims=True))
    if name == "CrossEntropyLoss" and r.p(0.3):
        probs = r.pos(n, c, *extra)
        return (), kw, [x, probs / probs.sum(1, keepdims=True)]
    return (), kw, [x, r.idx(c, n, *extra)]


@spec("BCELoss", "BCEWithLogitsLoss")
def _bce(r, name):
    shape = [r.int(1, 3) for _ in range(r.int(1, 3))]
    kw = {"reduction": r.choice(REDUCTIONS)}
    if r.p(0.3):
        kw["weight"] = r.pos(shape[-1])
    if name == "BCEWithLogitsLoss" and r.p(0.3):
        kw["pos_weight"] = r.pos(shape[-1]) * 3
    x = r.pos(*shape) if name == "BCELoss" else r.x(*shape, scale=3.0)
    y = r.pos(*shape) if r.p(0.5) else (r.rng.random(shape) < 0.5) + 0.0
    return (), kw, [x, y]


@spec("KLDivLoss")
def _kld(r, name):
    shape = (r.int(1, 3), r.int(1, 4))
    lt = r.p(0.5)
    kw = {"reduction": r.choice(["mean", "sum", "none", "batchmean"]), "log_target": lt}
    y = r.pos(*shape)
    return (), kw, [np.log(r.pos(*shape)), np.log(y) if lt else y]


@spec("PoissonNLLLoss", "GaussianNLLLoss")
def _nll_family(r, name):
    shape = (r.int(1, 3), r.int(1, 4))
    kw = {"reduction": r.choice(REDUCTIONS), "eps": r.choice([1e-6, 1e-2])}
    if name == "PoissonNLLLoss":
        kw["log_input"] = r.p(0.5)
        kw["full"] = r.p(0.4)
        x = r.x(*shape) if kw["log_input"] else r.pos(*shape) * 3
        # the target gets no gradient: torch's is NaN at target 0 with full=True
        return (), kw, [x, const(np.floor(r.pos(*shape) * 5))]
    kw["full"] = r.p(0.4)
    var = r.pos(*shape) if r.p(0.6) else r.pos(shape[0], 1)
    return (), kw, [r.x(*shape), r.x(*shape), var]


@spec("MarginRankingLoss", "HingeEmbeddingLoss", "CosineEmbeddingLoss", "MultiMarginLoss",
      "MultiLabelSoftMarginLoss", "MultiLabelMarginLoss", "TripletMarginLoss")
def _margin(r, name):
    n, d = r.int(1, 4), r.int(2, 4)
    kw = {"reduction": r.choice(REDUCTIONS)}
    sign = np.where(r.rng.random(n) < 0.5, -1.0, 1.0)
    if name == "MarginRankingLoss":
        kw["margin"] = r.choice([0.0, 0.5])
        return (), kw, [r.x(n), r.x(n), sign]
    if name == "HingeEmbeddingLoss":
        kw["margin"] = r.choice([1.0, 0.5])
        return (), kw, [r.x(n, d), np.where(r.rng.random((n, d)) < 0.5, -1.0, 1.0)]
    if name == "CosineEmbeddingLoss":
        kw["margin"] = r.choice([0.0, 0.3])
        return (), kw, [r.x(n, d), r.x(n, d), sign]
    if name == "MultiMarginLoss":
        kw["p"] = r.choice([1, 2])
        kw["margin"] = r.choice([1.0, 0.5])
        if r.p(0.3):
            kw["weight"] = r.pos(d)
        return (), kw, [r.x(n, d), r.idx(d, n)]
    if name == "MultiLabelSoftMarginLoss":
        if r.p(0.3):
            kw["weight"] = r.pos(d)
        return (), kw, [r.x(n, d), (r.rng.random((n, d)) < 0.5) + 0.0]
    if name == "MultiLabelMarginLoss":
        t = np.full((n, d), -1, dtype=np.int64)
        for row in range(n):
            k = r.int(0, d)
            t[row, :k] = r.rng.permutation(d)[:k]
        return (), kw, [r.x(n, d), ints(t)]
    kw.update(margin=r.choice([1.0, 0.5]), p=r.choice([1.0, 2.0]), swap=r.p(0.3))
    return (), kw, [r.x(n, d), r.x(n, d), r.x(n, d)]


# ---------------------------------------------------------------- running a trial

def gen_trial(seed, i, names=None):
    rng = np.random.default_rng([seed, i])
    pool = sorted(names or SPECS)
    name = pool[int(rng.integers(len(pool)))]
    out = SPECS[name](R(rng), name)
    args, kwargs, inputs = out[:3]
    fkw = out[3] if len(out) > 3 else {}
    return name, args, kwargs, inputs, fkw


def _convert(lib, a, grads, kind="plain"):
    """numpy -> lib tensor (float arrays require grad; tuples of arrays recurse), laid out as
    ``kind`` (see ``lay_out``)."""
    if isinstance(a, tuple):
        return tuple(_convert(lib, x, grads) for x in a)
    if isinstance(a, np.ndarray):
        if isinstance(a, (Ints, Const)):
            return lay_out(lib, lib.tensor(np.asarray(a)), kind)
        if a.dtype == np.bool_:
            return lib.tensor(a)
        t = lay_out(lib, lib.tensor(np.array(a), dtype=lib.float64), kind)
        t = t.detach().requires_grad_()   # a leaf with the view's strides
        grads.append(t)
        return t
    return a


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [x for o in out for x in _flat(o)]
    return [out] if out is not None else []


def _np(t):
    if t is None:
        return None
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().numpy() if hasattr(t, "detach") else t)


def _same(a, b):
    a, b = _np(a), _np(b)
    if a is None or b is None:
        return a is None and b is None
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "biu" or b.dtype.kind in "biu":
        return np.array_equal(a, b)
    return np.allclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True)


class Variant:
    """How one trial feeds its layer beyond the plain call: ``layouts`` (per top-level input:
    "plain", "channels_last", "transposed", "expanded", "step"), ``params`` (re-lay parameters
    out non-contiguously), ``modes`` (the forwards, in order, on one module), ``roundtrip``
    (load the state dict into a fresh module and run it too)."""

    def __init__(self, layouts, params, modes, roundtrip):
        self.layouts, self.params, self.modes, self.roundtrip = layouts, params, modes, roundtrip

    def __repr__(self):
        lay = ",".join(x for x in self.layouts if x != "plain")
        return (f"[{'/'.join(self.modes)}{' layout=' + lay if lay else ''}"
                f"{' params=strided' if self.params else ''}"
                f"{' roundtrip' if self.roundtrip else ''}]")


# documented by torch to keep a channels_last input's memory format in their output (2-d
# only: torch's float64 3-d convolution/pooling paths give contiguous outputs)
KEEPS_CHANNELS_LAST = ("Conv2d", "ConvTranspose2d", "BatchNorm2d", "MaxPool2d", "AvgPool2d",
                       "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "ReLU", "ReLU6", "LeakyReLU",
                       "ELU", "SiLU", "GELU", "Hardswish", "Hardsigmoid", "Sigmoid", "Tanh")


def gen_variant(seed, i, name, inputs):
    """(variant or None, inputs): trial i's variant (None for the plain trial, 4 in 10) and its
    inputs with an expanded one's values made constant along the expanded dim."""
    rng = np.random.default_rng([seed, i, 1])
    if rng.random() < 0.4:
        return None, inputs
    inputs = list(inputs)
    layouts = []
    for k, a in enumerate(inputs):
        kind = "plain"
        if isinstance(a, np.ndarray) and a.dtype != np.bool_ and a.ndim and rng.random() < 0.7:
            kind, inputs[k] = pick_layout(rng, a)
        layouts.append(kind)
    modes = [("train",), ("train", "train")]
    if _has_modes(name):
        modes += [("train", "eval"), ("eval", "train"), ("train", "eval", "train"),
                  ("eval", "eval")]
    return Variant(layouts, bool(rng.random() < 0.4), modes[int(rng.integers(len(modes)))],
                   bool(rng.random() < 0.4)), inputs


def _relay_params(lib, m):
    """Every parameter of 2+ dims re-laid out (channels_last for 4-d/5-d, else transposed)."""
    with lib.no_grad():
        for p in m.parameters():
            if p.ndim >= 2:
                p.data = lay_out(lib, p.data, "channels_last" if p.ndim in (4, 5) else
                                 "transposed")


def _forward(lib, m, xs, fk, weights, total):
    outs = _flat(m(*xs, **fk))
    for o, w in zip(outs, weights(outs)):
        if o.dtype != lib.float64 or not o.requires_grad:
            continue
        term = (o * lib.tensor(w)).sum()
        total = term if total is None else total + term
    return outs, total


def run_side(lib, name, args, kwargs, inputs, fkw, state, eval_mode, weights, variant=None):
    """(module, outputs, input grads, param grads, buffers, layout facts) or raises."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")

        def build():
            if lib is torch:
                torch.manual_seed(0)
            return getattr(lib.nn, name)(*_build(lib, args), **_build(lib, kwargs)).double()
        m = build()
        if state is not None:
            m.load_state_dict({k: lib.tensor(v) for k, v in state.items()})
        if variant is not None and variant.params:
            _relay_params(lib, m)
        modes = variant.modes if variant is not None else ("eval",) if eval_mode else ("train",)
        layouts = variant.layouts if variant is not None else ["plain"] * len(inputs)
        grads = []
        xs = [_convert(lib, a, grads, kind) for a, kind in zip(inputs, layouts)]
        fk = {k: (lib.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in fkw.items()}
        outs, total = [], None
        for mode in modes:
            m.train(mode == "train")
            o, total = _forward(lib, m, xs, fk, weights, total)
            outs += o
        facts = {}
        if variant is not None and variant.roundtrip:
            m2 = build()
            m2.load_state_dict(m.state_dict())
            m2.train(modes[-1] == "train")
            with lib.no_grad():
                outs += _flat(m2(*xs, **fk))
            facts["roundtrip buffers"] = {k: b for k, b in m2.named_buffers()}
        if total is not None and total.requires_grad:
            total.backward()
        pg = {k: p.grad for k, p in m.named_parameters()}
        bufs = {k: b for k, b in m.named_buffers()}
        facts["param grad strides"] = {k: grad_strides(g) for k, g in pg.items()
                                       if g is not None}
        facts["input grad strides"] = [grad_strides(g.grad) if g.grad is not None and
                                       dense(g) else None for g in grads]
        if "channels_last" in layouts and name in KEEPS_CHANNELS_LAST and outs and \
                outs[0].ndim in (4, 5):
            fmt = lib.channels_last if outs[0].ndim == 4 else lib.channels_last_3d
            facts["output channels_last"] = outs[0].is_contiguous(memory_format=fmt)
        return m, outs, [g.grad for g in grads], pg, bufs, facts


def classify(name, args, kwargs, inputs, fkw, seed=0, variant=None):
    """(class, detail) for one trial (with ``variant``: one run as it says)."""
    wrng = np.random.default_rng(seed)
    cache = {}

    def weights(outs):
        key = tuple(tuple(o.shape) for o in outs)
        if key not in cache:
            cache[key] = [wrng.standard_normal(tuple(o.shape)) for o in outs]
        return cache[key]

    results = {}
    runs = (None,) if variant is not None else \
        (False, True) if hasattr(torch.nn, name) and _has_modes(name) else (False,)
    for eval_mode in runs:
        state = None
        try:
            state = {k: v.detach().numpy().copy()
                     for k, v in _initial_state(name, args, kwargs).items()}
            tm, tout, tig, tpg, tbuf, tfacts = run_side(torch, name, args, kwargs, inputs, fkw,
                                                        state, eval_mode, weights, variant)
            terr = None
        except Exception as e:  # noqa: BLE001 - the oracle's refusal is data
            terr = e
            if "must be contiguous" in str(e) or "Unsupported memory format" in str(e):
                # a torch kernel that cannot take the view
                return "skip", f"torch: {str(e)[:100]}"
        try:
            cm, cout, cig, cpg, cbuf, cfacts = run_side(cadenza, name, args, kwargs, inputs,
                                                        fkw, state, eval_mode, weights, variant)
            cerr = None
        except Exception as e:  # noqa: BLE001
            cerr = e
        got = error_outcome(terr, cerr)
        if got is not None:
            return got
        tk = {k: tuple(v.shape) for k, v in tm.state_dict().items()}
        ck = {k: tuple(v.shape) for k, v in cm.state_dict().items()}
        if tk != ck:
            return "keys", f"torch {tk} cadenza {ck}"
        if repr(tm) != repr(cm):
            return "repr", f"torch {repr(tm)!r} cadenza {repr(cm)!r}"
        mode = repr(variant) if variant is not None else "eval" if eval_mode else "train"
        if len(tout) != len(cout):
            return "shape", f"{mode}: {len(tout)} outputs vs {len(cout)}"
        for j, (a, b) in enumerate(zip(tout, cout)):
            if tuple(a.shape) != tuple(b.shape):
                return "shape", f"{mode} output {j}: torch {tuple(a.shape)} cadenza " \
                                f"{tuple(b.shape)}"
            if not _same(a, b):
                return "value", f"{mode} output {j}: max diff {_maxdiff(a, b)}"
        # buffers before gradients: a gradient quirk (QUIRKS) must not hide a buffer mismatch
        for k in tbuf:
            if not _same(tbuf[k], cbuf.get(k)):
                return "buffers", f"{mode} buffer {k}: {_maxdiff(tbuf[k], cbuf.get(k))}"
        tr, cr = tfacts.pop("roundtrip buffers", {}), cfacts.pop("roundtrip buffers", {})
        for k in tr:
            if not _same(tr[k], cr.get(k)):
                return "buffers", f"{mode} round-trip buffer {k}: {_maxdiff(tr[k], cr.get(k))}"
        for j, (a, b) in enumerate(zip(tig, cig)):
            if not _same(a, b):
                return "grad", f"{mode} input {j} grad: {_maxdiff(a, b)}"
        for k in tpg:
            if not _same(tpg[k], cpg.get(k)):
                return "grad", f"{mode} param {k} grad: {_maxdiff(tpg[k], cpg.get(k))}"
        for k in tfacts:
            if tfacts[k] != cfacts.get(k):
                return "stride", f"{mode} {k}: torch {tfacts[k]} cadenza {cfacts.get(k)}"
        results[mode] = True
    return "equal", ""


def _maxdiff(a, b):
    a, b = _np(a), _np(b)
    if a is None or b is None:
        return f"torch {'None' if a is None else 'grad'}, cadenza {'None' if b is None else 'grad'}"
    if a.shape != b.shape:
        return f"shapes {a.shape} vs {b.shape}"
    if a.size == 0:
        return "empty"
    with np.errstate(invalid="ignore"):
        return f"{float(np.nanmax(np.abs(a.astype(float) - b.astype(float)))):.3g}"


def _build(lib, spec_args):
    """Arguments with sub-modules given as ("Class", args, kwargs) built in ``lib``."""
    def one(a):
        if isinstance(a, tuple) and len(a) == 3 and isinstance(a[0], str) and \
                isinstance(a[2], dict):
            return getattr(lib.nn, a[0])(*a[1], **a[2])
        return a
    if isinstance(spec_args, dict):
        return {k: one(v) for k, v in spec_args.items()}
    return tuple(one(a) for a in spec_args)


def _has_modes(name):
    return name.startswith(("BatchNorm", "InstanceNorm", "Transformer", "MultiheadAttention"))


def _initial_state(name, args, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        m = getattr(torch.nn, name)(*_build(torch, args), **_build(torch, kwargs)).double()
        # random (not default-initialised) weights so that every parameter matters
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for p in m.parameters():
                p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.5)
        return m.state_dict()


def spell(name, args, kwargs, inputs, fkw):
    def s(a):
        if isinstance(a, np.ndarray):
            return f"{'int' if isinstance(a, Ints) else a.dtype}{list(a.shape)}"
        if isinstance(a, tuple):
            return "(" + ", ".join(s(x) for x in a) + ")"
        return repr(a)
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    call = ", ".join(s(x) for x in inputs) + "".join(f", {k}={s(v)}" for k, v in fkw.items())
    return f"nn.{name}({', '.join(parts)})({call})"


def fuzz(n, seed=0, names=None, start=0, variants=True):
    out = []
    for i in range(start, start + n):
        name, args, kwargs, inputs, fkw = gen_trial(seed, i, names)
        variant = None
        if variants:
            variant, inputs = gen_variant(seed, i, name, inputs)
        cls, detail = classify(name, args, kwargs, inputs, fkw, seed=i, variant=variant)
        spelled = spell(name, args, kwargs, inputs, fkw) + \
            (f" {variant!r}" if variant is not None else "")
        if cls in BAD_CLASSES and any(re.search(q, spelled) for q in QUIRKS):
            cls = "quirk"
        out.append((i, name, cls, detail, spelled))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--modules", default=None, help="comma list of nn class names")
    ap.add_argument("--examples", type=int, default=2)
    ap.add_argument("--no-variants", action="store_true", help="plain trials only")
    a = ap.parse_args(argv)
    rows = fuzz(a.n, a.seed, a.modules.split(",") if a.modules else None, a.start,
                not a.no_variants)
    _summarize([(i, cls, call, detail) for i, name, cls, detail, call in rows], a.seed,
               ALL_CLASSES, "trials", a.examples, group=lambda call: call.split("(")[0])


if __name__ == "__main__":
    main()

"""Differential nn.functional fuzzer for the functions layers do not cover: random calls of
scaled_dot_product_attention, grid_sample/affine_grid, interpolate, pad, one_hot, normalize,
embedding, unfold/fold, cosine_similarity, pdist/cdist and friends, run in PyTorch (the oracle)
and Cadenza, values and float64 gradients compared.

    python tests/fuzz/functional_fuzz.py -n 3000 --seed 0 [--fns sdpa,grid_sample]

Six calls in ten also draw a variant (``gen_variant(seed, i)``, a stream of its own, so
``gen_call`` is unchanged): the float operands in float32, float16 or bfloat16 instead of
float64 (torch's CPU kernels compute the narrow dtypes in float32 and round once; compared to
a few units in the last place, gradients too), and each array operand handed over as a
strided view with the same values (channels_last, transposed, expanded with stride 0, every
other element). Gradients of a strided leaf must also have torch's strides (size-1 dims
aside) where the leaf is dense: class ``stride``.
"""
from __future__ import annotations

import re
import warnings

import numpy as np

from _diff import (cadenza, cli, dense, error_outcome, grad_strides,  # noqa: E402
                   lay_out, pick_layout, torch)

BAD_CLASSES = ("value", "shape", "dtype", "grad", "stride", "accepted_bad", "rejected", "crash")
# (function, message fragment): refusals of features Cadenza does not have yet, reported by the
# CI slice but not failed
UNSUPPORTED: list = []
# regular expression over the spelled call -> reason: torch quirks, reclassified "quirk"
KNOWN: dict[str, str] = {
    r"^F\.grid_sample\(.*\[(float16|bfloat16)": "the grid's gradient in a narrow dtype: "
    "torch rounds the unnormalised coordinates to float16/bfloat16, so a point moves onto a "
    "pixel or border (clip gradient 0) where Cadenza's float32 coordinate does not; several "
    "bfloat16 ulps of the largest term apart",
    r"^F\.cosine_similarity\(.*\[(float16|bfloat16)": "a narrow-dtype gradient where the "
    "true one is ~0 (cosine of parallel or 1-element vectors): torch's rounded terms leave "
    "ulp / |x| of noise (-0.125 at x = 0.038, seed 507 call 649), Cadenza's float32 ones 0",
}
ALL_CLASSES = ("equal", "value", "shape", "dtype", "grad", "stride", "missing", "accepted_bad",
               "rejected", "exc_class", "crash", "quirk", "skip")


class Const(np.ndarray):
    """An input that never requires grad (masks, indices, targets)."""


def const(a, dtype=None):
    return np.asarray(a, dtype=dtype).view(Const)


SPECS: dict = {}


def spec(name):
    def deco(fn):
        SPECS[name] = fn
        return fn
    return deco


@spec("scaled_dot_product_attention")
def _sdpa(rng, c, p):
    batch = [int(rng.integers(1, 3)) for _ in range(int(rng.integers(0, 3)))]
    hq = int(rng.integers(1, 5))
    gqa = p(0.25)
    hk = hq
    if gqa:
        hk = c([d for d in (1, 2) if hq % d == 0])
    lq, lk, e = int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(1, 5))
    ev = int(rng.integers(1, 5)) if p(0.3) else e
    q = rng.standard_normal(batch + [hq, lq, e])
    k = rng.standard_normal(batch + [hk, lk, e])
    v = rng.standard_normal(batch + [hk, lk, ev])
    kw = {}
    mask_kind = c(["none", "none", "bool", "float", "causal"])
    if mask_kind == "bool":
        m = rng.random((lq, lk)) < 0.7
        m[:, 0] = True
        kw["attn_mask"] = const(m if p(0.5) else m[None] if lq else m)
    elif mask_kind == "float":
        kw["attn_mask"] = const(rng.standard_normal((lq, lk)) if p(0.6) else
                                rng.standard_normal((hq, lq, lk)) if not batch else
                                rng.standard_normal((1, lq, lk)))
    elif mask_kind == "causal":
        kw["is_causal"] = True
    if p(0.3):
        kw["scale"] = c([0.5, 1.0, 2.0])
    if gqa or p(0.1):
        kw["enable_gqa"] = True
    return (q, k, v), kw


@spec("grid_sample")
def _grid_sample(rng, c, p):
    d3 = p(0.25)
    n, ch = int(rng.integers(1, 3)), int(rng.integers(1, 3))
    size = [int(rng.integers(1, 5)) for _ in range(3 if d3 else 2)]
    out = [int(rng.integers(1, 4)) for _ in range(3 if d3 else 2)]
    x = rng.standard_normal([n, ch] + size)
    grid = rng.uniform(-1.3, 1.3, [n] + out + [3 if d3 else 2])
    modes = ["bilinear", "nearest"] + ([] if d3 else ["bicubic"])
    kw = {"mode": c(modes), "padding_mode": c(["zeros", "border", "reflection"]),
          "align_corners": p()}
    return (x, grid), kw


@spec("affine_grid")
def _affine_grid(rng, c, p):
    d3 = p(0.3)
    n = int(rng.integers(1, 3))
    theta = rng.standard_normal((n, 3, 4) if d3 else (n, 2, 3))
    size = [n, int(rng.integers(1, 3))] + [int(rng.integers(1, 5)) for _ in range(3 if d3 else 2)]
    return (theta, size), {"align_corners": p()}


@spec("interpolate")
def _interpolate(rng, c, p):
    mode = c(["nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area",
              "lanczos"])
    dims = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3, "lanczos": 2}
    d = dims.get(mode, int(rng.integers(1, 4)))
    x = rng.standard_normal([int(rng.integers(1, 3)), int(rng.integers(1, 3))] +
                            [int(rng.integers(1, 7)) for _ in range(d)])
    kw = {"mode": mode}
    if mode in ("linear", "bilinear", "bicubic", "trilinear", "lanczos"):
        kw["align_corners"] = p(0.1 if mode == "lanczos" else 0.5)
        if mode in ("bilinear", "bicubic", "lanczos") and p(0.9 if mode == "lanczos" else 0.25):
            kw["antialias"] = True
    if p(0.5):
        kw["size"] = [int(rng.integers(1, 8)) for _ in range(d)] if p(0.7) or d > 1 else \
            int(rng.integers(1, 8))
    else:
        kw["scale_factor"] = c([2, 0.5, 1.7, 3, 0.75])
        if p(0.3):
            kw["recompute_scale_factor"] = True
    return (x,), kw


@spec("pad")
def _pad(rng, c, p):
    mode = c(["constant", "reflect", "replicate", "circular"])
    rank = int(rng.integers(2, 6)) if mode == "constant" else int(rng.integers(2, 6))
    shape = [int(rng.integers(2, 5)) for _ in range(rank)]
    k = int(rng.integers(1, (rank if mode == "constant" else min(3, rank - 1)) + 1))
    pads = tuple(int(rng.integers(-1 if mode == "constant" else 0, 3)) for _ in range(2 * k))
    kw = {"mode": mode}
    if mode == "constant" and p(0.5):
        kw["value"] = c([0.0, 1.5, -2.0])
    return (rng.standard_normal(shape), pads), kw


@spec("one_hot")
def _one_hot(rng, c, p):
    n = int(rng.integers(1, 6))
    idx = rng.integers(0, n, size=[int(rng.integers(0, 4)) for _ in range(int(rng.integers(0, 3)))])
    return (const(idx, np.int64),), ({"num_classes": n + int(rng.integers(0, 2))} if p(0.7)
                                     else {})


@spec("normalize")
def _normalize(rng, c, p):
    shape = [int(rng.integers(1, 4)) for _ in range(int(rng.integers(1, 4)))]
    x = rng.standard_normal(shape)
    if p(0.2):
        x[..., 0] = 0
    return (x,), {"p": c([1.0, 2.0, 3.0, float("inf")]),
                  "dim": int(rng.integers(-len(shape), len(shape))), "eps": c([1e-12, 1e-3])}


@spec("embedding")
def _embedding(rng, c, p):
    n, d = int(rng.integers(2, 7)), int(rng.integers(1, 4))
    idx = rng.integers(0, n, size=[int(rng.integers(1, 4)) for _ in range(int(rng.integers(1, 3)))])
    kw = {}
    if p(0.3):
        kw["padding_idx"] = int(rng.integers(-n, n))
    return (const(idx, np.int64), rng.standard_normal((n, d))), kw


@spec("cdist")
def _cdist(rng, c, p):
    batch = [int(rng.integers(1, 3)) for _ in range(int(rng.integers(0, 2)))]
    m, n, d = (int(rng.integers(1, 5)) for _ in range(3))
    return (rng.standard_normal(batch + [m, d]), rng.standard_normal(batch + [n, d])), {
        "p": c([1.0, 2.0, 3.0, 0.5, float("inf")])}


@spec("pdist")
def _pdist(rng, c, p):
    return (rng.standard_normal((int(rng.integers(2, 5)), int(rng.integers(1, 4)))),), {
        "p": c([1.0, 2.0, 3.0])}


@spec("cosine_similarity")
def _cos(rng, c, p):
    shape = [int(rng.integers(1, 4)) for _ in range(int(rng.integers(1, 4)))]
    other = list(shape)
    if p(0.3):
        other[0] = 1
    return (rng.standard_normal(shape), rng.standard_normal(other)), {
        "dim": int(rng.integers(-len(shape), len(shape))), "eps": c([1e-8, 1e-2])}


@spec("log_softmax")
def _log_softmax(rng, c, p):
    shape = [int(rng.integers(1, 4)) for _ in range(int(rng.integers(1, 4)))]
    return (rng.standard_normal(shape) * 3,), {"dim": int(rng.integers(-len(shape), len(shape)))}


@spec("gelu")
def _gelu(rng, c, p):
    return (rng.standard_normal((3, 4)) * 3,), {"approximate": c(["none", "tanh"])}


@spec("unfold")
def _unfold(rng, c, p):
    x = rng.standard_normal((int(rng.integers(1, 3)), int(rng.integers(1, 3)),
                             int(rng.integers(2, 6)), int(rng.integers(2, 6))))
    return (x, (int(rng.integers(1, 3)), int(rng.integers(1, 3)))), {
        "dilation": int(rng.integers(1, 3)), "padding": int(rng.integers(0, 2)),
        "stride": int(rng.integers(1, 3))}


@spec("binary_cross_entropy_with_logits")
def _bcewl(rng, c, p):
    shape = [int(rng.integers(1, 4)) for _ in range(int(rng.integers(1, 3)))]
    kw = {"reduction": c(["mean", "sum", "none"])}
    if p(0.3):
        kw["pos_weight"] = const(rng.random(shape[-1]) * 3)
    return (rng.standard_normal(shape) * 4, const((rng.random(shape) < 0.5) + 0.0)), kw


@spec("ctc_loss")
def _ctc(rng, c, p):
    t, n, cl = int(rng.integers(4, 8)), int(rng.integers(1, 3)), int(rng.integers(2, 5))
    s = int(rng.integers(1, 3))
    logp = rng.standard_normal((t, n, cl))
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    targets = rng.integers(1, cl, size=(n, s))
    return (logp, const(targets, np.int64), const(np.full(n, t), np.int64),
            const(rng.integers(1, s + 1, size=n), np.int64)), {
        "reduction": c(["mean", "sum", "none"]), "zero_infinity": p()}


def gen_call(seed, i, names=None):
    rng = np.random.default_rng([seed, i])
    pool = sorted(names or SPECS)
    name = pool[int(rng.integers(len(pool)))]
    c = lambda seq: seq[int(rng.integers(len(seq)))]  # noqa: E731
    p = lambda prob=0.5: bool(rng.random() < prob)  # noqa: E731
    args, kw = SPECS[name](rng, c, p)
    return name, args, kw


class Variant:
    """A call's float dtype and the layout of each array operand (positional, then keyword)."""

    def __init__(self, dtype, layouts):
        self.dtype, self.layouts = dtype, layouts

    def __repr__(self):
        lay = ",".join(x for x in self.layouts if x != "plain")
        return f"[{self.dtype}{' layout=' + lay if lay else ''}]"


def gen_variant(seed, i, args, kw):
    """(variant or None, args, kw) for call i; an expanded operand's values are made constant
    along the expanded dim."""
    rng = np.random.default_rng([seed, i, 1])
    if rng.random() < 0.4:
        return None, args, kw
    dtype = str(rng.choice(["float64", "float64", "float32", "float16", "bfloat16"]))
    arrays = list(args) + list(kw.values())
    layouts = []
    for k, a in enumerate(arrays):
        kind = "plain"
        if isinstance(a, np.ndarray) and a.ndim and rng.random() < 0.6:
            kind, arrays[k] = pick_layout(rng, a)
        layouts.append(kind)
    args, kw = tuple(arrays[:len(args)]), dict(zip(kw, arrays[len(args):]))
    return Variant(dtype, layouts), args, kw


def _convert(lib, a, grads, kind="plain", dtype="float64"):
    if isinstance(a, Const):
        t = lib.tensor(np.asarray(a))
        if t.is_floating_point():
            t = t.to(getattr(lib, dtype))
        return lay_out(lib, t, kind)
    if isinstance(a, np.ndarray):
        t = lay_out(lib, lib.tensor(a.copy(), dtype=lib.float64).to(getattr(lib, dtype)), kind)
        t = t.detach().requires_grad_()   # a leaf with the view's strides
        grads.append(t)
        return t
    return a


def run(lib, name, args, kw, seed, variant=None):
    grads = []
    dtype = variant.dtype if variant is not None else "float64"
    layouts = variant.layouts if variant is not None else ["plain"] * (len(args) + len(kw))
    a = [_convert(lib, x, grads, kind, dtype) for x, kind in zip(args, layouts)]
    k = {key: _convert(lib, v, [], kind, dtype)
         for (key, v), kind in zip(kw.items(), layouts[len(args):])}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fn = getattr(lib.nn.functional, name, None) or getattr(lib, name)   # torch.cdist
        out = fn(*a, **k)
        if out.is_floating_point() and out.requires_grad:
            w = np.random.default_rng(seed).standard_normal(tuple(out.shape))
            (out * lib.tensor(w).to(out.dtype)).sum().backward()
    strides = [grad_strides(g.grad) if g.grad is not None and dense(g) else None for g in grads]
    return _np(out), [g.grad for g in grads], str(out.dtype).split(".")[-1], strides


def _np(t):
    if t is None or not hasattr(t, "detach"):
        return t
    t = t.detach()
    return (t.double() if t.is_floating_point() else t).numpy()


# (rtol, atol) by dtype: a few units in the last place of the narrow dtypes (torch rounds
# once from float32; a sum of rounded terms may land an ulp or two away)
TOL = {"float64": (1e-7, 1e-9), "float32": (1e-4, 1e-5), "float16": (4e-3, 2e-3),
       "bfloat16": (3e-2, 1.6e-2)}


# gradients in the narrow dtypes: norm-wise, |a - b| <= tol * max(1, max |a|) (a backward
# rounds each step; cancellations leave several ulps of the largest term)
GRAD_TOL = {"float16": 1e-2, "bfloat16": 8e-2}


def _scale(a):
    finite = a[np.isfinite(a)]
    return max(1.0, float(np.abs(finite).max())) if finite.size else 1.0


def _close(a, b, dtype="float64", grad=False):
    a, b = _np(a), _np(b)
    if a is None or b is None:
        return a is None and b is None
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "biu":
        return np.array_equal(a, b)
    rtol, atol = TOL[dtype]
    if dtype in GRAD_TOL and a.size:
        if grad:
            rtol, atol = 0.0, GRAD_TOL[dtype] * _scale(a)
        else:   # relative to the result's scale
            atol *= _scale(a)
    return np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


def classify(seed, i, names=None, variants=True):
    name, args, kw = gen_call(seed, i, names)
    variant = None
    if variants:
        variant, args, kw = gen_variant(seed, i, args, kw)
    spelled = f"F.{name}(" + ", ".join(
        f"{'c' if isinstance(a, Const) else ''}{list(a.shape)}" if isinstance(a, np.ndarray)
        else repr(a) for a in args) + "".join(
        f", {k}={list(v.shape) if isinstance(v, np.ndarray) else v!r}" for k, v in kw.items()) + \
        ")" + (f" {variant!r}" if variant is not None else "")
    try:
        t = run(torch, name, args, kw, i, variant)
        terr = None
    except Exception as e:  # noqa: BLE001
        terr = e
        if "not implemented for" in str(e) or "must be contiguous" in str(e):
            return "skip", spelled, f"torch: {str(e)[:100]}"   # torch's own gap
    try:
        c = run(cadenza, name, args, kw, i, variant)
        cerr = None
    except Exception as e:  # noqa: BLE001
        cerr = e
    got = error_outcome(terr, cerr)
    if got is not None:
        return got[0], spelled, got[1]
    (tv, tg, td, ts), (cv, cg, cd, cs) = t, c
    dtype = variant.dtype if variant is not None else "float64"
    if td != cd:
        return "dtype", spelled, f"torch {td} cadenza {cd}"
    if tv.shape != cv.shape:
        return "shape", spelled, f"torch {tv.shape} cadenza {cv.shape}"
    if not _close(tv, cv, dtype):
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            diff = np.nanmax(np.abs(tv.astype(float) - cv.astype(float))) if tv.size else 0
        return "value", spelled, f"max diff {diff:.3g}"
    if not np.all(np.isfinite(tv)):   # as op_fuzz: gradients of finite results only
        return "equal", spelled, "non-finite output: gradients not compared"
    for j, (a, b) in enumerate(zip(tg, cg)):
        if not _close(a, b, dtype, grad=True):
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                diff = np.nanmax(np.abs(_np(a) - _np(b))) if a is not None and \
                    b is not None and a.shape == b.shape and a.numel() else "-"
            return "grad", spelled, f"input {j} gradient differs (max diff {diff})"
    if ts != cs:
        return "stride", spelled, f"input gradient strides: torch {ts} cadenza {cs}"
    return "equal", spelled, ""


def fuzz(n, seed=0, names=None, start=0, variants=True):
    rows = []
    for i in range(start, start + n):
        cls, spelled, detail = classify(seed, i, names, variants)
        if cls in BAD_CLASSES and any(re.search(k, spelled) for k in KNOWN):
            cls = "quirk"
        rows.append((i, cls, spelled, detail))
    return rows


def main(argv=None):
    cli(__doc__, fuzz, ALL_CLASSES, "calls", 2000, names_flag="fns",
        group=lambda spelled: spelled.split("(")[0], argv=argv)


if __name__ == "__main__":
    main()

"""Differential higher-order autograd fuzzer: random compositions of differentiable ops on
float64 inputs, differentiated twice (``autograd.grad(..., create_graph=True)`` then the
gradient of a random projection of the first gradient: double backward), and the same
functions through ``func.grad``, ``func.vmap`` (of grad over a batch), ``func.jacrev``,
``func.jacfwd``, ``func.hessian`` and ``func.jvp``/``func.vjp``; run in PyTorch (the oracle)
and Cadenza, values compared.

    python tests/fuzz/autograd_fuzz.py -n 2000 --seed 0
"""
from __future__ import annotations

import numpy as np

from _diff import cli, diff_results, error_outcome, quiet_outcomes

BAD_CLASSES = ("value", "shape", "dtype", "accepted_bad", "rejected", "crash")
ALL_CLASSES = ("equal", "value", "shape", "dtype", "missing", "accepted_bad", "rejected",
               "exc_class", "crash", "skip")
# regular expressions over spelled calls whose mismatch is a documented quirk, with the reason
KNOWN: dict[str, str] = {}

# unary steps: smooth on the inputs they get (tanh/sigmoid keep values bounded; log/sqrt
# read a positive transform)
UNARY = {
    "sin": lambda L, x: L.sin(x), "tanh": lambda L, x: L.tanh(x),
    "sigmoid": lambda L, x: L.sigmoid(x), "exp_t": lambda L, x: L.exp(L.tanh(x)),
    "sq": lambda L, x: x * x, "cube": lambda L, x: x ** 3,
    "logp": lambda L, x: L.log(x * x + 1.0), "sqrtp": lambda L, x: L.sqrt(x * x + 0.5),
    "softplus": lambda L, x: L.nn.functional.softplus(x),
    "gelu": lambda L, x: L.nn.functional.gelu(x), "silu": lambda L, x: L.nn.functional.silu(x),
    "softmax": lambda L, x: L.softmax(x, -1), "lsm": lambda L, x: L.log_softmax(x, -1),
    "cumsum": lambda L, x: L.cumsum(x, -1), "flip": lambda L, x: L.flip(x, (-1,)),
    "norm": lambda L, x: x / L.linalg.vector_norm(x, dim=-1, keepdim=True).clamp_min(0.1),
    "atan": lambda L, x: L.atan(x), "erf": lambda L, x: L.erf(x),
    "recip": lambda L, x: 1.0 / (x * x + 1.0), "powf": lambda L, x: (x * x + 1.0) ** 1.5,
    "mean_b": lambda L, x: x - x.mean(-1, keepdim=True),
    "std_b": lambda L, x: x / (x.std(-1, keepdim=True) + 1.0),
    "lse": lambda L, x: x - L.logsumexp(x, -1, keepdim=True),
}
BINARY = {
    "add": lambda L, x, y: x + y, "mul": lambda L, x, y: x * y,
    "div": lambda L, x, y: x / (y * y + 1.0), "atan2": lambda L, x, y: L.atan2(x, y * y + 1.0),
    "max": lambda L, x, y: L.maximum(x, y + 0.123), "hyp": lambda L, x, y: L.hypot(x, y + 2.0),
    "mm": lambda L, x, y: x @ y.transpose(-1, -2) @ x / 4.0,
    "where": lambda L, x, y: L.where(x > 0.1, x * y, y * y),
    "lerp": lambda L, x, y: L.lerp(x, y, 0.3),
}
MODES = ("double", "double", "func.grad", "vmap_grad", "jacrev", "jacfwd", "hessian", "jvp",
         "vjp")


def gen_call(seed, i):
    rng = np.random.default_rng([seed, i])
    n = int(rng.integers(1, 4))
    steps = []
    for _ in range(int(rng.integers(1, 5))):
        if rng.random() < 0.35:
            steps.append(("b", list(BINARY)[int(rng.integers(len(BINARY)))]))
        else:
            steps.append(("u", list(UNARY)[int(rng.integers(len(UNARY)))]))
    mode = MODES[int(rng.integers(len(MODES)))]
    x = rng.standard_normal((n, n))
    y = rng.standard_normal((n, n))
    v = rng.standard_normal((n, n))
    return mode, steps, x, y, v


def spell(mode, steps, x, y, v):
    return f"{mode}: " + " -> ".join(s[1] for s in steps) + f" on {list(x.shape)}"


def _f(L, steps, y):
    def f(x):
        h = x
        for kind, name in steps:
            h = UNARY[name](L, h) if kind == "u" else BINARY[name](L, h, y)
        return h
    return f


def run(L, mode, steps, x, y, v):
    X, Y, V = L.tensor(x), L.tensor(y), L.tensor(v)
    f = _f(L, steps, Y)
    scalar = lambda x: (f(x) * V).sum()  # noqa: E731
    if mode == "double":
        X.requires_grad_(True)
        Y.requires_grad_(True)
        f2 = _f(L, steps, Y)
        out = (f2(X) * V).sum()
        gx, gy = L.autograd.grad(out, (X, Y), create_graph=True, allow_unused=True)
        gx = gx if gx is not None else L.zeros_like(X)
        gy = gy if gy is not None else L.zeros_like(Y)
        proj = (gx * V).sum() + (gy * gy).sum() * 0.5
        if not proj.requires_grad:
            return out.detach(), gx.detach(), None
        hx, hy = L.autograd.grad(proj, (X, Y), allow_unused=True)
        return (out.detach(), gx.detach(), hx if hx is not None else L.zeros_like(X),
                hy if hy is not None else L.zeros_like(Y))
    if mode == "func.grad":
        return L.func.grad(scalar)(X)
    if mode == "vmap_grad":
        batch = L.stack([X, X * 0.5, -X])
        return L.func.vmap(L.func.grad(scalar))(batch)
    if mode == "jacrev":
        return L.func.jacrev(f)(X)
    if mode == "jacfwd":
        return L.func.jacfwd(f)(X)
    if mode == "hessian":
        return L.func.hessian(scalar)(X)
    if mode == "jvp":
        return L.func.jvp(f, (X,), (V,))
    out, fn = L.func.vjp(f, X)
    return out, fn(V)


def classify(seed, i):
    call = gen_call(seed, i)
    spelled = spell(*call)
    (t, terr), (c, cerr) = quiet_outcomes(run, *call)
    got = error_outcome(terr, cerr)
    if got is not None:
        return got[0], spelled, got[1]
    got = diff_results(t, c, 1e-7, 1e-9)
    if got:
        return got[0], spelled, got[1]
    return "equal", spelled, ""


def fuzz(n, seed=0, start=0):
    return [(i,) + classify(seed, i) for i in range(start, start + n)]


def main(argv=None):
    cli(__doc__, fuzz, ALL_CLASSES, "calls", 1000, argv=argv,
        group=lambda s: s.split(":")[0])


if __name__ == "__main__":
    main()

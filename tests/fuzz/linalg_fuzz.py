"""Differential linear-algebra fuzzer: solve/inv/det/slogdet/cholesky/qr/svd/eigh/lstsq/
pinv/matrix_power/matrix_exp/solve_triangular/norms (vector, matrix: fro, nuc, 1, -1, 2, -2,
inf) on random well-conditioned batched inputs (batch dims broadcast where torch broadcasts,
empty batches and 0x0 matrices), and on singular, non-square and mismatched inputs for the
refusals, run in PyTorch (the oracle) and Cadenza. Values (decompositions up to the sign of
each vector: |Q|, |U|, |V| and the reconstructions) and float64 gradients of sign-invariant
losses compared.

    python tests/fuzz/linalg_fuzz.py -n 3000 --seed 0 [--fns solve,svd]
"""
from __future__ import annotations

import numpy as np

from _diff import cli, diff_results, error_outcome, quiet_outcomes

BAD_CLASSES = ("value", "shape", "dtype", "grad", "accepted_bad", "rejected", "crash")
ALL_CLASSES = ("equal", "value", "shape", "dtype", "grad", "missing", "accepted_bad",
               "rejected", "exc_class", "crash", "skip")
# regular expressions over spelled calls whose mismatch is a documented quirk, with the reason
KNOWN: dict[str, str] = {
    r"^linalg\.slogdet\(": "log|det|'s gradient at a singular matrix: LAPACK's partial inverse "
    "in torch (inf/nan), Cadenza's inverse raises LinAlgError",
    r"^linalg\.inv_ex\(": "the values of a failed inversion (info > 0): LAPACK's partial "
    "result in torch (inf), NaN in Cadenza",
}


def _sym_pd(rng, batch, n):
    a = rng.standard_normal(batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def _well(rng, batch, n):
    return rng.standard_normal(batch + (n, n)) + 2 * n * np.eye(n) * rng.choice([1, -1])


def _batch(rng):
    k = int(rng.integers(0, 3))
    return tuple(int(rng.choice([0, 1, 2, 3], p=[0.05, 0.3, 0.4, 0.25])) for _ in range(k))


# name -> generator(rng, singular) -> (args, kwargs); arrays are float64 unless cast
FNS: dict = {}


def fn(name):
    def deco(g):
        FNS[name] = g
        return g
    return deco


def _square(rng, bad):
    b, n = _batch(rng), int(rng.integers(0, 5))
    if bad and rng.random() < 0.5 and n:
        a = rng.standard_normal(b + (n, n))
        a[..., 0, :] = 0.0                     # singular
        return a
    if bad:
        return rng.standard_normal(b + (n, n + 1))   # not square
    return _well(rng, b, n)


@fn("solve")
def _solve(rng, bad):
    a = _square(rng, bad)
    n = a.shape[-1]
    if rng.random() < 0.4:
        bshape = (n,)
    else:
        bshape = (1,) * (a.ndim - 2) + (n, int(rng.integers(1, 3))) if rng.random() < 0.3 \
            else a.shape[:-2] + (n, int(rng.integers(1, 3)))
    if bad and rng.random() < 0.3:
        bshape = bshape[:-1] + (bshape[-1] + 1,)
    kw = {"left": False} if rng.random() < 0.2 and len(bshape) >= 2 and \
        bshape[-1] == bshape[-2] else {}
    return [a, rng.standard_normal(bshape)], kw


for _name in ("inv", "det", "slogdet", "matrix_exp", "inv_ex"):
    FNS[_name] = lambda rng, bad: ([_square(rng, bad)], {})


@fn("cholesky")
def _chol(rng, bad):
    b, n = _batch(rng), int(rng.integers(0, 5))
    a = _sym_pd(rng, b, n) if not bad else -_sym_pd(rng, b, max(n, 1))
    return [a], ({"upper": True} if rng.random() < 0.3 else {})


@fn("eigh")
def _eigh(rng, bad):
    return [_sym_pd(rng, _batch(rng), int(rng.integers(0, 5)))], \
        ({"UPLO": "U"} if rng.random() < 0.3 else {})


@fn("eigvalsh")
def _eigvalsh(rng, bad):
    return _eigh(rng, bad)


def _rect(rng, bad):
    b = _batch(rng)
    m, n = int(rng.integers(0, 5)), int(rng.integers(0, 5))
    return rng.standard_normal(b + (m, n))


@fn("qr")
def _qr(rng, bad):
    return [_rect(rng, bad)], {"mode": ["reduced", "complete", "r"][int(rng.integers(3))]}


@fn("svd")
def _svd(rng, bad):
    return [_rect(rng, bad)], {"full_matrices": bool(rng.random() < 0.3)}


@fn("svdvals")
def _svdvals(rng, bad):
    return [_rect(rng, bad)], {}


@fn("pinv")
def _pinv(rng, bad):
    return [_rect(rng, bad)], {}


@fn("lstsq")
def _lstsq(rng, bad):
    b = _batch(rng)
    n = int(rng.integers(1, 4))
    m = n + int(rng.integers(0, 3))
    a = rng.standard_normal(b + (m, n)) + np.eye(m, n) * 3
    return [a, rng.standard_normal(b + (m, int(rng.integers(1, 3))))], {}


@fn("matrix_power")
def _mpow(rng, bad):
    return [_square(rng, bad)], {"n": int(rng.integers(-2, 4))}


@fn("solve_triangular")
def _tri(rng, bad):
    a = _well(rng, _batch(rng), int(rng.integers(1, 4)))
    n = a.shape[-1]
    return [a, rng.standard_normal(a.shape[:-2] + (n, 2))], \
        {"upper": bool(rng.random() < 0.5), "unitriangular": bool(rng.random() < 0.2)}


@fn("vector_norm")
def _vnorm(rng, bad):
    x = rng.standard_normal(_batch(rng) + (int(rng.integers(0, 4)),))
    kw = {"ord": [2, 1, 0, 3, np.inf, -np.inf, 0.5, -1][int(rng.integers(8))]}
    if x.ndim > 1 and rng.random() < 0.5:
        kw["dim"] = (0, -1) if rng.random() < 0.5 else -1
    return [x], kw


@fn("matrix_norm")
def _mnorm(rng, bad):
    x = _rect(rng, bad)
    return [x], {"ord": ["fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf][int(rng.integers(8))]}


@fn("norm")
def _lnorm(rng, bad):
    x = _rect(rng, bad)
    kw = {}
    if rng.random() < 0.5:
        kw["ord"] = ["fro", "nuc", 1, 2, np.inf][int(rng.integers(5))]
    return [x], kw


@fn("cond")
def _cond(rng, bad):
    return [_square(rng, False)], {"p": [None, 1, "fro", np.inf][int(rng.integers(4))]}


@fn("matrix_rank")
def _rank(rng, bad):
    return [_square(rng, True) if rng.random() < 0.5 else _rect(rng, bad)], {}


@fn("multi_dot")
def _mdot(rng, bad):
    dims = [int(rng.integers(1, 4)) for _ in range(int(rng.integers(3, 5)))]
    mats = [rng.standard_normal((dims[i], dims[i + 1])) for i in range(len(dims) - 1)]
    return [mats], {}


NONDIFF = {"matrix_rank", "inv_ex"}


def _lib_arr(lib, a, grad):
    if isinstance(a, list):
        return [_lib_arr(lib, x, grad) for x in a]
    t = lib.tensor(a)
    return t.requires_grad_(True) if grad else t


def _invariant(name, out, kw):
    """The outputs to compare: decompositions up to the sign of each vector."""
    if name == "qr":
        q, r = out
        return (q.abs(), r.abs()) if kw.get("mode") != "r" else (r.abs(),)
    if name == "svd":
        u, s, vh = out
        k = s.shape[-1]
        return (u[..., :k].abs(), s, vh[..., :k, :].abs())
    if name == "eigh":
        return (out[0], out[1].abs())
    if name == "slogdet":
        return tuple(out)
    if name in ("inv_ex",):
        return tuple(out)
    if name == "lstsq":
        return (out.solution,)
    return out


def _loss(lib, name, out, kw):
    """A scalar whose gradient does not depend on the vectors' signs."""
    if name == "qr":
        q, r = out
        return ((q @ r) * 1.5).sum() if kw.get("mode") != "r" else r.abs().sum()
    if name == "svd":
        return (out[1] * lib.arange(1.0, out[1].shape[-1] + 1, dtype=lib.float64)).sum()
    if name == "eigh":
        v = out[1]
        return (out[0] * 0.7).sum() + (v * v).sum()
    if name == "slogdet":
        return out[1].sum()
    if name == "lstsq":
        return out.solution.sum()
    w = np.random.default_rng(3).standard_normal(tuple(out.shape))
    return (out * lib.tensor(w)).sum()


def run(lib, name, args, kw, grad):
    largs = [_lib_arr(lib, a, grad) for a in args]
    f = getattr(lib.linalg, name)
    out = f(*largs, **kw)
    if isinstance(out, tuple):
        out = type(out)(*out) if hasattr(out, "_fields") else tuple(out)
    inv = _invariant(name, out, kw)
    g = None
    if grad:
        leaves = [x for a in largs for x in (a if isinstance(a, list) else [a])]
        loss = _loss(lib, name, out, kw)
        gs = lib.autograd.grad(loss, leaves, allow_unused=True)
        g = tuple(lib.zeros(x.shape, dtype=x.dtype) if gi is None else gi
                  for gi, x in zip(gs, leaves))
    return inv, g


def gen_call(seed, i, names=None):
    rng = np.random.default_rng([seed, i])
    pool = names or list(FNS)
    name = pool[int(rng.integers(len(pool)))]
    bad = rng.random() < 0.15
    args, kw = FNS[name](rng, bad)
    dt = "float64" if rng.random() < 0.7 else "float32"
    if dt == "float32":
        args = [[m.astype(np.float32) for m in a] if isinstance(a, list) else a.astype(np.float32)
                for a in args]
    return name, args, kw


def spell(name, args, kw):
    def s(a):
        return "[" + ", ".join(s(x) for x in a) + "]" if isinstance(a, list) else \
            f"{a.dtype}{list(a.shape)}"
    return f"linalg.{name}({', '.join(s(a) for a in args)}" + \
        "".join(f", {k}={v!r}" for k, v in kw.items()) + ")"


def classify(seed, i, names=None):
    name, args, kw = gen_call(seed, i, names)
    spelled = spell(name, args, kw)
    flat = [x for a in args for x in (a if isinstance(a, list) else [a])]
    grad = all(x.dtype == np.float64 and x.size for x in flat) and name not in NONDIFF
    (t, terr), (c, cerr) = quiet_outcomes(run, name, args, kw, grad)
    if terr is not None and grad:
        # torch refusing the backward alone (qr mode='r', its own cond gradient bug, a
        # singular input) is compared without gradients
        (t, terr), (c, cerr) = quiet_outcomes(run, name, args, kw, False)
    got = error_outcome(terr, cerr)
    if got is not None:
        return got[0], spelled, got[1]
    f32 = flat[0].dtype == np.float32
    rt = 1e-3 if f32 else 1e-7
    got = diff_results(t[0], c[0], rt, rt)
    if got:
        return got[0], spelled, got[1]
    if t[1] is not None:
        got = diff_results(t[1], c[1], 1e-6, 1e-6, "grad")
        if got:
            return "grad", spelled, got[1]
    return "equal", spelled, ""


def fuzz(n, seed=0, start=0, names=None):
    return [(i,) + classify(seed, i, names) for i in range(start, start + n)]


def main(argv=None):
    cli(__doc__, fuzz, ALL_CLASSES, "calls", 2000, names_flag="fns", argv=argv,
        group=lambda s: s.split("(")[0])


if __name__ == "__main__":
    main()

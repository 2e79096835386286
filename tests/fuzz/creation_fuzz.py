"""Differential tensor-creation fuzzer: deterministic creation functions and conversions run in
PyTorch (the oracle) and in Cadenza with random arguments, compared by value, shape and dtype.

    python tests/fuzz/creation_fuzz.py -n 5000 --seed 0

Covers ``tensor``/``as_tensor`` of nested Python data (bools, ints, floats, mixed, empty,
NumPy scalars and arrays), ``arange`` (float steps, negative steps, dtype inference),
``linspace``/``logspace``, ``full``/``zeros``/``ones``/``empty``-shapes, ``eye``, ``*_like``
and ``new_*``, ``tril_indices``/``triu_indices``, dtype conversions (``to``, ``type``,
``float()``/``long()``/``bool()`` on values with NaN/inf/negatives for integer targets is
skipped: undefined in C), ``tolist``/``item`` round trips.
"""
from __future__ import annotations

import warnings

import numpy as np

from _diff import ORDINARY, cadenza, cli, error_outcome, torch  # noqa: E402

ORDINARY = ORDINARY + (OverflowError,)
BAD_CLASSES = ("value", "shape", "dtype", "accepted_bad", "rejected", "crash")
ALL_CLASSES = ("equal", "value", "shape", "dtype", "accepted_bad", "rejected", "exc_class",
               "crash", "skip")
DTYPES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]


class D:
    """A dtype argument resolved per library."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"torch.{self.name}"


def _res(lib, a):
    if isinstance(a, D):
        return getattr(lib, a.name)
    if isinstance(a, (list, tuple)):
        return type(a)(_res(lib, x) for x in a)
    if isinstance(a, dict):
        return {k: _res(lib, v) for k, v in a.items()}
    return a


def _number(rng, kinds="bif"):
    k = kinds[int(rng.integers(len(kinds)))]
    if k == "b":
        return bool(rng.random() < 0.5)
    if k == "i":
        return int(rng.integers(-5, 6))
    return float(np.round(rng.standard_normal() * 3, 3))


def _nested(rng, shape, kinds):
    if not shape:
        return _number(rng, kinds)
    return [_nested(rng, shape[1:], kinds) for _ in range(shape[0])]


def gen_call(seed, i):
    rng = np.random.default_rng([seed, i])
    c = lambda seq: seq[int(rng.integers(len(seq)))]  # noqa: E731
    kind = c(["tensor", "tensor", "arange", "arange", "linspace", "logspace", "full", "eye",
              "like", "new", "tri_indices", "convert", "numpy", "tolist"])
    dt = D(c(DTYPES)) if rng.random() < 0.4 else None
    kw = {} if dt is None else {"dtype": dt}
    if kind == "tensor":
        shape = tuple(int(s) for s in rng.integers(0, 3, size=int(rng.integers(0, 3))))
        kinds = c(["b", "i", "f", "bi", "if", "bif"])
        data = _nested(rng, shape, kinds)
        if rng.random() < 0.2:
            data = c([np.float32(1.5), np.int64(3), np.bool_(True), np.float16(2.0)])
        return "tensor", (data,), kw
    if kind == "arange":
        if rng.random() < 0.5:
            args = (int(rng.integers(-5, 6)), int(rng.integers(-5, 10)),
                    c([1, 2, 3, -1, -2]))
        else:
            args = (float(np.round(rng.uniform(-3, 3), 2)), float(np.round(rng.uniform(-3, 5), 2)),
                    c([0.1, 0.3, 0.25, 0.7, -0.3, 1.5]))
        n = int(rng.integers(1, 4))
        return "arange", args[:n] if n < 3 else args, kw
    if kind in ("linspace", "logspace"):
        args = (float(np.round(rng.uniform(-3, 3), 2)), c([1, 2.5, -1, 0]),
                int(rng.integers(0, 7)))
        if kind == "logspace" and rng.random() < 0.4:
            kw["base"] = c([2.0, 10.0, 0.5])
        return kind, args, kw
    if kind == "full":
        shape = tuple(int(s) for s in rng.integers(0, 3, size=int(rng.integers(0, 3))))
        return "full", (shape, _number(rng)), kw
    if kind == "eye":
        args = (int(rng.integers(0, 4)),) + ((int(rng.integers(0, 4)),) if rng.random() < 0.5
                                             else ())
        return "eye", args, kw
    if kind in ("like", "new"):
        base = (D(c(DTYPES)), tuple(int(s) for s in rng.integers(1, 3, size=2)))
        fn = c(["zeros", "ones", "full", "empty"])
        return kind + "_" + fn, (base, _number(rng) if fn == "full" else None), kw
    if kind == "tri_indices":
        return c(["tril_indices", "triu_indices"]), (int(rng.integers(0, 4)),
                                                      int(rng.integers(0, 4)),
                                                      int(rng.integers(-2, 3))), {}
    if kind == "convert":
        src = D(c(DTYPES))
        vals = rng.uniform(0, 5, size=int(rng.integers(0, 5))).round(2)
        how = c(["to", "type", "method"])
        return "convert", (src, vals.tolist(), D(c(DTYPES)), how), {}
    if kind == "numpy":
        a = rng.standard_normal(tuple(int(s) for s in rng.integers(0, 3, size=2)))
        npd = c(["float32", "float64", "int64", "int32", "uint8", "bool", "float16", "int16"])
        return c(["from_numpy", "as_tensor", "tensor"]), (a.astype(npd),), \
            kw if rng.random() < 0.5 else {}
    shape = tuple(int(s) for s in rng.integers(0, 3, size=int(rng.integers(0, 3))))
    return "tolist", (D(c(DTYPES)), _nested(rng, shape, "if")), {}


def run(lib, name, args, kw):
    args, kw = _res(lib, args), _res(lib, kw)
    if name in ("tensor", "arange", "linspace", "logspace", "full", "eye", "from_numpy",
                "as_tensor", "tril_indices", "triu_indices"):
        if name == "from_numpy":
            return lib.from_numpy(args[0].copy())
        a = args[0].copy() if isinstance(args[0], np.ndarray) else args[0]
        return getattr(lib, name)(a, *args[1:], **kw)
    if name.startswith(("like_", "new_")):
        (dt, shape), fill = args[0], args[1]
        base = lib.zeros(shape, dtype=dt)
        fn = name.split("_", 1)[1]
        if name.startswith("like_"):
            f = getattr(lib, fn + "_like")
            out = f(base, fill, **kw) if fn == "full" else f(base, **kw)
        else:
            f = getattr(base, "new_" + fn)
            out = f((2, 1), fill, **kw) if fn == "full" else f((2, 1), **kw)
        return out if fn != "empty" else (out.shape, out.dtype)
    if name == "convert":
        src, vals, dst, how = args
        t = lib.tensor(vals, dtype=src)
        if how == "to":
            return t.to(dst)
        if how == "type":
            return t.type(dst)
        meth = {"float32": "float", "float64": "double", "float16": "half", "int64": "long",
                "int32": "int", "int16": "short", "int8": "char", "uint8": "byte",
                "bool": "bool"}[str(dst).split(".")[-1]]
        return getattr(t, meth)()
    if name == "tolist":
        dt, data = args
        t = lib.tensor(data, dtype=dt)
        return ("tolist", t.tolist(), t.item() if t.numel() == 1 else None)
    raise ValueError(name)


def _norm(out):
    if isinstance(out, tuple) and out and out[0] == "tolist":
        return out
    if isinstance(out, tuple):
        return tuple(str(x).split(".")[-1] if not isinstance(x, tuple) else tuple(x)
                     for x in out)
    return out


def classify(seed, i):
    name, args, kw = gen_call(seed, i)
    spelled = f"{name}{args!r} {kw!r}"[:200]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            t = run(torch, name, args, kw)
            terr = None
        except Exception as e:  # noqa: BLE001
            terr = e
        try:
            c = run(cadenza, name, args, kw)
            cerr = None
        except Exception as e:  # noqa: BLE001
            cerr = e
    if terr is not None and "cannot be interpreted as an integer" in str(terr):
        # torch refuses a NumPy float/bool scalar with an integer dtype (it converts any
        # other number); Cadenza converts it
        return "skip", spelled, "torch quirk: NumPy scalar with an integer dtype"
    got = error_outcome(terr, cerr, missing=False, ordinary=ORDINARY)
    if got is not None:
        return got[0], spelled, got[1]
    t, c = _norm(t), _norm(c)
    if isinstance(t, tuple):
        if t[0] == "tolist":
            same = t == c and all(type(a) is type(b) for a, b in zip(
                _leaves(t[1]) + [t[2]], _leaves(c[1]) + [c[2]]))
            return ("equal", spelled, "") if same else ("value", spelled, f"{t} vs {c}")
        return ("equal", spelled, "") if t == c else ("shape", spelled, f"{t} vs {c}")
    if str(t.dtype).split(".")[-1] != str(c.dtype).split(".")[-1]:
        return "dtype", spelled, f"torch {t.dtype} cadenza {c.dtype}"
    if tuple(t.shape) != tuple(c.shape):
        return "shape", spelled, f"torch {tuple(t.shape)} cadenza {tuple(c.shape)}"
    tv = t.float().numpy() if t.dtype == torch.bfloat16 else t.numpy()
    cv = c.numpy()
    if not np.allclose(tv.astype(np.float64), cv.astype(np.float64), rtol=1e-6, atol=1e-7,
                       equal_nan=True):
        return "value", spelled, f"torch {tv.ravel()[:6]} cadenza {cv.ravel()[:6]}"
    return "equal", spelled, ""


def _leaves(x):
    if isinstance(x, list):
        return [y for v in x for y in _leaves(v)]
    return [x]


def fuzz(n, seed=0, start=0):
    return [(i,) + classify(seed, i) for i in range(start, start + n)]


def main(argv=None):
    cli(__doc__, fuzz, ALL_CLASSES, "calls", 3000, argv=argv)


if __name__ == "__main__":
    main()

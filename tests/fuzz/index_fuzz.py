"""Differential indexing fuzzer: random ``x[index]`` reads and ``x[index] = value`` writes run in
PyTorch (the oracle) and in Cadenza, compared.

    python tests/fuzz/index_fuzz.py -n 5000 --seed 0 [--examples 3]

An index is a random mix of ints (negative too), slices (steps, negative bounds, empty),
``None``, ``...``, boolean masks, integer index tensors and lists (broadcasting against each
other, separated by slices or not: the rule that moves advanced dimensions to the front), and
0-d index tensors. Reads compare the value and the float64 gradient of ``sum(x[idx] * w)``;
writes compare the result of ``y = x.clone(); y[idx] = v`` for a broadcastable value (tensor or
number), its gradient to x and v, and ``index_put_(..., accumulate=True)`` with duplicates.
Classes as in op_fuzz: equal / value / shape / dtype / grad / accepted_bad / rejected /
exc_class / crash / skip.
"""
from __future__ import annotations

import warnings
import numpy as np

from _diff import cadenza, cli, error_outcome, torch  # noqa: E402

BAD_CLASSES = ("value", "shape", "dtype", "grad", "accepted_bad", "crash", "rejected")
ALL_CLASSES = ("equal", "value", "shape", "dtype", "grad", "accepted_bad", "rejected",
               "exc_class", "crash", "skip")
KNOWN: dict[str, str] = {}


class IntIdx:
    """An integer index tensor (or list when ``as_list``)."""

    def __init__(self, a, as_list=False):
        self.a, self.as_list = np.asarray(a, dtype=np.int64), as_list

    def __repr__(self):
        return f"{'list' if self.as_list else 'long'}{self.a.tolist()}"


class Mask:
    def __init__(self, a):
        self.a = np.asarray(a, dtype=bool)

    def __repr__(self):
        return f"mask{list(self.a.shape)}"


def _resolve(lib, item):
    if isinstance(item, tuple):
        return tuple(_resolve(lib, i) for i in item)
    if isinstance(item, IntIdx):
        return item.a.tolist() if item.as_list else lib.tensor(item.a)
    if isinstance(item, Mask):
        return lib.tensor(item.a)
    return item


def gen_index(rng, shape):
    """A random index for a tensor of ``shape`` (mostly valid, sometimes out of range)."""
    items = []
    dim = 0
    rank = len(shape)
    adv_shape = tuple(int(n) for n in rng.integers(1, 3, size=int(rng.integers(0, 3))))
    used_ellipsis = False
    while dim < rank or (rng.random() < 0.15 and len(items) < rank + 2):
        kind = rng.choice(["int", "slice", "slice", "none", "ellipsis", "long", "list", "mask",
                           "scalar_t"], p=[.17, .2, .13, .08, .05, .14, .08, .09, .06])
        if dim >= rank and kind not in ("none", "ellipsis"):
            break
        n = shape[dim] if dim < rank else 0
        bad = rng.random() < 0.03
        if kind == "int":
            items.append(int(rng.integers(-n - bad, n + bad)) if n or bad else 0)
            dim += 1
        elif kind == "slice":
            def bound():
                return None if rng.random() < 0.4 else int(rng.integers(-n - 2, n + 3))
            step = None if rng.random() < 0.6 else int(rng.integers(1, 4))
            items.append(slice(bound(), bound(), step))
            dim += 1
        elif kind == "none":
            items.append(None)
        elif kind == "ellipsis":
            if used_ellipsis:
                continue
            used_ellipsis = True
            items.append(Ellipsis)
            # the ellipsis eats some of the remaining dims; the rest of the index addresses
            # the trailing ones
            dim = rank - int(rng.integers(0, rank - dim + 1))
        elif kind in ("long", "list"):
            hi = max(n, 1)
            a = rng.integers(-hi, hi, size=adv_shape if rng.random() < 0.8 else (
                int(rng.integers(0, 3)),))
            if bad and a.size:
                a = a.copy()
                a.flat[0] = n
            items.append(IntIdx(a, as_list=kind == "list" and a.ndim == 1 and a.size > 0))
            dim += 1
        elif kind == "mask":
            k = 1 if rng.random() < 0.7 or dim + 1 >= rank else 2
            items.append(Mask(rng.random(shape[dim:dim + k]) < 0.5))
            dim += k
        elif kind == "scalar_t":
            items.append(IntIdx(np.int64(rng.integers(-max(n, 1), max(n, 1)))))
            dim += 1
    if len(items) == 1 and rng.random() < 0.5:
        return items[0]
    return tuple(items)


def gen_case(seed, i):
    rng = np.random.default_rng([seed, i])
    rank = int(rng.integers(0, 5))
    shape = tuple(int(s) for s in rng.integers(0 if rng.random() < 0.05 else 1, 5, size=rank))
    x = rng.standard_normal(shape)
    idx = gen_index(rng, shape)
    mode = rng.choice(["get", "get", "set", "put"])
    value = None
    if mode == "set":
        r = rng.random()
        value = float(rng.standard_normal()) if r < 0.3 else ("bcast", rng)
    return mode, x, idx, value, rng


def _with_value(lib, target_shape, value):
    """The value for a write: a number, or an array broadcastable to the target's shape."""
    if not isinstance(value, np.ndarray):
        return value
    return lib.tensor(value, requires_grad=True)


def _value_for(rng, target_shape):
    shape = list(target_shape)
    # drop leading dims, set some to 1: still broadcastable
    drop = int(rng.integers(0, len(shape) + 1)) if shape else 0
    shape = shape[drop:]
    shape = [1 if rng.random() < 0.3 else s for s in shape]
    return rng.standard_normal(shape)


def run(lib, mode, x, idx, value, w_rng_seed):
    xt = lib.tensor(x, requires_grad=True)
    index = _resolve(lib, idx)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if mode == "get":
            out = xt[index]
            w = np.random.default_rng(w_rng_seed).standard_normal(tuple(out.shape))
            (out * lib.tensor(w)).sum().backward()
            return out.detach().numpy(), xt.grad, None
        if mode == "set":
            y = xt.clone()
            v = _with_value(lib, None, value)
            y[index] = v
            w = np.random.default_rng(w_rng_seed).standard_normal(tuple(y.shape))
            (y * lib.tensor(w)).sum().backward()
            vg = v.grad if hasattr(v, "grad") else None
            return y.detach().numpy(), xt.grad, vg
        # put: index_put_ with accumulate on a tuple of integer index tensors
        y = xt.clone()
        v = _with_value(lib, None, value)
        y.index_put_(index, v, accumulate=True)
        w = np.random.default_rng(w_rng_seed).standard_normal(tuple(y.shape))
        (y * lib.tensor(w)).sum().backward()
        return y.detach().numpy(), xt.grad, v.grad


def _np(t):
    if t is None:
        return None
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def _same(a, b):
    a, b = _np(a), _np(b)
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and np.allclose(a, b, rtol=1e-12, atol=1e-12)


def classify(seed, i):
    mode, x, idx, value, rng = gen_case(seed, i)
    # the write's value needs the target's shape: take it from torch's read of the index
    if mode == "set" and isinstance(value, tuple):
        try:
            target = tuple(torch.tensor(x)[_resolve(torch, idx)].shape)
        except Exception:  # noqa: BLE001 - a bad index: any value will do
            target = ()
        value = _value_for(rng, target)
    if mode == "put":
        ndim = x.ndim
        if ndim == 0:
            mode = "get"
        else:
            k = int(rng.integers(1, ndim + 1))
            n_idx = int(rng.integers(1, 6))
            idx = tuple(IntIdx(rng.integers(0, x.shape[d], size=n_idx)) if x.shape[d] else
                        IntIdx(np.zeros(0, dtype=np.int64)) for d in range(k))
            target = (n_idx if all(x.shape[d] for d in range(k)) else 0,) + x.shape[k:]
            value = _value_for(rng, target)
    try:
        t = run(torch, mode, x, idx, value, i)
        terr = None
    except Exception as e:  # noqa: BLE001 - the oracle's refusal is data
        terr = e
    try:
        c = run(cadenza, mode, x, idx, value, i)
        cerr = None
    except Exception as e:  # noqa: BLE001
        cerr = e
    shown = list(value.shape) if isinstance(value, np.ndarray) else value
    spelled = f"{mode} x{list(x.shape)}[{idx!r}]" + ("" if value is None else f" = {shown}")
    if terr is None and isinstance(cerr, IndexError) and (
            t[0].size == 0 or (mode != "get" and 0 in _read_shape(x, idx))):
        # torch checks index ranges only for elements it reads or writes: with an empty
        # slice beside them an out-of-range index passes; Cadenza refuses it
        return "skip", spelled, "out-of-range index beside an empty slice"
    got = error_outcome(terr, cerr, missing=False)
    if got is not None:
        return got[0], spelled, got[1]
    (tv, tg, tvg), (cv, cg, cvg) = t, c
    if tv.shape != cv.shape:
        return "shape", spelled, f"torch {tv.shape} cadenza {cv.shape}"
    if not _same(tv, cv):
        return "value", spelled, "values differ"
    if not _same(tg, cg):
        return "grad", spelled, "x grad differs"
    if not _same(tvg, cvg):
        return "grad", spelled, "value grad differs"
    return "equal", spelled, ""


def _read_shape(x, idx):
    try:
        return tuple(torch.tensor(x)[_resolve(torch, idx)].shape)
    except Exception:  # noqa: BLE001
        return ()


def fuzz(n, seed=0, start=0):
    return [(i,) + classify(seed, i) for i in range(start, start + n)]


def main(argv=None):
    cli(__doc__, fuzz, ALL_CLASSES, "cases", 2000, argv=argv)


if __name__ == "__main__":
    main()

"""What the differential fuzzers in this folder share: the oracle imports, the classification of
a pair of outcomes where either side raised, the printed summary and the command line.

Each fuzzer produces rows ``(index, class, spelled call, detail)``; ``error_outcome`` decides
the class when torch or Cadenza raised:

  skip          torch raised something that is not an ordinary error (its own failure)
  missing       Cadenza lacks the name or the argument (AttributeError, unexpected keyword)
  crash         Cadenza raised something that is not an ordinary error
  rejected      torch ran it, Cadenza raised
  exc_class     both raised, classes unrelated
  equal         both raised related classes ("both raise")
  accepted_bad  torch raised, Cadenza ran it
"""
from __future__ import annotations

import argparse
import collections
import os
import re
import sys
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import torch  # noqa: E402

import cadenza  # noqa: E402

torch.set_num_threads(1)

ORDINARY = (RuntimeError, ValueError, TypeError, IndexError, NotImplementedError)


def error_outcome(terr, cerr, missing=True, ordinary=ORDINARY):
    """(class, detail) when either side raised, else None (both ran: compare the results).
    ``ordinary``: the exception classes that count as a refusal rather than a failure."""
    if terr is not None and not isinstance(terr, ordinary):
        return "skip", f"torch {type(terr).__name__}: {str(terr)[:100]}"
    if cerr is not None:
        msg = f"{type(cerr).__name__}: {str(cerr)[:160]}"
        if missing and (isinstance(cerr, AttributeError) or "unexpected keyword" in str(cerr)):
            return "missing", msg
        if not isinstance(cerr, ordinary):
            return "crash", msg
        if terr is None:
            return "rejected", msg
        if not isinstance(cerr, type(terr)) and not isinstance(terr, type(cerr)):
            return "exc_class", f"torch {type(terr).__name__}: {str(terr)[:80]} / {msg}"
        return "equal", "both raise"
    if terr is not None:
        return "accepted_bad", f"torch {type(terr).__name__}: {str(terr)[:120]}"
    return None


def lenient(terr, cerr):
    """Whether torch's argument parser refused a Python number (or another form) where it wants
    a Tensor while Cadenza ran the call: a wider signature, not a wrong value."""
    return isinstance(terr, TypeError) and cerr is None and (
        "must be Tensor" in str(terr) or "invalid combination" in str(terr))


def outcomes(run, *args):
    """(result, exception) of ``run(torch, *args)`` and of ``run(cadenza, *args)``."""
    out = []
    for lib in (torch, cadenza):
        try:
            out.append((run(lib, *args), None))
        except Exception as e:  # noqa: BLE001 - a refusal is data
            out.append((None, e))
    return out


def summarize(rows, seed, classes, unit="calls", examples=4, group=None, out=sys.stdout):
    """Counts per class, then up to ``examples`` rows of each bad class (per ``group(spelled)``
    when given: one function's examples do not hide another's)."""
    by = collections.Counter(r[1] for r in rows)
    print(f"{len(rows)} {unit}, seed {seed}: " +
          "  ".join(f"{c}={by[c]}" for c in classes if by.get(c)), file=out)
    for c in classes:
        if c in ("equal", "skip") or not by.get(c):
            continue
        print(f"\n== {c} ({by[c]})", file=out)
        seen = collections.Counter()
        for i, cls, spelled, detail in rows:
            key = group(spelled) if group else None
            if cls == c and seen[key] < examples:
                seen[key] += 1
                print(f"  [{i}] {spelled}\n      -> {detail}", file=out)


def cli(doc, fuzz, classes, unit, default_n, names_flag=None, group=None, argv=None):
    """The command line every fuzzer has: -n, --seed, --start, --examples (and a comma list of
    names to restrict to, when ``names_flag`` is given)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("-n", type=int, default=default_n)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--examples", type=int, default=4)
    if names_flag:
        ap.add_argument(f"--{names_flag}", default=None, help="comma list to restrict to")
    a = ap.parse_args(argv)
    kw = {}
    if names_flag and getattr(a, names_flag):
        kw["names"] = getattr(a, names_flag).split(",")
    rows = fuzz(a.n, a.seed, start=a.start, **kw)
    summarize(rows, a.seed, classes, unit, a.examples, group)


def dtname(x):
    """'float32' for a torch or Cadenza tensor or dtype."""
    return str(getattr(x, "dtype", x)).split(".")[-1]


def to_numpy(x):
    """A torch or Cadenza tensor's values as a NumPy array (bfloat16 via float32)."""
    x = x.detach()
    if dtname(x) == "bfloat16":
        x = x.float()
    return np.asarray(x.resolve_conj().numpy() if isinstance(x, torch.Tensor) else x.numpy())


def diff_results(t, c, rtol=1e-5, atol=1e-6, where="output"):
    """None when the torch result ``t`` and the Cadenza result ``c`` agree (nested tuples and
    lists of tensors and Python numbers; dtype, shape, values with NaN == NaN), else
    (class, detail) with class "dtype", "shape" or "value"."""
    if isinstance(t, (tuple, list)):
        if not isinstance(c, (tuple, list)) or len(t) != len(c):
            return "shape", f"{where}: torch {type(t).__name__} of {len(t)}, cadenza {c!r:.80}"
        for j, (a, b) in enumerate(zip(t, c)):
            got = diff_results(a, b, rtol, atol, f"{where}[{j}]")
            if got:
                return got
        return None
    if isinstance(t, torch.Tensor):
        if not isinstance(c, cadenza.Tensor):
            return "dtype", f"{where}: cadenza returned {type(c).__name__}"
        if dtname(t) != dtname(c):
            return "dtype", f"{where}: torch {dtname(t)} cadenza {dtname(c)}"
        if tuple(t.shape) != tuple(c.shape):
            return "shape", f"{where}: torch {tuple(t.shape)} cadenza {tuple(c.shape)}"
        a, b = to_numpy(t), to_numpy(c)
        if a.dtype.kind in "fc" or b.dtype.kind in "fc":
            with np.errstate(all="ignore"):
                bad = ~np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
        else:
            bad = a != b
        if np.any(bad):
            k = int(np.argmax(bad.reshape(-1)))
            return "value", (f"{where} at flat {k}: torch {a.reshape(-1)[k]!r} cadenza "
                             f"{b.reshape(-1)[k]!r} ({int(bad.sum())} of {bad.size} differ)")
        return None
    if isinstance(c, cadenza.Tensor) or (type(t) is not type(c) and not (
            isinstance(t, (int, float)) and isinstance(c, (int, float)))):
        return "dtype", f"{where}: torch {type(t).__name__} cadenza {type(c).__name__}"
    if isinstance(t, (float, complex)) and t != c:
        if not (np.isclose(t, c, rtol=rtol, atol=atol, equal_nan=True)):
            return "value", f"{where}: torch {t!r} cadenza {c!r}"
    elif not isinstance(t, (float, complex)) and t != c:
        return "value", f"{where}: torch {t!r} cadenza {c!r}"
    return None


def both(fn):
    """fn(torch) and fn(cadenza) with warnings silenced: the results, or the exception class
    each raised (the fix tests compare refusals by class)."""
    out = []
    for lib in (torch, cadenza):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out.append(fn(lib))
        except Exception as e:  # noqa: BLE001 - the refusal is compared
            out.append(type(e))
    return out


def quiet_outcomes(run, *args):
    """``outcomes`` with warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return outcomes(run, *args)


def fails(rows, bad_classes, known=()):
    """The CI slices' message: rows (index, class, spelled, detail) in a bad class whose
    spelled call matches none of the KNOWN regular expressions (re.search); '' when none."""
    bad = [r for r in rows if r[1] in bad_classes and not any(re.search(k, r[2]) for k in known)]
    return "\n".join(f"[case {i}] {cls}: {spelled}\n    -> {detail}"
                     for i, cls, spelled, detail in bad[:20])


def check_slice(fuzzer, seed, n, min_equal=0.5):
    """A CI slice: run ``fuzzer.fuzz(n, seed)``; fail (AssertionError) on any row in one of
    its BAD_CLASSES outside its KNOWN quirks, or when under ``min_equal`` of the rows agree
    (the generator drifted into calls that all raise)."""
    rows = fuzzer.fuzz(n, seed)
    msg = fails(rows, fuzzer.BAD_CLASSES, fuzzer.KNOWN)
    assert not msg, f"{fuzzer.__name__} mismatches (seed {seed}):\n{msg}"
    equal = sum(1 for r in rows if r[1] == "equal")
    assert equal > min_equal * n, f"only {equal} of {n} calls agree"
    return rows


def pick_layout(rng, a):
    """(kind, a) for a random ``lay_out`` of the NumPy array ``a`` (one that fits its rank);
    for "expanded<d>" ``a`` comes back constant along d (same subclass)."""
    kind = str(rng.choice(["channels_last", "transposed", "expanded", "step"]))
    if kind == "channels_last" and a.ndim not in (4, 5):
        kind = "transposed"
    if kind == "transposed" and a.ndim < 2:
        kind = "step"
    big = [d for d in range(a.ndim) if a.shape[d] > 1]
    if kind == "expanded" and not big:
        kind = "step"
    if kind != "expanded":
        return kind, a
    d = big[int(rng.integers(len(big)))]
    b = np.broadcast_to(np.take(a, [0], axis=d), a.shape).copy()
    return f"expanded{d}", (b.view(type(a)) if type(a) is not np.ndarray else b)


def lay_out(lib, t, kind):
    """t (contiguous) as a view of another layout with the same values: "channels_last"
    (4-d/5-d), "transposed" (all dims reversed), "expanded<d>" (dim d at stride 0: t's values
    must be constant along it), "step" (every other element of a twice-as-long last dim)."""
    if kind == "channels_last":
        return t.contiguous(memory_format=lib.channels_last if t.ndim == 4 else
                            lib.channels_last_3d)
    if kind == "transposed":
        rev = tuple(range(t.ndim))[::-1]
        return t.permute(rev).contiguous().permute(rev)
    if kind.startswith("expanded"):
        d = int(kind[len("expanded"):])
        return t.narrow(d, 0, 1).clone().expand(tuple(t.shape))
    if kind == "step":
        return lib.repeat_interleave(t, 2, dim=-1)[..., ::2]
    return t


def grad_strides(t):
    """t's strides, None for size-1 dims (any stride is valid there)."""
    return tuple(st if n > 1 else None for st, n in zip(t.stride(), t.shape))


def dense(t):
    """Whether t's elements are non-overlapping and dense (no stride 0 beside size > 1)."""
    return all(st != 0 or n <= 1 for st, n in zip(t.stride(), t.shape))

"""Differential dtype-promotion fuzzer: every binary op x every dtype pair x Python scalars
(bool, int, float, complex) and 0-d tensors, in function, method, operator (reflected too)
and in-place form, run in PyTorch (the oracle) and Cadenza; result dtype, values and the
refusals (in-place results that would downcast, bool subtraction, integer powers...) compared.

    python tests/fuzz/promo_fuzz.py -n 20000 --seed 0

torch's category rule: a dimensioned tensor's dtype wins over a 0-d tensor's and a Python
scalar's of the same or lower category (bool < integer < float < complex); a higher category
scalar promotes to the default dtype of its category (float32, complex64) or, for a 0-d
tensor, to its own dtype; ``x.op_(y)`` refuses a result dtype x cannot hold.
"""
from __future__ import annotations

import numpy as np

from _diff import (cli, diff_results, dtname, error_outcome, lenient,
                   quiet_outcomes)

BAD_CLASSES = ("value", "shape", "dtype", "accepted_bad", "rejected", "crash")
ALL_CLASSES = ("equal", "lenient", "value", "shape", "dtype", "accepted_bad", "missing", "rejected",
               "exc_class", "crash", "skip")
DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16",
          "float32", "float64", "complex64", "complex128")
# fragments of spelled calls whose mismatch is a documented gap, with the reason (the CI slice
# does not fail on them); results torch gives in complex32 are skipped: Cadenza has no
# complex32 (float16 with a complex number gives complex64 there)
KNOWN: dict[str, str] = {
    "logaddexp": "torch computes logaddexp of complex operands; Cadenza refuses complex",
    r"j\).*bfloat16|bfloat16.*j\)": "a complex number with a bfloat16 tensor: torch rounds "
    "through bfloat16 on the way to its complex64 result",
}

# name -> (function form, method/operator forms usable, allows complex, allows bool-bool)
OPS = {
    "add": "+", "sub": "-", "mul": "*", "div": "/", "true_divide": None, "floor_divide": "//",
    "remainder": "%", "fmod": None, "pow": "**", "maximum": None, "minimum": None,
    "fmax": None, "fmin": None, "atan2": None, "eq": "==", "ne": "!=", "lt": "<", "le": "<=",
    "gt": ">", "ge": ">=", "logical_and": None, "logical_or": None, "logical_xor": None,
    "bitwise_and": "&", "bitwise_or": "|", "bitwise_xor": "^", "bitwise_left_shift": "<<",
    "bitwise_right_shift": ">>", "hypot": None, "copysign": None, "logaddexp": None,
    "xlogy": None, "heaviside": None, "float_power": None, "nextafter": None,
    "where": None, "clamp_min": None, "clamp_max": None, "div_floor": None, "div_trunc": None,
    "add_alpha": None, "sub_alpha": None, "mul_": None,
}
FORMS = ("fn", "fn", "method", "op", "rop", "inplace", "out")


class T:
    """A tensor operand: dtype name, shape and values (a NumPy array)."""

    def __init__(self, dt, a):
        self.dt, self.a = dt, a

    def __repr__(self):
        return f"T({self.dt}{list(self.a.shape)})" if self.a.ndim else \
            f"T0({self.dt} {self.a.item()!r})"

    def make(self, lib):
        return lib.tensor(self.a.tolist(), dtype=getattr(lib, self.dt))


def _values(rng, dt, shape):
    if dt == "bool":
        return rng.random(shape) < 0.5
    lo = 0 if dt == "uint8" else -3
    v = rng.integers(lo, 5, size=shape)
    if dt.startswith(("float", "bfloat")):
        v = v + rng.choice([0.0, 0.5, 0.25], size=shape)
    if dt.startswith("complex"):
        v = v + 1j * rng.integers(-2, 3, size=shape)
    return np.asarray(v)


def _scalar(rng, kind):
    if kind == "bool":
        return bool(rng.random() < 0.5)
    if kind == "int":
        return int(rng.integers(-3, 5))
    if kind == "float":
        return float(rng.choice([-1.5, 0.5, 2.0, 3.25, 0.0]))
    return complex(float(rng.integers(-2, 3)), float(rng.integers(-2, 3)))


def _operand(rng, tensor_only=False):
    k = rng.random()
    dt = DTYPES[int(rng.integers(len(DTYPES)))]
    if k < 0.5 or tensor_only:
        shape = [(3,), (2, 3), (2, 1)][int(rng.integers(3))]
        return T(dt, _values(rng, dt, shape))
    if k < 0.7:
        return T(dt, _values(rng, dt, ()))
    return _scalar(rng, ["bool", "int", "float", "complex"][int(rng.integers(4))])


def gen_call(seed, i):
    rng = np.random.default_rng([seed, i])
    names = list(OPS)
    name = names[int(rng.integers(len(names)))]
    form = FORMS[int(rng.integers(len(FORMS)))]
    if OPS[name] is None and form in ("op", "rop"):
        form = "fn"
    a = _operand(rng, tensor_only=form in ("method", "inplace", "op", "out"))
    b = _operand(rng)
    if form == "rop":  # Python scalar on the left: b.__rop__(a)
        a, b = _scalar(rng, ["bool", "int", "float", "complex"][int(rng.integers(4))]), \
            _operand(rng, tensor_only=True)
    elif not isinstance(a, T) and not isinstance(b, T):
        b = _operand(rng, tensor_only=True)
    extra = None
    if name == "where":
        extra = T("bool", rng.random((3,)) < 0.5)
    return name, form, a, b, extra


def spell(name, form, a, b, extra):
    if form in ("op", "rop"):
        return f"{a!r} {OPS[name]} {b!r}"
    if form == "method":
        return f"{a!r}.{name}({b!r})"
    if form == "inplace":
        return f"{a!r}.{name}_({b!r})"
    if form == "out":
        return f"{name}({a!r}, {b!r}, out=<result dtype>)"
    return f"{name}({a!r}, {b!r})" if extra is None else f"{name}({extra!r}, {a!r}, {b!r})"


def _call(lib, name, a, b, cond, kind):
    """name applied to (a, b) in function (kind "fn"), method or in-place form."""
    if name == "where":
        return lib.where(cond, a, b)
    fn, kw = name, {}
    if name in ("div_floor", "div_trunc"):
        fn, kw = "div", {"rounding_mode": name[4:]}
    elif name in ("add_alpha", "sub_alpha"):
        fn, kw = name[:3], {"alpha": 2}
    elif name == "mul_":
        fn = "mul"
    if kind == "fn":
        return getattr(lib, fn)(a, b, **kw)
    return getattr(a, fn + ("_" if kind == "inplace" else ""))(b, **kw)


def run(lib, name, form, a, b, extra):
    A = a.make(lib) if isinstance(a, T) else a
    B = b.make(lib) if isinstance(b, T) else b
    cond = extra.make(lib) if extra is not None else None
    if form == "op":
        return eval(f"A {OPS[name]} B")  # noqa: S307 - the operator under test
    if form == "rop":
        return eval(f"A {OPS[name]} B")  # noqa: S307 - A is a Python scalar: B.__rop__
    if form in ("method", "inplace") and name != "where":
        r = _call(lib, name, A, B, cond, form)
        if form == "inplace":
            assert r is A, "in-place result is not self"
        return r
    if form == "out":
        ref = _call(lib, name, A, B, cond, "fn")
        out = lib.empty(0, dtype=ref.dtype)
        if name == "where":
            r = lib.where(cond, A, B, out=out)
        elif name in ("div_floor", "div_trunc", "add_alpha", "sub_alpha", "mul_"):
            return ref
        else:
            r = getattr(lib, name)(A, B, out=out)
        assert r is out, "out= result is not out"
        return r
    return _call(lib, name, A, B, cond, "fn")


def _tol(t):
    d = dtname(t) if hasattr(t, "dtype") else "float64"
    return {"float16": 2e-3, "bfloat16": 1e-2, "complex64": 1e-5, "float32": 1e-5}.get(d, 1e-9)


def classify(seed, i):
    call = gen_call(seed, i)
    spelled = spell(*call)
    (t, terr), (c, cerr) = quiet_outcomes(run, *call)
    if terr is not None and ("not implemented for" in str(terr) and
                             "Bool" not in str(terr) and "bool" not in str(terr)):
        # torch's missing kernels (uint16, half on CPU for some ops): its gap, not a rule
        if cerr is None:
            return "skip", spelled, f"torch has no kernel: {str(terr)[:80]}"
    if lenient(terr, cerr):
        return "lenient", spelled, f"torch TypeError: {str(terr)[:80]}"
    got = error_outcome(terr, cerr)
    if got is not None:
        return got[0], spelled, got[1]
    if dtname(t) == "complex32":
        return "skip", spelled, "torch gives complex32, which Cadenza does not have"
    rt = _tol(t)
    got = diff_results(t, c, rtol=rt, atol=rt)
    if got:
        return got[0], spelled, got[1]
    return "equal", spelled, ""


def fuzz(n, seed=0, start=0):
    return [(i,) + classify(seed, i) for i in range(start, start + n)]


def main(argv=None):
    cli(__doc__, fuzz, ALL_CLASSES, "calls", 5000, argv=argv)


if __name__ == "__main__":
    main()

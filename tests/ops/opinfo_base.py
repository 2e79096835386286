"""The op table's building blocks: dtype groups, samples (S, Const, DT), bad inputs (Err),
the deterministic array maker and the OpInfo record. The entries are in opinfo.py
(cadenza.ops) and opinfo_nn.py (functional composites)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

import cadenza.ops as ops

try:   # NumPy knows the name "bfloat16" (Maker's astype) once ml_dtypes is imported; naming
    import ml_dtypes  # noqa: F401  cadenza.bfloat16 no longer imports it
except ImportError:
    pass

FLOAT = ("float32", "float64")
INTS = ("int64", "int32")
NUM = FLOAT + INTS
ALL = NUM + ("bool",)
HALF = ("float16", "bfloat16")


class Const(np.ndarray):
    """A float array that never requires grad (a target, a running statistic, a value where
    torch's gradient is undefined). An ndarray subclass, so code walking a sample's arrays
    (tests/compiler/test_op_table_compiled.py) handles it like any other array."""


class DT:
    """A dtype placeholder converted to the library's dtype object."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"DT({self.name})"


@dataclass
class S:
    """One sample: positional args and keyword args (arrays become tensors)."""
    args: tuple
    kwargs: dict = field(default_factory=dict)

    def __init__(self, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs

    def const(self, *keys):
        """Mark the array arguments (positions or keyword names) that never require grad."""
        self.args = tuple(a.view(Const) if i in keys else a for i, a in enumerate(self.args))
        self.kwargs = {k: v.view(Const) if k in keys else v for k, v in self.kwargs.items()}
        return self


@dataclass
class Err:
    """A bad-input sample: ``build(make)`` gives an S; ``exc`` is torch's exception class."""
    build: Callable
    exc: type
    dtype: str = "float32"


class Maker:
    """Deterministic random arrays of one dtype."""

    def __init__(self, dtype, seed=0):
        self.dtype = dtype
        self.rng = np.random.default_rng(seed)

    def __call__(self, *shape, low=None, high=None, dtype=None, nonzero=False):
        dt = dtype or self.dtype
        rng = self.rng
        if dt == "bool":
            return np.asarray(rng.random(shape) < 0.5)
        if dt in ("int64", "int32", "int16", "int8", "uint8"):
            lo = -5 if low is None else int(math.ceil(low))
            hi = 6 if high is None else int(math.floor(high)) + 1
            if dt == "uint8":
                lo = max(lo, 0)
            a = np.asarray(rng.integers(lo, hi, shape)).astype(dt)
            if nonzero:
                a[a == 0] = 1
            return a
        lo = -2.0 if low is None else low
        hi = 2.0 if high is None else high
        a = np.asarray(rng.uniform(lo, hi, shape))
        if nonzero:
            a = np.where(np.abs(a) < 0.3, np.sign(a + 1e-9) * 0.3 + a, a)
        return a.astype(dt)

    def idx(self, *shape, high):
        return self.rng.integers(0, high, shape).astype(np.int64)

    def perm(self, n):
        return self.rng.permutation(n).astype(np.int64)

    def mask(self, *shape):
        return np.asarray(self.rng.random(shape) < 0.5)

    def float(self, *shape, low=-2.0, high=2.0):
        return self(*shape, low=low, high=high, dtype="float64" if self.dtype == "float64"
                    else "float32")


@dataclass
class OpInfo:
    name: str
    samples: Callable                      # Maker -> list[S]
    cd: Any = None                         # cadenza callable (default cadenza.ops.<name>)
    th: Any = None                         # torch callable (default torch.<name>)
    dtypes: tuple = FLOAT
    grad: bool = True                      # differentiable w.r.t. float inputs
    gradcheck: bool = True                 # run finite-difference gradcheck/gradgradcheck
    gradgrad: Any = True                   # True, or why second order is not checked (str)
    atol: float = 1e-5
    rtol: float = 1e-5
    errors: tuple = ()
    prims: tuple = None                    # registered primitives exercised
    grad_samples: Callable = None          # samples for gradient tests (default: samples)
    check_limit: int = 24                  # gradcheck runs on samples of at most this many
    #                                        elements (finite differences cost 2 calls each)

    def __post_init__(self):
        if self.cd is None:
            self.cd = getattr(ops, self.name)
        if self.th is None:
            self.th = getattr(torch, self.name)
        if self.prims is None:
            self.prims = (self.name,) if self.name in ops.REGISTRY else ()

"""``torch.quasirandom``: ``SobolEngine``, Sobol' low-discrepancy points in [0, 1)^dimension.

Unscrambled points are PyTorch's bit for bit (Joe & Kuo's direction numbers, 30 bits,
Gray-code order: point i is the XOR of the direction numbers picked by the set bits of
``i ^ (i >> 1)``), for dimensions 1..1111 (``cadenza._sobol_directions``; PyTorch goes to
21201). ``scramble=True`` applies a random linear matrix scramble (a lower-triangular binary
matrix with a unit diagonal per dimension) and a random digital shift, as PyTorch does, but
from Cadenza's random stream: the points differ from PyTorch's for the same seed, while keeping
the properties that matter (values in [0, 1); every 2^m points starting at 0 form a scrambled
(t, m, s)-net, so each coordinate puts exactly one point in each of the 2^m intervals
[k/2^m, (k+1)/2^m))."""
from __future__ import annotations

import numpy as np

from . import dtypes as _dt
from ._sobol_directions import TABLE
from ._tensor_base import _make
from .random import default_generator

__all__ = ["SobolEngine"]

_MAXBIT = 30
_ROWS = None  # the parsed table, on first use


def _table():
    global _ROWS
    if _ROWS is None:
        _ROWS = [[int(t) for t in line.split()[1:]] for line in TABLE.split("\n") if line]
    return _ROWS


def _directions(dimension: int) -> np.ndarray:
    """(dimension, 30) int64: direction number k of each dimension, scaled to 30 bits."""
    v = np.zeros((dimension, _MAXBIT), dtype=np.int64)
    v[0] = [1 << (_MAXBIT - 1 - k) for k in range(_MAXBIT)]
    rows = _table()
    for d in range(1, dimension):
        s, a, *m = rows[d - 1]
        col = [m[k] << (_MAXBIT - 1 - k) for k in range(s)]
        for k in range(s, _MAXBIT):
            x = col[k - s] ^ (col[k - s] >> s)
            for i in range(1, s):
                if (a >> (s - 1 - i)) & 1:
                    x ^= col[k - i]
            col.append(x)
        v[d] = col
    return v


def _bits(x: np.ndarray) -> np.ndarray:
    """(..., 30) 0/1 digits of 30-bit integers, most significant first."""
    return (x[..., None] >> np.arange(_MAXBIT - 1, -1, -1)) & 1


def _from_bits(b: np.ndarray) -> np.ndarray:
    return (b.astype(np.int64) << np.arange(_MAXBIT - 1, -1, -1)).sum(-1)


class SobolEngine:
    """``SobolEngine(dimension, scramble=False, seed=None)``; ``draw(n)`` gives the next n points
    as an (n, dimension) tensor of the default float dtype."""

    MAXBIT = _MAXBIT
    MAXDIM = len(TABLE.strip().split("\n")) + 1

    def __init__(self, dimension, scramble=False, seed=None):
        if isinstance(dimension, bool) or not isinstance(dimension, (int, np.integer)) \
                or not 1 <= dimension <= self.MAXDIM:
            raise ValueError(f"SobolEngine: dimension must be an int in [1, {self.MAXDIM}] "
                             f"(Cadenza ships Joe & Kuo's direction numbers up to "
                             f"{self.MAXDIM}; PyTorch's go to 21201), got {dimension!r}")
        self.dimension = int(dimension)
        self.scramble = bool(scramble)
        self.seed = seed
        v = _directions(self.dimension)
        shift = np.zeros(self.dimension, dtype=np.int64)
        if self.scramble:
            rng = np.random.Generator(np.random.PCG64(
                int(seed) if seed is not None else int(default_generator._rng.integers(1 << 62))))
            # lower-triangular binary matrices with unit diagonals: bit k of a scrambled
            # direction number mixes bits 0..k (most significant first) of the original
            lower = np.tril(rng.integers(0, 2, (self.dimension, _MAXBIT, _MAXBIT)), -1)
            lower = lower + np.eye(_MAXBIT, dtype=lower.dtype)
            v = _from_bits(np.einsum("dkj,dbj->dbk", lower, _bits(v)) & 1)
            shift = _from_bits(rng.integers(0, 2, (self.dimension, _MAXBIT)))
        self.sobolstate = _make(v)
        self.shift = _make(shift)
        self.reset()

    # the points with indices idx (int64 array), as 30-bit integers
    def _points(self, idx: np.ndarray) -> np.ndarray:
        gray = idx ^ (idx >> 1)
        x = np.broadcast_to(self.shift._data, (len(idx), self.dimension)).copy()
        v = self.sobolstate._data
        for b in range(_MAXBIT):
            on = ((gray >> b) & 1).astype(bool)
            x[on] ^= v[:, b]
        return x

    def draw(self, n=1, out=None, dtype=None):
        """The next n points, (n, dimension), in ``dtype`` (default: the default float
        dtype)."""
        n = int(n)
        if n < 0:
            raise ValueError(f"SobolEngine.draw: n must be >= 0, got {n}")
        dt = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
        if not dt.is_floating_point:
            raise TypeError(f"SobolEngine.draw: dtype must be a floating dtype, got {dt}")
        x = self._points(np.arange(self.num_generated, self.num_generated + n, dtype=np.int64))
        if n:
            self.quasi = _make(x[-1].copy())
        self.num_generated += n
        result = _make((x * 2.0 ** -_MAXBIT).astype(dt.np))
        if out is not None:
            out.resize_(n, self.dimension).copy_(result)
            return out
        return result

    def draw_base2(self, m, out=None, dtype=None):
        """The next 2^m points; the total drawn must stay a power of 2 (the net's balance)."""
        n = 2 ** int(m)
        total = self.num_generated + n
        if total & (total - 1):
            raise ValueError(
                "The balance properties of Sobol' points require n to be a power of 2. "
                f"{self.num_generated} points have been previously generated, then: "
                f"n={self.num_generated}+2**{m}={total}. If you still want to do this, please "
                "use 'SobolEngine.draw()' instead.")
        return self.draw(n, out=out, dtype=dtype)

    def reset(self):
        """Back to the first point."""
        self.quasi = _make(self.shift._data.copy())
        self.num_generated = 0
        return self

    def fast_forward(self, n):
        """Skip the next n points."""
        n = int(n)
        if n < 0:
            raise ValueError(f"SobolEngine.fast_forward: n must be >= 0, got {n}")
        if n:
            self.num_generated += n
            self.quasi = _make(self._points(np.array([self.num_generated - 1]))[0])
        return self

    def __repr__(self):
        fields = [f"dimension={self.dimension}"]
        if self.scramble:
            fields.append("scramble=True")
        if self.seed is not None:
            fields.append(f"seed={self.seed}")
        return f"SobolEngine({', '.join(fields)})"


"""GEMMs of compiled graphs: the backend's BLAS calls (``cadenza/backend/blas.py``, which eager
``matmul``/``linear`` use too, so both run the same library: NumPy's OpenBLAS, or for float32
oneMKL with ``CADENZA_BLAS=mkl`` and the optional ``blas`` extra; float64 always NumPy's
OpenBLAS), under the name the executor and its tests use."""
from __future__ import annotations

from ..backend.blas import (SMALL_FLOPS, Gemm, _candidates, _state, address, bound,
                            float32_library, library, split, stats, suits, threads)

__all__ = ["SMALL_FLOPS", "Gemm", "_candidates", "address", "bound", "float32_library",
           "library", "split", "stats", "suits", "threads", "_state"]

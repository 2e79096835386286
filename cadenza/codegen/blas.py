"""GEMMs of compiled graphs: the backend's BLAS calls (``cadenza/backend/blas.py``, which eager
``matmul``/``linear`` use too, so both run the same library: float32 on oneMKL when the ``mkl``
extra is installed, else NumPy's OpenBLAS; float64 always NumPy's OpenBLAS), under the name the
executor and its tests use."""
from __future__ import annotations

from ..backend.blas import (Gemm, _state, address, bound, float32_library, library, split,
                            stats, suits, threads)

__all__ = ["Gemm", "address", "bound", "float32_library", "library", "split", "stats", "suits",
           "threads", "_state"]

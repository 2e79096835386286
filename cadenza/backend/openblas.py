"""The BLAS NumPy ships (its bundled OpenBLAS), found once for every C library that calls it
directly: the compiled graphs' GEMMs (codegen/blas.py) and convolution's products
(backend/ckernels_conv.py). ``find()`` gives the library with the names of its 64-bit-integer
CBLAS ``sgemm``/``dgemm`` and ``openblas_set_num_threads_local`` (None where the build has
none), or None when NumPy's BLAS is not a known OpenBLAS (the callers then use NumPy's
``matmul``)."""
from __future__ import annotations

import ctypes
import glob
import os

import numpy as np

_state: dict = {}
# (sgemm, dgemm) symbol names by build: scipy-openblas (NumPy's wheels), plain OpenBLAS
_SYMBOLS = [("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_", 64),
            ("cblas_sgemm64_", "cblas_dgemm64_", 64),
            ("scipy_cblas_sgemm", "scipy_cblas_dgemm", 32),
            ("cblas_sgemm", "cblas_dgemm", 32)]


def _candidates() -> list[str]:
    root = os.path.dirname(np.__file__)
    pats = [os.path.join(root, "..", "numpy.libs", "*openblas*.so*"),
            os.path.join(root, ".libs", "*openblas*.so*")]
    return sorted(p for pat in pats for p in glob.glob(pat))


def find():
    """(CDLL, sgemm name, dgemm name, openblas_set_num_threads_local or None) of NumPy's
    OpenBLAS with 64-bit integers (what the callers' C passes), or None."""
    if "found" not in _state:
        _state["found"] = None
        for path in _candidates():
            try:
                blas = ctypes.CDLL(path)
            except OSError:
                continue
            for s, d, bits in _SYMBOLS:
                if hasattr(blas, s) and hasattr(blas, d):
                    break
            else:
                continue
            if bits != 64:       # the callers pass 64-bit integers
                continue
            _state["found"] = (blas, s, d, getattr(blas, "openblas_set_num_threads_local",
                                                   None))
            break
    return _state["found"]


def pointers():
    """(sgemm, dgemm, set_num_threads_local or None) as addresses for a C library's init
    function, or None without a usable OpenBLAS."""
    got = find()
    if got is None:
        return None
    blas, s, d, local = got
    addr = ctypes.cast
    return (addr(getattr(blas, s), ctypes.c_void_p), addr(getattr(blas, d), ctypes.c_void_p),
            addr(local, ctypes.c_void_p) if local is not None else None)

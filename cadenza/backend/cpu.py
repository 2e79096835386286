"""The CPU backend: NumPy arrays."""
import contextlib
import sys

import numpy as np

from .. import _config
import ctypes

xp = np
name = "cpu"


def asarray(data, dtype=None):
    return np.asarray(data, dtype=dtype)


def to_numpy(arr):
    return arr


def _tune_malloc():
    """Keep freed large blocks in glibc's heap instead of returning them to the OS.

    By default glibc serves each allocation above a (dynamic, at most 32 MiB) threshold with a
    fresh mmap and unmaps it on free, so every activation-sized temporary of an eager step
    page-faults its memory in again: bench/w4_cnn_train.py spent ~20% of its CPU time in
    those faults. Raising the mmap and trim thresholds makes NumPy's large temporaries reuse
    heap memory, as PyTorch's CPU allocator does. The price is a process that keeps its peak
    heap. CADENZA_MALLOC_TUNE=0 turns this off."""
    if not sys.platform.startswith("linux") or not _config.malloc_tune():
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 1 << 28)
        libc.mallopt(m_trim_threshold, 1 << 30)
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to tune
        pass


_tune_malloc()


# ---- floating-point error reports: silent, as in PyTorch
# NumPy reports inf/nan results (log(0), x/0, sqrt(-1), exp overflow) as RuntimeWarnings;
# PyTorch reports nothing. Ops run under an "ignore all" error state: ``fp_state.set(FP_QUIET)``
# before, ``fp_state.reset(token)`` after, so the user's own ``np.seterr``/``np.errstate``
# settings hold everywhere outside Cadenza's ops. ``fp_state`` is the context variable NumPy >= 2
# keeps its error state in (~0.05 us to check, ~0.5 us to switch; an ``np.errstate`` block costs
# ~3 us); on NumPy 1.x an object with the same three methods over ``np.seterrobj``.
try:
    from numpy._core._ufunc_config import _extobj_contextvar as fp_state
except ImportError:  # NumPy 1.x
    class _ErrObjState:
        @staticmethod
        def get():
            return np.geterrobj()

        @staticmethod
        def set(value):
            old = np.geterrobj()
            np.seterrobj(value)
            return old

        @staticmethod
        def reset(token):
            np.seterrobj(token)

    fp_state = _ErrObjState()
with np.errstate(all="ignore"):
    FP_QUIET = fp_state.get()
_NO_SWITCH = contextlib.nullcontext()


def fp_quiet():
    """A ``with`` block in which NumPy's floating-point errors are silent, for a forward whose
    temporaries may overflow: a shared null context when they already are (inside ops.apply
    and the graph interpreter: ~0.3 us), an ``np.errstate`` block otherwise (~3 us)."""
    return _NO_SWITCH if fp_state.get() is FP_QUIET else np.errstate(all="ignore")


# ---- the address of an array's first element, for the C kernels' ctypes calls
# ``a.ctypes.data`` builds a ctypes helper object per call (1-6 us; a fused Adam step asks for
# 4 addresses per parameter, a row kernel 2-5 per call). The address is the first field of
# NumPy's array struct after the object header (``PyArrayObject_fields.data``, what the C API's
# ``PyArray_DATA`` reads), and in CPython ``id`` is the object's address: one ctypes read of
# that field is ~10x cheaper. Checked against ``ctypes.data`` at import on arrays of several
# kinds; where it does not hold (another interpreter, a header of another size), ``address``
# is ``ctypes.data``.
def _data_field_offset():
    if sys.implementation.name != "cpython":
        return None
    off = ctypes.sizeof(ctypes.c_ssize_t) + ctypes.sizeof(ctypes.c_void_p)  # refcount, type
    at = ctypes.c_void_p.from_address
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    probes = (base, base[1:, 2:], base.T, np.empty(0), np.zeros((), np.int64), base[::2])
    try:
        if all(at(id(p) + off).value == p.ctypes.data for p in probes):
            return off
    except (ValueError, OSError):   # pragma: no cover - an unexpected layout
        pass
    return None


_DATA_OFFSET = _data_field_offset()
_read_pointer = ctypes.c_void_p.from_address
_ndarray = np.ndarray


def address(a) -> int:
    """The address of array ``a``'s first element (``a.ctypes.data``, cheaper; see above)."""
    if _DATA_OFFSET is not None and isinstance(a, _ndarray):
        return _read_pointer(id(a) + _DATA_OFFSET).value
    return a.ctypes.data


def address_reader():
    """(read, offset) with ``read(id(a) + offset).value`` the address of NumPy array ``a``'s
    first element, for hot loops that inline ``address`` on arrays known to be ndarrays; None
    where ``address`` falls back to ``ctypes.data``."""
    return None if _DATA_OFFSET is None else (_read_pointer, _DATA_OFFSET)

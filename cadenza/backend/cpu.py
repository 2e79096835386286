"""The CPU backend: NumPy arrays."""
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

"""The meta backend: arrays with a shape and a dtype and no data (``device='meta'``).

A meta array is a :class:`MetaArray`, an ``ndarray`` whose strides are all zero over a
one-element buffer: it takes no memory whatever its shape, NumPy's view functions (reshape,
transpose, slicing, broadcasting) work on it unchanged, and an op's forward can run on it to
find its output's shape and dtype (``ops.apply`` then keeps only those: see ``meta_array``).
Reading values out of one (``to_numpy``) raises, as torch does for meta tensors."""
from __future__ import annotations

import numpy as np

name = "meta"
xp = np
_as_strided = np.lib.stride_tricks.as_strided
NO_DATA = "Cannot copy out of meta tensor; no data!"


class MetaArray(np.ndarray):
    """A meta tensor's array: zero strides over a one-element buffer (see the module doc).
    ``astype`` and ``copy`` stay meta arrays and allocate nothing."""

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        return meta_array(self.shape, dtype)

    def copy(self, order="C"):
        return meta_array(self.shape, self.dtype)

    def __reduce__(self):      # pickles (a meta tensor saved in a checkpoint) as shape + dtype
        return (meta_array, (self.shape, self.dtype))


def meta_array(shape, dtype) -> MetaArray:
    """A meta array of ``shape`` and ``dtype`` (no memory beyond one element)."""
    shape = tuple(int(s) for s in shape)
    buf = np.zeros(1, dtype)
    return _as_strided(buf, shape, (0,) * len(shape)).view(MetaArray)


def is_meta(arr) -> bool:
    return type(arr) is MetaArray


def to_meta(arr):
    """``arr`` (an array, a NumPy scalar, or a tuple/list of them) as meta arrays of the same
    shapes and dtypes; anything else as it is."""
    if type(arr) is MetaArray and not any(arr.strides):
        return arr
    if isinstance(arr, (np.ndarray, np.generic)):
        return meta_array(arr.shape, arr.dtype)
    if isinstance(arr, (tuple, list)):
        return type(arr)(to_meta(a) for a in arr)
    return arr


def asarray(data, dtype=None, index=None):
    """``data`` moved to the meta device: its shape and dtype only."""
    a = data if isinstance(data, np.ndarray) else np.asarray(data, dtype=dtype)
    return meta_array(a.shape, dtype if dtype is not None else a.dtype)


def to_numpy(arr):
    raise NotImplementedError(NO_DATA)

"""A reader of MATLAB 5 MAT-files holding numeric arrays (what SVHN's and Flowers102's files
hold), so those datasets need no SciPy: ``loadmat(path) -> {name: ndarray}`` with SciPy's shapes
(at least 2-d, column-major order) and dtypes (the array's MATLAB class), ``squeeze_me`` as in
``scipy.io.loadmat``. zlib-compressed elements (miCOMPRESSED) are read; cells, structs, sparse
and complex arrays are refused with an error naming the file."""
from __future__ import annotations

import zlib

import numpy as np

from .utils import DatasetFileError

__all__ = ["loadmat"]

_MI = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8", 12: "i8",
       13: "u8"}
_CLASS = {6: "f8", 7: "f4", 8: "i1", 9: "u1", 10: "i2", 11: "u2", 12: "i4", 13: "u4",
          14: "i8", 15: "u8"}
_MI_MATRIX, _MI_COMPRESSED = 14, 15


def _elements(buf, endian, path):
    """(type, payload) of each data element in ``buf``."""
    pos = 0
    while pos + 8 <= len(buf):
        first, second = np.frombuffer(buf, endian + "u4", 2, pos)
        if first >> 16:                  # small element: size and type packed in 4 bytes
            mtype, size = int(first & 0xFFFF), int(first >> 16)
            yield mtype, buf[pos + 4:pos + 4 + size]
            pos += 8
            continue
        mtype, size = int(first), int(second)
        if pos + 8 + size > len(buf):
            raise DatasetFileError(f"{path} is corrupt: a MAT-file element runs past the end")
        yield mtype, buf[pos + 8:pos + 8 + size]
        pos += 8 + size + (-size % 8 if mtype != _MI_COMPRESSED else 0)


def _matrix(payload, endian, path):
    parts = list(_elements(payload, endian, path))
    if len(parts) < 4:
        raise DatasetFileError(f"{path} is corrupt: a MAT-file matrix without data")
    flags = np.frombuffer(parts[0][1], endian + "u4")
    mclass, is_complex = int(flags[0] & 0xFF), bool(flags[0] & 0x0800)
    dims = [int(d) for d in np.frombuffer(parts[1][1], endian + _MI[parts[1][0]])]
    name = parts[2][1].decode("latin-1")
    if mclass not in _CLASS or is_complex:
        raise DatasetFileError(f"{path}: variable {name!r} is not a real numeric array (MAT "
                               f"class {mclass}); only numeric arrays are read")
    mtype, data = parts[3]
    values = np.frombuffer(data, endian + _MI[mtype]).astype(_CLASS[mclass])
    if values.size != int(np.prod(dims)):
        raise DatasetFileError(f"{path} is corrupt: variable {name!r} holds {values.size} "
                               f"values for dimensions {dims}")
    return name, values.reshape(dims, order="F")


def loadmat(path, squeeze_me=False):
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 128 or raw[126:128] not in (b"IM", b"MI"):
        raise DatasetFileError(f"{path} is corrupt or not a MATLAB 5 MAT-file (a 7.3/HDF5 file "
                               f"needs h5py)")
    endian = "<" if raw[126:128] == b"IM" else ">"
    out = {}
    for mtype, payload in _elements(raw[128:], endian, path):
        if mtype == _MI_COMPRESSED:
            try:
                payload = zlib.decompress(payload)
            except zlib.error as e:
                raise DatasetFileError(f"{path} is corrupt: {e}") from None
            mtype, payload = next(_elements(payload, endian, path))
        if mtype != _MI_MATRIX:
            continue
        name, value = _matrix(payload, endian, path)
        if squeeze_me:
            value = value.squeeze()
            value = value.item() if value.ndim == 0 else value     # SciPy gives a scalar
        out[name] = value
    return out

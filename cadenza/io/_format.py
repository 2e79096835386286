"""The safetensors file format, written and read with NumPy alone (no pickle, nothing executed):

    8 bytes   little-endian u64 N, the header's length
    N bytes   JSON: {name: {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
              "__metadata__": {str: str}}, padded with spaces to a multiple of 8
    rest      the tensors' raw little-endian bytes; offsets are relative to the end of the header

Every field of a file being read is checked before any array is built, and each failure raises
``CheckpointError`` naming the file and what is wrong.

>>> import io, numpy as np
>>> buf = io.BytesIO(); write_safetensors(buf, [("w", np.ones(2, np.float32))], {"k": "v"})
>>> read_safetensors(io.BytesIO(buf.getvalue()))[1]
{'k': 'v'}
"""
from __future__ import annotations

import json
import os
import secrets
import sys

import numpy as np

from .. import dtypes as _dt

__all__ = ["CheckpointError", "write_safetensors", "read_safetensors", "atomic_write",
           "describe"]

MAX_HEADER = 100_000_000  # the safetensors package's own limit


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read: truncated, corrupted, hostile, or a pickle."""


# safetensors dtype codes; BF16 joins on first need (_with_bfloat16)
DTYPES = {k: np.dtype(v) for k, v in {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
    "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}.items()}
CODES = {v: k for k, v in DTYPES.items()}


def _with_bfloat16() -> None:
    """Add BF16 to the tables: ml_dtypes (an optional extra, slow to import) loads only when a
    dtype is not found otherwise. Without it bfloat16 files cannot be read."""
    bf16 = _dt.bfloat16
    if bf16 is not None and "BF16" not in DTYPES:
        DTYPES["BF16"] = bf16.np
        CODES[bf16.np] = "BF16"


def describe(f) -> str:
    """How error messages name a checkpoint: its path, or the file object's name/type."""
    if isinstance(f, (str, bytes, os.PathLike)):
        return repr(os.fsdecode(f))
    name = getattr(f, "name", None)
    return repr(name) if isinstance(name, str) else f"<{type(f).__name__} object>"


def _le(arr: np.ndarray) -> np.ndarray:
    arr = np.ascontiguousarray(arr)
    if sys.byteorder == "big" and arr.dtype.itemsize > 1:
        arr = arr.byteswap()
    return arr


def code_of(arr: np.ndarray, what: str) -> str:
    code = CODES.get(arr.dtype)
    if code is None:
        _with_bfloat16()
        code = CODES.get(arr.dtype)
    if code is None:
        raise TypeError(f"save: cannot store dtype {arr.dtype} ({what}); supported: "
                        f"{', '.join(str(d) for d in DTYPES.values())}")
    return code


def _write_array(fh, arr: np.ndarray) -> None:
    """Write one tensor's bytes (a separate function so tests can make it fail midway)."""
    if arr.size:
        fh.write(_le(arr).reshape(-1).view(np.uint8).data)


def write_safetensors(fh, named_arrays, metadata=None) -> None:
    """Write ``[(name, ndarray), ...]`` and a str->str ``metadata`` dict to binary ``fh``.

    The data is laid out by decreasing item size (then in the given order), so every tensor is
    aligned for its dtype when the file is mapped; the header keeps the given order.
    """
    header, order, offset = {}, [], 0
    for name, arr in named_arrays:
        header[name] = None
        order.append((name, arr))
    order.sort(key=lambda na: -na[1].dtype.itemsize)
    for name, arr in order:
        nbytes = int(arr.size) * arr.dtype.itemsize
        header[name] = {"dtype": code_of(arr, f"tensor {name!r}"), "shape": list(arr.shape),
                        "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    raw += b" " * (-(8 + len(raw)) % 8)
    fh.write(len(raw).to_bytes(8, "little"))
    fh.write(raw)
    for _, arr in order:
        _write_array(fh, arr)


def _fsync_dir(directory: str) -> None:
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path, write) -> None:
    """Call ``write(fh)`` on a temporary file beside ``path``, fsync it, then rename it onto
    ``path`` and fsync the directory: readers see the old file or the new one, never half.

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "x.bin")
    >>> atomic_write(p, lambda fh: fh.write(b"ok")); open(p, "rb").read()
    b'ok'
    """
    path = os.path.abspath(os.fsdecode(path))
    directory, base = os.path.split(path)
    tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(directory)


_PICKLE_HINT = (
    "Cadenza never unpickles files, because unpickling can run arbitrary code. To convert a "
    "checkpoint you trust, load it in PyTorch with torch.load(path, weights_only=True) and "
    "write its tensors with safetensors.torch.save_file(state_dict, 'model.safetensors') "
    "(or as NumPy arrays with cadenza.io.save_safetensors), then load that file.")


def _sniff(head: bytes, tail: bytes):
    """Name a known non-safetensors format from the file's first and last bytes, or None."""
    if head[:4] == b"PK\x03\x04":
        return "a ZIP archive, as torch.save writes (a pickle inside)"
    if len(head) >= 2 and head[0] == 0x80 and 1 <= head[1] <= 5:
        return f"a Python pickle (protocol {head[1]}), e.g. written by torch.save or pickle"
    if head[:1] and head[:1] in b"(}]cIFSVNXLKJMGTU" and tail.rstrip(b"\n")[-1:] == b".":
        return "a Python pickle (protocol 0/1)"
    return None


class _Reader:
    def __init__(self, src, name: str) -> None:
        self.name = name
        self.src = src

    def fail(self, what: str):
        raise CheckpointError(f"load: {self.name} is not a valid safetensors checkpoint: {what}")

    def fail_format(self, head: bytes, tail: bytes, what: str):
        kind = _sniff(head, tail)
        if kind is not None:
            raise CheckpointError(f"load: {self.name} is {kind}, not a safetensors checkpoint. "
                                  + _PICKLE_HINT)
        self.fail(what)


def _read_all(f, mmap: bool):
    """The whole file as a writable uint8 array (copy-on-write map when ``mmap``)."""
    if isinstance(f, (str, bytes, os.PathLike)):
        path = os.fsdecode(f)
        size = os.path.getsize(path)
        if mmap and size:
            # a plain ndarray view of the map: Tensor treats ndarray subclasses as foreign
            return np.memmap(path, dtype=np.uint8, mode="c").view(np.ndarray)
        buf = bytearray(size)
        with open(path, "rb") as fh:
            n = fh.readinto(buf)
        return np.frombuffer(buf, np.uint8)[:n]
    if mmap:
        raise ValueError("load: mmap=True needs a file path, got a file object")
    data = f.read()
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"load: expected a binary file object, but read() returned "
                        f"{type(data).__name__}")
    return np.frombuffer(bytearray(data), np.uint8)


def _int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def read_safetensors(f, mmap: bool = False):
    """Parse and validate a safetensors file: ``({name: ndarray}, metadata dict)``, arrays in
    header order, viewing one buffer (writable, no copy per tensor)."""
    r = _Reader(f, describe(f))
    buf = _read_all(f, mmap)
    size = len(buf)
    head, tail = bytes(buf[:16]), bytes(buf[-4:])
    if size < 8:
        r.fail_format(head, tail, f"file is {size} bytes, shorter than the 8-byte header length")
    n = int.from_bytes(bytes(buf[:8]), "little")
    if n > MAX_HEADER:
        r.fail_format(head, tail, f"header length {n} is absurd (limit {MAX_HEADER})")
    if 8 + n > size:
        r.fail_format(head, tail, f"header length {n} runs past the end of the {size}-byte file "
                                  "(truncated?)")
    try:
        header = json.loads(bytes(buf[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        r.fail_format(head, tail, f"header is not valid JSON ({type(e).__name__}: {e})")
    if not isinstance(header, dict):
        r.fail(f"header is a JSON {type(header).__name__}, expected an object")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                             for k, v in meta.items()):
        r.fail("__metadata__ must map strings to strings")
    data_len = size - 8 - n
    spans, infos = [], []
    for name, info in header.items():
        if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= info.keys():
            r.fail(f"tensor {name!r}: expected an object with dtype, shape and data_offsets, "
                   f"got {info!r:.200}")
        code, shape, offs = info["dtype"], info["shape"], info["data_offsets"]
        if code not in DTYPES:
            _with_bfloat16()
        if code not in DTYPES:
            r.fail(f"tensor {name!r}: unknown or unsupported dtype {code!r}; supported: "
                   f"{', '.join(DTYPES)}")
        if not isinstance(shape, list) or not all(_int(s) for s in shape):
            r.fail(f"tensor {name!r}: shape must be a list of non-negative ints, got {shape!r}")
        if not (isinstance(offs, list) and len(offs) == 2 and all(_int(o) for o in offs)
                and offs[0] <= offs[1]):
            r.fail(f"tensor {name!r}: data_offsets must be [begin, end] with 0 <= begin <= end, "
                   f"got {offs!r}")
        numel = int(np.prod(shape, dtype=object)) if shape else 1
        nbytes = numel * DTYPES[code].itemsize
        if offs[1] - offs[0] != nbytes:
            r.fail(f"tensor {name!r}: {code} shape {tuple(shape)} needs {nbytes} bytes, but "
                   f"data_offsets {offs} span {offs[1] - offs[0]}")
        if offs[1] > data_len:
            r.fail(f"tensor {name!r}: data_offsets {offs} run past the end of the data "
                   f"({data_len} bytes; file truncated?)")
        spans.append((offs[0], offs[1], name))
        infos.append((name, DTYPES[code], tuple(shape), offs[0], offs[1]))
    spans.sort()
    prev = None  # the non-empty span reaching furthest so far
    for b, e, name in spans:
        if b == e:
            continue
        if prev is not None and b < prev[1]:
            r.fail(f"tensors {prev[2]!r} {list(prev[:2])} and {name!r} {[b, e]} overlap")
        if prev is None or e > prev[1]:
            prev = (b, e, name)
    data = buf[8 + n:]
    out = {}
    for name, dt, shape, b, e in infos:
        arr = data[b:e].view(dt).reshape(shape)
        if sys.byteorder == "big" and dt.itemsize > 1:
            arr = arr.byteswap()
        out[name] = arr
    return out, meta

"""The safetensors file format, written and read with NumPy alone (no pickle, nothing executed):

    8 bytes   little-endian u64 N, the header's length
    N bytes   JSON: {name: {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
              "__metadata__": {str: str}}, padded with spaces to a multiple of 8
    rest      the tensors' raw little-endian bytes; offsets are relative to the end of the header

Every field of a file being read is checked before any array is built, and each failure raises
``CheckpointError`` naming the file and what is wrong. Reading is bounded by what the header
describes: the header first (at most MAX_HEADER bytes), then each tensor's byte range (or a
copy-on-write map), never the whole file; FIFOs, devices and directories are refused unread.
Every file we write carries a crc32 of each tensor (and of the metadata) in ``__metadata__``,
verified on load; files without them (older ones, other tools') load unchecked. Temporary files
of saves killed midway are removed by the next save to the same directory.

>>> import io, numpy as np
>>> buf = io.BytesIO(); write_safetensors(buf, [("w", np.ones(2, np.float32))], {"k": "v"})
>>> read_safetensors(io.BytesIO(buf.getvalue()))[1]
{'k': 'v'}
"""
from __future__ import annotations

import json
import mmap as _mmap
import os
import re
import secrets
import stat
import sys
import time
import zlib

import numpy as np

from .. import dtypes as _dt

try:
    import fcntl
except ImportError:  # not on Windows: stale temporary files are then left alone
    fcntl = None

__all__ = ["CheckpointError", "write_safetensors", "read_safetensors", "atomic_write",
           "describe", "remove_stale_temps"]

# The header is JSON, and parsing JSON costs up to ~25x its size in Python objects ("[{},{},..."),
# so its length is bounded: 16 MiB (at most ~400 MB to parse) is ~100x the header of a GPT with
# 1,000 parameter tensors and their AdamW state (~150 KB). The safetensors package allows 100 MB.
MAX_HEADER = 16 << 20

# __metadata__ key of the checksums: JSON {"tensors": {name: crc32}, "metadata": crc32}; each
# tensor's crc32 covers its dtype, shape and bytes, "metadata" the other metadata entries.
# INTEGRITY_KEY names the algorithm; the two are written together, so a damaged key name (which
# would otherwise pass for a file without checksums) leaves the other one to tell.
CHECKSUM_KEY = "cadenza.crc32"
INTEGRITY_KEY = "cadenza.integrity"
_OURS = (CHECKSUM_KEY, INTEGRITY_KEY)


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read: truncated, corrupted, hostile, or a pickle."""


# safetensors dtype codes; BF16 and the float8s join on first need (_with_bfloat16)
DTYPES = {k: np.dtype(v) for k, v in {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
    "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_, "U16": np.uint16,
    "U32": np.uint32, "U64": np.uint64,
    "C64": np.complex64}.items()}  # safetensors has no complex128
CODES = {v: k for k, v in DTYPES.items()}


def _with_bfloat16() -> None:
    """Add BF16 to the tables: ml_dtypes (an optional extra, slow to import) loads only when a
    dtype is not found otherwise. Without it bfloat16 files cannot be read."""
    bf16 = _dt.bfloat16
    if bf16 is not None and "BF16" not in DTYPES:
        DTYPES["BF16"] = bf16.np
        CODES[bf16.np] = "BF16"
        for code, name in (("F8_E4M3", "float8_e4m3fn"), ("F8_E5M2", "float8_e5m2")):
            DTYPES[code] = getattr(_dt, name).np    # (safetensors' float8 codes)
            CODES[DTYPES[code]] = code


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


def _crc(arr: np.ndarray, code: str) -> int:
    return zlib.crc32(_le(arr).reshape(-1).view(np.uint8).data, _tensor_seed(code, arr.shape))


def write_safetensors(fh, named_arrays, metadata=None) -> None:
    """Write ``[(name, ndarray), ...]`` and a str->str ``metadata`` dict to binary ``fh``, with
    a crc32 of every tensor (and of the metadata) in ``__metadata__[CHECKSUM_KEY]``.

    The data is laid out by decreasing item size (then in the given order), so every tensor is
    aligned for its dtype when the file is mapped; the header keeps the given order.
    """
    header, order, offset, sums = {}, [], 0, {}
    for name, arr in named_arrays:
        header[name] = None
        order.append((name, arr))
    order.sort(key=lambda na: -na[1].dtype.itemsize)
    for name, arr in order:
        nbytes = int(arr.size) * arr.dtype.itemsize
        code = code_of(arr, f"tensor {name!r}")
        header[name] = {"dtype": code, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + nbytes]}
        sums[name] = _crc(arr, code)
        offset += nbytes
    meta = {str(k): str(v) for k, v in (metadata or {}).items() if str(k) not in _OURS}
    meta[INTEGRITY_KEY] = "crc32"
    meta[CHECKSUM_KEY] = json.dumps({"tensors": sums, "metadata": _metadata_crc(meta)},
                                    separators=(",", ":"), ensure_ascii=False)
    header["__metadata__"] = meta
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    raw += b" " * (-(8 + len(raw)) % 8)
    if len(raw) > MAX_HEADER:  # never write a file that load would refuse
        raise ValueError(f"save: the checkpoint's header would be {len(raw)} bytes, over the "
                         f"{MAX_HEADER}-byte limit of load; store long lists of numbers as "
                         "tensors")
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


# our temporary files: ".<target name>.<12 hex digits>.tmp"
_TMP_RE = re.compile(r"\..+\.[0-9a-f]{12}\.tmp")
STALE_TMP_AGE = 60.0  # seconds a temporary file must be untouched before it can count as stale


def _lock(fd: int, wait: bool) -> bool:
    """Take an exclusive flock: a saving process holds one on its temporary file until the
    rename, and the kernel drops it when the process dies (SIGKILL included)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except OSError:
        return False
    return True


def remove_stale_temps(directory: str) -> list:
    """Delete the temporary files that killed saves left in ``directory``: only names of our
    pattern, untouched for STALE_TMP_AGE seconds and not locked by a live save. Returns the
    names removed; errors are ignored (cleaning must never make a save fail)."""
    removed = []
    if fcntl is None:  # without flock a live save cannot be told from a dead one
        return removed
    try:
        names = [e for e in os.listdir(directory) if _TMP_RE.fullmatch(e)]
    except OSError:
        return removed
    for name in names:
        p = os.path.join(directory, name)
        try:
            fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            st = os.fstat(fd)
            if (stat.S_ISREG(st.st_mode) and time.time() - st.st_mtime > STALE_TMP_AGE
                    and _lock(fd, wait=False) and os.stat(p).st_ino == st.st_ino):
                os.unlink(p)
                removed.append(name)
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


def atomic_write(path, write) -> None:
    """Call ``write(fh)`` on a temporary file beside ``path``, fsync it, then rename it onto
    ``path`` and fsync the directory: readers see the old file or the new one, never half.
    Temporary files of earlier saves that were killed are removed first.

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "x.bin")
    >>> atomic_write(p, lambda fh: fh.write(b"ok")); open(p, "rb").read()
    b'ok'
    """
    path = os.path.abspath(os.fsdecode(path))
    directory, base = os.path.split(path)
    remove_stale_temps(directory)
    tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            locked = fcntl is not None and _lock(fd, wait=True)
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
            if locked:  # rename while still locked, so no cleaner takes it for abandoned
                os.replace(tmp, path)
        if not locked:
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
        return ("a ZIP archive, as torch.save writes (load reads those from a path or a "
                "seekable file object)")
    if len(head) >= 2 and head[0] == 0x80 and 1 <= head[1] <= 5:
        return f"a Python pickle (protocol {head[1]}), e.g. written by torch.save or pickle"
    if head[:1] and head[:1] in b"(}]cIFSVNXLKJMGTU" and tail.rstrip(b"\n")[-1:] == b".":
        return "a Python pickle (protocol 0/1)"
    return None



_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def _check_regular(mode: int, name: str) -> None:
    """Refuse anything but a regular file before reading it: a FIFO blocks forever, a device
    such as /dev/zero never ends."""
    if not stat.S_ISREG(mode):
        kind = next((k for test, k in _KINDS if test(mode)), "not a regular file")
        raise CheckpointError(f"load: {name} is {kind}; a checkpoint must be a regular file")


def read_at(fh, pos: int, out: np.ndarray) -> int:
    """Fill the uint8 array ``out`` from byte ``pos`` of the binary file ``fh`` (which can
    seek and ``readinto``); return how many bytes there were."""
    view, done = memoryview(out), 0
    fh.seek(pos)
    while done < len(view):
        n = fh.readinto(view[done:])
        if not n:
            break
        done += n
    return done


class _PathSource:
    """A checkpoint on disk, read by offset so that only the bytes asked for are ever in
    memory (a file padded to gigabytes costs nothing); its size is known up front."""

    def __init__(self, path: str, name: str) -> None:
        _check_regular(os.stat(path).st_mode, name)
        # O_NONBLOCK: should the path have become a FIFO since the stat, open returns at once
        # and the fstat refuses it (for a regular file the flag changes nothing)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0)
                     | getattr(os, "O_NONBLOCK", 0))
        try:
            st = os.fstat(fd)
            _check_regular(st.st_mode, name)
        except BaseException:
            os.close(fd)
            raise
        self.fh = os.fdopen(fd, "rb", buffering=0)
        self.size = st.st_size

    def read_into(self, pos: int, out: np.ndarray) -> int:
        return read_at(self.fh, pos, out)

    def map(self) -> np.ndarray:
        """The whole file, mapped copy-on-write (pages load when touched)."""
        mm = _mmap.mmap(self.fh.fileno(), 0, access=_mmap.ACCESS_COPY)
        return np.frombuffer(mm, np.uint8)

    def close(self) -> None:
        self.fh.close()


class _StreamSource:
    """A binary file object from its current position: read by offset when it can seek, else
    in increasing offset order (the reader sorts the tensors; gaps are read and dropped)."""

    def __init__(self, f) -> None:
        self.f = f
        self.pos = 0  # relative to where the checkpoint starts
        self.size = None
        seekable = getattr(f, "seekable", None)
        if callable(seekable) and seekable():
            self.base = f.tell()
            self.size = f.seek(0, os.SEEK_END) - self.base

    def _read(self, n: int) -> bytes:
        data = self.f.read(n)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"load: expected a binary file object, but read() returned "
                            f"{type(data).__name__}")
        return data

    def read_into(self, pos: int, out: np.ndarray) -> int:
        if self.size is not None:
            self.f.seek(self.base + pos)
        else:
            while self.pos < pos:
                chunk = self._read(min(pos - self.pos, 1 << 20))
                if not chunk:
                    return 0
                self.pos += len(chunk)
        done, readinto = 0, getattr(self.f, "readinto", None)
        while done < len(out):
            if callable(readinto):  # straight into the tensor's buffer
                n = readinto(memoryview(out)[done:]) or 0
            else:
                chunk = self._read(min(len(out) - done, 1 << 26))
                n = len(chunk)
                out[done:done + n] = np.frombuffer(chunk, np.uint8)
            if not n:
                break
            done += n
        self.pos = pos + done
        return done

    def close(self) -> None:
        pass


class _Reader:
    def __init__(self, src, name: str) -> None:
        self.name = name
        self.src = src
        self.head = b""  # what a stream that cannot seek has shown of its start

    def bytes_at(self, pos: int, n: int) -> bytes:
        out = np.empty(n, np.uint8)
        return out[:self.src.read_into(pos, out)].tobytes()

    def fail(self, what: str):
        raise CheckpointError(f"load: {self.name} is not a valid safetensors checkpoint: {what}")

    def fail_format(self, what: str):
        """Fail, naming the format when the file is a known other one (a pickle, a zip)."""
        head, tail, size = self.head, b"", self.src.size
        if size is not None:
            head, tail = self.bytes_at(0, min(16, size)), self.bytes_at(max(size - 4, 0), 4)
        kind = _sniff(head, tail)
        if kind is not None:
            raise CheckpointError(f"load: {self.name} is {kind}, not a safetensors checkpoint. "
                                  + _PICKLE_HINT)
        self.fail(what)


class _Duplicate(ValueError):
    pass


def _no_duplicates(pairs):
    """JSON objects keep the last of repeated keys; a header repeating a tensor name is
    ambiguous, so it is refused."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _Duplicate(f"key {dup!r:.200} appears twice")
    return out


def _int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _tensor_seed(code: str, shape) -> int:
    """Each tensor's checksum starts from its dtype and shape, so a header edit that keeps the
    byte count (F32 -> I32, [4, 3] -> [3, 4]) is caught too."""
    return zlib.crc32(json.dumps([code, list(shape)]).encode())


def _metadata_crc(meta: dict) -> int:
    items = sorted((k, v) for k, v in meta.items() if k not in _OURS)
    return zlib.crc32(json.dumps(items, ensure_ascii=False).encode())


def _stored_checksums(r: _Reader, meta: dict, names):
    """The checksums of a file that has them (``{name: crc}``, metadata crc), else None: files
    written before checksums existed, or by other tools, load unchecked."""
    raw, algorithm = meta.pop(CHECKSUM_KEY, None), meta.pop(INTEGRITY_KEY, None)
    if raw is None and algorithm is None:
        return None, None
    if raw is None or algorithm != "crc32":
        r.fail(f"__metadata__ has {INTEGRITY_KEY!r} = {algorithm!r:.100} and "
               f"{CHECKSUM_KEY!r} = {raw!r:.100}; expected 'crc32' and the checksums (the "
               "header was damaged)")
    try:
        sums = json.loads(raw)
    except (ValueError, RecursionError):
        sums = None

    def crc(v) -> bool:
        return _int(v) and v < 2 ** 32
    if not (isinstance(sums, dict) and isinstance(sums.get("tensors"), dict)
            and all(crc(v) for v in sums["tensors"].values()) and crc(sums.get("metadata"))):
        r.fail(f"__metadata__[{CHECKSUM_KEY!r}] is malformed: {raw!r:.200}")
    tensors = sums["tensors"]
    if tensors.keys() != set(names):
        odd = sorted(set(names) ^ tensors.keys())
        r.fail(f"__metadata__[{CHECKSUM_KEY!r}] does not list the file's tensors "
               f"(differs for {odd[:5]!r:.300}); the header was changed after writing")
    return tensors, sums["metadata"]


def read_safetensors(f, mmap: bool = False):
    """Parse and validate a safetensors file: ``({name: ndarray}, metadata dict)``, arrays in
    header order, each writable. Reads the header first, then each tensor's byte range (or maps
    the file copy-on-write when ``mmap``), so memory follows what the header describes, not the
    file's size. Checksums, when the file has them, are verified (and left out of the returned
    metadata)."""
    name = describe(f)
    if isinstance(f, (str, bytes, os.PathLike)):
        src = _PathSource(os.fsdecode(f), name)
    elif mmap:
        raise ValueError("load: mmap=True needs a file path, got a file object")
    else:
        src = _StreamSource(f)
    try:
        return _read(_Reader(src, name), mmap)
    finally:
        src.close()


def _read(r: _Reader, mmap: bool):
    size = r.src.size
    first = r.head = r.bytes_at(0, 8)
    if len(first) < 8:
        r.fail_format(f"file is {len(first)} bytes, shorter than the 8-byte header length")
    n = int.from_bytes(first, "little")
    if n > MAX_HEADER:
        r.fail_format(f"header length {n} is over the limit of {MAX_HEADER} bytes (raise "
                      "cadenza.io._format.MAX_HEADER to read a file you trust)")
    if size is not None and 8 + n > size:
        r.fail_format(f"header length {n} runs past the end of the {size}-byte file "
                      "(truncated?)")
    raw = r.bytes_at(8, n)
    r.head = first + raw[:8]
    if len(raw) < n:
        r.fail_format(f"header length {n} runs past the end of the file (truncated?)")
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except _Duplicate as e:
        r.fail(f"header: {e}")
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        r.fail_format(f"header is not valid JSON ({type(e).__name__}: {e})")
    if not isinstance(header, dict):
        r.fail(f"header is a JSON {type(header).__name__}, expected an object")
    meta = header.pop("__metadata__", None)
    meta = {} if meta is None else meta
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        r.fail("__metadata__ must map strings to strings")
    data_start = 8 + n
    data_len = None if size is None else size - data_start
    infos = [_check_entry(r, tname, info, data_len) for tname, info in header.items()]
    spans = sorted((i[3], i[4], i[0]) for i in infos)
    prev = None  # the non-empty span reaching furthest so far
    for b, e, tname in spans:
        if b == e:
            continue
        if prev is not None and b < prev[1]:
            r.fail(f"tensors {prev[2]!r} {list(prev[:2])} and {tname!r} {[b, e]} overlap")
        if prev is None or e > prev[1]:
            prev = (b, e, tname)
    sums, meta_crc = _stored_checksums(r, meta, header)
    if meta_crc is not None and _metadata_crc(meta) != meta_crc:
        raise CheckpointError(f"load: {r.name} is corrupted: its __metadata__ (e.g. the "
                              "checkpoint's structure and plain values) fails its checksum")
    raws = {}
    if mmap:
        data = r.src.map()[data_start:]
        raws = {i[0]: data[i[3]:i[4]] for i in infos}
    else:
        for b, e, tname in spans:  # in file order: a stream that cannot seek reads forward
            try:
                buf = np.empty(e - b, np.uint8)
            except MemoryError:
                raise CheckpointError(f"load: {r.name}: no memory for tensor {tname!r} "
                                      f"({e - b} bytes)") from None
            if r.src.read_into(data_start + b, buf) < e - b:
                r.fail(f"tensor {tname!r}: data_offsets {[b, e]} run past the end of the "
                       "data (file truncated?)")
            raws[tname] = buf
    out = {}
    for tname, code, shape, _, _ in infos:
        buf = raws[tname]
        if sums is not None:
            got = zlib.crc32(buf.data, _tensor_seed(code, shape))
            if got != sums[tname]:
                raise CheckpointError(
                    f"load: {r.name} is corrupted: tensor {tname!r} fails its checksum (crc32 "
                    f"{got:08x}, written as {sums[tname]:08x}); its bytes changed after the "
                    "file was written (a disk, memory or copy error)")
        dt = DTYPES[code]
        arr = buf.view(dt).reshape(shape)
        if sys.byteorder == "big" and dt.itemsize > 1:
            arr = arr.byteswap()
        out[tname] = arr
    return out, meta


_MAX_DIMS = 64  # NumPy's limit on an array's dimensions


def _check_entry(r: _Reader, name: str, info, data_len):
    """Validate one header entry: ``(name, dtype code, shape, begin, end)``."""
    if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= info.keys():
        r.fail(f"tensor {name!r}: expected an object with dtype, shape and data_offsets, "
               f"got {info!r:.200}")
    code, shape, offs = info["dtype"], info["shape"], info["data_offsets"]
    if isinstance(code, str) and code not in DTYPES:
        _with_bfloat16()
    if not isinstance(code, str) or code not in DTYPES:
        r.fail(f"tensor {name!r}: unknown or unsupported dtype {code!r:.100}; supported: "
               f"{', '.join(DTYPES)}")
    if not isinstance(shape, list) or not all(_int(s) for s in shape):
        r.fail(f"tensor {name!r}: shape must be a list of non-negative ints, got {shape!r:.200}")
    if len(shape) > _MAX_DIMS:
        r.fail(f"tensor {name!r}: shape has {len(shape)} dimensions (at most {_MAX_DIMS})")
    itemsize = DTYPES[code].itemsize
    extent = itemsize  # the bytes an array of this shape would address, zero sizes aside
    for s in shape:
        extent *= max(s, 1)
    if extent >= 2 ** 63:
        r.fail(f"tensor {name!r}: shape {shape!r:.200} is too large for an array")
    if not (isinstance(offs, list) and len(offs) == 2 and all(_int(o) for o in offs)
            and offs[0] <= offs[1]):
        r.fail(f"tensor {name!r}: data_offsets must be [begin, end] with 0 <= begin <= end, "
               f"got {offs!r:.200}")
    numel = 1
    for s in shape:
        numel *= s
    nbytes = numel * itemsize
    if offs[1] - offs[0] != nbytes:
        r.fail(f"tensor {name!r}: {code} shape {tuple(shape)} needs {nbytes} bytes, but "
               f"data_offsets {offs} span {offs[1] - offs[0]}")
    if data_len is not None and offs[1] > data_len:
        r.fail(f"tensor {name!r}: data_offsets {offs} run past the end of the data "
               f"({data_len} bytes; file truncated?)")
    return name, code, tuple(shape), offs[0], offs[1]

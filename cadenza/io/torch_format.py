"""Files written by PyTorch's ``torch.save``, read safely: the zip format (``<name>/data.pkl``,
the storages as ``<name>/data/<key>``, ``<name>/byteorder``) and the legacy format of
``_use_new_zipfile_serialization=False`` (magic number, protocol, system info, the pickle, its
storage keys, then each storage's raw bytes).

The pickle is read by :class:`_Restricted`, an ``Unpickler`` whose ``find_class`` hands out only
an allow-list of Cadenza's own callables, as PyTorch's ``weights_only=True`` does: the tensor
rebuild functions (``torch._utils._rebuild_tensor_v2``, ``_rebuild_parameter`` ...), storage
types, ``torch.Size`` / ``torch.device`` / dtypes, ``collections.OrderedDict``, the builtins
``set`` / ``frozenset`` / ``slice`` / ``complex`` / ``bytearray``, NumPy numbers and numeric
arrays (``numpy.dtype``, ``multiarray.scalar`` / ``_reconstruct``: no object dtypes; PyTorch
asks for these to be allow-listed, they are safe to read), and what the user allowed with
``cadenza.serialization.add_safe_globals``. With ``weights_only=False`` (or None) also
``argparse.Namespace`` / ``types.SimpleNamespace`` and whole models: PyTorch's nn classes become
Cadenza's of the same path (``torch.nn.modules.linear.Linear`` ->
``cadenza.nn.modules.linear.Linear``) and the program's own classes follow
``cadenza.io._allow.resolve``; they are made with ``__new__`` and their saved ``__dict__``, never
called. Every other global (``os.system``) raises :class:`UnsafeGlobalError` before anything is
called, whatever ``weights_only`` says: Cadenza never runs code a file chooses. BUILD (setting
state) is limited too (see :class:`_Restricted`).

Tensors share their storage as in PyTorch: views saved together come back aliasing one NumPy
buffer. ``mmap=True`` maps the (uncompressed) zip copy-on-write instead of reading it.

>>> import io, zipfile
>>> sniff(b"PK\\x03\\x04" + b"\\0" * 12), sniff(LEGACY_MAGIC), sniff(b"{}")
('zip', 'legacy', None)
"""
from __future__ import annotations

import argparse
import codecs
import collections
import io
import os
import pickle
import struct
import types
import zipfile

import numpy as np

from .. import cuda as _cuda
from .._creation import from_numpy
from .._tensor import Size, Tensor
from ..device import as_device, device as _device
from ..dtypes import dtype as _dtype, to_dtype
from ..nn.parameter import Parameter
from . import _allow
from ._allow import UnsafeGlobalError
from ._format import CheckpointError, read_at

__all__ = ["sniff", "load_torch_file", "LEGACY_MAGIC"]

_MAGIC_NUMBER = 0x1950a86a20f9469cfc6c
LEGACY_MAGIC = pickle.dumps(_MAGIC_NUMBER, protocol=2)  # the legacy format's first pickle
_LEGACY_PROTOCOL = 1001

# storage class name -> dtype name
_STORAGES = {"DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16",
             "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
             "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8",
             "BoolStorage": "bool", "ComplexFloatStorage": "complex64",
             "ComplexDoubleStorage": "complex128", "UntypedStorage": "uint8"}
# the names of torch's dtype objects a pickle may name (torch.float32, torch.long ...)
_DTYPE_NAMES = frozenset({"float64", "double", "float32", "float", "float16", "half",
                          "bfloat16", "int64", "long", "int32", "int", "int16", "short", "int8",
                          "uint8", "bool", "complex64", "cfloat", "complex128", "cdouble",
                          "uint16", "uint32", "uint64", "float8_e4m3fn", "float8_e5m2"})


def sniff(head: bytes):
    """'zip' or 'legacy' for the first bytes of a ``torch.save`` file, else None."""
    if head[:4] == b"PK\x03\x04":
        return "zip"
    if head[:len(LEGACY_MAGIC)] == LEGACY_MAGIC:
        return "legacy"
    return None


class _StorageType:
    """What ``torch.FloatStorage`` and the other storage classes stand for in a pickle."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.dtype = to_dtype(_STORAGES[name])

    def __repr__(self) -> str:
        return f"torch.{self.name}"


class _Storage:
    """One storage of the file: a flat NumPy array every tensor on it views, and its device."""

    def __init__(self, array: np.ndarray, device) -> None:
        self.array = array
        self.device = device


def _fail(where: str, what: str):
    raise CheckpointError(f"load: {where} is not a valid torch.save file: {what}")


def _ints(x, what: str, where: str) -> tuple:
    if not isinstance(x, (tuple, list, Size)) or not all(
            type(v) is int and v >= 0 for v in x):
        _fail(where, f"{what} must be a tuple of non-negative ints, got {x!r:.80}")
    return tuple(x)


class _Rebuild:
    """The rebuild functions of one load (they know the file's name for errors)."""

    def __init__(self, where: str) -> None:
        self.where = where

    def tensor_v2(self, storage, storage_offset, size, stride, requires_grad=False,
                  backward_hooks=None, metadata=None):
        if not isinstance(storage, _Storage):
            _fail(self.where, f"a tensor's storage is a {type(storage).__name__}")
        if type(storage_offset) is not int or storage_offset < 0:
            _fail(self.where, f"storage offset {storage_offset!r:.80}")
        size, stride = _ints(size, "size", self.where), _ints(stride, "stride", self.where)
        if len(size) != len(stride):
            _fail(self.where, f"size {size} and stride {stride} differ in length")
        arr = storage.array
        if 0 not in size:
            last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
            if last >= arr.size:
                _fail(self.where, f"a tensor of size {size}, stride {stride} at offset "
                      f"{storage_offset} reaches element {last} of a storage of {arr.size}")
        item = arr.itemsize
        # ml_dtypes' types (bfloat16, float8) have no array-interface type string that names
        # them: stride the bytes as unsigned ints of their size, then read them as the type
        base = arr if arr.dtype.isbuiltin == 1 else arr.view(f"u{item}")
        view = np.lib.stride_tricks.as_strided(
            base[min(storage_offset, arr.size):], shape=size,
            strides=tuple(s * item for s in stride))
        if base is not arr:
            view = view.view(arr.dtype)
        t = from_numpy(view)
        if storage.device is not None and storage.device.type != "cpu":
            t = t.to(storage.device)
        if requires_grad and t.is_floating_point():
            t.requires_grad_(True)
        return t

    def tensor(self, storage, storage_offset, size, stride):
        return self.tensor_v2(storage, storage_offset, size, stride)

    def tensor_v3(self, storage, storage_offset, size, stride, requires_grad, backward_hooks,
                  dtype, metadata=None):
        """torch's form for dtypes without a typed storage class (uint16/32/64, float8): an
        untyped (byte) storage read as ``dtype``, offset and strides in its elements."""
        if not isinstance(storage, _Storage) or not isinstance(dtype, _dtype):
            _fail(self.where, "_rebuild_tensor_v3 without a storage and a dtype")
        npdt = _np_dtype(dtype)
        arr = storage.array
        if arr.dtype != npdt:
            if arr.dtype != np.uint8 or arr.size % npdt.itemsize:
                _fail(self.where, f"a {dtype} tensor on a storage of {arr.dtype}")
            arr = arr.view(npdt)
        return self.tensor_v2(_Storage(arr, storage.device), storage_offset, size, stride,
                              requires_grad, backward_hooks, metadata)

    def parameter(self, data, requires_grad, backward_hooks, state=None):
        if not isinstance(data, Tensor):
            _fail(self.where, f"a Parameter of a {type(data).__name__}")
        p = Parameter(data.detach(), requires_grad=bool(requires_grad)
                      and data.is_floating_point())
        if isinstance(state, dict):
            for k, v in state.items():
                if isinstance(k, str) and not k.startswith("_"):
                    setattr(p, k, v)
        return p

    def from_type_v2(self, func, new_type, args, state):
        if func not in (self.tensor_v2, self.tensor, self.parameter) or \
                not isinstance(args, tuple):
            _fail(self.where, "_rebuild_from_type_v2 of something other than a tensor")
        t = func(*args)
        if new_type is Parameter and not isinstance(t, Parameter):
            t = Parameter(t.detach(), requires_grad=t.requires_grad)
        return t


def _codecs_encode(text, encoding="utf-8"):
    """``_codecs.encode``, by which protocol-2 pickles store bytes: text codecs only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8"):
        raise CheckpointError(f"load: _codecs.encode({type(text).__name__}, {encoding!r:.40}) "
                              "is not allowed; only the latin1/utf-8 encoding of a str is")
    return codecs.encode(text, encoding)


# NumPy values in a checkpoint (a best score as np.float64, an index array): numbers only
_NP_KINDS = "biufc"


def _np_plain(dt, what: str) -> np.dtype:
    if not isinstance(dt, np.dtype) or dt.kind not in _NP_KINDS or dt.fields is not None:
        raise CheckpointError(f"load: {what} of dtype {dt!r:.60} is not allowed; only "
                              "NumPy's numeric dtypes are")
    return dt


def _np_dtype_new(name, align=False, copy=False):
    """``numpy.dtype('f8', False, True)`` as pickled: a numeric dtype named by a str."""
    if not isinstance(name, str) or len(name) > 8:
        raise CheckpointError(f"load: numpy.dtype({name!r:.60}) is not allowed")
    try:
        dt = np.dtype(name)
    except TypeError:
        raise CheckpointError(f"load: numpy.dtype({name!r:.60}) is not a dtype") from None
    return _np_plain(dt, "a NumPy value")


def _np_scalar(dt, data=None):
    """``numpy.core.multiarray.scalar(dtype, bytes)``: a NumPy number."""
    dt = _np_plain(dt, "a NumPy scalar")
    if not isinstance(data, bytes) or len(data) != dt.itemsize:
        raise CheckpointError(f"load: a NumPy {dt} scalar needs {dt.itemsize} bytes, got "
                              f"{data!r:.60}")
    return np.frombuffer(data, dt)[0]


class _NdarrayClass:
    """Stands for ``numpy.ndarray`` in a pickle; only ``_reconstruct`` takes it."""


class _ArrayStub:
    """``numpy.core.multiarray._reconstruct(ndarray, (0,), b'b')``: the array that BUILD
    (``_array_from_state``) then fills."""


def _np_reconstruct(cls, shape=None, code=None):
    if not isinstance(cls, _NdarrayClass):
        raise CheckpointError(f"load: numpy _reconstruct of {cls!r:.60}, not numpy.ndarray")
    return _ArrayStub()


def _array_from_state(state, where: str) -> np.ndarray:
    if not (isinstance(state, tuple) and len(state) == 5):
        _fail(where, f"a NumPy array's state {state!r:.80}")
    _, shape, dt, fortran, raw = state
    dt = _np_plain(dt, "a NumPy array")
    shape = _ints(shape, "a NumPy array's shape", where)
    if not isinstance(raw, bytes) or len(raw) != int(np.prod(shape)) * dt.itemsize:
        _fail(where, f"a NumPy array of shape {shape} and dtype {dt} with {type(raw).__name__}"
              " data of the wrong length")
    return np.frombuffer(raw, dt).reshape(shape, order="F" if fortran else "C").copy(order="A")


def _dtype_from_state(dt: np.dtype, state, where: str) -> np.dtype:
    if not (isinstance(state, tuple) and len(state) >= 2 and state[1] in ("<", ">", "|", "=")):
        _fail(where, f"a NumPy dtype's state {state!r:.80}")
    return dt.newbyteorder(state[1]) if state[1] in "<>" else dt


def _globals(rb: _Rebuild) -> dict:
    out = {("collections", "OrderedDict"): collections.OrderedDict,
           ("torch", "Size"): Size, ("torch", "device"): _device,
           ("torch", "Tensor"): Tensor, ("torch.nn.parameter", "Parameter"): Parameter,
           ("_codecs", "encode"): _codecs_encode,
           ("torch._utils", "_rebuild_tensor_v2"): rb.tensor_v2,
           ("torch._utils", "_rebuild_tensor"): rb.tensor,
           ("torch._utils", "_rebuild_tensor_v3"): rb.tensor_v3,
           ("torch._utils", "_rebuild_parameter"): rb.parameter,
           ("torch._utils", "_rebuild_parameter_with_state"): rb.parameter,
           ("torch._tensor", "_rebuild_from_type_v2"): rb.from_type_v2}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        out[(mod, "scalar")] = _np_scalar
        out[(mod, "_reconstruct")] = _np_reconstruct
    out[("numpy", "dtype")] = _np_dtype_new
    out[("numpy", "ndarray")] = _NdarrayClass()
    for b in (set, frozenset, slice, complex, bytearray, dict, list, tuple):
        out[("builtins", b.__name__)] = b
    for name in _STORAGES:
        out[("torch", name)] = out[("torch.storage", name)] = _StorageType(name)
    return out


# with weights_only=False (or None): classes of plain attributes (argparse's parsed arguments),
# made with __new__ and filled by BUILD; neither runs code of the file's choosing
_CONFIGS = {("argparse", "Namespace"): argparse.Namespace,
            ("types", "SimpleNamespace"): types.SimpleNamespace}


class _Restricted(pickle._Unpickler):
    """An unpickler that calls nothing but the allow-list (see the module's docstring).

    It is pickle's Python implementation, so that BUILD (which sets attributes, or calls
    ``__setstate__``, on the object below it) can be limited too: a file must not set
    ``__len__`` on ``torch.Size`` or anything on a dtype. BUILD is accepted on the dicts
    (``OrderedDict._metadata`` of a state dict) and Parameters the file made, with plain
    attribute names, and on instances of classes the user allowed (add_safe_globals)."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, fh, where: str, weights_only, load_storage) -> None:
        super().__init__(fh, encoding="utf-8")
        self.where = where
        self.weights_only = weights_only
        self.load_storage = load_storage
        self.allowed = _globals(_Rebuild(where))
        self.no_call = set()  # ids of the classes and functions of _whole_object
        self.keep = []        # ... kept alive while their ids are in use

    def find_class(self, module, name):
        module = "builtins" if module == "__builtin__" else module
        obj = _allow._USER.get((module, name))
        if obj is None:
            obj = self.allowed.get((module, name))
        if obj is None and module == "torch" and name in _DTYPE_NAMES:
            obj = to_dtype(name)
        if obj is None and not self.weights_only:  # configs saved next to the weights
            obj = _CONFIGS.get((module, name))
        if obj is None and not self.weights_only:
            obj = self._whole_object(module, name)
        if obj is None:
            raise UnsafeGlobalError(self._refusal(module, name))
        return obj

    def _whole_object(self, module: str, name: str):
        """With weights_only=False, a whole model: PyTorch's nn classes (and functions) as
        Cadenza's of the same path (``torch.nn.modules.linear.Linear`` ->
        ``cadenza.nn.modules.linear.Linear``), and the program's own classes by the rules of
        ``cadenza.io._allow.resolve``. They are made with ``__new__`` and filled by BUILD
        (Cadenza's ``Module.__setstate__``); calling them (REDUCE) is refused."""
        if module == "torch" or module.startswith("torch."):
            module = "cadenza" + module[len("torch"):]
        try:
            obj = _allow.resolve(module, name, False, self.where)
        except CheckpointError:
            return None
        self.no_call.add(id(obj))
        self.keep.append(obj)
        return obj

    def load_reduce(self):
        if id(self.stack[-2]) in self.no_call:
            raise UnsafeGlobalError(
                f"load: {self.where}: Unsupported operation: REDUCE (a call) of "
                f"{getattr(self.stack[-2], '__qualname__', '?')}; classes of a whole object "
                "are made with __new__ and their saved state, never called")
        pickle._Unpickler.load_reduce(self)

    dispatch[pickle.REDUCE[0]] = load_reduce

    def _instantiate(self, klass, args):  # the OBJ and INST opcodes of protocols 0 and 1
        if id(klass) in self.no_call:
            raise UnsafeGlobalError(f"load: {self.where}: Unsupported operation: a call of "
                                    f"{getattr(klass, '__qualname__', '?')} (OBJ/INST)")
        pickle._Unpickler._instantiate(self, klass, args)

    def _refusal(self, module, name) -> str:
        full = f"{module}.{name}"
        msg = (f"load: {self.where}: Unsupported global: GLOBAL {full}. Cadenza reads "
               "torch.save files with an allow-list (tensors, storages, Parameters, "
               "OrderedDict, Size, device, dtypes, plain containers, NumPy numbers; with "
               "weights_only=False also argparse.Namespace / types.SimpleNamespace and whole "
               "models of Cadenza's nn classes or the program's own) and never "
               f"calls other code from a file, whatever weights_only (={self.weights_only}) "
               "says.")
        if (module, name) in _CONFIGS:
            msg += " Load with weights_only=False to allow it."
        elif module.startswith("torch."):
            msg += (" For a whole model, load with weights_only=False if Cadenza has the "
                    "class under the same name (cadenza" + module[len("torch"):] + "), or "
                    "save its state_dict() in PyTorch and load that into the Cadenza model "
                    "with load_state_dict().")
        else:
            msg += (f" If you trust this file and {full} is a class or function of yours, "
                    f"allow it: cadenza.serialization.add_safe_globals([{name}]).")
        return msg

    def load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        cls = type(inst)
        if _allow._USER.get(_allow.name_of(cls)) is cls:
            self.stack.append(state)
            pickle._Unpickler.load_build(self)
            return
        if isinstance(inst, (np.dtype, _ArrayStub)):
            made = (_dtype_from_state(inst, state, self.where) if isinstance(inst, np.dtype)
                    else _array_from_state(state, self.where))
            self.stack[-1] = made
            # the newest memo entry holding inst is the one this BUILD completes; only its
            # state (a few entries) was memoized since
            for i, k in enumerate(reversed(self.memo)):
                if self.memo[k] is inst or i > 64:
                    self.memo[k] = made if self.memo[k] is inst else self.memo[k]
                    break
            return
        plain = isinstance(state, dict) and all(
            isinstance(k, str) and not k.startswith("__") for k in state)
        if plain and id(cls) in self.no_call:  # a whole model's module (or optimizer)
            setstate = getattr(cls, "__setstate__", None)
            if setstate is not None and setstate is not getattr(object, "__setstate__", None):
                setstate(inst, state)  # Cadenza's own: resolve checked the class
            else:
                inst.__dict__.update(state)
            return
        if not (plain and isinstance(inst, (dict, Parameter, *_CONFIGS.values()))):
            raise UnsafeGlobalError(
                f"load: {self.where}: Unsupported operation: BUILD (setting the state) of a "
                f"{cls.__qualname__} with {type(state).__name__} {state!r:.80}; Cadenza sets "
                "plain attributes only on the dicts and Parameters a file makes, and on "
                "classes allowed with cadenza.serialization.add_safe_globals")
        for k, v in state.items():
            setattr(inst, k, v)

    dispatch[pickle.BUILD[0]] = load_build

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            _fail(self.where, f"unknown persistent id {pid!r:.80} (only storages are read)")
        _, stype, key, location, numel = pid[:5]
        if not isinstance(stype, _StorageType) and not isinstance(stype, _dtype):
            _fail(self.where, f"storage type {stype!r:.80}")
        dt = stype if isinstance(stype, _dtype) else stype.dtype
        if not isinstance(key, str) or not isinstance(location, str) or \
                type(numel) is not int or numel < 0:
            _fail(self.where, f"storage id {pid!r:.120}")
        return self.load_storage(dt, key, location, numel, pid[5:])


def _target(location: str, map_location):
    """The device a storage saved at ``location`` goes to (None: keep it on the CPU)."""
    if isinstance(map_location, dict):
        location = map_location.get(location, location)
        map_location = None
    if map_location is None:
        dev = as_device(location)
        if dev.type == "cuda":
            if not _cuda.is_available():
                raise RuntimeError(
                    f"load: a tensor was saved on {location}, but cadenza.cuda.is_available() "
                    "is False. On a CPU-only machine pass map_location='cpu' (or "
                    "torch.device('cpu')).")
        return dev
    return as_device(map_location)


def _place(array: np.ndarray, location: str, map_location) -> _Storage:
    if callable(map_location) and not isinstance(map_location, (str, dict, _device)):
        flat = from_numpy(array)
        out = map_location(flat, location)
        if out is None or out is flat:
            return _Storage(array, None)
        if isinstance(out, _Storage):
            return out
        if not isinstance(out, Tensor):
            raise TypeError(f"load: map_location returned a {type(out).__name__}, expected "
                            "the storage (a flat Tensor) it was given, moved")
        if out.device.type == "cpu":
            return _Storage(np.asarray(out.detach()).reshape(-1), None)
        return _Storage(array, out.device)
    return _Storage(array, _target(location, map_location))


def _native(raw: np.ndarray, dt, big: bool, numel: int, where: str, key: str) -> np.ndarray:
    npdt = _np_dtype(dt)
    if raw.size != numel * npdt.itemsize:
        _fail(where, f"storage {key} has {raw.size} bytes, {numel} x {npdt.itemsize} expected")
    arr = raw.view(npdt)
    if big and npdt.itemsize > 1:
        arr = arr.byteswap()  # a copy in native order
    return arr


def _np_dtype(dt) -> np.dtype:
    return np.dtype(dt.np)


class _ZipSource:
    def __init__(self, f, where: str, mmap: bool) -> None:
        self.where = where
        try:
            self.zf = zipfile.ZipFile(f)
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            _fail(where, f"a broken zip archive ({e})")
        names = [n for n in self.zf.namelist() if n.endswith("data.pkl")
                 and n.count("/") == 1]
        if len(names) != 1:
            _fail(where, f"expected one <name>/data.pkl in the archive, found {names}")
        self.prefix = names[0][:-len("data.pkl")]
        order = self._member("byteorder", optional=True)
        self.big = order is not None and order.strip() == b"big"
        if order is not None and order.strip() not in (b"big", b"little"):
            _fail(where, f"byteorder {order[:20]!r}")
        self.mapped = None
        if mmap and isinstance(f, (str, bytes, os.PathLike)):
            self.mapped = np.memmap(f, dtype=np.uint8, mode="c")
        self.fh = self.zf.fp  # the open file, for reading stored members in place

    def close(self) -> None:
        self.zf.close()

    def _start(self, info) -> int:
        """Where the bytes of an uncompressed member begin (after its local header)."""
        head = np.empty(30, np.uint8)
        if read_at(self.fh, info.header_offset, head) < 30 or head[:4].tobytes() != b"PK\x03\x04":
            _fail(self.where, f"a broken local header of {info.filename}")
        n, extra = struct.unpack("<HH", head[26:30].tobytes())
        return info.header_offset + 30 + n + extra

    def _member(self, name: str, optional=False):
        try:
            return self.zf.read(self.prefix + name)
        except KeyError:
            if optional:
                return None
            _fail(self.where, f"{self.prefix + name} is missing")

    def raw(self, key: str, nbytes: int) -> np.ndarray:
        try:
            info = self.zf.getinfo(f"{self.prefix}data/{key}")
        except KeyError:
            _fail(self.where, f"storage {self.prefix}data/{key} is missing")
        if info.file_size != nbytes:
            _fail(self.where, f"storage {key} holds {info.file_size} bytes, {nbytes} expected")
        if info.compress_type != zipfile.ZIP_STORED or not callable(
                getattr(self.fh, "readinto", None)):
            return np.frombuffer(bytearray(self.zf.read(info)), np.uint8)
        start = self._start(info)
        if self.mapped is not None:
            out = self.mapped[start:start + nbytes]
        else:  # straight into the storage's buffer, one copy
            out = np.empty(nbytes, np.uint8)
            out = out[:read_at(self.fh, start, out)]
        if out.size != nbytes:
            _fail(self.where, f"storage {key} is cut short ({out.size} of {nbytes} bytes)")
        return out


def _load_zip(f, where, map_location, weights_only, mmap):
    src = _ZipSource(f, where, mmap)
    made = {}

    def load_storage(dt, key, location, numel, _rest):
        if key not in made:
            nbytes = numel * _np_dtype(dt).itemsize
            arr = _native(src.raw(key, nbytes), dt, src.big, numel, where, key)
            made[key] = (dt, _place(arr, location, map_location))
        if made[key][0] != dt:
            _fail(where, f"storage {key} is read as {made[key][0]} and as {dt}")
        return made[key][1]

    try:
        up = _Restricted(io.BytesIO(src._member("data.pkl")), where, weights_only,
                         load_storage)
        return _run(up, where)
    finally:
        src.close()


def _run(up: _Restricted, where: str):
    try:
        return up.load()
    except (CheckpointError, RuntimeError, TypeError):
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, AttributeError, IndexError,
            KeyError, struct.error) as e:
        _fail(where, f"a broken pickle ({type(e).__name__}: {e})")


def _load_legacy(data: bytes, where, map_location, weights_only):
    fh = io.BytesIO(data)
    no_storage = _Restricted(fh, where, weights_only, None)
    if _run(no_storage, where) != _MAGIC_NUMBER:
        _fail(where, "wrong magic number")
    if _run(no_storage, where) != _LEGACY_PROTOCOL:
        _fail(where, "unknown legacy protocol version")
    info = _run(no_storage, where)
    if not isinstance(info, dict):
        _fail(where, "no system information")
    big = info.get("little_endian", True) is False
    roots, placed = {}, {}

    def load_storage(dt, key, location, numel, rest):
        if key not in roots:
            if numel * _np_dtype(dt).itemsize > len(data):  # before allocating anything
                _fail(where, f"storage {key} of {numel} elements is larger than the file")
            roots[key] = (dt, np.zeros(numel, _np_dtype(dt)), location)
        if roots[key][0] != dt:
            _fail(where, f"storage {key} is read as {roots[key][0]} and as {dt}")
        view = rest[0] if rest else None
        if view is None:
            return placed.setdefault(key, _Storage(roots[key][1], None))
        if not (isinstance(view, tuple) and len(view) == 3 and isinstance(view[0], str)
                and all(type(v) is int and v >= 0 for v in view[1:])):
            _fail(where, f"storage view {view!r:.80}")
        vkey, off, n = view
        if off + n > numel:
            _fail(where, f"storage view {vkey} past the end of storage {key}")
        return placed.setdefault(vkey, _Storage(roots[key][1][off:off + n], None))

    result = _run(_Restricted(fh, where, weights_only, load_storage), where)
    keys = _run(no_storage, where)
    if not isinstance(keys, list) or set(keys) != set(roots):
        _fail(where, "the storage key list does not match the storages")
    for key in keys:
        dt, arr, _ = roots[key]
        head = fh.read(8)
        if len(head) < 8 or int.from_bytes(head, "big" if big else "little") != arr.size:
            _fail(where, f"storage {key} has a wrong or missing element count")
        raw = np.frombuffer(fh.read(arr.nbytes), np.uint8)
        arr[...] = _native(raw, dt, big, arr.size, where, key)
    return _relocate(result, roots, map_location)


def _relocate(result, roots, map_location):
    """Legacy storages are filled after the pickle, so they are placed now: the tensors view
    the filled CPU arrays already, and move (all together) when the storages go elsewhere."""
    devs = {_place(arr, loc, map_location).device for _, arr, loc in roots.values()}
    devs = {d for d in devs if d is not None and d.type != "cpu"}
    if len(devs) > 1:
        raise CheckpointError(f"load: map_location sends the storages of a legacy torch.save "
                              f"file to several devices ({sorted(map(str, devs))}); Cadenza "
                              "moves them together: give one device")
    return _to_device(result, devs.pop()) if devs else result


def _to_device(obj, dev):
    if isinstance(obj, Parameter):
        return Parameter(obj.detach().to(dev), requires_grad=obj.requires_grad)
    if isinstance(obj, Tensor):
        return obj.to(dev)
    if isinstance(obj, dict):
        out = type(obj)() if isinstance(obj, collections.OrderedDict) else {}
        out.update((k, _to_device(v, dev)) for k, v in obj.items())
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(v, dev) for v in obj)
    return obj


def load_torch_file(f, kind: str, where: str, map_location=None, weights_only=None,
                    mmap=False):
    """Read a ``torch.save`` file of ``kind`` ('zip' or 'legacy', see :func:`sniff`)."""
    if kind == "zip":
        return _load_zip(f, where, map_location, weights_only, mmap)
    if isinstance(f, (str, bytes, os.PathLike)):
        with open(f, "rb") as fh:
            data = fh.read()
    else:
        data = f.read()
    return _load_legacy(data, where, map_location, weights_only)

"""``save`` / ``load``: tensors, state dicts and nested containers as one safetensors file.

Tensors are stored under dotted names (``model.fc.weight``, ``optimizer.state.0.exp_avg``), so
any safetensors reader sees them; the structure (containers, key types including int keys,
plain values, requires_grad, Parameter-ness, shared tensors, and whole objects as their class's
name plus their ``__getstate__()``) is a JSON description in the header's
``__metadata__["cadenza.structure"]``. Nothing is pickled, and loading executes nothing from the
file: objects are rebuilt only for allow-listed classes (``_allow``).

>>> import io, cadenza as torch
>>> buf = io.BytesIO()
>>> torch.save({"step": 3, "state": {0: {"m": torch.zeros(2)}}}, buf); _ = buf.seek(0)
>>> torch.load(buf)["state"][0]["m"]
tensor([0., 0.])
"""
from __future__ import annotations

import base64
import collections
import enum
import json
import os
import stat
import sys
import types

import numpy as np

from .._creation import from_numpy
from ..backend.meta import meta_array
from .._tensor import Size, Tensor, _make
from ..device import as_device, device
from ..dtypes import dtype as _dtype, to_dtype
from ..nn.parameter import Parameter
from ._allow import name_of, resolve
from ._format import CheckpointError, atomic_write, describe, read_safetensors, \
    write_safetensors
from .torch_format import load_torch_file, sniff

__all__ = ["save", "load", "save_safetensors", "load_safetensors"]

STRUCTURE_KEY = "cadenza.structure"
_OBJECT_SETSTATE = getattr(object, "__setstate__", None)
FORMAT_VERSION = "1"


def _write(f, named, metadata) -> None:
    if isinstance(f, (str, bytes, os.PathLike)):
        atomic_write(f, lambda fh: write_safetensors(fh, named, metadata))
    elif callable(getattr(f, "write", None)):
        write_safetensors(f, named, metadata)
        if callable(getattr(f, "flush", None)):
            f.flush()
    else:
        raise TypeError(f"save: expected a path or a binary file object, got {type(f).__name__}")


# the state dicts of modules name their tensors without these levels: "fc.weight", not
# "fc._parameters.weight"
_FLAT_KEYS = frozenset({"_parameters", "_buffers", "_modules", "__dict__"})
_PLAIN_REDUCE = (object.__reduce__, object.__reduce_ex__)


def _importable(obj) -> bool:
    """Whether ``obj`` (a class or function) is found again under its module and qualname."""
    mod = sys.modules.get(getattr(obj, "__module__", None) or "")
    found = mod
    for part in obj.__qualname__.split("."):
        found = getattr(found, part, None)
    return found is obj


class _Encoder:
    """Walk the object once: collect tensors under unique names and describe the rest."""

    def __init__(self) -> None:
        self.named = []        # [(name, ndarray)]
        self.names = set()
        self.by_id = {}        # id(tensor) -> name, so shared (tied) tensors are stored once
        self.objects = {}      # id(object) -> its number, so shared objects are stored once
        self.keep = []         # what the ids above refer to, alive until the save ends
        self.active = set()    # ids of containers on the current path (cycle check)

    def _unique(self, name: str) -> str:
        name = name or "tensor"
        cand, i = name, 1
        while cand in self.names or cand == "__metadata__":
            cand, i = f"{name}#{i}", i + 1
        self.names.add(cand)
        return cand

    def key(self, k, path):
        if isinstance(k, (list, dict, bytearray)):
            raise TypeError(f"save: cannot store dict key {k!r:.80} of type "
                            f"{type(k).__name__} at {path or 'top level'}; keys must be "
                            "hashable")
        return self.value(k, path)

    def value(self, x, path: str):
        if isinstance(x, Tensor):
            return self.tensor(x, path)
        if isinstance(x, np.ndarray):
            node = self.tensor(x, path)
            node["numpy"] = True
            return node
        if isinstance(x, np.generic):
            x = x.item()
        if x is None:
            return {"type": "none"}
        if isinstance(x, bool):
            return {"type": "bool", "value": x}
        if isinstance(x, int):
            return {"type": "int", "value": int(x)}
        if isinstance(x, float):
            return {"type": "float", "value": repr(float(x))}
        if isinstance(x, complex):
            return {"type": "complex", "value": [repr(x.real), repr(x.imag)]}
        if isinstance(x, str):
            return {"type": "str", "value": str(x)}
        if isinstance(x, (bytes, bytearray)):
            return {"type": "bytes", "value": base64.b64encode(bytes(x)).decode()}
        if isinstance(x, _dtype):
            return {"type": "dtype", "value": x.name}
        if isinstance(x, device):
            return {"type": "device", "value": str(x)}
        if isinstance(x, Size):
            return {"type": "size", "value": [int(s) for s in x]}
        if x is Ellipsis:
            return {"type": "ellipsis"}
        if isinstance(x, (slice, range)):
            kind = "slice" if isinstance(x, slice) else "range"
            return {"type": kind, "items": [self.value(v, path)
                                            for v in (x.start, x.stop, x.step)]}
        if isinstance(x, (dict, list, tuple, set, frozenset)):
            return self.container(x, path)
        if isinstance(x, (type, types.FunctionType, types.BuiltinFunctionType)):
            return self.global_(x, path)
        if isinstance(x, enum.Enum):
            return {**self.global_(type(x), path), "type": "enum", "name": x.name}
        return self.object(x, path)

    def global_(self, x, path: str):
        mod, qual = name_of(x)
        if "<" in qual or not _importable(x):
            raise TypeError(f"save: cannot store {type(x).__name__} {qual} at "
                            f"{path or 'top level'}: it is not found under its module and "
                            "name (a lambda or a local definition), so it could not be "
                            "loaded again")
        return {"type": "global", "module": mod, "qualname": qual}

    def object(self, x, path: str):
        """An instance of a class: its class by name and its state (``__getstate__``), which
        ``load`` sets on ``cls.__new__(cls)`` if the class is allowed there."""
        n = self.objects.get(id(x))
        if n is not None:
            return {"type": "ref", "id": n}
        cls = type(x)
        if (cls.__reduce_ex__ not in _PLAIN_REDUCE or cls.__reduce__ not in _PLAIN_REDUCE
                or not hasattr(x, "__getstate__")):
            raise TypeError(f"save: cannot store an object of type {cls.__qualname__} at "
                            f"{path or 'top level'}: it customises pickling (__reduce__), "
                            "which Cadenza checkpoints never run; supported: Tensor, numpy "
                            "array, containers, plain values, and objects restored from their "
                            "__dict__ (nn.Module, optimizers, dataclasses ...)")
        cls_node = self.global_(cls, path)
        n = len(self.objects)
        self.objects[id(x)] = n
        self.keep.append(x)
        state = x.__getstate__()
        self.keep.append(state)
        if isinstance(state, dict):
            pre = path + "." if path else ""
            items = [[self.key(k, path),
                      self.value(v, path if k in _FLAT_KEYS else pre + str(k))]
                     for k, v in state.items()]
            state_node = {"type": "dict", "items": items}
        else:
            state_node = self.value(state, path)
        return {"type": "object", "id": n, "module": cls_node["module"],
                "qualname": cls_node["qualname"], "state": state_node}

    def container(self, x, path: str):
        if id(x) in self.active:
            raise ValueError(f"save: the object contains itself at {path or 'top level'}")
        self.active.add(id(x))
        pre = path + "." if path else ""
        if isinstance(x, dict):
            kind = ("OrderedDict" if isinstance(x, collections.OrderedDict) else
                    "defaultdict" if isinstance(x, collections.defaultdict) else "dict")
            node = {"type": kind, "items": [[self.key(k, path), self.value(v, pre + str(k))]
                                            for k, v in x.items()]}
            if kind == "defaultdict":
                node["factory"] = self.value(x.default_factory, path)
        else:
            kind = ("list" if isinstance(x, list) else "set" if isinstance(x, set) else
                    "frozenset" if isinstance(x, frozenset) else "tuple")
            node = {"type": kind, "items": [self.value(v, f"{pre}{i}") for i, v in enumerate(x)]}
        self.active.discard(id(x))
        return node

    def tensor(self, t, path: str):
        name = self.by_id.get(id(t))
        meta = isinstance(t, Tensor) and t.is_meta
        if name is None:
            # a meta tensor has no values: an empty array of its dtype, its shape in the node
            arr = np.empty((0,), t._data.dtype) if meta else \
                np.asarray(t.detach() if isinstance(t, Tensor) else t)
            name = self._unique(path)
            self.by_id[id(t)] = name
            self.keep.append(t)
            self.named.append((name, arr))
        node = {"type": "tensor", "name": name}
        if meta:
            node["meta_shape"] = [int(s) for s in t.shape]
        if isinstance(t, Tensor):
            if t.requires_grad:
                node["requires_grad"] = True
            if isinstance(t, Parameter):
                node["parameter"] = True
        return node


def save(obj, f, pickle_module=None, pickle_protocol=None,
         _use_new_zipfile_serialization=True, _disable_byteorder_record=False) -> None:
    """Save ``obj`` to ``f`` (a path, written atomically, or a binary file object) as a
    safetensors file: tensors, state dicts, containers (dict, OrderedDict, defaultdict, list,
    tuple, set), plain values (int, float, complex, str, bytes, None, dtype, device, Size,
    slice, range) and whole objects such as a model, an optimizer or a config (stored as their
    class's name and ``__getstate__()``, as pickle's default protocol does; ``load`` restores
    them only for allowed classes, see ``cadenza.serialization``). Shared tensors and objects
    are stored once. ``pickle_module`` and ``pickle_protocol`` are accepted and ignored:
    nothing is pickled.

    >>> import os, tempfile, cadenza as torch
    >>> p = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
    >>> torch.save({"w": torch.ones(2), "step": 7}, p); torch.load(p)["step"]
    7
    """
    enc = _Encoder()
    structure = enc.value(obj, "")  # validates everything before the file is touched
    meta = {"format": "cadenza", "cadenza.version": FORMAT_VERSION,
            STRUCTURE_KEY: json.dumps(structure, separators=(",", ":"))}
    _write(f, enc.named, meta)


def _map_tensor(t, map_location):
    if map_location is None:
        return t
    if callable(map_location) and not isinstance(map_location, (str, dict)):
        out = map_location(t, "cpu")
        return t if out is None else out
    if isinstance(map_location, dict):
        map_location = map_location.get("cpu", "cpu")
    dev = as_device(map_location)
    return t if dev.type == "cpu" else t.to(dev)


class _Decoder:
    def __init__(self, arrays, name: str, map_location, weights_only) -> None:
        self.arrays = arrays
        self.name = name
        self.map_location = map_location
        self.weights_only = weights_only
        self.made = {}
        self.objects = {}  # number -> object (made before its state, so cycles resolve)

    def fail(self, what: str):
        raise CheckpointError(f"load: {self.name} has a corrupted cadenza.structure: {what}")

    def key(self, node):
        k = self.value(node)
        try:
            hash(k)
        except TypeError:
            self.fail(f"unhashable dict key {k!r:.80}")
        return k

    def _items(self, node, n=None):
        items = node.get("items")
        if not isinstance(items, list) or (n is not None and len(items) != n):
            self.fail(f"{node.get('type')} without an items list" + (f" of {n}" if n else ""))
        return items

    def value(self, node):
        if not isinstance(node, dict):
            self.fail(f"expected an object, got {node!r:.80}")
        kind, v = node.get("type"), node.get("value")
        if kind == "tensor":
            return self.tensor(node)
        if kind in ("dict", "OrderedDict", "defaultdict"):
            if kind == "defaultdict":
                factory = self.value(node.get("factory"))
                if factory is not None and not callable(factory):
                    self.fail(f"defaultdict factory {factory!r:.80} is not callable")
                out = collections.defaultdict(factory)
            else:
                out = collections.OrderedDict() if kind == "OrderedDict" else {}
            for pair in self._items(node):
                if not isinstance(pair, list) or len(pair) != 2:
                    self.fail(f"dict item must be [key, value], got {pair!r:.80}")
                out[self.key(pair[0])] = self.value(pair[1])
            return out
        if kind == "list":
            return [self.value(x) for x in self._items(node)]
        if kind == "tuple":
            return tuple(self.value(x) for x in self._items(node))
        if kind in ("set", "frozenset"):
            items = [self.key(x) for x in self._items(node)]
            return set(items) if kind == "set" else frozenset(items)
        if kind in ("slice", "range"):
            a, b, c = (self.value(x) for x in self._items(node, 3))
            if kind == "slice":
                return slice(a, b, c)
            if not all(isinstance(x, int) for x in (a, b, c)):
                self.fail(f"range with non-int bounds {(a, b, c)!r:.80}")
            return range(a, b, c)
        if kind == "none":
            return None
        if kind == "ellipsis":
            return Ellipsis
        if kind == "object":
            return self.object(node)
        if kind == "ref":
            n = node.get("id")
            if type(n) is not int or n not in self.objects:
                self.fail(f"reference to object {n!r:.80}, which comes later or not at all")
            return self.objects[n]
        if kind == "global":
            return resolve(node.get("module"), node.get("qualname"), self.weights_only,
                           self.name)
        if kind == "enum":
            cls = resolve(node.get("module"), node.get("qualname"), self.weights_only,
                          self.name, enum=True)
            members = getattr(cls, "__members__", None) if isinstance(cls, type) and \
                issubclass(cls, enum.Enum) else None
            if members is None or node.get("name") not in members:
                self.fail(f"enum node names {node.get('name')!r:.80}, not a member of "
                          f"{getattr(cls, '__qualname__', cls)!r:.80}")
            return members[node["name"]]
        checks = {"bool": bool, "int": int, "float": str, "str": str, "bytes": str,
                  "dtype": str, "device": str, "size": list, "complex": list}
        if kind not in checks:
            self.fail(f"unknown node type {kind!r:.80}")
        if not isinstance(v, checks[kind]) or (kind == "int" and isinstance(v, bool)):
            self.fail(f"{kind} node with value {v!r:.80}")
        try:
            if kind == "float":
                return float(v)
            if kind == "bytes":
                return base64.b64decode(v, validate=True)
            if kind == "dtype":
                return to_dtype(v)
            if kind == "device":
                return device(v)
            if kind == "complex":
                re_, im = v
                return complex(float(re_), float(im))
            if kind == "size":
                if not all(type(s) is int for s in v):
                    raise ValueError("sizes must be ints")
                return Size(v)
        except (ValueError, TypeError, RuntimeError) as e:
            self.fail(f"bad {kind} value {v!r:.80} ({e})")
        return v

    def object(self, node):
        n = node.get("id")
        if type(n) is not int or n in self.objects:
            self.fail(f"object number {n!r:.80} is missing or used twice")
        cls = resolve(node.get("module"), node.get("qualname"), self.weights_only, self.name)
        if not isinstance(cls, type):
            self.fail(f"object of {node.get('module')}.{node.get('qualname')}, not a class")
        try:
            obj = cls.__new__(cls)
        except TypeError as e:
            raise CheckpointError(f"load: {self.name}: cannot make an instance of "
                                  f"{cls.__qualname__} ({e})") from None
        self.objects[n] = obj
        state = self.value(node.get("state"))
        try:
            _set_state(obj, state, self.name)
        except (TypeError, ValueError, AttributeError, KeyError, IndexError) as e:
            raise CheckpointError(f"load: {self.name}: cannot restore a {cls.__qualname__} "
                                  f"from its saved state ({type(e).__name__}: {e})") from None
        return obj

    def tensor(self, node):
        name = node.get("name")
        if not isinstance(name, str) or name not in self.arrays:
            self.fail(f"tensor node names {name!r:.80}, which is not in the file")
        if node.get("numpy"):
            return self.arrays[name]
        t = self.made.get(name)
        if t is not None:
            return t
        shape = node.get("meta_shape")
        if shape is not None:
            if not (isinstance(shape, list) and all(type(s) is int and s >= 0 for s in shape)):
                self.fail(f"meta tensor node with shape {shape!r:.80}")
            t = _make(meta_array(shape, self.arrays[name].dtype))
        else:
            t = _map_tensor(from_numpy(self.arrays[name]), self.map_location)
        rg = bool(node.get("requires_grad")) and t.is_floating_point()
        if node.get("parameter"):
            t = Parameter(t, requires_grad=rg)
        elif rg:
            t.requires_grad_(True)
        self.made[name] = t
        return t


def _set_state(obj, state, where: str) -> None:
    """Pickle's BUILD: the class's ``__setstate__`` when it has one (only Cadenza's own or
    allow-listed classes get here with one, see _allow), else the saved ``__dict__`` (and
    ``__slots__`` values) set directly, without ``__setattr__``."""
    if state is None:
        return
    setstate = getattr(type(obj), "__setstate__", None)
    if setstate is not None and setstate is not _OBJECT_SETSTATE:
        setstate(obj, state)
        return
    slots = None
    if isinstance(state, tuple) and len(state) == 2:
        state, slots = state
    for d in (state, slots):
        if d is not None and not (isinstance(d, dict) and all(isinstance(k, str) for k in d)):
            raise CheckpointError(f"load: {where}: the state of a {type(obj).__qualname__} "
                                  f"must be a dict of attribute names, got {type(d).__name__}")
    if state:
        obj.__dict__.update(state)
    for k, v in (slots or {}).items():
        object.__setattr__(obj, k, v)


# pickle's load arguments torch.load passes on (**pickle_load_args): meaningless here
_PICKLE_LOAD_ARGS = frozenset({"encoding", "errors", "fix_imports", "buffers"})


def _torch_kind(f):
    """'zip' / 'legacy' when ``f`` (a regular file's path, or a seekable file object, left where
    it was) starts like a ``torch.save`` file; None otherwise (read_safetensors then reports
    anything else)."""
    if isinstance(f, (str, bytes, os.PathLike)):
        try:
            if not stat.S_ISREG(os.stat(f).st_mode):
                return None
            with open(f, "rb") as fh:
                return sniff(fh.read(16))
        except OSError:
            return None
    seekable = getattr(f, "seekable", None)
    if not (callable(seekable) and seekable()):
        return None
    pos = f.tell()
    head = f.read(16)
    f.seek(pos)
    return sniff(head) if isinstance(head, bytes) else None


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None,
         **pickle_load_args):
    """Load what ``save`` wrote (or any safetensors file: a dict of name -> Tensor), or a file
    written by PyTorch's ``torch.save`` (zip or legacy format, from a path or a seekable file
    object; see ``cadenza.io.torch_format``): its pickle is read with an allow-list of tensor
    rebuild functions, storages and plain values, as PyTorch's ``weights_only=True`` does
    (``weights_only=False`` adds whole models of Cadenza's nn classes and argparse
    namespaces, never calling them); any other global raises ``UnsafeGlobalError``. Other
    pickles raise ``CheckpointError``. ``map_location`` ('cpu', a device, a dict or a callable)
    places tensors; ``mmap=True`` maps a file copy-on-write instead of reading it. The
    checksums every ``save`` writes are verified (a damaged tensor raises ``CheckpointError``
    naming it; with ``mmap=True`` this reads the mapped file once).

    Objects are restored only for allowed classes (``cadenza.io._allow``): with
    ``weights_only=True`` Cadenza's own modules, optimizers and schedulers and what
    ``cadenza.serialization.add_safe_globals`` allows; with ``weights_only=False`` or the
    default ``None`` also already-imported ``nn.Module`` / ``Optimizer`` subclasses and
    dataclasses whose loading runs none of their own code (so ``model = torch.load(path)`` of
    a whole model works in the program that defines the model). Anything else raises
    ``UnsafeGlobalError`` naming the class; code from the file never runs.
    ``pickle_module`` and pickle's arguments (``encoding`` ...) are accepted and ignored.

    >>> import io, cadenza as torch
    >>> buf = io.BytesIO(); torch.save([torch.arange(3), (1, "a")], buf); _ = buf.seek(0)
    >>> torch.load(buf, map_location="cpu")
    [tensor([0, 1, 2]), (1, 'a')]
    """
    unknown = set(pickle_load_args) - _PICKLE_LOAD_ARGS
    if unknown:
        raise TypeError(f"load: unexpected keyword arguments {sorted(unknown)}")
    name = describe(f)
    kind = _torch_kind(f)
    if kind is not None:
        return load_torch_file(f, kind, name, map_location, weights_only, bool(mmap))
    arrays, meta = read_safetensors(f, mmap=bool(mmap))
    raw = meta.get(STRUCTURE_KEY)
    dec = _Decoder(arrays, name, map_location, bool(weights_only))
    if raw is None:  # a plain safetensors file: its tensors by name
        return {k: dec.tensor({"name": k}) for k in arrays}
    try:
        return dec.value(json.loads(raw))
    except (ValueError, RecursionError) as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(f"load: {name} has a corrupted cadenza.structure: "
                              f"{type(e).__name__}: {e}") from None


def save_safetensors(tensors, path, metadata=None) -> None:
    """Write a flat ``{name: Tensor or ndarray}`` dict as a plain safetensors file (atomically
    for a path), readable by the ``safetensors`` package and Hugging Face tools.

    >>> import os, tempfile, cadenza as torch
    >>> p = os.path.join(tempfile.mkdtemp(), "m.safetensors")
    >>> save_safetensors({"w": torch.ones(2)}, p, metadata={"format": "pt"})
    """
    if not isinstance(tensors, dict):
        raise TypeError(f"save_safetensors: expected a dict of name -> Tensor, got "
                        f"{type(tensors).__name__}")
    named = []
    for k, v in tensors.items():
        if not isinstance(k, str) or k == "__metadata__":
            raise TypeError(f"save_safetensors: expected str tensor names (not "
                            f"'__metadata__'), got {k!r}")
        if not isinstance(v, (Tensor, np.ndarray)):
            raise TypeError(f"save_safetensors: {k!r} is a {type(v).__name__}, expected a "
                            "Tensor (use cadenza.save for nested structures)")
        named.append((k, np.asarray(v.detach() if isinstance(v, Tensor) else v)))
    if metadata is not None and not all(isinstance(a, str) and isinstance(b, str)
                                        for a, b in metadata.items()):
        raise TypeError("save_safetensors: metadata must map str to str")
    _write(path, named, metadata)


def load_safetensors(path, device="cpu") -> dict:
    """Read a safetensors file as ``{name: Tensor}`` (its ``__metadata__`` is ignored; see
    ``read_safetensors`` in ``cadenza.io._format`` for it).

    >>> import os, tempfile, cadenza as torch
    >>> p = os.path.join(tempfile.mkdtemp(), "m.safetensors")
    >>> save_safetensors({"w": torch.ones(2)}, p); load_safetensors(p)["w"]
    tensor([1., 1.])
    """
    arrays, _ = read_safetensors(path)
    return {k: _map_tensor(from_numpy(a), device) for k, a in arrays.items()}



"""``save`` / ``load``: tensors, state dicts and nested containers as one safetensors file.

Tensors are stored under dotted names (``model.fc.weight``, ``optimizer.state.0.exp_avg``), so
any safetensors reader sees them; the container structure (dict/OrderedDict/list/tuple, key
types including int keys, plain values, requires_grad, Parameter-ness, shared tensors) is a JSON
description in the header's ``__metadata__["cadenza.structure"]``. Nothing is pickled, and
loading executes nothing from the file.

>>> import io, cadenza as torch
>>> buf = io.BytesIO()
>>> torch.save({"step": 3, "state": {0: {"m": torch.zeros(2)}}}, buf); _ = buf.seek(0)
>>> torch.load(buf)["state"][0]["m"]
tensor([0., 0.])
"""
from __future__ import annotations

import base64
import collections
import json
import os

import numpy as np

from .._creation import from_numpy
from .._tensor import Tensor
from ..device import as_device
from ..dtypes import dtype as _dtype, to_dtype
from ..nn.parameter import Parameter
from ._format import CheckpointError, atomic_write, describe, read_safetensors, \
    write_safetensors

__all__ = ["save", "load", "save_safetensors", "load_safetensors"]

STRUCTURE_KEY = "cadenza.structure"
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


class _Encoder:
    """Walk the object once: collect tensors under unique names and describe the rest."""

    def __init__(self) -> None:
        self.named = []        # [(name, ndarray)]
        self.names = set()
        self.by_id = {}        # id(tensor) -> name, so shared (tied) tensors are stored once
        self.active = set()    # ids of containers on the current path (cycle check)

    def _unique(self, name: str) -> str:
        name = name or "tensor"
        cand, i = name, 1
        while cand in self.names or cand == "__metadata__":
            cand, i = f"{name}#{i}", i + 1
        self.names.add(cand)
        return cand

    def key(self, k, path):
        if isinstance(k, (bool, int, float, str)) or k is None:
            return self.value(k, path)
        if isinstance(k, tuple):
            return {"type": "tuple", "items": [self.key(x, path) for x in k]}
        raise TypeError(f"save: cannot store dict key {k!r} of type {type(k).__name__} at "
                        f"{path or 'top level'}; keys may be str, int, float, bool, None or "
                        "tuples of those")

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
        if isinstance(x, str):
            return {"type": "str", "value": str(x)}
        if isinstance(x, (bytes, bytearray)):
            return {"type": "bytes", "value": base64.b64encode(bytes(x)).decode()}
        if isinstance(x, _dtype):
            return {"type": "dtype", "value": x.name}
        if isinstance(x, (dict, list, tuple)):
            return self.container(x, path)
        raise TypeError(f"save: cannot store an object of type {type(x).__name__} at "
                        f"{path or 'top level'}; supported: Tensor, numpy array, dict, list, "
                        "tuple, int, float, bool, str, bytes, None, dtype (Cadenza checkpoints "
                        "never pickle)")

    def container(self, x, path: str):
        if id(x) in self.active:
            raise ValueError(f"save: the object contains itself at {path or 'top level'}")
        self.active.add(id(x))
        pre = path + "." if path else ""
        if isinstance(x, dict):
            node = {"type": "OrderedDict" if isinstance(x, collections.OrderedDict) else "dict",
                    "items": [[self.key(k, path), self.value(v, pre + str(k))]
                              for k, v in x.items()]}
        else:
            kind = "list" if isinstance(x, list) else "tuple"  # namedtuples load as tuples
            node = {"type": kind, "items": [self.value(v, f"{pre}{i}") for i, v in enumerate(x)]}
        self.active.discard(id(x))
        return node

    def tensor(self, t, path: str):
        name = self.by_id.get(id(t))
        if name is None:
            arr = np.asarray(t.detach() if isinstance(t, Tensor) else t)
            name = self._unique(path)
            self.by_id[id(t)] = name
            self.named.append((name, arr))
        node = {"type": "tensor", "name": name}
        if isinstance(t, Tensor):
            if t.requires_grad:
                node["requires_grad"] = True
            if isinstance(t, Parameter):
                node["parameter"] = True
        return node


def save(obj, f, pickle_protocol=None, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False, **kwargs) -> None:
    """Save a Tensor, a state dict or nested dicts/lists/tuples of tensors and plain values to
    ``f`` (a path, written atomically, or a binary file object) as a safetensors file.

    >>> import os, tempfile, cadenza as torch
    >>> p = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
    >>> torch.save({"w": torch.ones(2), "step": 7}, p); torch.load(p)["step"]
    7
    """
    if "pickle_module" in kwargs:
        raise TypeError("save: pickle_module is not supported; Cadenza checkpoints never pickle")
    if kwargs:
        raise TypeError(f"save: unexpected keyword arguments {sorted(kwargs)}")
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
    def __init__(self, arrays, name: str, map_location) -> None:
        self.arrays = arrays
        self.name = name
        self.map_location = map_location
        self.made = {}

    def fail(self, what: str):
        raise CheckpointError(f"load: {self.name} has a corrupted cadenza.structure: {what}")

    def key(self, node):
        k = self.value(node)
        try:
            hash(k)
        except TypeError:
            self.fail(f"unhashable dict key {k!r:.80}")
        return k

    def _items(self, node):
        items = node.get("items")
        if not isinstance(items, list):
            self.fail(f"{node.get('type')} without an items list")
        return items

    def value(self, node):
        if not isinstance(node, dict):
            self.fail(f"expected an object, got {node!r:.80}")
        kind, v = node.get("type"), node.get("value")
        if kind == "tensor":
            return self.tensor(node)
        if kind in ("dict", "OrderedDict"):
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
        if kind == "none":
            return None
        checks = {"bool": bool, "int": int, "float": str, "str": str, "bytes": str,
                  "dtype": str}
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
        except (ValueError, TypeError) as e:
            self.fail(f"bad {kind} value {v!r:.80} ({e})")
        return v

    def tensor(self, node):
        name = node.get("name")
        if not isinstance(name, str) or name not in self.arrays:
            self.fail(f"tensor node names {name!r:.80}, which is not in the file")
        if node.get("numpy"):
            return self.arrays[name]
        t = self.made.get(name)
        if t is not None:
            return t
        t = _map_tensor(from_numpy(self.arrays[name]), self.map_location)
        rg = bool(node.get("requires_grad")) and t.is_floating_point()
        if node.get("parameter"):
            t = Parameter(t, requires_grad=rg)
        elif rg:
            t.requires_grad_(True)
        self.made[name] = t
        return t


def load(f, map_location=None, weights_only=None, mmap=None, pickle_module=None, **kwargs):
    """Load what ``save`` wrote (or any safetensors file: a dict of name -> Tensor). Never
    unpickles: a pickle or ``torch.save`` file raises ``CheckpointError`` with how to convert
    it. ``map_location`` ('cpu', a device, a dict or a callable) places tensors; ``mmap=True``
    maps a file copy-on-write instead of reading it. The checksums every ``save`` writes are
    verified (a damaged tensor raises ``CheckpointError`` naming it; with ``mmap=True`` this
    reads the mapped file once). ``weights_only`` is accepted for compatibility: loading is
    always weights-only safe.

    >>> import io, cadenza as torch
    >>> buf = io.BytesIO(); torch.save([torch.arange(3), (1, "a")], buf); _ = buf.seek(0)
    >>> torch.load(buf, map_location="cpu")
    [tensor([0, 1, 2]), (1, 'a')]
    """
    if pickle_module is not None:
        raise TypeError("load: pickle_module is not supported; Cadenza never unpickles")
    if kwargs:
        raise TypeError(f"load: unexpected keyword arguments {sorted(kwargs)}")
    name = describe(f)
    arrays, meta = read_safetensors(f, mmap=bool(mmap))
    raw = meta.get(STRUCTURE_KEY)
    dec = _Decoder(arrays, name, map_location)
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



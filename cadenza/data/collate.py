"""Batch assembly: ``default_collate`` (samples -> one batch, as torch: tensors and NumPy arrays
stacked, Python ints -> int64, floats -> float64, bools -> bool, strings kept as lists,
containers collated field by field) and ``default_convert`` (NumPy -> tensors, no batching).

>>> import cadenza as torch
>>> default_collate([(torch.zeros(2), 1), (torch.ones(2), 2)])[1]
tensor([1, 2])
"""
from __future__ import annotations

import collections.abc as abc
import copy

import numpy as np

from .._creation import as_tensor, from_numpy, tensor
from .._tensor import Tensor
from ..dtypes import float64
from ..ops import stack

__all__ = ["default_collate", "default_convert", "collate"]

_ERR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        "found {}")


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _np_is_text(a) -> bool:
    return a.dtype.char in "SaUO"


def _stack(tensors):
    if any(t.requires_grad or not t.is_cpu for t in tensors):
        return stack(tensors, 0)
    shape = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.shape != shape:
            raise RuntimeError(f"default_collate: stack expects each tensor to be equal size, "
                               f"but got {tuple(shape)} at entry 0 and {tuple(t.shape)} at "
                               f"entry {i}")
    return from_numpy(np.stack([t.numpy() for t in tensors]))


def _map(elem, values):
    """Rebuild a mapping of ``elem``'s type from ``values`` (torch's fallbacks included)."""
    try:
        if isinstance(elem, abc.MutableMapping):
            clone = copy.copy(elem)
            clone.update(values)
            return clone
        return type(elem)(values)
    except TypeError:
        return dict(values)


def collate(batch, *, collate_fn_map=None):
    """The recursive collate behind ``default_collate``; ``collate_fn_map`` maps a type to a
    ``fn(batch, *, collate_fn_map)`` that handles batches whose first element is that type."""
    elem = batch[0]
    if collate_fn_map:
        fn = collate_fn_map.get(type(elem))
        if fn is None:
            fn = next((f for t, f in collate_fn_map.items() if isinstance(elem, t)), None)
        if fn is not None:
            return fn(batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, Tensor):
        return _stack(batch)
    if isinstance(elem, np.ndarray) or isinstance(elem, np.generic):
        if isinstance(elem, (np.str_, np.bytes_)):
            return batch
        if _np_is_text(np.asarray(elem)):
            raise TypeError(_ERR.format(elem.dtype))
        if isinstance(elem, np.ndarray):
            return _stack([as_tensor(b) for b in batch])
        return as_tensor(np.asarray(batch))
    if isinstance(elem, float):
        return tensor(batch, dtype=float64)
    if isinstance(elem, int):  # bool is an int: tensor() infers bool for a list of bools
        return tensor(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, abc.Mapping):
        return _map(elem, {k: collate([d[k] for d in batch], collate_fn_map=collate_fn_map)
                           for k in elem})
    if _is_namedtuple(elem):
        return type(elem)(*(collate(list(s), collate_fn_map=collate_fn_map)
                            for s in zip(*batch)))
    if isinstance(elem, abc.Sequence):
        n = len(elem)
        if any(len(e) != n for e in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of "
                               "equal size")
        cols = [collate(list(s), collate_fn_map=collate_fn_map) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return cols  # torch returns a list for a batch of tuples
        try:
            return type(elem)(cols)
        except TypeError:
            return cols
    raise TypeError(_ERR.format(type(elem)))


def default_collate(batch):
    """Merge a list of samples into a batch, like ``torch.utils.data.default_collate``.

    >>> default_collate([{"x": 1.5, "name": "a"}, {"x": 2.5, "name": "b"}])
    {'x': tensor([1.5000, 2.5000], dtype=cadenza.float64), 'name': ['a', 'b']}
    """
    return collate(batch)


def default_convert(data):
    """NumPy arrays and scalars (also inside containers) -> tensors; no batching. Used as the
    collate_fn when ``batch_size=None``.

    >>> import numpy as np
    >>> default_convert({"a": np.zeros(2)})["a"].dtype
    cadenza.float64
    """
    if isinstance(data, Tensor):
        return data
    if isinstance(data, (np.ndarray, np.generic)) and not isinstance(data, (np.str_, np.bytes_)):
        if _np_is_text(np.asarray(data)):
            return data
        return as_tensor(data)
    if isinstance(data, abc.Mapping):
        return _map(data, {k: default_convert(v) for k, v in data.items()})
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data

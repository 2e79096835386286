"""Batch assembly, laid out as ``torch.utils.data._utils.collate``: ``collate`` dispatches on the
type of a batch's first element through ``collate_fn_map`` (``default_collate_fn_map``: tensors
and NumPy arrays stacked, NumPy scalars -> ``as_tensor``, Python ints -> int64, floats ->
float64, strings kept as lists) and recurses into mappings, namedtuples and sequences;
``default_convert`` turns NumPy arrays and scalars into tensors without batching.

>>> import cadenza as torch
>>> default_collate([(torch.zeros(2), 1), (torch.ones(2), 2)])[1]
tensor([1, 2])
"""
from __future__ import annotations

import collections.abc as abc
import copy
import re

import numpy as np

from .._creation import as_tensor, from_numpy, tensor
from .._dispatch import state as _state
from .._tensor import Tensor
from ..dtypes import float64
from ..ops import stack

__all__ = ["default_collate", "default_convert", "collate", "default_collate_fn_map",
           "collate_tensor_fn", "collate_numpy_array_fn", "collate_numpy_scalar_fn",
           "collate_float_fn", "collate_int_fn", "collate_str_fn",
           "default_collate_err_msg_format", "np_str_obj_array_pattern"]

np_str_obj_array_pattern = re.compile(r"[SaUO]")
default_collate_err_msg_format = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
    "found {}")


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


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


def collate_tensor_fn(batch, *, collate_fn_map=None):
    """A batch of equal-shape tensors -> one stacked tensor."""
    arrays = []
    for t in batch:   # (the arrays read directly: ~0.5 us a sample instead of ~3)
        a = t._data
        if type(a) is not np.ndarray or t.requires_grad:
            return stack(batch, 0)
        arrays.append(a)
    if _state.tracer is not None:   # compile sees the values read (numpy() tells it)
        arrays = [t.numpy() for t in batch]
    shape = arrays[0].shape
    for i, a in enumerate(arrays):
        if a.shape != shape:
            raise RuntimeError(f"default_collate: stack expects each tensor to be equal size, "
                               f"but got {shape} at entry 0 and {a.shape} at entry {i}")
    return from_numpy(np.stack(arrays))


def collate_numpy_array_fn(batch, *, collate_fn_map=None):
    """A batch of NumPy arrays (memmaps and other subclasses too) -> one tensor."""
    elem = batch[0]
    if np_str_obj_array_pattern.search(elem.dtype.str) is not None:
        raise TypeError(default_collate_err_msg_format.format(elem.dtype))
    return collate([as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None):
    """A batch of NumPy scalars (``np.float32(1)``, ``np.int64(2)``...) -> a 1-D tensor."""
    return as_tensor(batch)


def collate_float_fn(batch, *, collate_fn_map=None):
    return tensor(batch, dtype=float64)


def collate_int_fn(batch, *, collate_fn_map=None):
    return tensor(batch)  # bool is an int: tensor() infers bool for a list of bools


def collate_str_fn(batch, *, collate_fn_map=None):
    return batch


default_collate_fn_map = {
    Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def collate(batch, *, collate_fn_map=None):
    """The recursive collate behind ``default_collate``; ``collate_fn_map`` maps a type (or a
    tuple of types) to a ``fn(batch, *, collate_fn_map)`` that handles batches whose first
    element is of that type."""
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for collate_type, fn in collate_fn_map.items():
            if isinstance(elem, collate_type):
                return fn(batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, abc.Mapping):
        return _map(elem, {k: collate([d[k] for d in batch], collate_fn_map=collate_fn_map)
                           for k in elem})
    if _is_namedtuple(elem):
        return elem_type(*(collate(list(s), collate_fn_map=collate_fn_map)
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
            return elem_type(cols)
        except TypeError:
            return cols
    raise TypeError(default_collate_err_msg_format.format(elem_type))


def default_collate(batch):
    """Merge a list of samples into a batch, like ``torch.utils.data.default_collate``.

    >>> default_collate([{"x": 1.5, "name": "a"}, {"x": 2.5, "name": "b"}])
    {'x': tensor([1.5000, 2.5000], dtype=cadenza.float64), 'name': ['a', 'b']}
    """
    return collate(batch, collate_fn_map=default_collate_fn_map)


def default_convert(data):
    """NumPy arrays and scalars (also inside containers) -> tensors; no batching. Used as the
    collate_fn when ``batch_size=None``.

    >>> import numpy as np
    >>> default_convert({"a": np.zeros(2)})["a"].dtype
    cadenza.float64
    """
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray) and data.dtype.char not in "SaUO":
        return as_tensor(data)
    if isinstance(data, (np.bool_, np.number)):
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

"""Legacy typed constructors: ``torch.LongTensor([1, 2])``, ``torch.FloatTensor(3, 4)``."""
from __future__ import annotations

from . import dtypes as _dt
from ._creation import empty, tensor
from ._tensor import Tensor

_NAMES = {"FloatTensor": "float32", "DoubleTensor": "float64", "LongTensor": "int64",
          "IntTensor": "int32", "BoolTensor": "bool", "ByteTensor": "uint8",
          "HalfTensor": "float16", "BFloat16Tensor": "bfloat16", "ShortTensor": "int16",
          "CharTensor": "int8"}
LEGACY_NAMES = tuple(_NAMES)


class _LegacyMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype.name == cls._dtype_name


def legacy_tensor_type(name):
    dt_name = _NAMES[name]

    def __new__(cls, *args, device=None):
        dt = _dt.to_dtype(dt_name)
        if args and all(isinstance(a, int) and not isinstance(a, bool) for a in args):
            return empty(*args, dtype=dt)
        if len(args) == 1:
            src = args[0]
            if isinstance(src, Tensor):
                return src.to(dt)
            return tensor(src, dtype=dt)
        return empty(0, dtype=dt)

    return _LegacyMeta(name, (), {"__new__": __new__, "_dtype_name": dt_name})

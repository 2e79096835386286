"""torchvision.tv_tensors: Tensor subclasses that tell the v2 transforms what a tensor is
(``Image``, ``Video``, ``Mask``, ``BoundingBoxes`` with ``format``, ``canvas_size`` and
``clamping_mode``).

As in torchvision, an operation on a TVTensor returns a plain tensor (``img + 1`` is a Tensor)
except ``clone``, ``to``, ``detach``, ``requires_grad_`` and ``pin_memory``, which keep the type
and metadata; ``set_return_type("TVTensor")`` makes Tensor methods and operators keep it too (the
metadata of BoundingBoxes comes from the first BoundingBoxes among the arguments). In-place
methods return a plain tensor viewing the same data, as torchvision's do. Rotated box formats
(XYWHR, CXCYWHR, XYXYXYXY) exist as formats; the v2 geometry kernels take the axis-aligned ones.
Top-level functions (``cadenza.cat([boxes, boxes])``) always return plain tensors."""
from __future__ import annotations

import enum

import numpy as np

import cadenza as torch
from cadenza.func import _flatten  # the one tree walk (tuples, lists, dicts)
from ._pil import is_pil_image
from .transforms.functional import pil_to_tensor

__all__ = ["TVTensor", "Image", "Video", "Mask", "BoundingBoxes", "BoundingBoxFormat",
           "is_rotated_bounding_format", "set_return_type", "wrap"]

_RETURN_SUBCLASS = False
# the methods that keep the TVTensor type (and metadata) whatever the return type setting
_FORCE_SUBCLASS = {"clone", "to", "detach", "requires_grad_", "pin_memory"}


class _ReturnTypeCM:
    def __init__(self, to_restore):
        self.to_restore = to_restore

    def __enter__(self):
        return self

    def __exit__(self, *args):
        global _RETURN_SUBCLASS
        _RETURN_SUBCLASS = self.to_restore


def set_return_type(return_type: str):
    """"TVTensor": Tensor methods and operators on a TVTensor return the same TVTensor type;
    "Tensor" (the default): they return plain tensors. Usable as a context manager."""
    global _RETURN_SUBCLASS
    to_restore = _RETURN_SUBCLASS
    try:
        _RETURN_SUBCLASS = {"tensor": False, "tvtensor": True}[return_type.lower()]
    except KeyError:
        raise ValueError(f"return_type must be 'TVTensor' or 'Tensor', got {return_type}") \
            from None
    return _ReturnTypeCM(to_restore)


def _plain(t):
    return t.as_subclass(torch.Tensor)


def _method(name, fn):
    def method(self, *args, **kwargs):
        out = fn(self, *args, **kwargs)
        if _RETURN_SUBCLASS or name in _FORCE_SUBCLASS:
            return type(self)._wrap_output(out, (self,) + args, kwargs)
        if isinstance(out, TVTensor):     # in-place methods return self: unwrap, as torchvision
            return _plain(out)
        return out
    method.__name__ = name
    method.__doc__ = fn.__doc__
    return method


# Tensor attributes that are not re-wrapped: construction, representation, pickling, metadata
_KEEP = {"__init__", "__new__", "__repr__", "__str__", "__format__", "__getattribute__",
         "__getattr__", "__setattr__", "__delattr__", "__reduce__", "__reduce_ex__",
         "__deepcopy__", "__copy__", "__init_subclass__", "__subclasshook__", "__class__",
         "__dir__", "__sizeof__", "__hash__", "__bool__", "__len__", "__iter__", "__index__",
         "__int__", "__float__", "__complex__", "__array__", "__array_wrap__", "__contains__",
         "__setitem__", "__dlpack__", "__dlpack_device__", "as_subclass", "numpy", "tolist",
         "item", "size", "dim", "numel", "stride", "data_ptr", "element_size",
         "is_contiguous", "is_floating_point", "is_complex", "register_hook", "backward",
         "storage_offset", "untyped_storage", "storage", "get_device", "__eq__", "__ne__"}


def _is_method(cls, name):
    for klass in cls.__mro__:
        if name in klass.__dict__:
            attr = klass.__dict__[name]
            return callable(attr) and not isinstance(attr, (staticmethod, classmethod, type,
                                                            property))
    return False


class TVTensor(torch.Tensor):
    """Base class of the tv_tensors (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        pass   # __new__ built the tensor; Tensor.__init__ would rebuild it from ``data``

    @staticmethod
    def _to_tensor(data, dtype=None, device=None, requires_grad=None):
        if requires_grad is None:
            requires_grad = data.requires_grad if isinstance(data, torch.Tensor) else False
        t = torch.as_tensor(data, dtype=dtype, device=device)
        if isinstance(t, TVTensor):
            t = _plain(t)
        return t.requires_grad_(requires_grad)

    @classmethod
    def _wrap_output(cls, output, args=(), kwargs=None):
        if isinstance(output, torch.Tensor) and not isinstance(output, cls):
            output = output.as_subclass(cls)
        if isinstance(output, (tuple, list)):
            output = type(output)(cls._wrap_output(part, args, kwargs) for part in output)
        return output

    @classmethod
    def wrap(cls, tensor, like, **kwargs):
        return tensor.as_subclass(cls)

    def _make_repr(self, **kwargs):
        base = _plain(self).__repr__()
        name = type(self).__name__
        if base.startswith("tensor("):
            body = base[len("tensor("):].replace("\n" + " " * len("tensor("),
                                                  "\n" + " " * (len(name) + 1))
            base = f"{name}({body}"
        extra = ", ".join(f"{k}={v}" for k, v in kwargs.items())
        return f"{base[:-1]}, {extra})" if extra else base

    def __repr__(self):
        return self._make_repr()

    __str__ = __repr__

    def __deepcopy__(self, memo):
        return self.detach().clone().requires_grad_(self.requires_grad)

    def __reduce_ex__(self, protocol):
        return (_rebuild, (type(self), np.array(self._host()), self.requires_grad,
                           dict(self.__dict__)))

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)


def _rebuild(cls, arr, requires_grad, state):
    t = torch.from_numpy(arr).requires_grad_(requires_grad).as_subclass(cls)
    t.__dict__.update(state)
    return t


for _name in sorted(set(dir(torch.Tensor))):
    if _name in _KEEP or (_name.startswith("_") and not _name.startswith("__")):
        continue
    if _is_method(torch.Tensor, _name):
        setattr(TVTensor, _name, _method(_name, getattr(torch.Tensor, _name)))


class Image(TVTensor):
    """An image ``[..., C, H, W]`` (a 2-d input gets a channel dimension; PIL images are
    converted with pil_to_tensor)."""

    def __new__(cls, data, *, dtype=None, device=None, requires_grad=None):
        if is_pil_image(data):
            data = pil_to_tensor(data)
        tensor = cls._to_tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
        if tensor.ndim < 2:
            raise ValueError(f"Tensor must be 2D or higher, got {tensor.ndim}D tensor.")
        if tensor.ndim == 2:
            tensor = tensor.unsqueeze(0)
        return tensor.as_subclass(cls)


class Video(TVTensor):
    """A video ``[..., T, C, H, W]``."""

    def __new__(cls, data, *, dtype=None, device=None, requires_grad=None):
        tensor = cls._to_tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
        if tensor.ndim < 4:
            raise ValueError(f"Tensor must be 4D or higher, got {tensor.ndim}D tensor.")
        return tensor.as_subclass(cls)


class Mask(TVTensor):
    """A segmentation or detection mask ``[..., H, W]`` (a PIL image becomes [C, H, W], as
    pil_to_tensor gives it)."""

    def __new__(cls, data, *, dtype=None, device=None, requires_grad=None):
        if is_pil_image(data):
            data = pil_to_tensor(data)
        tensor = cls._to_tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
        return tensor.as_subclass(cls)


class BoundingBoxFormat(enum.Enum):
    """XYXY (corners), XYWH (corner, size), CXCYWH (centre, size); the rotated XYWHR, CXCYWHR
    (angle in degrees) and XYXYXYXY (four corners)."""
    XYXY = "XYXY"
    XYWH = "XYWH"
    CXCYWH = "CXCYWH"
    XYWHR = "XYWHR"
    CXCYWHR = "CXCYWHR"
    XYXYXYXY = "XYXYXYXY"


def is_rotated_bounding_format(format) -> bool:
    if isinstance(format, BoundingBoxFormat):
        return format in (BoundingBoxFormat.XYWHR, BoundingBoxFormat.CXCYWHR,
                          BoundingBoxFormat.XYXYXYXY)
    if isinstance(format, str):
        return format in ("XYWHR", "CXCYWHR", "XYXYXYXY")
    raise ValueError(f"format should be str or BoundingBoxFormat, got {type(format)}")


class BoundingBoxes(TVTensor):
    """Boxes ``[N, K]`` (K = 4, or 5/8 for rotated formats) with their ``format``, the
    ``canvas_size`` (height, width) of the image they belong to and a ``clamping_mode``
    ("soft", "hard" or None)."""

    @classmethod
    def _wrap(cls, tensor, *, format, canvas_size, clamping_mode="soft", check_dims=True):
        if check_dims:
            if tensor.ndim == 1:
                tensor = tensor.unsqueeze(0)
            elif tensor.ndim != 2:
                raise ValueError(f"Expected a 1D or 2D tensor, got {tensor.ndim}D")
        if clamping_mode is not None and clamping_mode not in ("hard", "soft"):
            raise ValueError(f"clamping_mode must be None, hard or soft, got {clamping_mode}.")
        if isinstance(format, str):
            format = BoundingBoxFormat[format.upper()]
        boxes = tensor.as_subclass(cls)
        boxes.format = format
        boxes.canvas_size = canvas_size
        boxes.clamping_mode = clamping_mode
        return boxes

    @classmethod
    def wrap(cls, tensor, like, **kwargs):
        return cls._wrap(tensor, format=kwargs.get("format", like.format),
                         canvas_size=kwargs.get("canvas_size", like.canvas_size),
                         clamping_mode=kwargs.get("clamping_mode", like.clamping_mode))

    def __new__(cls, data, *, format, canvas_size, clamping_mode="soft", dtype=None,
                device=None, requires_grad=None):
        tensor = cls._to_tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
        if not tensor.is_floating_point() and is_rotated_bounding_format(format):
            raise ValueError(f"Rotated bounding boxes should be floating point tensors, got "
                             f"{tensor.dtype}.")
        return cls._wrap(tensor, format=format, canvas_size=canvas_size,
                         clamping_mode=clamping_mode)

    @classmethod
    def _wrap_output(cls, output, args=(), kwargs=None):
        leaves, _ = _flatten(list(args) + list((kwargs or {}).values()))
        first = next(x for x in leaves if isinstance(x, BoundingBoxes))
        meta = dict(format=first.format, canvas_size=first.canvas_size,
                    clamping_mode=first.clamping_mode, check_dims=False)
        if isinstance(output, torch.Tensor) and not isinstance(output, BoundingBoxes):
            output = BoundingBoxes._wrap(output, **meta)
        elif isinstance(output, BoundingBoxes) and output is not first:
            output = BoundingBoxes._wrap(output, **meta)
        elif isinstance(output, (tuple, list)):
            output = type(output)(BoundingBoxes._wrap(part, **meta) for part in output)
        return output

    def __repr__(self):
        return self._make_repr(format=self.format, canvas_size=self.canvas_size,
                               clamping_mode=self.clamping_mode)

    __str__ = __repr__


def wrap(wrappee, *, like, **kwargs):
    """``wrappee`` as the TVTensor type of ``like`` (with its metadata, overridden by
    ``kwargs``)."""
    wrap_method = getattr(type(like), "wrap", None)
    if wrap_method is not None:
        return wrap_method(wrappee, like, **kwargs)
    return wrappee.as_subclass(type(like))

"""``torch.nn.utils.parametrize``: a module's tensor computed from other tensors on access.

``register_parametrization(m, "weight", P())`` moves ``m.weight`` to
``m.parametrizations.weight.original`` (the same Parameter object, so optimizers holding it keep
working) and gives ``m``'s class a property ``weight`` that returns ``P()(original)``. If P has a
``right_inverse``, the original holds ``right_inverse(weight)`` (possibly several tensors:
``original0``, ``original1`` ...), and assigning ``m.weight = X`` stores ``right_inverse(X)``.
State-dict keys are torch's (``parametrizations.weight.original``)."""
from __future__ import annotations

import collections.abc
import contextlib

from ... import _creation
from ...autograd.grad_mode import no_grad
from ..._tensor import Tensor
from ..modules.container import ModuleDict, ModuleList
from ..parameter import Parameter

__all__ = ["register_parametrization", "remove_parametrizations", "is_parametrized", "cached",
           "type_before_parametrizations", "transfer_parametrizations_and_params",
           "ParametrizationList"]

_cache_enabled = [0]
_cache: dict = {}


@contextlib.contextmanager
def cached():
    """Inside, each parametrized tensor is computed once and reused (a module used several
    times in one forward pays for its parametrization once)."""
    _cache_enabled[0] += 1
    try:
        yield
    finally:
        _cache_enabled[0] -= 1
        if not _cache_enabled[0]:
            _cache.clear()


def _register_tensor(owner, name, value, like):
    """Register ``value`` on ``owner`` as a Parameter if ``like`` is one, else as a buffer."""
    if isinstance(like, Parameter):
        owner.register_parameter(name, value if isinstance(value, Parameter)
                                 else Parameter(value, like.requires_grad))
    else:
        owner.register_buffer(name, value)


def _set_in_place(original, value):
    """Put value's contents into ``original`` keeping the object (so references held by an
    optimizer stay valid), as torch's ``original.set_(value)``."""
    with no_grad():
        original.set_(value.detach() if isinstance(value, Tensor) else value)


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order, and the original tensor(s)
    (``original``, or ``original0``, ``original1`` ... when the first right_inverse returns
    several)."""

    def __init__(self, modules, original, unsafe=False):
        if not modules:
            raise ValueError("ParametrizationList requires one or more modules.")
        super().__init__(modules)
        self.unsafe = unsafe
        first = modules[0]
        with no_grad():
            new = first.right_inverse(original) if hasattr(first, "right_inverse") else original
        if isinstance(new, Tensor):
            self.is_tensor, self.ntensors = True, 1
            if not unsafe:
                _check_same_kind(new, original, "right_inverse")
            _set_in_place(original, new)
            _register_tensor(self, "original", original, original)
        elif isinstance(new, collections.abc.Sequence) and \
                all(isinstance(t, Tensor) for t in new):
            self.is_tensor, self.ntensors = False, len(new)
            for i, t in enumerate(new):
                _register_tensor(self, f"original{i}", t.detach().clone()
                                 if not isinstance(t, Parameter) else t, original)
        else:
            raise ValueError(f"'right_inverse' must return a Tensor or a Sequence of tensors "
                             f"(list, tuple...). Got {type(new).__name__}")
        if not unsafe:
            z = self()
            if not isinstance(z, Tensor):
                raise ValueError(f"A parametrization must return a tensor. Got "
                                 f"{type(z).__name__}.")
            _check_same_kind(z, original, "forward")

    def right_inverse(self, value):
        """Store ``value`` as the parametrized tensor: the right inverses of the
        parametrizations in reverse order, written into the original(s) in place."""
        with no_grad():
            for module in reversed(list(self)[1:]):
                if not hasattr(module, "right_inverse"):
                    raise RuntimeError(f"parametrization {type(module).__name__} does not "
                                       f"implement right_inverse.")
                value = module.right_inverse(value)
            first = self[0]
            if self.is_tensor:
                if hasattr(first, "right_inverse"):
                    value = first.right_inverse(value)
                if not isinstance(value, Tensor):
                    raise ValueError(f"`right_inverse` should return a tensor. Got "
                                     f"{type(value).__name__}")
                if not self.unsafe:
                    _check_same_kind(value, self.original, "right_inverse")
                _set_in_place(self.original, value)
            else:
                if not hasattr(first, "right_inverse"):
                    raise RuntimeError("the first parametrization must implement "
                                       "right_inverse to assign to a multi-tensor original")
                values = first.right_inverse(value)
                if len(values) != self.ntensors:
                    raise ValueError(f"'right_inverse' must return a sequence of tensors of "
                                     f"length {self.ntensors}. Got a sequence of length "
                                     f"{len(values)}")
                for i, v in enumerate(values):
                    _set_in_place(getattr(self, f"original{i}"), v)

    def forward(self):
        if self.is_tensor:
            x = self[0](self.original)
        else:
            x = self[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for module in list(self)[1:]:
            x = module(x)
        return x


def _check_same_kind(new, original, what):
    if new.dtype != original.dtype or tuple(new.shape) != tuple(original.shape):
        raise ValueError(f"When `unsafe=False`, the parametrization's {what} may not change "
                         f"the shape or dtype of the tensor: original {tuple(original.shape)} "
                         f"{original.dtype}, got {tuple(new.shape)} {new.dtype}. Pass "
                         f"unsafe=True to allow it.")


def _parametrized_class(module):
    """Give ``module`` its own subclass (once), so properties added for its parametrized
    tensors do not reach other instances of its class."""
    cls = type(module)
    if getattr(cls, "_cadenza_parametrized", False):
        return cls
    new = type(f"Parametrized{cls.__name__}", (cls,), {"_cadenza_parametrized": True,
                                                        "_cadenza_original_class": cls})
    module.__class__ = new
    return new


def _add_property(module, name):
    def get(self):
        plist = self.parametrizations[name]
        if _cache_enabled[0]:
            key = (id(self), name)
            if key not in _cache:
                _cache[key] = plist()
            return _cache[key]
        return plist()

    def set_(self, value):
        self.parametrizations[name].right_inverse(value)
    setattr(_parametrized_class(module), name, property(get, set_))


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """Parametrize ``module.<tensor_name>`` (a parameter or buffer) by the module
    ``parametrization``; a second registration on the same tensor composes after the first."""
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        plist = module.parametrizations[tensor_name]
        if not unsafe:
            y = getattr(module, tensor_name)
            x = parametrization(y)
            if not isinstance(x, Tensor):
                raise ValueError(f"A parametrization must return a tensor. Got "
                                 f"{type(x).__name__}.")
            _check_same_kind(x, y, "forward")
            if hasattr(parametrization, "right_inverse"):
                z = parametrization.right_inverse(x)
                if not isinstance(z, Tensor):
                    raise ValueError(f"parametrization.right_inverse must return a tensor. "
                                     f"Got: {type(z).__name__}")
                _check_same_kind(z, y, "right_inverse")
        plist.append(parametrization)
        plist.unsafe = plist.unsafe or unsafe
        return module
    if tensor_name not in module._parameters and tensor_name not in module._buffers:
        raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a "
                         f"parametrized element with name '{tensor_name}'")
    original = getattr(module, tensor_name)
    plist = ParametrizationList([parametrization], original, unsafe=unsafe)
    delattr(module, tensor_name)
    if not is_parametrized(module):
        module.parametrizations = ModuleDict()
    _add_property(module, tensor_name)
    module.parametrizations[tensor_name] = plist
    return module


def is_parametrized(module, tensor_name=None) -> bool:
    plists = module.__dict__.get("_modules", {}).get("parametrizations")
    if not isinstance(plists, ModuleDict):
        return False
    return len(plists) > 0 if tensor_name is None else tensor_name in plists


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """Undo ``register_parametrization``: ``module.<tensor_name>`` becomes a plain tensor
    again, holding the parametrized value (or the original with leave_parametrized=False)."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    if plist.is_tensor:
        original = plist.original
        if leave_parametrized:
            with no_grad():
                t = getattr(module, tensor_name)
            _set_in_place(original, t)
    else:
        if not leave_parametrized:
            raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a "
                             "tensor that is parametrized in terms of a sequence of tensors.")
        with no_grad():
            t = getattr(module, tensor_name)
        like = plist.original0
        original = Parameter(t.detach(), like.requires_grad) if isinstance(like, Parameter) \
            else t.detach()
    delattr(type(module), tensor_name)
    del module.parametrizations[tensor_name]
    _register_tensor(module, tensor_name, original, original if plist.is_tensor else like)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = type(module)._cadenza_original_class
    return module


def type_before_parametrizations(module) -> type:
    """The module's class as it was before any parametrization was registered."""
    cls = type(module)
    return getattr(cls, "_cadenza_original_class", cls) if \
        getattr(cls, "_cadenza_parametrized", False) else cls


def transfer_parametrizations_and_params(from_module, to_module, tensor_name=None):
    """Copy the parametrizations (and their originals) of ``from_module`` onto
    ``to_module``, for one tensor or all."""
    if not is_parametrized(from_module):
        return to_module
    names = list(from_module.parametrizations) if tensor_name is None else [tensor_name]
    for name in names:
        src = from_module.parametrizations[name]
        if not is_parametrized(to_module, name):
            if name not in to_module._parameters and name not in to_module._buffers:
                to_module.register_parameter(name, Parameter(
                    _creation.zeros(tuple(getattr(from_module, name).shape))))
            for p in src:
                register_parametrization(to_module, name, p, unsafe=src.unsafe)
        dst = to_module.parametrizations[name]
        with no_grad():
            if src.is_tensor:
                _set_in_place(dst.original, src.original)
            else:
                for i in range(src.ntensors):
                    _set_in_place(getattr(dst, f"original{i}"), getattr(src, f"original{i}"))
    return to_module

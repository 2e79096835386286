"""LazyModuleMixin (``torch.nn.modules.lazy``): modules whose parameter shapes come from the
first input. Their parameters start as ``UninitializedParameter`` placeholders; a forward
pre-hook calls ``initialize_parameters(*input)`` on the first call, which materializes them in
place (an optimizer created earlier keeps working), and the module then becomes
``cls_to_become`` (LazyLinear -> Linear). Loading a state dict materializes them too."""
from __future__ import annotations

from ...autograd.grad_mode import no_grad
from ..parameter import UninitializedTensorMixin

__all__ = ["LazyModuleMixin"]


def _infer_parameters(module, args, kwargs):
    with no_grad():
        module.initialize_parameters(*args, **kwargs)
    if module.has_uninitialized_params():
        raise RuntimeError(f"module {module._get_name()} has not been fully initialized")
    module._initialize_hook.remove()
    module._load_hook.remove()
    del module._initialize_hook
    del module._load_hook
    if module.cls_to_become is not None:
        module.__class__ = module.cls_to_become


class LazyModuleMixin:
    """Mixin of the Lazy* modules (see the module docstring).

    >>> import cadenza as torch
    >>> m = torch.nn.LazyLinear(4)
    >>> m(torch.randn(2, 7)).shape, type(m).__name__, m.weight.shape
    (cadenza.Size([2, 4]), 'Linear', cadenza.Size([4, 7]))
    """
    cls_to_become = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._load_hook = self.register_load_state_dict_pre_hook(LazyModuleMixin._lazy_load)
        self._initialize_hook = self.register_forward_pre_hook(_infer_parameters,
                                                               with_kwargs=True)

    def _lazy_load(self, state_dict, prefix, local_metadata, strict, missing_keys,
                   unexpected_keys, error_msgs):
        """Materialize the placeholders to the shapes of the tensors being loaded."""
        for name, t in list(self._parameters.items()) + list(self._buffers.items()):
            key = prefix + name
            if key in state_dict and isinstance(t, UninitializedTensorMixin):
                src = state_dict[key]
                if isinstance(src, UninitializedTensorMixin):
                    continue
                with no_grad():
                    t.materialize(tuple(src.shape))

    def has_uninitialized_params(self) -> bool:
        """Whether a parameter or buffer of this module is still a placeholder."""
        return any(isinstance(t, UninitializedTensorMixin)
                   for t in list(self._parameters.values()) + list(self._buffers.values()))

    def initialize_parameters(self, *args, **kwargs):
        """Materialize the parameters from the first input (each Lazy module defines it)."""
        raise NotImplementedError(f"initialize_parameters is not implemented for "
                                  f"{type(self).__name__}")

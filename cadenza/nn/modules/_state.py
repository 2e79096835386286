"""``state_dict`` / ``load_state_dict`` for ``Module`` (PyTorch's keys, messages and order).

``load_state_dict`` validates everything (missing and unexpected keys, shapes, value types)
before it writes a single parameter, so a failed strict load leaves the model untouched.
"""
from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import NamedTuple

from ..._tensor import Tensor
from ...autograd.grad_mode import no_grad
from ..parameter import Parameter
from ._hooks import add_hook

__all__ = ["IncompatibleKeys", "StateDictMixin"]

_EXTRA = "_extra_state"


class IncompatibleKeys(NamedTuple):
    missing_keys: list
    unexpected_keys: list

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (f"_IncompatibleKeys(missing_keys={self.missing_keys}, "
                f"unexpected_keys={self.unexpected_keys})")

    __str__ = __repr__


_IncompatibleKeys = IncompatibleKeys


def _has_extra_state(mod) -> bool:
    return type(mod).get_extra_state is not StateDictMixin.get_extra_state


class StateDictMixin:
    """The serialization half of Module."""

    def get_extra_state(self):
        raise RuntimeError("Reached a code path in Module.get_extra_state() that should never "
                           "be called.")

    def set_extra_state(self, state) -> None:
        raise RuntimeError("Reached a code path in Module.set_extra_state() that should never "
                           "be called.")

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()
        if _has_extra_state(self):
            destination[prefix + _EXTRA] = self.get_extra_state()

    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        """An ordered dict of parameters and persistent buffers, keyed like PyTorch
        (``'0.weight'``, ``'bn.running_mean'``), detached unless ``keep_vars``.

        >>> import cadenza as torch
        >>> list(torch.nn.Linear(2, 3).state_dict())
        ['weight', 'bias']
        """
        if args:  # the deprecated positional form state_dict(destination, prefix, keep_vars)
            destination = args[0]
            if len(args) > 1:
                prefix = args[1]
            if len(args) > 2:
                keep_vars = args[2]
        if destination is None:
            destination = OrderedDict()
        for hook in self._state_dict_pre_hooks.values():
            hook(self, prefix, keep_vars)
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination=destination, prefix=prefix + name + ".",
                             keep_vars=keep_vars)
        for hook in self._state_dict_hooks.values():
            res = hook(self, destination, prefix, {})
            if res is not None:
                destination = res
        return destination

    def _local_state(self):
        """name -> current tensor for this module's own persistent entries."""
        local = {k: v for k, v in self._parameters.items() if v is not None}
        local.update((k, v) for k, v in self._buffers.items()
                     if v is not None and k not in self._non_persistent_buffers_set)
        return local

    def _check_local(self, sd, prefix, plan, missing, errors):
        for name, cur in self._local_state().items():
            key = prefix + name
            if key not in sd:
                missing.append(key)
                continue
            val = sd[key]
            if not isinstance(val, Tensor):
                errors.append(f'While copying the parameter named "{key}", expected '
                              "torch.Tensor or Tensor-like object from checkpoint but "
                              f"received {type(val)}")
                continue
            if tuple(val.shape) != tuple(cur.shape):
                errors.append(f"size mismatch for {key}: copying a param with shape "
                              f"{val.shape} from checkpoint, the shape in current model is "
                              f"{cur.shape}.")
                continue
            plan.append((self, name, cur, val))
        if _has_extra_state(self):
            key = prefix + _EXTRA
            if key in sd:
                plan.append((self, _EXTRA, None, sd[key]))
            else:
                missing.append(key)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copy parameters and buffers from ``state_dict``; returns
        ``(missing_keys, unexpected_keys)``. With ``strict`` any missing/unexpected key raises
        ``RuntimeError``; shape mismatches always raise. Nothing is written unless all checks
        pass.

        >>> import cadenza as torch
        >>> a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
        >>> b.load_state_dict(a.state_dict())
        <All keys matched successfully>
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        sd = OrderedDict(state_dict)
        missing, errors, plan = [], [], []
        expected = set()
        for prefix, mod in self.named_modules(remove_duplicate=False):
            p = prefix + "." if prefix else ""
            for hook in mod._load_state_dict_pre_hooks.values():
                hook(sd, p, {}, strict, missing, [], errors)
            mod._check_local(sd, p, plan, missing, errors)
            expected.update(p + k for k in mod._local_state())
            if _has_extra_state(mod):
                expected.add(p + _EXTRA)
        missing = list(dict.fromkeys(missing))
        unexpected = [k for k in sd if k not in expected]
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {self._get_name()}:\n\t"
                               + "\n\t".join(errors))
        if not assign:
            self._warn_meta_copies(plan)
        self._apply_plan(plan, assign)
        result = IncompatibleKeys(missing, unexpected)
        for _, mod in self.named_modules():
            for hook in mod._load_state_dict_post_hooks.values():
                hook(mod, result)
        return result

    def _warn_meta_copies(self, plan):
        """torch's warning for values copied into meta tensors (which keep no values)."""
        prefixes = None
        for mod, name, cur, val in plan:
            if name != _EXTRA and isinstance(cur, Tensor) and cur.is_meta and \
                    isinstance(val, Tensor) and not val.is_meta:
                if prefixes is None:
                    prefixes = {id(m): (p + "." if p else "") for p, m in self.named_modules()}
                warnings.warn(f"for {prefixes.get(id(mod), '')}{name}: copying from a non-meta "
                              "parameter in the checkpoint to a meta parameter in the current "
                              "model, which is a no-op. (Did you mean to pass `assign=True` to "
                              "assign items in the state dictionary to their corresponding key "
                              "in the module instead of copying them in place?)", stacklevel=3)

    @staticmethod
    def _apply_plan(plan, assign):
        with no_grad():
            for mod, name, cur, val in plan:
                if name == _EXTRA:
                    mod.set_extra_state(val)
                elif assign:
                    if isinstance(cur, Parameter) and not isinstance(val, Parameter):
                        val = Parameter(val, requires_grad=cur.requires_grad)
                    if name in mod._parameters:
                        mod._parameters[name] = val
                    else:
                        mod._buffers[name] = val
                else:
                    cur.copy_(val)

    def register_state_dict_pre_hook(self, hook):
        return add_hook(self._state_dict_pre_hooks, hook)

    def register_state_dict_post_hook(self, hook):
        return add_hook(self._state_dict_hooks, hook)

    _register_state_dict_hook = register_state_dict_post_hook

    def register_load_state_dict_pre_hook(self, hook):
        return add_hook(self._load_state_dict_pre_hooks,
                        lambda sd, p, md, s, mk, uk, em, _h=hook, _m=self:
                        _h(_m, sd, p, md, s, mk, uk, em))

    def register_load_state_dict_post_hook(self, hook):
        return add_hook(self._load_state_dict_post_hooks, hook)

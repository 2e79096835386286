"""``Optimizer``: the base class of every optimizer, with PyTorch's semantics.

Parameter groups are dicts (``{'params': [...], 'lr': ..., ...}``) whose missing options are
filled from the optimizer's defaults; per-parameter state lives in ``optimizer.state[p]``;
``state_dict()`` has torch's layout (parameters replaced by integer indices), so a checkpoint
written by one run can be loaded into a freshly built optimizer of another.

Update rules (``SGD``, ``Adam``, ...) are written once with Cadenza Tensor ops under
``cadenza.no_grad()``; the compiled mode traces the very same ops.
"""
from __future__ import annotations

import copy
import functools
import warnings
from collections import OrderedDict, defaultdict
from itertools import chain
from typing import Any, Callable

from .._creation import tensor as _tensor, zeros_like as _zeros_like
from .._tensor import Tensor
from ..ops.complex import view_as_complex, view_as_real
from ..ops._registry import is_low
from .._trace_hooks import host_scalar, hyper
from ..autograd.grad_mode import enable_grad, no_grad, state as _grad_state
from .. import dtypes as _dt
from .._dispatch import register_stateful
from ..autograd.profiler import record_function
from ..backend import ckernels_rows

__all__ = ["Optimizer", "required", "register_optimizer_step_pre_hook",
           "register_optimizer_step_post_hook"]


class _RequiredParameter:
    """Singleton marking a default that each param group must give (``SGD(lr=required)``)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()

_global_pre_hooks: OrderedDict = OrderedDict()
_global_post_hooks: OrderedDict = OrderedDict()


class RemovableHandle:
    """What the ``register_*_hook`` methods return: ``handle.remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks: dict):
        self.hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self.hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _add_hook(hooks: OrderedDict, hook, prepend: bool = False) -> RemovableHandle:
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


def register_optimizer_step_pre_hook(hook) -> RemovableHandle:
    """Register ``hook(optimizer, args, kwargs)`` to run before every optimizer's step."""
    return _add_hook(_global_pre_hooks, hook)


def register_optimizer_step_post_hook(hook) -> RemovableHandle:
    """Register ``hook(optimizer, args, kwargs)`` to run after every optimizer's step."""
    return _add_hook(_global_post_hooks, hook)


def _with_step_hooks(step):
    """Wrap a subclass's ``step`` so that step pre/post hooks run around it."""
    if getattr(step, "_cadenza_hooked", False):
        return step

    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        if self.__dict__.get("_in_hooked_step"):  # a subclass's step calling super().step()
            return step(self, *args, **kwargs)
        self._in_hooked_step = True
        try:
            if _grad_state.profiler is not None:  # a profile names the step, as PyTorch's does
                with record_function(f"Optimizer.step#{type(self).__name__}.step"):
                    return _run_hooked(step, self, args, kwargs)
            return _run_hooked(step, self, args, kwargs)
        finally:
            self._in_hooked_step = False

    wrapper._cadenza_hooked = True
    return wrapper


def _run_hooked(step, self, args, kwargs):
    """Call ``step`` with the global and per-optimizer step hooks around it."""
    for pre in chain(_global_pre_hooks.values(), self._optimizer_step_pre_hooks.values()):
        result = pre(self, args, kwargs)
        if result is not None:
            if isinstance(result, tuple) and len(result) == 2:
                args, kwargs = result
            else:
                raise RuntimeError(f"{step} must return None or a tuple of (new_args, "
                                   f"new_kwargs), but got {result}.")
    out = step(self, *args, **kwargs)
    self._opt_called = True  # read by LRScheduler's "called in the wrong order" warning
    for post in chain(self._optimizer_step_post_hooks.values(), _global_post_hooks.values()):
        post(self, args, kwargs)
    return out


def _scalar_dtype():
    """dtype of the ``step`` counters: float32, or float64 when that is the default dtype."""
    return _dt.float64 if _dt.get_default_dtype() == _dt.float64 else _dt.float32


def sub_scaled(p, t, lr) -> None:
    """p -= lr * t as torch's ``p.add_(t, alpha=-lr)``. float32/float64: ``p - (t * lr)``, the
    same bits, and lr may be a traced 0-d tensor (alpha= needs a number); float16/bfloat16:
    alpha= itself, whose one float32 multiply-add rounds once where ``t * lr`` would round
    twice."""
    if is_low(p) and not isinstance(lr, Tensor):
        p.add_(t, alpha=-lr)
    else:
        p.sub_(t * lr)


def _fused_update(name: str, *tensors):
    """(backend/ckernels_rows.py's one-pass update ``name``, the tensors' arrays) in eager mode
    when every tensor (None skipped) holds a writeable C-contiguous float32 host array of one
    shape; else
    None, and the update runs as its tensor ops. The kernels repeat those ops' float32 roundings
    in order, so both give the same bits."""
    if _grad_state.tracer is not None:
        return None
    arrays = [None if t is None else t._data for t in tensors]
    shape = arrays[0].shape
    if not arrays[0].size or any(a is not None and (a.shape != shape or not a.flags.writeable)
                                 for a in arrays):
        return None
    fn = ckernels_rows.kernel(name, *arrays)
    return None if fn is None else (fn, arrays)


@functools.lru_cache(maxsize=64)
def _decay_factor(wd):
    """``lr -> 1 - lr * wd``: one function object per weight decay, so that while tracing the
    host nodes of a group's parameters (one learning-rate input) are the same node and common
    subexpression elimination keeps one (W1: 53 host nodes and their casts become one)."""
    def factor(lr):
        return 1 - lr * wd
    return factor


def _step_tensor(value: float = 0.0) -> Tensor:
    return _tensor(float(value), dtype=_scalar_dtype())


def _to_float(value):
    """A hyperparameter given as a 1-element Tensor, read as a Python number."""
    return value.item() if isinstance(value, Tensor) else value


def _check_nonneg(value, what: str) -> None:
    if isinstance(value, Tensor) and value.numel() != 1:
        name = "lr" if what == "learning rate" else what.split()[0]
        raise ValueError(f"Tensor {name} must be 1-element")
    if not 0.0 <= _to_float(value):
        raise ValueError(f"Invalid {what}: {value}")


def _check_betas(betas) -> tuple:
    """``betas`` as two floats in [0, 1) (each may be given as a 1-element Tensor)."""
    betas = tuple(_to_float(b) for b in betas)
    if len(betas) != 2:
        raise ValueError(f"Invalid betas: expected two values, got {len(betas)}")
    for i, b in enumerate(betas):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {b}")
    return betas


class Optimizer:
    """Base class of all optimizers (``torch.optim.Optimizer``).

    Subclasses pass their defaults to ``__init__`` and give the update of one parameter,
    ``_update(p, grad, group)``: ``step`` is the loop they share (or they override ``step``, as
    torch's subclasses do). The flags real scripts pass to pick a torch kernel (``foreach``,
    ``fused``, ``capturable``, ``differentiable``) are accepted and recorded in the groups; they
    change nothing here.

    >>> import cadenza as torch
    >>> w = torch.zeros(3, requires_grad=True)
    >>> opt = torch.optim.SGD([w], lr=0.1)
    >>> (w - 1.0).pow(2).sum().backward(); opt.step(); opt.zero_grad()
    >>> w
    tensor([0.2000, 0.2000, 0.2000], requires_grad=True)
    """

    # State entries shaped like their parameter; load_state_dict checks these shapes.
    _param_shaped_state: tuple = ()
    # State entries that start as zeros like their parameter (with a ``step`` counter).
    _zero_state: tuple = ()
    # (key, default) of group options newer than old pickles/state dicts: __setstate__ fills
    # them in.
    _group_option_defaults: tuple = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__:
            cls.step = _with_step_hooks(cls.__dict__["step"])

    def __init__(self, params, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._optimizer_step_pre_hooks: OrderedDict = OrderedDict()
        self._optimizer_step_post_hooks: OrderedDict = OrderedDict()
        self._optimizer_state_dict_pre_hooks: OrderedDict = OrderedDict()
        self._optimizer_state_dict_post_hooks: OrderedDict = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks: OrderedDict = OrderedDict()
        self._optimizer_load_state_dict_post_hooks: OrderedDict = OrderedDict()
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {type(params).__name__}")
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(dict(group))

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (e.g. a smaller ``lr``).

        >>> import cadenza as torch
        >>> a, b = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
        >>> opt = torch.optim.SGD([a], lr=0.1)
        >>> opt.add_param_group({"params": [b], "lr": 0.01})
        >>> [g["lr"] for g in opt.param_groups]
        [0.1, 0.01]
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            params = list(params)
        tensors, names = [], []
        for p in params:
            if isinstance(p, tuple):  # from model.named_parameters()
                names.append(p[0])
                tensors.append(p[1])
            else:
                tensors.append(p)
        if names and len(names) != len(tensors):
            raise ValueError("all optimizer params should be with/without names. Some param "
                             "names are missing")
        for p in tensors:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__module__}.{type(p).__name__}")
            if not self.defaults.get("differentiable", None) and not (
                    p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
        if len(tensors) != len(set(tensors)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "in future, this will cause an error", stacklevel=3)
        seen: set = set()
        for group in self.param_groups:
            seen.update(group["params"])
            if ("param_names" in group) != bool(names):
                which = "with names" if names else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {which} to the optimizer")
        if not seen.isdisjoint(tensors):
            raise ValueError("some parameters appear in more than one parameter group")
        # validated: now build the group
        param_group["params"] = tensors
        if names:
            param_group["param_names"] = names
        for name, default in self.defaults.items():
            param_group.setdefault(name, default)
        self.param_groups.append(param_group)

    # ------------------------------------------------------------------ gradients and steps
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's ``.grad``: to None (default) or, in place, to zeros.

        >>> import cadenza as torch
        >>> w = torch.ones(2, requires_grad=True); w.sum().backward()
        >>> opt = torch.optim.SGD([w]); opt.zero_grad(); w.grad is None
        True
        """
        tracer = _grad_state.tracer if set_to_none else None
        for group in self.param_groups:
            for p in group["params"]:
                if tracer is not None:
                    tracer.note_cleared(p)
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if g.grad_fn is not None:
                        g.detach_()
                    else:
                        g.requires_grad_(False)
                    with no_grad():
                        g.zero_()

    @_with_step_hooks
    def step(self, closure: Callable[[], Any] | None = None):
        """Update every parameter that has a gradient once; ``closure`` re-evaluates the model
        and returns the loss, which ``step`` returns."""
        loss = self._eval_closure(closure)
        with no_grad():
            for group in self.param_groups:
                wd = _to_float(group.get("weight_decay", 0))
                for p in group["params"]:
                    grad = p.grad
                    if grad is None:
                        continue
                    if grad.is_sparse:
                        grad = self._dense_of_sparse(grad, group)
                    if group.get("maximize"):
                        grad = -grad
                    if wd != 0:
                        grad = self._weight_decay(p, grad, wd, group)
                    if p.is_complex():
                        self._complex_update(p, grad, group)
                    else:
                        self._update(p, grad, group)
        return loss

    # torch's refusal of a sparse gradient (an embedding's with sparse=True), or None where
    # the rule takes one: applied to the dense gradient, it changes exactly the rows the
    # sparse one has (SGD, Adagrad), as torch's sparse kernels do
    _sparse_error = "{} does not support sparse gradients"

    def _dense_of_sparse(self, grad: Tensor, group: dict) -> Tensor:
        if self._sparse_error is not None:
            raise RuntimeError(self._sparse_error.format(type(self).__name__))
        return grad.to_dense()

    def _complex_update(self, p: Tensor, grad: Tensor, group: dict) -> None:
        """A complex parameter is updated as PyTorch does: as its (real, imaginary) pairs
        (``view_as_real`` of the parameter, its gradient and its complex state), so
        element-wise rules (Adam's second moment, RMSprop's square average) treat the two
        parts as separate real numbers."""
        state = self.state[p]
        if len(state) == 0:
            self._init_state(state, p, group)
        rp = view_as_real(p)
        real = {k: view_as_real(v) if isinstance(v, Tensor) and v.is_complex() else v
                for k, v in state.items()}
        self.state[rp] = dict(real)
        try:
            self._update(rp, view_as_real(grad), group)
        finally:
            new = self.state.pop(rp)
        for k, v in new.items():       # entries the rule replaced (not updated in place)
            if v is not real.get(k):
                state[k] = view_as_complex(v) if isinstance(v, Tensor) and v.ndim and \
                    v.shape[-1] == 2 and tuple(v.shape[:-1]) == tuple(p.shape) else v

    def _update(self, p: Tensor, grad: Tensor, group: dict) -> None:
        """The update rule for one parameter; ``grad`` is already negated for ``maximize`` and
        has the weight decay in it. Read the learning rate with ``_trace_hooks.hyper`` so that
        a compiled step takes it as a graph input (schedulers do not recompile)."""
        raise NotImplementedError(f"{type(self).__name__} must implement step or _update")

    def _weight_decay(self, p: Tensor, grad: Tensor, wd: float, group: dict) -> Tensor:
        """L2 weight decay, ``grad + wd * p``; or, for a group with ``decoupled_weight_decay``
        (AdamW, NAdam/RAdam's option), ``p *= 1 - lr * wd`` with the gradient unchanged."""
        if group.get("decoupled_weight_decay"):
            p.mul_(host_scalar(_decay_factor(wd), hyper(group, "lr")))
            return grad
        return grad.add(p, alpha=wd)

    def _param_state(self, p: Tensor, group: dict) -> dict:
        """``self.state[p]``, filled by ``_init_state`` on first use, with its ``step`` counter
        (if it has one) advanced: what an update that keeps per-parameter state starts with."""
        state = self.state[p]
        if len(state) == 0:
            self._init_state(state, p, group)
        if "step" in state:
            state["step"] += 1
        return state

    def _init_state(self, state: dict, p: Tensor, group: dict) -> None:
        """Fill the empty state of parameter ``p`` (its first update, or a new group's): by
        default a ``step`` counter and zeros like ``p`` for each key of ``_zero_state``."""
        if self._zero_state:
            state["step"] = _step_tensor(0.0)
            for key in self._zero_state:
                state[key] = _zeros_like(p)

    @staticmethod
    def _eval_closure(closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ------------------------------------------------------------------ hooks
    def register_step_pre_hook(self, hook) -> RemovableHandle:
        """``hook(optimizer, args, kwargs) -> None or (new_args, new_kwargs)`` before step."""
        return _add_hook(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook) -> RemovableHandle:
        """``hook(optimizer, args, kwargs) -> None`` after each step."""
        return _add_hook(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        return _add_hook(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        return _add_hook(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        return _add_hook(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        return _add_hook(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # ------------------------------------------------------------------ state dicts
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state in torch's layout: parameters are replaced by their index.

        ``{'state': {0: {'momentum_buffer': tensor(...)}, ...},
        'param_groups': [{'lr': 0.1, ..., 'params': [0, 1]}, ...]}``. Tensors are not copied.

        >>> import cadenza as torch
        >>> opt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
        >>> opt.state_dict()["param_groups"][0]["params"]
        [0]
        """
        for hook in self._optimizer_state_dict_pre_hooks.values():
            hook(self)
        index: dict[int, int] = {}
        start = 0
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                index.setdefault(id(p), i)
            packed["params"] = [index[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {(index[id(k)] if isinstance(k, Tensor) else k): v
                 for k, v in self.state.items()}
        sd = {"state": state, "param_groups": groups}
        for hook in self._optimizer_state_dict_post_hooks.values():
            result = hook(self, sd)
            if result is not None:
                sd = result
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load what ``state_dict()`` returned; everything is checked before anything changes.

        Tensors are copied (cast to each parameter's dtype), so the source optimizer and this
        one never share state.

        >>> import cadenza as torch
        >>> w = torch.zeros(2, requires_grad=True)
        >>> a, b = torch.optim.Adam([w], lr=0.1), torch.optim.Adam([w])
        >>> b.load_state_dict(a.state_dict()); b.param_groups[0]["lr"]
        0.1
        """
        if not isinstance(state_dict, dict):
            raise TypeError(f"load_state_dict: expected a dict, got {type(state_dict).__name__}")
        state_dict = state_dict.copy()
        for hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        for key in ("state", "param_groups"):
            if key not in state_dict:
                raise ValueError(f"load_state_dict: expected keys 'state' and 'param_groups', "
                                 f"got {sorted(map(str, state_dict))}")
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))
        for k, v in state_dict["state"].items():
            if k in id_map and isinstance(v, dict):
                self._check_state_entry(k, id_map[k], v)
        # validated: build the new state, then swap it in
        state: defaultdict = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                state[id_map[k]] = _cast(id_map[k], v)
            else:
                state[k] = v
        new_groups = []
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
            new_groups.append(saved)
        self.__setstate__({"state": state, "param_groups": new_groups})
        for hook in self._optimizer_load_state_dict_post_hooks.values():
            hook(self)

    def _check_state_entry(self, index: int, param: Tensor, entry: dict) -> None:
        for key in self._param_shaped_state:
            v = entry.get(key)
            if isinstance(v, Tensor) and tuple(v.shape) != tuple(param.shape):
                raise ValueError(f"load_state_dict: expected state[{index}]['{key}'].shape == "
                                 f"{tuple(param.shape)} (the parameter's shape), got "
                                 f"{tuple(v.shape)}")

    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state,
                "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for group in self.param_groups:
            for key, default in self._group_option_defaults:
                group.setdefault(key, default)
        for name in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks",
                     "_optimizer_state_dict_pre_hooks", "_optimizer_state_dict_post_hooks",
                     "_optimizer_load_state_dict_pre_hooks",
                     "_optimizer_load_state_dict_post_hooks"):
            if name not in self.__dict__:
                setattr(self, name, OrderedDict())
        for group in self.param_groups:
            for p in group["params"]:
                entry = self.state.get(p)
                if entry and "step" in entry and not isinstance(entry["step"], Tensor):
                    entry["step"] = _step_tensor(float(entry["step"]))

    def __repr__(self) -> str:
        s = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += f"\nParameter Group {i}\n"
            for key in sorted(group):
                if key != "params":
                    s += f"    {key}: {group[key]}\n"
        return s + ")"


def _cast(param: Tensor, value, key=None):
    """A copy of ``value`` with its tensors on ``param``'s dtype (``step`` keeps its own)."""
    if isinstance(value, Tensor):
        if key == "step" or not param.is_floating_point():
            return value.detach().clone()
        return value.detach().to(param.dtype).clone()
    if isinstance(value, dict):
        return {k: _cast(param, v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(param, v) for v in value)
    return value


# compile's guards find optimizers through this registration (they do not import optim)
register_stateful(Optimizer, "optimizer")

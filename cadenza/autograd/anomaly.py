"""Anomaly detection: ``with cadenza.autograd.detect_anomaly():`` records each op's user
source line and raises at the first op whose output (forward) or gradient (backward) turns
NaN/Inf from finite inputs, naming the op and that line."""
from __future__ import annotations


import numpy as np

from .._dispatch import state, user_source
from .grad_mode import _DecoratorContextManager
from .._tensor_base import TensorBase as Tensor

def _bad(arr):
    if not hasattr(arr, "dtype") or arr.dtype.kind != "f":
        return None
    if np.isnan(arr).any():
        return "nan"
    if np.isinf(arr).any():
        return "inf"
    return None


def check_forward(op, args, out):
    if not state.anomaly_check_nan or state.in_backward:
        return  # inside backward, the node's gradients are checked as a whole
    kind = _bad(out._data)
    if kind is None:
        return
    for a in args:
        v = a._data if isinstance(a, Tensor) else np.asarray(a) if isinstance(
            a, (float, int)) else None
        if v is not None and v.dtype.kind == "f" and not np.isfinite(v).all():
            return  # the non-finite value came in; not this op's doing
    where = out.grad_fn.src if out.grad_fn is not None and out.grad_fn.src else user_source()
    raise RuntimeError(f"Anomaly detected: op '{op.name}' produced {kind} values in its output "
                       f"from finite inputs, at {where}")


def check_backward(node, g, grads_in):
    if not state.anomaly_check_nan:
        return
    if isinstance(g, Tensor) and _bad(g._data):
        return
    for i, gi in enumerate(grads_in):
        if isinstance(gi, Tensor):
            kind = _bad(gi._data)
            if kind:
                src = node.src or "<source not recorded: enable detect_anomaly before forward>"
                raise RuntimeError(f"Function '{node.name()}' returned {kind} values in its {i}th "
                                   f"output. The forward op '{node.op.name}' was called at {src}")


class detect_anomaly(_DecoratorContextManager):
    """Context manager / decorator enabling anomaly detection (slows every op)."""

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        self.prev = (state.anomaly, state.anomaly_check_nan)
        state.anomaly = True
        state.anomaly_check_nan = self.check_nan

    def __exit__(self, *exc):
        state.anomaly, state.anomaly_check_nan = self.prev
        return False

    def clone(self):
        return detect_anomaly(self.check_nan)


class set_detect_anomaly(detect_anomaly):
    def __init__(self, mode: bool, check_nan: bool = True):
        self.check_nan = check_nan
        self.prev = (state.anomaly, state.anomaly_check_nan)
        state.anomaly = bool(mode)
        state.anomaly_check_nan = check_nan

    def __enter__(self):
        pass

    def clone(self):
        return set_detect_anomaly(state.anomaly, self.check_nan)


def is_anomaly_enabled() -> bool:
    return state.anomaly


def is_anomaly_check_nan_enabled() -> bool:
    return state.anomaly_check_nan


def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    """``torch.set_anomaly_enabled``: switch anomaly detection on or off for the process."""
    state.anomaly = bool(enabled)
    state.anomaly_check_nan = bool(check_nan)

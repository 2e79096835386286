"""``torch.autograd.forward_ad``: dual tensors (a primal with a tangent) for forward-mode
directional derivatives.

Inside ``dual_level()``, ``make_dual(x, v)`` returns a tensor equal to ``x`` that carries the
tangent ``v``; ``unpack_dual(y)`` of any tensor computed from dual tensors returns
``(primal, tangent)`` with ``tangent = J_y(x) @ v`` summed over every dual of the level.

The tangent is not propagated op by op: a dual is a node of the reverse-mode graph and
``unpack_dual`` derives its tangent from that graph with the double-vjp rule (``g(u) = J^T u``
is linear in ``u``, so the vjp of ``g`` with ``v`` is ``J v``), as ``cadenza.func.jvp`` does.
Consequences: dual tensors report ``requires_grad=True``, and a value computed from them under
``no_grad()`` carries no tangent (PyTorch would still propagate one there).
"""
from __future__ import annotations

from collections import namedtuple

from .._creation import zeros_like
from .._tensor_base import TensorBase as Tensor
from .engine import grad as _grad
from .grad_mode import enable_grad

__all__ = ["UnpackedDualTensor", "dual_level", "enter_dual_level", "exit_dual_level",
           "make_dual", "unpack_dual"]

UnpackedDualTensor = namedtuple("UnpackedDualTensor", ["primal", "tangent"])

# one list per open level: (the leaf a dual tensor is made from, its tangent)
_levels: list[list[tuple[Tensor, Tensor]]] = []


def enter_dual_level() -> int:
    """Open a new forward-AD level and return its index (``dual_level`` does this)."""
    if _levels:
        raise RuntimeError("enter_dual_level: nested forward AD levels are not supported "
                           f"(level {len(_levels) - 1} is still open)")
    _levels.append([])
    return len(_levels) - 1


def exit_dual_level(*, level: int | None = None) -> None:
    """Close the innermost level; its dual tensors lose their tangents."""
    if not _levels:
        raise RuntimeError("exit_dual_level: no forward AD level is open")
    if level is not None and level != len(_levels) - 1:
        raise RuntimeError(f"exit_dual_level: level {level} is not the innermost open level "
                           f"({len(_levels) - 1})")
    _levels.pop()


class dual_level:
    """Context manager (and decorator target) that scopes dual tensors and their tangents.

    >>> import cadenza as torch
    >>> import cadenza.autograd.forward_ad as fwAD
    >>> with fwAD.dual_level():
    ...     x = fwAD.make_dual(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 0.0]))
    ...     fwAD.unpack_dual((x ** 2).sum()).tangent
    tensor(2.)
    """

    def __enter__(self) -> int:
        return enter_dual_level()

    def __exit__(self, *exc) -> None:
        exit_dual_level()


def _level(fn: str, level: int | None) -> list:
    if not _levels:
        raise RuntimeError(f"{fn}: no forward AD level is open; call it inside "
                           "`with torch.autograd.forward_ad.dual_level():`")
    if level is not None and not 0 <= level < len(_levels):
        raise RuntimeError(f"{fn}: level {level} is not open")
    return _levels[-1 if level is None else level]


def make_dual(tensor: Tensor, tangent: Tensor, *, level: int | None = None) -> Tensor:
    """A tensor equal to ``tensor`` whose tangent is ``tangent`` (same shape, floating point)."""
    duals = _level("make_dual", level)
    if not isinstance(tensor, Tensor) or not isinstance(tangent, Tensor):
        raise TypeError(f"make_dual: expected tensor and tangent to be Tensors, got "
                        f"{type(tensor).__name__} and {type(tangent).__name__}")
    if tuple(tensor.shape) != tuple(tangent.shape):
        raise RuntimeError(f"make_dual: expected tangent to have the primal's shape "
                           f"{tuple(tensor.shape)}, got {tuple(tangent.shape)}")
    if not (tensor.is_floating_point() or tensor.is_complex()):
        raise ValueError(f"make_dual: expected a floating point or complex primal, got "
                         f"{tensor.dtype}")
    with enable_grad():
        # the tangent is taken with respect to `src`, a leaf only this dual depends on; the
        # dual itself is a non-leaf (in-place ops on it are recorded) and, when `tensor`
        # requires grad, keeps `tensor`'s reverse graph
        src = tensor.detach().requires_grad_()
        dual = src.clone() if not tensor.requires_grad else src + (tensor - tensor.detach())
    duals.append((src, tangent.to(tensor.dtype)))
    return dual


def unpack_dual(tensor, *, level: int | None = None) -> UnpackedDualTensor:
    """``(primal, tangent)`` of ``tensor``; the tangent is None when ``tensor`` does not depend
    on a dual tensor of the level (or no level is open)."""
    if not isinstance(tensor, Tensor) or not _levels:
        return UnpackedDualTensor(tensor, None)
    duals = _level("unpack_dual", level)
    if not duals or not tensor.requires_grad or not (tensor.is_floating_point() or
                                                     tensor.is_complex()):
        return UnpackedDualTensor(tensor.detach(), None)
    with enable_grad():
        u = zeros_like(tensor).requires_grad_()
        gs = _grad([tensor], [d for d, _ in duals], [u], retain_graph=True, create_graph=True,
                   allow_unused=True)
        used = [(g, t) for g, (_, t) in zip(gs, duals) if g is not None]
        if not used:
            return UnpackedDualTensor(tensor.detach(), None)
        linear = [(g, t) for g, t in used if g.requires_grad]   # J^T u, linear in u
        if not linear:   # every J^T u is constant in u: J is zero
            return UnpackedDualTensor(tensor.detach(), zeros_like(tensor).detach())
        (jv,) = _grad([g for g, _ in linear], [u], [t for _, t in linear], allow_unused=True,
                      materialize_grads=True)
    return UnpackedDualTensor(tensor.detach(), jv.detach())

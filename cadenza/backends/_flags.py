"""The flag objects behind cadenza.backends.*."""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import types
import warnings

from ..ops.linalg import EINSUM_PATH as _EINSUM_PATH

__all__ = ["cudnn", "mps", "mkldnn", "openmp", "cpu", "cuda", "opt_einsum"]


class _Flags(types.SimpleNamespace):
    def is_available(self) -> bool:
        return bool(getattr(self, "_available", False))

    def is_built(self) -> bool:
        return bool(getattr(self, "_built", False))


cudnn = _Flags(enabled=True, benchmark=False, deterministic=False, allow_tf32=True,
               _available=False, _built=False)
cudnn.version = lambda: None
mps = _Flags(_available=False, _built=False)
mkldnn = _Flags(enabled=False, _available=False, _built=False)
openmp = _Flags(_available=False, _built=False)
cpu = _Flags()
cpu.get_cpu_capability = lambda: "DEFAULT"
cuda = _Flags(_available=False, _built=False)
cuda.matmul = types.SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
                                    allow_bf16_reduced_precision_reduction=True)
cuda.is_built = lambda: False
# which scaled_dot_product_attention backends may run (torch's switches; Cadenza's CPU kernel
# is one exact implementation, so they are recorded and reported, not dispatched on)
_SDP = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True}


def _sdp_switches(kind):
    def enabled() -> bool:
        return _SDP[kind]

    def enable(enabled: bool) -> None:
        _SDP[kind] = bool(enabled)
    return enabled, enable


for _kind in _SDP:
    _on, _set = _sdp_switches(_kind)
    setattr(cuda, f"{_kind}_sdp_enabled", _on)
    setattr(cuda, f"enable_{_kind}_sdp", _set)


@contextlib.contextmanager
def _sdp_kernel(enable_flash=True, enable_math=True, enable_mem_efficient=True,
                enable_cudnn=True):
    """``torch.backends.cuda.sdp_kernel``: the backends allowed inside the block (deprecated
    for ``torch.nn.attention.sdpa_kernel``, as torch warns)."""
    warnings.warn("`torch.backends.cuda.sdp_kernel()` is deprecated. In the future, this "
                  "context manager will be removed. Please see `torch.nn.attention.sdpa_kernel()` "
                  "for the new context manager, with updated signature.", FutureWarning,
                  stacklevel=3)
    saved = dict(_SDP)
    _SDP.update(flash=bool(enable_flash), math=bool(enable_math),
                mem_efficient=bool(enable_mem_efficient), cudnn=bool(enable_cudnn))
    try:
        yield
    finally:
        _SDP.update(saved)


cuda.sdp_kernel = _sdp_kernel


class _OptEinsum:
    """``torch.backends.opt_einsum``: how einsum orders the contraction of three or more
    operands. Cadenza's einsum always has a path optimiser (NumPy's ``einsum_path``, which
    implements opt_einsum's "greedy" and "optimal" strategies), so ``is_available()`` is True
    whether or not the ``opt_einsum`` package is installed; ``enabled = False`` contracts left
    to right. ``strategy``: "auto" (default: "optimal" up to 4 operands, else "greedy"),
    "greedy" or "optimal"."""
    _STRATEGIES = ("auto", "greedy", "optimal")

    @staticmethod
    def is_available() -> bool:
        return True

    @staticmethod
    def get_opt_einsum():
        """The ``opt_einsum`` package if it is installed (Cadenza does not need it), else
        None."""
        if importlib.util.find_spec("opt_einsum") is None:
            return None
        return importlib.import_module("opt_einsum")

    @property
    def enabled(self) -> bool:
        return _EINSUM_PATH["enabled"]

    @enabled.setter
    def enabled(self, value) -> None:
        if not isinstance(value, bool):
            raise ValueError(f"opt_einsum.enabled must be a bool, got {value!r}")
        _EINSUM_PATH["enabled"] = value

    @property
    def strategy(self):
        return _EINSUM_PATH["strategy"] if _EINSUM_PATH["enabled"] else None

    @strategy.setter
    def strategy(self, value) -> None:
        if value not in self._STRATEGIES:
            raise ValueError(f"opt_einsum.strategy must be one of the following: 'auto', "
                             f"'greedy', 'optimal' but {value!r} was given")
        if not _EINSUM_PATH["enabled"]:
            raise ValueError(f"opt_einsum.strategy cannot be set to {value!r} while "
                             f"opt_einsum.enabled is False; enable it first")
        _EINSUM_PATH["strategy"] = value

    def set_flags(self, _enabled=None, _strategy=None):
        """Set the switches given (None: leave), returning the previous (enabled, strategy)."""
        old = (self.enabled, _EINSUM_PATH["strategy"])
        if _enabled is not None:
            self.enabled = _enabled
        if _strategy is not None:
            self.strategy = _strategy
        return old

    @contextlib.contextmanager
    def flags(self, enabled=None, strategy=None):
        """The switches set inside the block, restored after it."""
        old = self.set_flags(enabled, strategy)
        try:
            yield
        finally:
            _EINSUM_PATH["enabled"], _EINSUM_PATH["strategy"] = old

    def __repr__(self) -> str:
        return f"<cadenza.backends.opt_einsum enabled={self.enabled} strategy={self.strategy!r}>"


opt_einsum = _OptEinsum()

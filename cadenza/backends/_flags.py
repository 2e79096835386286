"""The flag objects behind cadenza.backends.*."""
from __future__ import annotations

import contextlib
import types
import warnings

__all__ = ["cudnn", "mps", "mkldnn", "openmp", "cpu", "cuda"]


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

"""The flag objects behind cadenza.backends.*."""
from __future__ import annotations

import types

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
cuda.flash_sdp_enabled = lambda: False
cuda.enable_flash_sdp = lambda enabled: None
cuda.enable_mem_efficient_sdp = lambda enabled: None
cuda.enable_math_sdp = lambda enabled: None
cuda.is_built = lambda: False

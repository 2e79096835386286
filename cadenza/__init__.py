"""Cadenza: a deep-learning framework with PyTorch's API on NumPy.

    import cadenza as torch

Eager mode (dynamic graph, define-by-run autograd) runs every op at once; ``cadenza.compile``
(compiled mode) captures a static graph. Heavy or optional parts (nn, optim, data, io, onnx,
distributed, models) load on first use so ``import cadenza`` stays fast.
"""
from __future__ import annotations

import importlib as _importlib

__version__ = "0.1.0"

from . import dtypes as _dtypes_mod  # noqa: E402
from .dtypes import (dtype, float32, float64, float16, bfloat16, int64, int32, int16,  # noqa
                     int8, uint8, get_default_dtype, set_default_dtype, promote_types,
                     result_type as _result_type)
from .dtypes import bool as bool  # noqa: E402,F401  (torch.bool)
from .dtypes import float as float, double, half, long, int as int, short  # noqa
from .device import device  # noqa: E402
from ._tensor import Tensor, Size  # noqa: E402
from .errors import ShapeError, DTypeError, DeviceError, TraceError  # noqa: E402,F401
from .autograd.grad_mode import (no_grad, enable_grad, set_grad_enabled,  # noqa: E402
                                 inference_mode, is_grad_enabled, is_inference_mode_enabled)
from .random import (Generator, manual_seed, seed, initial_seed, get_rng_state,  # noqa: E402
                     set_rng_state, default_generator)
from ._creation import (tensor, as_tensor, asarray, from_numpy, from_dlpack,  # noqa: E402
                        frombuffer, zeros, ones, empty, full, zeros_like, ones_like,
                        empty_like, full_like, arange, linspace, logspace, eye, rand, randn,
                        rand_like, randn_like, randint, randint_like, randperm, normal,
                        bernoulli, poisson, multinomial)
from ._creation import range_ as range  # noqa: E402,F401
from . import ops as _ops  # noqa: E402
from .ops import *  # noqa: E402,F401,F403
from .ops import (sum, max, min, all, any, abs, pow, round, where, clamp,  # noqa: E402,F401
                  to_dtype as _to_dtype)
from ._repr import set_printoptions  # noqa: E402

clip = clamp
uint16 = None  # not supported; present so attribute probes do not crash


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def is_floating_point(t) -> bool:
    return t.is_floating_point()


def is_nonzero(t) -> bool:
    return bool(t)


def numel(t) -> int:
    return t.numel()


def result_type(tensor1, tensor2):
    return _result_type(tensor1, tensor2)


def can_cast(from_, to) -> bool:
    return from_.category <= to.category


def get_num_threads() -> int:
    import os
    return os.cpu_count() or 1


def set_num_threads(n: int) -> None:
    """Record the request; NumPy's BLAS thread count is fixed at its load time."""
    _threads[0] = n


def get_num_interop_threads() -> int:
    return 1


def set_num_interop_threads(n: int) -> None:
    pass


_threads = [None]


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Cadenza's CPU kernels are deterministic already; recorded for are_... queries."""
    _deterministic[0] = bool(mode)


def are_deterministic_algorithms_enabled() -> bool:
    return _deterministic[0]


_deterministic = [False]


def set_float32_matmul_precision(precision: str) -> None:
    if precision not in ("highest", "high", "medium"):
        raise ValueError(f"set_float32_matmul_precision: expected 'highest', 'high' or "
                         f"'medium', got {precision!r}")
    _matmul_precision[0] = precision


def get_float32_matmul_precision() -> str:
    return _matmul_precision[0]


_matmul_precision = ["highest"]


def softmax(input, dim, dtype=None):  # noqa: F811  (the parameter shadows cadenza.dtype)
    from .functional import softmax as f
    return f(input, dim, dtype=dtype)


def log_softmax(input, dim, dtype=None):  # noqa: F811
    from .functional import log_softmax as f
    return f(input, dim, dtype=dtype)


def dropout(input, p=0.5, train=True):
    from .functional import dropout as f
    return f(input, p, train)


def compile(model=None, **kwargs):
    """Capture ``model`` (function or Module) into a static graph; see cadenza.compiler."""
    from .compiler import compile as _compile
    return _compile(model, **kwargs)


def save(obj, f, **kwargs):
    """Save tensors / state dicts / nested containers atomically as safetensors (no pickle)."""
    from .io import save as _save
    return _save(obj, f, **kwargs)


def load(f, map_location=None, weights_only=None, mmap=None, **kwargs):
    """Load what ``cadenza.save`` wrote; never executes code from the file."""
    from .io import load as _load
    return _load(f, map_location=map_location, weights_only=weights_only, mmap=mmap, **kwargs)


_LAZY = {"nn", "optim", "utils", "data", "io", "onnx", "distributed", "models", "functional",
         "autograd", "cuda", "backends", "accelerator", "compiler", "testing", "linalg",
         "special", "amp", "jit", "fft", "hub", "multiprocessing", "distributions", "mps",
         "overrides", "profiler", "export", "library", "types", "version"}


def __getattr__(name):
    if name in _LAZY:
        mod = _importlib.import_module(f".{name}", __name__)
        globals()[name] = mod
        return mod
    if name in ("FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "BoolTensor",
                "ByteTensor", "HalfTensor", "BFloat16Tensor", "ShortTensor", "CharTensor"):
        from ._legacy import legacy_tensor_type
        return legacy_tensor_type(name)
    raise AttributeError(f"module 'cadenza' has no attribute '{name}'. If this is a PyTorch "
                         "name, Cadenza does not support it yet.")

"""Cadenza: a deep-learning framework with PyTorch's API on NumPy.

    import cadenza as torch

Eager mode (dynamic graph, define-by-run autograd) runs every op at once; ``cadenza.compile``
(compiled mode) captures a static graph. Heavy or optional parts (nn, optim, data, io, onnx,
distributed, models; bfloat16's ml_dtypes) load on first use so ``import cadenza`` stays fast.

The top level holds PyTorch's public names only (``__all__``); Cadenza's primitives, registry
and helpers live in their own modules (``cadenza.ops`` ...).
"""
import builtins as _builtins
import importlib as _importlib
import os as _os
import types as _types

from ._version import __version__  # noqa: E402

from .dtypes import (dtype, float32, float64, float16, int64, int32, int16, int8,  # noqa: E402
                     uint8, get_default_dtype, set_default_dtype, promote_types,
                     result_type as _result_type)
from .dtypes import bool, float, double, half, long, int, short  # noqa: E402  (torch.bool ...)
from .dtypes import complex64, complex128, cfloat, cdouble  # noqa: E402
from .dtypes import uint16, uint32, uint64  # noqa: E402
from . import dtypes as _dtypes  # noqa: E402
from .device import device  # noqa: E402
from ._tensor import Tensor, Size  # noqa: E402
from ._tensor_api.memory import TypedStorage, UntypedStorage  # noqa: E402
from .errors import ShapeError, DTypeError, DeviceError, TraceError  # noqa: E402
from .autograd.grad_mode import (no_grad, enable_grad, set_grad_enabled,  # noqa: E402
                                 inference_mode, is_grad_enabled, is_inference_mode_enabled)
from .random import (Generator, manual_seed, seed, initial_seed, get_rng_state,  # noqa: E402
                     set_rng_state, default_generator)
from ._creation import (tensor, as_tensor, asarray, from_numpy, from_dlpack,  # noqa: E402
                        frombuffer, zeros, ones, empty, full, zeros_like, ones_like,
                        empty_like, full_like, arange, linspace, logspace, eye, rand, randn,
                        rand_like, randn_like, randint, randint_like, randperm, normal,
                        bernoulli, poisson, binomial, multinomial)
from ._creation import range_ as range  # noqa: E402  (torch.range)
from ._legacy import LEGACY_NAMES as _LEGACY_NAMES, legacy_tensor_type as _legacy  # noqa: E402
from . import ops as _ops  # noqa: E402
from . import _argforms  # noqa: E402
from . import _out  # noqa: E402
from ._repr import set_printoptions  # noqa: E402
from .dtypes import layout, strided, sparse_coo, sparse_csr, sparse_csc  # noqa: E402
from .dtypes import (finfo, iinfo, memory_format, contiguous_format, channels_last,  # noqa: E402
                     channels_last_3d, preserve_format)
from ._torch_functions import *  # noqa: E402,F401,F403  (ATen's forms: torch.conv2d ...)
from .autograd.anomaly import (is_anomaly_enabled, is_anomaly_check_nan_enabled,  # noqa: E402
                               set_anomaly_enabled)
from .sparse import sparse_coo_tensor, spmm  # noqa: E402
from ._sparse_compressed import (sparse_csr_tensor, sparse_csc_tensor,  # noqa: E402
                                 sparse_compressed_tensor)

# PyTorch's functions over the primitives (torch.add ...): every public ops function, read from
# ops.__all__ so that a new op reaches the top level without touching this file, except those
# torch has only as Tensor methods or in torch.nn.functional, and Cadenza's own helpers. Op
# classes, the registry and these stay in cadenza.ops (tests/test_namespace.py checks the rest
# are PyTorch names).
_OPS_NOT_TOP_LEVEL = frozenset({
    "contiguous", "expand", "expand_as", "repeat", "reshape_as", "view", "view_as",  # methods
    "fold", "unfold", "gelu", "linear", "one_hot", "pad",  # torch.nn.functional's
    "int8_linear",  # Cadenza's weight-only int8 GEMM (cadenza.models.quant; torch's private
    #                 _weight_int8pack_mm is its 2-d form without bias, in cadenza.ops.linalg)
    "getitem", "setitem", "sum_to", "to_dtype",  # indexing, broadcasting and casting helpers
})
globals().update((_n, getattr(_ops, _n)) for _n in _ops.__all__ if _n not in _OPS_NOT_TOP_LEVEL)

clip = _ops.clamp


def is_tensor(obj) -> _builtins.bool:
    return isinstance(obj, Tensor)


def is_floating_point(input) -> _builtins.bool:
    return input.is_floating_point()


def is_complex(input) -> _builtins.bool:
    return input.is_complex()


def is_nonzero(input) -> _builtins.bool:
    return _builtins.bool(input)


def numel(input) -> _builtins.int:
    return input.numel()


def result_type(tensor1, tensor2):
    return _result_type(tensor1, tensor2)


def can_cast(from_, to) -> _builtins.bool:
    return from_.category <= to.category


def get_num_threads() -> _builtins.int:
    return _os.cpu_count() or 1


def set_num_threads(n: _builtins.int) -> None:
    """Record the request; NumPy's BLAS thread count is fixed at its load time."""
    _threads[0] = n


def get_num_interop_threads() -> _builtins.int:
    return 1


def set_num_interop_threads(n: _builtins.int) -> None:
    pass


_threads = [None]


def set_float32_matmul_precision(precision: str) -> None:
    if precision not in ("highest", "high", "medium"):
        raise ValueError(f"set_float32_matmul_precision: expected 'highest', 'high' or "
                         f"'medium', got {precision!r}")
    _matmul_precision[0] = precision


def get_float32_matmul_precision() -> str:
    return _matmul_precision[0]


_matmul_precision = ["highest"]


def _submodule(name: str):
    """A Cadenza submodule that ``import cadenza`` does not load, imported on first use (the
    lazy parts of the package: functional, compiler, io and those in ``_LAZY``)."""
    return _importlib.import_module(f"{__name__}.{name}")


def softmax(input, dim, dtype=None):  # noqa: F811  (the parameter shadows cadenza.dtype)
    return _submodule("functional").softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, dtype=None):  # noqa: F811
    return _submodule("functional").log_softmax(input, dim, dtype=dtype)


def dropout(input, p=0.5, train=True):
    return _submodule("functional").dropout(input, p, train)


# defaults of the arguments compile() is not given; cadenza.compat installs torch.compile's
# (fullgraph=False: code that cannot be captured runs eagerly, as after a graph break)
_compile_defaults = {}


def compile(model=None, **kwargs):
    """Capture ``model`` (function or Module) into a static graph; see cadenza.compiler."""
    return _submodule("compiler").compile(model, **{**_compile_defaults, **kwargs})


def save(obj, f, **kwargs):
    """Save tensors / state dicts / nested containers atomically as safetensors (no pickle)."""
    return _submodule("io").save(obj, f, **kwargs)


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None,
         **pickle_load_args):
    """Load what ``cadenza.save`` wrote; never executes code from the file (allowed classes:
    ``cadenza.serialization``)."""
    return _submodule("io").load(f, map_location, pickle_module, weights_only=weights_only,
                                 mmap=mmap, **pickle_load_args)


# names that live in a lazily loaded submodule (torch.autocast is torch.amp.autocast ...)
_FROM_SUBMODULE = {"autocast": "amp", "GradScaler": "amp",
                   **dict.fromkeys(("is_autocast_enabled", "get_autocast_dtype",
                                    "is_autocast_cpu_enabled", "get_autocast_cpu_dtype",
                                    "get_autocast_gpu_dtype"), "amp.autocast_mode"),
                   "OutOfMemoryError": "cuda", "vmap": "func",
                   # more of torch's top-level functions (device modules, the deterministic
                   # switches, empty_permuted, histogramdd, the recurrent cells, to_dlpack)
                   **dict.fromkeys((
                       "get_device_module", "use_deterministic_algorithms",
                       "are_deterministic_algorithms_enabled",
                       "is_deterministic_algorithms_warn_only_enabled",
                       "set_deterministic_debug_mode", "get_deterministic_debug_mode",
                       "empty_permuted", "histogramdd", "lstm_cell", "gru_cell",
                       "rnn_tanh_cell", "rnn_relu_cell", "to_dlpack", "svd_lowrank",
                       "pca_lowrank", "lobpcg"), "_torch_extras"),
                   "Future": "futures", "fork": "futures", "wait": "futures",
                   "Stream": "_stream", "Event": "_stream",
                   **dict.fromkeys((
                       "native_layer_norm", "native_batch_norm", "native_group_norm",
                       "native_dropout", "lstm", "gru", "rnn_tanh", "rnn_relu", "convolution",
                       "conv_tbc", "grid_sampler", "grid_sampler_2d", "grid_sampler_3d",
                       "affine_grid_generator", "embedding_bag", "segment_reduce"),
                       "_torch_native")}

# every public name bound above (functions, classes, dtypes), plus bfloat16, which loads lazily
__all__ = sorted([_n for _n, _v in globals().items()
                  if not _n.startswith("_") and not isinstance(_v, _types.ModuleType)]
                 + ["bfloat16", *_dtypes._FLOAT8] + sorted(_FROM_SUBMODULE))
# out= on the top-level functions torch gives it to (cadenza._out), and axis= / keepdims= for
# dim= / keepdim= on every top-level function (torch's argument parser)
_out.out_namespace(globals())
_argforms.alias_namespace(globals(), __all__)

# submodules imported on first attribute access (cadenza.nn ...): each exists in the package
_LAZY = frozenset({"nn", "optim", "utils", "data", "io", "onnx", "distributed", "models",
                   "functional", "autograd", "cuda", "backends", "accelerator", "compiler",
                   "amp", "distributions", "serialization", "profiler", "jit", "types", "fft",
                   "linalg", "special", "func", "testing", "version", "_dynamo", "cpu", "hub",
                   "multiprocessing", "futures", "quasirandom"})




def __getattr__(name):
    if name in _LAZY:
        mod = _submodule(name)
        globals()[name] = mod
        return mod
    if name in _FROM_SUBMODULE:   # torch.autocast is torch.amp.autocast
        value = getattr(_submodule(_FROM_SUBMODULE[name]), name)
        globals()[name] = value
        return value
    if name == "bfloat16":  # ml_dtypes is slow to import: only on first use
        return _dtypes.bfloat16
    if name in _dtypes._FLOAT8:   # float8_e4m3fn, float8_e5m2: ml_dtypes' too
        return getattr(_dtypes, name)
    if name in _LEGACY_NAMES:
        return _legacy(name)
    raise AttributeError(f"module 'cadenza' has no attribute '{name}'. If this is a PyTorch "
                         "name, Cadenza does not support it yet.")


def __dir__():
    return sorted(set(globals()) | set(__all__) | _LAZY | set(_LEGACY_NAMES) |
                  set(_FROM_SUBMODULE))

"""Cadenza dtypes and PyTorch's type-promotion rules.

A ``dtype`` wraps a NumPy dtype. Promotion follows PyTorch, not NumPy: categories are
bool < integer < floating < complex; a Python scalar or a zero-dim tensor only raises the *category*
of a dimensioned tensor operand (``int_tensor * 2.5`` is float32, ``f32 * f64_scalar_tensor``
is float32), and float16 with bfloat16 gives float32.
"""
from __future__ import annotations

import importlib.util as _importlib_util

import numpy as np

from .errors import DTypeError

# The package name that reprs start with ("cadenza.float32", "cadenza.Size([2])").
# ``cadenza.compat`` sets it to "torch" (set_repr_name), so a PyTorch script run unchanged
# prints, and compares strings of, what it does under PyTorch ("torch.float32").
repr_name = "cadenza"


def set_repr_name(name: str) -> None:
    global repr_name
    repr_name = name

__all__ = [  # noqa: F822  (bfloat16 and the float8s are created on first use, by __getattr__)
    "dtype", "float32", "float", "float64", "double", "float16", "half", "bfloat16",
    "int64", "long", "int32", "int", "int16", "short", "int8", "uint8", "bool",
    "uint16", "uint32", "uint64", "float8_e4m3fn", "float8_e5m2",
    "complex64", "cfloat", "complex128", "cdouble",
    "get_default_dtype", "set_default_dtype", "promote_types", "result_type",
    "finfo", "iinfo", "memory_format", "contiguous_format", "channels_last",
    "channels_last_3d", "preserve_format",
]

_BOOL, _INT, _FLOAT, _COMPLEX = 0, 1, 2, 3


class dtype:
    """A tensor element type (``cadenza.float32`` ...), comparable by identity like torch's."""

    __slots__ = ("name", "np", "category", "itemsize", "is_floating_point", "is_signed",
                 "is_complex")

    def __init__(self, name: str, np_dtype, category: int):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.category = category
        self.itemsize = self.np.itemsize
        self.is_floating_point = category == _FLOAT
        self.is_signed = not name.startswith("uint") and name != "bool"
        self.is_complex = category == _COMPLEX

    def __repr__(self) -> str:
        return f"{repr_name}.{self.name}"

    def __reduce__(self):
        return (_from_name, (self.name,))

    def to_real(self):
        """The dtype of the real and imaginary parts (complex64 -> float32); self if real."""
        return _REAL_OF.get(self, self)

    def to_complex(self):
        """The complex dtype with parts of this dtype (float32 -> complex64; float16 and
        bfloat16 -> complex64, Cadenza has no complex32)."""
        if self.category == _COMPLEX:
            return self
        if self.category != _FLOAT:
            raise DTypeError(f"to_complex: expected a floating point dtype, got {self}")
        return complex128 if self is float64 else complex64

    @property
    def bits(self) -> int:
        return self.itemsize * 8


class _NamedConstant:
    """A process-wide constant known by its name (``cadenza.strided``, ``cadenza.channels_last``):
    printed and pickled as that name."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"{repr_name}.{self.name}"

    def __reduce__(self):
        return (_constant_from_name, (self.name,))


def _constant_from_name(name):
    return globals()[name]


class layout(_NamedConstant):
    """A tensor's memory layout (``cadenza.strided`` for dense tensors, ``cadenza.sparse_coo``
    for sparse ones), PyTorch's ``torch.layout``."""

    __slots__ = ()


class memory_format(_NamedConstant):
    """How a tensor's elements are ordered in memory (``cadenza.contiguous_format``,
    ``channels_last`` ...), PyTorch's ``torch.memory_format``."""

    __slots__ = ()


contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
preserve_format = memory_format("preserve_format")


strided = layout("strided")
sparse_coo = layout("sparse_coo")
sparse_csr = layout("sparse_csr")
sparse_csc = layout("sparse_csc")


float32 = float = dtype("float32", np.float32, _FLOAT)
float64 = double = dtype("float64", np.float64, _FLOAT)
float16 = half = dtype("float16", np.float16, _FLOAT)
int64 = long = dtype("int64", np.int64, _INT)
int32 = int = dtype("int32", np.int32, _INT)
int16 = short = dtype("int16", np.int16, _INT)
int8 = dtype("int8", np.int8, _INT)
uint8 = dtype("uint8", np.uint8, _INT)
bool = dtype("bool", np.bool_, _BOOL)
# torch's "limited support" unsigned types: storage, casts and a few ops; they promote with
# no other integer or bool dtype (promote_types raises, as torch's)
uint16 = dtype("uint16", np.uint16, _INT)
uint32 = dtype("uint32", np.uint32, _INT)
uint64 = dtype("uint64", np.uint64, _INT)
_BARE_UNSIGNED = frozenset({"uint16", "uint32", "uint64"})
complex64 = cfloat = dtype("complex64", np.complex64, _COMPLEX)
complex128 = cdouble = dtype("complex128", np.complex128, _COMPLEX)
_REAL_OF = {complex64: float32, complex128: float64}

# bfloat16 is added to these on first use (see _load_bfloat16), after float16 in _ALL
_ALL = [float32, float64, float16, int64, int32, int16, int8, uint8, bool, complex64,
        complex128, uint16, uint32, uint64]
_BY_NP = {d.np: d for d in _ALL}
_BY_NAME = {d.name: d for d in _ALL}
_BY_NAME.update({"float": float32, "double": float64, "half": float16, "long": int64,
                 "int": int32, "short": int16, "cfloat": complex64, "cdouble": complex128})
_default = [float32]
_bf16_loaded = [False]


class _LazyDtype(dtype):
    """A dtype whose NumPy type comes from a module imported when ``np`` is first read:
    bfloat16, from ml_dtypes (an optional extra), which takes ~0.8 s of CPU to import, more than
    the rest of Cadenza. A program that only names ``torch.bfloat16`` (a disabled autocast
    region, a dtype check) never pays it; making a bfloat16 tensor reads ``np`` and loads it."""

    __slots__ = ("_np", "_load")

    def __init__(self, name: str, category: int, itemsize: int, load):
        self.name = name
        self.category = category
        self.itemsize = itemsize
        self.is_floating_point = category == _FLOAT
        self.is_signed = True
        self.is_complex = category == _COMPLEX
        self._np = None
        self._load = load

    @property
    def np(self):
        if self._np is None:
            self._np = self._load(self)
        return self._np


def _ml_dtypes():
    """The ml_dtypes module (bfloat16, float8 and their finfo)."""
    import ml_dtypes  # optional extra (checked present by the loaders); slow to import
    return ml_dtypes


def _bfloat16_np(d):
    """ml_dtypes' bfloat16 as the NumPy dtype of ``d``, registered with the other dtypes."""
    np_dtype = np.dtype(_ml_dtypes().bfloat16)
    _ALL.insert(3, d)
    _BY_NP[np_dtype] = d
    return np_dtype


# float8 storage dtypes (ml_dtypes' types, loaded as bfloat16 is): casts to and from the other
# dtypes, creation, indexing and joins; torch refuses their promotion with any other dtype.
# float8_e4m3fn has no infinity: torch saturates values beyond its range to +-448
_FLOAT8 = ("float8_e4m3fn", "float8_e5m2")
_FLOAT8_MAX = {"float8_e4m3fn": 448.0}


def _float8_np(d):
    np_dtype = np.dtype(getattr(_ml_dtypes(), d.name))
    _ALL.append(d)
    _BY_NP[np_dtype] = d
    return np_dtype


def _load_float8(name):
    """Create the float8 dtype ``name`` on first use (None without ml_dtypes)."""
    d = globals().get(name)
    if d is None and name not in globals():
        if _importlib_util.find_spec("ml_dtypes") is None:
            globals()[name] = None
        else:
            d = globals()[name] = _LazyDtype(name, _FLOAT, 1, _float8_np)
            _BY_NAME[name] = d
    return d


def saturate_float8(src, out, d):
    """``out`` (``src`` cast to the float8 dtype ``d``) with torch's saturation: a finite value
    beyond float8_e4m3fn's range, or an infinity, gives +-448 (ml_dtypes gives NaN)."""
    top = _FLOAT8_MAX.get(d.name)
    if top is None or src.dtype.kind not in "fiuV" or not out.size:
        return out
    s = src.astype(np.float64) if src.dtype.kind != "f" else src
    with np.errstate(invalid="ignore"):
        over = np.abs(s) > top      # infinities too (float8_e4m3fn has none)
    if over.any():
        out = out.copy() if not out.flags.writeable else out
        out[over] = np.where(s[over] > 0, top, -top).astype(out.dtype)
    return out


def _load_bfloat16():
    """Create ``bfloat16`` on first use, without importing ml_dtypes until its NumPy type is
    needed (``_LazyDtype``): ``import cadenza`` does not load it. None without ml_dtypes."""
    if not _bf16_loaded[0]:
        _bf16_loaded[0] = True
        if _importlib_util.find_spec("ml_dtypes") is None:
            globals()["bfloat16"] = None   # optional extra: bfloat16 tensors need ml_dtypes
        else:
            d = _LazyDtype("bfloat16", _FLOAT, 2, _bfloat16_np)
            globals()["bfloat16"] = d
            _BY_NAME[d.name] = d
    return globals()["bfloat16"]


def _bfloat16_loaded():
    """bfloat16 with its NumPy type loaded (registered in _ALL and _BY_NP), or None."""
    d = _load_bfloat16()
    if d is not None:
        d.np   # noqa: B018  (loads ml_dtypes)
    return d


def has_bfloat16():
    """Whether bfloat16 is available, without importing ml_dtypes."""
    if _bf16_loaded[0]:
        return _load_bfloat16() is not None
    return _importlib_util.find_spec("ml_dtypes") is not None


def _float8_loaded():
    for name in _FLOAT8:
        d = _load_float8(name)
        if d is not None:
            d.np   # noqa: B018  (loads ml_dtypes)


def __getattr__(name):
    if name == "bfloat16":
        return _load_bfloat16()
    if name in _FLOAT8:
        return _load_float8(name)
    if name == "ALL":  # every supported dtype, bfloat16 and float8 included where ml_dtypes is
        _bfloat16_loaded()
        _float8_loaded()
        return _ALL
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _from_name(name: str) -> dtype:
    if name == "bfloat16":
        return _load_bfloat16()
    if name in _FLOAT8:
        return _load_float8(name)
    return _BY_NAME[name]


# torch's names of its scalar types, as its error messages print them ("Float", "Long" ...)
_SCALAR_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half",
                 "bfloat16": "BFloat16", "int64": "Long", "int32": "Int", "int16": "Short",
                 "int8": "Char", "uint8": "Byte", "bool": "Bool", "complex64": "ComplexFloat",
                 "complex128": "ComplexDouble", "uint16": "UInt16", "uint32": "UInt32",
                 "uint64": "UInt64", "float8_e4m3fn": "Float8_e4m3fn",
                 "float8_e5m2": "Float8_e5m2"}


def scalar_type_name(d: dtype) -> str:
    """torch's ScalarType name of ``d`` ("Float" for float32), for error messages."""
    return _SCALAR_NAMES.get(d.name, d.name)


def from_numpy_dtype(np_dtype) -> dtype:
    """The Cadenza dtype of a NumPy dtype; float64 NumPy data stays float64 (as torch does)."""
    d = _BY_NP.get(np_dtype)
    if d is not None:
        return d
    d = _BY_NP.get(np.dtype(np_dtype))
    if d is None and _bfloat16_loaded() is not None:
        # an ml_dtypes array: its dtype is registered once bfloat16's NumPy type is loaded
        d = _BY_NP.get(np.dtype(np_dtype))
        if d is None:
            _float8_loaded()
            d = _BY_NP.get(np.dtype(np_dtype))
    if d is None:
        raise DTypeError(f"cadenza: unsupported NumPy dtype {np.dtype(np_dtype)}; "
                         f"supported: {', '.join(x.name for x in _ALL)}")
    return d


def to_dtype(d) -> dtype:
    """Accept a cadenza dtype, a NumPy dtype/type, a Python type or a name."""
    if isinstance(d, dtype):
        return d
    if d is None:
        return _default[0]
    if d is _pyfloat:
        return _default[0]
    if d is _pyint:
        return int64
    if d is _pybool:
        return bool
    if d is _pycomplex:
        return _default[0].to_complex()
    if isinstance(d, str):
        if d.startswith(("torch.", "cadenza.")):
            d = d.split(".", 1)[1]
        if d in _BY_NAME:
            return _BY_NAME[d]
        if d == "bfloat16" and _load_bfloat16() is not None:
            return _BY_NAME[d]
        if d in _FLOAT8 and _load_float8(d) is not None:
            return _BY_NAME[d]
    try:
        return from_numpy_dtype(np.dtype(d))
    except TypeError:
        pass
    raise DTypeError(f"cadenza: expected a dtype, got {d!r}")


import builtins as _b  # noqa: E402  (the names float/int/bool above shadow the builtins)

_pyfloat, _pyint, _pybool, _pycomplex = _b.float, _b.int, _b.bool, _b.complex


def get_default_dtype() -> dtype:
    return _default[0]


def set_default_dtype(d) -> None:
    d = to_dtype(d)
    if not d.is_floating_point:
        raise DTypeError(f"set_default_dtype: expected a floating point dtype, got {d}")
    _default[0] = d


def promote_types(a: dtype, b: dtype) -> dtype:
    """torch.promote_types: the smallest dtype both a and b convert to safely."""
    if a is b:
        return a
    if a.name in _FLOAT8 or b.name in _FLOAT8:
        raise RuntimeError(f"Promotion for Float8 Types is not supported, attempted to promote "
                           f"{scalar_type_name(a)} and {scalar_type_name(b)}")
    if a.name in _BARE_UNSIGNED or b.name in _BARE_UNSIGNED:
        _check_bare_unsigned(a, b)
        return a if a.category == _FLOAT else b
    if a.category != b.category:
        hi, lo = (a, b) if a.category > b.category else (b, a)
        if hi.category == _COMPLEX and lo.category == _FLOAT:  # float64 + complex64: complex128
            return promote_types(lo, hi.to_real()).to_complex()
        return hi
    if a.category == _FLOAT and {a.name, b.name} == {"float16", "bfloat16"}:
        return float32
    return _BY_NP[np.promote_types(a.np, b.np)]


def _check_bare_unsigned(a: dtype, b: dtype) -> None:
    """uint16/32/64 promote only with (real) floating dtypes, to the float, as in torch."""
    if _FLOAT not in (a.category, b.category) or _COMPLEX in (a.category, b.category):
        raise RuntimeError(f"Promotion for uint16, uint32, uint64 types is not supported, "
                           f"attempted to promote {scalar_type_name(a)} and "
                           f"{scalar_type_name(b)}")


def _scalar_category(x) -> int:
    t = type(x)
    if t is _pybool or t is np.bool_:
        return _BOOL
    if t is _pyint or isinstance(x, np.integer):
        return _INT
    if t is _pycomplex or isinstance(x, np.complexfloating):
        return _COMPLEX
    return _FLOAT


def _category_default(cat: int) -> dtype:
    return (bool, int64, _default[0], _default[0].to_complex())[cat]


def _raise_category(out: dtype, other: dtype) -> dtype:
    """The result when ``other`` (a zero-dim tensor's or a scalar's dtype) is in a higher
    category than ``out``: a complex one keeps a floating ``out``'s precision (float64 with a
    complex64 scalar tensor is complex128, as torch's combine_categories)."""
    if other.category == _COMPLEX and out.category == _FLOAT:
        return out.to_complex()
    return other


def result_type(*operands) -> dtype:
    """torch.result_type over tensors and Python scalars (PyTorch's three priority classes).
    A tensor is any operand whose ``dtype`` is a Cadenza dtype (this layer is below Tensor)."""
    dim_dt = zero_dt = scalar_cat = None
    for x in operands:
        d = getattr(x, "dtype", None)
        if isinstance(d, dtype):
            if x.ndim:
                dim_dt = d if dim_dt is None else promote_types(dim_dt, d)
            else:
                zero_dt = d if zero_dt is None else promote_types(zero_dt, d)
        else:
            c = _scalar_category(x)
            scalar_cat = c if scalar_cat is None else max(scalar_cat, c)
    out = dim_dt
    if zero_dt is not None:
        if out is None:
            out = zero_dt
        elif zero_dt.category > out.category:
            out = _raise_category(out, zero_dt)
    if scalar_cat is not None:
        if out is None:
            out = _category_default(scalar_cat)
        elif scalar_cat > out.category:
            out = _raise_category(out, _category_default(scalar_cat))
    return out


class finfo:
    """Machine limits of a floating point dtype, ``torch.finfo``: ``bits``, ``eps``, ``max``,
    ``min``, ``tiny`` (= ``smallest_normal``), ``resolution`` and ``dtype`` (its name, a
    string, as torch gives it). A complex dtype gives its parts' limits; no argument gives the
    default dtype's."""

    __slots__ = ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype")

    def __init__(self, type=None):  # noqa: A002  (torch's parameter name)
        d = _default[0] if type is None else to_dtype(type)
        if d.category == _COMPLEX:
            d = d.to_real()
        if d.category != _FLOAT:
            raise TypeError("torch.finfo() requires a floating point input type. Use "
                            "torch.iinfo to handle 'torch.finfo'")
        if d.name == "bfloat16" or d.name in _FLOAT8:
            info = _ml_dtypes().finfo(d.np)   # these dtypes exist only when ml_dtypes loads
        else:
            info = np.finfo(d.np)
        self.bits = d.bits
        self.eps = _pyfloat(info.eps)
        self.max = _pyfloat(info.max)
        self.min = _pyfloat(info.min)
        self.tiny = self.smallest_normal = _pyfloat(info.smallest_normal)
        self.resolution = 10.0 ** -_pyint(info.precision)   # torch's exact power of ten
        if d.itemsize == 1:   # float8: torch's 10^-floor(-log10(eps)) (ml_dtypes' precision
            self.resolution = 10.0 ** -_pyint(np.floor(-np.log10(_pyfloat(info.eps))))  # is 1)
        self.dtype = d.name

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
                f"tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """Limits of an integer dtype, ``torch.iinfo``: ``bits``, ``max``, ``min`` and ``dtype``
    (its name). bool is refused, as torch does."""

    __slots__ = ("bits", "max", "min", "dtype")

    def __init__(self, type):  # noqa: A002  (torch's parameter name)
        d = to_dtype(type)
        if d is bool:
            raise TypeError("torch.bool is not supported by torch.iinfo")
        if d.category != _INT:
            raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo "
                            "to handle 'torch.iinfo'")
        info = np.iinfo(d.np)
        self.bits = d.bits
        self.max = _pyint(info.max)
        self.min = _pyint(info.min)
        self.dtype = d.name

    def __repr__(self) -> str:
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"

"""``out=``, in one place, as PyTorch's native functions take it: the result computed as usual,
then written into ``out`` (a tensor, or a sequence of as many tensors as the result has) and
``out`` returned.

- shape: an ``out`` with no elements is resized to the result's shape; one with elements and
  another shape is resized with torch's deprecation warning;
- dtype, by the op's kind (``POLICY``): ``"cast"`` (elementwise ops, most reductions, joins: the
  result is cast to ``out``'s dtype where torch's ``canCast`` allows, no float into an integer
  ``out`` ...), ``"same"`` (GEMMs, sorts, selections, ops returning several tensors: ``out``'s
  dtype must be the result's), ``"dtype"`` (``sum``/``prod``/``cumsum``/``cumprod``: computed
  in ``out``'s dtype, as their ``dtype=`` argument), ``"clamp"`` ("cast" when every bound given
  is a tensor, else "same") or ``"any"`` (cast to any dtype: ``chain_matmul``'s own);
- autograd: refused when grad mode is on and an input (or ``out``) requires grad, with torch's
  message.

``writes_out`` wraps one function; ``out_namespace`` gives ``out=`` to the top-level functions
torch gives it to (``OUT_NAMES``)."""
from __future__ import annotations

import functools
import inspect
import warnings

from . import dtypes as _dt
from ._tensor_base import TensorBase as Tensor
from ._dispatch import state as _gstate
from .autograd.grad_mode import no_grad
from .backend import xp_of
from .errors import DTypeError

__all__ = ["writes_out", "out_namespace", "OUT_NAMES"]

# the C++ names of torch's scalar types, as its "expected out tensor" errors print them
_CPP_NAME = {"float32": "float", "float64": "double", "float16": "c10::Half",
             "bfloat16": "c10::BFloat16", "int64": "long int", "int32": "int",
             "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
             "bool": "bool", "complex64": "c10::complex<float>",
             "complex128": "c10::complex<double>"}

# The top-level functions that take out= in torch 2.13 (asked of torch by calling each one),
# where Cadenza has them, and the dtype rule of each (default "cast").
_SAME = """abs absolute addbmm addmm addmv alias_copy all amax amin aminmax any argmax argmin
baddbmm bitwise_not bmm bucketize ceil complex conj_physical cross cummax cummin float_power isin
isneginf isposinf signbit
detach_copy diag diagonal_copy dot fix floor frac frexp frobenius_norm gather geqrf hardshrink
heaviside histc histogram index_select inner inverse kthvalue lerp log_softmax logcumsumexp
lu_solve lu_unpack masked_select matmul median mm mode msort mv nan_to_num nanmedian nanquantile
narrow_copy neg negative nonzero norm nuclear_norm orgqr ormqr polar qr quantile renorm round
searchsorted
sgn sign slice_copy slice_scatter slogdet softmax sort spmm split_copy squeeze_copy svd t_copy
take take_along_dim tensordot topk triangular_solve tril triu trunc unbind_copy unsqueeze_copy
vdot where"""
_DTYPE = "cumprod cumsum prod sum"
_CLAMP = "clamp clamp_max clamp_min clip"
_CAST = """acos acosh add addcdiv addcmul addr all angle any arccos arccosh arcsin arcsinh arctan
arctan2 arctanh asin asinh atan atan2 atanh bitwise_and bitwise_left_shift
bitwise_or bitwise_right_shift bitwise_xor cat cholesky cholesky_inverse
cholesky_solve column_stack concat concatenate copysign cos cosh deg2rad diff digamma div
divide dstack eq erf erfc erfinv exp exp2 expm1 floor_divide fmax fmin fmod gcd ge
ger greater greater_equal gt hstack hypot i0 igamma igammac kron lcm
ldexp le less less_equal lgamma log log10 log1p log2 logaddexp logaddexp2 logical_and
logical_not logical_or logical_xor logit logsumexp lt lu matrix_power max maximum mean min
minimum mul multiply mvlgamma nanmean nansum ne nextafter not_equal outer polygamma pow
rad2deg reciprocal remainder row_stack rsqrt sigmoid sin sinc sinh sqrt square stack std
sub subtract tan tanh true_divide var vstack xlogy"""
POLICY = {**dict.fromkeys(_CAST.split(), "cast"), **dict.fromkeys(_SAME.split(), "same"),
          **dict.fromkeys(_DTYPE.split(), "dtype"), **dict.fromkeys(_CLAMP.split(), "clamp")}
OUT_NAMES = frozenset(POLICY)


def _can_cast(frm, to) -> bool:
    """torch's canCast for out= results: no complex into a real dtype, no float into an
    integer one, nothing but bool into bool."""
    if frm.is_complex and not to.is_complex:
        return False
    if frm.is_floating_point and not (to.is_floating_point or to.is_complex):
        return False
    return frm is to or to is not _dt.bool


def _write_out(out, result, name: str):
    """``result`` written into ``out`` (resized to its shape, as torch does), which is
    returned."""
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    shape = tuple(result.shape)
    with no_grad():
        if tuple(out.shape) != shape:
            if out._data.size:
                warnings.warn(
                    f"{name}(): an output with one or more elements was resized since it had "
                    f"shape {list(out.shape)}, which does not match the required output shape "
                    f"{list(shape)}. This behavior is deprecated, and in a future PyTorch "
                    f"release outputs will not be resized unless they have zero elements. You "
                    f"can explicitly reuse an out tensor t by resizing it, inplace, to zero "
                    f"elements with t.resize_(0).", UserWarning, stacklevel=4)
            out._data = xp_of(out._data).empty(shape, dtype=out._data.dtype)
        out.copy_(result)
    return out


def _check_dtype(policy: str, r, o, name: str) -> None:
    if policy == "any":
        return
    if policy == "same" and r.dtype is not o.dtype:
        raise DTypeError(f"{name}(): expected out tensor to have dtype "
                         f"{_CPP_NAME.get(r.dtype.name, r.dtype.name)}, but got "
                         f"{_CPP_NAME.get(o.dtype.name, o.dtype.name)} instead")
    if not _can_cast(r.dtype, o.dtype):
        raise DTypeError(f"{name}(): result type {_dt.scalar_type_name(r.dtype)} "
                         f"can't be cast to the desired output type "
                         f"{_dt.scalar_type_name(o.dtype)}")


def _requires_grad_error(name: str):
    return RuntimeError(f"{name}(): functions with out=... arguments don't support automatic "
                        f"differentiation, but one of the arguments requires grad.")


def writes_out(fn=None, *, policy: str = "cast", name: str | None = None):
    """``out=`` for a function that computes its result (a tensor, or a tuple of them); see
    the module's docstring for ``policy``. Usable bare (``@writes_out``) or with arguments."""
    if fn is None:
        return functools.partial(writes_out, policy=policy, name=name)
    name = name or fn.__name__
    takes_dtype = policy == "dtype" and _has_parameter(fn, "dtype")

    @functools.wraps(fn)
    def wrapper(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        if isinstance(out, Tensor) and out.requires_grad and _gstate.grad_enabled:
            raise _requires_grad_error(name)
        if takes_dtype and isinstance(out, Tensor) and kwargs.get("dtype") is None:
            kwargs["dtype"] = out.dtype
        result = fn(*args, **kwargs)
        rule = policy
        if policy == "clamp":   # tensor bounds: an elementwise op; a number bound: not
            bounds = [b for b in (*args[1:], kwargs.get("min"), kwargs.get("max"))
                      if b is not None]
            rule = "cast" if all(isinstance(b, Tensor) for b in bounds) else "same"
        many = isinstance(result, tuple)
        outs, results = (out, result) if many else ((out,), (result,))
        if not isinstance(outs, (tuple, list)) or len(outs) != len(results):
            raise TypeError(f"{name}(): argument 'out' must be a tuple of {len(results)} "
                            f"Tensors" if many else
                            f"{name}(): argument 'out' must be Tensor, not "
                            f"{type(out).__name__}")
        for o, r in zip(outs, results):
            if not isinstance(o, Tensor):
                raise TypeError(f"{name}(): argument 'out' must be Tensor, not "
                                f"{type(o).__name__}")
            if (r.requires_grad or o.requires_grad) and _gstate.grad_enabled:
                raise _requires_grad_error(name)
            _check_dtype("same" if many else rule, r, o, name)
        written = tuple(_write_out(o, r, name) for o, r in zip(outs, results))
        if not many:
            return written[0]
        return type(result)(*written) if hasattr(result, "_fields") else written
    wrapper.__writes_out__ = True
    return wrapper


def _has_parameter(fn, name: str) -> bool:
    try:
        return name in inspect.signature(inspect.unwrap(fn)).parameters
    except (TypeError, ValueError):
        return False


# one wrapper per function, whichever namespace asks (torch.special.gammaln is torch.lgamma)
_WRAPPERS: dict = {}


def out_namespace(namespace: dict, names=None) -> None:
    """Give ``out=`` to the functions ``names`` (default ``OUT_NAMES``) of a module namespace,
    in place, where they do not take it already (aliases such as ``concat = cat``, and one
    function in two namespaces, stay one object)."""
    for name in sorted(OUT_NAMES if names is None else names):
        fn = namespace.get(name)
        if fn is None or not callable(fn) or getattr(fn, "__writes_out__", False) \
                or _has_parameter(fn, "out"):
            continue
        if id(fn) not in _WRAPPERS:
            _WRAPPERS[id(fn)] = (fn, writes_out(fn, policy=POLICY.get(name, "cast"),
                                                name=name))
        namespace[name] = _WRAPPERS[id(fn)][1]

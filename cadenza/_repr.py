"""PyTorch-style tensor repr: ``tensor([[1., 2.], [3., 4.]], requires_grad=True)``."""
from __future__ import annotations

import numpy as np

from . import dtypes as _dt

_opts = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    if profile == "default":
        _opts.update(precision=4, threshold=1000, edgeitems=3, linewidth=80)
    elif profile == "short":
        _opts.update(precision=2, threshold=1000, edgeitems=2, linewidth=80)
    elif profile == "full":
        _opts.update(precision=4, threshold=float("inf"), edgeitems=3, linewidth=80)
    for k, v in (("precision", precision), ("threshold", threshold),
                 ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if v is not None:
            _opts[k] = v
    _opts["sci_mode"] = sci_mode


def _format_float(a):
    finite = a[np.isfinite(a)]
    p = _opts["precision"]
    if finite.size and np.all(finite == np.round(finite)) and np.abs(finite).max() < 1e8:
        return lambda v: (f"{v:.0f}." if np.isfinite(v) else str(v).replace("inf", "inf"))
    amax = np.abs(finite).max() if finite.size else 0
    amin = np.abs(finite[finite != 0]).min() if np.any(finite != 0) else 0
    sci = _opts["sci_mode"]
    if sci is None:  # torch's rule (torch/_tensor_str.py)
        sci = bool(amax > 1e8 or (amin and amin < 1e-4) or (amin and amax / amin > 1000))
    if sci:
        return lambda v: f"{v:.{p}e}" if np.isfinite(v) else str(v)
    return lambda v: f"{v:.{p}f}" if np.isfinite(v) else str(v)


def _padded(fmt, a):
    """Right-align every element to the widest one, as torch does."""
    width = max(len(fmt(v)) for v in a.ravel())
    return lambda v: fmt(v).rjust(width)


def _format_complex(a):
    """torch's complex format: the real parts right-aligned with their own format, then the
    imaginary parts with theirs (unpadded) and ``j``: ``1.5000+2.j``."""
    re = _padded(_format_float(a.real), a.real)
    im = _format_float(a.imag)

    def fmt(v):
        s = im(v.imag) + "j"
        return re(v.real) + (s if s[0] in "+-" else "+" + s)
    return fmt


def tensor_repr(t, prefix="tensor(") -> str:
    a = t._host()
    dt = t.dtype
    if a.dtype.name == "bfloat16" or a.dtype == np.float16:
        a = a.astype(np.float32)
    indent = " " * len(prefix)
    if a.size == 0:
        body = "[]"
    else:
        kw = {"separator": ", ", "prefix": indent, "max_line_width": _opts["linewidth"],
              "threshold": _opts["threshold"] if _opts["threshold"] != float("inf") else
              np.iinfo(np.int64).max, "edgeitems": _opts["edgeitems"]}
        if a.dtype.kind == "f":
            kw["formatter"] = {"float_kind": _padded(_format_float(a), a)}
        elif a.dtype.kind == "c":
            kw["formatter"] = {"complex_kind": _format_complex(a)}
        elif a.dtype.kind == "b":
            kw["formatter"] = {"bool": _padded(lambda v: "True" if v else "False", a)}
        body = np.array2string(a, **kw)
    extras = []
    default_for_kind = _dt.get_default_dtype() if dt.is_floating_point else (
        _dt.int64 if dt.category == 1 else _dt.bool if dt.category == 0 else
        _dt.get_default_dtype().to_complex())
    if t.device.type != "cpu":
        extras.append(f"device='{t.device}'")
    if a.size == 0 and t.ndim != 1:
        extras.append(f"size={tuple(t.shape)}")
    if dt is not (default_for_kind if a.size else _dt.get_default_dtype()):
        extras.append(f"dtype={dt}")  # torch names every non-default dtype of an empty tensor
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    tail = "".join(", " + e for e in extras)
    return f"{prefix}{body}{tail})"

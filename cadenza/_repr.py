"""PyTorch-style tensor repr: ``tensor([[1., 2.], [3., 4.]], requires_grad=True)``."""
from __future__ import annotations

import math

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


class _Formatter:
    """torch's _Formatter: one number format and width for every element. Floats: integers
    print as ``3.``, scientific notation when the nonzero finite magnitudes span more than
    1000x or leave [1e-4, 1e8] (or as set_printoptions(sci_mode=) says); the width counts only
    the nonzero finite values, as torch's does."""

    def __init__(self, a):
        self.floating = a.dtype.kind == "f"
        self.int_mode, self.sci, self.width = True, False, 1
        if not self.floating:
            for v in a.ravel().tolist():
                self.width = max(self.width, len(str(v)))
            return
        vals = a[np.isfinite(a) & (a != 0)].astype(np.float64)
        if vals.size == 0:
            return
        mags = np.abs(vals)
        lo, hi = mags.min(), mags.max()
        self.int_mode = bool(np.all(vals == np.ceil(vals)))
        sci = _opts["sci_mode"]
        self.sci = bool(hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4) if sci is None else sci
        self.width = max(len(self._text(v)) for v in vals.tolist())

    def _text(self, v):
        p = _opts["precision"]
        if self.sci:
            return f"{v:.{p}e}"
        if self.int_mode:
            return f"{v:.0f}" + ("" if math.isinf(v) or math.isnan(v) else ".")
        return f"{v:.{p}f}"

    def format(self, v):
        s = self._text(v) if self.floating else str(v)
        return " " * (self.width - len(s)) + s


def _summarized(a):
    """The elements torch's formatter looks at when a tensor is summarized (the edge items)."""
    e = _opts["edgeitems"]
    if a.ndim == 0:
        return a
    if a.ndim == 1:
        return np.concatenate([a[:e], a[-e:]]) if a.shape[0] > 2 * e else a
    if not e:
        return a[tuple(slice(0, 0) for _ in a.shape)]
    rows = list(range(e)) + list(range(a.shape[0] - e, a.shape[0])) \
        if a.shape[0] > 2 * e else range(a.shape[0])
    return np.stack([_summarized(a[i]) for i in rows])


def _element(v, f1, f2):
    if f2 is None:
        return f1.format(v)
    im = (f2.format(v.imag) + "j").lstrip()
    return f1.format(v.real) + (im if im[0] in "+-" else "+" + im)


def _vector(a, indent, summarize, f1, f2):
    width = f1.width + 2 + (f2.width + 1 if f2 is not None else 0)
    per_line = max(1, math.floor((_opts["linewidth"] - indent) / width))
    e = _opts["edgeitems"]
    vals = a.tolist()
    if summarize and not e:
        data = ["..."]
    elif summarize and len(vals) > 2 * e:
        data = ([_element(v, f1, f2) for v in vals[:e]] + [" ..."] +
                [_element(v, f1, f2) for v in vals[-e:]])
    else:
        data = [_element(v, f1, f2) for v in vals]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(a, indent, summarize, f1, f2):
    """torch's _tensor_str_with_formatter."""
    if a.ndim == 0:
        return _element(a.item(), f1, f2)
    if a.ndim == 1:
        return _vector(a, indent, summarize, f1, f2)
    e = _opts["edgeitems"]
    if summarize and a.shape[0] > 2 * e:
        slices = ([_nested(a[i], indent + 1, summarize, f1, f2) for i in range(e)] + ["..."] +
                  [_nested(a[i], indent + 1, summarize, f1, f2)
                   for i in range(a.shape[0] - e, a.shape[0])])
    else:
        slices = [_nested(a[i], indent + 1, summarize, f1, f2) for i in range(a.shape[0])]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def _body(a, indent):
    """torch's _tensor_str: the bracketed elements of a host array."""
    if a.size == 0:
        return "[]"
    summarize = a.size > _opts["threshold"]

    def formatter(x):
        return _Formatter(_summarized(x) if summarize else x)
    if a.dtype.kind == "c":
        return _nested(a, indent, summarize, formatter(a.real), formatter(a.imag))
    return _nested(a, indent, summarize, formatter(a), None)


def _add_suffixes(text, suffixes, indent):
    """``, dtype=...`` after the elements, on a new line where the last one would pass the
    line width (torch's _add_suffixes)."""
    out = [text]
    last = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last + len(suffix) + 2 > _opts["linewidth"]:
            out.append(",\n" + " " * indent + suffix)
            last = indent + len(suffix)
        else:
            out.append(", " + suffix)
            last += len(suffix) + 2
    out.append(")")
    return "".join(out)


def tensor_repr(t, prefix="tensor(") -> str:
    if t.is_meta:   # no values to print: torch's "tensor(..., device='meta', size=(2, 3))"
        return _meta_repr(t, prefix)
    a = t._host()
    dt = t.dtype
    if a.dtype.kind == "V" or a.dtype == np.float16:   # bfloat16, float8 (ml_dtypes)
        a = a.astype(np.float32)
    body = _body(a, len(prefix))
    extras = []
    default_for_kind = _kind_default(dt)
    if t.device.type != "cpu":
        extras.append(f"device='{t.device}'")
    if a.size == 0 and t.ndim != 1:
        extras.append(f"size={tuple(t.shape)}")
    if dt is not (default_for_kind if a.size else _dt.get_default_dtype()):
        extras.append(f"dtype={dt}")  # torch names every non-default dtype of an empty tensor
    _grad_extras(t, extras)
    return _add_suffixes(prefix + body, extras, len(prefix))


def _kind_default(dt):
    """The dtype torch's repr leaves unnamed for values of ``dt``'s kind."""
    return _dt.get_default_dtype() if dt.is_floating_point else (
        _dt.int64 if dt.category == 1 else _dt.bool if dt.category == 0 else
        _dt.get_default_dtype().to_complex())


def _grad_extras(t, extras):
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")


def _meta_repr(t, prefix):
    dt = t.dtype
    extras = [f"device='{t.device}'", f"size={tuple(t.shape)}"]
    if dt is not _dt.get_default_dtype():
        extras.append(f"dtype={dt}")
    _grad_extras(t, extras)
    return _add_suffixes(prefix + "...", extras, len(prefix))

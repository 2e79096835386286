"""Conversion and comparison helpers shared by the op tests (Cadenza vs torch)."""
from __future__ import annotations

import numpy as np
import torch

import cadenza
from opinfo_base import DT, Const

CD_DT = {n: getattr(cadenza, n) for n in ("float32", "float64", "float16", "int64", "int32",
                                          "int16", "int8", "uint8", "bool")}
TH_DT = {n: getattr(torch, n) for n in CD_DT}
if cadenza.bfloat16 is not None:
    CD_DT["bfloat16"] = cadenza.bfloat16
    TH_DT["bfloat16"] = torch.bfloat16


def convert(x, lib, grad=False, leaves=None):
    """Turn a sample argument into the library's form (arrays -> tensors)."""
    if isinstance(x, np.ndarray):
        if isinstance(x, Const):
            x, grad = np.asarray(x), False
        if lib == "cd":
            t = cadenza.tensor(x.copy())
        elif x.dtype.name == "bfloat16":
            t = torch.tensor(x.astype(np.float32)).to(torch.bfloat16)
        else:
            t = torch.tensor(x.copy())
        if grad and x.dtype.kind == "f":
            t.requires_grad_(True)
            if leaves is not None:
                leaves.append(t)
        return t
    if isinstance(x, DT):
        return (CD_DT if lib == "cd" else TH_DT)[x.name]
    if isinstance(x, list):
        return [convert(v, lib, grad, leaves) for v in x]
    if isinstance(x, tuple):
        return tuple(convert(v, lib, grad, leaves) for v in x)
    return x


def convert_sample(s, lib, grad=False):
    """(args, kwargs, leaves requiring grad) of a sample in the library's form."""
    leaves = []
    args = convert(s.args, lib, grad, leaves)
    kwargs = {k: convert(v, lib, grad, leaves) for k, v in s.kwargs.items()}
    return args, kwargs, leaves


def dtype_name(d):
    return str(d).split(".")[-1]


def flat_outputs(out):
    """A list of leaves of a (possibly nested) op result."""
    if isinstance(out, (tuple, list)):
        r = []
        for o in out:
            r.extend(flat_outputs(o))
        return r
    return [out]


def to_np(t):
    if isinstance(t, torch.Tensor):
        t = t.detach()
        if t.dtype == torch.bfloat16:
            t = t.float()
        return t.numpy()
    a = np.asarray(t.detach()._data)
    if a.dtype.name == "bfloat16":
        a = a.astype(np.float32)
    return a


def assert_same(cd, th, atol=1e-5, rtol=1e-5, what="", check_dtype=True):
    """Values, dtype and shape of a Cadenza result equal torch's."""
    cds, ths = flat_outputs(cd), flat_outputs(th)
    assert len(cds) == len(ths), f"{what}: {len(cds)} outputs vs torch {len(ths)}"
    for i, (c, t) in enumerate(zip(cds, ths)):
        tag = f"{what} output {i}"
        if isinstance(t, torch.Tensor):
            assert isinstance(c, cadenza.Tensor), f"{tag}: expected a Tensor, got {type(c)}"
            if check_dtype:
                assert dtype_name(c.dtype) == dtype_name(t.dtype), \
                    f"{tag}: dtype {c.dtype} vs torch {t.dtype}"
            assert tuple(c.shape) == tuple(t.shape), f"{tag}: shape {tuple(c.shape)} vs " \
                                                     f"torch {tuple(t.shape)}"
            a, b = to_np(c), to_np(t)
            if a.dtype.kind == "f" or b.dtype.kind == "f":
                np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64),
                                           atol=atol, rtol=rtol, equal_nan=True, err_msg=tag)
            else:
                np.testing.assert_array_equal(a, b, err_msg=tag)
        elif isinstance(t, (bool, int, float)):
            assert type(c) is type(t) or (isinstance(c, (int, float)) and
                                          not isinstance(t, bool)), \
                f"{tag}: {type(c).__name__} vs torch {type(t).__name__}"
            if isinstance(t, float):
                np.testing.assert_allclose(c, t, atol=atol, rtol=rtol, err_msg=tag)
            else:
                assert c == t, f"{tag}: {c} vs torch {t}"
        else:
            assert tuple(c) == tuple(t), f"{tag}: {c} vs torch {t}"


def float_outputs(out):
    return [o for o in flat_outputs(out)
            if isinstance(o, (cadenza.Tensor, torch.Tensor)) and o.is_floating_point()
            and o.requires_grad]

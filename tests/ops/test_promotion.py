"""Type promotion vs torch: every pair of dtypes, tensors of any dim and zero-dim tensors, and
Python scalars (bool, int, float), checked with result_type and with actual op results."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import cadenza
from ops_helpers import CD_DT, TH_DT, dtype_name

NAMES = [n for n in ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16",
                     "float32", "float64") if n in CD_DT]
SCALARS = [True, 3, 2.5]


def _tensor(lib, name, zero_dim):
    shape = () if zero_dim else (2,)
    a = np.ones(shape)
    if lib == "cd":
        return cadenza.tensor(a, dtype=CD_DT[name])
    return torch.tensor(a, dtype=TH_DT[name])


def test_promote_types_all_pairs():
    bad = []
    for a, b in itertools.product(NAMES, NAMES):
        c = cadenza.promote_types(CD_DT[a], CD_DT[b])
        t = torch.promote_types(TH_DT[a], TH_DT[b])
        if dtype_name(c) != dtype_name(t):
            bad.append((a, b, c, t))
    assert not bad


@pytest.mark.parametrize("zero_a,zero_b", [(False, False), (False, True), (True, False),
                                           (True, True)])
def test_result_type_tensor_pairs(zero_a, zero_b):
    bad = []
    for a, b in itertools.product(NAMES, NAMES):
        c = cadenza.result_type(_tensor("cd", a, zero_a), _tensor("cd", b, zero_b))
        t = torch.result_type(_tensor("th", a, zero_a), _tensor("th", b, zero_b))
        if dtype_name(c) != dtype_name(t):
            bad.append((a, b, dtype_name(c), dtype_name(t)))
    assert not bad


@pytest.mark.parametrize("zero_dim", [False, True])
def test_result_type_tensor_scalar(zero_dim):
    bad = []
    for a, s in itertools.product(NAMES, SCALARS):
        for order in (0, 1):
            ca, ta = _tensor("cd", a, zero_dim), _tensor("th", a, zero_dim)
            args_c, args_t = ((ca, s), (ta, s)) if order == 0 else ((s, ca), (s, ta))
            c = cadenza.result_type(*args_c)
            t = torch.result_type(*args_t)
            if dtype_name(c) != dtype_name(t):
                bad.append((a, s, order, dtype_name(c), dtype_name(t)))
    assert not bad


OPS = [("add", lambda x, y: x + y), ("mul", lambda x, y: x * y), ("sub", lambda x, y: x - y),
       ("div", lambda x, y: x / y), ("eq", lambda x, y: x == y),
       ("maximum", lambda x, y: x.maximum(y) if hasattr(x, "maximum") and
        not isinstance(y, (int, float)) else x + 0 * y)]


def _run(fn, x, y):
    try:
        return fn(x, y), None
    except Exception as e:  # noqa: BLE001
        return None, e


@pytest.mark.parametrize("name,fn", OPS, ids=[o[0] for o in OPS])
@pytest.mark.parametrize("zero_b", [False, True])
def test_binary_op_result_dtypes(name, fn, zero_b):
    """Actual op results: dtype (and values) match torch for every dtype pair."""
    bad = []
    for a, b in itertools.product(NAMES, NAMES):
        if name == "sub" and "bool" in (a, b):
            continue  # checked below: torch refuses bool subtraction
        c, ce = _run(fn, _tensor("cd", a, False), _tensor("cd", b, zero_b))
        t, te = _run(fn, _tensor("th", a, False), _tensor("th", b, zero_b))
        if te is not None:
            if ce is None:
                bad.append((a, b, "torch raised", repr(te)[:60]))
            continue
        if ce is not None:
            bad.append((a, b, "cadenza raised", repr(ce)[:80]))
        elif dtype_name(c.dtype) != dtype_name(t.dtype):
            bad.append((a, b, dtype_name(c.dtype), dtype_name(t.dtype)))
    assert not bad


@pytest.mark.parametrize("name,fn", OPS[:5], ids=[o[0] for o in OPS[:5]])
def test_binary_op_with_python_scalars(name, fn):
    bad = []
    for a, s in itertools.product(NAMES, SCALARS):
        for zero in (False, True):
            for order in (0, 1):
                ca, ta = _tensor("cd", a, zero), _tensor("th", a, zero)
                c, ce = _run(fn, *((ca, s) if order == 0 else (s, ca)))
                t, te = _run(fn, *((ta, s) if order == 0 else (s, ta)))
                if te is not None or ce is not None:
                    if (te is None) != (ce is None):
                        bad.append((a, s, order, repr(ce)[:60], repr(te)[:60]))
                    continue
                if dtype_name(c.dtype) != dtype_name(t.dtype):
                    bad.append((a, s, zero, order, dtype_name(c.dtype), dtype_name(t.dtype)))
                elif not np.allclose(np.asarray(c.tolist(), dtype=np.float64),
                                     np.asarray(t.tolist(), dtype=np.float64)):
                    bad.append((a, s, zero, order, "values", c.tolist(), t.tolist()))
    assert not bad


def test_bool_subtraction_raises_like_torch():
    with pytest.raises(RuntimeError):
        torch.tensor([True]) - torch.tensor([False])
    with pytest.raises(RuntimeError):
        cadenza.tensor([True]) - cadenza.tensor([False])


def test_int_division_and_default_dtype():
    assert (cadenza.tensor([1, 2]) / 2).dtype == cadenza.float32
    assert (cadenza.tensor([1, 2]) / cadenza.tensor([2, 4])).dtype == cadenza.float32
    assert cadenza.tensor([1.0]).dtype == cadenza.float32
    assert cadenza.tensor(np.array([1.0])).dtype == cadenza.float64
    assert cadenza.tensor([1, 2]).dtype == cadenza.int64
    assert cadenza.tensor([True]).dtype == cadenza.bool
    cadenza.set_default_dtype(cadenza.float64)
    try:
        assert (cadenza.tensor([1, 2]) * 1.5).dtype == cadenza.float64
        assert cadenza.tensor([1.0]).dtype == cadenza.float64
    finally:
        cadenza.set_default_dtype(cadenza.float32)


def test_inplace_cannot_downcast_category():
    x = cadenza.tensor([1, 2])
    with pytest.raises(RuntimeError):
        x.add_(1.5)
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2]).add_(1.5)
    y = cadenza.tensor([1.0, 2.0])
    y.add_(cadenza.tensor([1, 1]))  # int into float: fine
    assert y.dtype == cadenza.float32 and y.tolist() == [2.0, 3.0]

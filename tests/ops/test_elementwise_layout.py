"""Strides of elementwise results follow torch's TensorIterator (backend/layout.py
``elementwise_strides``): operands of one layout keep it, a channels-last operand beside a
contiguous one leads when it comes first, broadcast and expanded operands do not vote, size-1
dims get torch's strides; eager and compiled, values unchanged. Each case runs torch and
Cadenza on the same layouts and compares strides."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import cadenza


def _make(lib, shape, kind):
    n = int(np.prod(shape)) if shape else 1
    base = lib.arange(float(n), dtype=lib.float64).reshape(shape) - n / 3
    nd = len(shape)
    if kind == "c":
        return base
    if kind == "cl":
        return base.contiguous(memory_format=lib.channels_last if nd == 4 else
                               lib.channels_last_3d)
    if kind == "rev":      # dims reversed in memory (a transposed 2-d operand)
        p = list(range(nd))[::-1]
        return base.permute(p).contiguous().permute(p)
    if kind == "mid":      # the middle dims swapped in memory
        p = list(range(nd))
        p[1], p[-2] = p[-2], p[1]
        return base.permute(p).contiguous().permute(p)
    if kind == "slice":    # not dense: every other element of the last dim
        big = lib.arange(float(2 * n), dtype=lib.float64).reshape(shape[:-1] + (2 * shape[-1],))
        return big[..., ::2]
    if kind == "expand":   # expanded along dim 0 (stride 0)
        return base[:1].expand(shape)
    if kind == "odd1":     # dense with odd strides on its size-1 dims
        st = list(base.stride())
        st = [7 if s == 1 else t for s, t in zip(shape, st)]
        return lib.as_strided(lib.arange(float(n + 10), dtype=lib.float64), shape, st)
    raise ValueError(kind)


SHAPES = {4: [(2, 3, 4, 5), (2, 3, 1, 1), (2, 1, 4, 5), (2, 3, 4, 1), (1, 3, 4, 5)],
          5: [(2, 3, 2, 4, 5), (2, 3, 1, 1, 2)],
          3: [(3, 4, 5), (1, 4, 5), (3, 4, 1)],
          2: [(4, 5), (1, 5), (4, 1)]}
OTHERS = {4: [(3, 1, 1), (5,), (1, 3, 1, 1), (4, 5), ()], 5: [(3, 1, 1, 1), (5,)],
          3: [(4, 5), (5,), (4, 1)], 2: [(5,), (4, 1)]}
KINDS = {4: ["c", "cl", "rev", "mid", "slice", "expand", "odd1"],
         5: ["c", "cl", "rev", "slice", "odd1"],
         3: ["c", "rev", "mid", "slice", "expand"], 2: ["c", "rev", "slice", "expand"]}


def _binary_cases():
    for nd in (4, 5, 3, 2):
        for sa in SHAPES[nd]:
            for sb in SHAPES[nd] + OTHERS[nd]:
                try:
                    np.broadcast_shapes(sa, sb)
                except ValueError:
                    continue
                for ka, kb in itertools.product(KINDS[nd], KINDS[nd]):
                    if (len(sb) < nd or sb != sa and (1 not in sb or sa[0] == 1)) and \
                            kb not in ("c", "cl"):
                        continue     # (keeps the table small: broadcast partners simple)
                    if len(sb) != nd and kb != "c":
                        continue
                    yield sa, ka, sb, kb


BINARY = list(_binary_cases())
OPS = {"add": lambda L, a, b: a + b, "mul": lambda L, a, b: b * a,
       "gt": lambda L, a, b: a > b, "maximum": lambda L, a, b: L.maximum(a, b),
       "where": lambda L, a, b: L.where(a > 0, a, b)}


def _strides(lib, fn, sa, ka, sb, kb):
    a, b = _make(lib, sa, ka), _make(lib, sb, kb)
    r = fn(lib, a, b)
    return tuple(r.stride()), r


def _known_gap(*arrays):
    """Left on purpose (dispatch cost): row-major operands give a row-major result at once,
    also when one has odd strides on its size-1 dims ("odd1"), where torch's broadcasting rule
    would give the result's size-1 dims other strides (the layout of every dim over 1 agrees)."""
    return all(x.flags.c_contiguous for x in arrays)


@pytest.mark.parametrize("opname", list(OPS))
def test_binary_result_strides_match_torch(opname):
    fn = OPS[opname]
    cases = BINARY[::3] if opname == "add" else BINARY[1::11]   # (a sample: test time)
    bad = []
    for sa, ka, sb, kb in cases:
        if "odd1" in (ka, kb) and (opname != "add" or _known_gap(
                _make(cadenza, sa, ka)._data, _make(cadenza, sb, kb)._data)):
            continue
        want, t = _strides(torch, fn, sa, ka, sb, kb)
        got, c = _strides(cadenza, fn, sa, ka, sb, kb)
        np.testing.assert_array_equal(c.numpy(), t.numpy())
        if got != want:
            bad.append((sa, ka, sb, kb, want, got))
    assert not bad, f"{len(bad)} of {len(cases)} differ, first: {bad[:5]}"


UNARY = {"exp": lambda L, x: x.exp(), "neg": lambda L, x: -x, "x*2": lambda L, x: x * 2,
         "2*x": lambda L, x: 2 * x, "x+1": lambda L, x: x + 1, "x-1": lambda L, x: x - 1,
         "x/2": lambda L, x: x / 2, "pow2": lambda L, x: x ** 2, "x>0": lambda L, x: x > 0,
         "clamp": lambda L, x: x.clamp(-1, 1), "relu": lambda L, x: L.relu(x),
         "sigmoid": lambda L, x: x.sigmoid(), "where scalar": lambda L, x: L.where(x > 0, x, 0.),
         "float32": lambda L, x: x.float(), "abs": lambda L, x: x.abs()}


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_and_scalar_result_strides_match_torch(name):
    fn = UNARY[name]
    bad = []
    for nd in (4, 5, 3, 2):
        for shape, kind in itertools.product(SHAPES[nd], KINDS[nd]):
            if kind == "odd1" and _known_gap(_make(cadenza, shape, kind)._data):
                continue
            t = fn(torch, _make(torch, shape, kind))
            c = fn(cadenza, _make(cadenza, shape, kind))
            np.testing.assert_allclose(c.numpy(), t.numpy(), rtol=1e-15, atol=0)
            if tuple(c.stride()) != tuple(t.stride()):
                bad.append((shape, kind, t.stride(), c.stride()))
    assert not bad, f"{len(bad)} differ, first: {bad[:5]}"


@pytest.mark.parametrize("shape,ka,kb", [((2, 3, 4, 5), "cl", "c"), ((2, 3, 4, 5), "c", "cl"),
                                         ((2, 3, 2, 4, 5), "cl", "c"), ((4, 5), "rev", "c"),
                                         ((2, 3, 4, 1), "cl", "c"), ((3, 4, 5), "mid", "rev")])
def test_compiled_results_have_eager_and_torch_strides(shape, ka, kb):
    def f(a, b):
        return a * b + 1.0, (a - b).exp()
    a, b = _make(cadenza, shape, ka), _make(cadenza, shape, kb)
    ta, tb = _make(torch, shape, ka), _make(torch, shape, kb)
    want = [tuple(r.stride()) for r in f(ta, tb)]
    eager = f(a, b)
    assert [tuple(r.stride()) for r in eager] == want
    compiled = cadenza.compile(f, backend="c")
    for _ in range(2):
        outs = compiled(a, b)
        assert [tuple(r.stride()) for r in outs] == want
        for o, e in zip(outs, eager):
            assert o.numpy().tobytes() == e.numpy().tobytes()


def test_in_place_and_out_keep_the_destination_layout():
    for lib in (torch, cadenza):
        a = _make(lib, (2, 3, 4, 5), "c")
        b = _make(lib, (2, 3, 4, 5), "cl")
        a.add_(b)
        assert a.stride() == (60, 20, 5, 1)
        b.mul_(_make(lib, (2, 3, 4, 5), "c"))
        assert b.stride() == (60, 1, 15, 3)
        o = _make(lib, (2, 3, 4, 5), "rev")
        lib.add(_make(lib, (2, 3, 4, 5), "cl"), 1.0, out=o)
        assert o.stride() == (1, 2, 6, 24)


# ----------------------------------------------------------------- results of other ops
OTHER = {
    "pixel_shuffle": (lambda L, x: L.nn.functional.pixel_shuffle(x, 2), (1, 8, 3, 3)),
    "pixel_unshuffle": (lambda L, x: L.nn.functional.pixel_unshuffle(x, 2), (1, 2, 4, 6)),
    "softmax": (lambda L, x: L.softmax(x, 1), (2, 3, 4, 5)),
    "log_softmax": (lambda L, x: L.log_softmax(x, 0), (2, 3, 4, 5)),
    "instance_norm": (lambda L, x: L.nn.functional.instance_norm(
        x, weight=L.ones(3, dtype=L.float64), bias=L.zeros(3, dtype=L.float64)), (2, 3, 4, 5)),
    "sum keepdim": (lambda L, x: x.sum(1, keepdim=True), (2, 3, 4, 5)),
    "sum 2 dims keepdim": (lambda L, x: x.sum((2, 3), keepdim=True), (2, 3, 4, 5)),
    "amax keepdim": (lambda L, x: x.amax(1, keepdim=True), (2, 3, 4, 5)),
    "var keepdim": (lambda L, x: x.var(1, keepdim=True), (2, 3, 4, 5)),
    "prod keepdim": (lambda L, x: x.prod(1, keepdim=True), (2, 3, 4, 5)),
    "sum": (lambda L, x: x.sum(1), (2, 3, 4, 5)),
    "cumsum": (lambda L, x: x.cumsum(1), (2, 3, 4, 5)),
    "sort": (lambda L, x: x.sort(1)[0], (2, 3, 4, 5)),
    "argsort": (lambda L, x: x.argsort(1), (2, 3, 4, 5)),
    "topk": (lambda L, x: x.topk(2, 1)[1], (2, 3, 4, 5)),
    "adaptive_avg_pool2d 1": (lambda L, x: L.nn.functional.adaptive_avg_pool2d(x, 1),
                              (2, 3, 4, 5)),
    "interpolate": (lambda L, x: L.nn.functional.interpolate(x, scale_factor=2), (2, 3, 4, 6)),
    "layer_norm": (lambda L, x: L.nn.functional.layer_norm(x, (5,)), (2, 3, 4, 5)),
}


@pytest.mark.parametrize("name", list(OTHER))
@pytest.mark.parametrize("kind", ["cl", "rev"])
def test_result_strides_of_other_ops_match_torch(name, kind):
    fn, shape = OTHER[name]
    t = fn(torch, _make(torch, shape, kind))
    c = fn(cadenza, _make(cadenza, shape, kind))
    np.testing.assert_allclose(c.numpy(), t.numpy(), rtol=1e-12, atol=1e-12)
    assert tuple(c.stride()) == tuple(t.stride())

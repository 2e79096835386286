"""Hypothesis property tests: broadcasting and indexing against NumPy and torch."""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings, strategies as st, HealthCheck
from hypothesis.extra import numpy as hnp

import cadenza

SETTINGS = settings(max_examples=40, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _pair(t_cd, t_th, w):
    return (t_cd * cadenza.tensor(w)).sum(), (t_th * torch.tensor(w)).sum()


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4,
                                                 max_side=3),
       op=st.sampled_from(["add", "sub", "mul", "div", "maximum", "where", "atan2"]),
       seed=st.integers(0, 2 ** 16))
def test_broadcasting_binary(shapes, op, seed):
    rng = np.random.default_rng(seed)
    sa, sb = shapes.input_shapes
    a = rng.uniform(0.5, 2.0, sa) * rng.choice([-1, 1], sa)
    b = rng.uniform(0.5, 2.0, sb) * rng.choice([-1, 1], sb)
    ca = cadenza.tensor(a, requires_grad=True)
    cb = cadenza.tensor(b, requires_grad=True)
    ta = torch.tensor(a, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    if op == "where":
        cond = rng.random(shapes.result_shape) < 0.5
        co = cadenza.where(cadenza.tensor(cond), ca, cb)
        to = torch.where(torch.tensor(cond), ta, tb)
        ref = np.where(cond, a, b)
    else:
        co = getattr(cadenza, op)(ca, cb)
        to = getattr(torch, op)(ta, tb)
        ref = getattr(np, {"div": "divide", "sub": "subtract", "mul": "multiply",
                           "atan2": "arctan2"}.get(op, op))(a, b)
    assert tuple(co.shape) == tuple(shapes.result_shape) == tuple(to.shape)
    np.testing.assert_allclose(co.detach().numpy(), ref, rtol=1e-12)
    w = rng.standard_normal(shapes.result_shape)
    lc, lt = _pair(co, to, w)
    lc.backward()
    lt.backward()
    assert tuple(ca.grad.shape) == sa and tuple(cb.grad.shape) == sb
    np.testing.assert_allclose(ca.grad.numpy(), ta.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cb.grad.numpy(), tb.grad.numpy(), rtol=1e-10, atol=1e-12)


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3,
                                                 max_side=3),
       seed=st.integers(0, 2 ** 16))
def test_broadcasting_three_way_expression(shapes, seed):
    rng = np.random.default_rng(seed)
    arrs = [rng.standard_normal(s) for s in shapes.input_shapes]
    cs = [cadenza.tensor(a, requires_grad=True) for a in arrs]
    ts = [torch.tensor(a, requires_grad=True) for a in arrs]
    co = (cs[0] * cs[1] + cs[2]).tanh() - cs[1]
    to = (ts[0] * ts[1] + ts[2]).tanh() - ts[1]
    np.testing.assert_allclose(co.detach().numpy(), to.detach().numpy(), rtol=1e-12)
    co.sum().backward()
    to.sum().backward()
    for c, t, s in zip(cs, ts, shapes.input_shapes):
        assert tuple(c.grad.shape) == tuple(s)
        np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


@st.composite
def basic_index(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    idx = []
    for n in shape:
        kind = draw(st.sampled_from(["slice", "int", "full"]))
        if kind == "int":
            idx.append(draw(st.integers(-n, n - 1)))
        elif kind == "full":
            idx.append(slice(None))
        else:
            start = draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
            stop = draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
            step = draw(st.one_of(st.none(), st.integers(1, 3)))
            idx.append(slice(start, stop, step))
    k = draw(st.integers(0, len(idx)))
    idx = idx[:k]
    if draw(st.booleans()) and idx:
        idx.insert(draw(st.integers(0, len(idx))), None)
    if draw(st.booleans()):
        # the items were drawn for the leading dims, so the Ellipsis goes after them
        idx = idx + [Ellipsis]
    return shape, tuple(idx)


def _check_index(shape, idx_cd, idx_th, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    cx = cadenza.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    co = cx[idx_cd]
    to = tx[idx_th]
    assert tuple(co.shape) == tuple(to.shape)
    np.testing.assert_array_equal(co.detach().numpy(), to.detach().numpy())
    w = rng.standard_normal(tuple(to.shape))
    lc, lt = _pair(co, to, w)
    lc.backward()
    lt.backward()
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


@SETTINGS
@given(case=basic_index(), seed=st.integers(0, 2 ** 16))
def test_basic_indexing(case, seed):
    shape, idx = case
    _check_index(shape, idx, idx, seed)


@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2 ** 16))
def test_integer_array_indexing(data, seed):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    dim = data.draw(st.integers(0, len(shape) - 1))
    n_idx = data.draw(st.integers(1, 6))
    ind = np.array(data.draw(st.lists(st.integers(-shape[dim], shape[dim] - 1),
                                      min_size=n_idx, max_size=n_idx)), dtype=np.int64)
    as_list = data.draw(st.booleans())
    pre = (slice(None),) * dim
    idx_cd = pre + ((ind.tolist() if as_list else cadenza.tensor(ind)),)
    idx_th = pre + (torch.tensor(ind),)
    _check_index(shape, idx_cd, idx_th, seed)
    if len(shape) >= 2:  # two advanced indices broadcast together
        j = np.array(data.draw(st.lists(st.integers(0, shape[1] - 1), min_size=1,
                                        max_size=1)), dtype=np.int64)
        i0 = np.clip(ind, -shape[0], shape[0] - 1)
        _check_index(shape, (cadenza.tensor(i0), cadenza.tensor(j)),
                     (torch.tensor(i0), torch.tensor(j)), seed)


@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2 ** 16))
def test_boolean_mask_indexing(data, seed):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    k = data.draw(st.integers(1, len(shape)))
    mask = data.draw(hnp.arrays(np.bool_, shape[:k]))
    _check_index(shape, cadenza.tensor(mask), torch.tensor(mask), seed)
    if k < len(shape):
        # mask on the leading dims together with a slice on the next one
        _check_index(shape, (cadenza.tensor(mask), slice(None, None, 2)),
                     (torch.tensor(mask), slice(None, None, 2)), seed)


@SETTINGS
@given(case=basic_index(), seed=st.integers(0, 2 ** 16))
def test_setitem_basic_matches_torch(case, seed):
    shape, idx = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    tx = torch.tensor(x)
    target_shape = tuple(tx[idx].shape)
    v = rng.standard_normal(target_shape)
    cx = cadenza.tensor(x)
    cx[idx] = cadenza.tensor(v)
    tx[idx] = torch.tensor(v)
    np.testing.assert_array_equal(cx.numpy(), tx.numpy())

"""The graph nodes of ``tensor (op) number`` (W5's ``x * 1.0001 + 0.0001``) keep only what
backward reads: the number, not the input tensor (which is then freed with its last name, as
in torch), with gradients, in-place writes and a second backward as before; and
``backend.cpu.address`` (the C kernels' data pointers) agrees with ``ctypes.data``."""
import gc
import weakref

import numpy as np
import pytest

import cadenza
from cadenza.backend.cpu import address

torch = pytest.importorskip("torch")


def _chain(lib, a, steps=5):
    x0 = lib.tensor(a, requires_grad=True)
    x = x0
    for i in range(steps):
        x = x * (1.5 + i) + 0.25
        x = x / 3.0 - 1
        x = 2 * x
    (x * x).sum().backward()
    return x.detach().numpy(), x0.grad.numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_number_chain_matches_torch(dtype):
    a = np.random.default_rng(0).standard_normal(7).astype(dtype)
    ours, theirs = _chain(cadenza, a), _chain(torch, a)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o, t, rtol=1e-6 if dtype == np.float32 else 1e-13)
        assert o.dtype == t.dtype


def test_intermediate_is_not_kept_by_a_number_node():
    x = cadenza.ones(4, requires_grad=True)
    m = x * 2.0
    ref = weakref.ref(m)
    y = m * 3.0        # backward reads 3.0 only
    del m
    gc.collect()
    assert ref() is None
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(4, 6.0, np.float32))


def test_inplace_write_after_number_op_and_second_backward():
    x = cadenza.ones(3, requires_grad=True)
    h = x * 1.0
    y = h * 4.0
    h.mul_(10.0)       # y's backward does not read h: no version error, as in torch
    y.sum().backward(retain_graph=False)
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 4.0, np.float32))
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.sum().backward()
    # a node that saved its input still checks it (tensor * tensor)
    w = cadenza.ones(3, requires_grad=True)
    z = w * 1.0
    out = z * z
    z.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_int_and_float_numbers_share_no_saved_value():
    x = cadenza.ones(2, dtype=cadenza.float64, requires_grad=True)
    a = x * 2       # int 2, then float 2.0: the saved number keeps its own type
    b = x * 2.0
    assert type(a.grad_fn.saved[1]) is int and type(b.grad_fn.saved[1]) is float
    (a + b).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 4.0])


def test_address_matches_ctypes_data():
    base = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    for a in (base, base[1:, ::2, 3:], base.T, np.empty(0), np.full((), 2.0),
              np.asfortranarray(base), base.astype(np.int8)[2]):
        assert address(a) == a.ctypes.data

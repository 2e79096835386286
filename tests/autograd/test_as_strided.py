"""Tensor.as_strided as a view, against torch: which memory it reads (storage_offset and
strides in the owning buffer, default offset of a view), writes through it reaching the base,
its geometry, and gradients (overlapping outputs, expanded and transposed inputs, in-place
ops on it with autograd)."""
import numpy as np
import pytest
import torch as T

import cadenza as C


def _both(program):
    return program(T), program(C)


@pytest.mark.parametrize("case", [
    lambda lib, b: b.as_strided((2, 2), (1, 4)),
    lambda lib, b: b[1:].as_strided((2, 2), (1, 4), 1),
    lambda lib, b: b[2:].as_strided((2,), (1,), 0),     # memory before the input's own
    lambda lib, b: b.t().as_strided((3, 2), (2, 1)),
    lambda lib, b: lib.as_strided(b[:, 1:], (2, 3), (4, 1)),
    lambda lib, b: b.as_strided((3, 3), (0, 1), 2)])
def test_reads_and_writes_the_base_memory(case):
    def program(lib):
        b = lib.arange(12.0).reshape(3, 4)
        v = case(lib, b)
        geometry = (tuple(v.shape), tuple(v.stride()), v.storage_offset(), v.is_contiguous())
        before = v.clone().numpy()
        if v.stride(0) != 0:
            v.mul_(-1)     # reaches b
        return geometry, before, b.numpy()
    (gt, vt, bt), (gc, vc, bc) = _both(program)
    assert gc == gt
    np.testing.assert_array_equal(vc, vt)
    np.testing.assert_array_equal(bc, bt)


@pytest.mark.parametrize("case", [
    lambda lib, y: y.as_strided((2, 3), (1, 1)),                 # overlapping windows
    lambda lib, y: y.as_strided((3, 2), (0, 2), 1),              # repeated rows
    lambda lib, y: y.reshape(2, 3).t().as_strided((2, 2), (3, 1)),   # transposed input
    lambda lib, y: y[:, None].expand(6, 2).as_strided((3,), (1,)),   # expanded input
    lambda lib, y: y[2:].as_strided((2,), (1,), 0)])             # before the input's start
def test_gradients_match_torch(case):
    def program(lib):
        a = lib.tensor(np.linspace(-1, 1, 6), requires_grad=True)
        out = case(lib, a * 2)
        w = lib.tensor(np.arange(1.0, out.numel() + 1).reshape(tuple(out.shape)))
        (out * w).sum().backward()
        return a.grad.numpy()
    gt, gc = _both(program)
    np.testing.assert_allclose(gc, gt, rtol=1e-12)


def test_in_place_on_as_strided_view_with_autograd():
    def program(lib):
        a = lib.tensor(np.linspace(0.5, 2, 8), requires_grad=True)
        w = lib.tensor([3.0, -1.0, 2.0])
        y = a * 1
        y.as_strided((3,), (2,), 1).mul_(w)
        (y * y).sum().backward()
        return y.detach().numpy(), a.grad.numpy()
    (yt, gt), (yc, gc) = _both(program)
    np.testing.assert_allclose(yc, yt)
    np.testing.assert_allclose(gc, gt)


def test_out_of_bounds_refused():
    for lib in (T, C):
        with pytest.raises(RuntimeError, match="out of bounds for storage"):
            lib.ones(4).as_strided((3,), (2,))
        with pytest.raises(RuntimeError):
            lib.ones(4).as_strided((2,), (1, 1))

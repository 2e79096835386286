"""Memory formats (channels_last, channels_last_3d, preserve_format, contiguous_format) against
PyTorch: the strides each op gives, ``is_contiguous``, values (never changed by a layout),
gradients and their layouts, ``Module.to(memory_format=)``, and a small CNN trained in
channels-last matching the same CNN in NCHW (eager and compiled), saved and loaded."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import cadenza

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 3, 5, 4)).astype(np.float32)
X5 = RNG.standard_normal((2, 3, 4, 3, 4)).astype(np.float32)
W = RNG.standard_normal((4, 3, 3, 3)).astype(np.float32)
W5 = RNG.standard_normal((2, 3, 2, 2, 2)).astype(np.float32)
B = RNG.standard_normal((1, 3, 1, 1)).astype(np.float32)


def _cl(lib, a=X):
    return lib.from_numpy(a.copy()).contiguous(memory_format=lib.channels_last)


def _cl3(lib):
    return lib.from_numpy(X5.copy()).contiguous(memory_format=lib.channels_last_3d)


def _nchw(lib, a=X):
    return lib.from_numpy(a.copy())


# name -> fn(lib): a tensor whose strides, contiguity and values must match torch's
CASES = {
    "contiguous_cl": lambda L: _nchw(L).contiguous(memory_format=L.channels_last),
    "contiguous_back": lambda L: _cl(L).contiguous(),
    "contiguous_cl3d": lambda L: _cl3(L),
    "to_cl": lambda L: _nchw(L).to(memory_format=L.channels_last),
    "to_back": lambda L: _cl(L).to(memory_format=L.contiguous_format),
    "to_dtype_keeps": lambda L: _cl(L).to(L.float64),
    "double_to_cl": lambda L: _nchw(L).double(memory_format=L.channels_last),
    "clone_preserve": lambda L: _cl(L).clone(),
    "clone_contiguous": lambda L: _cl(L).clone(memory_format=L.contiguous_format),
    "clone_to_cl": lambda L: _nchw(L).clone(memory_format=L.channels_last),
    "clone_permuted": lambda L: _nchw(L).permute(3, 1, 0, 2).clone(),
    "clone_nondense": lambda L: _nchw(L).permute(0, 2, 3, 1)[:, ::2].clone(),
    "clone_cl_sliced": lambda L: _cl(L)[:, :, ::2].clone(),
    "clone_expanded": lambda L: _nchw(L)[:, :1].expand(2, 3, 5, 4).clone(),
    "zeros_like": lambda L: L.zeros_like(_cl(L)),
    "ones_like": lambda L: L.ones_like(_cl(L)),
    "full_like": lambda L: L.full_like(_cl(L), 2.5),
    "zeros_like_contig": lambda L: L.zeros_like(_cl(L), memory_format=L.contiguous_format),
    "ones_like_to_cl": lambda L: L.ones_like(_nchw(L), memory_format=L.channels_last),
    "relu": lambda L: _cl(L).relu(),
    "exp": lambda L: _cl(L).exp(),
    "mul_scalar": lambda L: _cl(L) * 2,
    "add_same": lambda L: _cl(L) + _cl(L),
    "mul_bias": lambda L: _cl(L) * L.from_numpy(B.copy()),
    "add_inplace": lambda L: _cl(L).add_(1),
    "conv_input_cl": lambda L: L.nn.functional.conv2d(_cl(L), L.from_numpy(W.copy()),
                                                      padding=1),
    "conv_weight_cl": lambda L: L.nn.functional.conv2d(_nchw(L), _cl(L, W)),
    "conv_groups": lambda L: L.nn.functional.conv2d(_cl(L), _nchw(L, W[:3, :1]), groups=3),
    "max_pool": lambda L: L.nn.functional.max_pool2d(_cl(L), 2),
    "avg_pool": lambda L: L.nn.functional.avg_pool2d(_cl(L), 2, ceil_mode=True),
    "adaptive_avg": lambda L: L.nn.functional.adaptive_avg_pool2d(_cl(L), (3, 2)),
    "batch_norm": lambda L: L.nn.functional.batch_norm(_cl(L), None, None, training=True),
    "group_norm": lambda L: L.nn.functional.group_norm(_cl(L), 3),
    "interpolate": lambda L: L.nn.functional.interpolate(_cl(L), scale_factor=2),
    "conv3d": lambda L: L.nn.functional.conv3d(_cl3(L), L.from_numpy(W5.copy())),
    "max_pool3d": lambda L: L.nn.functional.max_pool3d(_cl3(L), 2),
    "cat_cl": lambda L: L.cat([_cl(L), _cl(L)], 1),
    "cat_mixed": lambda L: L.cat([_cl(L), _nchw(L)], 1),
    "pad_cl": lambda L: L.nn.functional.pad(_cl(L), (1, 1, 1, 1)),
    "pad_reflect": lambda L: L.nn.functional.pad(_cl(L), (1, 1, 1, 1), mode="reflect"),
    "reshape_view": lambda L: _cl(L).reshape(2, 3, 20),
    "reshape_copy": lambda L: _cl(L).reshape(2, -1),
    "flatten": lambda L: _cl(L).flatten(1),
    "transpose_cl": lambda L: _cl(L).transpose(1, 3),
    "channel_one": lambda L: _cl(L, X[:, :1]),
    "spatial_one": lambda L: _cl(L, X[:, :, :1, :1]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_strides_match_torch(name):
    c, t = CASES[name](cadenza), CASES[name](torch)
    assert tuple(c.shape) == tuple(t.shape)
    assert c.stride() == t.stride(), (c.stride(), t.stride())
    assert c.is_contiguous() == t.is_contiguous()
    for fmt in ("channels_last", "channels_last_3d"):
        assert c.is_contiguous(memory_format=getattr(cadenza, fmt)) == \
            t.is_contiguous(memory_format=getattr(torch, fmt))
    np.testing.assert_allclose(c.numpy(), t.numpy(), rtol=1e-5, atol=1e-5)


def test_layouts_of_uninitialised_and_random():
    for L in (cadenza, torch):
        assert L.empty(2, 3, 4, 5, memory_format=L.channels_last).stride() == (60, 1, 15, 3)
        assert L.empty_like(_cl(L)).stride() == (60, 1, 12, 3)
        assert L.empty_like(_nchw(L), memory_format=L.channels_last).stride() == (60, 1, 12, 3)
        assert L.rand_like(_cl(L)).stride() == (60, 1, 12, 3)
        assert L.randn_like(_cl(L)).stride() == (60, 1, 12, 3)
        assert L.empty(2, 3, 2, 2, 2, memory_format=L.channels_last_3d).stride() == \
            (24, 1, 12, 6, 3)
    c = _cl(cadenza)
    assert c.numpy().strides == _cl(torch).numpy().strides
    assert c.contiguous(memory_format=cadenza.channels_last) is c
    assert c.to(memory_format=cadenza.channels_last) is c


@pytest.mark.parametrize("fn", [
    lambda L: _cl(L).view(2, -1),                                  # spans C and H, W
    lambda L: L.randn(2, 3, 4).contiguous(memory_format=L.channels_last),
    lambda L: L.randn(2, 3, 4).to(memory_format=L.channels_last),
    lambda L: L.randn(2, 3, 4, 5).clone(memory_format=L.channels_last_3d),
    lambda L: L.empty_like(L.randn(2, 3), memory_format=L.channels_last),
    lambda L: L.empty(2, 3, 4, 5, memory_format=L.preserve_format),
])
def test_errors_like_torch(fn):
    with pytest.raises(RuntimeError):
        fn(torch)
    with pytest.raises(RuntimeError):
        fn(cadenza)


def test_gradients_and_their_layouts():
    """The same values as torch; a channels-last leaf's .grad is channels-last, a contiguous
    leaf's (made channels-last inside the graph) contiguous."""
    out = {}
    for L in (cadenza, torch):
        w = _cl(L, W).requires_grad_()
        x = _nchw(L).requires_grad_()
        xl = _cl(L).requires_grad_()
        y = L.nn.functional.conv2d(x.contiguous(memory_format=L.channels_last), w, padding=1)
        z = L.nn.functional.max_pool2d(L.nn.functional.conv2d(xl, w.detach()).relu(), 2)
        ((y * y).sum() + (z * L.arange(z.numel()).reshape(z.shape)).sum()).backward()
        out[L] = (w.grad, x.grad, xl.grad)
    for c, t in zip(out[cadenza], out[torch]):
        assert c.stride() == t.stride(), (c.stride(), t.stride())
        np.testing.assert_allclose(c.numpy(), t.numpy(), rtol=1e-4, atol=1e-4)


def test_module_to_channels_last():
    for L in (cadenza, torch):
        L.manual_seed(0)
        m = L.nn.Sequential(L.nn.Conv2d(3, 4, 3), L.nn.BatchNorm2d(4), L.nn.Flatten(),
                            L.nn.Linear(4, 2))
        assert m.to(memory_format=L.channels_last) is m
        strides = {n: p.stride() for n, p in m.named_parameters()}
        if L is cadenza:
            got = strides
        else:
            assert got == strides


def _cnn(channels_last):
    cadenza.manual_seed(0)
    m = cadenza.nn.Sequential(
        cadenza.nn.Conv2d(3, 4, 3, padding=1), cadenza.nn.BatchNorm2d(4), cadenza.nn.ReLU(),
        cadenza.nn.MaxPool2d(2), cadenza.nn.Conv2d(4, 4, 3), cadenza.nn.AdaptiveAvgPool2d(1),
        cadenza.nn.Flatten(), cadenza.nn.Linear(4, 2)).double()
    return m.to(memory_format=cadenza.channels_last) if channels_last else m


@pytest.mark.parametrize("compiled", [None, "c", "numpy"])
def test_cnn_trains_the_same_in_channels_last(compiled, tmp_path):
    """float64: channels-last training (eager or compiled) gives NCHW's losses and weights
    exactly; the checkpoint of the channels-last model loads back with its values."""
    xs = cadenza.from_numpy(RNG.standard_normal((4, 3, 6, 6)))
    y = cadenza.tensor([0, 1, 1, 0])
    runs = []
    for cl in (False, True):
        m = _cnn(cl)
        x = xs.contiguous(memory_format=cadenza.channels_last) if cl else xs
        opt = cadenza.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)

        def step(x, y, m=m, opt=opt):
            opt.zero_grad()
            loss = cadenza.nn.functional.cross_entropy(m(x), y)
            loss.backward()
            opt.step()
            return loss
        f = cadenza.compile(step, backend=compiled) if compiled else step
        runs.append(([float(f(x, y)) for _ in range(3)], m))
    (l0, m0), (l1, m1) = runs
    assert l0 == l1
    assert m1[0].weight.is_contiguous(memory_format=cadenza.channels_last)
    assert m1[0].weight.grad.is_contiguous(memory_format=cadenza.channels_last)
    for p0, p1 in zip(m0.parameters(), m1.parameters()):
        assert np.array_equal(p0.detach().numpy(), p1.detach().numpy())
    path = os.path.join(tmp_path, "cl.pt")
    cadenza.save(m1.state_dict(), path)
    m2 = _cnn(True)
    m2.load_state_dict(cadenza.load(path))
    assert m2[0].weight.is_contiguous(memory_format=cadenza.channels_last)
    assert np.array_equal(m2[0].weight.detach().numpy(), m1[0].weight.detach().numpy())


@pytest.mark.parametrize("backend", ["c", "numpy"])
def test_compiled_views_of_channels_last(backend):
    """Views that only a channels-last layout allows, replayed by compiled code: eager's
    values."""
    def f(x, w):
        y = x.contiguous(memory_format=cadenza.channels_last)
        z = y.permute(0, 2, 3, 1).view(2, -1) * 2
        c = cadenza.nn.functional.conv2d(y, w).relu()
        return z.sum(1), c.permute(0, 2, 3, 1).reshape(2, -1).exp(), \
            c.clone().view(2, 4, -1)[:, :, 0]
    x, w = _nchw(cadenza), _nchw(cadenza, W)
    ref = f(x, w)
    g = cadenza.compile(f, backend=backend)
    for _ in range(2):
        out = g(x, w)
    for a, b in zip(out, ref):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-6)

"""In-place ops on views of tensors that require grad re-base the base's history, as in PyTorch
(cadenza/autograd/views.py): forward values and gradients against torch over the view kinds,
chains of views, several in-place ops, views made before and after, and torch's refusals."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import cadenza

X = np.random.default_rng(0).standard_normal((4, 4))
W = np.random.default_rng(1).standard_normal((4,))


def _run(lib, fn):
    x = lib.tensor(X.copy(), requires_grad=True)
    w = lib.tensor(W.copy(), requires_grad=True)
    outs = fn(lib, x, w)
    outs = outs if isinstance(outs, tuple) else (outs,)
    sum(o.sum() if o.ndim else o for o in outs).backward()
    grads = [None if t.grad is None else t.grad.detach().numpy().copy() for t in (x, w)]
    return [o.detach().numpy().copy() for o in outs], grads


def _compare(fn):
    c_out, c_grad = _run(cadenza, fn)
    t_out, t_grad = _run(torch, fn)
    for c, t in zip(c_out, t_out):
        np.testing.assert_allclose(c, t, rtol=1e-12, atol=1e-12)
    for c, t in zip(c_grad, t_grad):
        assert (c is None) == (t is None), (c, t)
        if c is not None:
            np.testing.assert_allclose(c, t, rtol=1e-12, atol=1e-12)


def _sq(y):
    return y * y


CASES = {
    "basic slice": lambda m, x, w: (lambda y: (y[:, 0].mul_(2), _sq(y))[1])(x.clone()),
    "slice with step": lambda m, x, w: (lambda y: (y[::2, 1:].mul_(3), _sq(y))[1])(x.clone()),
    "select": lambda m, x, w: (lambda y: (y.select(1, 2).add_(w), _sq(y))[1])(x * 1),
    "narrow": lambda m, x, w: (lambda y: (y.narrow(0, 1, 2).mul_(w), _sq(y))[1])(x.clone()),
    "view(-1)": lambda m, x, w: (lambda y: (y.view(-1).add_(1), _sq(y))[1])(x.clone()),
    "reshape as view": lambda m, x, w: (lambda y: (y.reshape(2, 8).mul_(2), y.exp())[1])(
        x.clone()),
    "transpose": lambda m, x, w: (lambda y: (y.t()[1].sub_(w), _sq(y))[1])(x.clone()),
    "permute": lambda m, x, w: (lambda y: (y.permute(1, 0).mul_(w), _sq(y))[1])(x.clone()),
    "diagonal zero_": lambda m, x, w: (lambda y: (y.diagonal().zero_(), _sq(y))[1])(x.clone()),
    "diagonal offset": lambda m, x, w: (lambda y: (y.diagonal(1).mul_(w[:3]), _sq(y))[1])(
        x.clone()),
    "unfold": lambda m, x, w: (lambda y: (y.unfold(1, 2, 2).mul_(2), _sq(y))[1])(x.clone()),
    "overlapping unfold, read": lambda m, x, w: (lambda y: (
        y[1].mul_(w), y.unfold(1, 3, 1) * 2)[1])(x.clone()),
    "as_strided": lambda m, x, w: (lambda y: (y.as_strided((2, 2), (1, 4)).mul_(w[:2]),
                                              _sq(y))[1])(x.clone()),
    "squeeze/unsqueeze": lambda m, x, w: (lambda y: (y.unsqueeze(0)[0].mul_(2), _sq(y))[1])(
        x.clone()),
    "chain of views": lambda m, x, w: (lambda y: (
        y.unsqueeze(0).transpose(1, 2)[0, 1:].narrow(1, 1, 2).mul_(w[:2]), _sq(y))[1])(x.clone()),
    "setitem on a view": lambda m, x, w: (lambda y: (y[:, 1].__setitem__(slice(1, 3), w[:2]),
                                                     _sq(y))[1])(x.clone()),
    "copy_ into a view": lambda m, x, w: (lambda y: (y[2].copy_(w), _sq(y))[1])(x.clone()),
    "exp_ (saves its output)": lambda m, x, w: (lambda y: (y[1].exp_(), _sq(y))[1])(x.clone()),
    "sigmoid_ then the view": lambda m, x, w: (lambda y: (
        lambda v: (v.sigmoid_(), v * w, _sq(y)))(y[:, 3]))(x.clone())[1:],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_inplace_on_a_view_matches_torch(case):
    _compare(CASES[case])


def _several(m, x, w):
    y = x.clone()
    y[0].mul_(2)
    y[:, 1].add_(w)
    y.mul_(0.5)
    y.diagonal().sub_(w)
    return _sq(y)


def _old_view_after_rebase(m, x, w):
    y = x.clone()
    v, row = y[:, 1], y[0]            # row overlaps v at [0, 1]
    v.mul_(w)
    return row * row, y.sum()


def _view_after_base_write(m, x, w):
    y = x.clone()
    v = y[1]
    y.mul_(3)                        # v's values change: its history must follow
    return v * w


def _new_view_after_rebase(m, x, w):
    y = x.clone()
    y[:, 0].mul_(w)
    return y[1:, :2] * 2


def _view_of_view_written(m, x, w):
    y = x.clone()
    v = y[1:]
    u = v[:, 2]
    u.mul_(w[:3])
    return _sq(v), y.sum()


def _base_without_grad(m, x, w):
    y = m.zeros(4, 4, dtype=m.float64)
    y[:, 1].copy_(x[:, 0] * 2)
    y.diagonal().add_(w)
    assert y.requires_grad
    return _sq(y)


def _old_view_of_base_without_grad(m, x, w):
    y = m.zeros(4, 4, dtype=m.float64)
    v = y[0]                         # made before the base had a history
    y[:, 0].copy_(w)
    return v * 3


def _versions(m, x, w):
    y = x.clone()
    v = y.view(-1)
    v.add_(1)
    y[0].mul_(2)
    assert y._version == v._version == 2
    return _sq(v)


def _no_grad_write_then_grad(m, x, w):
    y = x.clone()
    with m.no_grad():
        y[0].mul_(2)
    return _sq(y)


def _copy_constant_into_view(m, x, w):
    y = x * 2
    y[0].copy_(m.zeros(4, dtype=m.float64))     # no gradient reaches what row 0 held
    return y * x


def _copy_constant_into_tensor(m, x, w):
    y = x * 2
    y.copy_(m.ones(4, 4, dtype=m.float64))
    assert y.requires_grad
    return y * x


def _copy_constant_then_read_the_view(m, x, w):
    y = x * 2
    v = y[:, 1]
    v.copy_(m.ones(4, dtype=m.float64))
    return v * w, y * x


@pytest.mark.parametrize("fn", [_copy_constant_into_view, _copy_constant_into_tensor,
                                _copy_constant_then_read_the_view, _several,
                                _old_view_after_rebase, _view_after_base_write,
                                _new_view_after_rebase, _view_of_view_written,
                                _base_without_grad, _old_view_of_base_without_grad, _versions,
                                _no_grad_write_then_grad])
def test_histories_of_views_and_bases_match_torch(fn):
    _compare(fn)


def test_grad_fn_names_and_second_order_gradients():
    def f(m):
        x = m.tensor(X.copy(), requires_grad=True)
        y = x.clone()
        y[:, 0].mul_(x[:, 1])
        assert type(y.grad_fn).__name__ == "CopySlices" or y.grad_fn.name() == "CopySlices"
        (g,) = m.autograd.grad((y ** 3).sum(), x, create_graph=True)
        (h,) = m.autograd.grad(g.sum(), x)
        return g.detach().numpy(), h.numpy()
    for c, t in zip(f(cadenza), f(torch)):
        np.testing.assert_allclose(c, t, rtol=1e-12)


def test_gradcheck_through_a_view_write():
    def fn(x, w):
        y = x * 1
        y[1:, ::2].mul_(w[:2])
        y.t()[0].add_(w)
        return (y * y).sum(0)
    x = cadenza.tensor(X.copy(), requires_grad=True)
    w = cadenza.tensor(W.copy(), requires_grad=True)
    assert cadenza.autograd.gradcheck(fn, (x, w))


ERRORS = {
    "leaf": lambda m, x: x.mul_(2),
    "view of a leaf": lambda m, x: x[0].mul_(2),
    "split output": lambda m, x: x.clone().split(2)[1].mul_(2),
    "split with sizes output": lambda m, x: x.clone().split([1, 3])[0].add_(1),
    "chunk output": lambda m, x: x.clone().chunk(2)[0].zero_(),
    "unbind output": lambda m, x: x.clone().unbind()[2].mul_(2),
    "view of a split output": lambda m, x: x.clone().split(2)[1][0].mul_(2),
    "expanded view": lambda m, x: x.clone()[0].expand(3, 4).mul_(2),
    # mul_ saves its operand, a view sharing the version counter the write bumps
    "mul_ by another view, then backward": lambda m, x: (
        lambda y: (y[0].mul_(y[1]), (y * y).sum().backward()))(x.clone()),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_refused_like_torch(case):
    with pytest.raises(RuntimeError):
        ERRORS[case](torch, torch.tensor(X.copy(), requires_grad=True))
    with pytest.raises(RuntimeError):
        ERRORS[case](cadenza, cadenza.tensor(X.copy(), requires_grad=True))


def test_view_made_in_no_grad_mode_is_refused_like_torch():
    for m in (torch, cadenza):
        y = m.tensor(X.copy(), requires_grad=True).clone()
        with m.no_grad():
            v = y[0]
        with pytest.raises(RuntimeError, match="no_grad"):
            v.mul_(2)


@pytest.mark.parametrize("case", ["tensor_split output", "split output, no grad",
                                  "unbind of a tensor without grad"])
def test_allowed_like_torch(case):
    def f(m):
        x = m.tensor(X.copy(), requires_grad=True)
        if case == "tensor_split output":
            y = x.clone()
            y.tensor_split(2)[1].mul_(2)
            return (y * y).sum()
        if case == "split output, no grad":
            y = x.clone()
            with m.no_grad():
                y.split(2)[1].mul_(2)
            return (y * y).sum()
        y = m.tensor(X.copy())
        y.unbind()[1].mul_(2)
        return (y * x).sum()
    c, t = f(cadenza), f(torch)
    np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), rtol=1e-12)

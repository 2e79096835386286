"""Autograd engine behaviour vs PyTorch's documented semantics."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import cadenza
from cadenza.autograd import Function


def T(data, **kw):
    return cadenza.tensor(data, dtype=cadenza.float64, **kw)


def test_grad_accumulates_across_backward_calls():
    x = T([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (3 * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 + 3, 4 + 3])
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2, 4])


def test_shared_input_gradients_sum():
    x = T([3.0], requires_grad=True)
    y = x * x + x  # x used three times
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [7.0])


def test_second_backward_without_retain_graph_raises():
    x = T([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()  # retained once: fine
    np.testing.assert_allclose(x.grad.numpy(), 2 * (np.exp([1, 2]) * np.array([2, 3])))
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_create_graph_higher_order():
    x = T(2.0, requires_grad=True)
    y = x ** 3
    (g,) = cadenza.autograd.grad(y, x, create_graph=True)
    assert g.item() == pytest.approx(12.0)          # 3x^2
    (g2,) = cadenza.autograd.grad(g, x, create_graph=True)
    assert g2.item() == pytest.approx(12.0)         # 6x
    (g3,) = cadenza.autograd.grad(g2, x)
    assert g3.item() == pytest.approx(6.0)
    # backward with create_graph leaves a differentiable .grad
    z = T(1.5, requires_grad=True)
    (z.sin() * z).backward(create_graph=True)
    assert z.grad.requires_grad
    (d2,) = cadenza.autograd.grad(z.grad, z)
    zt = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    (zt.sin() * zt).backward(create_graph=True)
    (d2t,) = torch.autograd.grad(zt.grad, zt)
    assert d2.item() == pytest.approx(d2t.item())


def test_grad_allow_unused():
    x = T([1.0], requires_grad=True)
    w = T([2.0], requires_grad=True)
    y = (x * 3).sum()
    with pytest.raises(RuntimeError, match="not have been used"):
        cadenza.autograd.grad(y, [x, w], retain_graph=True)
    gx, gw = cadenza.autograd.grad(y, [x, w], allow_unused=True, retain_graph=True)
    assert gw is None and gx.item() == 3.0
    gx, gw = cadenza.autograd.grad(y, [x, w], materialize_grads=True)
    assert gw.tolist() == [0.0]
    assert x.grad is None  # grad() does not accumulate


def test_grad_of_input_not_requiring_grad_raises():
    x = T([1.0])
    y = T([1.0], requires_grad=True)
    with pytest.raises(RuntimeError):
        cadenza.autograd.grad((y * 2).sum(), x)
    with pytest.raises(RuntimeError, match="does not require grad"):
        (x * 2).sum().backward()


def test_backward_non_scalar_needs_gradient():
    x = T([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="scalar outputs"):
        y.backward()
    y.backward(T([1.0, 10.0]))
    assert x.grad.tolist() == [2.0, 20.0]


def test_backward_inputs_argument():
    x = T([1.0], requires_grad=True)
    w = T([2.0], requires_grad=True)
    (x * w).sum().backward(inputs=[x])
    assert x.grad.tolist() == [2.0] and w.grad is None


def test_register_hook_modifies_gradient():
    x = T([1.0, 2.0], requires_grad=True)
    seen = []
    h = x.register_hook(lambda g: seen.append(g.tolist()) or g * 10)
    (x * x).sum().backward()
    assert seen == [[2.0, 4.0]]
    assert x.grad.tolist() == [20.0, 40.0]
    h.remove()
    x.grad = None
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_hook_on_intermediate_and_retain_grad():
    x = T([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    y.register_hook(lambda g: g * 2)
    z = (y * y).sum()
    z.backward()
    assert y.grad is not None
    # torch: retain_grad sees the gradient after hooks registered before it? It is registered
    # first, so it sees the original gradient 2y; the x gradient sees the doubled one.
    xt = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    yt = xt * 3
    yt.retain_grad()
    yt.register_hook(lambda g: g * 2)
    (yt * yt).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), yt.grad.numpy())
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())
    assert y.retains_grad and not x.retains_grad


def test_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError):
        T([1.0]).register_hook(lambda g: g)


def test_no_grad_context_and_decorator():
    x = T([1.0], requires_grad=True)
    with cadenza.no_grad():
        y = x * 2
        assert not cadenza.is_grad_enabled()
    assert cadenza.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None

    @cadenza.no_grad()
    def f(a):
        return a * 2

    @cadenza.no_grad
    def g(a):
        return a * 2
    assert not f(x).requires_grad and not g(x).requires_grad
    assert (x * 2).requires_grad


def test_enable_grad_inside_no_grad():
    x = T([1.0], requires_grad=True)
    with cadenza.no_grad():
        with cadenza.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and not z.requires_grad

    @cadenza.enable_grad()
    def f(a):
        return a * 2
    with cadenza.no_grad():
        assert f(x).requires_grad


def test_set_grad_enabled_function_and_context():
    x = T([1.0], requires_grad=True)
    with cadenza.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    cadenza.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        cadenza.set_grad_enabled(True)
    assert cadenza.is_grad_enabled()

    @cadenza.set_grad_enabled(False)
    def f(a):
        return a * 2
    assert not f(x).requires_grad
    assert cadenza.is_grad_enabled()


def test_inference_mode():
    x = T([1.0], requires_grad=True)
    with cadenza.inference_mode():
        assert cadenza.is_inference_mode_enabled()
        y = x * 2
    assert not y.requires_grad
    assert not cadenza.is_inference_mode_enabled()

    @cadenza.inference_mode()
    def f(a):
        return a * 2
    assert not f(x).requires_grad
    with cadenza.inference_mode(False):
        assert (x * 2).requires_grad


def test_no_grad_decorates_generators():
    x = T([1.0], requires_grad=True)

    @cadenza.no_grad()
    def gen():
        yield x * 2
        yield x * 3
    outs = list(gen())
    assert not any(o.requires_grad for o in outs)
    assert cadenza.is_grad_enabled()


def test_detach_shares_storage_and_stops_gradient():
    x = T([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None
    d[0] = 100.0
    assert y[0].item() == 100.0  # shares memory, like torch
    z = (x * y.detach()).sum()
    z.backward()
    assert x.grad.tolist() == [100.0, 4.0]


def test_detach_then_inplace_is_caught_by_version_counter():
    a = T([1.0, 2.0], requires_grad=True)
    y = a.exp()
    y.detach().add_(1)  # detach shares the version counter
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_requires_grad_on_int_tensor_raises():
    with pytest.raises(RuntimeError):
        cadenza.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2], requires_grad=True)


def test_requires_grad_of_non_leaf():
    x = T([1.0], requires_grad=True)
    y = x * 2
    assert not y.is_leaf and x.is_leaf
    with pytest.raises(RuntimeError):
        y.requires_grad = False


# ----------------------------------------------------------------------------- custom Functions
class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        out = x.exp()
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out


class MulConst(Function):
    @staticmethod
    def forward(ctx, x, w, k):
        ctx.save_for_backward(x, w)
        ctx.k = k
        return x * w * k

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        ctx.seen = ctx.needs_input_grad
        gx = g * w * ctx.k if ctx.needs_input_grad[0] else None
        gw = g * x * ctx.k if ctx.needs_input_grad[1] else None
        return gx, gw, None


class SortWithIndex(Function):
    @staticmethod
    def forward(ctx, x):
        values, idx = x.sort()
        ctx.mark_non_differentiable(idx)
        ctx.save_for_backward(idx)
        ctx.n = x.shape[0]
        return values, idx

    @staticmethod
    def backward(ctx, gv, gi):
        (idx,) = ctx.saved_tensors
        out = cadenza.zeros(ctx.n, dtype=gv.dtype)
        return out.index_add(0, idx, gv)


class SplitTwo(Function):
    """Two differentiable outputs: (2x, x^2)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * 2, x * x

    @staticmethod
    def backward(ctx, ga, gb):
        (x,) = ctx.saved_tensors
        return ga * 2 + gb * 2 * x


def test_custom_function_single_output():
    x = T([0.5, 1.0], requires_grad=True)
    y = Exp.apply(x)
    assert y.grad_fn is not None and "Exp" in y.grad_fn.name()
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.5, 1.0]))


def test_custom_function_needs_input_grad():
    x = T([1.0, 2.0], requires_grad=True)
    w = T([3.0, 4.0])
    y = MulConst.apply(x, w, 2.0)
    y.sum().backward()
    assert x.grad.tolist() == [6.0, 8.0] and w.grad is None
    assert y.grad_fn.op.ctx.seen == (True, False, False)


def test_custom_function_multi_output_and_non_differentiable():
    x = T([3.0, 1.0, 2.0], requires_grad=True)
    v, i = SortWithIndex.apply(x)
    assert v.requires_grad and not i.requires_grad
    assert i.tolist() == [1, 2, 0]
    (v * T([1.0, 10.0, 100.0])).sum().backward()
    assert x.grad.tolist() == [100.0, 1.0, 10.0]

    z = T([1.5, -2.0], requires_grad=True)
    a, b = SplitTwo.apply(z)
    (a.sum() + 3 * b.sum()).backward()
    np.testing.assert_allclose(z.grad.numpy(), 2 + 3 * 2 * np.array([1.5, -2.0]))
    # only one output used
    z.grad = None
    a, b = SplitTwo.apply(z)
    b.sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), 2 * np.array([1.5, -2.0]))


def _setup_context_fn(lib):
    """torch 2's form: forward without ctx, setup_context(ctx, inputs, output) fills it, and
    a subclass inheriting both keeps that form."""
    class ScaledExp(lib.autograd.Function):
        @staticmethod
        def forward(x, k):
            return (x * k).exp()

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.k = inputs[1]
            ctx.save_for_backward(output)

        @staticmethod
        def backward(ctx, g):
            (out,) = ctx.saved_tensors
            return g * out * ctx.k, None

    class Child(ScaledExp):
        pass
    return ScaledExp, Child


def test_custom_function_setup_context_matches_torch():
    got = []
    for lib in (torch, cadenza):
        fns = _setup_context_fn(lib)
        row = []
        for fn in fns:
            x = lib.tensor([0.5, -1.0], dtype=lib.float64, requires_grad=True)
            y = fn.apply(x, 3.0)
            (y * lib.tensor([1.0, 2.0], dtype=lib.float64)).sum().backward()
            row.append((y.detach().numpy(), x.grad.numpy()))
        with lib.no_grad():
            row.append((fns[0].apply(lib.tensor([0.0], dtype=lib.float64), 2.0).numpy(),))
        got.append(row)
    for mine, theirs in zip(got[1], got[0]):
        for a, b in zip(mine, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-12)
    assert cadenza.autograd.gradcheck(
        lambda x: _setup_context_fn(cadenza)[0].apply(x, 0.7),
        (T([0.3, -0.2], requires_grad=True),))


def test_custom_function_gradcheck():
    x = T([0.3, -0.7], requires_grad=True)
    assert cadenza.autograd.gradcheck(Exp.apply, (x,))
    assert cadenza.autograd.gradgradcheck(Exp.apply, (x,))


def test_custom_function_saved_tensor_modified_raises():
    x = T([1.0, 2.0], requires_grad=True)
    h = x * 1
    y = MulConst.apply(h, T([1.0, 1.0]), 1.0)
    h.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace"):
        y.sum().backward()


# ----------------------------------------------------------------------------- in-place + versions
def test_inplace_on_saved_output_raises():
    x = T([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    yt = xt.exp()
    yt.add_(1)
    with pytest.raises(RuntimeError):
        yt.sum().backward()


def test_inplace_on_saved_input_raises():
    a = T([1.0, 2.0], requires_grad=True)
    b = T([3.0, 4.0], requires_grad=True)
    a2, b2 = a * 1, b * 1
    y = a2 * b2
    a2.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_inplace_on_saved_input_no_grad_leaf_raises():
    a = T([1.0, 2.0])
    b = T([3.0, 4.0], requires_grad=True)
    y = a * b        # saves a for b's gradient
    a.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_inplace_not_needed_for_backward_is_fine():
    x = T([1.0, 2.0], requires_grad=True)
    y = x + 1        # add saves nothing
    y.mul_(3)        # mul saves y's old value itself
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    a = T([1.0, 2.0], requires_grad=True)
    h = a * 2
    h.add_(h)        # x += x style
    h.sum().backward()
    assert a.grad.tolist() == [4.0, 4.0]


def test_inplace_chain_gradient_matches_torch():
    def run(lib, x):
        y = x * 2
        y.add_(1)
        y.mul_(3)
        y.sub_(x)
        y.exp_()    # saves its output; nothing writes y afterwards
        return y
    xc = T([0.5, -1.0, 0.25], requires_grad=True)
    xt = torch.tensor([0.5, -1.0, 0.25], dtype=torch.float64, requires_grad=True)
    run(cadenza, xc).sum().backward()
    run(torch, xt).sum().backward()
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy())


def test_inplace_self_operand_uses_snapshot():
    # torch raises here (mul_ saved y, then mul_ changed it); Cadenza snapshots the old value
    # of self for the op that overwrites it, so the gradient is simply correct: d(2x)^2 = 8x
    x = T([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.mul_(y)
    y.sum().backward()
    assert x.grad.tolist() == [8.0, 16.0]


def test_inplace_on_leaf_requiring_grad_raises():
    x = T([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1)
    with pytest.raises(RuntimeError):
        x[0] = 2.0
    with pytest.raises(RuntimeError):
        x += 1
    with cadenza.no_grad():
        x.add_(1)  # allowed: optimizer-style update
    assert x.tolist() == [2.0]


def test_version_counter_increments():
    x = T([1.0, 2.0])
    v = x._version
    x.add_(1)
    x[0] = 3.0
    assert x._version == v + 2


# ----------------------------------------------------------------------------- anomaly detection
def test_detect_anomaly_forward_names_op_and_line():
    x = T([1.0, -1.0], requires_grad=True)
    with pytest.raises(RuntimeError) as info:
        with cadenza.autograd.detect_anomaly():
            x.log()  # MARK-forward
    msg = str(info.value)
    assert "log" in msg and "test_autograd.py" in msg and "MARK-forward" in msg


def test_detect_anomaly_backward_names_op_and_line():
    x = T([0.0, 4.0], requires_grad=True)
    with pytest.raises(RuntimeError) as info:
        with cadenza.autograd.detect_anomaly():
            y = x.sqrt()  # MARK-backward
            y.sum().backward()
    msg = str(info.value)
    assert "Sqrt" in msg and "test_autograd.py" in msg and "MARK-backward" in msg


def test_no_anomaly_error_without_detection():
    x = T([0.0, 4.0], requires_grad=True)
    x.sqrt().sum().backward()
    assert np.isinf(x.grad.numpy()[0])
    assert not cadenza.autograd.is_anomaly_enabled()


# ----------------------------------------------------------------------------- indexing gradients
def test_repeated_index_gradient_accumulates():
    x = T([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 1]].sum().backward()
    assert x.grad.tolist() == [2.0, 1.0, 0.0]
    y = T([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    idx = cadenza.tensor([1, 1, 1])
    (y[idx, 0] * T([1.0, 2.0, 3.0])).sum().backward()
    assert y.grad.tolist() == [[0.0, 0.0], [6.0, 0.0]]


def test_setitem_with_grad():
    x = T([1.0, 2.0, 3.0], requires_grad=True)
    v = T([10.0], requires_grad=True)
    y = x * 1
    y[1] = v[0] * 2
    (y * T([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 3.0]
    assert v.grad.tolist() == [4.0]
    xt = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    vt = torch.tensor([10.0], requires_grad=True)
    yt = xt * 1
    yt[1] = vt[0] * 2
    (yt * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert xt.grad.tolist() == x.grad.tolist() and vt.grad.tolist() == v.grad.tolist()


def test_setitem_mask_and_slice_with_grad():
    x = T([[1.0, -2.0], [-3.0, 4.0]], requires_grad=True)
    y = x.clone()
    y[y < 0] = 0.0
    y[:, 1] = y[:, 1] * 3
    y.sum().backward()
    xt = torch.tensor([[1.0, -2.0], [-3.0, 4.0]], dtype=torch.float64, requires_grad=True)
    yt = xt.clone()
    yt[yt < 0] = 0.0
    yt[:, 1] = yt[:, 1] * 3
    yt.sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())


def test_grad_fn_names_and_next_functions():
    x = T([1.0], requires_grad=True)
    y = (x * 2).exp()
    assert y.grad_fn.name() == "ExpBackward0"
    (mul_node, _), = y.grad_fn.next_functions
    assert mul_node.name() == "MulBackward0"
    assert mul_node.next_functions[0][0].name() == "AccumulateGrad"

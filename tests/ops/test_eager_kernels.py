"""The eager kernels' fast paths (issue 12) give the values of the paths they replace: PyTorch's
bits for pow by small integers, float32 erf within a few ulp of torch, the fused in-place
updates of optimizers bit for bit equal to their composites, padding equal to np.pad."""
import math

import numpy as np
import pytest

import cadenza
from cadenza.ops import elementwise as E
from cadenza.ops.unary import _sigmoid_fwd
from cadenza.ops.views import PadConstant

torch = pytest.importorskip("torch")

SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30, 3e38]


def _values(dt, n=4000, scale=3.0, seed=0):
    x = np.random.default_rng(seed).standard_normal(n) * scale
    with np.errstate(over="ignore"):
        return np.concatenate([x, SPECIAL]).astype(dt)


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("e", [3.0, 3, -2.0, -2, -0.5, 2.0, 2, -1.0, 0.0, 1.0])
def test_pow_small_exponents_are_torchs_bits(dt, e):
    x = _values(dt)
    if e == -0.5:
        x = np.abs(x)
    with np.errstate(all="ignore"):
        ours = (cadenza.from_numpy(x) ** e).numpy()
    want = (torch.from_numpy(x) ** e).numpy()
    assert ours.dtype == want.dtype
    np.testing.assert_array_equal(ours, want)


def test_pow_integer_tensor_keeps_integer_cube():
    assert (cadenza.tensor([1, -2, 3]) ** 3).tolist() == [1, -8, 27]
    assert (cadenza.tensor([1, -2, 3]) ** 3).dtype == cadenza.int64


@pytest.mark.parametrize("dt", [np.float32, np.float16])
def test_erf_low_precision_within_ulps_of_torch(dt):
    x = np.concatenate([_values(dt), np.linspace(-6, 6, 20001).astype(dt),
                        np.geomspace(1e-30, 1e-3, 200).astype(dt)]).astype(dt)
    ours = cadenza.erf(cadenza.from_numpy(x)).numpy()
    want = torch.erf(torch.from_numpy(x)).numpy()
    assert ours.dtype == want.dtype
    if dt == np.float16:  # torch's half erf is off by up to 4 ulp: compare with the exact one
        want = np.array([math.erf(v) for v in x.astype(np.float64)]).astype(dt)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(want))
    ok = ~np.isnan(want)
    ulp = np.spacing(np.abs(want[ok]).astype(dt)).astype(np.float64)
    err = np.abs(ours[ok].astype(np.float64) - want[ok].astype(np.float64)) / ulp
    assert err.max() <= (8 if dt == np.float32 else 1)
    np.testing.assert_array_equal(ours[x == np.inf], 1.0)
    np.testing.assert_array_equal(ours[x == -np.inf], -1.0)


def test_gelu_exact_float32_close_to_torch():
    x = _values(np.float32)[:-8]
    t = torch.from_numpy(x).requires_grad_()
    c = cadenza.from_numpy(x).requires_grad_()
    yt, yc = torch.nn.functional.gelu(t), cadenza.nn.functional.gelu(c)
    np.testing.assert_allclose(yc.detach().numpy(), yt.detach().numpy(), rtol=1e-6, atol=1e-6)
    yt.sum().backward()
    yc.sum().backward()
    np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("shape", [(1000,), (3, 4, 5), (), (0,)])
def test_sigmoid_matches_the_sign_split_formula(dt, shape):
    a = np.asarray(np.random.default_rng(1).standard_normal(shape) * 20).astype(dt)
    if a.size > 5:
        a.flat[:5] = [np.nan, np.inf, -np.inf, 0, -0.0]
    with np.errstate(all="ignore"):
        e = np.exp(-np.abs(a))
        want = np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(dt)
        got = _sigmoid_fwd(np, a)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dt", [np.float32, np.int64, np.bool_])
@pytest.mark.parametrize("pads", [((0, 0), (1, 2), (0, 3)), ((2, 0), (0, 0), (0, 0))])
@pytest.mark.parametrize("value", [0.0, 1.5, True])
def test_pad_constant_equals_np_pad(dt, pads, value):
    a = (np.random.default_rng(2).standard_normal((3, 4, 5)) * 3).astype(dt)
    got = PadConstant.forward(np, a, pads, value)
    want = np.pad(a, pads, constant_values=value)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("index", [(1,), (-1, slice(2, 4)), (slice(None), 2),
                                   (0, -2, slice(1, None)), (slice(1, 3), slice(0, 0))])
def test_getitem_backward_of_ints_and_slices_matches_torch(index):
    x = np.random.default_rng(3).standard_normal((3, 4, 5)).astype(np.float32)
    t = torch.from_numpy(x).requires_grad_()
    c = cadenza.from_numpy(x).requires_grad_()
    g = np.random.default_rng(4).standard_normal(t[index].shape).astype(np.float32)
    t[index].backward(torch.from_numpy(g))
    c[index].backward(cadenza.from_numpy(g))
    np.testing.assert_array_equal(c.grad.numpy(), t.grad.numpy())


def _blocks_loss(lib, x):
    """A sum over several block reads of x: split, chunk, overlapping slices, integer
    selects in a loop, a transposed view's slices and an ordinary op's gradient mixed in."""
    a, b, c = x.split([1, 2, 3], dim=1)
    p, q = x.transpose(0, 1).chunk(2, dim=0)
    out = (a * 2).sum() + (b ** 2).sum() + c.sin().sum() + (p * q.flip(0)).sum()
    out = out + (x[:, 1:4] * x[:, 2:5]).sum() + x.exp().sum()
    for t in range(x.shape[0]):
        out = out + x[t, -1] * t
    return out


def test_block_reads_accumulate_as_torch():
    """The engine's in-place accumulation of block gradients (autograd/engine.py
    _slice_grad) gives torch's gradient, and the padded-sum path's (create_graph=True)."""
    x = np.random.default_rng(6).standard_normal((5, 6)).astype(np.float64)
    t = torch.from_numpy(x).requires_grad_()
    _blocks_loss(torch, t).backward()
    c = cadenza.from_numpy(x).requires_grad_()
    _blocks_loss(cadenza, c).backward()
    np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy(), rtol=1e-14, atol=1e-14)
    c2 = cadenza.from_numpy(x).requires_grad_()
    (general,) = cadenza.autograd.grad(_blocks_loss(cadenza, c2), c2, create_graph=True)
    np.testing.assert_array_equal(c.grad.numpy(), general.detach().numpy())


def test_leaf_grads_are_never_shared():
    """A leaf keeps a gradient array without copying it only when nothing else holds it: a
    gradient handed to two leaves, one a hook keeps, a user's backward gradient, views and
    retained graphs' outputs are copied; writing into one .grad never changes another
    tensor (torch's semantics)."""
    a = cadenza.randn(3, requires_grad=True)
    b = cadenza.randn(3, requires_grad=True)
    (a + b).sum().backward()
    a.grad.add_(1)
    assert b.grad.tolist() == [1.0, 1.0, 1.0]
    kept = []
    w = cadenza.randn(4, requires_grad=True)
    w.register_hook(lambda g: kept.append(g * 3) or kept[-1])
    (w * 2).sum().backward()
    w.grad.add_(100)
    assert kept[0].tolist() == [6.0] * 4
    x = cadenza.randn(2, 3, requires_grad=True)
    gout = cadenza.ones(2, 3)
    x.backward(gout)
    x.grad.add_(1)
    assert gout.tolist() == [[1.0] * 3] * 2
    y = cadenza.randn(3, requires_grad=True)
    e = y.exp()
    e.backward(cadenza.ones(3), retain_graph=True)
    before = e.detach().numpy().copy()
    y.grad.mul_(0)
    np.testing.assert_array_equal(e.detach().numpy(), before)
    lin = cadenza.nn.Linear(5, 2)
    inp = cadenza.randn(4, 5)
    out = lin(inp)
    out.sum().backward()
    want = (inp.t() @ cadenza.ones(4, 2)).t()
    np.testing.assert_allclose(lin.weight.grad.numpy(), want.numpy(), rtol=1e-6)
    lin.weight.grad.zero_()
    assert float(lin.bias.grad.sum()) == 4 * 2


_COMPOSITE = {"lerp_": E.lerp, "addcmul_": E.addcmul, "addcdiv_": E.addcdiv}


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("xs,ts", [((5, 7), (5, 7)), ((5, 7), (7,)), ((5, 7), (1, 7)),
                                   ((), ())])
@pytest.mark.parametrize("name,extra", [("lerp_", (0.1,)), ("lerp_", (0.7,)),
                                        ("addcmul_", {"value": 0.001}), ("addcmul_", {}),
                                        ("addcdiv_", {"value": -3e-4}), ("addcdiv_", {})])
def test_fused_inplace_updates_equal_their_composites(dt, xs, ts, name, extra):
    rng = np.random.default_rng(5)
    x = cadenza.from_numpy(np.asarray(rng.standard_normal(xs)).astype(dt))
    a = cadenza.from_numpy(np.asarray(rng.standard_normal(ts)).astype(dt))
    b = cadenza.from_numpy(np.asarray(rng.random(ts) + 0.5).astype(dt))
    args, kw = ((a,) + extra, {}) if name == "lerp_" else ((a, b), extra)
    want = _COMPOSITE[name](x, *args, **kw).numpy()
    y = x.clone()
    view = y.view(-1) if y.ndim else y
    version = y._version
    with cadenza.no_grad():
        assert getattr(y, name)(*args, **kw) is y
    np.testing.assert_array_equal(y.numpy(), want)
    np.testing.assert_array_equal(view.numpy().reshape(y.shape), want)  # in y's own buffer
    assert y._version == version + 1


def test_fused_inplace_update_errors_as_the_op_path():
    x = cadenza.zeros(3)
    with pytest.raises(RuntimeError, match="broadcast shape"):
        x.addcmul_(cadenza.ones(2, 3), cadenza.ones(2, 3))
    assert x.tolist() == [0.0, 0.0, 0.0]
    w = cadenza.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w.lerp_(cadenza.ones(3), 0.5)


def _lstm_composite(z, c):
    i, f, g, o = z.chunk(4, -1)
    cn = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * cn.tanh(), cn


def _gru_composite(xw, hw, h):
    x_r, x_z, x_n = xw.chunk(3, -1)
    h_r, h_z, h_n = hw.chunk(3, -1)
    r, z = (x_r + h_r).sigmoid(), (x_z + h_z).sigmoid()
    return (1 - z) * (x_n + r * h_n).tanh() + z * h


def _fused_vs_composite(fused, composite, arrays, lib=cadenza, exact=True):
    """Outputs (bit for bit, or within a few epsilons: ``exact`` False) and first-order gradients
    of the fused step vs the composite."""
    ins = [[lib.from_numpy(a).requires_grad_() for a in arrays] for _ in range(2)]
    outs = [fused(*ins[0]), composite(*ins[1])]
    outs = [o if isinstance(o, tuple) else (o,) for o in outs]
    for a, b in zip(*outs):
        a, b = a.detach().numpy(), b.detach().numpy()
        if exact:
            np.testing.assert_array_equal(a, b)
        else:
            tol = 4 * np.finfo(a.dtype).eps   # (values of order 1)
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    for o, xs in zip(outs, ins):
        sum((t * t).sum() for t in o).backward()
    for a, b in zip(*ins):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-6 if exact else 1e-5,
                                   atol=1e-7 if exact else 1e-6)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("lead", [(5,), (), (2, 3), (0,)])
@pytest.mark.parametrize("kernels", [False, True])
def test_fused_lstm_and_gru_steps_equal_their_composites(dt, lead, kernels, monkeypatch):
    """The NumPy forms give the composite's bits; the C kernels (libm's exp/tanh) are within
    rounding of them."""
    from cadenza.backend import ckernels
    from cadenza.ops.activation import gru_cell, lstm_cell
    monkeypatch.setattr(ckernels, "enabled", kernels)
    rng = np.random.default_rng(6)
    arr = lambda *s: np.asarray(rng.standard_normal(lead + s)).astype(dt)  # noqa: E731
    _fused_vs_composite(lstm_cell, _lstm_composite, [arr(12), arr(3)], exact=not kernels)
    _fused_vs_composite(gru_cell, _gru_composite, [arr(9), arr(9), arr(3)], exact=not kernels)


def test_fused_steps_second_order_matches_torch():
    from cadenza.ops.activation import gru_cell, lstm_cell
    rng = np.random.default_rng(7)
    for fused, comp, shapes in ((lstm_cell, _lstm_composite, [(2, 8), (2, 2)]),
                                (gru_cell, _gru_composite, [(2, 6), (2, 6), (2, 2)])):
        arrays = [rng.standard_normal(s) for s in shapes]
        got = []
        for lib, fn in ((cadenza, fused), (torch, comp)):
            xs = [lib.from_numpy(a).requires_grad_() for a in arrays]
            out = fn(*xs)
            out = out if isinstance(out, tuple) else (out,)
            gs = lib.autograd.grad(sum((t * t).sum() for t in out), xs, create_graph=True)
            sum((g * g).sum() for g in gs).backward()
            got.append([x.grad.numpy() for x in xs])
        for a, b in zip(*got):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_nn_lstm_and_gru_train_as_torch():
    """nn.LSTM / nn.GRU (their steps now fused) with torch's weights: outputs and weight
    gradients as torch's."""
    for name in ("LSTM", "GRU"):
        torch.manual_seed(0)
        tm = getattr(torch.nn, name)(4, 3, num_layers=2, batch_first=True)
        cm = getattr(cadenza.nn, name)(4, 3, num_layers=2, batch_first=True)
        cm.load_state_dict({k: cadenza.from_numpy(v.detach().numpy().copy())
                            for k, v in tm.state_dict().items()})
        x = np.random.default_rng(8).standard_normal((2, 5, 4)).astype(np.float32)
        yt, _ = tm(torch.from_numpy(x))
        yc, _ = cm(cadenza.from_numpy(x))
        np.testing.assert_allclose(yc.detach().numpy(), yt.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)
        (yt * yt).sum().backward()
        (yc * yc).sum().backward()
        for (k, pt), (_, pc) in zip(tm.named_parameters(), cm.named_parameters()):
            np.testing.assert_allclose(pc.grad.numpy(), pt.grad.numpy(), rtol=1e-4,
                                       atol=1e-5, err_msg=f"{name} {k}")


@pytest.mark.parametrize("target,ignore", [([0, 4, 2, 2], -100), ([0, 4, 2, 2], 2),
                                           ([1, 1, 1, 1], 1), (3, -100)])
def test_fused_nll_loss_equals_composite_and_torch(target, ignore):
    """F.nll_loss without class weights (one primitive in eager mode): the composite's bits
    (the path compiled graphs trace), torch's values, gradients and second-order gradients."""
    from cadenza.functional.loss import _nll_of
    rng = np.random.default_rng(9)
    t = np.array(target)
    cd = 0 if t.ndim == 0 else 1
    for dt in (np.float32, np.float64):
        x = np.log(rng.uniform(0.1, 2.0, (5,) if t.ndim == 0 else (4, 5))).astype(dt)
        for reduction in ("mean", "sum", "none"):
            got = []
            for lib, fn in ((cadenza, cadenza.nn.functional.nll_loss),
                            (cadenza, lambda a, b, **k: _nll_of(a, b, None, k["ignore_index"],
                                                                k["reduction"], cd)),
                            (torch, torch.nn.functional.nll_loss)):
                a = lib.tensor(x, requires_grad=True)
                out = fn(a, lib.tensor(t), ignore_index=ignore, reduction=reduction)
                (g,) = lib.autograd.grad((out * out).sum(), a, create_graph=True)
                (g * g).sum().backward()
                got.append([out.detach().numpy(), g.detach().numpy(), a.grad.numpy()])
            for f, c, r in zip(*got):
                np.testing.assert_array_equal(f, c)
                np.testing.assert_allclose(f, r, rtol=1e-6, atol=1e-7)
    x_c = cadenza.tensor(x, requires_grad=True)
    node = cadenza.nn.functional.nll_loss(x_c, cadenza.tensor(t), ignore_index=ignore).grad_fn
    assert type(node).__name__ == "NllLossBackward0"
    assert node.next_functions[0][0].variable is x_c


def test_numpy_integer_index_is_an_int_index():
    x = cadenza.arange(12.0).reshape(4, 3).requires_grad_()
    for i in (2, -1):
        for idx in (np.int64(i), np.intp(i)):
            y = x[idx]
            assert y.tolist() == x[i].tolist()
            assert type(y.grad_fn).__name__ == "SelectBackward0"
    with pytest.raises(IndexError, match="out of bounds"):
        x[np.int64(7)]


def test_linear_of_one_input_feature_is_the_matmul_bits():
    """x (N, 1) W^T: a product instead of NumPy's matmul loop, the same bits (signed zeros
    and non-finite values included)."""
    for dt in (np.float64, np.float32):
        x = np.array([[0.0], [-0.0], [1.5], [np.inf], [-2.0]], dtype=dt)
        w = np.array([[0.0], [-0.0], [3.0], [-7.25]], dtype=dt)
        for b in (None, np.array([-0.0, 0.0, 1.0, -0.0], dtype=dt)):
            args = [cadenza.from_numpy(a) for a in (x, w) + ((b,) if b is not None else ())]
            got = cadenza.nn.functional.linear(*args).numpy()
            with np.errstate(invalid="ignore"):
                want = np.matmul(x, np.ascontiguousarray(w.T)) + (0 if b is None else b)
            np.testing.assert_array_equal(got, want)
            assert np.array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("xs,ws", [((2, 3, 4), (3,)), ((2, 3, 4), (1,)), ((5,), (1,))])
def test_fused_prelu_equals_composite_and_torch(xs, ws):
    """F.prelu in eager mode (one primitive, PreluKernelBackward0): the composite's bits, and
    torch's values, gradients and second-order gradients."""
    rng = np.random.default_rng(10)
    for dt in (np.float32, np.float64):
        x = rng.standard_normal(xs).astype(dt)
        x.flat[0] = 0.0
        w = rng.uniform(-0.5, 0.5, ws).astype(dt)
        got = []
        for lib, fn in ((cadenza, cadenza.nn.functional.prelu),
                        (cadenza, lambda a, b: cadenza.where(
                            a > 0, a, (b.reshape((-1,) + (1,) * (a.ndim - 2)) if a.ndim > 1
                                       and b.numel() > 1 else b.reshape(())) * a)),
                        (torch, torch.nn.functional.prelu)):
            a, b = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
            out = fn(a, b)
            first = lib.autograd.grad((out * out * out).sum(), (a, b), retain_graph=True)
            gs = lib.autograd.grad((out * out * out).sum(), (a, b), create_graph=True)
            sum((g * g).sum() for g in gs).backward()
            got.append([out.detach().numpy()] + [g.numpy() for g in first] +
                       [g.detach().numpy() for g in gs] + [a.grad.numpy(), b.grad.numpy()])
            if lib is cadenza and len(got) == 1:
                assert type(out.grad_fn).__name__ == "PreluKernelBackward0"
        for f, c, r in zip(*got):
            np.testing.assert_array_equal(f, c)
            np.testing.assert_allclose(f, r, rtol=1e-5, atol=1e-6)


def test_stack_without_a_graph_is_one_cat():
    """stack of tensors nothing records (no grad): torch's values, a fresh C-contiguous
    tensor (not a view of its inputs); with grad, StackBackward0 and torch's gradients."""
    rng = np.random.default_rng(11)
    for shape, dim in [((3, 4), 0), ((3, 4), 1), ((3, 4), -1), ((), 0), ((2, 0), 1)]:
        xs = [np.asarray(rng.standard_normal(shape), dtype=np.float32) for _ in range(3)]
        a = cadenza.stack([cadenza.from_numpy(x) for x in xs], dim)
        b = torch.stack([torch.from_numpy(x) for x in xs], dim)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert a.numpy().flags.c_contiguous and a._base is None
    x = cadenza.ones(2, 3)
    cadenza.stack([x, x]).add_(1)
    assert x.sum().item() == 6.0
    w = cadenza.ones(2, requires_grad=True)
    with cadenza.no_grad():
        assert not cadenza.stack([w, w]).requires_grad
    s = cadenza.stack([w, w * 2], 1)
    assert type(s.grad_fn).__name__ == "StackBackward0"
    (s * cadenza.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    assert w.grad.tolist() == [5.0, 11.0]

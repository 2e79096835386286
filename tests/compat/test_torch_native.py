"""ATen's top-level nn forms (cadenza/_torch_native.py) against torch: native_layer_norm /
native_batch_norm / native_group_norm / native_dropout with their saved statistics, the
functional lstm/gru/rnn_tanh/rnn_relu (padded and packed), convolution, conv_tbc,
grid_sampler*, affine_grid_generator and embedding_bag; values and gradients."""
import numpy as np
import pytest

import cadenza

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(0)


def _pair(*shape, grad=True, scale=1.0):
    a = RNG.standard_normal(shape) * scale
    return (cadenza.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad))


def _close(c, t, atol=1e-10):
    if isinstance(c, (tuple, list)):
        assert len(c) == len(t)
        for x, y in zip(c, t):
            _close(x, y, atol)
        return
    assert tuple(c.shape) == tuple(t.shape), (c.shape, t.shape)
    assert str(c.dtype).split(".")[1] == str(t.dtype).split(".")[1]
    np.testing.assert_allclose(c.detach().numpy().astype(np.float64),
                               t.detach().numpy().astype(np.float64), atol=atol, rtol=1e-8)


def _grads_match(c_leaves, t_leaves, c_out, t_out):
    (c_out * c_out).sum().backward()
    (t_out * t_out).sum().backward()
    for c, t in zip(c_leaves, t_leaves):
        _close(c.grad, t.grad, 1e-8)


def test_native_norms_match_torch():
    (xc, xt), (wc, wt), (bc, bt) = _pair(2, 3, 4), _pair(4), _pair(4)
    c = cadenza.native_layer_norm(xc, [4], wc, bc, 1e-5)
    t = torch.native_layer_norm(xt, [4], wt, bt, 1e-5)
    _close(c, t)
    assert [o.requires_grad for o in c] == [o.requires_grad for o in t]
    _grads_match([xc, wc, bc], [xt, wt, bt], c[0], t[0])
    _close(cadenza.native_layer_norm(xc, [3, 4], None, None, 1e-5),
           torch.native_layer_norm(xt, [3, 4], None, None, 1e-5))

    (xc, xt) = _pair(4, 3, 5)
    rc, rt = cadenza.zeros(3, dtype=cadenza.float64), torch.zeros(3, dtype=torch.float64)
    vc, vt = cadenza.ones(3, dtype=cadenza.float64), torch.ones(3, dtype=torch.float64)
    c = cadenza.native_batch_norm(xc, None, None, rc, vc, True, 0.1, 1e-5)
    t = torch.native_batch_norm(xt, None, None, rt, vt, True, 0.1, 1e-5)
    _close(c, t)
    _close((rc, vc), (rt, vt))
    _grads_match([xc], [xt], c[0], t[0])
    _close(cadenza.native_batch_norm(xc, None, None, rc, vc, False, 0.1, 1e-5),
           torch.native_batch_norm(xt, None, None, rt, vt, False, 0.1, 1e-5))

    (xc, xt), (wc, wt), (bc, bt) = _pair(2, 6, 5), _pair(6), _pair(6)
    c = cadenza.native_group_norm(xc, wc, bc, 2, 6, 5, 3, 1e-5)
    t = torch.native_group_norm(xt, wt, bt, 2, 6, 5, 3, 1e-5)
    _close(c, t)
    _grads_match([xc, wc, bc], [xt, wt, bt], c[0] + c[1].sum() + c[2].sum(),
                 t[0] + t[1].sum() + t[2].sum())
    with pytest.raises(cadenza.ShapeError, match="native_group_norm"):
        cadenza.native_group_norm(xc, wc, bc, 2, 6, 4, 3, 1e-5)


def test_native_dropout():
    x = cadenza.ones(2000, dtype=cadenza.float64, requires_grad=True)
    out, mask = cadenza.native_dropout(x, 0.25, True)
    assert mask.dtype == cadenza.bool and 0.7 < mask.float().mean().item() < 0.8
    np.testing.assert_allclose(out.detach().numpy(), mask.numpy() / 0.75)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), mask.numpy() / 0.75)
    out, mask = cadenza.native_dropout(x, 0.25, False)
    assert mask.all().item() and (out == x).all().item()
    out, mask = cadenza.native_dropout(x, 1.0, True)
    assert not mask.any().item() and out.abs().sum().item() == 0
    with pytest.raises(RuntimeError, match="p in"):
        cadenza.native_dropout(x, 1.5, True)


def _rnn_params(mode, layers, dirs, hidden, inp, bias):
    gates = {"lstm": 4, "gru": 3}.get(mode, 1) * hidden
    ps = []
    for layer in range(layers):
        for _ in range(dirs):
            size = inp if layer == 0 else hidden * dirs
            shapes = [(gates, size), (gates, hidden)] + ([(gates,), (gates,)] if bias else [])
            ps += [_pair(*s, scale=0.4) for s in shapes]
    return [p[0] for p in ps], [p[1] for p in ps]


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
@pytest.mark.parametrize("layers,bidir,bias,batch_first", [(1, False, True, False),
                                                           (2, True, False, True)])
def test_functional_rnns_match_torch(mode, layers, bidir, bias, batch_first):
    dirs = 2 if bidir else 1
    cp, tp = _rnn_params(mode, layers, dirs, 3, 2, bias)
    xc, xt = _pair(*((4, 5, 2) if batch_first else (5, 4, 2)))
    hc, ht = _pair(layers * dirs, 4, 3)
    cc, ct = _pair(layers * dirs, 4, 3)
    args = (bias, layers, 0.0, True, bidir, batch_first)
    if mode == "lstm":
        c = cadenza.lstm(xc, (hc, cc), cp, *args)
        t = torch.lstm(xt, (ht, ct), tp, *args)
    else:
        c = getattr(cadenza, mode)(xc, hc, cp, *args)
        t = getattr(torch, mode)(xt, ht, tp, *args)
    _close(c, t)
    _grads_match([xc, hc, *cp], [xt, ht, *tp], sum(o.sum() for o in c), sum(o.sum() for o in t))


def test_packed_lstm_and_bad_parameter_lists():
    cp, tp = _rnn_params("lstm", 1, 1, 3, 2, True)
    data = RNG.standard_normal((6, 2))
    sizes = [3, 2, 1]
    hc, ht = _pair(1, 3, 3)
    c = cadenza.lstm(cadenza.tensor(data), cadenza.tensor(sizes), (hc, hc), cp, True, 1, 0.0,
                     False, False)
    t = torch.lstm(torch.tensor(data), torch.tensor(sizes), (ht, ht), tp, True, 1, 0.0,
                   False, False)
    _close(c, t)
    with pytest.raises(RuntimeError, match="parameters per layer"):
        cadenza.gru(cadenza.ones(2, 1, 2), cadenza.zeros(1, 1, 3), cp[:3], True, 1, 0.0,
                    False, False, False)


def test_convolution_entries_match_torch():
    xc, xt = _pair(1, 2, 5, 5)
    wc, wt = _pair(3, 2, 3, 3)
    _close(cadenza.convolution(xc, wc, None, [1, 1], [1, 0], [1, 1], False, [0, 0], 1),
           torch.convolution(xt, wt, None, [1, 1], [1, 0], [1, 1], False, [0, 0], 1))
    wc2, wt2 = _pair(2, 3, 3, 3)
    c = cadenza.convolution(xc, wc2, None, [2, 2], [1, 1], [1, 1], True, [1, 1], 1)
    t = torch.convolution(xt, wt2, None, [2, 2], [1, 1], [1, 1], True, [1, 1], 1)
    _close(c, t)
    _grads_match([xc, wc2], [xt, wt2], c, t)
    (xc, xt), (wc, wt), (bc, bt) = _pair(7, 2, 3), _pair(3, 3, 4), _pair(4)
    c, t = cadenza.conv_tbc(xc, wc, bc, 1), torch.conv_tbc(xt, wt, bt, 1)
    _close(c, t)
    _grads_match([xc, wc, bc], [xt, wt, bt], c, t)
    with pytest.raises(cadenza.ShapeError, match="conv_tbc"):
        cadenza.conv_tbc(xc, wc[:, :2], bc)


def test_grid_sampler_and_affine_grid_generator():
    xc, xt = _pair(2, 3, 4, 4)
    g = RNG.uniform(-1, 1, (2, 3, 3, 2))
    for interp, pad, ac in ((0, 0, False), (1, 1, True), (0, 2, True)):
        _close(cadenza.grid_sampler(xc, cadenza.tensor(g), interp, pad, ac),
               torch.grid_sampler(xt, torch.tensor(g), interp, pad, ac))
    c = cadenza.grid_sampler_2d(xc, cadenza.tensor(g), 0, 0, False)
    t = torch.grid_sampler_2d(xt, torch.tensor(g), 0, 0, False)
    _close(c, t)
    _grads_match([xc], [xt], c, t)
    x5 = RNG.standard_normal((1, 2, 3, 3, 3))
    g5 = RNG.uniform(-1, 1, (1, 2, 2, 2, 3))
    _close(cadenza.grid_sampler_3d(cadenza.tensor(x5), cadenza.tensor(g5), 0, 0, False),
           torch.grid_sampler_3d(torch.tensor(x5), torch.tensor(g5), 0, 0, False))
    with pytest.raises(ValueError, match="interpolation_mode"):
        cadenza.grid_sampler(xc, cadenza.tensor(g), 5, 0, False)
    thc, tht = _pair(2, 2, 3)
    _close(cadenza.affine_grid_generator(thc, [2, 3, 4, 5], False),
           torch.affine_grid_generator(tht, [2, 3, 4, 5], False))


@pytest.mark.parametrize("mode", [0, 1, 2])
@pytest.mark.parametrize("padding_idx", [None, 3])
def test_embedding_bag_matches_torch(mode, padding_idx):
    wc, wt = _pair(5, 3)
    idx, off = [0, 1, 2, 4, 3], [0, 2, 2]
    c = cadenza.embedding_bag(wc, cadenza.tensor(idx), cadenza.tensor(off), False, mode, False,
                              None, False, padding_idx)
    t = torch.embedding_bag(wt, torch.tensor(idx), torch.tensor(off), False, mode, False,
                            None, False, padding_idx)
    _close(c, t)
    _grads_match([wc], [wt], c[0], t[0])
    _close(cadenza.embedding_bag(wc.float(), cadenza.tensor(idx), cadenza.tensor(off), mode=mode),
           torch.embedding_bag(wt.float(), torch.tensor(idx), torch.tensor(off), mode=mode),
           atol=1e-6)


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min", "prod", "amax"])
@pytest.mark.parametrize("initial", [None, 0.5])
def test_segment_reduce_matches_torch(reduce, initial):
    a = RNG.standard_normal((6, 3))
    xc, xt = cadenza.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    for kw in ({"lengths": [2, 0, 3, 1]}, {"offsets": [1, 3, 3, 6]}):
        ck = {k: cadenza.tensor(v) for k, v in kw.items()}
        tk = {k: torch.tensor(v) for k, v in kw.items()}
        c = cadenza.segment_reduce(xc, reduce, initial=initial, **ck)
        t = torch.segment_reduce(xt, reduce, initial=initial, **tk)
        _close(c, t)
    live = ~np.isinf(t.detach().numpy()) & ~np.isnan(t.detach().numpy())
    _grads_match([xc], [xt], c * cadenza.tensor(live), t * torch.tensor(live))


def test_segment_reduce_errors():
    x = cadenza.ones(3, 2)
    for kw, exc, msg in (({"lengths": cadenza.tensor([1, 1])}, RuntimeError, "sum to"),
                         ({"lengths": cadenza.tensor([2, -1, 2])}, RuntimeError, "negative"),
                         ({}, RuntimeError, "lengths or offsets")):
        with pytest.raises(exc, match=msg):
            cadenza.segment_reduce(x, "sum", **kw)
    with pytest.raises(RuntimeError, match="got avg"):
        cadenza.segment_reduce(x, "avg", lengths=cadenza.tensor([3]))

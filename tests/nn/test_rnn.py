"""RNN, LSTM, GRU and their cells vs torch.nn (same weights, float64)."""
import numpy as np
import pytest
import torch

import cadenza
import cadenza.nn as nn
from helpers import check_module, rand, to_torch

D, TD = cadenza.float64, torch.float64

CONFIGS = [
    dict(),
    dict(num_layers=2, bidirectional=True),
    dict(num_layers=2, batch_first=True, bias=False),
]


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("kw", CONFIGS)
def test_recurrent_layers(cls, kw):
    cm = getattr(nn, cls)(3, 5, dtype=D, **kw)
    tm = getattr(torch.nn, cls)(3, 5, dtype=TD, **kw)
    assert list(cm.state_dict()) == list(tm.state_dict())
    check_module(cm, tm, rand(4, 2, 3))


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_hidden_state_inputs_and_unbatched(cls):
    kw = dict(num_layers=2, bidirectional=True, batch_first=True)
    cm = getattr(nn, cls)(3, 4, dtype=D, **kw)
    tm = getattr(torch.nn, cls)(3, 4, dtype=TD, **kw)
    h0 = rand(4, 2, 4, seed=1)
    if cls == "LSTM":
        c0 = rand(4, 2, 4, seed=2)
        cout, tout = _run_with_state(cm, tm, rand(2, 5, 3), (h0, c0))
    else:
        cout, tout = _run_with_state(cm, tm, rand(2, 5, 3), h0)
    # unbatched input (L, H_in) with unbatched hidden (D * layers, H)
    cu = cm(cadenza.tensor(rand(5, 3)))
    tu = tm(torch.tensor(rand(5, 3)))
    np.testing.assert_allclose(cu[0].detach().numpy(), tu[0].detach().numpy(), rtol=1e-10)


def _run_with_state(cm, tm, x, state):
    from helpers import copy_into_torch
    copy_into_torch(cm, tm)
    if isinstance(state, tuple):
        cs = tuple(cadenza.tensor(s, requires_grad=True) for s in state)
        ts = tuple(torch.tensor(s, requires_grad=True) for s in state)
    else:
        cs, ts = cadenza.tensor(state, requires_grad=True), torch.tensor(state,
                                                                        requires_grad=True)
    cout, chid = cm(cadenza.tensor(x), cs)
    tout, thid = tm(torch.tensor(x), ts)
    np.testing.assert_allclose(cout.detach().numpy(), tout.detach().numpy(), rtol=1e-10)
    cl = cout.sum() + (chid[0].sum() + chid[1].pow(2).sum() if isinstance(chid, tuple)
                       else chid.pow(2).sum())
    tl = tout.sum() + (thid[0].sum() + thid[1].pow(2).sum() if isinstance(thid, tuple)
                       else thid.pow(2).sum())
    cl.backward()
    tl.backward()
    for c, t in zip(cs if isinstance(cs, tuple) else (cs,), ts if isinstance(ts, tuple)
                    else (ts,)):
        np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-12)
    return cout, tout


def test_lstm_proj_size():
    cm = nn.LSTM(3, 6, proj_size=2, num_layers=2, dtype=D)
    tm = torch.nn.LSTM(3, 6, proj_size=2, num_layers=2, dtype=TD)
    assert list(cm.state_dict()) == list(tm.state_dict())
    check_module(cm, tm, rand(4, 2, 3))


def test_rnn_relu_and_dropout_modes():
    cm = nn.RNN(3, 4, 2, "relu", dtype=D)
    tm = torch.nn.RNN(3, 4, 2, "relu", dtype=TD)
    check_module(cm, tm, rand(4, 2, 3))
    m = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    m.eval()
    x = cadenza.randn(4, 2, 3)
    assert np.array_equal(m(x)[0].detach().numpy(), m(x)[0].detach().numpy())
    m.train()
    assert m(x)[0].shape == (4, 2, 4)
    assert repr(m) == repr(torch.nn.LSTM(3, 4, num_layers=2, dropout=0.5))


def test_rnn_init_and_errors():
    m = nn.GRU(3, 16)
    for p in m.parameters():
        assert np.abs(p.detach().numpy()).max() <= 0.25
    with pytest.raises(cadenza.ShapeError):
        m(cadenza.zeros(4, 2, 5))
    with pytest.raises(cadenza.ShapeError):
        m(cadenza.zeros(4, 2, 3), cadenza.zeros(2, 2, 16))


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells(cls):
    cm = getattr(nn, cls)(3, 4, dtype=D)
    tm = getattr(torch.nn, cls)(3, 4, dtype=TD)
    check_module(cm, tm, rand(5, 3))
    check_module(cm, tm, rand(3))
    h = rand(5, 4, seed=3)
    state = (h, rand(5, 4, seed=4)) if cls == "LSTMCell" else h
    from helpers import copy_into_torch
    copy_into_torch(cm, tm)
    cst = tuple(map(cadenza.tensor, state)) if cls == "LSTMCell" else cadenza.tensor(state)
    tst = tuple(map(torch.tensor, state)) if cls == "LSTMCell" else torch.tensor(state)
    co, to = cm(cadenza.tensor(rand(5, 3)), cst), tm(torch.tensor(rand(5, 3)), tst)
    co = co[1] if cls == "LSTMCell" else co
    to = to[1] if cls == "LSTMCell" else to
    np.testing.assert_allclose(co.detach().numpy(), to.detach().numpy(), rtol=1e-10)
    assert repr(cm) == repr(tm)


def test_pytorch_state_dict_loads():
    tm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    cm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    cm.load_state_dict({k: cadenza.tensor(v.detach().numpy()) for k, v in
                        tm.state_dict().items()})
    x = rand(5, 2, 3, dtype=np.float32)
    np.testing.assert_allclose(cm(cadenza.tensor(x))[0].detach().numpy(),
                               tm(torch.tensor(x))[0].detach().numpy(), rtol=1e-4, atol=1e-6)
    assert to_torch(cm.weight_ih_l0).shape == (16, 3)


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("c_kernels", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_layer_primitive_paths_packed_bidirectional(monkeypatch, cls, c_kernels, dtype):
    """nn.LSTM's, nn.GRU's and nn.RNN's whole-sequence primitives (the C step kernels and their
    NumPy form) vs torch: packed variable-length batch, two bidirectional layers, outputs, final
    states and every gradient."""
    from cadenza.backend import ckernels
    from helpers import copy_into_torch
    monkeypatch.setattr(ckernels, "enabled", c_kernels)
    cdt, tdt = getattr(cadenza, dtype), getattr(torch, dtype)
    kw = dict(num_layers=2, bidirectional=True, batch_first=True)
    cm = getattr(nn, cls)(3, 5, dtype=cdt, **kw)
    tm = getattr(torch.nn, cls)(3, 5, dtype=tdt, **kw)
    copy_into_torch(cm, tm)
    x = rand(4, 6, 3).astype(dtype)
    lengths = [6, 2, 4, 1]
    cx, tx = cadenza.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    res = []
    for lib, mod, xin in ((cadenza, cm, cx), (torch, tm, tx)):
        packed = lib.nn.utils.rnn.pack_padded_sequence(xin, lengths, batch_first=True,
                                                       enforce_sorted=False)
        out, hidden = mod(packed)
        h, c = hidden if cls == "LSTM" else (hidden, hidden)
        pad, _ = lib.nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
        (pad.pow(2).sum() + h.sum() + (c * c).sum()).backward()
        res.append([pad, h, c])
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-9, atol=1e-12)
    for a, b in zip(*res):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **tol)
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), **tol)
    for (name, p), q in zip(cm.named_parameters(), tm.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), err_msg=name, **tol)

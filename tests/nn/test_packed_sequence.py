"""PackedSequence and its helpers (nn.utils.rnn) and RNN/LSTM/GRU on packed batches vs torch:
packed data, batch sizes, indices, padded outputs, each sequence's final hidden state, and
gradients through packing."""
import numpy as np
import pytest
import torch
import torch.nn.utils.rnn as TR

import cadenza
import cadenza.nn as nn
import cadenza.nn.utils.rnn as R
from helpers import copy_into_torch, rand

D, TD = cadenza.float64, torch.float64


def _np(t):
    return None if t is None else t.detach().numpy()


def _same_packed(c, t):
    for a, b in zip(c, t):
        if b is None:
            assert a is None
        else:
            np.testing.assert_allclose(_np(a), _np(b), rtol=1e-10)


@pytest.mark.parametrize("lengths, enforce", [([4, 3, 1], True), ([2, 4, 1, 4], False),
                                              ([1, 1, 1], True), ([3, 1, 3, 2], False)])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_unpack_matches_torch(lengths, enforce, batch_first):
    B, T = len(lengths), max(lengths) + 1
    x = rand(B, T, 2) if batch_first else rand(T, B, 2)
    cx, tx = cadenza.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    cp = R.pack_padded_sequence(cx, lengths, batch_first, enforce)
    tp = TR.pack_padded_sequence(tx, torch.tensor(lengths), batch_first, enforce)
    _same_packed(cp, tp)
    cpad, clen = R.pad_packed_sequence(cp, batch_first, padding_value=-1.5, total_length=T + 1)
    tpad, tlen = TR.pad_packed_sequence(tp, batch_first, padding_value=-1.5, total_length=T + 1)
    np.testing.assert_array_equal(_np(cpad), _np(tpad))
    np.testing.assert_array_equal(_np(clen), _np(tlen))
    g = rand(*tpad.shape, seed=3)
    (cpad * cadenza.tensor(g)).sum().backward()
    (tpad * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(_np(cx.grad), _np(tx.grad))


def test_pack_sequence_and_unpack():
    seqs = [rand(3, 2), rand(5, 2, seed=1), rand(1, 2, seed=2)]
    cp = R.pack_sequence([cadenza.tensor(s) for s in seqs], enforce_sorted=False)
    tp = TR.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    _same_packed(cp, tp)
    for a, b in zip(R.unpack_sequence(cp), TR.unpack_sequence(tp)):
        np.testing.assert_array_equal(_np(a), _np(b))
    assert isinstance(cp, tuple) and cp._fields == tp._fields
    with pytest.raises(RuntimeError, match="decreasing"):
        R.pack_sequence([cadenza.tensor(s) for s in seqs])
    with pytest.raises(RuntimeError, match="greater than 0"):
        R.pack_padded_sequence(cadenza.zeros(3, 2), [3, 0])
    with pytest.raises(ValueError, match="total_length"):
        R.pad_packed_sequence(cp, total_length=2)
    np.testing.assert_array_equal(_np(R.invert_permutation(cadenza.tensor([2, 0, 1]))),
                                  _np(TR.invert_permutation(torch.tensor([2, 0, 1]))))
    assert R.invert_permutation(None) is None
    assert cp.double().data.dtype == cadenza.float64 and cp.to(cadenza.float32) is not None


def test_pad_sequence_matches_torch():
    seqs = [rand(3, 2), rand(5, 2, seed=1)]
    for kw in (dict(), dict(batch_first=True, padding_value=2.0, padding_side="left")):
        np.testing.assert_array_equal(
            _np(R.pad_sequence([cadenza.tensor(s) for s in seqs], **kw)),
            _np(TR.pad_sequence([torch.tensor(s) for s in seqs], **kw)))


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("kw", [dict(), dict(num_layers=2, bidirectional=True),
                                dict(batch_first=True, bidirectional=True)])
@pytest.mark.parametrize("enforce", [True, False])
def test_rnn_on_packed_batches(cls, kw, enforce):
    cm = getattr(nn, cls)(3, 4, dtype=D, **kw)
    tm = getattr(torch.nn, cls)(3, 4, dtype=TD, **kw)
    copy_into_torch(cm, tm)
    lengths = [5, 3, 3, 1] if enforce else [3, 5, 1, 3]
    bf = kw.get("batch_first", False)
    x = rand(4, 5, 3) if bf else rand(5, 4, 3)
    cx, tx = cadenza.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    cp = R.pack_padded_sequence(cx, lengths, bf, enforce)
    tp = TR.pack_padded_sequence(tx, torch.tensor(lengths), bf, enforce)
    dirs = 2 if kw.get("bidirectional") else 1
    nh = kw.get("num_layers", 1) * dirs
    h0 = rand(nh, 4, 4, seed=7)
    if cls == "LSTM":
        c0 = rand(nh, 4, 4, seed=8)
        chx, thx = (cadenza.tensor(h0), cadenza.tensor(c0)), (torch.tensor(h0),
                                                              torch.tensor(c0))
    else:
        chx, thx = cadenza.tensor(h0), torch.tensor(h0)
    cout, ch = cm(cp, chx)
    tout, th = tm(tp, thx)
    assert isinstance(cout, R.PackedSequence)
    np.testing.assert_allclose(_np(cout.data), _np(tout.data), rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(_np(cout.batch_sizes), _np(tout.batch_sizes))
    for a, b in zip(cout[2:], tout[2:]):
        assert (a is None) == (b is None)
        if b is not None:
            np.testing.assert_array_equal(_np(a), _np(b))
    chs = ch if cls == "LSTM" else (ch,)
    ths = th if cls == "LSTM" else (th,)
    for a, b in zip(chs, ths):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-8, atol=1e-10)
    g = rand(*tout.data.shape, seed=4)
    gh = [rand(*b.shape, seed=5 + i) for i, b in enumerate(ths)]
    closs = (cout.data * cadenza.tensor(g)).sum() + sum(
        (a * cadenza.tensor(w)).sum() for a, w in zip(chs, gh))
    tloss = (tout.data * torch.tensor(g)).sum() + sum(
        (b * torch.tensor(w)).sum() for b, w in zip(ths, gh))
    closs.backward()
    tloss.backward()
    np.testing.assert_allclose(_np(cx.grad), _np(tx.grad), rtol=1e-7, atol=1e-10)
    tparams = dict(tm.named_parameters())
    for name, p in cm.named_parameters():
        np.testing.assert_allclose(_np(p.grad), _np(tparams[name].grad), rtol=1e-7,
                                   atol=1e-10, err_msg=name)


def test_lstm_packed_pipeline_without_hidden():
    """The usual program: embed, pack, LSTM, unpack, classify from h_n."""
    cm = nn.LSTM(3, 4, batch_first=True, dtype=D)
    tm = torch.nn.LSTM(3, 4, batch_first=True, dtype=TD)
    copy_into_torch(cm, tm)
    x, lengths = rand(3, 6, 3), [2, 6, 4]
    cp = R.pack_padded_sequence(cadenza.tensor(x), cadenza.tensor(lengths), True, False)
    tp = TR.pack_padded_sequence(torch.tensor(x), torch.tensor(lengths), True, False)
    (co, (ch, _)), (to, (th, _)) = cm(cp), tm(tp)
    cpad, _ = R.pad_packed_sequence(co, batch_first=True)
    tpad, _ = TR.pad_packed_sequence(to, batch_first=True)
    np.testing.assert_allclose(_np(cpad), _np(tpad), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(_np(ch), _np(th), rtol=1e-8)

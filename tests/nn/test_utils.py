"""nn.utils (clip_grad_norm_, clip_grad_value_, vector conversion, pad_sequence), containers
and nn.parallel."""
from collections import OrderedDict

import numpy as np
import pytest
import torch

import cadenza
import cadenza.nn as nn
from helpers import copy_into_torch, rand


def _models_with_grads():
    cm = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    tm = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    copy_into_torch(cm, tm)
    x = rand(5, 4, dtype=np.float32)
    (cm(cadenza.tensor(x)) ** 2).sum().backward()
    (tm(torch.tensor(x)) ** 2).sum().backward()
    return cm, tm


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf"), 3])
@pytest.mark.parametrize("max_norm", [0.1, 1e6])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    cm, tm = _models_with_grads()
    cn = nn.utils.clip_grad_norm_(cm.parameters(), max_norm, norm_type=norm_type)
    tn = torch.nn.utils.clip_grad_norm_(tm.parameters(), max_norm, norm_type=norm_type)
    assert isinstance(cn, cadenza.Tensor) and cn.ndim == 0
    assert cn.item() == pytest.approx(tn.item(), rel=1e-5)
    for cp, tp in zip(cm.parameters(), tm.parameters()):   # atol: float32 sums of O(1) terms
        np.testing.assert_allclose(cp.grad.numpy(), tp.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_clip_grad_edge_cases():
    p = nn.Parameter(cadenza.ones(3))
    assert nn.utils.clip_grad_norm_([p], 1.0).item() == 0.0  # no grads
    p.grad = cadenza.tensor([float("nan"), 1.0, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    cm, tm = _models_with_grads()
    nn.utils.clip_grad_value_(cm.parameters(), 0.05)
    torch.nn.utils.clip_grad_value_(tm.parameters(), 0.05)
    for cp, tp in zip(cm.parameters(), tm.parameters()):
        np.testing.assert_allclose(cp.grad.numpy(), tp.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_parameters_vector_roundtrip():
    m = nn.Linear(3, 2)
    v = nn.utils.parameters_to_vector(m.parameters())
    assert v.shape == (8,)
    nn.utils.vector_to_parameters(cadenza.arange(8.0), m.parameters())
    assert m.weight.tolist() == [[0, 1, 2], [3, 4, 5]] and m.bias.tolist() == [6, 7]
    assert m.weight.requires_grad


def test_pad_sequence():
    seqs = [rand(3, 2), rand(1, 2, seed=1), rand(2, 2, seed=2)]
    for bf in (False, True):
        for side in ("right", "left"):
            c = nn.utils.rnn.pad_sequence([cadenza.tensor(s) for s in seqs], batch_first=bf,
                                          padding_value=-1.0, padding_side=side)
            t = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs],
                                                batch_first=bf, padding_value=-1.0,
                                                padding_side=side)
            np.testing.assert_array_equal(c.numpy(), t.numpy())



def test_pad_sequence_gradients_dtypes_and_errors_as_torch():
    # one gather from the concatenated sequences: values, layout, gradients, dtypes as torch's
    shapes = [(3, 2, 2), (1, 2, 2), (4, 2, 2)]
    arrays = [rand(*s, seed=i) for i, s in enumerate(shapes)]
    for bf, side in ((False, "right"), (True, "left")):
        got = []
        for lib in (cadenza, torch):
            xs = [lib.tensor(a, requires_grad=True) for a in arrays]
            out = lib.nn.utils.rnn.pad_sequence(xs, batch_first=bf, padding_value=-2.0,
                                                padding_side=side)
            (out * lib.tensor(rand(*out.shape, seed=9))).sum().backward()
            got.append([out.detach().numpy()] + [x.grad.numpy() for x in xs])
            assert out.is_contiguous()
        for a, b in zip(*got):
            np.testing.assert_array_equal(a, b)
    ints = [[1, 2, 3], [4]]
    c = nn.utils.rnn.pad_sequence([cadenza.tensor(v) for v in ints], padding_value=-1)
    t = torch.nn.utils.rnn.pad_sequence([torch.tensor(v) for v in ints], padding_value=-1)
    assert c.dtype == cadenza.int64 and c.tolist() == t.tolist()
    mixed = nn.utils.rnn.pad_sequence([cadenza.ones(2), cadenza.ones(3, dtype=cadenza.int64)])
    assert mixed.dtype == cadenza.float32     # the first sequence's dtype, as torch
    with pytest.raises(RuntimeError, match="empty list"):
        nn.utils.rnn.pad_sequence([])
    with pytest.raises(RuntimeError, match=r"pad_sequence: .*\(3, 4\) \(sequence 1\)"):
        nn.utils.rnn.pad_sequence([cadenza.ones(2, 3), cadenza.ones(3, 4)])

def test_sequential_api():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    s = nn.Sequential(a, b)
    assert len(s) == 2 and s[0] is a and s[-1] is b
    s.append(c)
    assert s[2] is c and list(s) == [a, b, c]
    assert isinstance(s[1:], nn.Sequential) and list(s[1:]) == [b, c]
    assert list(s[1:]._modules) == ["1", "2"]
    s.insert(0, nn.Identity())
    assert list(s._modules) == ["0", "1", "2", "3"] and s[1] is a
    del s[0]
    assert s[0] is a and len(s) == 3
    s.extend([nn.Sigmoid()])
    assert len(s) == 4
    s[3] = nn.Tanh()
    assert isinstance(s[3], nn.Tanh)
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"] and named.fc is named[0]
    with pytest.raises(IndexError):
        s[10]
    assert s(cadenza.ones(4, 2)).shape == (4, 1)


def test_module_list_dict_param_containers():
    ml = nn.ModuleList([nn.Linear(1, 1)])
    ml.append(nn.ReLU())
    ml.extend([nn.Tanh()])
    ml.insert(0, nn.Identity())
    assert len(ml) == 4 and isinstance(ml[0], nn.Identity) and isinstance(ml[-1], nn.Tanh)
    assert list(ml.state_dict()) == ["1.weight", "1.bias"]
    md = nn.ModuleDict({"a": nn.Linear(1, 2), "b": nn.ReLU()})
    md["c"] = nn.Tanh()
    assert list(md.keys()) == ["a", "b", "c"] and "a" in md and len(md) == 3
    assert list(md.state_dict()) == ["a.weight", "a.bias"]
    del md["a"]
    assert "a" not in md
    pl = nn.ParameterList([cadenza.ones(2), nn.Parameter(cadenza.zeros(3))])
    assert isinstance(pl[0], nn.Parameter) and len(pl) == 2
    pl.append(cadenza.ones(1))
    assert list(pl.state_dict()) == ["0", "1", "2"]
    tpl = torch.nn.ParameterList([torch.ones(2), torch.nn.Parameter(torch.zeros(3)),
                                  torch.ones(1)])
    assert repr(pl).replace("cadenza.", "torch.") == repr(tpl)
    pd = nn.ParameterDict({"w": cadenza.ones(2)})
    pd["b"] = nn.Parameter(cadenza.zeros(1))
    assert list(pd.keys()) == ["w", "b"] and isinstance(pd["w"], nn.Parameter)
    assert list(pd.state_dict()) == ["w", "b"]
    tpd = torch.nn.ParameterDict({"w": torch.ones(2)})
    tpd["b"] = torch.nn.Parameter(torch.zeros(1))
    assert repr(pd).replace("cadenza.", "torch.") == repr(tpd)


def test_parallel():
    m = nn.Linear(2, 2)
    dp = nn.DataParallel(m)
    x = cadenza.randn(3, 2)
    assert np.array_equal(dp(x).detach().numpy(), m(x).detach().numpy())
    assert list(dp.state_dict()) == ["module.weight", "module.bias"]
    with pytest.raises(RuntimeError, match="expected an initialized process group"):
        nn.parallel.DistributedDataParallel(m)

"""Sparse gradients (nn.Embedding(sparse=True), F.embedding(sparse=True)) and the optimizers
that take them, against torch: the gradient's entries, accumulation over backwards,
SparseAdam's trajectory and state, SGD/Adagrad on sparse gradients, and torch's refusals."""
import numpy as np
import pytest
import torch as T

import cadenza as C

W0 = (np.arange(21, dtype=np.float32).reshape(7, 3) - 10) / 10
BATCHES = [[[0, 2, 2, 1], [5, 0, 3, 1]], [[6, 6, 4, 2], [0, 1, 1, 3]]]


def _embedding(lib, **kw):
    emb = lib.nn.Embedding(7, 3, sparse=True, **kw)
    with lib.no_grad():
        emb.weight.copy_(lib.tensor(W0))
    return emb


def test_scale_grad_by_freq_refused_with_sparse():
    for lib in (T, C):
        emb = _embedding(lib, scale_grad_by_freq=True)
        out = emb(lib.tensor([1, 1, 2])).sum()
        with pytest.raises(RuntimeError, match="scale_grad_by_freq not supported with sparse"):
            out.backward()


@pytest.mark.parametrize("kw", [{}, {"padding_idx": 1}, {"padding_idx": -1}])
def test_sparse_gradient_entries(kw):
    res = []
    for lib in (T, C):
        emb = _embedding(lib, **kw)
        (emb(lib.tensor(BATCHES[0])) ** 2).sum().backward()
        g = emb.weight.grad
        assert g.is_sparse and g.layout == lib.sparse_coo
        first = (g._indices().numpy().copy(), g._values().numpy().copy(), tuple(g.shape))
        (emb(lib.tensor(BATCHES[1])) * 3).sum().backward()   # accumulates
        res.append((first, emb.weight.grad.is_sparse, emb.weight.grad.to_dense().numpy()))
    (ft, st, dt), (fc, sc, dc) = res
    np.testing.assert_array_equal(fc[0], ft[0])
    np.testing.assert_allclose(fc[1], ft[1], rtol=1e-6)
    assert fc[2] == ft[2] and sc and st
    np.testing.assert_allclose(dc, dt, rtol=1e-6)


def test_functional_sparse_embedding_and_dense_mix():
    for lib in (T, C):
        w = lib.tensor(W0, requires_grad=True)
        idx = lib.tensor([1, 4, 1])
        out = lib.nn.functional.embedding(idx, w, sparse=True).sum() + (w * 2).sum()
        out.backward()
        assert not w.grad.is_sparse    # a dense contribution makes the sum dense
        expect = np.full((7, 3), 2.0, np.float32)
        expect[1] += 2
        expect[4] += 1
        np.testing.assert_allclose(w.grad.numpy(), expect)


def _train(lib, make_opt, steps=5, **emb_kw):
    emb = _embedding(lib, **emb_kw)
    opt = make_opt(lib, emb.parameters())
    for s in range(steps):
        opt.zero_grad()
        (emb(lib.tensor(BATCHES[s % 2])) ** 2).sum().backward()
        opt.step()
    return emb.weight.detach().numpy(), opt.state_dict()


@pytest.mark.parametrize("make_opt", [
    lambda lib, ps: lib.optim.SparseAdam(ps, lr=0.1),
    lambda lib, ps: lib.optim.SparseAdam(ps, lr=0.05, betas=(0.8, 0.99), eps=1e-6,
                                         maximize=True),
    lambda lib, ps: lib.optim.SGD(ps, lr=0.1),
    lambda lib, ps: lib.optim.SGD(ps, lr=0.1, momentum=0.9),
    lambda lib, ps: lib.optim.Adagrad(ps, lr=0.1)])
def test_optimizers_on_sparse_gradients_match_torch(make_opt):
    wt, st = _train(T, make_opt, padding_idx=1)
    wc, sc = _train(C, make_opt, padding_idx=1)
    np.testing.assert_allclose(wc, wt, rtol=1e-5, atol=1e-6)
    for k, v in st["state"].get(0, {}).items():   # (torch's SGD: a sparse momentum buffer)
        if isinstance(v, T.Tensor) or v is not None:
            assert k in sc["state"][0]
        if isinstance(v, T.Tensor):
            v = v.to_dense() if v.is_sparse else v
            np.testing.assert_allclose(np.asarray(sc["state"][0][k]), v.numpy(), rtol=1e-5,
                                       atol=1e-6)
        elif v is not None:
            assert sc["state"][0][k] == v
    assert sc["param_groups"][0].keys() == st["param_groups"][0].keys()


def test_sparse_adam_defaults_and_errors():
    for lib in (T, C):
        w = lib.nn.Parameter(lib.ones(3))
        opt = lib.optim.SparseAdam([w])
        assert opt.defaults == {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-08,
                                "maximize": False}
        w.sum().backward()
        with pytest.raises(RuntimeError, match="SparseAdam does not support dense gradients"):
            opt.step()
        for kw, msg in (({"lr": -1}, "Invalid learning rate"),
                        ({"eps": -1}, "Invalid epsilon value"),
                        ({"betas": (1.0, 0.9)}, "Invalid beta parameter at index 0")):
            with pytest.raises(ValueError, match=msg):
                lib.optim.SparseAdam([w], **kw)


@pytest.mark.parametrize("name,msg", [
    ("Adam", "Adam does not support sparse gradients, please consider SparseAdam instead"),
    ("AdamW", "Adam does not support sparse gradients"),
    ("RMSprop", "RMSprop does not support sparse gradients"),
    ("Adamax", "Adamax does not support sparse gradients")])
def test_dense_optimizers_refuse_sparse_gradients(name, msg):
    for lib in (T, C):
        emb = _embedding(lib)
        opt = getattr(lib.optim, name)(emb.parameters(), lr=0.1)
        emb(lib.tensor([1, 2])).sum().backward()
        with pytest.raises(RuntimeError, match=msg):
            opt.step()


def test_adagrad_weight_decay_with_sparse_gradients_refused():
    for lib in (T, C):
        emb = _embedding(lib)
        opt = lib.optim.Adagrad(emb.parameters(), lr=0.1, weight_decay=0.1)
        emb(lib.tensor([1, 2])).sum().backward()
        with pytest.raises(RuntimeError, match="weight_decay option is not compatible"):
            opt.step()


def test_zero_grad_without_none_and_sparse_mask():
    for lib in (T, C):
        emb = _embedding(lib)
        opt = lib.optim.SGD(emb.parameters(), lr=0.1)
        emb(lib.tensor([1, 3])).sum().backward()
        opt.zero_grad(set_to_none=False)
        g = emb.weight.grad
        assert g.is_sparse and g._nnz() == 0 and tuple(g.shape) == (7, 3)
        emb(lib.tensor([2])).sum().backward()     # accumulates into the emptied gradient
        assert emb.weight.grad.to_dense().sum().item() == 3.0
    res = []
    for lib in (T, C):
        d = lib.tensor(W0, requires_grad=True)
        m = lib.sparse_coo_tensor(lib.tensor([[2, 0, 2]]), lib.ones(3, 3), (7, 3))
        r = d.sparse_mask(m)
        (r.to_dense() * 2).sum().backward()
        res.append((r._indices().numpy(), r._values().detach().numpy(), r.is_coalesced(),
                    d.grad.numpy()))
        with pytest.raises((NotImplementedError, RuntimeError)):
            d.sparse_mask(lib.ones(7, 3))
    for a, b in zip(*res):
        np.testing.assert_array_equal(a, b)

"""Sparse COO tensors as graph networks use them, against PyTorch: a two-layer GCN with the
normalised adjacency (pygcn style), a GAT-style custom autograd Function over
``sparse_coo_tensor`` (pyGAT's SpecialSpmm), the tensor's API and its errors. The op table
(tests/ops/opinfo_linalg.py) covers sparse.mm / spmm / to_dense / coalesce / sum / to_sparse."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import cadenza

pytestmark = pytest.mark.filterwarnings("ignore:Sparse invariant checks")


def _graph(n=30, p=0.1, seed=0):
    rng = np.random.default_rng(seed)
    a = (rng.random((n, n)) < p).astype(np.float64)
    a = np.maximum(a, a.T)
    np.fill_diagonal(a, 1)
    return a


def _gcn_step(lib, A, X, y, W1, W2):
    """Loss and gradients of a two-layer GCN: D^-1/2 (A) D^-1/2 built sparse, relu, cross
    entropy; gradients to the features and both weights."""
    n = A.shape[0]
    idx = np.stack(np.nonzero(A)).astype(np.int64)
    adj = lib.sparse_coo_tensor(lib.tensor(idx), lib.tensor(A[A != 0]), (n, n))
    dinv = lib.sparse.sum(adj, 1).to_dense().pow(-0.5)
    i = adj._indices()
    adjn = lib.sparse_coo_tensor(i, adj._values() * dinv[i[0]] * dinv[i[1]], (n, n)).coalesce()
    x = lib.tensor(X, requires_grad=True)
    w1 = lib.tensor(W1, requires_grad=True)
    w2 = lib.tensor(W2, requires_grad=True)
    h = lib.relu(lib.spmm(adjn, x @ w1))
    out = lib.log_softmax(lib.sparse.mm(adjn, h @ w2), 1)
    loss = lib.nn.functional.nll_loss(out, lib.tensor(y)) + 0.01 * (adjn @ h).pow(2).mean()
    loss.backward()
    return float(loss.detach()), x.grad.numpy(), w1.grad.numpy(), w2.grad.numpy()


def test_two_layer_gcn_loss_and_grads_match_torch():
    rng = np.random.default_rng(1)
    A = _graph()
    X = rng.standard_normal((30, 8))
    y = rng.integers(0, 4, 30)
    W1, W2 = rng.standard_normal((8, 16)) * 0.3, rng.standard_normal((16, 4)) * 0.3
    t = _gcn_step(torch, A, X, y, W1, W2)
    c = _gcn_step(cadenza, A, X, y, W1, W2)
    assert abs(t[0] - c[0]) < 1e-12
    for gt, gc in zip(t[1:], c[1:]):
        np.testing.assert_allclose(gc, gt, atol=1e-12)


def _special_spmm(lib):
    class SpecialSpmm(lib.autograd.Function):
        """pyGAT's sparse-region backprop: sparse (indices, values) @ b."""

        @staticmethod
        def forward(ctx, indices, values, shape, b):
            a = lib.sparse_coo_tensor(indices, values, shape)
            ctx.save_for_backward(a, b)
            ctx.N = shape[0]
            return lib.matmul(a, b)

        @staticmethod
        def backward(ctx, grad_output):
            a, b = ctx.saved_tensors
            grad_values = grad_b = None
            if ctx.needs_input_grad[1]:
                grad_a_dense = grad_output.matmul(b.t())
                edge_idx = a._indices()[0, :] * ctx.N + a._indices()[1, :]
                grad_values = grad_a_dense.view(-1)[edge_idx]
            if ctx.needs_input_grad[3]:
                grad_b = a.t().matmul(grad_output)
            return None, grad_values, None, grad_b
    return SpecialSpmm


def test_gat_style_custom_function_over_sparse_matches_torch():
    rng = np.random.default_rng(2)
    A = _graph(12, 0.3, seed=3)
    edge = np.stack(np.nonzero(A)).astype(np.int64)
    H = rng.standard_normal((12, 5))
    a_src = rng.standard_normal(5)
    res = []
    for lib in (torch, cadenza):
        h = lib.tensor(H, requires_grad=True)
        att = lib.tensor(a_src, requires_grad=True)
        e = lib.tensor(edge)
        edge_e = lib.exp(-lib.nn.functional.leaky_relu((h[e[0]] * att).sum(1), 0.2))
        f = _special_spmm(lib).apply
        rowsum = f(e, edge_e, lib.Size([12, 12]), lib.ones(12, 1, dtype=lib.float64))
        h_prime = f(e, edge_e, lib.Size([12, 12]), h) / rowsum
        loss = lib.nn.functional.elu(h_prime).pow(2).sum()
        loss.backward()
        res.append((float(loss.detach()), h.grad.numpy(), att.grad.numpy()))
    assert abs(res[0][0] - res[1][0]) < 1e-10
    for gt, gc in zip(res[0][1:], res[1][1:]):
        np.testing.assert_allclose(gc, gt, atol=1e-10)


def test_sparse_tensor_api_matches_torch():
    idx = np.array([[0, 1, 1, 0], [2, 0, 2, 2]])
    val = np.array([3.0, 4.0, 5.0, 1.0])
    t = torch.sparse_coo_tensor(torch.tensor(idx), torch.tensor(val), (2, 3))
    c = cadenza.sparse_coo_tensor(cadenza.tensor(idx), cadenza.tensor(val), (2, 3))
    assert c.is_sparse and not cadenza.ones(2).is_sparse
    assert c.layout is cadenza.sparse_coo and cadenza.ones(1).layout is cadenza.strided
    assert isinstance(c, cadenza.Tensor) and cadenza.is_tensor(c)
    assert tuple(c.shape) == (2, 3) and c.size(1) == 3 and c.dim() == 2 and c._nnz() == 4
    assert c.sparse_dim() == t.sparse_dim() and c.dense_dim() == t.dense_dim()
    assert c.dtype == cadenza.float64 and not c.is_coalesced()
    with pytest.raises(RuntimeError, match="uncoalesced"):
        c.indices()
    cc, tc = c.coalesce(), t.coalesce()
    assert cc.is_coalesced() and cc._nnz() == tc._nnz() == 3
    np.testing.assert_array_equal(cc.indices().numpy(), tc.indices().numpy())
    np.testing.assert_array_equal(cc.values().numpy(), tc.values().numpy())
    np.testing.assert_array_equal(c.to_dense().numpy(), t.to_dense().numpy())
    np.testing.assert_array_equal(c.t().to_dense().numpy(), t.t().to_dense().numpy())
    np.testing.assert_array_equal((c * 2).to_dense().numpy(), (t * 2).to_dense().numpy())
    np.testing.assert_array_equal((c + c).to_dense().numpy(), (t + t).to_dense().numpy())
    assert float(c.sum()) == float(t.sum())
    np.testing.assert_array_equal(cadenza.sparse.sum(c, 0).to_dense().numpy(),
                                  torch.sparse.sum(t, 0).to_dense().numpy())
    d = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(cadenza.mm(c, cadenza.tensor(d)).numpy(),
                                  torch.mm(t, torch.tensor(d)).numpy())
    np.testing.assert_array_equal((cadenza.tensor(d.T) @ c.t()).numpy(),
                                  (torch.tensor(d.T) @ t.t()).numpy())
    f = c.float()
    assert f.is_sparse and f.dtype == cadenza.float32 and c.to("cpu").is_sparse
    # size inferred from the indices; a dense tensor round trip
    assert tuple(cadenza.sparse_coo_tensor(idx, val).shape) == (2, 3)
    dense = cadenza.tensor([[0.0, 2.0], [1.5, 0.0]])
    s = dense.to_sparse()
    assert s.is_coalesced() and s._nnz() == 2
    np.testing.assert_array_equal(s.to_dense().numpy(), dense.numpy())
    assert "layout=cadenza.sparse_coo" in repr(s) and "nnz=2" in repr(s)


def test_gradients_reach_values_and_dense_inputs():
    idx = np.array([[0, 1, 1], [2, 0, 2]])
    grads = []
    for lib in (torch, cadenza):
        v = lib.tensor([3.0, 4.0, 5.0], dtype=lib.float64, requires_grad=True)
        d = lib.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
        s = lib.sparse_coo_tensor(lib.tensor(idx), v, (2, 3))
        (lib.sparse.mm(s, d).pow(2).sum() + s.to_dense().sum()).backward()
        grads.append((v.grad.numpy(), d.grad.numpy()))
        leaf = lib.sparse_coo_tensor(lib.tensor(idx), lib.tensor([1.0, 2.0, 3.0],
                                                                 dtype=lib.float64),
                                     (2, 3), requires_grad=True)
        lib.sparse.mm(leaf, d.detach()).sum().backward()
        assert leaf.grad.is_sparse and leaf.is_leaf
        grads.append((leaf.grad.to_dense().numpy(),))
        x = lib.tensor([[0.0, 2.0], [1.5, 0.0]], requires_grad=True)
        (x.to_sparse().to_dense() * 3).sum().backward()
        grads.append((x.grad.numpy(),))
    for gt, gc in zip(grads[:3], grads[3:]):
        for a, b in zip(gt, gc):
            np.testing.assert_allclose(b, a)


def test_errors_name_the_problem():
    # (PyTorch checks the indices only with check_invariants=True; Cadenza always does)
    with pytest.raises(RuntimeError, match="size is inconsistent with indices"):
        cadenza.sparse_coo_tensor([[0, 3]], [1.0, 2.0], (3,))
    with pytest.raises(RuntimeError):
        torch.sparse_coo_tensor([[0, 3]], [1.0, 2.0], (3,), check_invariants=True)
    s = cadenza.sparse_coo_tensor([[0, 1], [1, 0]], [1.0, 2.0], (2, 2))
    with pytest.raises(RuntimeError, match="to_dense"):
        s.exp()
    with pytest.raises(RuntimeError, match="to_dense"):
        s[0]
    with pytest.raises(RuntimeError):
        cadenza.mm(s, cadenza.ones(3, 2))
    with pytest.raises(RuntimeError, match="sparse"):
        cadenza.spmm(cadenza.ones(2, 2), cadenza.ones(2, 2))


def test_compiled_gcn_layer_matches_eager():
    A = _graph(10, 0.3)
    idx = cadenza.tensor(np.stack(np.nonzero(A)).astype(np.int64))
    vals = cadenza.tensor(A[A != 0])
    w = cadenza.tensor(np.random.default_rng(4).standard_normal((4, 3)), requires_grad=True)
    x = cadenza.tensor(np.random.default_rng(5).standard_normal((10, 4)))

    def step(x):
        adj = cadenza.sparse_coo_tensor(idx, vals, (10, 10))
        deg = cadenza.sparse.sum(adj, 1).to_dense()
        loss = (cadenza.spmm(adj, x @ w) / deg.unsqueeze(1)).relu().sum()
        loss.backward()
        return loss

    eager = step(x).detach().numpy()
    g_eager = w.grad.numpy().copy()
    w.grad = None
    comp = cadenza.compile(step)
    np.testing.assert_array_equal(comp(x).detach().numpy(), eager)
    np.testing.assert_array_equal(w.grad.numpy(), g_eager)

"""CSR and CSC tensors (``cadenza/_sparse_compressed.py``) against PyTorch: constructors and
their invariant errors, conversions between dense, COO, CSR and CSC, products with the
gradient conventions torch has (masked for ``torch.sparse.mm``/``to_dense``/``values()``,
dense for ``@``/``mm``; COO and CSR alike), printing, and the refusal of dense-only
methods."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import cadenza

pytestmark = pytest.mark.filterwarnings("ignore:Sparse")

_D = np.array([[0.0, 2.0, 0.0, 1.5], [1.0, 0.0, 3.0, 0.0], [0.0, 0.0, 0.0, 0.0]])


def _both(f):
    """f(lib) for torch and cadenza."""
    return f(torch), f(cadenza)


def _np(t):
    return t.detach().numpy() if not isinstance(t, np.ndarray) else t


def _same(a, b, tol=1e-6):
    assert a.shape == tuple(b.shape)
    np.testing.assert_allclose(_np(b), _np(a), rtol=tol, atol=tol)


def _parts(s):
    name = "crow" if str(s.layout).endswith("csr") else "ccol"
    comp = s.crow_indices() if name == "crow" else s.ccol_indices()
    plain = s.col_indices() if name == "crow" else s.row_indices()
    return comp.numpy().tolist(), plain.numpy().tolist(), _np(s.values()).tolist()


@pytest.mark.parametrize("layout", ["sparse_csr", "sparse_csc"])
def test_dense_to_compressed_and_back(layout):
    t, c = _both(lambda lib: lib.tensor(_D).to_sparse(layout=getattr(lib, layout)))
    assert c.layout is getattr(cadenza, layout) and not c.is_sparse
    assert c.is_sparse_csr == t.is_sparse_csr and c._nnz() == t._nnz() == 4
    assert _parts(c) == _parts(t)
    assert tuple(c.shape) == tuple(t.shape) and c.dtype is cadenza.float64
    _same(t.to_dense(), c.to_dense())
    tc, cc = t.to_sparse_coo(), c.to_sparse_coo()
    assert cc.is_sparse and cc.is_coalesced() == tc.is_coalesced()
    assert cc._indices().numpy().tolist() == tc._indices().numpy().tolist()
    other = "sparse_csc" if layout == "sparse_csr" else "sparse_csr"
    assert _parts(c.to_sparse(layout=getattr(cadenza, other))) == \
        _parts(t.to_sparse(layout=getattr(torch, other)))
    assert _parts(c.t()) == _parts(t.t()) and c.t().layout is getattr(cadenza, other)


def test_coo_to_compressed():
    idx = np.array([[1, 0, 1, 0], [2, 1, 0, 1]])   # unsorted, with a duplicate entry
    val = np.array([3.0, 2.0, 1.0, 4.0])
    for layout in ("sparse_csr", "sparse_csc"):
        t, c = _both(lambda lib: lib.sparse_coo_tensor(lib.tensor(idx), lib.tensor(val), (2, 3))
                     .to_sparse(layout=getattr(lib, layout)))
        assert _parts(c) == _parts(t)


def test_constructors_match_torch():
    crow, col, val = [0, 2, 2, 3], [3, 1, 0], [1.0, 2.0, 3.0]
    t, c = _both(lambda lib: lib.sparse_csr_tensor(lib.tensor(crow), lib.tensor(col),
                                                   lib.tensor(val), (3, 4)))
    _same(t.to_dense(), c.to_dense())
    t, c = _both(lambda lib: lib.sparse_csc_tensor(lib.tensor(crow), lib.tensor(col),
                                                   lib.tensor(val)))
    assert tuple(c.shape) == tuple(t.shape) == (4, 3)
    _same(t.to_dense(), c.to_dense())
    t, c = _both(lambda lib: lib.sparse_compressed_tensor(
        lib.tensor(crow, dtype=lib.int32), lib.tensor(col, dtype=lib.int32), lib.tensor(val),
        (3, 4), layout=lib.sparse_csr, dtype=lib.float64))
    assert c.dtype is cadenza.float64 and c.crow_indices().dtype is cadenza.int32
    _same(t.to_dense(), c.to_dense())


@pytest.mark.parametrize("crow,col,size", [
    ([0, 1, 5], [0, 1], (2, 2)),      # last compressed index != nnz
    ([0, 1, 2], [0, 3], (2, 2)),      # column out of range
    ([1, 1, 2], [0, 1], (2, 2)),      # first compressed index != 0
    ([0, 2, 1], [0, 1], (2, 2)),      # decreasing
    ([0, 1], [0, 1], (2, 2)),         # wrong number of rows
    ([0, 1, 2], [0, 1, 1], (2, 2)),   # plain indices != nnz
])
def test_invariant_errors_as_torch_with_checks(crow, col, size):
    val = [1.0, 2.0]
    with pytest.raises(RuntimeError):
        torch.sparse_csr_tensor(torch.tensor(crow), torch.tensor(col), torch.tensor(val), size,
                                check_invariants=True)
    with pytest.raises(RuntimeError, match="sparse_csr_tensor"):
        cadenza.sparse_csr_tensor(cadenza.tensor(crow), cadenza.tensor(col),
                                  cadenza.tensor(val), size)


def test_unsorted_columns_refused_only_when_checked():
    args = ([0, 2, 3], [2, 0, 1], np.array([1.0, 2.0, 3.0]), (2, 3))
    with pytest.raises(RuntimeError, match="sorted and distinct"):
        cadenza.sparse_csr_tensor(*(cadenza.tensor(a) for a in args[:3]), args[3],
                                  check_invariants=True)
    t, c = _both(lambda lib: lib.sparse_csr_tensor(*(lib.tensor(a) for a in args[:3]), args[3]))
    x = np.arange(6.0).reshape(3, 2)
    _same(t @ torch.tensor(x), c @ cadenza.tensor(x))


def _grads(lib, how, layout):
    """Gradients of a dense tensor made sparse, of a sparse leaf and of a values tensor,
    through one use of each kind."""
    x = lib.tensor(np.linspace(-1, 1, 8).reshape(4, 2))
    d = lib.tensor(_D, requires_grad=True)
    v = lib.tensor([1.0, -2.0, 0.5], dtype=lib.float64, requires_grad=True)
    crow, col = lib.tensor([0, 1, 3, 3]), lib.tensor([1, 0, 3])
    val = lib.tensor([1.0, -2.0, 0.5], dtype=lib.float64)
    if layout == "coo":
        idx = lib.tensor([[0, 1, 1], [1, 0, 3]])
        leaf = lib.sparse_coo_tensor(idx, val, (3, 4), requires_grad=True)
        made, first = lib.sparse_coo_tensor(idx, v, (3, 4)), d.to_sparse()
    else:
        leaf = lib.sparse_csr_tensor(crow, col, val, (3, 4), requires_grad=True)
        made, first = lib.sparse_csr_tensor(crow, col, v, (3, 4)), d.to_sparse_csr()
    out = []
    for s in (first, leaf, made):
        y = {"matmul": lambda: s @ x, "mm": lambda: lib.mm(s, x),
             "sparse.mm": lambda: lib.sparse.mm(s, x),
             "to_dense": lambda: s.to_dense() * 3,
             "vector": lambda: s @ x[:, 0],
             "addmm": lambda: lib.addmm(lib.ones(3, 2, dtype=lib.float64), s, x)}[how]()
        (y * y).sum().backward()
        out.append(y)
    g = leaf.grad
    kind = str(g.layout).split(".")[-1]
    leaf_grad = (kind, _np(g.to_dense() if kind != "strided" else g))
    return out, _np(d.grad), leaf_grad, _np(v.grad)


@pytest.mark.parametrize("layout", ["csr", "coo"])
@pytest.mark.parametrize("how", ["matmul", "mm", "sparse.mm", "to_dense", "vector", "addmm"])
def test_gradient_conventions_match_torch(how, layout):
    (ty, td, tl, tv), (cy, cd, cl, cv) = _grads(torch, how, layout), _grads(cadenza, how, layout)
    for a, b in zip(ty, cy):
        _same(a, b, 1e-12)
    np.testing.assert_allclose(cd, td, atol=1e-12)
    assert cl[0] == tl[0]
    np.testing.assert_allclose(cl[1], tl[1], atol=1e-12)
    np.testing.assert_allclose(cv, tv, atol=1e-12)


def test_dense_at_csr_and_scalar_ops():
    t, c = _both(lambda lib: lib.tensor(_D).to_sparse_csr())
    w = np.linspace(0, 1, 6).reshape(2, 3)
    _same(torch.tensor(w) @ t, cadenza.tensor(w) @ c)
    for f in (lambda s: s * 2, lambda s: 2 * s, lambda s: -s,
              lambda s: s + s, lambda s: s.double(), lambda s: s.clone().detach()):
        a, b = f(t), f(c)
        assert b.layout is cadenza.sparse_csr and _parts(b) == _parts(a)
    _same(t + torch.ones(3, 4, dtype=torch.float64), c + cadenza.ones(3, 4, dtype=cadenza.float64))
    assert float(c.sum()) == float(t.sum())
    _same(t.sum(1, keepdim=True).to_dense(), c.sum(1, keepdim=True).to_dense())
    with pytest.raises(RuntimeError, match="keepdim=False"):
        c.sum(0)


def test_repr_matches_torch():
    cases = [lambda lib: lib.tensor([[0.0, 2.0, 0.0], [1.0, 0.0, 3.0], [0.0, 0.0, 0.0]])
             .to_sparse_csr(),
             lambda lib: lib.tensor([[0.0, 1.5], [2.0, 0.0]], dtype=lib.float64)
             .to_sparse_csc(),
             lambda lib: lib.zeros(2, 3).to_sparse_csr(),
             lambda lib: lib.sparse_csr_tensor(lib.tensor([0, 1, 2]), lib.tensor([0, 1]),
                                               lib.tensor([1.0, 2.0]))]
    for f in cases:
        t, c = _both(f)
        assert repr(c).replace("cadenza.", "torch.") == repr(t)


def test_dense_only_methods_refused():
    c = cadenza.tensor(_D).to_sparse_csr()
    for f in (lambda: c.exp(), lambda: c[0], lambda: c - c, lambda: c == c, lambda: c.view(-1)):
        with pytest.raises(RuntimeError, match="to_dense"):
            f()
    with pytest.raises(RuntimeError, match="row compressed"):
        c.t().crow_indices()
    with pytest.raises(RuntimeError, match="crow_indices expected"):
        cadenza.ones(2, 2).crow_indices()
    with pytest.raises(NotImplementedError, match="2-D"):
        cadenza.ones(2, 2, 2).to_sparse_csr()


def test_compiled_product_takes_the_indices_as_inputs():
    """The entries' rows come from a search over the compressed indices (no host values), so
    a compiled function replays correctly for another matrix with the same number of entries."""
    f = cadenza.compile(lambda a, b: (a @ b).relu() + cadenza.sparse.mm(a, b))
    x = cadenza.tensor(np.linspace(-1, 1, 8).reshape(4, 2))
    for m in (_D, _D[::-1].copy(), _D * -2, np.eye(3, 4)):
        s = cadenza.tensor(m).to_sparse_csr()
        _same((s @ x).relu() + cadenza.sparse.mm(s, x), f(s, x), 1e-12)
        _same((s.t() @ x[:3]), cadenza.compile(lambda a, b: a @ b)(s.t(), x[:3]), 1e-12)


@pytest.mark.parametrize("make", [lambda t: t.to_sparse(), lambda t: t.to_sparse_csr(),
                                  lambda t: t.to_sparse_csc()])
def test_compiled_functions_take_and_return_sparse_tensors(make):
    """A sparse argument's index and value tensors are graph inputs (another matrix of the
    same shapes replays with its own entries: COO used to replay the traced indices), and a
    sparse result is rebuilt from the graph's outputs."""
    x = cadenza.tensor(np.linspace(-1, 1, 8).reshape(4, 2))
    f = cadenza.compile(lambda a, b: (a @ b, a * 3))
    for m in (_D, _D[::-1].copy(), np.eye(3, 4) * 2):
        s = make(cadenza.tensor(m))
        y, s3 = f(s, x)
        _same(s @ x, y, 1e-12)
        assert s3.layout is s.layout
        _same((s * 3).to_dense(), s3.to_dense(), 1e-12)
    d = cadenza.tensor(_D, requires_grad=True)
    y, _ = f(make(d), x)
    (y * y).sum().backward()
    d2 = cadenza.tensor(_D, requires_grad=True)
    (((make(d2) @ x) ** 2).sum()).backward()
    _same(d2.grad, d.grad, 1e-12)


def test_sparse_operands_of_any_layout_are_refused_by_products():
    """COO @ CSR read the CSR's values array as a dense matrix (a wrong 1-D result): any sparse
    right operand is refused, as CSR @ COO was."""
    coo = cadenza.tensor(_D[:, :3]).to_sparse()
    csr = cadenza.tensor(_D[:, :3]).to_sparse_csr()
    for f in (lambda: coo @ csr, lambda: csr @ coo, lambda: cadenza.sparse.mm(coo, csr),
              lambda: coo.mm(csr.t()), lambda: csr @ csr):
        with pytest.raises(RuntimeError, match="sparse @ sparse"):
            f()
    with pytest.raises(TypeError, match="must be Tensor"):
        coo.mm(3)

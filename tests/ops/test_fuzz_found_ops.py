"""Regression tests against PyTorch for the op bugs tests/fuzz/op_fuzz.py's new specs found
(each a reduced fuzzer case): NaN/inf edges, dtypes, shapes, crashes and accepted bad input."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import cadenza  # noqa: E402

INF, NAN = math.inf, math.nan


def run(fn):
    """fn(torch) and fn(cadenza): each result, or the exception class raised."""
    out = []
    for lib in (torch, cadenza):
        try:
            out.append(fn(lib))
        except Exception as e:  # noqa: BLE001 - the refusal is compared
            out.append(type(e))
    return out


def same(fn, rtol=1e-12):
    t, c = run(fn)
    if isinstance(t, type):
        assert isinstance(c, type) and issubclass(c, t), (t, c)
        return
    assert not isinstance(c, type), f"cadenza raised {c.__name__}, torch gave {t}"
    for a, b in zip(t if isinstance(t, (tuple, list)) else (t,),
                    c if isinstance(c, (tuple, list)) else (c,)):
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1], (a.dtype, b.dtype)
        assert tuple(a.shape) == tuple(b.shape), (a.shape, b.shape)
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=rtol,
                                   atol=0, equal_nan=True)


def f64(lib, v):
    return lib.tensor(v, dtype=lib.float64)


def test_frexp_of_a_0d_tensor():
    same(lambda lib: lib.frexp(f64(lib, -INF)))   # NumPy scalars came back: reading crashed
    same(lambda lib: lib.frexp(f64(lib, 12.5)))


@pytest.mark.parametrize("beta,alpha", [(0, 1), (0.5, 0), (0, 0), (1, -2)])
def test_add_products_ignore_input_or_product_scaled_by_zero(beta, alpha):
    c = [[1.0, NAN], [-INF, 4.0]]
    a, b = [[INF, 1.0], [1.0, 1.0]], [[NAN, 1.0], [1.0, 1.0]]
    kw = {"beta": beta, "alpha": alpha}
    same(lambda lib: lib.addmm(f64(lib, c), f64(lib, a), f64(lib, b), **kw))
    same(lambda lib: lib.addmv(f64(lib, c[0]), f64(lib, a), f64(lib, [1.0, NAN]), **kw))
    same(lambda lib: lib.addbmm(f64(lib, c), f64(lib, [a]), f64(lib, [b]), **kw))
    same(lambda lib: lib.baddbmm(f64(lib, c), f64(lib, [a]), f64(lib, [b]), **kw))


def test_addmm_input_must_expand_to_the_product():
    same(lambda lib: lib.addmm(lib.ones(1, 2, 1), lib.ones(2, 1), lib.ones(1, 3), beta=0))


def test_zeta_poles_and_domain_in_torch_order():
    x = [NAN, -INF, 0.0, 1.0, -14.4, 2.0, INF, INF, 3.0, -2.0, 5.0]
    q = [0.0, 0.0, 0.0, 1.0, 1.0, -1.0, 1.0, 2.0, INF, -2.0, -INF]
    same(lambda lib: lib.special.zeta(f64(lib, x), f64(lib, q)))


def test_igamma_edges_in_torch_order():
    v = [0.0, -1.0, INF, NAN, 0.5, 2.0]
    a, x = (np.array(t).reshape(-1) for t in np.meshgrid(v, v))
    for name in ("igamma", "igammac"):
        same(lambda lib: getattr(lib, name)(f64(lib, a), f64(lib, x)), rtol=1e-10)


def test_cov_of_one_variable_is_0d_and_float64_weights_promote():
    same(lambda lib: lib.cov(f64(lib, [[2.5, -6.7, -1.7, -3.5]]), correction=2))
    same(lambda lib: lib.corrcoef(lib.tensor([[-3, -2, 0, -2]])))
    same(lambda lib: lib.cov(lib.tensor([2.0, 3.0, -2.0, -3.0]),
                             aweights=f64(lib, [3.4, 0.4, 0.9, 2.0])))


def test_splitting_edge_cases():
    x = lambda lib: lib.arange(5.0)  # noqa: E731
    same(lambda lib: lib.tensor_split(x(lib), [5, 0]))          # was rejected
    same(lambda lib: lib.tensor_split(x(lib), [-1, -3, 7]))
    same(lambda lib: lib.hsplit(lib.ones(2, 5), [5, 4]))
    same(lambda lib: lib.tensor_split(x(lib), 0))               # ZeroDivisionError
    same(lambda lib: lib.tensor_split(lib.tensor(3.0), 1))      # 0-d: IndexError
    same(lambda lib: lib.unflatten(lib.ones(5, 5), 1, (0, -1)))  # ZeroDivisionError


def test_fftfreq_of_zero_samples():
    same(lambda lib: lib.fft.fftfreq(0, 2.0))
    same(lambda lib: lib.fft.rfftfreq(0))


def test_refusals_torch_makes():
    same(lambda lib: lib.renorm(lib.ones(4), 2, -1, 5.0))
    same(lambda lib: lib.diag(lib.ones(5, 1, 3), 3))
    same(lambda lib: lib.meshgrid(lib.ones(2, 2), lib.ones(3), indexing="xy"))
    same(lambda lib: lib.histogram(lib.ones(3, 3), bins=lib.tensor([0.5])))
    same(lambda lib: lib.tensor([1, 2], dtype=lib.uint8).pow(-3))  # 2 ** 253 wrapped


def test_clamp_of_bool_with_a_float_bound_is_float32():
    same(lambda lib: lib.clamp_max(lib.tensor([True, False]), 0.0))
    same(lambda lib: lib.tensor([True]).clamp_min(-1.5))


def test_ldexp_promotes_as_the_product():
    same(lambda lib: lib.ldexp(lib.tensor([5, -6], dtype=lib.int32), f64(lib, -1.3)))
    same(lambda lib: lib.ldexp(lib.tensor(-2.0, dtype=lib.float16), lib.tensor(2, dtype=lib.uint8)))
    same(lambda lib: lib.ldexp(lib.ones(3, dtype=lib.float16), lib.tensor([4, 0, 5],
                                                                          dtype=lib.uint8)))


def test_index_add_with_values_that_do_not_fit_raises():
    """np.add.at crashed the interpreter (segfault) on values of more dims than the slice."""
    t, c = run(lambda lib: lib.index_add(lib.zeros(3, 1, dtype=lib.uint8), 1, lib.tensor([0]),
                                         lib.ones(3, 2, 3, 4, dtype=lib.uint8), alpha=2))
    assert isinstance(t, type) and isinstance(c, type) and issubclass(c, RuntimeError)
    with pytest.raises(RuntimeError, match="broadcast"):
        cadenza.zeros(3, 1).index_put_((cadenza.arange(3),), cadenza.ones(3, 2, 3, 4),
                                       accumulate=True)


@pytest.mark.parametrize("sa,sb", [((3, 1), (2, 1)), ((1, 0), (1, 2)), ((3, 2), (1, 4))])
def test_einsum_gradient_of_a_broadcast_size_1_letter(sa, sb):
    """'ij,jk' with j of size 1 in one operand: its gradient sums over the other's j (the
    backward raised a ShapeError)."""
    grads = []
    for lib in (torch, cadenza):
        a = lib.ones(*sa, dtype=lib.float64, requires_grad=True)
        b = lib.full(sb, 2.0, dtype=lib.float64, requires_grad=True)
        (lib.einsum("ij,jk->ik", a * 1.5, b) * 3).sum().backward()
        grads.append((a.grad.numpy(), b.grad.numpy()))
    for t, c in zip(*grads):
        np.testing.assert_array_equal(c, t)


@pytest.mark.parametrize("eq,shapes,dtype", [
    ("ij->", [(2, 3)], "uint8"), ("ij->i", [(2, 3)], "int32"), ("ii->", [(2, 2)], "int16"),
    ("ij->", [(2, 3)], "bool"), ("ii->i", [(2, 2)], "uint8"),
    ("ij,jk->ik", [(2, 3), (3, 2)], "uint8"),
    ("ij,jk->", [(2, 3), (3, 2)], "int32"), ("ij,k->ik", [(2, 3), (4,)], "int32"),
])
def test_einsum_integer_sums_promote_like_torch(eq, shapes, dtype):
    # torch sums a letter only one operand holds out of it first, with sum (int64)
    got = cadenza.einsum(eq, *[cadenza.ones(s, dtype=getattr(cadenza, dtype)) for s in shapes])
    want = torch.einsum(eq, *[torch.ones(s, dtype=getattr(torch, dtype)) for s in shapes])
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_entr_gradient_is_inf_at_zero_and_nan_below():
    def fn(lib):
        x = f64(lib, [0.0, 1.0, -1.0, 0.5])
        x.requires_grad_(True)
        lib.special.entr(x).sum().backward()
        return x.grad
    same(fn)


@pytest.mark.parametrize("kw", [
    lambda lib: {"aweights": f64(lib, [0.0, 0.0, 0.0])},
    lambda lib: {"fweights": lib.tensor([0, 0, 0])},
    lambda lib: {"fweights": lib.tensor([1, 1, 1]), "aweights": f64(lib, [0.0, 0.0, 0.0])},
    lambda lib: {"aweights": f64(lib, [1.0, -1.0, 1.0])},
    lambda lib: {"fweights": lib.tensor([1, -1, 1])},
    lambda lib: {"fweights": lib.tensor([1.0, 1.0, 1.0])},
    lambda lib: {"fweights": lib.tensor([1, 0, 0])},
])
def test_cov_refuses_weights_torch_refuses(kw):
    same(lambda lib: lib.cov(f64(lib, [[1.0, 2.0, 3.0]]), **kw(lib)))


@pytest.mark.parametrize("op", ["index_copy", "index_add", "index_copy_", "index_add_"])
@pytest.mark.parametrize("idx", [[0, 1], [1]])
def test_index_copy_add_refuse_a_0d_source_for_several_indices(op, idx):
    same(lambda lib: getattr(lib.zeros(3, dtype=lib.float64), op)(0, lib.tensor(idx),
                                                                   f64(lib, 5.0)))


@pytest.mark.parametrize("fn", [
    lambda lib: lib.flip(f64(lib, 1.5), (0,)),
    lambda lib: lib.flip(f64(lib, 1.5), (-1,)),
    lambda lib: lib.flip(f64(lib, 1.5), (1,)),
    lambda lib: lib.flip(f64(lib, 1.5), (0, 0)),
    lambda lib: lib.flipud(f64(lib, 1.5)),
    lambda lib: lib.fliplr(f64(lib, [1.5, 2.0])),
    lambda lib: lib.fliplr(f64(lib, [[1.5, 2.0]])),
])
def test_flip_of_0d_and_flipud_fliplr_dims_as_torch(fn):
    same(fn)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("fn", ["var", "var_mean"])
@pytest.mark.parametrize("x", [[3.0], [1.0, 2.0], [[1.0, 5.0]]])
def test_var_gradient_without_degrees_of_freedom(fn, x):
    def grad(lib):
        t = f64(lib, x).requires_grad_(True)
        r = getattr(lib, fn)(t, dim=-1, correction=2)
        (r[0] if isinstance(r, tuple) else r).sum().backward()
        return t.grad
    same(grad)

"""cadenza.distributions.transforms and constraint_registry vs torch (float64): forward,
inverse, log_abs_det_jacobian and their gradients, sign / event_dim / domain / codomain,
caching, inv, shapes, composition, and biject_to / transform_to per constraint."""
import numpy as np
import pytest
import torch

import cadenza
import cadenza.distributions as cd
import torch.distributions as td
from cadenza.distributions import constraints as cc
from cadenza.distributions import transforms as ct
from torch.distributions import constraints as tc
from torch.distributions import transforms as tt


def _pair(a, grad=True):
    a = np.asarray(a, dtype=np.float64)
    return cadenza.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad)


def _close(c, t, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(np.asarray(c.detach().numpy()), t.detach().numpy(), rtol=rtol,
                               atol=atol)


def _rand(shape, seed=0, lo=-1.5, hi=1.5):
    return np.random.default_rng(seed).uniform(lo, hi, size=shape)


def _simplex(shape, seed=0):
    a = np.random.default_rng(seed).uniform(0.1, 1.0, size=shape)
    return a / a.sum(-1, keepdims=True)


# name -> (constructor args as (cadenza, torch) pairs, input-x maker)
def _cases():
    pos = _rand((3, 4), 1, 0.2, 2.0)
    loc, scale = _rand((4,), 2), _rand((4,), 3, 0.5, 2.0)
    return {
        "ExpTransform": ((), _rand((3, 4))),
        "SigmoidTransform": ((), _rand((3, 4))),
        "TanhTransform": ((), _rand((3, 4))),
        "SoftplusTransform": ((), _rand((3, 4))),
        "AffineTransform": ((loc, scale), _rand((3, 4))),
        "AffineTransform-float": ((0.5, -2.0), _rand((3, 4))),
        "PowerTransform": ((np.array([0.5, 2.0, -1.0, 3.0]),), pos),
        "StickBreakingTransform": ((), _rand((3, 4))),
        "CorrCholeskyTransform": ((), _rand((2, 6))),
        "LowerCholeskyTransform": ((), _rand((2, 3, 3))),
        "PositiveDefiniteTransform": ((), _rand((2, 3, 3))),
        "SoftmaxTransform": ((), _rand((3, 4))),
        "AbsTransform": ((), _rand((3, 4))),
    }


CASES = _cases()
BIJECTIVE_LDJ = {"ExpTransform", "SigmoidTransform", "TanhTransform", "SoftplusTransform",
                 "AffineTransform", "AffineTransform-float", "PowerTransform",
                 "StickBreakingTransform", "CorrCholeskyTransform"}


def _build(name, args):
    cls = name.split("-")[0]
    cargs, targs = [], []
    for a in args:
        if isinstance(a, np.ndarray):
            c, t = _pair(a)
            cargs.append(c)
            targs.append(t)
        else:
            cargs.append(a)
            targs.append(a)
    return getattr(ct, cls)(*cargs), getattr(tt, cls)(*targs), cargs, targs


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_inverse_and_ldj_match_torch(name):
    args, xa = CASES[name]
    c, t, cargs, targs = _build(name, args)
    x = _pair(xa)
    yc, yt = c(x[0]), t(x[1])
    _close(yc, yt)
    _close(c.inv(yc), t.inv(yt))
    assert c.bijective == t.bijective
    assert repr(c.domain) == repr(t.domain) and repr(c.codomain) == repr(t.codomain)
    assert c.domain.event_dim == t.domain.event_dim
    assert c.codomain.event_dim == t.codomain.event_dim
    assert c.forward_shape(tuple(xa.shape)) == tuple(t.forward_shape(torch.Size(xa.shape)))
    assert c.inverse_shape(tuple(yc.shape)) == tuple(t.inverse_shape(yt.shape))
    # gradients of the forward map (w.r.t. x and any Tensor parameter)
    gc = cadenza.autograd.grad((yc * yc).sum(), [x[0]] + [a for a in cargs
                                                          if isinstance(a, cadenza.Tensor)])
    gt = torch.autograd.grad((yt * yt).sum(), [x[1]] + [a for a in targs
                                                        if isinstance(a, torch.Tensor)])
    for a, b in zip(gc, gt):
        _close(a, b, rtol=1e-9)
    if name in BIJECTIVE_LDJ:
        yc, yt = c(x[0]), t(x[1])
        lc, lt = c.log_abs_det_jacobian(x[0], yc), t.log_abs_det_jacobian(x[1], yt)
        assert tuple(lc.shape) == tuple(lt.shape)
        _close(lc, lt, rtol=1e-9)
        if lt.requires_grad:
            gc = cadenza.autograd.grad(lc.sum(), [x[0]], allow_unused=True)[0]
            gt = torch.autograd.grad(lt.sum(), [x[1]], allow_unused=True)[0]
            assert (gc is None) == (gt is None)
        if lt.requires_grad and gt is not None:
            _close(gc, gt, rtol=1e-8, atol=1e-10)
        # the inverse's log-det is the negative at swapped arguments
        _close(c.inv.log_abs_det_jacobian(yc, x[0]), t.inv.log_abs_det_jacobian(yt, x[1]),
               rtol=1e-9)


@pytest.mark.parametrize("name", ["ExpTransform", "SigmoidTransform", "TanhTransform",
                                  "SoftplusTransform", "AffineTransform-float"])
def test_sign_and_event_dim(name):
    c, t, _, _ = _build(name, CASES[name][0])
    assert c.sign == t.sign
    assert c.event_dim == t.event_dim
    assert c.inv.sign == t.inv.sign


def test_tensor_sign_and_affine_event_dim():
    s = _pair([2.0, -3.0, 0.5])
    c, t = ct.AffineTransform(0.0, s[0], event_dim=1), tt.AffineTransform(0.0, s[1], event_dim=1)
    _close(c.sign, t.sign)
    x = _pair(_rand((2, 3)))
    _close(c.log_abs_det_jacobian(x[0], c(x[0])), t.log_abs_det_jacobian(x[1], t(x[1])))
    assert c.event_dim == 1 and repr(c.domain) == repr(t.domain)
    p = _pair([2.0, -1.0])
    _close(ct.PowerTransform(p[0]).sign, tt.PowerTransform(p[1]).sign)


def test_inverse_is_cached_and_inv_inv_is_self():
    e = ct.ExpTransform()
    assert e.inv.inv is e
    assert e.inv is e.inv
    cached = ct.ExpTransform(cache_size=1)
    x = cadenza.tensor([0.5, 1.0], dtype=cadenza.float64)
    y = cached(x)
    assert cached.inv(y) is x            # the cache returns the original x
    assert cached(x) is y
    uncached = ct.ExpTransform()
    assert uncached.inv(uncached(x)) is not x
    assert e.with_cache(1)._cache_size == 1 and e.with_cache(0) is e
    with pytest.raises(ValueError, match="cache_size"):
        ct.ExpTransform(cache_size=2)
    assert ct.ExpTransform() == ct.ExpTransform() and ct.ExpTransform() != ct.TanhTransform()
    assert ct.AffineTransform(1.0, 2.0) == ct.AffineTransform(1.0, 2.0)
    assert ct.AffineTransform(1.0, 2.0) != ct.AffineTransform(1.0, 3.0)


def test_compose_matches_torch():
    x = _pair(_rand((3, 4)))
    parts_c = [ct.AffineTransform(0.3, 2.0), ct.TanhTransform(), ct.AffineTransform(1.0, -0.5)]
    parts_t = [tt.AffineTransform(0.3, 2.0), tt.TanhTransform(), tt.AffineTransform(1.0, -0.5)]
    c, t = ct.ComposeTransform(parts_c), tt.ComposeTransform(parts_t)
    yc, yt = c(x[0]), t(x[1])
    _close(yc, yt)
    _close(c.inv(yc), t.inv(yt))
    _close(c.log_abs_det_jacobian(x[0], yc), t.log_abs_det_jacobian(x[1], yt))
    assert c.sign == t.sign == -1
    assert c.inv.inv is c
    # mixing event dims: a vector-valued part makes the composition's event_dim 1
    c2 = ct.ComposeTransform([ct.ExpTransform(), ct.StickBreakingTransform()])
    t2 = tt.ComposeTransform([tt.ExpTransform(), tt.StickBreakingTransform()])
    assert c2.domain.event_dim == t2.domain.event_dim == 1
    l2c = c2.log_abs_det_jacobian(x[0], c2(x[0]))
    l2t = t2.log_abs_det_jacobian(x[1], t2(x[1]))
    assert tuple(l2c.shape) == tuple(l2t.shape) == (3,)
    _close(l2c, l2t)
    assert ct.identity_transform(x[0]) is x[0]
    _close(ct.identity_transform.log_abs_det_jacobian(x[0], x[0]), torch.zeros(3, 4))


def test_independent_reshape_cat_stack():
    x = _pair(_rand((2, 3, 4)))
    c = ct.IndependentTransform(ct.ExpTransform(), 2)
    t = tt.IndependentTransform(tt.ExpTransform(), 2)
    _close(c.log_abs_det_jacobian(x[0], c(x[0])), t.log_abs_det_jacobian(x[1], t(x[1])))
    assert c.event_dim == t.event_dim == 2 and repr(c.codomain) == repr(t.codomain)
    r = ct.ReshapeTransform((3, 4), (12,))
    rt = tt.ReshapeTransform(torch.Size((3, 4)), torch.Size((12,)))
    assert tuple(r(x[0]).shape) == (2, 12)
    assert r.forward_shape((5, 3, 4)) == (5, 12) and r.inverse_shape((5, 12)) == (5, 3, 4)
    _close(r.log_abs_det_jacobian(x[0], r(x[0])), rt.log_abs_det_jacobian(x[1], rt(x[1])))
    with pytest.raises(ValueError):
        ct.ReshapeTransform((3, 4), (5,))
    cat_c = ct.CatTransform([ct.ExpTransform(), ct.identity_transform, ct.TanhTransform()],
                            dim=-1, lengths=[1, 2, 1])
    cat_t = tt.CatTransform([tt.ExpTransform(), tt.identity_transform, tt.TanhTransform()],
                            dim=-1, lengths=[1, 2, 1])
    _close(cat_c(x[0]), cat_t(x[1]))
    _close(cat_c.inv(cat_c(x[0])), cat_t.inv(cat_t(x[1])))
    _close(cat_c.log_abs_det_jacobian(x[0], cat_c(x[0])),
           cat_t.log_abs_det_jacobian(x[1], cat_t(x[1])))
    st_c = ct.StackTransform([ct.ExpTransform(), ct.SigmoidTransform(), ct.ExpTransform()], 1)
    st_t = tt.StackTransform([tt.ExpTransform(), tt.SigmoidTransform(), tt.ExpTransform()], 1)
    _close(st_c(x[0]), st_t(x[1]))
    _close(st_c.inv(st_c(x[0])), st_t.inv(st_t(x[1])))
    _close(st_c.log_abs_det_jacobian(x[0], st_c(x[0])),
           st_t.log_abs_det_jacobian(x[1], st_t(x[1])))
    assert repr(st_c.domain.event_dim) == repr(st_t.domain.event_dim)
    with pytest.raises(ValueError):
        st_c(x[0][:, :2])


def test_cumulative_distribution_transform():
    x = _pair(_rand((5,)))
    c = ct.CumulativeDistributionTransform(cd.Normal(0.5, 2.0))
    t = tt.CumulativeDistributionTransform(td.Normal(0.5, 2.0))
    _close(c(x[0]), t(x[1]), rtol=1e-7)  # cadenza's erf is ~1e-8 accurate
    _close(c.inv(c(x[0])), t.inv(t(x[1])), rtol=1e-6)
    _close(c.log_abs_det_jacobian(x[0], c(x[0])), t.log_abs_det_jacobian(x[1], t(x[1])))
    assert c.sign == 1 and repr(c.codomain) == repr(t.codomain)


def test_shape_errors_name_the_problem():
    with pytest.raises(ValueError, match="lower-diagonal"):
        ct.CorrCholeskyTransform().forward_shape((5,))
    with pytest.raises(ValueError, match="square"):
        ct.CorrCholeskyTransform().inverse_shape((3, 4))
    with pytest.raises(ValueError, match="Too few"):
        ct.StickBreakingTransform().forward_shape(())
    with pytest.raises(ValueError, match="event_dim"):
        ct.StickBreakingTransform().event_dim if False else \
            ct.CorrCholeskyTransform().event_dim


# ------------------------------------------------------------------ constraint registry

REGISTRY_CASES = [
    ("real", (), (3,)), ("positive", (), (3,)), ("nonnegative", (), (3,)),
    ("unit_interval", (), (3,)), ("simplex", (), (3,)), ("real_vector", (), (3,)),
    ("corr_cholesky", (), (3,)), ("greater_than", (1.5,), (3,)), ("less_than", (-0.5,), (3,)),
    ("interval", (-2.0, 3.0), (3,)), ("half_open_interval", (0.0, 4.0), (3,)),
    ("greater_than_eq", (2.0,), (3,)), ("lower_cholesky", (), (3, 3)),
    ("positive_definite", (), (3, 3)),
]


def _constraint(mod, name, args):
    c = getattr(mod, name)
    return c(*args) if args else c


@pytest.mark.parametrize("name, args, shape", REGISTRY_CASES,
                         ids=[c[0] for c in REGISTRY_CASES])
@pytest.mark.parametrize("registry", ["biject_to", "transform_to"])
def test_registry_matches_torch(registry, name, args, shape):
    from cadenza.distributions import constraint_registry as ccr
    from torch.distributions import constraint_registry as tcr
    con_c, con_t = _constraint(cc, name, args), _constraint(tc, name, args)
    try:
        tr_t = getattr(tcr, registry)(con_t)
    except NotImplementedError:
        with pytest.raises(NotImplementedError):
            getattr(ccr, registry)(con_c)
        return
    tr_c = getattr(ccr, registry)(con_c)
    assert repr(tr_c).replace(" ", "") == repr(tr_t).replace(" ", "")
    x = _pair(_rand(shape, 7))
    yc, yt = tr_c(x[0]), tr_t(x[1])
    _close(yc, yt)
    assert bool(con_c.check(yc.detach()).all())
    if tr_t.bijective and name not in ("lower_cholesky", "positive_definite"):
        _close(tr_c.log_abs_det_jacobian(x[0], yc), tr_t.log_abs_det_jacobian(x[1], yt),
               rtol=1e-9)
        _close(tr_c.inv(yc), tr_t.inv(yt), rtol=1e-8, atol=1e-10)


def test_registry_errors_and_custom_registration():
    from cadenza.distributions.constraint_registry import ConstraintRegistry
    with pytest.raises(NotImplementedError, match="_Boolean|Boolean"):
        cd.biject_to(cc.boolean)
    reg = ConstraintRegistry()

    @reg.register(cc.positive)
    def _softplus(con):
        return ct.SoftplusTransform()
    assert isinstance(reg(cc.greater_than(3.0)), ct.SoftplusTransform)
    with pytest.raises(TypeError):
        reg.register(int, lambda c: None)


# ------------------------------------------------------------------ constraints

def test_new_constraints_check_like_torch():
    vals = {
        "lower_triangular": np.array([[[1.0, 0.0], [2.0, 3.0]], [[1.0, 1.0], [0.0, 1.0]]]),
        "square": np.zeros((2, 3, 3)), "symmetric": np.array([[[1.0, 2.0], [2.0, 1.0]],
                                                               [[1.0, 2.0], [0.0, 1.0]]]),
        "positive_semidefinite": np.array([[[1.0, 1.0], [1.0, 1.0]], [[1.0, 2.0], [2.0, 1.0]]]),
        "one_hot": np.array([[0.0, 1.0, 0.0], [1.0, 1.0, 0.0]]),
        "corr_cholesky": np.array([[[1.0, 0.0], [0.6, 0.8]], [[1.0, 0.0], [0.6, 0.7]]]),
    }
    for name, v in vals.items():
        c = getattr(cc, name).check(cadenza.tensor(v))
        t = getattr(tc, name).check(torch.tensor(v))
        np.testing.assert_array_equal(c.numpy(), t.numpy(), err_msg=name)
        assert getattr(cc, name).event_dim == getattr(tc, name).event_dim
    v = np.array([[0.0, 2.0, 1.0], [1.0, 4.0, 0.5]])
    for c_, t_ in [(cc.multinomial(3), tc.multinomial(3)), (cc.less_than(1.0), tc.less_than(1.0)),
                   (cc.half_open_interval(0.0, 2.0), tc.half_open_interval(0.0, 2.0)),
                   (cc.cat([cc.positive, cc.real], -1, [1, 2]),
                    tc.cat([tc.positive, tc.real], -1, [1, 2])),
                   (cc.stack([cc.positive, cc.real, cc.unit_interval], -1),
                    tc.stack([tc.positive, tc.real, tc.unit_interval], -1))]:
        np.testing.assert_array_equal(c_.check(cadenza.tensor(v)).numpy(),
                                      t_.check(torch.tensor(v)).numpy())
        assert c_.event_dim == t_.event_dim and c_.is_discrete == t_.is_discrete
        assert repr(c_).split("(")[0] == repr(t_).split("(")[0]
    assert cc.is_dependent(cc.dependent) and not cc.is_dependent(cc.real)
    assert cc.is_dependent(cd.Uniform.support)
    assert cc.dependent(is_discrete=False, event_dim=1).event_dim == 1
    with pytest.raises(NotImplementedError):
        cc.dependent.event_dim
    with pytest.raises(ValueError, match="dependent"):
        cc.dependent.check(cadenza.tensor([1.0]))
    m = cc.MixtureSameFamilyConstraint(cc.positive)
    tm = tc.MixtureSameFamilyConstraint(tc.positive)
    np.testing.assert_array_equal(m.check(cadenza.tensor([1.0, -1.0])).numpy(),
                                  tm.check(torch.tensor([1.0, -1.0])).numpy())
    assert repr(m) == repr(tm)


def test_constraint_reprs_match_torch():
    for name in ("real", "positive", "unit_interval", "simplex", "real_vector", "boolean",
                 "nonnegative_integer", "lower_cholesky", "corr_cholesky"):
        assert repr(getattr(cc, name)) == repr(getattr(tc, name)), name

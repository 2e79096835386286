"""``cadenza.func`` (torch.func) against torch.func: grad, grad_and_value, vjp, jvp, jacrev,
jacfwd, hessian, vmap (values, nesting, in/out dims, randomness), functional_call and
stack_module_state."""
import numpy as np
import pytest

import cadenza
import cadenza.func as cf

torch = pytest.importorskip("torch")
tf = torch.func


def _r(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _c(a):
    return cadenza.tensor(a)


def _t(a):
    return torch.tensor(a)


def _close(c, t, atol=1e-10):
    if isinstance(t, dict):
        assert set(c) == set(t)
        for k in t:
            _close(c[k], t[k], atol)
        return
    if isinstance(t, (tuple, list)):
        assert type(c) is type(t) and len(c) == len(t)
        for x, y in zip(c, t):
            _close(x, y, atol)
        return
    assert tuple(c.shape) == tuple(t.shape)
    np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), atol=atol, rtol=1e-8)


def f_scalar(lib):
    return lambda x, y: (lib.sin(x) * y).sum() + (x ** 3).sum()


def test_grad_and_value_and_argnums():
    x, y = _r(4), _r(4, seed=1)
    _close(cf.grad(f_scalar(cadenza))(_c(x), _c(y)), tf.grad(f_scalar(torch))(_t(x), _t(y)))
    _close(cf.grad(f_scalar(cadenza), argnums=(0, 1))(_c(x), _c(y)),
           tf.grad(f_scalar(torch), argnums=(0, 1))(_t(x), _t(y)))
    _close(cf.grad(f_scalar(cadenza), argnums=-1)(_c(x), _c(y)),
           tf.grad(f_scalar(torch), argnums=-1)(_t(x), _t(y)))
    g, v = cf.grad_and_value(f_scalar(cadenza))(_c(x), _c(y))
    tg, tv = tf.grad_and_value(f_scalar(torch))(_t(x), _t(y))
    _close(g, tg)
    _close(v, tv)
    assert not v.requires_grad


def test_grad_has_aux_and_inputs_are_untouched():
    x = _c(_r(3))

    def f(v):
        return (v ** 2).sum(), {"mean": v.mean()}
    g, aux = cf.grad(f, has_aux=True)(x)
    _close(g, 2 * torch.tensor(_r(3)))
    assert float(aux["mean"]) == pytest.approx(float(x.mean()))
    assert not x.requires_grad and x.grad is None


def test_grad_nests_to_second_and_third_derivatives():
    x = _r(5)

    def f(lib):
        return lambda v: (lib.tanh(v) * v).sum()

    c2 = cf.grad(lambda v: cf.grad(f(cadenza))(v).sum())(_c(x))
    t2 = tf.grad(lambda v: tf.grad(f(torch))(v).sum())(_t(x))
    _close(c2, t2)
    c3 = cf.grad(lambda v: cf.grad(lambda w: cf.grad(f(cadenza))(w).sum())(v).sum())(_c(x))
    t3 = tf.grad(lambda v: tf.grad(lambda w: tf.grad(f(torch))(w).sum())(v).sum())(_t(x))
    _close(c3, t3)


def test_grad_errors():
    with pytest.raises(RuntimeError, match="scalar"):
        cf.grad(lambda v: v * 2)(_c(_r(3)))
    with pytest.raises(RuntimeError, match="floating point"):
        cf.grad(lambda v: v.sum())(cadenza.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="argnums"):
        cf.grad(lambda v: v.sum(), argnums=3)(_c(_r(3)))


def test_grad_over_parameter_dicts_with_functional_call():
    cadenza.manual_seed(0)
    cm = cadenza.nn.Sequential(cadenza.nn.Linear(3, 4), cadenza.nn.Tanh(),
                               cadenza.nn.Linear(4, 1)).double()
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(),
                             torch.nn.Linear(4, 1)).double()
    tm.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in cm.state_dict().items()})
    x = _r(5, 3)
    cparams = {k: v.detach() for k, v in cm.named_parameters()}
    tparams = {k: v.detach() for k, v in tm.named_parameters()}

    def loss(lib, func, model):
        return lambda p, inp: (func.functional_call(model, p, (inp,)) ** 2).mean()
    cg = cf.grad(loss(cadenza, cf, cm))(cparams, _c(x))
    tg = tf.grad(loss(torch, tf, tm))(tparams, _t(x))
    _close(cg, tg)
    # the module keeps its own parameters
    for k, v in cm.named_parameters():
        assert isinstance(v, cadenza.nn.Parameter)


def test_functional_call_buffers_strict_and_ties():
    bn = cadenza.nn.BatchNorm1d(3).double().eval()
    x = _c(_r(4, 3))
    rm = _c(np.array([1.0, 2.0, 3.0]))
    out = cf.functional_call(bn, {"running_mean": rm}, x)
    expected = (x - rm) / cadenza.sqrt(cadenza.ones(3, dtype=cadenza.float64) + bn.eps)
    _close(out, torch.tensor(expected.numpy()))
    assert bn.running_mean.tolist() == [0.0, 0.0, 0.0]
    lin = cadenza.nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match="missing"):
        cf.functional_call(lin, {"weight": cadenza.zeros(2, 2)}, cadenza.ones(1, 2), strict=True)
    with pytest.raises(ValueError, match="multiple values"):
        cf.functional_call(lin, ({"weight": lin.weight}, {"weight": lin.weight}),
                           cadenza.ones(1, 2))
    out = cf.functional_call(lin, ({"weight": cadenza.zeros(2, 2)}, {"bias": cadenza.ones(2)}),
                             (cadenza.ones(1, 2),))
    assert out.tolist() == [[1.0, 1.0]]


def test_vjp_and_jvp():
    x, v = _r(3), _r(3, seed=2)

    def f(lib):
        return lambda a: (lib.exp(a) * a, a.sum() * a)
    co, cfn = cf.vjp(f(cadenza), _c(x))
    to, tfn = tf.vjp(f(torch), _t(x))
    _close(co, to)
    cts = (_r(3, seed=3), _r(3, seed=4))
    _close(cfn((_c(cts[0]), _c(cts[1]))), tfn((_t(cts[0]), _t(cts[1]))))

    def g(lib):
        return lambda a, b: lib.sin(a) * b
    c = cf.jvp(g(cadenza), (_c(x), _c(v)), (_c(v), _c(x)))
    t = tf.jvp(g(torch), (_t(x), _t(v)), (_t(v), _t(x)))
    _close(c, t)
    with pytest.raises(RuntimeError, match="tuples"):
        cf.jvp(g(cadenza), [_c(x)], [_c(v)])


def test_jacobians_and_hessian():
    x, y = _r(3), _r(2, seed=1)

    def f(lib):
        return lambda a, b: lib.outer(lib.sin(a), b).sum(1) * a
    _close(cf.jacrev(f(cadenza))(_c(x), _c(y)), tf.jacrev(f(torch))(_t(x), _t(y)))
    _close(cf.jacrev(f(cadenza), argnums=(0, 1))(_c(x), _c(y)),
           tf.jacrev(f(torch), argnums=(0, 1))(_t(x), _t(y)))
    _close(cf.jacfwd(f(cadenza), argnums=1)(_c(x), _c(y)),
           tf.jacfwd(f(torch), argnums=1)(_t(x), _t(y)))

    def s(lib):
        return lambda a: (lib.sin(a) * a.sum()).sum()
    _close(cf.hessian(s(cadenza))(_c(x)), tf.hessian(s(torch))(_t(x)))
    m = _r(2, 3)
    _close(cf.jacrev(lambda a: a @ a.T)(_c(m)), tf.jacrev(lambda a: a @ a.T)(_t(m)))


def test_vmap_dims_and_nesting():
    x, y = _r(4, 3), _r(3, 4, seed=1)
    _close(cf.vmap(lambda a: a.sum())(_c(x)), tf.vmap(lambda a: a.sum())(_t(x)))
    _close(cf.vmap(lambda a, b: a * b, in_dims=(0, 1))(_c(x), _c(y)),
           tf.vmap(lambda a, b: a * b, in_dims=(0, 1))(_t(x), _t(y)))
    _close(cf.vmap(lambda a, b: a @ b, in_dims=(0, None))(_c(x), _c(y)),
           tf.vmap(lambda a, b: a @ b, in_dims=(0, None))(_t(x), _t(y)))
    _close(cf.vmap(lambda a: (a, a * 2), out_dims=(0, 1))(_c(x)),
           tf.vmap(lambda a: (a, a * 2), out_dims=(0, 1))(_t(x)))
    _close(cadenza.vmap(cadenza.vmap(lambda a: a * a.sum()))(_c(x)),
           torch.vmap(torch.vmap(lambda a: a * a.sum()))(_t(x)))
    _close(cf.vmap(lambda d: d["a"] + d["b"], in_dims=({"a": 0, "b": None},))(
        {"a": _c(x), "b": _c(x[0])}),
        tf.vmap(lambda d: d["a"] + d["b"], in_dims=({"a": 0, "b": None},))(
        {"a": _t(x), "b": _t(x[0])}))


def test_vmap_per_sample_gradients():
    w, xs = _r(3), _r(5, 3, seed=1)

    def loss(lib):
        return lambda w_, x_: (lib.tanh(x_ @ w_) - 1.0) ** 2
    c = cf.vmap(cf.grad(loss(cadenza)), in_dims=(None, 0))(_c(w), _c(xs))
    t = tf.vmap(tf.grad(loss(torch)), in_dims=(None, 0))(_t(w), _t(xs))
    _close(c, t)


def test_vmap_gradients_flow_to_inputs():
    a = cadenza.tensor(_r(4, 3), requires_grad=True)
    ta = torch.tensor(_r(4, 3), requires_grad=True)
    cf.vmap(lambda r: (r ** 2).sum())(a).sum().backward()
    tf.vmap(lambda r: (r ** 2).sum())(ta).sum().backward()
    _close(a.grad, ta.grad)


def test_vmap_errors_and_randomness():
    x = _c(_r(4, 3))
    with pytest.raises(ValueError, match="same size"):
        cf.vmap(lambda a, b: a + b)(x, _c(_r(3, 3)))
    with pytest.raises(ValueError, match="at least one"):
        cf.vmap(lambda a: a, in_dims=None)(x)
    with pytest.raises(ValueError, match="in_dim"):
        cf.vmap(lambda a: a, in_dims=2)(x)
    with pytest.raises(ValueError, match="Tensor"):
        cf.vmap(lambda a: 3)(x)
    with pytest.raises(RuntimeError, match="randomness"):
        cf.vmap(lambda a: a + cadenza.randn(3))(x)
    same = cf.vmap(lambda a: cadenza.randn(3), randomness="same")(x)
    assert bool((same == same[0]).all())
    diff = cf.vmap(lambda a: cadenza.randn(3), randomness="different")(x)
    assert not bool((diff == diff[0]).all())


def test_stack_module_state():
    models = [cadenza.nn.Linear(3, 2) for _ in range(4)]
    params, buffers = cf.stack_module_state(models)
    assert set(params) == {"weight", "bias"} and buffers == {}
    assert tuple(params["weight"].shape) == (4, 2, 3)
    assert params["weight"].requires_grad and params["weight"].is_leaf
    _close(params["bias"][2], torch.tensor(models[2].bias.detach().numpy()))
    x = _c(_r(5, 3)).float()
    out = cf.vmap(lambda p, b: cf.functional_call(models[0], (p, b), (x,)))(params, buffers)
    assert tuple(out.shape) == (4, 5, 2)
    _close(out[3].double(), torch.tensor(models[3](x).detach().numpy()).double(), atol=1e-6)

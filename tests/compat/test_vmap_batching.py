"""``cadenza.func.vmap`` as a batching transform (cadenza/_batching.py): per-sample gradients of
an MLP and a small CNN (functional_call + grad + cross_entropy) against a loop of ordinary
backward passes and against torch.func, in_dims/out_dims forms, nesting, chunk_size, the
transforms inside vmap, errors, and the per-sample fallback of an op without a rule."""
import os
import sys

import numpy as np
import pytest

import cadenza
import cadenza._batching as batching
import cadenza.func as cf
import cadenza.nn.functional as cF
from cadenza.ops import REGISTRY

torch = pytest.importorskip("torch")
tf = torch.func
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_func import _close, _r  # noqa: E402  (this folder's torch.func helpers)


@pytest.fixture
def fallbacks(monkeypatch):
    """The names of the ops that ran through the per-sample loop."""
    seen = []
    loop = batching._loop

    def spy(op, *args):
        seen.append(op.name)
        return loop(op, *args)
    monkeypatch.setattr(batching, "_loop", spy)
    return seen


def _mlp(L):
    return L.nn.Sequential(L.nn.Linear(5, 7), L.nn.Tanh(), L.nn.Linear(7, 3))


class _CNN:
    @staticmethod
    def make(L):
        nn = L.nn

        class CNN(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(2, 3, 3, padding=1)
                self.fc = nn.Linear(3 * 3 * 3, 4)

            def forward(self, x):
                x = L.nn.functional.max_pool2d(L.nn.functional.relu(self.conv(x)), 2)
                return self.fc(x.flatten(1))
        return CNN()


def _same_weights(cmod, tmod):
    with torch.no_grad():
        for (n, p), (_, q) in zip(cmod.named_parameters(), tmod.named_parameters()):
            q.copy_(torch.tensor(p.detach().numpy()))


def _per_sample(L, model, x, y):
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss(p, xi, yi):
        out = L.func.functional_call(model, p, (xi.unsqueeze(0),))
        return L.nn.functional.cross_entropy(out, yi.unsqueeze(0))
    return L.func.vmap(L.func.grad(loss), in_dims=(None, 0, 0))(params, x, y)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_per_sample_grads_match_loop_and_torch(kind, fallbacks):
    cmodel = _mlp(cadenza) if kind == "mlp" else _CNN.make(cadenza)
    tmodel = _mlp(torch) if kind == "mlp" else _CNN.make(torch)
    cmodel.double()
    tmodel.double()
    _same_weights(cmodel, tmodel)
    xs = _r(6, 5) if kind == "mlp" else _r(6, 2, 6, 6)
    ys = np.array([0, 2, 1, 1, 0, 2])
    got = _per_sample(cadenza, cmodel, cadenza.tensor(xs), cadenza.tensor(ys))
    want = _per_sample(torch, tmodel, torch.tensor(xs), torch.tensor(ys))
    _close(got, want)
    assert fallbacks == []      # every op of these programs has a batching rule
    for i in range(len(xs)):    # a loop of ordinary backward passes
        cmodel.zero_grad()
        cF.cross_entropy(cmodel(cadenza.tensor(xs[i:i + 1])),
                         cadenza.tensor(ys[i:i + 1])).backward()
        for n, p in cmodel.named_parameters():
            np.testing.assert_allclose(got[n][i].numpy(), p.grad.numpy(), atol=1e-12)


def test_per_sample_grads_of_batched_weights_conv():
    # the weight mapped too (an ensemble of convolutions): conv2d's grouped rule
    w, x = _r(3, 4, 2, 3, 3), _r(3, 5, 2, 6, 6)

    def f(L):
        def g(w, x):
            return L.nn.functional.conv2d(x, w, padding=1).tanh().sum()
        return L.func.vmap(L.func.grad(g, argnums=(0, 1)))
    _close(f(cadenza)(cadenza.tensor(w), cadenza.tensor(x)),
           f(torch)(torch.tensor(w), torch.tensor(x)))


def test_in_dims_forms():
    x, y, z = _r(3, 4), _r(4, 3, seed=1), _r(4, seed=2)
    cases = [
        (lambda a, b: a * b.T, (0, 1)),
        (lambda a, b: a * b.T, (-2, -1)),
        (lambda a, b: a + b.sum(), (None, 1)),
        (lambda a, b: (a @ b).softmax(-1), (0, None)),
        (lambda a, b: (a[1:] * b[:2]).log_softmax(0), (1, 0)),
    ]
    for f, dims in cases:
        _close(cf.vmap(f, in_dims=dims)(cadenza.tensor(x), cadenza.tensor(y)),
               tf.vmap(f, in_dims=dims)(torch.tensor(x), torch.tensor(y)))

    def g(d, t):
        return d["a"] * t[0] + d["b"][1], t[1].mean()
    dims = ({"a": 1, "b": None}, (0, None))
    _close(cf.vmap(g, in_dims=dims)({"a": cadenza.tensor(x), "b": cadenza.tensor(y)},
                                    (cadenza.tensor(z), cadenza.tensor(y))),
           tf.vmap(g, in_dims=dims)({"a": torch.tensor(x), "b": torch.tensor(y)},
                                    (torch.tensor(z), torch.tensor(y))))


def test_dict_in_dims_match_by_key():
    a = {"x": cadenza.ones(3, 2), "y": cadenza.arange(6.).reshape(2, 3)}
    out = cf.vmap(lambda d: d["x"] + d["y"], in_dims=({"y": 1, "x": 0},))(a)
    np.testing.assert_array_equal(out.numpy(), (a["x"] + a["y"].t()).numpy())
    with pytest.raises(ValueError, match="in_dims is not compatible"):
        cf.vmap(lambda d: d["x"], in_dims=({"z": 1, "x": 0},))(a)


def test_out_dims_and_unbatched_outputs():
    x = _r(3, 4)

    def f(L):
        return lambda a: (a.exp(), a.sum(), L.ones(2, dtype=L.float64))
    for od in (0, (1, 0, 0), (-1, 0, 0), (0, 0, None)):
        _close(cf.vmap(f(cadenza), out_dims=od)(cadenza.tensor(x)),
               tf.vmap(f(torch), out_dims=od)(torch.tensor(x)))
    with pytest.raises(ValueError, match="can not return a BatchedTensor when out_dim is None"):
        cf.vmap(lambda a: a * 2, out_dims=None)(cadenza.tensor(x))


def test_nested_vmap_and_transforms_inside():
    x, w = _r(2, 3, 4), _r(4, 2, seed=1)

    def f(L):
        inner = L.func.vmap(lambda r, w: (r @ w).tanh().sum() * r, in_dims=(0, None))
        return L.func.vmap(inner, in_dims=(0, None))
    _close(f(cadenza)(cadenza.tensor(x), cadenza.tensor(w)),
           f(torch)(torch.tensor(x), torch.tensor(w)))

    def h(L):   # per-sample (per-row) gradient under two vmaps, unmapped weights
        g = L.func.grad(lambda w, r: ((r @ w).sin() ** 2).sum())
        return L.func.vmap(L.func.vmap(g, in_dims=(None, 0)), in_dims=(None, 0))
    _close(h(cadenza)(cadenza.tensor(w), cadenza.tensor(x)),
           h(torch)(torch.tensor(w), torch.tensor(x)))

    v = _r(5, 3, seed=2)

    def fn(L):
        return lambda a: (a.sin() * a.pow(2)).sum()
    for tr in ("jacrev", "hessian", "jacfwd"):
        _close(cf.vmap(getattr(cf, tr)(fn(cadenza)))(cadenza.tensor(v)),
               tf.vmap(getattr(tf, tr)(fn(torch)))(torch.tensor(v)))
    _close(cf.vmap(lambda a: cf.jvp(lambda b: b.exp() * b, (a,), (a.cos(),)))(
        cadenza.tensor(v)),
        tf.vmap(lambda a: tf.jvp(lambda b: b.exp() * b, (a,), (a.cos(),)))(torch.tensor(v)))
    _close(cf.vmap(lambda a: cf.vjp(lambda b: b.exp() * b, a)[1](a.sin()))(cadenza.tensor(v)),
           tf.vmap(lambda a: tf.vjp(lambda b: b.exp() * b, a)[1](a.sin()))(torch.tensor(v)))
    # grad of a vmapped function, outside
    gc = cf.grad(lambda w: cf.vmap(lambda r: (r @ w).tanh().sum())(cadenza.tensor(x[0])).sum())
    gt = tf.grad(lambda w: tf.vmap(lambda r: (r @ w).tanh().sum())(torch.tensor(x[0])).sum())
    _close(gc(cadenza.tensor(w)), gt(torch.tensor(w)))


def test_chunk_size():
    x = _r(7, 3)

    def f(a):
        return a.softmax(0), a.sum()
    for cs in (1, 3, 7, 10):
        _close(cf.vmap(f, chunk_size=cs)(cadenza.tensor(x)), tf.vmap(f)(torch.tensor(x)))
    with pytest.raises(ValueError, match="chunk_size should be None or greater than 0"):
        cf.vmap(f, chunk_size=0)
    same = cf.vmap(lambda a: a + cadenza.rand(()), randomness="same", chunk_size=2)(
        cadenza.zeros(5))
    assert bool((same == same[0]).all())   # every chunk draws as the first


def test_errors():
    x = cadenza.ones(3, 2)
    with pytest.raises(ValueError, match=r"same size in the mapped dimension, got sizes "
                                         r"\[3, 4\]"):
        cf.vmap(lambda a, b: a + b)(x, cadenza.ones(4, 2))
    with pytest.raises(RuntimeError, match="calling .item"):
        cf.vmap(lambda a: a.sum().item())(x)
    with pytest.raises(RuntimeError, match="data-dependent control flow"):
        cf.vmap(lambda a: a if a.sum() > 0 else -a)(x)
    with pytest.raises(RuntimeError, match="does not support"):
        cf.vmap(lambda a: a.sum()._data.copy())(x)   # raw values: refused, never wrong
    with pytest.raises(RuntimeError, match="randomness error mode"):
        cf.vmap(lambda a: cF.dropout(a, 0.5))(x)


def test_ops_without_rule_fall_back_per_sample(fallbacks):
    x, idx = _r(4, 3, 3), np.array([[2, 0], [1, 1], [0, 2], [2, 2]])

    def f(L):
        def g(a, i):
            m = L.linalg.det(a) * a                  # det: no rule
            return L.einsum("ij,jk->ik", m, a)[i].sum(0) + a.cummax(-1).values.sum(0)
        return L.func.vmap(g)
    _close(f(cadenza)(cadenza.tensor(x), cadenza.tensor(idx)),
           f(torch)(torch.tensor(x), torch.tensor(idx)))
    assert {"linalg_det", "einsum", "cummax_index"} <= set(fallbacks)
    # gradients flow through the fallback per sample
    gc = cf.vmap(cf.grad(lambda a: cadenza.linalg.det(a)))(cadenza.tensor(x))
    gt = tf.vmap(tf.grad(lambda a: torch.linalg.det(a)))(torch.tensor(x))
    _close(gc, gt)


def test_randomness_modes():
    x = cadenza.ones(4, 3)
    same = cf.vmap(lambda a: a * cadenza.randn(3), randomness="same")(x)
    assert bool((same == same[0]).all())
    drop = cf.vmap(lambda a: cF.dropout(a, 0.5), randomness="same")(cadenza.ones(4, 50))
    assert bool((drop == drop[0]).all()) and set(drop.unique().tolist()) == {0.0, 2.0}
    diff = cf.vmap(lambda a: cF.dropout(a, 0.5), randomness="different")(cadenza.ones(4, 50))
    assert not bool((diff == diff[0]).all()) and set(diff.unique().tolist()) == {0.0, 2.0}
    # nested: 'different' across the outer level, 'same' across the inner one
    r = cf.vmap(cf.vmap(lambda a: cadenza.rand(()) + a, randomness="same"),
                randomness="different")(cadenza.zeros(2, 3))
    assert bool((r == r[:, :1]).all()) and r[0, 0] != r[1, 0]
    with pytest.raises(RuntimeError, match="randomness error mode"):
        cf.vmap(lambda a: a + cadenza.randn(3, generator=cadenza.Generator()))(x)
    # per-sample gradients through dropout: each sample's own mask
    w = cadenza.tensor(_r(3, 50))
    g = cf.vmap(cf.grad(lambda w, a: (cF.dropout(a, 0.5) * w).sum()), in_dims=(None, 0),
                randomness="different")(w, cadenza.ones(4, 3, 50, dtype=cadenza.float64))
    assert set(g.unique().tolist()) == {0.0, 2.0} and not bool((g == g[0]).all())


def test_ensemble_mapped_parameters():
    models = [_mlp(cadenza) for _ in range(3)]
    params, buffers = cf.stack_module_state(models)
    x = cadenza.tensor(_r(6, 5)).float()
    out = cf.vmap(lambda p, b: cf.functional_call(models[0], (p, b), (x,)),
                  in_dims=(0, 0))(params, buffers)
    loop = cadenza.stack([m(x) for m in models])
    np.testing.assert_allclose(out.detach().numpy(), loop.detach().numpy(), atol=1e-6)


def test_inplace_ops_and_setitem():
    x, v = _r(3, 4), _r(3, seed=1)

    def f(L):
        def g(a, s):
            b = a.clone()
            b.mul_(2).add_(s)
            b[0] = 5.0
            b[1:3] += a[:2] * s
            L.nn.functional.relu(b, inplace=True)
            return b
        return g
    _close(cf.vmap(f(cadenza))(cadenza.tensor(x), cadenza.tensor(v)),
           tf.vmap(f(torch))(torch.tensor(x), torch.tensor(v)))
    # a per-sample gradient through the in-place ops
    _close(cf.vmap(cf.grad(lambda a, s: f(cadenza)(a, s).sum()))(cadenza.tensor(x),
                                                                cadenza.tensor(v)),
           tf.vmap(tf.grad(lambda a, s: f(torch)(a, s).sum()))(torch.tensor(x),
                                                              torch.tensor(v)))
    with pytest.raises(RuntimeError, match="inplace arithmetic"):
        cf.vmap(lambda a: cadenza.zeros(4, dtype=cadenza.float64).add_(a))(cadenza.tensor(x))


def _rule_cases(L):
    F = L.nn.functional
    return [
        lambda x, t, w: F.nll_loss(F.log_softmax(x, -1), t) +
        F.cross_entropy(x, t, reduction="none").sum(),
        lambda x, t, w: x.gather(1, t.unsqueeze(1)).sum() + F.embedding(t, w).sum(),
        lambda x, t, w: x.sort(-1).values[:, 0] + x.max(-1).values + x[0].sum(0) + x.amax((0, 1)),
        lambda x, t, w: F.layer_norm(x, (5,), w[0], w[1]).sum(-1) + F.mse_loss(x, x.tanh()),
        lambda x, t, w: F.scaled_dot_product_attention(x, x.sin(), x.cos()).sum(0) + (x @ w)[0],
        lambda x, t, w: F.pad(x, (1, 2)).cumsum(-1).sum(-1) +
        x.flip(0).roll(1, 1).softmax(0)[0, :3],
        lambda x, t, w: F.gelu(x).var(-1) + x.permute(1, 0).reshape(15)[:3] +
        x[:, [0, 2, 4]].sum(1),
    ]


def test_batching_rules_values_and_grads(fallbacks):
    x, t, w = _r(4, 3, 5), np.random.default_rng(1).integers(0, 5, (4, 3)), _r(5, 5, seed=2)
    dims = (0, 0, None)
    for fc, ft in zip(_rule_cases(cadenza), _rule_cases(torch)):
        args_c = (cadenza.tensor(x), cadenza.tensor(t), cadenza.tensor(w))
        args_t = (torch.tensor(x), torch.tensor(t), torch.tensor(w))
        _close(cf.vmap(fc, in_dims=dims)(*args_c), tf.vmap(ft, in_dims=dims)(*args_t))

        def scalar(f):
            return lambda *a: f(*a).sum()
        _close(cf.vmap(cf.grad(scalar(fc), argnums=(0, 2)), in_dims=dims)(*args_c),
               tf.vmap(tf.grad(scalar(ft), argnums=(0, 2)), in_dims=dims)(*args_t))
    assert fallbacks == []


def test_vmap_inside_compile():
    w, x = cadenza.tensor(_r(3, 2)), cadenza.tensor(_r(4, 3, seed=1))

    def pg(w, x):
        return cf.vmap(cf.grad(lambda w, r: (r @ w).tanh().sum()), in_dims=(None, 0))(w, x)
    compiled = cadenza.compile(pg)
    for scale in (1.0, 2.0):
        np.testing.assert_allclose(compiled(w, x * scale).numpy(), pg(w, x * scale).numpy(),
                                   atol=1e-12)


def test_every_rule_names_a_registered_op():
    assert sorted(n for n in batching._RULES if n not in REGISTRY) == []

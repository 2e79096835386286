"""nn.utils.prune against torch: masks, combined (iterative) pruning, global pruning, custom
masks, removal, state-dict keys, forward values and gradients."""
import numpy as np
import pytest

import cadenza
import cadenza.nn as cnn
from cadenza.nn.utils import prune as cprune

torch = pytest.importorskip("torch")
import torch.nn.utils.prune as tprune  # noqa: E402


def _pair(shape=(6, 5), seed=0, conv=False):
    rng = np.random.default_rng(seed)
    if conv:
        cm, tm = cnn.Conv2d(3, 4, 3).double(), torch.nn.Conv2d(3, 4, 3).double()
    else:
        cm, tm = cnn.Linear(shape[1], shape[0]).double(), \
            torch.nn.Linear(shape[1], shape[0]).double()
    w = rng.standard_normal(tuple(tm.weight.shape))
    b = rng.standard_normal(tuple(tm.bias.shape))
    cm.load_state_dict({"weight": cadenza.tensor(w), "bias": cadenza.tensor(b)})
    tm.load_state_dict({"weight": torch.tensor(w), "bias": torch.tensor(b)})
    return cm, tm


def _check(cm, tm, x_shape=(3, 5)):
    assert sorted(cm.state_dict()) == sorted(tm.state_dict())
    for k, v in tm.state_dict().items():
        np.testing.assert_array_equal(cm.state_dict()[k].numpy(), v.numpy(), err_msg=k)
    x = np.random.default_rng(9).standard_normal(x_shape)
    co, to = cm(cadenza.tensor(x)), tm(torch.tensor(x))
    np.testing.assert_allclose(co.detach().numpy(), to.detach().numpy(), atol=1e-12)
    co.sum().backward()
    to.sum().backward()
    tgrads = dict(tm.named_parameters())
    for n, p in cm.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tgrads[n].grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("amount", [0.3, 7, 0, 1.0])
def test_l1_unstructured(amount):
    cm, tm = _pair()
    cprune.l1_unstructured(cm, "weight", amount=amount)
    tprune.l1_unstructured(tm, "weight", amount=amount)
    _check(cm, tm)
    assert cprune.is_pruned(cm)


def test_iterative_pruning_combines_masks():
    cm, tm = _pair(conv=True)
    steps = [("ln_structured", dict(amount=1, n=2, dim=0)),
             ("l1_unstructured", dict(amount=0.25)),
             ("ln_structured", dict(amount=0.34, n=1, dim=1)),
             ("l1_unstructured", dict(amount=5))]
    for fn, kw in steps:
        getattr(cprune, fn)(cm, "weight", **kw)
        getattr(tprune, fn)(tm, "weight", **kw)
    hook = [h for h in cm._forward_pre_hooks.values()][0]
    assert isinstance(hook, cprune.PruningContainer) and len(hook) == 4
    _check(cm, tm, x_shape=(2, 3, 6, 6))


def test_importance_scores_and_custom_mask():
    cm, tm = _pair()
    s = np.random.default_rng(4).standard_normal((6, 5))
    cprune.l1_unstructured(cm, "weight", 0.5, importance_scores=cadenza.tensor(s))
    tprune.l1_unstructured(tm, "weight", 0.5, importance_scores=torch.tensor(s))
    mask = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    cprune.custom_from_mask(cm, "bias", cadenza.tensor(mask))
    tprune.custom_from_mask(tm, "bias", torch.tensor(mask))
    _check(cm, tm)


def test_global_unstructured():
    (c1, t1), (c2, t2) = _pair(seed=1), _pair((4, 6), seed=2)
    cprune.global_unstructured([(c1, "weight"), (c2, "weight")],
                               pruning_method=cprune.L1Unstructured, amount=12)
    tprune.global_unstructured([(t1, "weight"), (t2, "weight")],
                               pruning_method=tprune.L1Unstructured, amount=12)
    _check(c1, t1)
    _check(c2, t2, x_shape=(3, 6))
    with pytest.raises(TypeError, match="unstructured"):
        cprune.global_unstructured([(c1, "bias")], pruning_method=cprune.LnStructured,
                                   amount=1, n=2, dim=0)


def test_remove_makes_pruning_permanent():
    cm, tm = _pair()
    for lib, m in ((cprune, cm), (tprune, tm)):
        lib.l1_unstructured(m, "weight", amount=0.4)
        lib.remove(m, "weight")
    assert not cprune.is_pruned(cm)
    assert isinstance(cm.weight, cnn.Parameter)
    _check(cm, tm)
    with pytest.raises(ValueError, match="has to be pruned"):
        cprune.remove(cm, "weight")


def test_random_methods_prune_the_right_counts():
    cadenza.manual_seed(0)
    m = cnn.Linear(10, 8)
    cprune.random_unstructured(m, "weight", amount=0.25)
    assert int((m.weight_mask == 0).sum()) == 20
    cprune.random_structured(m, "weight", amount=3, dim=0)
    rows = (m.weight_mask.sum(1) == 0)
    assert int(rows.sum()) >= 3
    cprune.identity(m, "bias")
    assert bool((m.bias_mask == 1).all())


def test_bad_amounts_and_dims():
    m = cnn.Linear(3, 2)
    with pytest.raises(ValueError, match="amount"):
        cprune.l1_unstructured(m, "weight", amount=1.5)
    with pytest.raises(ValueError, match="smaller than"):
        cprune.l1_unstructured(m, "weight", amount=7)
    assert "weight" in m._parameters            # a failed prune leaves the module as it was
    with pytest.raises(TypeError):
        cprune.l1_unstructured(m, "weight", amount="half")
    with pytest.raises(ValueError, match="multidimensional"):
        cprune.ln_structured(m, "bias", amount=1, n=2, dim=0)
    with pytest.raises(IndexError):
        cprune.ln_structured(m, "weight", amount=1, n=2, dim=3)


def test_training_keeps_pruned_weights_at_zero():
    cadenza.manual_seed(0)
    m = cnn.Linear(4, 3)
    cprune.l1_unstructured(m, "weight", amount=0.5)
    opt = cadenza.optim.SGD(m.parameters(), lr=0.1)
    for _ in range(5):
        opt.zero_grad()
        m(cadenza.randn(8, 4)).pow(2).sum().backward()
        opt.step()
    out_mask = m.weight_mask == 0
    m(cadenza.randn(1, 4))
    assert bool((m.weight[out_mask] == 0).all())

"""torch.nn.grad (conv input/weight gradients), torch.nn.factory_kwargs and
torch.nn.common_types vs torch."""
import numpy as np
import pytest
import torch

import cadenza


@pytest.mark.parametrize("nd, x, w, kw", [
    (1, (2, 4, 9), (6, 2, 3), dict(stride=2, padding=1, groups=2)),
    (2, (2, 4, 5, 6), (6, 2, 3, 2), dict(stride=2, padding=1, dilation=1, groups=2)),
    (2, (1, 3, 6, 6), (2, 3, 3, 3), dict(dilation=2)),
    (3, (1, 2, 4, 5, 4), (3, 2, 2, 3, 2), dict(stride=(1, 2, 1), padding=1)),
])
def test_conv_input_and_weight_grads(nd, x, w, kw):
    rng = np.random.default_rng(0)
    xa, wa = rng.standard_normal(x), rng.standard_normal(w)
    out = getattr(torch.nn.functional, f"conv{nd}d")(torch.tensor(xa), torch.tensor(wa), **kw)
    go = rng.standard_normal(tuple(out.shape))
    cg, tg = cadenza.nn.grad, torch.nn.grad
    a = getattr(cg, f"conv{nd}d_input")(x, cadenza.tensor(wa), cadenza.tensor(go), **kw)
    b = getattr(tg, f"conv{nd}d_input")(x, torch.tensor(wa), torch.tensor(go), **kw)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
    a = getattr(cg, f"conv{nd}d_weight")(cadenza.tensor(xa), w, cadenza.tensor(go), **kw)
    b = getattr(tg, f"conv{nd}d_weight")(torch.tensor(xa), w, torch.tensor(go), **kw)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
    assert cadenza.nn.functional.grad is cadenza.nn.grad


def test_factory_kwargs():
    fk = cadenza.nn.factory_kwargs
    assert fk(None) == {}
    assert fk({"dtype": cadenza.float64, "factory_kwargs": {"device": "cpu"}}) == \
        {"dtype": cadenza.float64, "device": "cpu"}
    with pytest.raises(TypeError, match="unexpected kwargs"):
        fk({"bad": 1})
    with pytest.raises(TypeError, match="specified twice"):
        fk({"dtype": cadenza.float32, "factory_kwargs": {"dtype": cadenza.float64}})


def test_common_types_has_torchs_aliases():
    import torch.nn.common_types as tc
    import cadenza.nn.common_types as cc
    names = {n for n in dir(tc) if n.startswith("_") and n.endswith("_t")}
    assert names <= set(dir(cc))
    assert str(cc._size_2_t) == str(tc._size_2_t)

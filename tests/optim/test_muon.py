"""optim.Muon against torch: trajectories (Newton-Schulz in bfloat16 as torch computes it,
nesterov, decoupled weight decay, both learning-rate adjustments), state, defaults, refusals."""
import numpy as np
import pytest
import torch as T

import cadenza as C


def _run(lib, steps=5, **kw):
    rng = np.random.default_rng(0)
    w = lib.nn.Parameter(lib.tensor(rng.standard_normal((6, 4)).astype(np.float32)))
    v = lib.nn.Parameter(lib.tensor(rng.standard_normal((3, 5)).astype(np.float32)))
    opt = lib.optim.Muon([w, v], lr=0.02, **kw)
    x = lib.tensor(rng.standard_normal((4, 3)).astype(np.float32))
    for _ in range(steps):
        opt.zero_grad()
        ((w @ x).tanh().sum() + (v ** 2).sum()).backward()
        opt.step()
    return w.detach().numpy(), v.detach().numpy(), opt.state_dict()


@pytest.mark.parametrize("kw", [{}, {"nesterov": False}, {"weight_decay": 0.0},
                                {"adjust_lr_fn": "match_rms_adamw", "momentum": 0.9},
                                {"ns_steps": 3, "eps": 1e-5}])
def test_trajectory_matches_torch(kw):
    wt, vt, st = _run(T, **kw)
    wc, vc, sc = _run(C, **kw)
    # (a bfloat16 rounding may flip at a tie: a few units of bfloat16 in the update)
    np.testing.assert_allclose(wc, wt, atol=2e-3)
    np.testing.assert_allclose(vc, vt, atol=2e-3)
    assert sc["param_groups"][0].keys() == st["param_groups"][0].keys()
    for i in (0, 1):
        np.testing.assert_allclose(np.asarray(sc["state"][i]["momentum_buffer"]),
                                   st["state"][i]["momentum_buffer"].numpy(), atol=1e-4)


def test_defaults_and_refusals():
    for lib in (T, C):
        w = lib.nn.Parameter(lib.ones(2, 3))
        d = lib.optim.Muon([w]).defaults
        assert d["lr"] == 1e-3 and d["weight_decay"] == 0.1 and d["momentum"] == 0.95
        assert d["nesterov"] is True and d["ns_steps"] == 5 and d["adjust_lr_fn"] is None
        with pytest.raises(ValueError, match="Muon only supports 2D parameters"):
            lib.optim.Muon([lib.nn.Parameter(lib.ones(3))])
        for kw, msg in (({"lr": -1.0}, "Learning rate should be >= 0"),
                        ({"momentum": -1.0}, "momentum should be >= 0"),
                        ({"weight_decay": -1.0}, "weight decay should be >= 0"),
                        ({"adjust_lr_fn": "x"}, "Adjust learning rate function x")):
            with pytest.raises(ValueError, match=msg):
                lib.optim.Muon([w], **kw)
        emb = lib.nn.Embedding(4, 2, sparse=True)
        opt = lib.optim.Muon(emb.parameters())
        emb(lib.tensor([1])).sum().backward()
        with pytest.raises(RuntimeError, match="Muon does not support sparse gradients"):
            opt.step()

"""optim.swa_utils against torch: AveragedModel (SWA mean, EMA, avg_fn / multi_avg_fn,
use_buffers), SWALR's learning rates and update_bn's BatchNorm statistics."""
import numpy as np
import pytest
import torch

import cadenza
import cadenza.nn as nn
from cadenza.optim import swa_utils


def _pair():
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4),
                              torch.nn.Linear(4, 2)).double()
    ours = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).double()
    ours.load_state_dict({k: cadenza.tensor(v.detach().numpy())
                          for k, v in ref.state_dict().items()})
    return ours, ref


AVG = {
    "swa": lambda lib: {},
    "ema_multi": lambda lib: dict(multi_avg_fn=lib.optim.swa_utils.get_ema_multi_avg_fn(0.9)),
    "swa_multi": lambda lib: dict(multi_avg_fn=lib.optim.swa_utils.get_swa_multi_avg_fn()),
    "ema": lambda lib: dict(avg_fn=lib.optim.swa_utils.get_ema_avg_fn(0.8)),
    "swa_fn": lambda lib: dict(avg_fn=lib.optim.swa_utils.get_swa_avg_fn()),
    "ema_buffers": lambda lib: dict(multi_avg_fn=lib.optim.swa_utils.get_ema_multi_avg_fn(0.7),
                                    use_buffers=True),
}


@pytest.mark.parametrize("kind", list(AVG))
def test_averaged_model_matches_torch(kind):
    ours, ref = _pair()
    avg_c = swa_utils.AveragedModel(ours, **AVG[kind](cadenza))
    avg_t = torch.optim.swa_utils.AveragedModel(ref, **AVG[kind](torch))
    opt_c = cadenza.optim.SGD(ours.parameters(), lr=0.1)
    opt_t = torch.optim.SGD(ref.parameters(), lr=0.1)
    rng = np.random.default_rng(0)
    for _ in range(6):
        x = rng.standard_normal((5, 3))
        for lib, model, opt in ((cadenza, ours, opt_c), (torch, ref, opt_t)):
            opt.zero_grad()
            model(lib.tensor(x)).pow(2).mean().backward()
            opt.step()
        avg_c.update_parameters(ours)
        avg_t.update_parameters(ref)
    assert int(avg_c.n_averaged) == int(avg_t.n_averaged) == 6
    sc, st = avg_c.state_dict(), avg_t.state_dict()
    assert sorted(sc) == sorted(st)
    for k, v in st.items():
        np.testing.assert_allclose(sc[k].numpy(), v.numpy(), rtol=1e-13, atol=1e-14, err_msg=k)
    x = rng.standard_normal((4, 3))
    avg_c.eval()
    avg_t.eval()
    np.testing.assert_allclose(avg_c(cadenza.tensor(x)).detach().numpy(),
                               avg_t(torch.tensor(x)).detach().numpy(), rtol=1e-12)


def test_avg_fn_errors():
    with pytest.raises(ValueError, match="Invalid decay value"):
        swa_utils.get_ema_avg_fn(1.5)
    with pytest.raises(ValueError, match="Invalid decay value"):
        swa_utils.get_ema_multi_avg_fn(-0.1)
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
        swa_utils.AveragedModel(nn.Linear(2, 2), avg_fn=swa_utils.get_swa_avg_fn(),
                                multi_avg_fn=swa_utils.get_swa_multi_avg_fn())


@pytest.mark.parametrize("kw", [dict(swa_lr=0.05), dict(swa_lr=[0.05, 0.01], anneal_epochs=3,
                                                        anneal_strategy="linear"),
                                dict(swa_lr=0.02, anneal_epochs=0)])
def test_swalr_matches_torch(kw):
    def run(lib):
        a, b = lib.zeros(1, requires_grad=True), lib.zeros(1, requires_grad=True)
        opt = lib.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.3}], lr=1.0)
        sched = lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=20)
        swa = lib.optim.swa_utils.SWALR(opt, **kw)
        lrs = []
        for epoch in range(14):
            opt.step()
            (swa if epoch >= 4 else sched).step()
            lrs.append([g["lr"] for g in opt.param_groups])
        return lrs, swa.state_dict()
    (ours, sd_c), (theirs, sd_t) = run(cadenza), run(torch)
    np.testing.assert_allclose(ours, theirs, rtol=1e-14)
    assert sorted(sd_c) == sorted(sd_t)
    with pytest.raises(ValueError, match="anneal_strategy"):
        swa_utils.SWALR(cadenza.optim.SGD([cadenza.zeros(1, requires_grad=True)]), 0.1,
                        anneal_strategy="step")


def test_update_bn_matches_torch():
    ours, ref = _pair()
    rng = np.random.default_rng(1)
    batches = [rng.standard_normal((6, 3)) * 2 + 1 for _ in range(4)]
    ours.eval()
    ref.eval()
    swa_utils.update_bn([(cadenza.tensor(b), 0) for b in batches], ours)
    torch.optim.swa_utils.update_bn([(torch.tensor(b), 0) for b in batches], ref)
    assert not ours.training
    bn_c, bn_t = ours[1], ref[1]
    assert bn_c.momentum == bn_t.momentum == 0.1
    np.testing.assert_allclose(bn_c.running_mean.numpy(), bn_t.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(bn_c.running_var.numpy(), bn_t.running_var.numpy(), rtol=1e-12)
    assert int(bn_c.num_batches_tracked) == int(bn_t.num_batches_tracked)

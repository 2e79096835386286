"""End to end: train, checkpoint, reload into fresh objects, continue: bit-identical to not
stopping (model, optimizer and scheduler state, RNG state)."""
import numpy as np

import cadenza
import cadenza.nn as nn
import cadenza.nn.functional as F


def _data(n=256, d=20, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((classes, d)) * 3
    y = rng.integers(0, classes, n)
    x = centers[y] + rng.standard_normal((n, d))
    return cadenza.tensor(x, dtype=cadenza.float32), cadenza.tensor(y)


def _make():
    cadenza.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 4))
    opt = cadenza.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
    sched = cadenza.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=40)
    return model, opt, sched


def _steps(model, opt, sched, x, y, start, stop, gen):
    losses = []
    for _ in range(start, stop):
        idx = cadenza.randint(0, x.shape[0], (32,), generator=gen)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return losses


def test_resume_is_bit_identical(tmp_path):
    x, y = _data()
    model, opt, sched = _make()
    gen = cadenza.Generator().manual_seed(1)
    straight = _steps(model, opt, sched, x, y, 0, 30, gen)
    final = {k: v.numpy().copy() for k, v in model.state_dict().items()}

    model, opt, sched = _make()
    gen = cadenza.Generator().manual_seed(1)
    first = _steps(model, opt, sched, x, y, 0, 12, gen)
    ckpt = tmp_path / "ckpt.safetensors"
    cadenza.save({"model": model.state_dict(), "opt": opt.state_dict(),
                  "sched": sched.state_dict(), "gen": gen.get_state(),
                  "rng": cadenza.get_rng_state(), "step": 12}, ckpt)
    del model, opt, sched, gen

    state = cadenza.load(ckpt)
    model, opt, sched = _make()
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    sched.load_state_dict(state["sched"])
    gen = cadenza.Generator().set_state(state["gen"])
    cadenza.set_rng_state(state["rng"])
    rest = _steps(model, opt, sched, x, y, state["step"], 30, gen)
    assert first + rest == straight
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), final[k])


def test_mlp_learns_generated_problem():
    x, y = _data(n=512)
    model, opt, sched = _make()
    gen = cadenza.Generator().manual_seed(2)
    _steps(model, opt, sched, x, y, 0, 40, gen)
    model.eval()
    with cadenza.no_grad():
        acc = (model(x).argmax(1) == y).float().mean().item()
    assert acc > 0.95

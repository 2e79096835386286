"""Learning-rate schedulers against torch.optim.lr_scheduler: same optimizer setup, same
sequence of learning rates (and momenta) to 1e-12, and exact state_dict resumes."""
import copy
import warnings

import pytest
import torch

import cadenza
import cadenza.optim as optim
from cadenza.optim import lr_scheduler as clr

N_STEPS = 50


def _optimizer(lib, kind="sgd"):
    """Two param groups (lr 0.1 and 0.02); parameters never get gradients (steps are no-ops)."""
    mod = cadenza if lib == "cadenza" else torch
    opt_mod = optim if lib == "cadenza" else torch.optim
    a, b = mod.zeros(2, requires_grad=True), mod.zeros(3, requires_grad=True)
    groups = [{"params": [a]}, {"params": [b], "lr": 0.02}]
    if kind == "adam":
        return opt_mod.Adam(groups, lr=0.1)
    return opt_mod.SGD(groups, lr=0.1, momentum=0.9)


def _lib(lib):
    return clr if lib == "cadenza" else torch.optim.lr_scheduler


SCHEDULERS = {
    "StepLR": lambda L, o: L.StepLR(o, step_size=7, gamma=0.5),
    "MultiStepLR": lambda L, o: L.MultiStepLR(o, milestones=[5, 12, 12, 30], gamma=0.3),
    "ExponentialLR": lambda L, o: L.ExponentialLR(o, gamma=0.93),
    "CosineAnnealingLR": lambda L, o: L.CosineAnnealingLR(o, T_max=17, eta_min=1e-4),
    "LambdaLR": lambda L, o: L.LambdaLR(o, lambda e: 1.0 / (1.0 + 0.1 * e)),
    "LambdaLR-list": lambda L, o: L.LambdaLR(o, [lambda e: 0.97 ** e, lambda e: 1 + e % 3]),
    "MultiplicativeLR": lambda L, o: L.MultiplicativeLR(o, lambda e: 0.95 if e % 2 else 1.01),
    "LinearLR": lambda L, o: L.LinearLR(o, start_factor=0.25, end_factor=0.9, total_iters=13),
    "ConstantLR": lambda L, o: L.ConstantLR(o, factor=0.4, total_iters=9),
    "PolynomialLR": lambda L, o: L.PolynomialLR(o, total_iters=31, power=2.5),
    "CosineAnnealingWarmRestarts": lambda L, o: L.CosineAnnealingWarmRestarts(
        o, T_0=5, T_mult=2, eta_min=1e-3),
    "CosineAnnealingWarmRestarts-1": lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=6),
    "OneCycleLR-cos": lambda L, o: L.OneCycleLR(o, max_lr=[1.0, 0.3], total_steps=N_STEPS + 1),
    "OneCycleLR-linear-3phase": lambda L, o: L.OneCycleLR(
        o, max_lr=0.5, epochs=6, steps_per_epoch=10, anneal_strategy="linear",
        three_phase=True, pct_start=0.25, div_factor=10.0, final_div_factor=100.0),
    "OneCycleLR-no-momentum": lambda L, o: L.OneCycleLR(
        o, max_lr=0.5, total_steps=60, cycle_momentum=False),
    "CyclicLR": lambda L, o: L.CyclicLR(o, base_lr=0.01, max_lr=[0.1, 0.2], step_size_up=4,
                                        step_size_down=6, mode="triangular2"),
    "CyclicLR-exp": lambda L, o: L.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=5,
                                            mode="exp_range", gamma=0.97),
    "SequentialLR": lambda L, o: L.SequentialLR(
        o, [L.LinearLR(o, start_factor=0.1, total_iters=5),
            L.CosineAnnealingLR(o, T_max=20), L.ExponentialLR(o, gamma=0.9)],
        milestones=[5, 25]),
    "ChainedScheduler": lambda L, o: L.ChainedScheduler(
        [L.ConstantLR(o, factor=0.5, total_iters=10), L.ExponentialLR(o, gamma=0.95),
         L.StepLR(o, step_size=9, gamma=0.7)]),
}


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


def _run(lib, name, kind, n_steps=N_STEPS):
    opt = _optimizer(lib, kind)
    sched = SCHEDULERS[name](_lib(lib), opt)
    record = [(list(sched.get_last_lr()), [g["lr"] for g in opt.param_groups], _momenta(opt))]
    for _ in range(n_steps):
        opt.step()
        sched.step()
        record.append((list(sched.get_last_lr()), [g["lr"] for g in opt.param_groups],
                       _momenta(opt)))
    return record


def _assert_same(ours, theirs, tol=1e-12):
    assert len(ours) == len(theirs)
    for step, (a, b) in enumerate(zip(ours, theirs)):
        for xs, ys in zip(a, b):
            assert len(xs) == len(ys)
            for x, y in zip(xs, ys):
                assert abs(x - y) <= tol * max(1.0, abs(y)), (step, a, b)


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_sequence_matches_torch(name, kind):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = _run("cadenza", name, kind)
        theirs = _run("torch", name, kind)
    _assert_same(ours, theirs)


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_state_dict_resume(name):
    """Save after 20 steps, rebuild optimizer and scheduler, load both, continue: identical."""
    if name.startswith("OneCycleLR") or name.startswith("CyclicLR"):
        kind = "adam"
    else:
        kind = "sgd"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        straight = _run("cadenza", name, kind)
        opt = _optimizer("cadenza", kind)
        sched = SCHEDULERS[name](clr, opt)
        for _ in range(20):
            opt.step()
            sched.step()
        opt_sd = copy.deepcopy(opt.state_dict())
        sched_sd = sched.state_dict()
        opt2 = _optimizer("cadenza", kind)
        sched2 = SCHEDULERS[name](clr, opt2)
        opt2.load_state_dict(opt_sd)
        sched2.load_state_dict(sched_sd)
        resumed = []
        for _ in range(N_STEPS - 20):
            opt2.step()
            sched2.step()
            resumed.append((list(sched2.get_last_lr()), [g["lr"] for g in opt2.param_groups],
                            _momenta(opt2)))
    _assert_same(resumed, straight[21:], tol=0.0)


def test_state_dict_keys_match_torch():
    for name in ("StepLR", "CosineAnnealingLR", "OneCycleLR-cos", "LambdaLR"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = SCHEDULERS[name](clr, _optimizer("cadenza")).state_dict()
            theirs = SCHEDULERS[name](torch.optim.lr_scheduler,
                                      _optimizer("torch")).state_dict()
        public = lambda d: sorted(k for k in d if not k.startswith("_") or k == "_last_lr")
        assert public(ours) == public(theirs), name


@pytest.mark.parametrize("mode,threshold_mode", [("min", "rel"), ("max", "abs")])
def test_reduce_lr_on_plateau(mode, threshold_mode):
    metrics = [1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.49999,
               2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0] * 2
    runs = {}
    for lib in ("cadenza", "torch"):
        opt = _optimizer(lib)
        sched = _lib(lib).ReduceLROnPlateau(opt, mode=mode, factor=0.5, patience=2,
                                            threshold=1e-3, threshold_mode=threshold_mode,
                                            cooldown=1, min_lr=[0.01, 0.001])
        lrs = []
        for m in metrics:
            opt.step()
            sched.step(m)
            lrs.append((list(sched.get_last_lr()), [g["lr"] for g in opt.param_groups], []))
        runs[lib] = (lrs, sched.state_dict())
    _assert_same(runs["cadenza"][0], runs["torch"][0])
    assert runs["cadenza"][0][-1] != runs["cadenza"][0][0]
    ours_sd, theirs_sd = runs["cadenza"][1], runs["torch"][1]
    assert sorted(ours_sd) == sorted(theirs_sd)
    opt = _optimizer("cadenza")
    sched = clr.ReduceLROnPlateau(opt)
    sched.load_state_dict(ours_sd)
    assert sched.best == ours_sd["best"] and sched.mode == mode


@pytest.mark.parametrize("name", ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
                                  "LinearLR", "ConstantLR", "PolynomialLR",
                                  "CosineAnnealingWarmRestarts"])
def test_step_with_epoch_uses_closed_form(name):
    epochs = [3, 4, 10, 2, 25, 26, 40]
    results = {}
    for lib in ("cadenza", "torch"):
        opt = _optimizer(lib)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sched = SCHEDULERS[name](_lib(lib), opt)
            out = []
            for e in epochs:
                opt.step()
                sched.step(e)
                out.append((list(sched.get_last_lr()), [], []))
        results[lib] = out
    _assert_same(results["cadenza"], results["torch"])


def test_warns_when_scheduler_steps_before_optimizer():
    opt = _optimizer("cadenza")
    sched = clr.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    opt = _optimizer("cadenza")
    sched = clr.StepLR(opt, step_size=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
        sched.step()


def test_errors_match_torch():
    cases = [
        lambda L, o: L.LinearLR(o, start_factor=0.0),
        lambda L, o: L.ConstantLR(o, factor=2.0),
        lambda L, o: L.OneCycleLR(o, max_lr=1.0),
        lambda L, o: L.OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy="exp"),
        lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=0),
        lambda L, o: L.ReduceLROnPlateau(o, factor=1.5),
        lambda L, o: L.LambdaLR(o, [lambda e: 1.0]),
        lambda L, o: L.SequentialLR(o, [L.StepLR(o, 2), L.StepLR(o, 3)], milestones=[]),
    ]
    for make in cases:
        with pytest.raises(ValueError) as ours:
            make(clr, _optimizer("cadenza"))
        with pytest.raises(ValueError) as theirs:
            make(torch.optim.lr_scheduler, _optimizer("torch"))
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        clr.StepLR(object(), step_size=1)
    with pytest.raises(KeyError, match="initial_lr"):
        clr.StepLR(_optimizer("cadenza"), step_size=1, last_epoch=3)
    opt = _optimizer("cadenza")
    sched = clr.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        for _ in range(4):
            opt.step()
            sched.step()


def test_module_imports():
    import importlib
    mod = importlib.import_module("cadenza.optim.lr_scheduler")
    assert mod.StepLR is cadenza.optim.lr_scheduler.StepLR
    assert issubclass(mod.OneCycleLR, mod.LRScheduler)
    from cadenza.optim.lr_scheduler import LRScheduler, _LRScheduler  # noqa: F401

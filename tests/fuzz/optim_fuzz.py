"""Differential optimizer and LR-scheduler fuzzer: random configurations run in PyTorch (the
oracle) and in Cadenza on the same parameters and gradients, compared step by step.

    python tests/fuzz/optim_fuzz.py -n 500 --seed 0 [--examples 3]

A trial picks an optimizer with random hyperparameters (weight decay, momentum, nesterov,
amsgrad, maximize, centered, ...) over 1-3 float64 parameters in one or two param groups (a
parameter sometimes without a gradient on a step), and optionally an LR scheduler (or two
chained/sequential ones; ReduceLROnPlateau fed a random metric), then runs 12 steps with the
same random gradients. It compares the parameters after every step, the learning rates
(``get_last_lr()`` and each group's ``lr``, and ``momentum``/``betas`` when the scheduler
cycles them), and that a state_dict saved half way and loaded into a fresh optimizer/scheduler
continues identically.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from _diff import ORDINARY, cadenza, cli, error_outcome, torch  # noqa: E402

ORDINARY = ORDINARY + (KeyError,)
BAD_CLASSES = ("value", "lr", "resume", "accepted_bad", "rejected", "crash")
ALL_CLASSES = ("equal", "value", "lr", "resume", "missing", "accepted_bad", "rejected",
               "exc_class", "crash", "skip")
STEPS = 12


def _opt(rng):
    c = lambda seq: seq[int(rng.integers(len(seq)))]  # noqa: E731
    p = lambda prob=0.5: bool(rng.random() < prob)  # noqa: E731
    name = c(["SGD", "SGD", "Adam", "Adam", "AdamW", "AdamW", "RMSprop", "Adagrad", "Adadelta",
              "Adamax", "NAdam", "RAdam", "ASGD", "Rprop"])
    kw = {"lr": c([0.1, 0.01, 1e-3])}
    if name == "SGD":
        kw["momentum"] = c([0.0, 0.9, 0.5])
        if kw["momentum"] and p(0.4):
            kw["nesterov"] = True
        elif kw["momentum"] and p(0.3):
            kw["dampening"] = 0.1
        kw["weight_decay"] = c([0.0, 1e-2])
        kw["maximize"] = p(0.15)
    elif name in ("Adam", "AdamW"):
        kw["betas"] = c([(0.9, 0.999), (0.8, 0.9)])
        kw["eps"] = c([1e-8, 1e-6])
        kw["weight_decay"] = c([0.0, 1e-2, 0.1])
        kw["amsgrad"] = p(0.3)
        kw["maximize"] = p(0.15)
    elif name == "RMSprop":
        kw.update(alpha=c([0.99, 0.9]), momentum=c([0.0, 0.5]), centered=p(0.4),
                  weight_decay=c([0.0, 1e-2]))
    elif name == "Adagrad":
        kw.update(lr_decay=c([0.0, 0.01]), weight_decay=c([0.0, 1e-2]),
                  initial_accumulator_value=c([0.0, 0.1]))
    elif name == "Adadelta":
        kw.update(rho=c([0.9, 0.5]), weight_decay=c([0.0, 1e-2]), lr=c([1.0, 0.5]))
    elif name == "Adamax":
        kw.update(weight_decay=c([0.0, 1e-2]))
    elif name == "NAdam":
        kw.update(momentum_decay=c([4e-3, 1e-2]), weight_decay=c([0.0, 1e-2]),
                  decoupled_weight_decay=p(0.3))
    elif name == "RAdam":
        kw.update(weight_decay=c([0.0, 1e-2]), decoupled_weight_decay=p(0.3))
    elif name == "ASGD":
        kw.update(lambd=c([1e-4, 1e-2]), alpha=c([0.75, 0.5]), t0=c([1e6, 3.0]),
                  weight_decay=c([0.0, 1e-2]))
    elif name == "Rprop":
        kw.update(etas=c([(0.5, 1.2), (0.3, 1.5)]), step_sizes=c([(1e-6, 50), (1e-3, 1.0)]))
    return name, kw


def _sched(rng, opt_name, opt_kw):
    c = lambda seq: seq[int(rng.integers(len(seq)))]  # noqa: E731
    name = c(["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
              "CosineAnnealingWarmRestarts", "OneCycleLR", "CyclicLR", "LinearLR", "ConstantLR",
              "PolynomialLR", "ReduceLROnPlateau", "LambdaLR", "MultiplicativeLR",
              "SequentialLR", "ChainedScheduler"])
    if name == "StepLR":
        return name, {"step_size": c([1, 3]), "gamma": c([0.5, 0.9])}
    if name == "MultiStepLR":
        return name, {"milestones": c([[2, 5], [3, 3, 8]]), "gamma": c([0.1, 0.5])}
    if name == "ExponentialLR":
        return name, {"gamma": c([0.9, 0.5])}
    if name == "CosineAnnealingLR":
        return name, {"T_max": c([5, 10]), "eta_min": c([0.0, 1e-4])}
    if name == "CosineAnnealingWarmRestarts":
        return name, {"T_0": c([3, 5]), "T_mult": c([1, 2]), "eta_min": c([0.0, 1e-4])}
    if name == "OneCycleLR":
        kw = {"max_lr": c([0.1, 0.05]), "total_steps": STEPS + 2,
              "pct_start": c([0.3, 0.5]), "anneal_strategy": c(["cos", "linear"]),
              "three_phase": bool(rng.random() < 0.3),
              "div_factor": c([25.0, 10.0]), "final_div_factor": c([1e4, 100.0])}
        if opt_name not in ("SGD", "Adam", "AdamW", "RMSprop", "NAdam", "RAdam", "Adamax") or (
                opt_name == "SGD" and not opt_kw.get("momentum")) or (
                opt_name == "RMSprop" and not opt_kw.get("momentum")):
            kw["cycle_momentum"] = False
        return name, kw
    if name == "CyclicLR":
        kw = {"base_lr": 0.001, "max_lr": c([0.1, 0.01]), "step_size_up": c([2, 4]),
              "mode": c(["triangular", "triangular2", "exp_range"]), "gamma": c([0.9, 1.0])}
        if opt_name not in ("SGD", "RMSprop") or not opt_kw.get("momentum"):
            kw["cycle_momentum"] = False
        return name, kw
    if name == "LinearLR":
        return name, {"start_factor": c([0.25, 1 / 3]), "end_factor": c([1.0, 0.5]),
                      "total_iters": c([3, 5])}
    if name == "ConstantLR":
        return name, {"factor": c([0.5, 1 / 3]), "total_iters": c([2, 5])}
    if name == "PolynomialLR":
        return name, {"total_iters": c([5, 10]), "power": c([1.0, 2.0])}
    if name == "ReduceLROnPlateau":
        return name, {"mode": c(["min", "max"]), "factor": c([0.1, 0.5]),
                      "patience": c([0, 2]), "threshold": c([1e-4, 0.1]),
                      "threshold_mode": c(["rel", "abs"]), "cooldown": c([0, 1]),
                      "min_lr": c([0.0, 1e-3])}
    if name == "LambdaLR":
        return name, {"lr_lambda": c(["inv", "warm"])}
    if name == "MultiplicativeLR":
        return name, {"lr_lambda": "mul"}
    if name == "SequentialLR":
        return name, {"schedulers": [("LinearLR", {"start_factor": 0.5, "total_iters": 3}),
                                     ("ExponentialLR", {"gamma": 0.9})], "milestones": [3]}
    return name, {"schedulers": [("ConstantLR", {"factor": 0.5, "total_iters": 4}),
                                 ("ExponentialLR", {"gamma": 0.9})]}


LAMBDAS = {"inv": lambda e: 1.0 / (1 + e), "warm": lambda e: min(1.0, (e + 1) / 4),
           "mul": lambda e: 0.95}


def _make_sched(lib, opt, name, kw):
    kw = dict(kw)
    if "lr_lambda" in kw:
        kw["lr_lambda"] = LAMBDAS[kw["lr_lambda"]]
    if name in ("SequentialLR", "ChainedScheduler"):
        kw["schedulers"] = [getattr(lib.optim.lr_scheduler, n)(opt, **k)
                            for n, k in kw["schedulers"]]
        if name == "ChainedScheduler":
            kw["optimizer"] = opt
            return lib.optim.lr_scheduler.ChainedScheduler(**kw)
    return getattr(lib.optim.lr_scheduler, name)(opt, **kw)


def gen_trial(seed, i):
    rng = np.random.default_rng([seed, i])
    opt_name, opt_kw = _opt(rng)
    sched = _sched(rng, opt_name, opt_kw) if rng.random() < 0.6 else None
    shapes = [tuple(int(s) for s in rng.integers(1, 4, size=int(rng.integers(0, 3))))
              for _ in range(int(rng.integers(1, 4)))]
    params = [rng.standard_normal(s) for s in shapes]
    groups = None
    if len(params) > 1 and rng.random() < 0.4:
        groups = [{"idx": [0]}, {"idx": list(range(1, len(params))),
                                 "lr": opt_kw["lr"] * 0.5}]
    grads = [[None if (j > 0 and rng.random() < 0.1) else rng.standard_normal(s)
              for j, s in enumerate(shapes)] for _ in range(STEPS)]
    metrics = [float(v) for v in rng.standard_normal(STEPS).cumsum()]
    return opt_name, opt_kw, sched, params, groups, grads, metrics


def _setup(lib, opt_name, opt_kw, sched, params, groups):
    ps = [lib.tensor(p.copy(), requires_grad=True) for p in params]
    if groups:
        spec = [dict({k: v for k, v in g.items() if k != "idx"},
                     params=[ps[j] for j in g["idx"]]) for g in groups]
    else:
        spec = ps
    opt = getattr(lib.optim, opt_name)(spec, **opt_kw)
    s = _make_sched(lib, opt, *sched) if sched else None
    return ps, opt, s


def _step(lib, ps, opt, s, grads, metric, sched_name):
    opt.zero_grad()
    for p, g in zip(ps, grads):
        if g is not None:
            p.grad = lib.tensor(g.copy())
    opt.step()
    if s is not None:
        if sched_name == "ReduceLROnPlateau":
            s.step(metric)
        else:
            s.step()
    lrs = [g["lr"] for g in opt.param_groups]
    extra = [g.get("momentum", g.get("betas")) for g in opt.param_groups]
    last = s.get_last_lr() if s is not None else None
    return [p.detach().numpy().copy() for p in ps], lrs, extra, last


def run(lib, trial, resume_at=None):
    """Per-step (params, lrs, momentum/betas, last lr); with ``resume_at`` the optimizer and
    scheduler are saved after that step and a fresh pair built from the state dicts continues."""
    opt_name, opt_kw, sched, params, groups, grads, metrics = trial
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ps, opt, s = _setup(lib, opt_name, opt_kw, sched, params, groups)
        out = []
        sched_name = sched[0] if sched else None
        for k in range(STEPS):
            out.append(_step(lib, ps, opt, s, grads[k], metrics[k], sched_name))
            if resume_at is not None and k == resume_at:
                osd = opt.state_dict()
                ssd = s.state_dict() if s is not None else None
                cur = [p.detach().numpy().copy() for p in ps]
                ps, opt, s = _setup(lib, opt_name, opt_kw, sched, cur, groups)
                opt.load_state_dict(osd)
                if s is not None:
                    s.load_state_dict(ssd)
        return out


def _close(a, b):
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(
            _close(x, y) for x, y in zip(a, b))
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-10, atol=1e-12)
    return math.isclose(float(a), float(b), rel_tol=1e-10, abs_tol=1e-14)


def _to_plain(v):
    if hasattr(v, "detach"):
        return v.detach().numpy()
    if isinstance(v, (list, tuple)):
        return [_to_plain(x) for x in v]
    return v


def compare(t, c, label):
    for k, ((tp, tl, te, tlast), (cp, cl, ce, clast)) in enumerate(zip(t, c)):
        if not _close(tp, cp):
            return "value" if label == "run" else "resume", f"{label}: params differ at step {k}"
        if not _close(tl, cl) or not _close(_to_plain(tlast), _to_plain(clast)):
            return "lr" if label == "run" else "resume", \
                f"{label} step {k}: lr torch {tl} last {tlast} / cadenza {cl} last {clast}"
        if not _close(_to_plain(te), _to_plain(ce)):
            return "lr" if label == "run" else "resume", \
                f"{label} step {k}: momentum/betas torch {te} / cadenza {ce}"
    return None


def classify(seed, i):
    trial = gen_trial(seed, i)
    spelled = f"{trial[0]}({trial[1]}) sched={trial[2]} shapes={[p.shape for p in trial[3]]}" \
              f"{' groups' if trial[4] else ''}"
    try:
        t = run(torch, trial)
        t_res = run(torch, trial, resume_at=STEPS // 2)
        terr = None
    except Exception as e:  # noqa: BLE001 - the oracle's refusal is data
        terr = e
    try:
        c = run(cadenza, trial)
        c_res = run(cadenza, trial, resume_at=STEPS // 2)
        cerr = None
    except Exception as e:  # noqa: BLE001
        cerr = e
    got = error_outcome(terr, cerr, ordinary=ORDINARY)
    if got is not None:
        return got[0], spelled, got[1]
    bad = compare(t, c, "run") or compare(t_res, c_res, "resumed")
    if bad:
        return bad[0], spelled, bad[1]
    return "equal", spelled, ""


def fuzz(n, seed=0, start=0):
    return [(i,) + classify(seed, i) for i in range(start, start + n)]


def main(argv=None):
    cli(__doc__, fuzz, ALL_CLASSES, "trials", 300, argv=argv)


if __name__ == "__main__":
    main()

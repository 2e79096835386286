"""CI slice of the differential optimizer/scheduler fuzzer (tests/fuzz/optim_fuzz.py): random
optimizers, hyperparameters, param groups and LR schedulers stepped beside PyTorch, including a
save/load of both state dicts half way."""
import collections
import os
import sys

import pytest

pytest.importorskip("torch")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import optim_fuzz  # noqa: E402

SEED = 3
N = 200


@pytest.fixture(scope="module")
def results():
    return optim_fuzz.fuzz(N, SEED)


def test_no_optimizer_mismatches(results):
    bad = [r for r in results if r[1] in optim_fuzz.BAD_CLASSES]
    msg = "\n".join(f"[seed {SEED} trial {i}] {cls}: {spelled}\n    -> {detail}"
                    for i, cls, spelled, detail in bad[:20])
    assert not bad, f"{len(bad)} optimizer/scheduler mismatches:\n{msg}"


def test_trials_compare(results):
    assert collections.Counter(r[1] for r in results)["equal"] >= 0.95 * N


def test_a_wrong_schedule_is_caught(monkeypatch):
    """The comparison can fail: a scheduler 1% off is classified as a mismatch."""
    import cadenza.optim.lr_scheduler as sched
    orig = sched.ExponentialLR.get_lr
    monkeypatch.setattr(sched.ExponentialLR, "get_lr",
                        lambda self: [v * 1.01 for v in orig(self)])
    hits = [i for i in range(400) if (optim_fuzz.gen_trial(SEED, i)[2] or ("",))[0] ==
            "ExponentialLR"][:3]
    assert hits and all(optim_fuzz.classify(SEED, i)[0] == "value" for i in hits)

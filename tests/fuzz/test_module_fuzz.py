"""CI slice of the differential nn.Module fuzzer (tests/fuzz/module_fuzz.py): a fixed seed, a few
hundred random layer configurations against PyTorch with the same weights (and variants: strided
inputs and parameters, train/eval sequences on one module, state-dict round trips). Fails on a
wrong output, gradient, gradient stride, buffer, state-dict key, repr, shape, an accepted bad
input, a rejected valid configuration or a crash, outside module_fuzz.KNOWN/QUIRKS."""
import os
import sys

import pytest

pytest.importorskip("torch")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import module_fuzz  # noqa: E402

SEED = 5
N = 400


@pytest.fixture(scope="module")
def results():
    return module_fuzz.fuzz(N, SEED)


def test_no_module_mismatches(results):
    bad = [r for r in results
           if r[2] in module_fuzz.BAD_CLASSES and r[1] not in module_fuzz.KNOWN]
    msg = "\n".join(f"[seed {SEED} trial {i}] {cls}: {call}\n    -> {detail}"
                    for i, name, cls, detail, call in bad[:20])
    assert not bad, f"{len(bad)} mismatches outside module_fuzz.KNOWN:\n{msg}"


def test_most_trials_compare(results):
    """The slice must exercise layers, not only refusals: most trials run on both sides."""
    equal = sum(1 for r in results if r[2] == "equal" and r[3] == "")
    assert equal >= 0.8 * N, f"only {equal} of {N} trials ran and compared"


def test_every_spec_builds_in_torch():
    """Each spec makes a configuration torch itself accepts at least once in a few tries, so a
    typo in a spec cannot hide a layer from the fuzzer."""
    for name in sorted(module_fuzz.SPECS):
        ok = False
        for i in range(12):
            _, args, kwargs, inputs, fkw = module_fuzz.gen_trial(99, i, [name])
            cls, detail = module_fuzz.classify(name, args, kwargs, inputs, fkw, seed=i)
            if cls == "equal" and detail == "":
                ok = True
                break
        assert ok, f"{name}: no configuration compared in 12 tries (last: {cls} {detail})"

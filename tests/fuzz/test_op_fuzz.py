"""CI slice of the differential op fuzzer (tests/fuzz/op_fuzz.py): a fixed seed, a few hundred
calls against PyTorch. Fails on a wrong value/shape/dtype/gradient, an accepted bad input, a
crash or a hang in an op not listed in op_fuzz.KNOWN, and on a KNOWN op that no longer
mismatches (remove it from KNOWN). Exception-class differences, missing support and rejected
valid calls are reported only (printed), not failed."""
import collections
import os
import sys

import pytest

pytest.importorskip("torch")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import op_fuzz  # noqa: E402

SEED = 1
N = 1500  # about 2.2 s of CPU (the specs grew from 163 to 304; the slice kept its time)


@pytest.fixture(scope="module")
def results():
    return op_fuzz.fuzz(N, SEED)


def test_no_new_mismatches(results):
    bad = [r for r in results if r[2] in op_fuzz.BAD_CLASSES and r[1] not in op_fuzz.KNOWN]
    msg = "\n".join(f"[seed {SEED} call {i}] {cls}: {call}\n    -> {detail}"
                    for i, op, cls, detail, call in bad[:20])
    assert not bad, f"{len(bad)} mismatches outside op_fuzz.KNOWN:\n{msg}"


def test_known_still_mismatch(results):
    hit = {r[1] for r in results if r[2] in op_fuzz.BAD_CLASSES}
    fixed = sorted(set(op_fuzz.KNOWN) - hit)
    assert not fixed, f"no longer mismatching in the slice, remove from op_fuzz.KNOWN: {fixed}"


def test_report_soft_classes(results):
    counts = collections.Counter(r[2] for r in results)
    print(dict(counts))
    assert counts["equal"] > N // 2

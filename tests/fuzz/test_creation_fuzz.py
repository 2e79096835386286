"""CI slice of the differential tensor-creation fuzzer (tests/fuzz/creation_fuzz.py): tensor()
of nested data, arange/linspace/logspace (integer and half dtypes too), full, eye, *_like,
new_*, triangle indices, dtype conversions and tolist/item against PyTorch."""
import os
import sys

import pytest

pytest.importorskip("torch")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import creation_fuzz  # noqa: E402

SEED = 4
N = 3000


def test_no_creation_mismatches():
    results = creation_fuzz.fuzz(N, SEED)
    bad = [r for r in results if r[1] in creation_fuzz.BAD_CLASSES]
    msg = "\n".join(f"[seed {SEED} call {i}] {cls}: {spelled}\n    -> {detail}"
                    for i, cls, spelled, detail in bad[:20])
    assert not bad, f"{len(bad)} creation mismatches:\n{msg}"
    assert sum(1 for r in results if r[1] == "equal" and r[3] == "") > 0.9 * N

"""CI slice of the differential indexing fuzzer (tests/fuzz/index_fuzz.py): reads, writes and
accumulating index_put_ with random mixes of ints, slices, None, ..., masks and index tensors,
values and gradients against PyTorch."""
import collections
import os
import sys

import pytest

pytest.importorskip("torch")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import index_fuzz  # noqa: E402

SEED = 2
N = 1500


@pytest.fixture(scope="module")
def results():
    return index_fuzz.fuzz(N, SEED)


def test_no_index_mismatches(results):
    bad = [r for r in results if r[1] in index_fuzz.BAD_CLASSES]
    msg = "\n".join(f"[seed {SEED} case {i}] {cls}: {spelled}\n    -> {detail}"
                    for i, cls, spelled, detail in bad[:20])
    assert not bad, f"{len(bad)} indexing mismatches:\n{msg}"


def test_cases_cover_reads_writes_and_errors(results):
    kinds = collections.Counter(r[2].split()[0] for r in results if r[1] == "equal")
    assert min(kinds["get"], kinds["set"], kinds["put"]) > 100, kinds
    assert sum(1 for r in results if r[3] == "both raise") > 10

"""CI slice of the in-place / Tensor-method fuzzer (tests/fuzz/inplace_fuzz.py): x.op_(...)
on plain tensors and views (transpose, permute, strided slices, rows), the index/scatter
family with every reduce mode, out= arguments; the target, the base it aliases and the
refusals (no downcasting in-place) against PyTorch."""
import os
import sys

import pytest

pytest.importorskip("torch")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _diff  # noqa: E402
import inplace_fuzz  # noqa: E402


def test_no_inplace_mismatches():
    _diff.check_slice(inplace_fuzz, seed=4, n=600, min_equal=0.6)

"""CI slice of the reduction fuzzer (tests/fuzz/reduce_fuzz.py): sum/mean/prod/amax/any/std/
var_mean/norm/median/cumsum... with dim tuples, the empty tuple, keepdim, dtype= and empty
dims; values, dtypes, refusals and float64 gradients against PyTorch."""
import os
import sys

import pytest

pytest.importorskip("torch")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _diff  # noqa: E402
import reduce_fuzz  # noqa: E402


def test_no_reduction_mismatches():
    _diff.check_slice(reduce_fuzz, seed=5, n=600, min_equal=0.8)

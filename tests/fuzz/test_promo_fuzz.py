"""CI slice of the dtype-promotion fuzzer (tests/fuzz/promo_fuzz.py): binary ops over every
dtype pair, 0-d tensors and Python bool/int/float/complex scalars, in function, method,
operator, reflected, in-place and out= form; dtype, values and refusals against PyTorch."""
import os
import sys

import pytest

pytest.importorskip("torch")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _diff  # noqa: E402
import promo_fuzz  # noqa: E402


def test_no_promotion_mismatches():
    _diff.check_slice(promo_fuzz, seed=3, n=800, min_equal=0.5)

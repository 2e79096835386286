"""CI slice of the linear-algebra fuzzer (tests/fuzz/linalg_fuzz.py): solve/inv/det/
cholesky/qr/svd/eigh/lstsq/pinv/norms on batched, broadcast, empty and singular inputs;
values (decompositions up to signs), float64 gradients and refusals against PyTorch."""
import os
import sys

import pytest

pytest.importorskip("torch")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _diff  # noqa: E402
import linalg_fuzz  # noqa: E402


def test_no_linalg_mismatches():
    _diff.check_slice(linalg_fuzz, seed=7, n=250, min_equal=0.7)

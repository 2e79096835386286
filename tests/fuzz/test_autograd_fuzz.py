"""CI slice of the higher-order autograd fuzzer (tests/fuzz/autograd_fuzz.py): double
backward (create_graph) over random op compositions and torch.func grad/vmap/jacrev/jacfwd/
hessian/jvp/vjp of them, against PyTorch."""
import os
import sys

import pytest

pytest.importorskip("torch")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _diff  # noqa: E402
import autograd_fuzz  # noqa: E402


def test_no_higher_order_mismatches():
    _diff.check_slice(autograd_fuzz, seed=9, n=50, min_equal=0.9)

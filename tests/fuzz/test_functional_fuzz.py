"""CI slice of the differential nn.functional fuzzer (tests/fuzz/functional_fuzz.py):
scaled_dot_product_attention (masks, causal, scale, grouped-query heads), grid_sample,
affine_grid, interpolate, pad modes, one_hot, normalize, embedding, cdist/pdist,
cosine_similarity, unfold, BCE with logits, CTC; values and gradients vs PyTorch, in float64
and (variants) float32/float16/bfloat16 with strided operands and torch's gradient strides."""
import os
import sys

import pytest

pytest.importorskip("torch")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import functional_fuzz  # noqa: E402

SEED = 6
N = 1000


def _unsupported(spelled, detail):
    return any(spelled.startswith(f"F.{fn}(") and frag in detail
               for fn, frag in functional_fuzz.UNSUPPORTED)


def test_no_functional_mismatches():
    results = functional_fuzz.fuzz(N, SEED)
    bad = [r for r in results if r[1] in functional_fuzz.BAD_CLASSES and not (
        r[1] == "rejected" and _unsupported(r[2], r[3]))]
    msg = "\n".join(f"[seed {SEED} call {i}] {cls}: {spelled}\n    -> {detail}"
                    for i, cls, spelled, detail in bad[:20])
    assert not bad, f"{len(bad)} nn.functional mismatches:\n{msg}"
    assert sum(1 for r in results if r[1] == "equal" and r[3] == "") > 0.75 * N

"""Float32 attention in compiled graphs (``KernelRunner._attention_step``): the op's C kernel
called with layouts worked out once per operand layout. It computes what eager's forward
computes (the same kernel on the same operands: equal bit for bit) with no mask, bool and
float masks, causal, grouped-query heads and key/value windows sliced out of a larger cache;
layouts the kernel cannot read in place (a mask broadcast along the keys) take the op's own
forward; a new layout on a later call is planned again."""
import numpy as np
import pytest

import cadenza
import cadenza.nn.functional as F
from cadenza.backend import ckernels
from cadenza.codegen import executor
from cadenza.ops import attention

from _cc import require_cc


def _kernels():
    require_cc()
    if ckernels.attention_kernels() is None:
        pytest.skip("attention kernels disabled")


@pytest.fixture(autouse=True)
def _closures(monkeypatch):
    """These tests count the executor's closure's layout plans: no programs (whose layouts are
    static, worked out at build; tests/codegen/test_program.py)."""
    monkeypatch.setattr(executor, "c_programs", lambda: False)


def _layouts(monkeypatch):
    """Counts layout computations (ops.attention._kernel_args): eager's forward makes one per
    call, the compiled step one per new operand layout (and its fallback one per call)."""
    calls = []
    args = attention._kernel_args

    def counted(*a, **k):
        calls.append(1)
        return args(*a, **k)
    monkeypatch.setattr(attention, "_kernel_args", counted)
    return calls


def _r(shape, seed):
    return cadenza.from_numpy(np.random.default_rng(seed).standard_normal(shape)
                              .astype(np.float32))


CASES = {   # q, k, v shapes, mask (numpy or None), keyword arguments
    "decode": ((1, 4, 1, 16), (1, 4, 40, 16), (1, 4, 40, 16), None, {}),
    "decode_bool_mask": ((1, 4, 1, 16), (1, 4, 40, 16), (1, 4, 40, 16),
                         (np.arange(40) < 23)[None], {}),
    "float_mask": ((2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 6),
                   np.random.default_rng(3).standard_normal((3, 1, 7)).astype(np.float32), {}),
    "causal": ((2, 2, 9, 8), (2, 2, 9, 8), (2, 2, 9, 8), None, dict(is_causal=True)),
    "gqa": ((2, 4, 3, 16), (2, 2, 11, 16), (2, 2, 11, 16),
            np.random.default_rng(5).random((3, 11)) > 0.3, dict(enable_gqa=True)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_compiled_attention_equals_eager(case, monkeypatch):
    _kernels()
    qs, ks, vs, mask, kw = CASES[case]

    def f(q, k, v):
        m = None if mask is None else cadenza.from_numpy(mask)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=m, **kw) * 2

    cf = cadenza.compile(f)
    calls = _layouts(monkeypatch)
    for i in range(3):
        q, k, v = _r(qs, 10 + i), _r(ks, 20 + i), _r(vs, 30 + i)
        want = f(q, k, v).numpy()
        got = cf(q, k, v).numpy()
        assert np.array_equal(got, want), case
    assert len(calls) == 3 + 1 + 1    # eager's calls, the traced call, one plan for 2 replays


def test_cache_windows_and_a_new_layout(monkeypatch):
    """k, v: the first 24 slots of a larger cache (rows strided by the cache's layout); a cache
    of another size gives arguments of the same shapes with other strides: no recompile, the
    step plans the new layout."""
    _kernels()

    def f(q, k, v, mask):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)

    cf = cadenza.compile(f)
    calls = _layouts(monkeypatch)
    mask = cadenza.from_numpy((np.arange(24) < 17)[None])
    for S in (40, 40, 64, 64, 40):
        q, ck, cv = _r((1, 4, 1, 16), S), _r((1, 4, S, 16), S + 1), _r((1, 4, S, 16), S + 2)
        k, v = ck[:, :, :24], cv[:, :, :24]
        want = f(q, k, v, mask).numpy()
        got = cf(q, k, v, mask).numpy()
        assert np.array_equal(got, want)
    assert cadenza.compiler.stats()["compiles"] >= 1 and len(cf.cache) == 1
    assert len(calls) == 5 + 1 + 2    # eager, the trace, a plan per cache size


def test_a_mask_broadcast_along_the_keys_takes_the_forward(monkeypatch):
    _kernels()
    mask = cadenza.from_numpy(np.array([[True], [False], [True]]))     # (L, 1): every key

    def f(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)

    cf = cadenza.compile(f)
    calls = _layouts(monkeypatch)
    for i in range(3):
        q, k, v = _r((1, 2, 3, 8), i), _r((1, 2, 5, 8), i + 1), _r((1, 2, 5, 8), i + 2)
        want = f(q, k, v).numpy()
        got = cf(q, k, v).numpy()
        np.testing.assert_array_equal(got, want)
    assert len(calls) == 3 + 1 + 1 + 2    # eager, the trace, the plan, the 2 fallbacks

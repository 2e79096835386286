"""A tensor held in a plain attribute (``module.mask``, ``obj.adj``) and read by a compiled
function: replacing the attribute between calls traces again (the graph used to replay the
old tensor: silent wrong numbers); the same object updated in place is read live; an
attribute the call itself sets is replayed, not a reason to trace again."""
from __future__ import annotations

import numpy as np

import cadenza
from cadenza.compiler.compiled import STATS


class _Holder:
    pass


class _Masked(cadenza.nn.Module):
    def __init__(self, mask):
        super().__init__()
        self.mask = mask
        self.lin = cadenza.nn.Linear(3, 3)

    def forward(self, x):
        return self.mask @ self.lin(x)


def _close(a, b):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6, atol=1e-6)


def test_replaced_module_attribute_traces_again():
    cadenza.manual_seed(0)
    x = cadenza.randn(4, 3)
    for make in (lambda m: m, lambda m: m.to_sparse(), lambda m: m.to_sparse_csr()):
        m = _Masked(make(cadenza.randn(4, 4)))
        f = cadenza.compile(m)
        _close(m(x), f(x))
        m.mask = make(cadenza.randn(4, 4))           # same shapes, another tensor
        _close(m(x), f(x))
        before = STATS["compiles"]
        _close(m(x), f(x))                           # and now it holds again
        assert STATS["compiles"] == before


def test_global_object_attribute_and_in_place_update():
    h = _Holder()
    h.t = cadenza.randn(3)
    f = cadenza.compile(lambda y: y * h.t)
    ones = cadenza.ones(3)
    _close(h.t, f(ones))
    h.t.mul_(2)                                      # the same object, new values: live
    _close(h.t, f(ones))
    h.t = cadenza.randn(3)
    _close(h.t, f(ones))


class _SetsAux(cadenza.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = cadenza.nn.Linear(3, 3)
        self.aux = cadenza.zeros(())

    def forward(self, x):
        y = self.lin(x)
        self.aux = (y * y).mean()                    # set by the call itself (MoE aux loss)
        return y + self.aux


def test_attribute_set_by_the_call_is_replayed_without_tracing_again():
    m = _SetsAux()
    f = cadenza.compile(m)
    x = cadenza.randn(2, 3)
    with cadenza.no_grad():
        f(x)
        f(x)
        before = STATS["compiles"]
        for _ in range(3):
            y = f(x)
        assert STATS["compiles"] == before
        _close(m(x), y)

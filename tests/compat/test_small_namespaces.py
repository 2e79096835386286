"""torch.testing (assert_close messages and tolerances vs torch, make_tensor), torch.version,
torch._dynamo.config, torch.compiler's helpers, torch.utils.dlpack, Tensor.type(<legacy
class>)."""
import numpy as np
import pytest

import cadenza

torch = pytest.importorskip("torch")

PAIRS = [
    (lambda L: L.tensor([1.0, 2.0]), lambda L: L.tensor([1.0, 2.1])),
    (lambda L: L.tensor([1.0, 2.0]), lambda L: L.tensor([1.0, 2.0], dtype=L.float64)),
    (lambda L: L.tensor([1.0, 2.0]), lambda L: L.tensor([1.0, 2.0, 3.0])),
    (lambda L: 1.0, lambda L: 1.1),
    (lambda L: [L.ones(2)], lambda L: [L.zeros(2)]),
    (lambda L: {"a": L.ones(2, dtype=L.float64)}, lambda L: {"a": L.ones(2, dtype=L.float64)
                                                              * (1 + 2e-7)}),
    (lambda L: L.tensor([1, 2]), lambda L: L.tensor([1, 3])),
]


@pytest.mark.parametrize("i", range(len(PAIRS)))
def test_assert_close_fails_and_passes_as_torch(i):
    make_a, make_e = PAIRS[i]

    def outcome(L):
        try:
            L.testing.assert_close(make_a(L), make_e(L))
            return None
        except AssertionError as e:
            return str(e)
    c, t = outcome(cadenza), outcome(torch)
    assert (c is None) == (t is None)
    if t is not None:
        assert c.splitlines()[0] == t.splitlines()[0]
        if "Mismatched" in t:
            assert c.splitlines()[2] == t.splitlines()[2]       # mismatched-element count


def test_assert_close_tolerances_and_options():
    x = cadenza.tensor([1.0, 2.0])
    cadenza.testing.assert_close(x, x + 5e-6)                   # float32 atol 1e-5
    with pytest.raises(AssertionError):
        cadenza.testing.assert_close(x, x + 5e-5)
    cadenza.testing.assert_close(x, x + 5e-5, rtol=0, atol=1e-4)
    with pytest.raises(ValueError, match="rtol"):
        cadenza.testing.assert_close(x, x, atol=1.0)
    nan = cadenza.tensor([float("nan")])
    with pytest.raises(AssertionError):
        cadenza.testing.assert_close(nan, nan)
    cadenza.testing.assert_close(nan, nan, equal_nan=True)
    cadenza.testing.assert_close(x, x.double(), check_dtype=False)
    with pytest.raises(AssertionError, match="custom"):
        cadenza.testing.assert_close(x, x + 1, msg="custom")
    cadenza.testing.assert_close(x, np.array([1.0, 2.0], dtype=np.float32))


def test_make_tensor():
    cadenza.manual_seed(0)
    t = cadenza.testing.make_tensor(3, 4, dtype=cadenza.float32, low=-1, high=1)
    assert tuple(t.shape) == (3, 4) and t.dtype is cadenza.float32
    assert float(t.min()) >= -1 and float(t.max()) < 1
    i = cadenza.testing.make_tensor((50,), dtype=cadenza.int64, exclude_zero=True)
    assert not bool((i == 0).any()) and int(i.min()) >= -9 and int(i.max()) <= 9
    g = cadenza.testing.make_tensor(2, 3, dtype=cadenza.float64, requires_grad=True,
                                    noncontiguous=True)
    assert g.requires_grad and not g.is_contiguous()


def test_version_module():
    assert cadenza.version.__version__ == cadenza.__version__
    assert cadenza.version.cuda is None and cadenza.version.hip is None
    assert cadenza.version.debug is False


def test_dynamo_config_and_compiler_helpers():
    assert cadenza._dynamo.config is cadenza.compiler.dynamo_config

    def uncapturable(x):
        return x * 2 if float(x.sum()) > 0 else x      # a data-dependent branch
    x = cadenza.ones(3)
    with pytest.raises(cadenza.TraceError):
        cadenza.compile(uncapturable)(x)
    cadenza._dynamo.config.suppress_errors = True
    try:
        with pytest.warns(UserWarning):
            out = cadenza.compile(uncapturable)(x)
        assert out.tolist() == [2.0, 2.0, 2.0]
    finally:
        cadenza._dynamo.config.suppress_errors = False
    cadenza._dynamo.reset()
    assert cadenza.compiler.stats()["compiles"] == 0

    @cadenza.compiler.disable
    def helper(v):
        return v + 1

    @cadenza.compiler.disable(recursive=False)
    def helper2(v):
        return v * 3
    f = cadenza.compile(lambda v: helper2(helper(v)))
    assert f(x).tolist() == [6.0, 6.0, 6.0]
    assert cadenza.compiler.allow_in_graph(helper) is helper
    assert cadenza.compiler.is_dynamo_compiling() is False


def test_dlpack_round_trips():
    x = cadenza.arange(4.0)
    t = torch.utils.dlpack.from_dlpack(cadenza.utils.dlpack.to_dlpack(x))
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0]
    back = cadenza.utils.dlpack.from_dlpack(torch.utils.dlpack.to_dlpack(torch.arange(3.0)))
    assert back.tolist() == [0.0, 1.0, 2.0]
    assert cadenza.utils.dlpack.from_dlpack(torch.arange(2.0)).tolist() == [0.0, 1.0]


def test_type_accepts_legacy_classes():
    x = cadenza.ones(2)
    assert x.type(cadenza.DoubleTensor).dtype is cadenza.float64
    assert x.type("torch.LongTensor").dtype is cadenza.int64
    assert x.type() == "torch.FloatTensor"

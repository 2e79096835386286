"""NumPy's floating-point RuntimeWarnings (divide by zero, invalid value, overflow) never leak
from Cadenza's ops, eager, backward or compiled, as PyTorch prints nothing; the user's own
NumPy error settings are left as they were."""
import warnings

import numpy as np
import pytest

import cadenza as C


def _inf_nan_programs():
    x = C.tensor([0.0, -1.0, 1000.0, 1.0, float("nan")], requires_grad=True)
    yield C.log(C.tril(C.ones(3, 3)))  # the example
    for f in (C.log, C.sqrt, C.exp, C.rsqrt, C.reciprocal, C.log1p, C.acos, C.tanh,
              C.sigmoid, lambda v: v / 0, lambda v: v.pow(-1), lambda v: v ** 0.5,
              lambda v: C.log_softmax(v * 1e38, 0), lambda v: C.logsumexp(v * 1e38, 0),
              lambda v: C.softmax(v * 1e38, 0), lambda v: C.nn.functional.gelu(v * 1e30),
              lambda v: v.clamp(min=0).log(), lambda v: C.atan2(v, v * 0),
              lambda v: v.var(), lambda v: v.std(0, correction=10), lambda v: v.norm(),
              lambda v: v.long(), lambda v: v.half() * 1e5, lambda v: v % 0,
              lambda v: v // 0, lambda v: (v * 1e200).double().float()):
        yield f(x)
    yield C.empty(0).mean()
    yield C.tensor([1.0, 2.0]).std(dim=0, correction=5)
    yield C.tensor([1, 0]).float() / C.tensor([0, 0])


def test_no_runtime_warning_from_ops_and_backward():
    before = np.geterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for y in _inf_nan_programs():
            if y.requires_grad:
                y.sum().backward(retain_graph=True)
    assert np.geterr() == before


def _library_programs():
    inf, nan = float("inf"), float("nan")
    F = C.nn.functional
    for cls in (C.optim.Adam, C.optim.AdamW, C.optim.SGD, C.optim.RMSprop, C.optim.Adagrad):
        p = C.nn.Parameter(C.ones(3))
        opt = cls([p], lr=0.1)
        p.grad = C.tensor([inf, nan, 0.0])
        opt.step()
        opt.step()
    p = C.nn.Parameter(C.ones(3))
    p.grad = C.tensor([inf, 1.0, 0.0])
    C.nn.utils.clip_grad_norm_([p], 1.0)  # in-place scaling by 1/inf
    C.nn.LayerNorm(3)(C.zeros(2, 3, requires_grad=True)).sum().backward()
    F.cross_entropy(C.tensor([[-inf, 0.0]], requires_grad=True), C.tensor([0])).backward()
    F.binary_cross_entropy(C.tensor([0.0, 1.0], requires_grad=True),
                           C.tensor([1.0, 0.0])).backward()
    F.normalize(C.zeros(2, 3, requires_grad=True)).sum().backward()
    C.softmax(C.full((3,), -inf, requires_grad=True), 0).sum().backward()
    F.gelu(C.tensor([1e10, -1e10]), approximate="tanh")
    C.full((200,), 10.0).cumprod(0)
    C.full((2, 2), 3e38) @ C.full((2, 2), 3e38)
    repr(C.tensor([nan, inf, -inf, 1e30]))


def test_no_runtime_warning_from_library_code():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _library_programs()


def test_no_runtime_warning_compiled():
    def fn(a):
        return C.log(a) * C.sqrt(a) + a / 0 + C.exp(a * 1000)
    f = C.compile(fn)
    x = C.tensor([0.0, -1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            out = f(x)
        np.testing.assert_array_equal(out.numpy(), fn(x).numpy())
    assert np.isnan(out.numpy()[:2]).all() and np.isinf(out.numpy()[2])


def test_user_numpy_error_state_is_untouched():
    with np.errstate(divide="raise", over="warn", invalid="ignore"):
        state = np.geterr()
        C.log(C.zeros(2))
        (C.zeros(2, requires_grad=True).log().sum()).backward()
        assert np.geterr() == state
        with pytest.raises(FloatingPointError):  # the user's own NumPy code still raises
            np.log(np.zeros(1))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        C.log(C.zeros(1))
        np.log(np.zeros(1))  # still warns in user code, as NumPy's defaults say
    assert [str(x.message) for x in w] == ["divide by zero encountered in log"]


def test_inf_nan_values_match_torch():
    T = pytest.importorskip("torch")
    a = [0.0, -1.0, 1000.0, 1.0]
    for name in ("log", "sqrt", "exp", "rsqrt", "reciprocal", "log1p", "acos"):
        np.testing.assert_allclose(getattr(C, name)(C.tensor(a)).numpy(),
                                   getattr(T, name)(T.tensor(a)).numpy(), rtol=1e-6)

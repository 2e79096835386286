"""The eager dispatch path (ops/_registry.py): its shortcuts give what the plain path gives.

- Python-number operands of add/sub/mul/div reach NumPy as cached 0-d arrays of the tensor's
  float dtype: bitwise the same values and dtypes as NumPy with the number itself (and as torch),
  for special values, zeros of both signs, and numbers that overflow the dtype.
- ``state.plain`` (the one flag apply reads for its hooks) follows every hook.
- A saved Python number stays a Python number in the graph (what backward and a trace read).
"""
import operator
import warnings

import numpy as np
import pytest

import cadenza as C
from cadenza._dispatch import state
from cadenza.ops import _registry

NUMBERS = [1.0001, 0.0001, -2.5, 1e-8, 3.4e38, 1e39, 7e4, 1e-45, 2.0 ** -149, 0.1, 1 / 3, 0.0,
           -0.0, float("inf"), -float("inf"), float("nan"), 1e300, 3, -7, 2049, 16777217,
           2 ** 53 + 1, 2 ** 70, 0]
OPS = [operator.add, operator.sub, operator.mul, operator.truediv]


def _reflected_numpy(op, v, x):
    """``v (op) x`` as torch computes it: ``x.reciprocal() * v`` for a division."""
    return np.reciprocal(x) * v if op is operator.truediv else op(v, x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_number_operands_bitwise_as_numpy(dtype):
    rng = np.random.default_rng(0)
    with np.errstate(over="ignore"):   # float16 overflows to inf: a value to test too
        x = (rng.standard_normal(64) * 10.0 ** rng.integers(-8, 8, 64)).astype(dtype)
    x[:4] = [0.0, -0.0, np.inf, np.nan]
    t = C.from_numpy(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no NumPy warning leaks from an op, as before
        for v in NUMBERS:
            for op in OPS:
                with np.errstate(all="ignore"):
                    want, want_r = op(x, v), _reflected_numpy(op, v, x)
                for _ in range(2):   # the cache miss, then the hit
                    got, got_r = op(t, v).numpy(), op(v, t).numpy()
                    assert got.dtype == want.dtype and got_r.dtype == want_r.dtype
                    assert got.tobytes() == want.tobytes(), (op, v)
                    assert got_r.tobytes() == want_r.tobytes(), (op, v)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_number_operands_bitwise_as_torch(dtype):
    """float16/bfloat16 with a Python number: computed in float32 and rounded once, the number
    rounded to the tensor's dtype first except in mul and div (torch's CPU kernels)."""
    T = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(64) * 10.0 ** rng.integers(-6, 6, 64)).astype(np.float32)
    x[:4] = [0.0, -0.0, np.inf, np.nan]
    t, tt = C.tensor(x).to(getattr(C, dtype)), T.tensor(x).to(getattr(T, dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for v in NUMBERS:
            if isinstance(v, int) and abs(v) > 2 ** 62:
                continue   # torch refuses ints beyond int64 here
            for op in OPS:
                for got, want in ((op(t, v), op(tt, v)), (op(v, t), op(v, tt))):
                    assert got.dtype == getattr(C, dtype)
                    np.testing.assert_array_equal(got.float().numpy(), want.float().numpy(),
                                                  err_msg=f"{op.__name__} {v}")


def test_number_operands_match_torch():
    T = pytest.importorskip("torch")
    x = np.array([0.0, -0.0, 1.5, -3.25, 1e30, 6e-39], np.float32)
    for v in (1.0001, -0.0, 0.0, 3, 1e39, 1e-45):
        for op in OPS:
            with np.errstate(all="ignore"):
                got = op(C.from_numpy(x), v).numpy()
            want = op(T.from_numpy(x), v).numpy()
            np.testing.assert_array_equal(got, want)
            assert np.array_equal(np.signbit(got), np.signbit(want))


def test_scalar_cache_is_read_only_and_bounded():
    t = C.ones(3)
    for i in range(1, 1000):
        t * (i + 0.5)
    assert len(_registry._SCALARS32) <= 256
    z = _registry._scalar_array(2.5, np.dtype(np.float32))
    assert z.shape == () and z.dtype == np.float32 and not z.flags.writeable
    out = t * 2.5
    out.add_(1.0)       # the output is a fresh array, never the cached one
    assert float(z) == 2.5


def test_saved_number_stays_a_python_number():
    x = C.ones(4, requires_grad=True)
    y = x * 1.5
    assert y.grad_fn.saved[1] == 1.5 and type(y.grad_fn.saved[1]) is float
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(4, 1.5, np.float32))


def test_plain_flag_follows_every_hook():
    assert state.plain
    with C.autograd.detect_anomaly():
        assert not state.plain
    assert state.plain
    with C.autocast("cpu", dtype=C.bfloat16):
        assert not state.plain
        C.ones(2, 2) @ C.ones(2, 2)
        assert not state.plain      # the region's own casts keep it off
    assert state.plain
    with C.autograd.profiler.profile():
        assert not state.plain
    assert state.plain


def test_hooks_still_see_dunder_ops():
    x = C.ones(3, requires_grad=True)
    with C.autograd.detect_anomaly():
        y = x * 2.0
    assert y.grad_fn.src and "test_dispatch.py" in y.grad_fn.src
    with C.autograd.profiler.profile() as prof:
        x * 2.0 + 1.0
    names = [e.name for e in prof.function_events]
    assert "aten::mul" in names and "aten::add" in names
    f = C.compile(lambda a: a * 3.0 + 1.0)
    a = C.arange(4.0)
    for _ in range(2):
        np.testing.assert_array_equal(f(a).numpy(), (a * 3.0 + 1.0).numpy())


def test_number_dunder_graph_matches_torch():
    """The inline path of ``tensor (op) number`` (ops/_registry.py number_dunder) records what
    _run records: gradients, grad_fn names, versions, for leaves, views, 0-d tensors, reflected
    operands, and the dtypes it leaves to _run (int, float16) -- all as torch."""
    T = pytest.importorskip("torch")
    ops = [lambda a: a * 1.5 + 0.25, lambda a: 2 * a - 1, lambda a: (a / 3.0) * 2,
           lambda a: 1.0 + a[1:] * 2.0, lambda a: (a * 2.0)[0] * 3, lambda a: 0.5 * a * 0]
    for dt in (np.float32, np.float64, np.float16):
        x = np.array([0.5, -1.25, 3.0], dt)
        for f in ops:
            a, b = C.tensor(x, requires_grad=True), T.tensor(x, requires_grad=True)
            ya, yb = f(a), f(b)
            assert ya.grad_fn.name() == yb.grad_fn.name()
            assert ya.dtype.name == str(yb.dtype).split(".")[1]
            np.testing.assert_array_equal(ya.detach().numpy(), yb.detach().numpy())
            ya.sum().backward()
            yb.sum().backward()
            np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
    for v in (C.tensor(2.0, requires_grad=True), C.arange(3) * 2):   # 0-d; integer tensor
        w = v * 3
        assert w.shape == v.shape and w.dtype == v.dtype
    with C.no_grad():
        assert (C.ones(2, requires_grad=True) * 2.0).grad_fn is None


def test_number_dunder_keeps_version_checks():
    """x / number saves nothing of x (as in torch), so x may change afterwards; x * y with a
    tensor y does save x: its in-place change is reported at backward."""
    x = C.ones(3, requires_grad=True).clone()
    y = x / 2.0
    x.add_(1.0)
    y.sum().backward()
    w = C.ones(3, requires_grad=True)
    z = x * w
    x.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_basic_index_shortcut_matches_torch():
    """getitem's shortcut for ints, None and int slices (``logits[:, -1, :]``) gives torch's
    values, views, gradients and errors; other indexes take the general path."""
    T = pytest.importorskip("torch")
    x = np.arange(24.0, dtype=np.float32).reshape(2, 3, 4)
    for idx in [(slice(None), -1, slice(None)), 1, -2, (0, 1), (None, 0), (slice(1, None, 2),),
                (slice(None), slice(None), 3), (), (0, None, slice(-3, -1))]:
        a, b = C.tensor(x, requires_grad=True), T.tensor(x, requires_grad=True)
        ya, yb = a[idx], b[idx]
        np.testing.assert_array_equal(ya.detach().numpy(), yb.detach().numpy())
        ya.sum().backward()
        yb.sum().backward()
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
    t = C.tensor(x)
    assert t[1]._base is t and t[1].data_ptr() == t._data[1].__array_interface__["data"][0]
    with pytest.raises(IndexError):
        t[:, 3]
    with pytest.raises(IndexError):
        t[5]
    assert t[True].shape == (1, 2, 3, 4)                      # a bool is not an int
    assert t[0, C.tensor([0, 2])].shape == (2, 4)


def test_fp_quiet_inside_and_outside_apply():
    """Forwards whose temporaries overflow (gelu's exp, softmax of -inf rows) stay silent
    whether the caller already silenced NumPy (ops.apply: fp_quiet is a null block) or not (a
    forward called directly: an errstate block), and the caller's error state is kept."""
    from cadenza.backend.cpu import fp_quiet, fp_state, FP_QUIET
    from cadenza.ops.activation import _gelu_tanh
    x = np.array([-1e4, -50.0, 0.0, 3.0], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            direct = _gelu_tanh(np, x)
            via_op = C.nn.functional.gelu(C.from_numpy(x), approximate="tanh").numpy()
            rows = C.softmax(C.tensor([[-float("inf")] * 3, [0.0, 1.0, 2.0]]), -1).numpy()
            assert np.geterr()["over"] == "raise"
    np.testing.assert_array_equal(direct, via_op)
    assert np.isnan(rows[0]).all() and np.isfinite(rows[1]).all()
    token = fp_state.set(FP_QUIET)
    try:
        with fp_quiet() as first, fp_quiet() as second:
            assert first is None and second is None   # the shared null block
    finally:
        fp_state.reset(token)


def test_fp_silent_without_switch_follows_warning_filters():
    """tensor (op) number and the array_scalars ops skip NumPy's error-state switch while its
    default state holds and Cadenza's warnings filter decides (ops/_registry.py): whatever
    filters the user puts in front (error, always) or error state (raise), overflow and 0/0
    stay silent, and the user's own NumPy code still warns."""
    from cadenza.ops import _registry as R
    big = C.tensor([3e38, 1.0])
    zero = C.tensor([0.0, 1.0])

    def run():
        out = [(big * 10.0).numpy(), (big + big).numpy(), (zero / 0.0).numpy(),
               (big * big).numpy(), (zero / zero).numpy()]
        assert np.isinf(out[0][0]) and np.isinf(out[1][0]) and np.isnan(out[2][0])
        assert np.isinf(out[3][0]) and np.isnan(out[4][0])

    with warnings.catch_warnings(record=True) as seen:   # Cadenza's filter stays first
        run()
        assert R._fp_quiet_now(R._fp_get())
    with warnings.catch_warnings():
        warnings.simplefilter("error")                     # a filter in front of Cadenza's
        assert not R._fp_quiet_now(R._fp_get())
        run()
        with np.errstate(all="raise"):
            run()
    with warnings.catch_warnings(record=True) as seen:
        warnings.filterwarnings("always", category=RuntimeWarning, module="cadenza")
        run()
        np.float32(3e38) * np.float32(10.0)               # the user's own overflow warns
    assert [str(w.message) for w in seen] == ["overflow encountered in scalar multiply"]
    warnings.filterwarnings("ignore", category=UserWarning)  # an ignore in front: still fast
    try:
        assert R._fp_quiet_now(R._fp_get())
    finally:
        warnings.filters.pop(0)
    assert np.geterr()["over"] == "warn"

    class Elsewhere(R.Op):   # an array_scalars forward outside those modules is refused
        name, kind, onnx, c_expr, array_scalars = "w5_elsewhere", "elementwise", None, "{0}", max
        forward = staticmethod(lambda xp, a, b: np.maximum(a, b))
        backward = staticmethod(lambda c, g: (g, g))
    with pytest.raises(TypeError, match="array_scalars"):
        R.register(Elsewhere)

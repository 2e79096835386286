"""The float32 C kernels of eager mode's row and elementwise primitives
(cadenza/backend/ckernels_rows.py): tanh and exact GELU, layer/RMS norm, softmax, log_softmax, cross
entropy, forward and gradients. Each agrees with the NumPy form it replaces (kernels switched
off) and with PyTorch within float32 rounding, on shapes that split into several tasks and on
edge cases (causal masks with L != S, scales, non-finite rows, ignored and out-of-range targets,
strided and 0-d inputs); results do not depend on the pool's thread count."""
import numpy as np
import pytest

import cadenza
import cadenza.nn.functional as F
from cadenza.backend import cbuild, ckernels_rows

torch = pytest.importorskip("torch")


@pytest.fixture
def kernels():
    if ckernels_rows.lib() is None:
        pytest.skip("no C compiler (or the row kernels did not build): the NumPy forms run")


def _run(fn, arrays, on):
    """fn over cadenza tensors of ``arrays`` (requires_grad): outputs and gradients."""
    prev = ckernels_rows.enabled
    ckernels_rows.enabled = on
    try:
        ts = [cadenza.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
        out = fn(cadenza, *ts)
        g = np.random.default_rng(9).standard_normal(out.shape).astype(np.float32)
        out.backward(cadenza.tensor(g))
        return [out.detach().numpy()] + [t.grad.numpy() for t in ts if t.requires_grad]
    finally:
        ckernels_rows.enabled = prev


def _torch(fn, arrays):
    ts = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    out = fn(torch, *ts)
    g = np.random.default_rng(9).standard_normal(tuple(out.shape)).astype(np.float32)
    out.backward(torch.tensor(g))
    return [out.detach().numpy()] + [t.grad.numpy() for t in ts if t.requires_grad]


def _close(got, want, tol=2e-5):
    for a, b in zip(got, want):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        ok = np.isfinite(b)
        np.testing.assert_array_equal(a[~ok], b[~ok])
        scale = max(1.0, float(np.abs(b[ok]).max())) if ok.any() else 1.0
        np.testing.assert_allclose(a[ok], b[ok], rtol=tol, atol=tol * scale)


def _rng(shape, scale=2.0, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def _tf(lib):
    return lib.nn.functional if lib is not cadenza else F


CASES = {
    "gelu_tanh": (lambda L, x: _tf(L).gelu(x, approximate="tanh"), [_rng((64, 700), 4)]),
    "gelu_tanh_0d": (lambda L, x: _tf(L).gelu(x, approximate="tanh") * 1.0,
                     [np.asarray(0.7, np.float32)]),
    "gelu_erf": (lambda L, x: _tf(L).gelu(x), [_rng((64, 700), 4)]),
    "layer_norm": (lambda L, x, w, b: _tf(L).layer_norm(x, (96,), w, b),
                   [_rng((4, 130, 96)) + 3, _rng(96), _rng(96)]),
    "layer_norm_2d_no_affine": (lambda L, x: _tf(L).layer_norm(x, (6, 40)),
                                [_rng((300, 6, 40))]),
    "rms_norm": (lambda L, x, w: _tf(L).rms_norm(x, (64,), w), [_rng((700, 64)), _rng(64)]),
    "softmax": (lambda L, x: (x * 1.5).softmax(-1), [_rng((200, 300))]),
    "softmax_strided": (lambda L, x: x.transpose(0, 1).softmax(-1), [_rng((300, 200))]),
    "log_softmax": (lambda L, x: x.log_softmax(-1), [_rng((3, 200, 110))]),
    "cross_entropy": (lambda L, x, t: _tf(L).cross_entropy(x, t, reduction="none"),
                      [_rng((1000, 257), 3), np.random.default_rng(1).integers(0, 257, 1000)]),
    "cross_entropy_ignore": (
        lambda L, x, t: _tf(L).cross_entropy(x, t, ignore_index=3, reduction="none"),
        [_rng((500, 70)), np.random.default_rng(2).integers(0, 5, 500)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_kernel_matches_numpy_form_and_torch(kernels, name):
    fn, arrays = CASES[name]
    on = _run(fn, arrays, True)
    _close(on, _run(fn, arrays, False))
    _close(on, _torch(fn, arrays), 5e-5)


@pytest.mark.parametrize("L, S", [(40, 40), (24, 40), (40, 24)])
@pytest.mark.parametrize("scale", [1.0, 0.125])
def test_causal_softmax_primitive(kernels, L, S, scale):
    """The causal, scaled softmax primitive (the attention composite's) and its gradient."""
    from cadenza.ops import apply
    from cadenza.ops.softmax_fused import Softmax
    x = _rng((3, 5, L, S))
    mask = np.tril(np.ones((L, S), bool))

    def ours(lib, t):
        return apply(Softmax, t, dim=-1, scale=scale, causal=True)

    def theirs(lib, t):
        return (t * scale).masked_fill(~torch.from_numpy(mask), -torch.inf).softmax(-1)
    on = _run(ours, [x], True)
    _close(on, _run(ours, [x], False))
    _close(on, _torch(theirs, [x]), 5e-5)


def test_non_finite_rows(kernels):
    x = _rng((6, 50))
    x[0] = -np.inf
    x[1, 3] = np.nan
    x[2, 7] = np.inf
    x[3, :10] = -np.inf
    for f in (lambda t: t.softmax(-1), lambda t: t.log_softmax(-1)):
        got = [_run(lambda L, t: f(t), [x], on)[0] for on in (True, False)]
        _close(got[0], got[1])
        _close([got[0]], [f(torch.from_numpy(x)).numpy()])


def test_cross_entropy_target_out_of_range_raises(kernels):
    x = cadenza.tensor(_rng((8, 5)))
    for bad in (5, -1):
        t = cadenza.tensor(np.array([0, 1, bad, 2, 3, 4, 0, 1]))
        with pytest.raises(IndexError):
            F.cross_entropy(x, t)


def test_exact_gelu_forward_gives_the_numpy_forms_bits(kernels):
    """The exact (erf) GELU kernel repeats the NumPy form's float32 operations one by one:
    the same bits, NaN and the clip of erf's argument included."""
    x = _rng((5000,), 4)
    x[:4] = [np.nan, 30.0, -30.0, -0.0]
    on, off = _run(lambda L, t: _tf(L).gelu(t), [x], True), _run(lambda L, t: _tf(L).gelu(t),
                                                                   [x], False)
    np.testing.assert_array_equal(on[0], off[0])
    _close(on[1:], off[1:])


def test_float64_keeps_the_numpy_form(kernels):
    """float64 never takes the float32 kernels: results equal the kernels-off path."""
    x = _rng((64, 700)).astype(np.float64)
    for fn in (lambda L, t: _tf(L).gelu(t, approximate="tanh"), lambda L, t: _tf(L).gelu(t),
               lambda L, t: _tf(L).layer_norm(t, (700,)), lambda L, t: t.softmax(-1)):
        a, b = _run(fn, [x], True), _run(fn, [x], False)
        for u, v in zip(a, b):
            np.testing.assert_array_equal(u, v)


def test_same_bytes_on_every_thread_count(kernels):
    if cbuild.runtime() is None:
        pytest.skip("the pool's runtime did not build")
    prev = cbuild.set_kernel_threads()
    try:
        got = []
        for n in (1, 2, 4):
            cbuild.set_kernel_threads(n)
            res = []
            for name in ("gelu_tanh", "gelu_erf", "layer_norm", "rms_norm", "softmax",
                         "log_softmax", "cross_entropy"):
                fn, arrays = CASES[name]
                res += [a.tobytes() for a in _run(fn, arrays, True)]
            got.append(res)
        assert got[0] == got[1] == got[2]
    finally:
        cbuild.set_kernel_threads(prev)


OPTIMIZERS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.01, momentum=0.9)),
    ("SGD", dict(lr=0.01, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, maximize=True)),
    ("Adam", dict(lr=1e-3)),
    ("Adam", dict(lr=1e-2, weight_decay=0.1, maximize=True)),
    ("AdamW", dict(lr=3e-4, weight_decay=0.1)),
    ("AdamW", dict(lr=3e-4, amsgrad=True)),
]


@pytest.mark.parametrize("name, kw", OPTIMIZERS)
def test_fused_optimizer_updates_give_the_ops_bits(kernels, name, kw):
    """The one-pass C updates give the bits of the tensor-op updates they replace (kernels
    off), step after step, for float32 parameters of several shapes (and sizes that split
    into several tasks); the results follow torch's within rounding."""
    rng = np.random.default_rng(5)
    shapes = [(300, 257), (7,), (3, 4, 5)]
    init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(4)]

    def run(lib, on=True):
        prev = ckernels_rows.enabled
        ckernels_rows.enabled = on
        try:
            ps = [lib.tensor(a.copy(), requires_grad=True) for a in init]
            opt = getattr(lib.optim, name)(ps, **kw)
            for gs in grads:
                for p, g in zip(ps, gs):
                    p.grad = lib.tensor(g)
                opt.step()
            return [p.detach().numpy() for p in ps]
        finally:
            ckernels_rows.enabled = prev
    fused = run(cadenza)
    for a, b in zip(fused, run(cadenza, on=False)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(fused, run(torch)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

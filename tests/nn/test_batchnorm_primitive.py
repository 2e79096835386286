"""Batch norm's primitives (cadenza/ops/batchnorm.py) against torch: BatchNorm1d/2d/3d
training steps with running-stat updates (momentum, momentum=None's cumulative average,
affine=False, track_running_stats=False), eval mode, the C kernels against the NumPy path,
and a compiled float64 training step bitwise equal to eager."""
import numpy as np
import pytest
import torch

import cadenza
from cadenza.backend import ckernels

CASES = [("BatchNorm1d", (6, 4), {}),
         ("BatchNorm1d", (5, 3, 7), dict(momentum=None)),
         ("BatchNorm2d", (4, 3, 5, 6), {}),
         ("BatchNorm2d", (3, 5, 4, 4), dict(affine=False, momentum=0.3)),
         ("BatchNorm2d", (3, 2, 3, 3), dict(track_running_stats=False)),
         ("BatchNorm3d", (2, 3, 2, 3, 4), dict(eps=1e-3, momentum=None))]


def _steps(lib, name, shape, kw, dt, steps=3):
    """Outputs, input/parameter gradients and buffers after ``steps`` training calls, then
    one eval call."""
    rng = np.random.default_rng(0)
    m = getattr(lib.nn, name)(shape[1], **kw).to(getattr(lib, dt))
    if m.weight is not None:
        with lib.no_grad():
            m.weight.copy_(lib.tensor(rng.standard_normal(shape[1]).astype(dt)))
            m.bias.copy_(lib.tensor(rng.standard_normal(shape[1]).astype(dt)))
    res = []
    for _ in range(steps):
        x = lib.tensor((rng.standard_normal(shape) * 2 + 0.5).astype(dt), requires_grad=True)
        g = lib.tensor(rng.standard_normal(shape).astype(dt))
        y = m(x)
        y.backward(g)
        res += [y, x.grad]
    res += [p.grad for p in m.parameters()]
    res += [b for b in m.buffers()]
    m.eval()
    res.append(m(lib.tensor(rng.standard_normal(shape).astype(dt))))
    return [t.detach().numpy() for t in res]


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_batchnorm_modules_match_torch(case, dt):
    name, shape, kw = CASES[case]
    got, want = _steps(cadenza, name, shape, kw, dt), _steps(torch, name, shape, kw, dt)
    assert len(got) == len(want)
    tol = 1e-4 if dt == "float32" else 1e-11
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_c_kernels_and_numpy_path_agree(dt, monkeypatch):
    if ckernels.lib() is None:
        pytest.skip("no C compiler: the NumPy path is the only one")
    res = []
    for enabled in (True, False):
        monkeypatch.setattr(ckernels, "enabled", enabled)
        res.append(_steps(cadenza, "BatchNorm2d", (4, 3, 9, 7), {}, np.dtype(dt).name))
    tol = 1e-5 if dt == np.float32 else 1e-13
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_float64_compiled_training_step_is_bitwise_eager():
    """A conv + batch norm + relu step with SGD, compiled and eager, in float64: same bits
    (losses, parameters and running statistics)."""
    def run(compiled):
        cadenza.manual_seed(0)
        nn = cadenza.nn
        model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                              nn.Flatten(), nn.Linear(4 * 5 * 5, 3)).double()
        opt = cadenza.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        x = cadenza.tensor(np.random.default_rng(1).standard_normal((6, 2, 5, 5)))
        y = cadenza.tensor(np.array([0, 1, 2, 0, 1, 2]))

        def step():
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss
        f = cadenza.compile(step) if compiled else step
        losses = [f().item() for _ in range(4)]
        return losses, [t.detach().numpy().copy() for t in model.state_dict().values()]
    (le, se), (lc, sc) = run(False), run(True)
    assert le == lc
    for a, b in zip(se, sc):
        assert a.tobytes() == b.tobytes()


def test_bad_inputs_name_the_op():
    x = cadenza.randn(2, 3, 4)
    with pytest.raises(ValueError, match="batch_norm"):
        cadenza.nn.functional.batch_norm(cadenza.randn(1, 3), None, None, training=True)
    with pytest.raises(Exception, match="batch_norm"):
        cadenza.nn.functional.batch_norm(x, cadenza.zeros(2), cadenza.ones(2))

"""The hand-written C kernels eager ops call (cadenza/backend/ckernels.py): the C path and the
NumPy path give the same bits (float32 and float64), both agree with torch, and without a C
compiler everything runs on the NumPy path."""
import contextlib
import io
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import cadenza
import cadenza.nn.functional as F
from cadenza.backend import ckernels
from _cc import require_cc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# (input shape, weight shape, bias?, conv2d keywords): padding, stride, dilation, 1x1, L = 1
CONVS = [((2, 4, 6, 5), (6, 4, 3, 2), True, dict(stride=2, padding=1)),
         ((2, 4, 6, 5), (6, 4, 3, 2), False, dict(stride=(2, 1), padding=(0, 2),
                                                   dilation=(1, 2))),
         ((3, 3, 9, 9), (5, 3, 3, 3), True, dict(stride=2, padding=1)),
         ((2, 3, 8, 8), (4, 3, 1, 1), True, dict(stride=2)),
         ((2, 3, 7, 7), (4, 3, 3, 3), True, dict(stride=3, padding=2, dilation=2)),
         ((4, 8, 1, 1), (6, 8, 3, 3), True, dict(padding=1)),
         ((2, 2, 5, 6), (3, 2, 1, 3), False, dict(padding=(0, 1), stride=(1, 2)))]


def _conv_step(xs, ws, bias, kw, dt, seed):
    """(out, grad x, grad w, grad b) of conv2d with a random upstream gradient."""
    rng = np.random.default_rng(seed)
    x, w, b = (rng.standard_normal(s).astype(dt) for s in (xs, ws, (ws[0],)))
    cx, cw, cb = (cadenza.tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.conv2d(cx, cw, cb if bias else None, **kw)
    out.backward(cadenza.tensor(rng.standard_normal(tuple(out.shape)).astype(dt)))
    return [out.detach().numpy(), cx.grad.numpy(), cw.grad.numpy()] + \
        ([cb.grad.numpy()] if bias else [])


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(CONVS)))
def test_conv2d_c_and_numpy_paths_are_bitwise_equal_and_match_torch(case, dt, monkeypatch):
    require_cc()
    xs, ws, bias, kw = CONVS[case]
    got = _conv_step(xs, ws, bias, kw, dt, case)
    monkeypatch.setattr(ckernels, "enabled", False)
    ref = _conv_step(xs, ws, bias, kw, dt, case)
    for a, b in zip(got, ref):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    rng = np.random.default_rng(case)
    tx, tw, tb = (torch.tensor(rng.standard_normal(s).astype(dt), requires_grad=True)
                  for s in (xs, ws, (ws[0],)))
    out = torch.nn.functional.conv2d(tx, tw, tb if bias else None, **kw)
    out.backward(torch.tensor(rng.standard_normal(tuple(out.shape)).astype(dt)))
    want = [out, tx.grad, tw.grad] + ([tb.grad] if bias else [])
    tol = 1e-4 if dt == np.float32 else 1e-10
    for a, t in zip(got, want):
        np.testing.assert_allclose(a, t.detach().numpy(), rtol=tol, atol=tol)


def test_conv2d_second_order_gradients_match_torch():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3))
    res = []
    for lib in (cadenza, torch):
        tx, tw = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        out = lib.nn.functional.conv2d(tx, tw, padding=1, stride=2)
        gx, gw = lib.autograd.grad((out ** 2).sum(), (tx, tw), create_graph=True)
        hx, hw = lib.autograd.grad((gx ** 2).sum() + (gw ** 3).sum(), (tx, tw))
        res.append([t.detach().numpy() for t in (gx, gw, hx, hw)])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


_SCRIPT = textwrap.dedent("""
    import json, numpy as np, cadenza
    from cadenza.backend import ckernels
    rng = np.random.default_rng(0)
    x = cadenza.tensor(rng.standard_normal((2, 3, 7, 6)), requires_grad=True)
    w = cadenza.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    out = cadenza.nn.functional.conv2d(x, w, stride=2, padding=1)
    (out * out).sum().backward()
    print(json.dumps({"lib": ckernels.lib() is not None,
                      "values": [t.detach().numpy().tolist() for t in (out, x.grad, w.grad)]}))
""")


def _run(tmp_path, **env):
    full = dict(os.environ, CADENZA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=ROOT, **env)
    proc = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True,
                          env=full, cwd=str(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def test_without_a_compiler_the_numpy_path_gives_the_same_values(tmp_path):
    require_cc()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):   # with the compiler: this process's C kernels
        exec(_SCRIPT, {})
    with_cc = json.loads(out.getvalue().strip().splitlines()[-1])
    # without one: a fresh process with an empty kernel cache (none to load)
    without, err = _run(tmp_path, CC=str(tmp_path / "no-such-cc"))
    assert with_cc["lib"] and not without["lib"] and err == ""
    assert with_cc["values"] == without["values"]


POOLS = [((2, 3, 8, 8), dict(kernel_size=2)),
         ((2, 3, 9, 7), dict(kernel_size=3, stride=2, padding=1)),
         ((2, 2, 7, 7), dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 0), dilation=2,
                             ceil_mode=True)),
         ((1, 2, 9, 8), dict(kernel_size=3, stride=1, padding=1)),
         ((2, 2, 9, 9), dict(kernel_size=2, stride=3)),
         ((2, 2, 5, 5), dict(kernel_size=2, ceil_mode=True)),
         ((2, 3, 9, 7), dict(kernel_size=2))]   # 2x2/2 (its own C kernels), a row/column left


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(POOLS)))
def test_max_pool2d_c_and_numpy_paths_agree_and_match_torch(case, dt, ties, monkeypatch):
    """Values and gradients; ``ties``: repeated maxima, signed zeros and a NaN (the winner is
    the window's first maximum, or its last NaN, as torch)."""
    require_cc()
    shape, kw = POOLS[case]
    rng = np.random.default_rng(case)
    x = rng.standard_normal(shape).astype(dt)
    if ties:
        x.flat[::7], x.flat[::11], x.flat[5] = 0.0, -0.0, np.nan
        x.flat[::13] = x.flat[1]
    res = []
    for enabled in (True, False):
        monkeypatch.setattr(ckernels, "enabled", enabled)
        cx = cadenza.tensor(x, requires_grad=True)
        out = F.max_pool2d(cx, **kw)
        g = np.random.default_rng(1).standard_normal(tuple(out.shape)).astype(dt)
        out.backward(cadenza.tensor(g))
        res.append((out.detach().numpy(), cx.grad.numpy()))
    (out_c, gx_c), (out_np, gx_np) = res
    assert np.array_equal(out_c, out_np, equal_nan=True) and gx_c.tobytes() == gx_np.tobytes()
    tx = torch.tensor(x, requires_grad=True)
    to = torch.nn.functional.max_pool2d(tx, **kw)
    to.backward(torch.tensor(g))
    np.testing.assert_array_equal(out_c, to.detach().numpy())
    # overlapping windows sum in another order than torch's
    np.testing.assert_allclose(gx_c, tx.grad.numpy(), rtol=1e-6, atol=1e-6)

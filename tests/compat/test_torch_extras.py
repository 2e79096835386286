"""torch.cpu, get_device_module, the deterministic debug mode, empty_permuted, histogramdd,
the ATen recurrent cells and to_dlpack, against torch."""
import warnings

import numpy as np
import pytest

import cadenza

torch = pytest.importorskip("torch")


def test_cpu_device_module():
    for L in (cadenza, torch):
        assert L.cpu.is_available() and L.cpu.device_count() == 1
        assert L.cpu.current_device() == "cpu" and L.cpu.synchronize() is None
        s = L.cpu.current_stream()
        with L.cpu.stream(s):
            pass
        assert L.get_device_module("cpu") is L.cpu
        assert L.get_device_module(L.device("cuda")) is L.cuda
        with pytest.raises(RuntimeError):
            L.get_device_module("meta")
    assert cadenza.get_device_module() is cadenza.cpu   # no CUDA here
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with cadenza.cpu.amp.autocast():
            y = cadenza.nn.functional.linear(cadenza.ones(2, 3), cadenza.ones(4, 3))
        assert y.dtype == cadenza.bfloat16
    assert w[0].category is FutureWarning and "torch.amp.autocast('cpu'" in str(w[0].message)


@pytest.mark.parametrize("mode", [0, 1, 2, "default", "warn", "error"])
def test_deterministic_debug_mode(mode):
    seen = []
    for L in (cadenza, torch):
        try:
            L.set_deterministic_debug_mode(mode)
            seen.append((L.get_deterministic_debug_mode(),
                         L.are_deterministic_algorithms_enabled(),
                         L.is_deterministic_algorithms_warn_only_enabled()))
            L.use_deterministic_algorithms(True, warn_only=True)
            seen.append(L.get_deterministic_debug_mode())
        finally:
            L.set_deterministic_debug_mode(0)
    assert seen[:2] == seen[2:]
    for L in (cadenza, torch):
        with pytest.raises(RuntimeError, match="invalid value of debug_mode"):
            L.set_deterministic_debug_mode(3)
        with pytest.raises(TypeError):
            L.set_deterministic_debug_mode(1.0)


def test_empty_permuted():
    for size, order in (((2, 3, 4), (0, 2, 1)), ((2, 3, 4, 5), (0, 2, 3, 1))):
        c = cadenza.empty_permuted(size, order)
        t = torch.empty_permuted(size, order)
        assert tuple(c.shape) == tuple(t.shape) and c.stride() == t.stride()
    assert cadenza.empty_permuted((2, 3), (1, 0), device="meta").is_meta


@pytest.mark.parametrize("kw", [dict(bins=[3, 3]), dict(bins=2, density=True),
                                dict(bins=[2, 2], range=[0.0, 1.0, 0.0, 1.0]),
                                dict(bins=[3, 3], weight=True)])
def test_histogramdd_matches_torch(kw):
    pts = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.5, 0.25]], np.float32)
    w = np.array([1.0, 2.0, 4.0, 8.0, 3.0], np.float32)

    def run(L):
        k = dict(kw)
        if k.pop("weight", None):
            k["weight"] = L.tensor(w)
        return L.histogramdd(L.tensor(pts), **k)
    c, t = run(cadenza), run(torch)
    np.testing.assert_allclose(c.hist.numpy(), t.hist.numpy(), rtol=1e-6)
    assert len(c.bin_edges) == len(t.bin_edges)
    for a, b in zip(c.bin_edges, t.bin_edges):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
    edges = [torch.tensor([0.0, 1.0, 2.0]), torch.tensor([0.0, 0.5, 2.5])]
    t = torch.histogramdd(torch.tensor(pts), bins=edges)
    c = cadenza.histogramdd(cadenza.tensor(pts), bins=[cadenza.tensor(e.numpy()) for e in edges])
    np.testing.assert_allclose(c.hist.numpy(), t.hist.numpy())


@pytest.mark.parametrize("cell", ["lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell"])
def test_recurrent_cells_match_torch(cell):
    rng = np.random.default_rng(0)
    gates = {"lstm_cell": 4, "gru_cell": 3}.get(cell, 1)
    arrs = [rng.standard_normal(s) for s in ((3, 4), (3, 5), (5 * gates, 4), (5 * gates, 5),
                                             (5 * gates,), (5 * gates,), (3, 5))]

    def run(L):
        x, h, wi, wh, bi, bh, c = [L.tensor(a, requires_grad=True) for a in arrs]
        hx = (h, c) if cell == "lstm_cell" else h
        out = getattr(L, cell)(x, hx, wi, wh, bi, bh)
        outs = out if isinstance(out, tuple) else (out,)
        sum(o.sum() for o in outs).backward()
        return [o.detach().numpy() for o in outs] + [x.grad.numpy(), wh.grad.numpy()]
    for a, b in zip(run(cadenza), run(torch)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_to_dlpack_round_trip():
    x = cadenza.arange(6.0)
    y = torch.from_dlpack(cadenza.to_dlpack(x))
    assert y.tolist() == x.tolist()

"""Convolution's GEMMs in blocks over the thread pool (cadenza/backend/ckernels_conv.py): the
blocks depend on the shape only; the C path (single-threaded OpenBLAS per block) gives the same
bytes on 1, 2 and 4 threads, float32 and float64; the NumPy path (the same blocks through
np.matmul) gives the same float64 bits (float32: OpenBLAS's single-threaded sgemm takes another
path for small products than its threaded one, so within rounding), and both match a float64
product within rounding; conv2d steps large enough to split (W4's layers, odd sizes,
stride/padding/dilation, L = 1, kernels cropped to the offsets that read the input) do the same
and agree with torch."""
import numpy as np
import pytest
import torch

import cadenza
import cadenza.nn.functional as F
from cadenza.backend import cbuild, ckernels, ckernels_conv
from _cc import require_cc

COUNTS = (1, 2, 4)


def _lib():
    require_cc()
    if ckernels_conv.library() is None:
        pytest.skip("no OpenBLAS beside NumPy or the kernels did not build")


@pytest.fixture
def threads():
    _lib()
    prev = cbuild.set_kernel_threads()
    yield cbuild.set_kernel_threads
    cbuild.set_kernel_threads(prev)


def test_blocks_follow_the_shape():
    assert ckernels_conv.blocks(8, 8, 8) == (1, 1, 1)            # small: one task
    mb, nb, kc = ckernels_conv.blocks(64, 12544, 288)          # W4 layer 2 forward: columns
    assert nb > 1 and kc == 1
    mb, nb, kc = ckernels_conv.blocks(288, 64, 12544)          # its weight gradient: rows, K
    assert mb > 1 and kc > 1
    assert ckernels_conv.blocks(9, 32, 50176)[2] > 1           # layer 1: K chunks only
    for total, parts, align in ((100, 3, 8), (7, 4, 8), (12544, 24, 16)):
        c = ckernels_conv.cuts(total, parts, align)
        assert c[0] == 0 and c[-1] == total and c == sorted(c) and len(c) == parts + 1


# (m, k, n, a transposed, b transposed), the operand layouts of conv2d's three products:
# columns, rows, inner chunks, odd sizes, one task
PRODUCTS = [(64, 288, 12544, False, False), (288, 64, 12544, True, False),
            (288, 12544, 64, False, True), (9, 50176, 32, False, True),
            (37, 3001, 29, True, False), (130, 77, 1031, False, False), (5, 7, 3, False, False),
            (41, 2999, 23, True, True)]


def _operands(m, k, n, ta, tb, dt, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dt)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dt)
    return (a.T if ta else a), (b.T if tb else b)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(PRODUCTS)))
def test_product_same_bytes_on_every_path_and_thread_count(case, dt, threads, monkeypatch):
    m, k, n, ta, tb = PRODUCTS[case]
    a, b = _operands(m, k, n, ta, tb, dt, case)
    got = []
    for count in COUNTS:
        threads(count)
        got.append(ckernels_conv.product(a, b).tobytes())
    assert all(g == got[0] for g in got)
    monkeypatch.setattr(ckernels, "enabled", False)
    ref = ckernels_conv.product(a, b)
    out = np.frombuffer(got[0], dtype=dt).reshape(m, n)
    if dt == np.float64:
        assert ref.tobytes() == got[0]
    want = a.astype(np.float64) @ b.astype(np.float64)
    tol = 1e-3 if dt == np.float32 else 1e-10
    for v in (out, ref):
        np.testing.assert_allclose(v, want, rtol=tol, atol=tol * np.sqrt(k))


def test_product_of_other_dtypes_and_strides_runs_numpy():
    a = np.arange(12, dtype=np.int64).reshape(3, 4)
    np.testing.assert_array_equal(ckernels_conv.product(a, a.T), a @ a.T)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 300))[:, ::3]          # no unit stride: copied for BLAS
    np.testing.assert_allclose(ckernels_conv.product(x, x.T), x @ x.T, rtol=1e-12)


CONVS = [((64, 1, 28, 28), (32, 1, 3, 3), dict(padding=1)),          # W4's layers (the
         # second at batch 16: its three products still split by columns, rows and K chunks)
         ((16, 32, 14, 14), (64, 32, 3, 3), dict(padding=1)),
         ((9, 13, 17, 11), (21, 13, 3, 2), dict(stride=(2, 1), padding=(1, 2), dilation=(2, 1))),
         ((32, 64, 2, 2), (128, 64, 3, 3), dict(stride=2, padding=1)),    # L = 1: whole batch
         ((8, 6, 9, 7), (5, 6, 1, 1), {}),                 # 1x1: the image is its columns
         ((6, 4, 10, 9), (3, 4, 1, 3), dict(stride=(1, 2), padding=(0, 1))),   # kh = 1
         ((3, 5, 12, 12), (4, 5, 3, 3), dict(padding=1)),   # 3 images: whole batch
         # late ResNet layers on small images: a 1x1 map (only the kernel's centre reads the
         # input: the product drops the other offsets), a 2x3 map (small planes: the window
         # and fold tables), a 1x3 map with a 3x5 kernel (rows cropped, columns kept)
         ((6, 8, 1, 1), (7, 8, 3, 3), dict(padding=1)),
         ((5, 6, 2, 3), (4, 6, 3, 3), dict(padding=1)),
         ((4, 3, 1, 3), (5, 3, 3, 5), dict(padding=(1, 2))),
         # rows as long as the input's (col2im plane by plane): dilated rows with fewer output
         # rows than input rows, per image; a 3x5 window over 20x16 planes, whole batch
         ((4, 3, 9, 10), (5, 3, 3, 3), dict(padding=(1, 1), dilation=(2, 1))),
         ((2, 2, 20, 16), (4, 2, 3, 5), dict(padding=(1, 2)))]


def _conv_step(xs, ws, kw, dt, seed):
    rng = np.random.default_rng(seed)
    x, w, b = (rng.standard_normal(s).astype(dt) for s in (xs, ws, (ws[0],)))
    cx, cw, cb = (cadenza.tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.conv2d(cx, cw, cb, **kw)
    g = rng.standard_normal(tuple(out.shape)).astype(dt)
    out.backward(cadenza.tensor(g))
    return [out.detach().numpy(), cx.grad.numpy(), cw.grad.numpy(), cb.grad.numpy()], \
        (x, w, b, g)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(CONVS)))
def test_conv2d_same_bytes_on_every_path_and_matches_torch(case, dt, threads, monkeypatch):
    xs, ws, kw = CONVS[case]
    runs = []
    for count in COUNTS:
        threads(count)
        runs.append(_conv_step(xs, ws, kw, dt, case)[0])
    for r in runs[1:]:
        assert [a.tobytes() for a in r] == [a.tobytes() for a in runs[0]]
    monkeypatch.setattr(ckernels, "enabled", False)
    ref, (x, w, b, g) = _conv_step(xs, ws, kw, dt, case)
    if dt == np.float64:
        assert [a.tobytes() for a in ref] == [a.tobytes() for a in runs[0]]
    got = runs[0]
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out = torch.nn.functional.conv2d(tx, tw, tb, **kw)
    out.backward(torch.tensor(g))
    tol = 2e-3 if dt == np.float32 else 1e-9
    for a, r, t in zip(got, ref, (out, tx.grad, tw.grad, tb.grad)):
        t = t.detach().numpy()
        for v in (a, r):
            np.testing.assert_allclose(v, t, rtol=tol, atol=tol * max(1.0, np.abs(t).max()))


def test_without_openblas_conv_runs_numpy_with_the_same_bits(monkeypatch):
    _lib()
    want = _conv_step(*CONVS[1], np.float64, 0)[0]
    monkeypatch.setattr(ckernels_conv, "_state", {})
    monkeypatch.setattr(ckernels_conv, "_blas_pointers", lambda: None)
    assert not ckernels_conv.blas()
    got = _conv_step(*CONVS[1], np.float64, 0)[0]
    assert [a.tobytes() for a in got] == [a.tobytes() for a in want]


def _same_on_every_path(run, threads, monkeypatch):
    """run()'s results on every thread count and on the NumPy path (all equal)."""
    got = []
    for count in COUNTS:
        threads(count)
        got.append(run())
    monkeypatch.setattr(ckernels, "enabled", False)
    got.append(run())
    assert all(r == got[0] for r in got)
    return got


# odd sizes (a row and a column left over: window by window); windows tiling the planes
# (pairs along whole rows, then of rows), blocks of rows of 3 and of 9 windows
POOLS = [(16, 8, 29, 27), (4, 64, 40, 6), (2, 64, 66, 18)]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("shape", POOLS)
def test_max_pool_2x2_forward_same_bytes_on_every_path(shape, dt, threads, monkeypatch):
    """2x2 windows of stride 2 in one C pass: ties (signed zeros too) and NaNs as NumPy's
    four strided maximum passes give them, every thread count; values and gradient as
    torch's."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape).astype(dt)
    x.flat[::7], x.flat[::11], x.flat[5] = 0.0, -0.0, np.nan
    x.flat[::13] = x.flat[1]

    g = rng.standard_normal((shape[0], shape[1], shape[2] // 2, shape[3] // 2)).astype(dt)

    def run():
        cx = cadenza.tensor(x, requires_grad=True)
        out = F.max_pool2d(cx, 2)
        out.backward(cadenza.tensor(g))
        return [out.detach().numpy().tobytes(), cx.grad.numpy().tobytes()]
    got = _same_on_every_path(run, threads, monkeypatch)
    tx = torch.tensor(x, requires_grad=True)
    to = torch.nn.functional.max_pool2d(tx, 2)
    to.backward(torch.tensor(g))
    np.testing.assert_array_equal(np.frombuffer(got[0][0], dt).reshape(to.shape),
                                  to.detach().numpy())
    np.testing.assert_array_equal(np.frombuffer(got[0][1], dt).reshape(x.shape),
                                  tx.grad.numpy())


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_relu_and_its_gradient_same_bytes_on_every_path_and_match_torch(dt, threads,
                                                                       monkeypatch):
    """relu and relu_backward as C passes on the pool (large tensors): NaN, signed zeros and
    infinities as NumPy's maximum and torch's threshold_backward give them, every thread count
    and the NumPy form the same bytes; values and gradients as torch's."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 3, 31, 29)).astype(dt)
    g = rng.standard_normal(x.shape).astype(dt)
    x.flat[::7], x.flat[::11], x.flat[3::17], x.flat[5::19] = 0.0, -0.0, np.nan, -np.inf
    g.flat[1::13], g.flat[2::23], g.flat[::29] = np.nan, np.inf, -0.0

    def run():
        cx = cadenza.tensor(x, requires_grad=True)
        out = F.relu(cx)
        out.backward(cadenza.tensor(g))
        return [out.detach().numpy().tobytes(), cx.grad.numpy().tobytes()]
    got = _same_on_every_path(run, threads, monkeypatch)
    tx = torch.tensor(x, requires_grad=True)
    to = torch.relu(tx)
    to.backward(torch.tensor(g))
    np.testing.assert_array_equal(np.frombuffer(got[0][0], dt).reshape(x.shape),
                                  to.detach().numpy())
    np.testing.assert_array_equal(np.frombuffer(got[0][1], dt).reshape(x.shape),
                                  tx.grad.numpy())


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_conv2d_relu_same_bytes_as_relu_of_conv2d(dt, threads, monkeypatch):
    """ops/conv.py's Conv2dRelu (the node graph/passes/fuse_conv_relu.py makes): the per-image
    form (the C kernel's ReLU in its bias pass; with and without a bias) and the whole-batch
    form give relu(conv2d(...)) bit for bit, NaN outputs and zeros included, on every thread
    count and the NumPy path."""
    from cadenza.ops.conv import Conv2dRelu, _conv2d_fwd
    rng = np.random.default_rng(9)
    cases = []
    for xs, ws, kw in (CONVS[5], CONVS[6]):          # per image; whole batch
        x, w, b = (rng.standard_normal(s).astype(dt) for s in (xs, ws, (ws[0],)))
        x.flat[::41] = np.nan
        w[0] = 0.0                                  # channel 0: the bias alone
        b[0] = -0.0
        kw = {k: (v, v) if isinstance(v, int) else v for k, v in kw.items()}
        cases += [(x, w, b, kw), (x, w, None, kw)]

    def run():
        out = []
        for x, w, b, kw in cases:
            fused = Conv2dRelu.forward(np, x, w, b, **kw)
            plain = np.maximum(_conv2d_fwd(np, x, w, b, **kw), 0)
            assert fused.tobytes() == plain.tobytes()
            out.append(fused.tobytes())
        return out
    _same_on_every_path(run, threads, monkeypatch)


def test_relu_double_backward_matches_torch():
    x = torch.randn(4, 1100, dtype=torch.float64, requires_grad=True)
    g = torch.randn(4, 1100, dtype=torch.float64, requires_grad=True)
    gg = torch.randn(4, 1100, dtype=torch.float64)
    cx, cg = (cadenza.tensor(t.detach().numpy(), requires_grad=True) for t in (x, g))
    (tdx,) = torch.autograd.grad(torch.relu(x), x, g, create_graph=True)
    (cdx,) = cadenza.autograd.grad(F.relu(cx), cx, cg, create_graph=True)
    tgg, = torch.autograd.grad(tdx, g, gg)
    cgg, = cadenza.autograd.grad(cdx, cg, cadenza.tensor(gg.numpy()))
    np.testing.assert_array_equal(cgg.numpy(), tgg.numpy())


def test_compiled_cnn_step_float64_bitwise_equal_to_eager(monkeypatch):
    """A W4-shaped step (conv, relu, 2x2 pool twice; per-image convolutions and the pool's C
    forward), Adam, float64: compiled parameters and losses equal eager's bit for bit, with
    the C programs, without them (CADENZA_PROGRAMS=0) and on the NumPy interpreter."""
    rng = np.random.default_rng(7)
    x = cadenza.from_numpy(rng.standard_normal((6, 1, 12, 12)))
    y = cadenza.from_numpy(rng.integers(0, 10, 6))
    res = []
    for compiled in (False, "c", "no programs", "numpy"):
        monkeypatch.setenv("CADENZA_PROGRAMS", "0" if compiled == "no programs" else "1")
        cadenza.manual_seed(0)
        nn = cadenza.nn
        model = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(72, 10)).double()
        opt = cadenza.optim.Adam(model.parameters(), lr=1e-3)

        def step(a, b):
            loss = F.cross_entropy(model(a), b)
            loss.backward()
            opt.step()
            opt.zero_grad()
            return loss
        backend = "numpy" if compiled == "numpy" else "c"
        fn = cadenza.compile(step, backend=backend) if compiled else step
        losses = [float(fn(x, y)) for _ in range(3)]
        if compiled:      # both layers' ReLU in the convolution (graph/passes/fuse_conv_relu)
            assert [n.op_name for n in fn.graph.nodes].count("conv2d_relu") == 2
        res.append((losses, [p.detach().numpy().tobytes() for p in model.parameters()]))
    assert all(r == res[0] for r in res[1:])


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)])
def test_relu_gradient_before_the_pool_gradient_compiled_equals_eager(kw):
    """graph/passes/gate_before_pool_gradient.py: relu -> max_pool's backward applies relu's
    mask to the pooled gradient (tiled 2x2 windows and overlapping padded ones); float64 with
    ties, signed zeros and NaNs: compiled gradients equal eager's bit for bit."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 4, 10, 10))
    x.flat[::5], x.flat[1::7], x.flat[2::37] = 0.0, -0.0, np.nan
    g = rng.standard_normal(tuple(F.max_pool2d(cadenza.tensor(x), **kw).shape))

    def grad(a, b):
        return cadenza.autograd.grad(F.max_pool2d(F.relu(a), **kw), [a], b)[0]
    cx, cg = cadenza.tensor(x, requires_grad=True), cadenza.tensor(g)
    fn = cadenza.compile(grad)
    got = fn(cx, cg)
    ops = [(n.op_name, n.out.shape) for n in fn.graph.nodes
           for n in getattr(n.op, "members", [n])]
    assert ("relu_backward", g.shape) in ops and ("relu_backward", x.shape) not in ops
    assert got.numpy().tobytes() == grad(cx, cg).numpy().tobytes()


# one input channel (direct1_fwd / direct1_wgrad): 3x3 (W4's first layer, rows of 28 = three
# blocks of 8 and one overlapping), rows of exactly 8, a 5x3 window with row stride and
# dilation 2 (any rows; columns of stride 1), a 1x1 window, 9 columns (one overlap of 7)
DIRECT = [((5, 1, 28, 28), (7, 1, 3, 3), dict(padding=1)),
          ((3, 1, 6, 8), (4, 1, 3, 3), dict(padding=1)),
          ((2, 1, 17, 12), (3, 1, 5, 3), dict(stride=(2, 1), padding=(2, 0), dilation=(2, 1))),
          ((2, 1, 5, 9), (3, 1, 1, 1), {}),
          ((4, 1, 7, 11), (2, 1, 3, 3), dict(padding=(0, 0)))]


@pytest.mark.parametrize("case", range(len(DIRECT)))
def test_direct_one_channel_conv_matches_torch_on_every_thread_count(case, threads,
                                                                     monkeypatch):
    """float32 convolutions of one input channel run ckernels_conv's direct kernels (forward
    with bias and relu, weight gradient): the same bytes on every thread count, values and
    weight gradient as torch's; inf/NaN in the input reach exactly the outputs and taps that
    read them (the blocks' overlapping lanes add nothing twice, NaN or not); the NumPy path
    agrees within rounding."""
    from cadenza.ops.conv import Conv2dRelu, _conv2d_weight_grad
    xs, ws, kw = DIRECT[case]
    kw = {k: (v, v) if isinstance(v, int) else v for k, v in
          dict(dict(stride=1, padding=0, dilation=1), **kw).items()}
    rng = np.random.default_rng(case)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in (xs, ws, (ws[0],)))
    if case == 0:
        x[1, 0, 3, 27], x[2, 0, 0, 0], x[3, 0, 10, 5] = np.inf, -np.inf, np.nan
    calls = []
    real = ckernels_conv.kernel
    monkeypatch.setattr(ckernels_conv, "kernel",
                        lambda name, *a: calls.append(name) or real(name, *a))

    def run():
        out = Conv2dRelu.forward(np, x, w, b, **kw)
        g = np.random.default_rng(7).standard_normal(out.shape).astype(np.float32)
        return out, _conv2d_weight_grad(np, g, x, kernel=ws[2:], **kw), g
    got = []
    for count in COUNTS:
        threads(count)
        got.append(run())
    assert "direct1_fwd" in calls and "direct1_wgrad" in calls
    for r in got[1:]:
        assert [a.tobytes() for a in r] == [a.tobytes() for a in got[0]]
    out, gw, g = got[0]
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    to = torch.nn.functional.conv2d(tx, tw, tb, **kw)
    to.backward(torch.tensor(g))
    want = torch.relu(to).detach().numpy()
    np.testing.assert_array_equal(np.isnan(out), np.isnan(want))
    np.testing.assert_array_equal(np.isnan(gw), np.isnan(tw.grad.numpy()))
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gw, tw.grad.numpy(), rtol=1e-4, atol=1e-4 * np.sqrt(g.size))
    monkeypatch.setattr(ckernels, "enabled", False)
    with np.errstate(invalid="ignore"):
        ref = run()
    np.testing.assert_allclose(ref[0], out, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ref[1], gw, rtol=1e-4, atol=1e-4 * np.sqrt(g.size))


def test_pooled_weight_grad_compiled_float32_matches_eager_and_torch(threads, monkeypatch):
    """graph/passes/fuse_pool_weight_grad.py: a float32 CNN's first layer (one channel, 2x2
    pooling, W4's shape shrunk; odd pooled width 7) computes its weight gradient from the
    pooled gradient in one node and its bias gradient over the pooled one: the same bytes on
    every thread count, eager's and torch's gradients within rounding (ties and NaN-free
    inputs), and the NumPy interpreter agrees; float64 graphs keep the unfused nodes."""
    rng = np.random.default_rng(13)
    x = rng.standard_normal((6, 1, 14, 14)).astype(np.float32)
    x[0, 0, :4, :4] = 0.0                            # ties: relu zeros inside windows
    y = rng.integers(0, 10, 6)
    nn = cadenza.nn

    def grads(mode, dt=np.float32):
        cadenza.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(196, 10))
        if dt == np.float64:
            model = model.double()

        def step(a, b):
            F.cross_entropy(model(a), b).backward()
            return model[0].weight.grad.clone(), model[0].bias.grad.clone()
        fn = step if mode == "eager" else cadenza.compile(step, backend=mode)
        cx, cy = cadenza.from_numpy(x.astype(dt)), cadenza.from_numpy(y)
        out = [t.numpy() for t in fn(cx, cy)]
        ops = [n.op_name for n in fn.graph.nodes] if mode != "eager" else []
        return out, ops
    got = []
    for count in COUNTS:
        threads(count)
        out, ops = grads("c")
        got.append(out)
        assert "conv2d_pooled_weight_grad" in ops and "max_pool2d_backward" not in ops
    for r in got[1:]:
        assert [a.tobytes() for a in r] == [a.tobytes() for a in got[0]]
    eager, _ = grads("eager")
    interp, ops = grads("numpy")
    assert "conv2d_pooled_weight_grad" in ops
    tm = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),
                             torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(196, 10))
    cadenza.manual_seed(0)
    ref = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(196, 10))
    with torch.no_grad():
        for p, q in zip(tm.parameters(), ref.parameters()):
            p.copy_(torch.tensor(q.detach().numpy()))
    torch.nn.functional.cross_entropy(tm(torch.tensor(x)), torch.tensor(y)).backward()
    want = [tm[0].weight.grad.numpy(), tm[0].bias.grad.numpy()]
    for res in (got[0], eager, interp):
        for a, t in zip(res, want):
            np.testing.assert_allclose(a, t, rtol=1e-4, atol=1e-5)
    _, ops64 = grads("c", np.float64)
    assert "conv2d_pooled_weight_grad" not in ops64 and "max_pool2d_backward" in ops64

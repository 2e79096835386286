"""Cadenza's kernel thread pool (cadenza/backend/cpool.py): generated kernels (fused elementwise,
reductions, row kernels), the eager C kernels (im2col, col2im, layouts, max pooling's gradient)
and a compiled training step give the same bytes on 1, 2 and 4 threads, float32 and float64;
the environment settings; concurrent callers and a kernel whose call raises do not deadlock."""
import ctypes
import json
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import cadenza
import cadenza.nn.functional as F
from cadenza.backend import cbuild, ckernels
from cadenza.codegen import make_runner
from cadenza.codegen.executor import KernelRunner
from cadenza.graph.pipeline import optimize
from cadenza.graph.trace import trace

from _cc import require_cc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COUNTS = (1, 2, 4)


@pytest.fixture
def threads():
    """set(n): the pool's thread count; restored after the test."""
    require_cc()
    if cbuild.runtime() is None:
        pytest.skip("the pool's runtime did not build")
    prev = cbuild.set_kernel_threads()
    yield cbuild.set_kernel_threads
    cbuild.set_kernel_threads(prev)


def _per_count(threads, fn):
    """fn() -> list of arrays, run at every thread count: the results as bytes."""
    out = []
    for n in COUNTS:
        threads(n)
        out.append([np.ascontiguousarray(a).tobytes() for a in fn()])
    return out


def _source(runner) -> str:
    """The C source of a runner's library (kept beside it), checked to have parallel tasks."""
    with open(runner.lib._name[:-3] + ".c") as f:
        src = f.read()
    assert "_task(void *cz_ctx" in src
    return src


def _runner(fn, *arrays):
    g = optimize(trace(fn, *[cadenza.from_numpy(a) for a in arrays]))
    r = make_runner(g, "c")
    assert isinstance(r, KernelRunner)
    assert ctypes.c_void_p.in_dll(r.lib, "cz_pool").value, "no kernel with tasks"
    return r


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_elementwise_and_reductions_same_bytes(threads, dt):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((512, 640)).astype(dt)
    b = rng.standard_normal(640).astype(dt)
    big = rng.standard_normal(1 << 18).astype(dt)
    col = rng.standard_normal((300, 1)).astype(dt)       # few rows: pieces of rows
    wide = rng.standard_normal((3, 70000)).astype(dt)

    def f(x, b, big, col, wide):
        h = (x * 2 + b).relu()
        return (h, (h * x).sum(-1), (h - x).sum(0), (x * b).amax(-1), (x - b).amin(0),
                (big * 0.5).tanh() + big, (wide + 1) * wide, (wide * 3).sum(-1),
                (x.T * col[:1]).exp())
    r = _runner(f, x, b, big, col, wide)
    assert _source(r).count("_task(void *cz_ctx") >= 8
    got = _per_count(threads, lambda: r([x, b, big, col, wide]))
    assert got[0] == got[1] == got[2]


def test_row_kernels_same_bytes(threads):
    rng = np.random.default_rng(1)
    x = cadenza.from_numpy(rng.standard_normal((256, 512), dtype=np.float32))
    s = cadenza.from_numpy(rng.standard_normal((8, 4, 64, 64), dtype=np.float32))
    w = cadenza.from_numpy(rng.standard_normal(512, dtype=np.float32))
    t = cadenza.from_numpy(rng.integers(0, 512, 256))

    def run(x, s, w, t):
        x, s, w = (v.clone().requires_grad_() for v in (x, s, w))
        a = F.layer_norm(x, (512,), w) * 1.5
        att = F.softmax(s, -1) * s.log_softmax(-1)
        loss = F.cross_entropy(a, t) + att.sum() + F.rms_norm(x, (512,)).pow(2).mean()
        loss.backward()
        return loss.detach(), x.grad, s.grad, w.grad
    f = cadenza.compile(run)
    f(x, s, w, t)
    src = _source(f.cache[-1].run_graph)
    # row kernels with tasks: softmax's visible length, weight gradient partials per task,
    # cross-entropy's shared count of bad targets
    for text in ("const int64_t nv = 64;", "float *restrict acc = part + t * 512;", "cz_bad"):
        assert text in src
    got = _per_count(threads, lambda: [v.numpy() for v in f(x, s, w, t)])
    assert got[0] == got[1] == got[2]
    want = [v.numpy() for v in run(x, s, w, t)]
    for g, e in zip(f(x, s, w, t), want):
        np.testing.assert_allclose(g.numpy(), e, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_eager_c_kernels_same_bytes(threads, dt):
    if ckernels.lib() is None:
        pytest.skip("the eager C kernels did not build")
    rng = np.random.default_rng(2)
    x = cadenza.tensor(rng.standard_normal((8, 16, 28, 28)).astype(dt), requires_grad=True)
    w = cadenza.tensor(rng.standard_normal((32, 16, 3, 3)).astype(dt), requires_grad=True)
    b = cadenza.tensor(rng.standard_normal(32).astype(dt), requires_grad=True)
    g = rng.standard_normal((8, 32, 13, 13)).astype(dt)

    def run():
        for v in (x, w, b):
            v.grad = None
        out = F.max_pool2d(F.conv2d(x, w, b, padding=1), 3, stride=2)   # overlapping windows
        out.backward(cadenza.tensor(g))
        return [out.detach().numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()]
    got = _per_count(threads, run)
    assert got[0] == got[1] == got[2]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_pool_bn_and_attention_kernels_same_bytes(threads, dt):
    """2x2 max-pool backward, batch norm (stats, apply, input and parameter gradients) and the
    fused attention kernels (float32) give the same bytes on every thread count."""
    if ckernels.lib() is None:
        pytest.skip("the eager C kernels did not build")
    rng = np.random.default_rng(4)
    x = cadenza.tensor(rng.standard_normal((8, 16, 12, 12)).astype(dt), requires_grad=True)
    bw = cadenza.tensor(rng.standard_normal(16).astype(dt), requires_grad=True)
    q = cadenza.tensor(rng.standard_normal((4, 4, 40, 16)).astype(dt), requires_grad=True)
    gp = cadenza.tensor(rng.standard_normal((8, 16, 6, 6)).astype(dt))

    def run():
        for v in (x, bw, q):
            v.grad = None
        y = F.max_pool2d(F.batch_norm(x, None, None, bw, None, training=True), 2)
        a = F.scaled_dot_product_attention(q, q, q, is_causal=True)
        (y * gp).sum().backward()
        (a * a).sum().backward()
        return [y.detach().numpy(), x.grad.numpy(), bw.grad.numpy(), a.detach().numpy(),
                q.grad.numpy()]
    got = _per_count(threads, run)
    assert got[0] == got[1] == got[2]


@pytest.mark.parametrize("dt", [cadenza.float32, cadenza.float64])
def test_compiled_training_step_same_bytes(threads, dt):
    """A W3-like step (MLP, cross-entropy, SGD momentum), compiled, from the same start on
    each thread count: parameters after three steps are equal byte for byte."""
    rng = np.random.default_rng(3)
    xs = cadenza.from_numpy(rng.standard_normal((128, 784))).to(dt)
    ys = cadenza.from_numpy(rng.integers(0, 10, 128))

    def train():
        cadenza.manual_seed(0)
        nn = cadenza.nn
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                              nn.Linear(512, 10)).to(dt)
        opt = cadenza.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss
        f = cadenza.compile(step)
        losses = [f(xs, ys).item() for _ in range(4)]
        return [np.array(losses)] + [p.detach().numpy() for p in model.parameters()]
    got = _per_count(threads, train)
    assert got[0] == got[1] == got[2]


def test_kernel_threads_from_the_environment(monkeypatch):
    monkeypatch.delenv("CADENZA_KERNEL_THREADS", raising=False)
    monkeypatch.setenv("CADENZA_PARALLEL_KERNELS", "0")
    assert cbuild.kernel_threads() == 1
    monkeypatch.setenv("CADENZA_KERNEL_THREADS", "3")
    assert cbuild.kernel_threads() == 3
    monkeypatch.delenv("CADENZA_KERNEL_THREADS")
    monkeypatch.delenv("CADENZA_PARALLEL_KERNELS")
    assert cbuild.kernel_threads() == len(os.sched_getaffinity(0))


def test_environment_sets_the_pool_in_a_fresh_process(tmp_path):
    require_cc()
    script = textwrap.dedent("""
        import ctypes, json
        from cadenza.backend import cbuild
        lib = cbuild.runtime()
        print(json.dumps([ctypes.c_int.in_dll(lib, "cz_threads").value,
                          ctypes.c_int64.in_dll(lib, "cz_spin_ns").value]))
    """)
    for env, want in ((dict(CADENZA_KERNEL_THREADS="3", CADENZA_POOL_SPIN_US="0"), [3, 0]),
                      (dict(CADENZA_PARALLEL_KERNELS="0"), [1, 50000])):
        full = {k: v for k, v in os.environ.items()
                if k not in ("CADENZA_KERNEL_THREADS", "CADENZA_PARALLEL_KERNELS",
                             "CADENZA_POOL_SPIN_US")}
        full.update(env, PYTHONPATH=ROOT)
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              env=full, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout.strip().splitlines()[-1]) == want


def test_two_python_threads_and_a_raising_kernel(threads):
    """Concurrent callers (ctypes releases the GIL) share the pool or run their tasks
    themselves; a cross-entropy call that raises (target out of range) leaves the pool
    usable; nothing hangs."""
    threads(2)
    rng = np.random.default_rng(4)
    x = cadenza.from_numpy(rng.standard_normal((512, 256), dtype=np.float32))
    good = cadenza.from_numpy(rng.integers(0, 256, 512))
    bad = cadenza.from_numpy(np.full(512, 999, dtype=np.int64))

    def step(x, t):
        return F.cross_entropy(x, t), (x * 2).exp().sum(-1)
    # one compiled function per thread (a compiled function's arena serves one call at a
    # time), warmed up first (tracing is not shared between threads)
    fs = [cadenza.compile(step) for _ in range(2)]
    for f in fs:
        for _ in range(3):
            f(x, good)
    want = [v.numpy().tobytes() for v in fs[0](x, good)]
    assert want == [v.numpy().tobytes() for v in fs[1](x, good)]
    errors, wrong = [], []

    def work(k):
        f = fs[k]
        for i in range(15):
            try:
                got = f(x, bad if (i + k) % 5 == 0 else good)
                if [v.numpy().tobytes() for v in got] != want:
                    wrong.append(i)
            except (RuntimeError, IndexError) as e:
                errors.append(type(e).__name__)
    ts = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in ts), "a thread hangs"
    assert not wrong and len(errors) == 6
    assert [v.numpy().tobytes() for v in fs[0](x, good)] == want

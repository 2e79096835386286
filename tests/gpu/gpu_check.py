"""GPU check (run on a machine with CUDA and CuPy, not in CI): the CuPy backend runs the same
ops as the CPU backend. Prints one line per check and a final 'N passed, M failed' line."""
import sys
import traceback

import numpy as np

import cadenza
import cadenza.nn as nn
import cadenza.nn.functional as F

results = []


def check(name):
    def deco(fn):
        try:
            fn()
            results.append((name, True, ""))
            print(f"ok   {name}", flush=True)
        except Exception as e:  # report and go on: one run should show every gap
            results.append((name, False, repr(e)))
            print(f"FAIL {name}: {e!r}", flush=True)
            traceback.print_exc(limit=4)
        return fn
    return deco


@check("cuda is available")
def _():
    assert cadenza.cuda.is_available(), "cadenza.cuda.is_available() is False"
    print("   device:", cadenza.cuda.get_device_name(0), cadenza.cuda.device_count())


def close(a, b, tol=1e-5):
    a = a.detach().cpu().numpy() if hasattr(a, "cpu") else a
    b = b.detach().cpu().numpy() if hasattr(b, "cpu") else b
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@check("tensor to cuda and back")
def _():
    x = cadenza.randn(4, 5)
    y = x.to("cuda")
    assert y.device.type == "cuda", y.device
    close(y, x)
    assert y.cuda().is_cuda


@check("elementwise, reductions, matmul forward and backward")
def _():
    xc = cadenza.randn(8, 16, requires_grad=True)
    wc = cadenza.randn(16, 4, requires_grad=True)
    xg = xc.detach().cuda().requires_grad_()
    wg = wc.detach().cuda().requires_grad_()
    for x, w in ((xc, wc), (xg, wg)):
        out = ((x @ w).tanh() * 2 + x.sum(1, keepdim=True).exp() * 0.01).softmax(-1)
        out.log().mean().backward()
    close(xg.grad, xc.grad, 1e-4)
    close(wg.grad, wc.grad, 1e-4)


@check("indexing, gather, cat, where on cuda")
def _():
    x = cadenza.randn(6, 5, requires_grad=True)
    xg = x.detach().cuda().requires_grad_()
    idx = cadenza.tensor([0, 2, 2, 5])
    for t, i in ((x, idx), (xg, idx.cuda())):
        y = cadenza.cat([t[i], t[1:3]], 0)
        y = cadenza.where(y > 0, y, y * 0.1).gather(1, cadenza.zeros(6, 1, dtype=cadenza.long,
                                                                     device=t.device))
        y.sum().backward()
    close(xg.grad, x.grad)


@check("MLP training step on cuda matches cpu")
def _():
    losses = {}
    for dev in ("cpu", "cuda"):
        cadenza.manual_seed(0)
        model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 3)).to(dev)
        opt = cadenza.optim.AdamW(model.parameters(), lr=1e-2)
        rng = np.random.default_rng(0)
        x = cadenza.tensor(rng.standard_normal((64, 20)), dtype=cadenza.float32, device=dev)
        y = cadenza.tensor(rng.integers(0, 3, 64), device=dev)
        ls = []
        for _ in range(5):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            ls.append(loss.item())
        losses[dev] = ls
    np.testing.assert_allclose(losses["cuda"], losses["cpu"], rtol=1e-4)


@check("conv2d + maxpool forward/backward on cuda matches cpu")
def _():
    cadenza.manual_seed(0)
    conv = nn.Conv2d(1, 4, 3, padding=1)
    x = cadenza.randn(2, 1, 8, 8)
    out_c = F.max_pool2d(conv(x).relu(), 2).sum()
    out_c.backward()
    gc = conv.weight.grad.clone()
    conv.zero_grad()
    conv.to("cuda")
    out_g = F.max_pool2d(conv(x.cuda()).relu(), 2).sum()
    out_g.backward()
    close(out_g, out_c, 1e-4)
    close(conv.weight.grad, gc, 1e-4)


@check("save and load a cuda state dict")
def _():
    import os
    import tempfile
    m = nn.Linear(3, 2).cuda()
    p = os.path.join(tempfile.mkdtemp(), "m.safetensors")
    cadenza.save(m.state_dict(), p)
    sd = cadenza.load(p)
    close(sd["weight"], m.weight)


def _mlp_step(device, dtype, act=nn.GELU):
    cadenza.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), act(), nn.LayerNorm(32), nn.Linear(32, 5))
    model = model.to(device=device, dtype=dtype)
    opt = cadenza.optim.AdamW(model.parameters(), lr=1e-2)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return model, step


@check("compiled training step on cuda equals eager on cuda")
def _():
    rng = np.random.default_rng(0)
    x = cadenza.from_numpy(rng.standard_normal((64, 16), dtype=np.float32)).cuda()
    y = cadenza.from_numpy(rng.integers(0, 5, 64)).cuda()
    m1, eager = _mlp_step("cuda", cadenza.float32)
    m2, step = _mlp_step("cuda", cadenza.float32)
    compiled = cadenza.compile(step)
    for _ in range(5):
        close(compiled(x, y), eager(x, y), 1e-5)
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        close(p2, p1, 1e-5)
    # call 2 recompiles (the optimizer state appeared), calls 3-5 hit the cache
    assert cadenza.compiler.stats()["cache_hits"] >= 3


@check("compiled SGD step with an LR scheduler on cuda equals eager")
def _():
    rng = np.random.default_rng(1)
    x = cadenza.from_numpy(rng.standard_normal((32, 8), dtype=np.float32)).cuda()
    losses = []
    for compiled in (False, True):
        cadenza.manual_seed(0)
        m = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1)).cuda()
        opt = cadenza.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        sched = cadenza.optim.lr_scheduler.StepLR(opt, 2, 0.5)

        def step(x):
            opt.zero_grad()
            loss = m(x).pow(2).mean()
            loss.backward()
            opt.step()
            return loss
        f = cadenza.compile(step) if compiled else step
        out = []
        for _ in range(6):
            out.append(float(f(x)))
            sched.step()
        losses.append(out)
    close(np.array(losses[1]), np.array(losses[0]), 1e-5)


@check("compiled forward with backward outside on cuda")
def _():
    cadenza.manual_seed(0)
    m = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1)).cuda()
    x = cadenza.randn(4, 8).cuda()
    m(x).sum().backward()
    ref = [p.grad.clone() for p in m.parameters()]
    m.zero_grad()
    cadenza.compile(m)(x).sum().backward()
    for p, r in zip(m.parameters(), ref):
        close(p.grad, r, 1e-6)


@check("C kernels on this machine's cores (OpenMP) equal the NumPy interpreter")
def _():
    import os
    print("   cores:", os.cpu_count())
    rng = np.random.default_rng(1)
    x = cadenza.from_numpy(rng.standard_normal((512, 1024), dtype=np.float32))
    b = cadenza.from_numpy(rng.standard_normal(1024, dtype=np.float32))
    w = cadenza.from_numpy(rng.standard_normal(1024, dtype=np.float32))

    def f(x, b, w):
        h = (x * 2 + b).relu()
        return (h.sum(-1), (h * x).sum(0), F.layer_norm(h, (1024,), w, b), h.softmax(-1))
    outs_c = cadenza.compile(f, backend="c")(x, b, w)
    outs_n = cadenza.compile(f, backend="numpy")(x, b, w)
    for a, r in zip(outs_c, outs_n):
        close(a, r, 1e-5)
    assert cadenza.compiler.stats()["kernels"] > 0
    # float64 training step without transcendental functions: bit-identical to the
    # interpreter, however many threads the kernels use
    x64 = x.double()
    y = cadenza.from_numpy(rng.integers(0, 5, 512))
    m1, s1 = _mlp_step("cpu", cadenza.float64, nn.ReLU)
    m2, s2 = _mlp_step("cpu", cadenza.float64, nn.ReLU)
    c1, c2 = cadenza.compile(s1, backend="c"), cadenza.compile(s2, backend="numpy")
    for _ in range(3):
        c1(x64[:, :16], y), c2(x64[:, :16], y)
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert np.array_equal(p1.detach().numpy(), p2.detach().numpy())


passed = sum(ok for _, ok, _ in results)
print(f"{passed} passed, {len(results) - passed} failed")
sys.exit(0 if passed == len(results) else 1)

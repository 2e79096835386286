"""Autograd through a compiled forward (``loss(compiled(x)).backward()`` outside the compiled
function): gradients, optimizer loops, hooks, retain_graph, version checks and the cases that
fall back or raise, against the same model run eagerly."""
import math

import numpy as np
import pytest

import cadenza
import cadenza.nn as nn
import cadenza.nn.functional as F
import cadenza.optim as optim
from cadenza.graph.verify import verify


@pytest.fixture(autouse=True)
def float64():
    old = cadenza.get_default_dtype()
    cadenza.set_default_dtype(cadenza.float64)
    cadenza.compiler.reset_stats()
    yield
    cadenza.set_default_dtype(old)


def _mlp(dtype=None):
    cadenza.manual_seed(0)
    m = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Dropout(0.2), nn.Linear(16, 4))
    return m if dtype is None else m.to(dtype)


class Block(nn.Module):
    """Pre-norm transformer block: causal softmax attention and a GELU MLP, with dropout."""

    def __init__(self, d=16, n_head=2, p=0.1, T=6):
        super().__init__()
        self.n_head = n_head
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.drop = nn.Dropout(p)
        self.register_buffer("causal", cadenza.ones(T, T).tril() == 0)

    def forward(self, x):
        B, T, C = x.shape
        hd = C // self.n_head
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=-1)
        q = q.view(B, T, self.n_head, hd).transpose(1, 2)   # (B, n_head, T, hd)
        k = k.view(B, T, self.n_head, hd).transpose(1, 2)
        v = v.view(B, T, self.n_head, hd).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))   # (B, n_head, T, T)
        att = att.masked_fill(self.causal[:T, :T], float("-inf"))
        att = self.drop(F.softmax(att, dim=-1))
        y = (att @ v).transpose(1, 2).reshape(B, T, C)            # (B, T, C)
        x = x + self.drop(self.proj(y))
        return x + self.drop(self.fc2(F.gelu(self.fc1(self.ln2(x)))))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        cadenza.manual_seed(0)
        self.block = Block()
        self.head = nn.Linear(16, 5)

    def forward(self, x):
        return self.head(self.block(x))


def _assert_grads(m1, m2, tol):
    for (name, p), q in zip(m1.named_parameters(), m2.parameters()):
        if p.grad is None:
            assert q.grad is None, name
            continue
        a, b = p.grad.numpy(), q.grad.numpy()
        if tol == 0:
            assert np.array_equal(a, b), name
        else:
            np.testing.assert_allclose(b, a, rtol=tol, atol=tol, err_msg=name)


def _run_both(m1, m2, make_batch, loss_fn, steps, tol, backend="c"):
    """Forward + backward ``steps`` times with the same dropout draws, eager vs compiled."""
    cm = cadenza.compile(m2, backend=backend)
    for i in range(steps):
        x, y = make_batch(i)
        m1.zero_grad()
        m2.zero_grad()
        cadenza.manual_seed(10 + i)
        l1 = loss_fn(m1(x), y)
        l1.backward()
        cadenza.manual_seed(10 + i)
        l2 = loss_fn(cm(x), y)
        l2.backward()
        np.testing.assert_allclose(l2.detach().numpy(), l1.detach().numpy(), rtol=tol, atol=0)
        _assert_grads(m1, m2, tol)
    return cm


def _batches(shape, classes, dtype=np.float64):
    rng = np.random.default_rng(0)

    def make(i):
        x = cadenza.tensor(rng.standard_normal(shape).astype(dtype))
        return x, cadenza.tensor(rng.integers(0, classes, shape[0]))
    return make


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_mlp_grads_equal_eager_float64(backend):
    m1, m2 = _mlp(), _mlp()
    m1.train()
    m2.train()
    # the NumPy interpreter calls the same kernels as eager: bitwise; C kernels may round
    # transcendental functions differently in the last bit
    _run_both(m1, m2, _batches((5, 8), 4), F.cross_entropy, 4, 0 if backend == "numpy" else 1e-12,
              backend)
    st = cadenza.compiler.stats()
    # traces: .grad None (first call); later calls hit the compiled forward/backward
    assert st["compiles"] == 1 and st["cache_hits"] == 3 and st["eager_fallbacks"] == 0


def test_mlp_grads_close_float32():
    cadenza.set_default_dtype(cadenza.float32)
    m1, m2 = _mlp(), _mlp()
    _run_both(m1, m2, _batches((5, 8), 4, np.float32), F.cross_entropy, 3, 1e-5)
    assert cadenza.compiler.stats()["cache_hits"] == 2


def test_transformer_block_grads_equal_eager():
    m1, m2 = Net(), Net()

    def loss_fn(out, y):   # (B, T, 5) logits, (B,) targets: last position's class
        return F.cross_entropy(out[:, -1], y)
    cm = _run_both(m1, m2, _batches((3, 6, 16), 5), loss_fn, 3, 1e-12)
    assert cadenza.compiler.stats()["cache_hits"] == 2
    verify(cm.graph)
    verify(cm.backward_graph)
    fwd, bwd = str(cm.graph), str(cm.backward_graph)
    assert "random." in fwd and "random." not in bwd   # dropout masks are drawn in forward
    assert "softmax" in fwd and "layer_norm" in fwd


def test_training_loop_with_optimizer_outside_equals_eager():
    m1, m2 = Net(), Net()
    o1 = optim.AdamW(m1.parameters(), lr=1e-2, weight_decay=0.1)
    o2 = optim.AdamW(m2.parameters(), lr=1e-2, weight_decay=0.1)
    cm = cadenza.compile(m2, backend="numpy")
    make = _batches((3, 6, 16), 5)
    for i in range(20):
        x, y = make(i)
        for model, opt in ((m1, o1), (cm, o2)):
            opt.zero_grad()
            cadenza.manual_seed(100 + i)
            loss = F.cross_entropy(model(x)[:, -1], y)
            loss.backward()
            opt.step()
    for (name, p), q in zip(m1.named_parameters(), m2.parameters()):
        assert np.array_equal(p.detach().numpy(), q.detach().numpy()), name
    st = cadenza.compiler.stats()
    assert st["compiles"] == 1 and st["cache_hits"] == 19 and st["eager_fallbacks"] == 0


# --------------------------------------------------------------------------- inputs/outputs
def test_inputs_requiring_grad_leaf_and_non_leaf():
    cadenza.manual_seed(0)
    w = cadenza.randn(4, 3, requires_grad=True)

    def f(x):
        return (x @ w).tanh() * x.sum(-1, keepdim=True)

    cf = cadenza.compile(f)
    for i in range(3):
        a1 = cadenza.randn(2, 4, requires_grad=True)
        a2 = a1.detach().clone().requires_grad_()
        x1 = cadenza.randn(2, 4, requires_grad=True)
        x2 = x1.detach().clone().requires_grad_()
        w.grad = None
        (f(x1).sum() + f(a1 * 2).pow(2).sum()).backward()
        want = w.grad.numpy().copy()
        w.grad = None
        (cf(x2).sum() + cf(a2 * 2).pow(2).sum()).backward()
        np.testing.assert_allclose(w.grad.numpy(), want, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(x2.grad.numpy(), x1.grad.numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(a2.grad.numpy(), a1.grad.numpy(), rtol=1e-12, atol=1e-14)
    assert cadenza.compiler.stats()["cache_hits"] >= 4


def test_multiple_outputs_partial_use_and_non_differentiable():
    lin1, lin2 = _mlp()[0], _mlp()[0]

    def make(lin):
        def f(x):
            h = lin(x)
            return {"h": h, "act": h.relu(), "idx": h.argmax(-1)}
        return f
    f, cf = make(lin1), cadenza.compile(make(lin2))
    x = cadenza.randn(3, 8)
    for use in ("act", "h", "both", "act", "h", "both"):
        lin1.zero_grad()
        lin2.zero_grad()
        for fn in (f, cf):
            out = fn(x)
            assert not out["idx"].requires_grad and out["h"].requires_grad
            loss = out["act"].sum() if use == "act" else (out["h"] ** 2).sum() if use == "h" \
                else (out["act"] * out["h"]).sum()
            loss.backward()
        _assert_grads(lin1, lin2, 1e-12)
    assert cadenza.compiler.stats()["cache_hits"] >= 4


# --------------------------------------------------------------------------- modes, guards
def test_no_grad_call_uses_inference_specialisation():
    m = _mlp()
    m.eval()
    cm = cadenza.compile(m)
    x = cadenza.randn(2, 8)
    for _ in range(2):
        cm(x).sum().backward()
    with cadenza.no_grad():
        y = cm(x)
        y2 = cm(x)
    assert not y.requires_grad and y.grad_fn is None
    assert np.array_equal(y2.numpy(), m(x).detach().numpy())
    out = cm(x)                          # grad mode again: the autograd specialisation
    assert out.grad_fn is not None and out.grad_fn.name() == "CompiledFunctionBackward"
    st = cadenza.compiler.stats()
    # traces: .grad None, .grad set, no_grad; hits: the second no_grad call, the last call
    assert st["compiles"] == 3 and st["cache_hits"] == 2 and st["eager_fallbacks"] == 0


def test_train_eval_switch():
    m1, m2 = _mlp(), _mlp()
    make = _batches((4, 8), 4)
    cm = _run_both(m1, m2, make, F.cross_entropy, 2, 1e-12)
    m1.eval()
    m2.eval()
    for i in range(2):
        x, y = make(i)
        m1.zero_grad()
        m2.zero_grad()
        F.cross_entropy(m1(x), y).backward()
        F.cross_entropy(cm(x), y).backward()
        _assert_grads(m1, m2, 1e-12)
    assert "random." not in str(cm.graph)       # the eval graph has no dropout
    st = cadenza.compiler.stats()
    assert st["compiles"] == 2 and st["cache_hits"] == 2


def test_freezing_a_parameter_recompiles():
    m1, m2 = _mlp(), _mlp()
    m1.eval()
    m2.eval()
    make = _batches((4, 8), 4)
    cm = _run_both(m1, m2, make, F.cross_entropy, 2, 1e-12)
    for m in (m1, m2):
        m[0].weight.requires_grad_(False)
        m.zero_grad()
    x, y = make(5)
    F.cross_entropy(m1(x), y).backward()
    F.cross_entropy(cm(x), y).backward()
    assert m2[0].weight.grad is None
    _assert_grads(m1, m2, 1e-12)
    assert cadenza.compiler.stats()["compiles"] == 2


# --------------------------------------------------------------------------- autograd semantics
def test_hooks_accumulation_and_retain_graph():
    m1, m2 = _mlp(), _mlp()
    m1.eval()
    m2.eval()
    calls = []
    for m in (m1, m2):
        m[0].weight.register_hook(lambda g, m=m: calls.append(m) or g * 3)
    cm = cadenza.compile(m2)
    x = cadenza.randn(3, 8)
    for _ in range(3):        # no zero_grad: gradients accumulate into .grad
        for model in (m1, cm):
            loss = model(x).pow(2).sum()
            loss.backward(retain_graph=True)
            loss.backward()                  # the second backward frees the graph
            with pytest.raises(RuntimeError, match="second time"):
                loss.backward()
    _assert_grads(m1, m2, 1e-12)
    assert sum(c is m1 for c in calls) == sum(c is m2 for c in calls) == 6
    assert cadenza.compiler.stats()["cache_hits"] >= 1


def test_inplace_change_before_backward_raises_like_eager():
    m = _mlp()
    m.eval()
    cm = cadenza.compile(m)
    x = cadenza.randn(3, 8)
    for _ in range(2):
        cm(x).sum().backward()
    for model in (m, cm):
        loss = model(x).sum()
        with cadenza.no_grad():
            m[3].weight.add_(1.0)            # optimizer.step() before backward
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            loss.backward()
    assert cadenza.compiler.stats()["cache_hits"] == 1


def test_double_backward_raises_naming_the_function():
    m = _mlp()
    m.eval()
    cm = cadenza.compile(m)
    x = cadenza.randn(3, 8)
    for _ in range(2):
        cm(x).sum().backward()
    out = cm(x).pow(2).sum()
    with pytest.raises(RuntimeError, match="double backward.*Sequential"):
        cadenza.autograd.grad(out, [m[0].weight], create_graph=True)


def test_hook_inside_the_function_runs_eagerly():
    lin = _mlp()[0]
    seen = []

    @cadenza.compile
    def f(x):
        h = lin(x)
        h.register_hook(lambda g: seen.append(g.shape))
        return h.tanh()

    for _ in range(3):
        f(cadenza.randn(2, 8)).sum().backward()
    assert len(seen) == 3
    assert cadenza.compiler.stats()["eager_fallbacks"] >= 1


def test_graphs_are_readable():
    m = _mlp()
    m.train()
    cm = cadenza.compile(m)
    x = cadenza.randn(2, 8)
    for _ in range(2):
        cm(x).sum().backward()
    fwd, bwd = str(verify(cm.graph)), str(verify(cm.backward_graph))
    print("forward:", fwd, "backward:", bwd, sep="\n")
    assert "input(self.0.weight)" in fwd and "random.rand" in fwd and "saved=" in fwd
    assert "input(grad_out0)" in bwd and "input(saved " in bwd
    assert "self.0.weight.grad=" in bwd and "self.3.bias.grad=" in bwd
    assert "grad_out" not in fwd


def test_gpt_returning_logits_and_loss():
    from cadenza.models.gpt import GPT, GPTConfig

    def make():
        cadenza.manual_seed(0)
        return GPT(GPTConfig(vocab_size=32, block_size=8, n_layer=1, n_head=2, n_embd=16,
                             dropout=0.1, mlp="swiglu", norm="rmsnorm", pos="rope"))
    m1, m2 = make(), make()
    cm = cadenza.compile(m2)
    rng = np.random.default_rng(0)
    for i in range(3):
        idx = cadenza.tensor(rng.integers(0, 32, (2, 8)))
        m1.zero_grad()
        m2.zero_grad()
        for model in (m1, cm):       # logits are returned too, and get a zero gradient
            cadenza.manual_seed(i)
            model(idx, idx)[1].backward()
        _assert_grads(m1, m2, 1e-12)
    assert cadenza.compiler.stats()["cache_hits"] == 2

"""cadenza.compile: whole training steps bit-identical to eager, inference functions and
Modules, guards and recompiles (with the explain line), TraceError and the fullgraph=False
fallback, stats."""
import warnings

import numpy as np
import pytest

import cadenza
import cadenza.nn as nn
import cadenza.nn.functional as F
import cadenza.optim as optim
from cadenza.errors import TraceError


@pytest.fixture(autouse=True)
def float64():
    old = cadenza.get_default_dtype()
    cadenza.set_default_dtype(cadenza.float64)
    yield
    cadenza.set_default_dtype(old)


def _line_of(marker):
    with open(__file__) as f:
        for i, line in enumerate(f, 1):
            if marker in line and "_line_of" not in line:
                return i
    raise AssertionError(marker)


def _mlp(kind):
    cadenza.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 4))
    if kind == "sgd":
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    else:
        opt = optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    return model, opt


def _step_fn(model, opt):
    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


@pytest.mark.parametrize("kind", ["sgd", "adamw"])
def test_training_step_bitwise_equal_to_eager_over_100_steps(kind):
    m1, o1 = _mlp(kind)
    m2, o2 = _mlp(kind)
    eager, compiled = _step_fn(m1, o1), cadenza.compile(_step_fn(m2, o2))
    rng = np.random.default_rng(0)
    cadenza.compiler.reset_stats()
    for i in range(100):
        x = cadenza.tensor(rng.standard_normal((5, 8)))
        y = cadenza.tensor(rng.integers(0, 4, 5))
        cadenza.manual_seed(100 + i)     # dropout masks: the same draws in both modes
        l1 = eager(x, y)
        cadenza.manual_seed(100 + i)
        l2 = compiled(x, y)
        assert np.array_equal(l1.detach().numpy(), l2.detach().numpy()), i
    for (name, p1), p2 in zip(m1.named_parameters(), m2.parameters()):
        assert np.array_equal(p1.detach().numpy(), p2.detach().numpy()), name
        assert np.array_equal(p1.grad.numpy(), p2.grad.numpy()), name
    s1, s2 = o1.state_dict()["state"], o2.state_dict()["state"]
    assert s1.keys() == s2.keys()
    for k in s1:
        assert s1[k].keys() == s2[k].keys()
        for kk in s1[k]:
            assert np.array_equal(np.asarray(s1[k][kk]), np.asarray(s2[k][kk])), (k, kk)
    st = cadenza.compiler.stats()
    # the first call creates optimizer state and grads, so the second traces again
    assert st["compiles"] == 2 and st["cache_hits"] == 98 and st["eager_fallbacks"] == 0


def test_zero_grad_leaves_grads_as_eager():
    model, opt = _mlp("sgd")
    model.eval()

    @cadenza.compile
    def step(x):
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()
        opt.zero_grad()

    for _ in range(3):
        step(cadenza.ones(2, 8))
    assert all(p.grad is None for p in model.parameters())


def test_inference_function():
    model, _ = _mlp("sgd")
    model.eval()

    @cadenza.compile
    def predict(x):
        with cadenza.no_grad():
            return F.softmax(model(x), dim=-1).argmax(-1), model(x)

    x = cadenza.randn(6, 8)
    with cadenza.no_grad():
        want = model(x)
    for _ in range(3):
        idx, logits = predict(x)
        assert np.array_equal(logits.numpy(), want.numpy())
        assert idx.tolist() == want.argmax(-1).tolist()
    assert "linear" in str(predict.graph)  # nn.Linear lowers to the fused linear primitive


def test_module_compile_shares_parameters():
    model, _ = _mlp("sgd")
    cm = cadenza.compile(model)
    assert cm.module is model and cm[0] is model[0]
    model.eval()
    x = cadenza.randn(3, 8)
    with cadenza.no_grad():
        want = model(x)
        for _ in range(3):
            assert np.array_equal(cm(x).numpy(), want.numpy())
        model[0].weight.mul_(2)           # shared parameter: the graph reads it live
        assert np.array_equal(cm(x).numpy(), model(x).numpy())
    assert cm.graph is not None and "digraph" in cm.to_dot()


def test_module_with_autograd_outside_compiles_its_backward():
    model, _ = _mlp("sgd")
    ref, _ = _mlp("sgd")
    model.eval()
    ref.eval()
    cm = cadenza.compile(model)
    cadenza.compiler.reset_stats()
    for _ in range(3):
        cm(cadenza.ones(2, 8)).sum().backward()   # backward outside: a compiled backward
        ref(cadenza.ones(2, 8)).sum().backward()
    for p, q in zip(model.parameters(), ref.parameters()):
        assert np.array_equal(p.grad.numpy(), q.grad.numpy())
    # traced twice (the second call sees .grad set), then the cached compiled forward/backward
    # (more in test_compiled_autograd.py)
    st = cadenza.compiler.stats()
    assert st["eager_fallbacks"] == 0 and st["compiles"] == 2 and st["cache_hits"] == 1


def test_recompile_on_batch_size_with_explain_line(capsys):
    model, _ = _mlp("sgd")
    model.eval()

    @cadenza.compile(explain=True)
    def f(x):
        with cadenza.no_grad():
            return model(x)

    f(cadenza.ones(4, 8))
    f(cadenza.ones(4, 8))
    f(cadenza.ones(2, 8))  # CALL-BATCH
    err = capsys.readouterr().err
    assert "recompiling" in err and "x.shape: (4, 8) -> (2, 8)" in err
    assert f"test_compile.py:{_line_of('CALL-BATCH')}" in err
    f(cadenza.ones(4, 8))  # the first specialisation is still cached
    assert "recompiling" not in capsys.readouterr().err


def test_recompile_on_train_eval_switch(capsys, monkeypatch):
    monkeypatch.setenv("CADENZA_DEBUG", "1")
    model, _ = _mlp("sgd")
    cm = cadenza.compile(model)
    x = cadenza.ones(3, 8)
    with cadenza.no_grad():
        cadenza.manual_seed(1)
        a = cm(x)
        cadenza.manual_seed(1)
        b = model(x)
        assert np.array_equal(a.numpy(), b.numpy())   # dropout active, same draws
        model.eval()
        c = cm(x)
    assert "self.training: True -> False" in capsys.readouterr().err
    assert np.array_equal(c.numpy(), model(x).detach().numpy())


def test_trace_error_on_branch_names_the_line():
    @cadenza.compile
    def f(x):
        if x.sum() > 0:  # BRANCH-LINE
            return x
        return -x

    with pytest.raises(TraceError, match="cadenza.where") as e:
        f(cadenza.ones(3))
    assert f"test_compile.py:{_line_of('BRANCH-LINE')}" in str(e.value)


def test_trace_error_on_item_names_the_line():
    @cadenza.compile
    def f(x):
        return x * x.sum().item()  # ITEM-LINE

    with pytest.raises(TraceError, match="item") as e:
        f(cadenza.ones(3))
    assert f"test_compile.py:{_line_of('ITEM-LINE')}" in str(e.value)


@pytest.mark.parametrize("bad", ["print", "numpy", "nonzero", "mask"])
def test_trace_errors_for_other_concrete_uses(bad):
    def f(x):
        if bad == "print":
            print(x)
        elif bad == "numpy":
            x.numpy()
        elif bad == "nonzero":
            x.nonzero()
        else:
            x[x > 0]
        return x
    with pytest.raises(TraceError, match="compile:"):
        cadenza.compile(f)(cadenza.ones(3))


def test_fullgraph_false_runs_eagerly_with_one_warning():
    calls = []

    def f(x):
        calls.append(1)
        y = x * 2
        if y.sum() > 0:
            return y + 1
        return y

    g = cadenza.compile(f, fullgraph=False)
    cadenza.compiler.reset_stats()
    with pytest.warns(UserWarning, match="runs eagerly") as w:
        r1 = g(cadenza.ones(2))
    assert len(w) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r2 = g(-cadenza.ones(2))
    assert r1.tolist() == [3.0, 3.0] and r2.tolist() == [-2.0, -2.0]
    assert len(calls) == 2 and cadenza.compiler.stats()["eager_fallbacks"] == 2


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="backend"):
        cadenza.compile(lambda x: x, backend="tpu")


def test_graph_snapshot():
    @cadenza.compile
    def f(x, w):
        return (x @ w).relu().sum(dim=1)

    f(cadenza.ones(2, 3), cadenza.ones(3, 4))
    line = _line_of("(x @ w).relu()")
    assert str(f.graph) == (
        "graph(\n"
        "    %0: f64[2, 3] = input(x)\n"
        "    %1: f64[3, 4] = input(w)\n"
        f"    %2: f64[2, 4] = matmul(%0, %1)  # test_compile.py:{line}\n"
        "    %4: f64[2] = fused_reduction_0(%2) {\n"
        f"        %3: f64[2, 4] = relu(%2)  # test_compile.py:{line}\n"
        f"        %4: f64[2] = sum(%3, dims=(1,), keepdim=False, dtype=None)"
        f"  # test_compile.py:{line}\n"
        "    }\n"
        "    return (out0=%4)\n"
        ")")
    dot = f.to_dot()
    assert dot.startswith("digraph") and "matmul" in dot


@pytest.mark.parametrize("make", [
    lambda ps: optim.Adam(ps, lr=1e-2, amsgrad=True),
    lambda ps: optim.RMSprop(ps, lr=1e-2, momentum=0.5, centered=True),
    lambda ps: optim.Adagrad(ps, lr=1e-1, lr_decay=0.01),
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda ps: optim.NAdam(ps, lr=1e-2, weight_decay=0.01),
    lambda ps: optim.NAdam(ps, lr=1e-2, weight_decay=0.01, decoupled_weight_decay=True),
    lambda ps: optim.RAdam(ps, lr=1e-2, betas=(0.9, 0.6)),   # rho_t crosses 5 at step 3
    lambda ps: optim.Adadelta(ps, weight_decay=0.1),
    lambda ps: optim.Adamax(ps, lr=1e-2, maximize=True),
    lambda ps: optim.ASGD(ps, lr=1e-2, t0=3),                # mu leaves 1 at step 4
    lambda ps: optim.Rprop(ps, lr=1e-2),
], ids=["adam-amsgrad", "rmsprop", "adagrad", "sgd-nesterov", "nadam", "nadam-decoupled",
        "radam", "adadelta", "adamax", "asgd", "rprop"])
def test_other_optimizers_bitwise(make):
    cadenza.manual_seed(0)
    m1 = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    cadenza.manual_seed(0)
    m2 = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    o1, o2 = make(m1.parameters()), make(m2.parameters())

    def step(model, opt, x):
        opt.zero_grad()
        loss = (model(x) ** 2).mean()
        loss.backward()
        opt.step()
        return loss
    compiled = cadenza.compile(lambda x: step(m2, o2, x))
    rng = np.random.default_rng(1)
    for _ in range(8):
        x = cadenza.tensor(rng.standard_normal((3, 4)))
        assert np.array_equal(step(m1, o1, x).detach().numpy(), compiled(x).detach().numpy())
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert np.array_equal(p1.detach().numpy(), p2.detach().numpy())

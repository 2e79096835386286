"""Compiled-mode pitfalls, one test each: the compiled function must either behave as eager
or recompile, never silently compute something else."""
import numpy as np
import pytest

import cadenza
import cadenza.nn as nn
from cadenza.errors import TraceError

SCALE = 2.0
COUNTER = cadenza.zeros(())


def _eq(a, b):
    return np.array_equal(np.asarray(a.detach().numpy()), np.asarray(b.detach().numpy()))


def test_mutation_of_a_global():
    global SCALE

    @cadenza.compile
    def f(x):
        COUNTER.add_(1)            # a global tensor changed in place: written back each call
        return x * SCALE

    COUNTER.zero_()
    x = cadenza.ones(2)
    assert f(x).tolist() == [2.0, 2.0] and f(x).tolist() == [2.0, 2.0]
    SCALE = 3.0                    # a global Python number the trace read: a guard
    try:
        assert f(x).tolist() == [3.0, 3.0]
    finally:
        SCALE = 2.0
    assert COUNTER.item() == 3.0


def test_closure_over_a_tensor():
    w = cadenza.ones(3)

    @cadenza.compile
    def f(x):
        return x * w

    x = cadenza.arange(3.0)
    assert f(x).tolist() == [0.0, 1.0, 2.0]
    w.mul_(2)                      # changed in place outside: read live
    assert f(x).tolist() == [0.0, 2.0, 4.0]
    w = cadenza.full((3,), 5.0)    # the closure now holds another tensor: identity guard
    assert f(x).tolist() == [0.0, 5.0, 10.0]


def test_inplace_op_on_an_input():
    @cadenza.compile
    def f(x):
        x.mul_(2).add_(1)
        return x.sum()

    x = cadenza.ones(3)
    for want in (9.0, 21.0, 45.0):
        out = f(x)
        assert out.item() == want
    assert x.tolist() == [15.0, 15.0, 15.0]


def test_python_list_of_tensors():
    @cadenza.compile
    def f(xs):
        total = xs[0]
        for t in xs[1:]:
            total = total + t
        return total

    a, b, c = cadenza.ones(2), cadenza.full((2,), 2.0), cadenza.full((2,), 3.0)
    assert f([a, b]).tolist() == [3.0, 3.0]
    assert f([b, c]).tolist() == [5.0, 5.0]       # same structure: the cached graph
    assert f([a, b, c]).tolist() == [6.0, 6.0]    # a longer list: recompiled


def test_changing_batch_size():
    lin = nn.Linear(4, 2)
    cl = cadenza.compile(lin)
    with cadenza.no_grad():
        for n in (8, 3, 8, 1):
            x = cadenza.randn(n, 4)
            assert _eq(cl(x), lin(x))
    assert len(cl._compiled.cache) == 3


def test_train_eval_switch():
    bn = nn.BatchNorm1d(3)
    ref = nn.BatchNorm1d(3)
    cb = cadenza.compile(bn)
    x = cadenza.randn(5, 3)
    with cadenza.no_grad():
        for mode in ("train", "train", "train", "eval", "eval", "train"):
            bn.train(mode == "train")
            ref.train(mode == "train")
            assert _eq(cb(x), ref(x))
            assert _eq(bn.running_mean, ref.running_mean)   # running stats written back
            assert _eq(bn.running_var, ref.running_var)
        assert bn.num_batches_tracked.item() == ref.num_batches_tracked.item() == 4


def test_parameter_replaced_by_a_new_parameter(capsys):
    lin = nn.Linear(3, 1)
    cl = cadenza.compile(lin, explain=True)
    x = cadenza.ones(2, 3)
    with cadenza.no_grad():
        cl(x)
        cl(x)
        lin.weight = nn.Parameter(cadenza.zeros(1, 3))
        lin.bias = nn.Parameter(cadenza.zeros(1))
        assert cl(x).tolist() == [[0.0], [0.0]]
    assert "weight: replaced by another object" in capsys.readouterr().err


def test_backward_without_zero_grad_accumulates_as_eager():
    w = cadenza.tensor([1.0, 2.0], requires_grad=True)     # a free tensor playing a parameter

    @cadenza.compile
    def f(x):
        (w * x).sum().backward()     # .grad None -> created; else accumulated: a guard

    x = cadenza.tensor([3.0, 4.0])
    for want in ([3.0, 4.0], [6.0, 8.0], [9.0, 12.0]):
        f(x)
        assert w.grad.tolist() == want


def test_backward_into_an_argument_raises():
    import pytest
    from cadenza.errors import TraceError

    @cadenza.compile
    def f(x):
        (x * x).sum().backward()

    with pytest.raises(TraceError, match=r"argument x \(.*test_pitfalls.py:\d+\).*autograd.grad"):
        f(cadenza.ones(2, requires_grad=True))


def test_random_init_inside_draws_again_each_call():
    w1, w2 = cadenza.empty(3, 4), cadenza.empty(3, 4)

    def f(w):
        nn.init.kaiming_uniform_(w)
        nn.init.trunc_normal_(w, std=0.5)
        return w * 2
    cf = cadenza.compile(f)
    for seed in range(3):
        cadenza.manual_seed(seed)
        a = f(w1)
        cadenza.manual_seed(seed)
        assert _eq(cf(w2), a) and _eq(w1, w2)


def test_embedding_max_norm_and_freq_scaling():
    import cadenza.nn.functional as F
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((6, 3)) * 2
    we, wc = (cadenza.tensor(w0.copy(), requires_grad=True) for _ in range(2))

    def step(w, i):
        out = F.embedding(i, w, max_norm=1.0, scale_grad_by_freq=True)  # renorms w in place
        (out * out).sum().backward()
        return out
    cs = cadenza.compile(lambda i: step(wc, i))
    for _ in range(3):
        i = cadenza.tensor(rng.integers(0, 6, (2, 3)))
        assert _eq(cs(i), step(we, i)) and _eq(wc, we) and _eq(wc.grad, we.grad)


def test_closure_index_tensor_changed_in_place():
    idx = cadenza.tensor([0, 2])

    @cadenza.compile
    def f(x):
        return x[idx]

    x = cadenza.arange(4.0)
    assert f(x).tolist() == [0.0, 2.0]
    idx.copy_(cadenza.tensor([3, 1]))   # read live, not baked into the graph
    assert f(x).tolist() == [3.0, 1.0]


def test_returning_a_record_of_tensors_raises():
    import dataclasses
    import pytest
    from cadenza.errors import TraceError

    @dataclasses.dataclass
    class Out:
        y: object

    @cadenza.compile
    def f(x):
        return Out(x * 2)            # the graph would hand back this object on every call

    with pytest.raises(TraceError, match="returns a Out holding tensors"):
        f(cadenza.ones(2))


class _Cursor:
    def __init__(self):
        self.buf, self.pos = cadenza.zeros(4), 0


def _append(x, cur):
    cur.buf[cur.pos] = x
    cur.pos += 1                 # Python state: a replay of the graph would not do this
    return cur.buf.sum()


def test_mutating_a_python_attribute_is_refused_not_replayed_wrong():
    with pytest.raises(TraceError, match=r"cur\.pos \(0 -> 1\)"):
        cadenza.compile(_append)(cadenza.tensor(1.0), _Cursor())
    cur = _Cursor()
    f = cadenza.compile(_append, fullgraph=False)
    with pytest.warns(UserWarning, match="runs eagerly"):
        out = [float(f(cadenza.tensor(float(i + 1)), cur)) for i in range(3)]
    assert out == [1.0, 3.0, 6.0] and cur.pos == 3


def test_python_attribute_read_is_guarded():
    class Cfg:
        scale = None

    cfg = Cfg()
    cfg.scale = 2.0
    f = cadenza.compile(lambda x, cfg: x * cfg.scale)
    assert f(cadenza.ones(2), cfg).tolist() == [2.0, 2.0]
    cfg.scale = 3.0
    assert f(cadenza.ones(2), cfg).tolist() == [3.0, 3.0]
    assert cadenza.compiler.stats()["recompiles"] >= 1


def test_zero_grad_first_needs_no_recompile_when_grads_appear():
    # zero_grad(set_to_none=True) before backward: whether .grad was None at the start does
    # not matter, so the second call (grads now set) reuses the first graph
    cadenza.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = cadenza.optim.SGD(model.parameters(), lr=0.1)

    def step(x):
        opt.zero_grad(set_to_none=True)
        loss = model(x).pow(2).sum()
        loss.backward()
        opt.step()
        return loss

    cadenza.compiler.reset_stats()
    f = cadenza.compile(step)
    x = cadenza.randn(4, 3)
    losses = [float(f(x)) for _ in range(3)]
    assert cadenza.compiler.stats()["compiles"] == 1
    cadenza.manual_seed(0)
    model2 = nn.Linear(3, 2)
    opt2 = cadenza.optim.SGD(model2.parameters(), lr=0.1)
    ref = []
    for _ in range(3):
        opt2.zero_grad(set_to_none=True)
        loss = model2(x).pow(2).sum()
        loss.backward()
        opt2.step()
        ref.append(float(loss))
    assert losses == ref


def test_first_optimizer_step_is_a_warm_up_and_zero_grad_outside_still_caches():
    cadenza.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = cadenza.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)   # state on 1st step

    def step(x):
        loss = model(x).pow(2).sum()
        loss.backward()
        opt.step()
        return loss

    cadenza.compiler.reset_stats()
    f = cadenza.compile(step)
    x = cadenza.randn(4, 3)
    losses = []
    for _ in range(4):
        opt.zero_grad()                      # outside the compiled function
        losses.append(float(f(x)))
    st = cadenza.compiler.stats()
    # call 1 created the momentum buffers: traced, not kept; call 2 traced and kept; 3-4 hit
    assert st["warmups"] == 1 and st["compiles"] == 2 and st["cache_hits"] == 2
    cadenza.manual_seed(0)
    model2 = nn.Linear(3, 2)
    opt2 = cadenza.optim.SGD(model2.parameters(), lr=0.1, momentum=0.9)
    ref = []
    for _ in range(4):
        opt2.zero_grad()
        loss = model2(x).pow(2).sum()
        loss.backward()
        opt2.step()
        ref.append(float(loss))
    assert losses == ref


@pytest.mark.parametrize("make", [
    lambda ps: cadenza.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
    lambda ps: cadenza.optim.AdamW(ps, lr=0.05, weight_decay=0.1),
    lambda ps: cadenza.optim.RMSprop(ps, lr=0.01, momentum=0.5),
    lambda ps: cadenza.optim.Adagrad(ps, lr=0.1, lr_decay=0.01),
])
def test_lr_scheduler_changes_lr_without_recompiling(make):
    # lr is a graph input read from the param group on every call: a schedule that changes it
    # each step reuses one graph, and every step stays bit-identical to eager (float64)
    def run(compiled):
        cadenza.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).double()
        opt = make(model.parameters())
        sched = cadenza.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)

        def step(x):
            opt.zero_grad(set_to_none=True)
            loss = model(x).pow(2).mean()
            loss.backward()
            opt.step()
            return loss

        f = cadenza.compile(step) if compiled else step
        x = cadenza.randn(16, 4).double()
        out = []
        for _ in range(8):
            out.append(float(f(x)))
            sched.step()
        return out, [p.detach().numpy().copy() for p in model.parameters()]

    cadenza.compiler.reset_stats()
    got, gp = run(True)
    st = cadenza.compiler.stats()
    want, wp = run(False)
    assert got == want and all(np.array_equal(a, b) for a, b in zip(gp, wp))
    assert st["compiles"] <= 2 and st["cache_hits"] >= 6

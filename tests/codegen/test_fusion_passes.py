"""fuse_elementwise, fuse_reductions and plan_memory: printed graphs before and after, verify()
after each pass, legality (no kernel runs after a node that needs one of its values), sibling
fusion, broadcasting, the dtype rules, and the memory plan (slots, views, peaks, report)."""
import re

import numpy as np

import cadenza
import cadenza.nn as nn
import cadenza.nn.functional as F
import cadenza.optim as optim
from cadenza.codegen import make_runner
from cadenza.codegen.executor import KernelRunner
from cadenza.graph import verify
from cadenza.graph.interpret import Interpreter
from cadenza.graph.ir import Fused
from cadenza.graph.passes import fuse_elementwise as fuse_ew
from cadenza.graph.passes import fuse_reductions as fuse_red
from cadenza.graph.passes import plan_memory
from cadenza.graph.pipeline import optimize
from cadenza.graph.trace import trace

from _cc import require_cc

HERE = "test_fusion_passes.py"


def _line_of(marker):
    with open(__file__) as f:
        for i, line in enumerate(f, 1):
            if marker in line and "_line_of" not in line:
                return i
    raise AssertionError(marker)


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _t(*arrays):
    return [cadenza.tensor(a) for a in arrays]


def _kernels(g):
    return [n.op for n in g.nodes if isinstance(n.op, Fused)]


def _member_names(k):
    return [m.op_name for m in k.members]


def _check_runs(before, after, arrays):
    """``after`` computes what ``before`` does (NumPy interpreter), bit for bit."""
    want = Interpreter(before)(list(arrays))
    got = Interpreter(after)(list(arrays))
    assert all(_same(a, b) for a, b in zip(got, want))


# ---------------------------------------------------------------------------- fuse_elementwise
def test_fuse_elementwise_snapshot():
    def f(x, b):
        return (x * 2 + b).relu()  # EW-LINE
    g = verify(trace(f, *_t(np.ones((4, 8), np.float32), np.ones(8, np.float32))))
    src = f"{HERE}:{_line_of('EW-LINE')}"
    assert str(g) == (
        "graph(\n"
        "    %0: f32[4, 8] = input(x0)\n"
        "    %1: f32[8] = input(x1)\n"
        f"    %2: f32[4, 8] = mul(%0, 2)  # {src}\n"
        f"    %3: f32[4, 8] = add(%2, %1)  # {src}\n"
        f"    %4: f32[4, 8] = relu(%3)  # {src}\n"
        "    return (out0=%4)\n"
        ")")
    fused = verify(fuse_ew.run(g))
    assert str(fused) == (
        "graph(\n"
        "    %0: f32[4, 8] = input(x0)\n"
        "    %1: f32[8] = input(x1)\n"
        "    %4: f32[4, 8] = fused_elementwise_0(%0, %1) {\n"
        f"        %2: f32[4, 8] = mul(%0, 2)  # {src}\n"
        f"        %3: f32[4, 8] = add(%2, %1)  # {src}\n"
        f"        %4: f32[4, 8] = relu(%3)  # {src}\n"
        "    }\n"
        "    return (out0=%4)\n"
        ")")
    assert str(g).count("fused") == 0       # the pass works on a copy
    x, b = np.arange(32, dtype=np.float32).reshape(4, 8) - 16, np.ones(8, np.float32)
    _check_runs(g, fused, [x, b])


def test_a_value_needed_by_a_library_call_in_between_is_not_fused_late():
    # %2 = x * 2 is read by the matmul before %4 = %2 + 1: a kernel {%2, %4} would run at %4's
    # position, after the matmul that needs %2
    def f(x, w):
        a = x * 2
        m = a @ w
        b = a + 1
        return b * m
    x = np.random.default_rng(0).standard_normal((4, 4))
    g = verify(trace(f, *_t(x, x.T.copy())))
    fused = verify(fuse_ew.run(g))
    body = [line.split("  #")[0] for line in str(fused).splitlines()]
    assert body == [
        "graph(",
        "    %0: f64[4, 4] = input(x0)",
        "    %1: f64[4, 4] = input(x1)",
        "    %2: f64[4, 4] = mul(%0, 2)",
        "    %3: f64[4, 4] = matmul(%2, %1)",
        "    %5: f64[4, 4] = fused_elementwise_0(%2, %3) {",
        "        %4: f64[4, 4] = add(%2, 1)",
        "        %5: f64[4, 4] = mul(%4, %3)",
        "    }",
        "    return (out0=%5)",
        ")"]
    _check_runs(g, fused, [x, x.T.copy()])


def test_a_kernel_writes_a_value_a_later_library_call_reads():
    # %2 = x * 2 is read by the matmul only after %3: the kernel {%2, %3} runs first and writes
    # %2 as a second output; %6 = b * 3 + m joins a later kernel
    def f(x, w):
        a = x * 2
        b = a + 1
        m = a @ w
        return b * 3 + m
    x = np.random.default_rng(1).standard_normal((4, 4))
    g = verify(trace(f, *_t(x, x)))
    fused = verify(fuse_ew.run(g))
    ks = _kernels(fused)
    assert [_member_names(k) for k in ks] == [["mul", "add"], ["mul", "add"]]
    assert [v.id for v in ks[0].outputs] == [2, 3]
    assert [n.op_name for n in fused.nodes if n.op != "input"] == \
        ["fused_elementwise_0", "matmul", "fused_elementwise_1"]
    _check_runs(g, fused, [x, x])


def test_sibling_updates_share_one_kernel():
    """An AdamW-like update of p, m and v: three graph outputs from one kernel reading g once."""
    b1, b2, lr, eps, wd = 0.9, 0.999, 1e-3, 1e-8, 0.01

    def step(p, g, m, v):
        m2 = m * b1 + g * (1 - b1)
        v2 = v * b2 + g * g * (1 - b2)
        p2 = p * (1 - lr * wd) - lr * m2 / (v2.sqrt() + eps)
        return p2, m2, v2
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((3, 5)).astype(np.float32) for _ in range(4)]
    arrays[3] = np.abs(arrays[3])
    g = verify(trace(step, *_t(*arrays)))
    fused = verify(fuse_ew.run(g))
    (k,) = _kernels(fused)
    assert sorted(v.id for v in k.outputs) == sorted(v.id for v in g.outputs)
    assert len(k.inputs) == 4 and len(k.outputs) == 3
    assert sum(1 for n in fused.nodes if n.op != "input") == 1
    _check_runs(g, fused, arrays)


def test_broadcast_operands_join_the_kernel():
    """Bias (N,), row statistics (R, 1) and a 0-d scalar all read inside one (R, N) kernel."""
    def f(x, bias, mu, s):
        return ((x - mu) * s + bias).relu()
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((6, 5)), rng.standard_normal(5),
              rng.standard_normal((6, 1)), np.array(0.5)]
    g = verify(trace(f, *_t(*arrays)))
    fused = verify(fuse_ew.run(g))
    (k,) = _kernels(fused)
    assert k.shape == (6, 5)
    assert sorted(v.shape for v in k.inputs) == [(), (5,), (6, 1), (6, 5)]
    assert _member_names(k) == ["sub", "mul", "add", "relu"]
    _check_runs(g, fused, arrays)


def test_dtype_rules():
    def ints(a, b):
        return (a + b) * 3 - b              # int64 add/mul/sub: exact in C, fused

    def int_div(a, b):
        return (a // b) * 2 + (a % b)      # integer floor division/remainder: not lowered

    def cmp_where_cast(x, y):
        mask = (x > y) & (x != 0)           # comparisons give bool inside the kernel
        return cadenza.where(mask, x, y * 2).to(cadenza.int64) + 1

    a = np.arange(1, 13, dtype=np.int64).reshape(3, 4)
    g = verify(fuse_ew.run(trace(ints, *_t(a, a + 1))))
    (k,) = _kernels(g)
    assert _member_names(k) == ["add", "mul", "sub"] and k.outputs[0].dtype == np.int64
    g = verify(fuse_ew.run(trace(int_div, *_t(a, a + 1))))
    assert [_member_names(k) for k in _kernels(g)] == [["mul", "add"]]
    assert [n.op_name for n in g.nodes if n.op != "input"] == \
        ["floor_divide", "remainder", "fused_elementwise_0"]

    x = np.linspace(-2, 2, 12).reshape(3, 4)
    g = verify(fuse_ew.run(trace(cmp_where_cast, *_t(x, x[::-1].copy()))))
    (k,) = _kernels(g)
    assert _member_names(k) == ["gt", "ne", "logical_and", "mul", "where", "cast", "add"]
    assert [m.out.dtype.name for m in k.members][:3] == ["bool"] * 3
    assert k.outputs[0].dtype == np.int64

    for dt in (cadenza.float16, cadenza.bfloat16):     # NumPy rounds each op: no C lowering
        h = cadenza.ones(3, 4, dtype=dt)
        g = verify(fuse_ew.run(trace(lambda u, w: (u * w + 1).relu(), h, h)))
        assert not _kernels(g), dt


def test_small_lone_nodes_stay_primitives():
    g = verify(fuse_ew.run(trace(lambda x: x.relu(), cadenza.ones(4, 8))))
    assert not _kernels(g)
    big = cadenza.ones(fuse_ew.SINGLE_MIN_SIZE)
    g = verify(fuse_ew.run(trace(lambda x: x.relu(), big)))
    assert [_member_names(k) for k in _kernels(g)] == [["relu"]]


# ---------------------------------------------------------------------------- fuse_reductions
def test_fuse_reductions_snapshot():
    def f(x, m):
        return (x - m).exp().sum(-1)  # RED-LINE
    arrays = [np.random.default_rng(4).standard_normal((4, 8)).astype(np.float32),
              np.zeros((4, 1), np.float32)]
    g = verify(trace(f, *_t(*arrays)))
    src = f"{HERE}:{_line_of('RED-LINE')}"
    ew = verify(fuse_ew.run(g))
    red = verify(fuse_red.run(ew))
    assert str(red) == (
        "graph(\n"
        "    %0: f32[4, 8] = input(x0)\n"
        "    %1: f32[4, 1] = input(x1)\n"
        "    %4: f32[4] = fused_reduction_0(%0, %1) {\n"
        f"        %2: f32[4, 8] = sub(%0, %1)  # {src}\n"
        f"        %3: f32[4, 8] = exp(%2)  # {src}\n"
        f"        %4: f32[4] = sum(%3, dims=(1,), keepdim=False, dtype=None)  # {src}\n"
        "    }\n"
        "    return (out0=%4)\n"
        ")")
    assert str(ew).count("fused_elementwise_0") == 1 and "fused_reduction" not in str(ew)
    _check_runs(g, red, arrays)
    assert str(optimize(g, check=True)).split("\n") == str(red).split("\n")


def test_reduction_layouts():
    """Trailing and leading blocks fuse; a middle block, or an operand partly broadcast inside
    the reduced or the kept block (no single stride walks it), stays a NumPy reduction."""
    def f(x, b):                             # b: (5,), broadcast over the leading dims
        return ((x * 2 + b).sum((1, 2)), (x * 3 + b).amax(0), (x * 4 + b).amin((0, 1)),
                (x * 5 + b).sum(1), (x * 6 + b).sum(-1))
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal((3, 4, 5)), rng.standard_normal(5)]
    g = verify(trace(f, *_t(*arrays)))
    opt = verify(fuse_red.run(verify(fuse_ew.run(g))))
    reds = [(k.reduction.op_name, k.reduction.attrs["dims"]) for k in _kernels(opt)
            if k.reduction is not None]
    assert reds == [("amin", (0, 1)), ("sum", (2,))]
    assert [n.op_name for n in opt.nodes if n.op_name in ("sum", "amax")] == \
        ["sum", "amax", "sum"]
    _check_runs(g, opt, arrays)


def test_leading_reduction_of_a_column_is_one_pairwise_sum():
    """(R, 1) summed over dim 0: NumPy ignores the size-1 dim and sums R elements pairwise;
    the kernel must too (it used to add the rows in order: different bits from 8 rows on)."""
    def f(x, y):
        return (x * 1.5 + 1).sum(0), (y * 1.5 + 1).sum((0, 1))
    rng = np.random.default_rng(10)
    for dt in (np.float32, np.float64):
        arrays = [rng.standard_normal((300, 1)).astype(dt),
                  rng.standard_normal((40, 1, 1)).astype(dt)]
        g = optimize(trace(f, *_t(*arrays)), check=True)
        assert sum(1 for k in _kernels(g) if k.reduction is not None) == 2
        require_cc()
        runner = make_runner(g, "c")
        assert isinstance(runner, KernelRunner)
        for got, want in zip(runner(arrays), Interpreter(g)(arrays)):
            assert _same(got, want), dt


def test_reduction_keeps_an_intermediate_used_later():
    def f(x):
        e = (x - 1).exp()
        return e.sum(-1), e * 2
    x = np.random.default_rng(6).standard_normal((3, 7))
    g = verify(trace(f, *_t(x)))
    opt = verify(optimize(g, check=True))
    red = [k for k in _kernels(opt) if k.reduction is not None]
    assert len(red) == 1 and _member_names(red[0]) == ["sub", "exp", "sum"]
    assert [v.id for v in red[0].outputs] == [2, 3]        # exp(...) for e * 2, and the sum
    _check_runs(g, opt, [x])


# ---------------------------------------------------------------------------- plan_memory
def _views(keep_view_alive):
    def f(x, w):
        a = x * 2 + 1                                    # a kernel output with a slot
        v = a.reshape(16, 1024).permute(1, 0)            # a view of it
        early = v.sum()
        b = x * 3 - 1                                    # may take a's slot once v is dead
        c = (b * b + 2) @ w
        return c.sum() + (v.sum() if keep_view_alive else early)
    return f


def test_slot_not_reused_while_a_view_lives():
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal((128, 128)).astype(np.float32), np.ones((128, 4), np.float32)]
    plans = {}
    for alive in (True, False):
        g = optimize(trace(_views(alive), *_t(*arrays)), check=True)
        plan = g.plan
        assert set(plan.assign) == {v.id for k in _kernels(g) for v in k.outputs} - \
            {v.id for v in g.outputs}
        plans[alive] = plan
        require_cc()
        runner = make_runner(g, "c")
        assert isinstance(runner, KernelRunner)
        for _ in range(2):                                # second call: arena buffers reused
            assert _same(runner(arrays)[0], Interpreter(g)(arrays)[0])
    # view alive: the two kernel outputs need two buffers; dead: the second reuses the first
    assert len(plans[True].slots) == 2 and len(set(plans[True].assign.values())) == 2
    assert len(plans[False].slots) == 1 and set(plans[False].assign.values()) == {0}


def _mlp_step():
    cadenza.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                          nn.Linear(64, 10))
    opt = optim.AdamW(model.parameters(), lr=1e-3)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return model, opt, step


def test_mlp_training_step_plan():
    """Outputs (returned loss, parameter/optimizer write-backs, grads) never get arena slots;
    the planned peak is below the unplanned one; the compiled step equals eager bit for bit
    over calls that reuse the arena (float64: float32 row kernels agree to a few ulp only)."""
    old = cadenza.get_default_dtype()
    cadenza.set_default_dtype(cadenza.float64)
    try:
        _check_mlp_training_step()
    finally:
        cadenza.set_default_dtype(old)


def _check_mlp_training_step():
    m1, o1, eager = _mlp_step()
    m2, o2, step = _mlp_step()
    compiled = cadenza.compile(step)
    rng = np.random.default_rng(8)
    for i in range(3):
        x = cadenza.tensor(rng.standard_normal((16, 32)))
        y = cadenza.tensor(rng.integers(0, 10, 16))
        l1, l2 = eager(x, y), compiled(x, y)
        assert _same(l1.detach().numpy(), l2.detach().numpy()), i
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert _same(p1.detach().numpy(), p2.detach().numpy())
        assert _same(p1.grad.numpy(), p2.grad.numpy())
    g = compiled.graph
    plan = g.plan
    outs = {v.id for v in g.outputs}
    assert plan.assign and not outs & set(plan.assign)
    assert plan.planned_peak < plan.unplanned_peak
    assert re.fullmatch(
        r"memory plan: planned peak [\d.]+ (B|KiB|MiB) vs unplanned [\d.]+ (B|KiB|MiB) "
        r"\(\d+% less\); arena [\d.]+ (B|KiB|MiB) in \d+ buffers for \d+ kernel outputs",
        plan.report())
    assert f"in {len(plan.slots)} buffers for {len(plan.assign)} kernel outputs" in plan.report()


def test_report_numbers():
    def f(x):
        a = x * 2 + 1                       # kernel output: slot 0
        b = a @ a                           # a NumPy result; a dies here
        c = b * 2 + 1                       # kernel output: reuses slot 0
        return c @ c
    x = np.ones((64, 64), np.float64)       # 32 KiB per value
    g = trace(f, *_t(x))
    for p in (fuse_ew, fuse_red, plan_memory):
        g = verify(p.run(g))
    plan = g.plan
    a_id, c_id = (k.outputs[0].id for k in _kernels(g))
    assert plan.assign == {a_id: 0, c_id: 0} and plan.slots == [32768]
    # the arena, plus b or the result (never both alive), against all four values
    assert (plan.planned_peak, plan.unplanned_peak) == (2 * 32768, 4 * 32768)
    assert plan.report() == ("memory plan: planned peak 64.0 KiB vs unplanned 128.0 KiB "
                             "(50% less); arena 32.0 KiB in 1 buffers for 2 kernel outputs")
    require_cc()
    runner = make_runner(g, "c")
    assert isinstance(runner, KernelRunner)
    xs = [np.random.default_rng(9).standard_normal((64, 64)) / 8]
    first = runner(xs)[0]
    keep = first.copy()
    assert _same(first, Interpreter(g)(xs)[0])
    runner([xs[0] * 2])                     # a second call must not write into the first result
    assert _same(first, keep)

"""The profiler: real events of Cadenza's ops (forward primitives, backward nodes, the
optimizer step, record_function ranges), PyTorch's reports (key_averages().table(), Chrome
traces), torch.profiler's schedule and trace handler, compared with PyTorch where they meet."""
import ast
import inspect
import json
import os

import numpy as np
import pytest
import torch

import cadenza as C
from cadenza import profiler as P
from cadenza._dispatch import state
from cadenza.autograd import engine
from cadenza.ops import _registry


def elementwise_program(lib, prof_mod):
    x = lib.ones(3, 4, requires_grad=True)
    with prof_mod.profile(record_shapes=True) as prof:
        y = (x * 2 + 1).mul(x).sum()
        y.backward()
    return prof


def counts(prof, keep):
    out = {}
    for e in prof.key_averages():
        if keep(e.key):
            out[e.key] = e.count
    return out


def test_forward_and_backward_events_match_torch_names_and_counts():
    mine = elementwise_program(C, C.autograd.profiler)
    ref = elementwise_program(torch, torch.autograd.profiler)
    # aten::add differs: the two gradients reaching x are summed by an add op in Cadenza's
    # engine, by PyTorch's InputBuffer outside its dispatcher
    names = {"aten::mul", "aten::sum", "MulBackward0", "AddBackward0",
             "SumBackward0", "autograd::engine::evaluate_function: MulBackward0",
             "autograd::engine::evaluate_function: SumBackward0",
             "torch::autograd::AccumulateGrad"}
    got, want = counts(mine, names.__contains__), counts(ref, names.__contains__)
    assert got == want, (got, want)
    assert counts(mine, "aten::add".__eq__) == {"aten::add": 2}
    assert state.profiler is None


def test_training_step_records_ops_backward_and_optimizer():
    m = C.nn.Linear(4, 3)
    opt = C.optim.SGD(m.parameters(), lr=0.1)
    with P.profile(activities=[P.ProfilerActivity.CPU]) as prof:
        opt.zero_grad()
        loss = C.nn.functional.mse_loss(m(C.randn(5, 4)), C.zeros(5, 3))
        loss.backward()
        opt.step()
    keys = [e.key for e in prof.key_averages()]
    assert "aten::linear" in keys and "Optimizer.step#SGD.step" in keys
    assert any(k.startswith("autograd::engine::evaluate_function: ") for k in keys)
    assert any(k.endswith("Backward0") for k in keys)
    step = next(e for e in prof.events() if e.name == "Optimizer.step#SGD.step")
    assert step.is_user_annotation and step.cpu_time_total >= step.self_cpu_time_total >= 0
    for e in prof.events():  # children lie inside their parents, on the same thread
        for c in e.cpu_children:
            assert e.time_range_start <= c.time_range_start <= c.time_range_end \
                <= e.time_range_end and c.thread == e.thread and c.cpu_parent is e


def test_random_creation_is_recorded():
    with P.profile(record_shapes=True) as prof:
        C.randn(2, 3)
        C.randint(0, 5, (4,))
        C.ones(2).normal_()
    keys = [e.key for e in prof.key_averages()]
    assert "aten::randn" in keys and "aten::randint" in keys


def test_table_has_pytorchs_columns_and_rows():
    x = C.randn(8, 8)
    with P.profile(record_shapes=True, profile_memory=True) as prof:
        for _ in range(3):
            x = C.matmul(x, x).tanh()
    ka = prof.key_averages()
    table = ka.table(sort_by="cpu_time_total", row_limit=10)
    lines = table.splitlines()
    header = lines[1]
    for col in ("Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg",
                "CPU Mem", "Self CPU Mem", "# of Calls"):
        assert col in header
    assert "Input Shapes" not in header
    rows = {ln.split()[0]: ln for ln in lines[3:-2]}
    assert rows["aten::matmul"].split()[-1] == "3" and rows["aten::tanh"].split()[-1] == "3"
    assert "768 B" in rows["aten::matmul"]  # 3 outputs of 8x8 float32
    assert lines[-1].startswith("Self CPU time total: ") and lines[-2] == lines[0]
    by_shape = prof.key_averages(group_by_input_shape=True).table(row_limit=2)
    assert "Input Shapes" in by_shape.splitlines()[1] and "[[8, 8], [8, 8]]" in by_shape
    assert len(by_shape.splitlines()) == 3 + 2 + 2
    totals = [e.cpu_time_total for e in ka]
    ordered = [float(ln.split()[3].rstrip("%")) for ln in lines[3:-2]]
    assert ordered == sorted(ordered, reverse=True) and len(totals) == 2
    # GPU programs' sort keys work (device times are 0: kernels run on the host)
    assert ka.table(sort_by="cuda_time_total").splitlines()[3:-2] == \
        ka.table().splitlines()[3:-2]
    assert ka[0].self_cuda_time_total == 0 and prof.events()[0].device_time_total == 0
    with pytest.raises(ValueError, match="sort_by"):
        ka.table(sort_by="gpu_time")


def test_chrome_trace_is_valid_and_ranges_contain_their_ops(tmp_path):
    with P.profile(record_shapes=True) as prof:
        with P.record_function("outer"):
            with P.record_function("inner"):
                C.ones(2, 3).exp()
            C.ones(2).neg()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    trace = json.loads(path.read_text())
    ev = {e["name"]: e for e in trace["traceEvents"]}
    assert all(e["ph"] == "X" and e["dur"] >= 0 for e in trace["traceEvents"])
    outer, inner, exp, neg = ev["outer"], ev["inner"], ev["aten::exp"], ev["aten::neg"]

    def inside(a, b):
        return b["ts"] <= a["ts"] and a["ts"] + a["dur"] <= b["ts"] + b["dur"] + 1e-3

    assert inside(exp, inner) and inside(inner, outer) and inside(neg, outer)
    assert not inside(neg, inner)
    assert exp["args"]["Input Dims"] == [[2, 3]] and outer["cat"] == "user_annotation"
    assert abs(outer["ts"] / 1e6 - __import__("time").time()) < 600  # microseconds, absolute
    by_name = {e.name: e for e in prof.events()}
    assert by_name["aten::exp"].cpu_parent is by_name["inner"]


def test_record_function_decorator_and_autograd_aliases():
    @C.profiler.record_function("my_fn")
    def f(x):
        return x.sin()

    with C.autograd.profiler.profile() as prof:
        f(C.ones(2))
        f(C.ones(2))
    avg = {e.key: e for e in prof.key_averages()}
    assert avg["my_fn"].count == 2 and avg["aten::sin"].count == 2
    assert C.autograd.profiler.record_function is P.record_function
    f(C.ones(2))  # no profiler: the range costs nothing and records nothing
    assert state.profiler is None


def test_schedule_matches_torch():
    for kw in (dict(wait=1, warmup=1, active=2), dict(wait=0, warmup=0, active=1, repeat=2),
               dict(wait=2, warmup=1, active=3, repeat=1, skip_first=3)):
        mine, ref = P.schedule(**kw), torch.profiler.schedule(**kw)
        assert [mine(i).name for i in range(20)] == [ref(i).name for i in range(20)], kw


def run_scheduled(lib, n_steps, tmp, **kw):
    cycles = []

    def ready(prof):
        steps = [e.name for e in prof.events() if e.name.startswith("ProfilerStep")]
        avg = {e.key: e.count for e in prof.key_averages()}
        path = os.path.join(tmp, f"{prof.step_num}.json")
        prof.export_chrome_trace(path)
        with open(path) as fh:
            traced = sorted(e["name"] for e in json.load(fh)["traceEvents"]
                            if e["name"].startswith("ProfilerStep"))
        cycles.append((prof.step_num, steps, traced, avg.get("ProfilerStep*", 0),
                       avg.get("aten::mul", 0)))

    x = lib.ones(4)
    with lib.profiler.profile(activities=[lib.profiler.ProfilerActivity.CPU],
                              schedule=lib.profiler.schedule(**kw),
                              on_trace_ready=ready) as prof:
        for _ in range(n_steps):
            x = x * 1.0
            prof.step()
    return cycles


@pytest.mark.parametrize("kw,n", [(dict(wait=1, warmup=1, active=2, repeat=2), 10),
                                  (dict(wait=1, warmup=0, active=1), 5),
                                  (dict(wait=0, warmup=1, active=3), 6)])
def test_scheduled_cycles_match_torch(kw, n, tmp_path):
    assert run_scheduled(C, n, str(tmp_path), **kw) == run_scheduled(torch, n, str(tmp_path),
                                                                      **kw)


def test_tensorboard_trace_handler_writes_chrome_traces(tmp_path):
    handler = P.tensorboard_trace_handler(str(tmp_path / "tb"), worker_name="w0")
    with P.profile(schedule=P.schedule(wait=0, warmup=0, active=1, repeat=2),
                   on_trace_ready=handler) as prof:
        for _ in range(3):
            C.ones(3).exp()
            prof.step()
    files = sorted(os.listdir(tmp_path / "tb"))
    assert len(files) == 2 and all(f.startswith("w0.") and f.endswith(".pt.trace.json")
                                   for f in files)
    trace = json.loads((tmp_path / "tb" / files[0]).read_text())
    names = [e["name"] for e in trace["traceEvents"]]
    assert "aten::exp" in names and "ProfilerStep#0" in names


def test_profiler_state_is_cleared_after_errors_and_nesting_is_refused():
    with pytest.raises(ZeroDivisionError):
        with P.profile():
            with P.record_function("boom"):
                1 / 0
    assert state.profiler is None
    with P.profile() as outer:
        with pytest.raises(RuntimeError, match="already recording"):
            with P.profile():
                pass
        C.ones(1).exp()
    assert state.profiler is None and "aten::exp" in [e.key for e in outer.key_averages()]
    with pytest.raises(RuntimeError, match="no results"):
        P.profile().key_averages()


def _first_statement(fn):
    body = ast.parse(inspect.getsource(fn).strip()).body[0].body
    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return body[0]


def test_inactive_hooks_are_one_branch():
    """When no profile records (and no other hook of apply is on: autocast, anomaly detection,
    a tracer), ops.apply pays one attribute load and a branch for all of them."""
    first = _first_statement(_registry.apply)
    assert isinstance(first, ast.If)
    assert ast.unparse(first.test) == "_state.plain"
    assert state.plain
    with P.profile():
        assert not state.plain
    assert state.plain
    src = inspect.getsource(engine.run_backward)
    assert src.count("profiler = state._profiler") == 1  # read once per walk
    assert src.count("profiler is not None") == 2  # once per node kind, nothing more
    assert state.profiler is None


def test_results_are_numerically_unchanged_by_profiling():
    C.manual_seed(0)
    m = C.nn.Sequential(C.nn.Linear(3, 5), C.nn.Tanh(), C.nn.Linear(5, 1))
    x = C.randn(4, 3)
    m(x).sum().backward()
    g0 = [p.grad.numpy().copy() for p in m.parameters()]
    m.zero_grad()
    with P.profile():
        out = m(x).sum()
        out.backward()
    for a, p in zip(g0, m.parameters()):
        np.testing.assert_array_equal(a, p.grad.numpy())


def test_with_stack_points_at_the_user_line_and_groups_by_it(tmp_path):
    with P.profile(with_stack=True) as prof:
        C.ones(2).exp()  # the line the stack names
    ev = next(e for e in prof.events() if e.name == "aten::exp")
    assert len(ev.stack) == 1 and ev.stack[0].startswith(__file__)
    assert "test_with_stack" in ev.stack[0]
    table = prof.key_averages(group_by_stack_n=1).table(row_limit=5)
    assert "Source Location" in table.splitlines()[1]
    path = tmp_path / "stacks.txt"
    prof.export_stacks(str(path))
    lines = path.read_text().splitlines()
    assert any(line.rsplit(" ", 1)[0].endswith(";aten::exp") for line in lines)


def test_compiled_calls_appear_as_one_range():
    f = C.compile(lambda x: (x * 2).exp().sum(), backend="numpy")
    x = C.ones(3)
    f(x)  # compile outside the profile
    with P.profile() as prof:
        f(x)
    keys = [e.key for e in prof.key_averages()]
    assert any(k.startswith("Torch-Compiled Region: ") for k in keys), keys

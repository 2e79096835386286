"""The Graph IR, verify(), and the passes on printed graphs before and after."""
import pytest

import cadenza
from cadenza.graph import verify
from cadenza.graph.ir import Graph
from cadenza.graph.interpret import run
from cadenza.graph.passes import eliminate_common_subexpressions as cse
from cadenza.graph.passes import eliminate_dead_code as dce
from cadenza.graph.pipeline import PASSES, optimize
from cadenza.graph.trace import trace
from cadenza.graph.verify import GraphError
from cadenza.ops.binary import Add, Mul


def _body(g):
    """The printed graph without source comments (line numbers move when this file changes)."""
    return "\n".join(line.split("  #")[0] for line in str(g).splitlines())


def test_dead_code_elimination_keeps_random_draws():
    def f(x):
        x.exp()                                  # dead
        cadenza.rand(2)                          # dead but draws: kept
        return x + 1
    g = verify(trace(f, cadenza.ones(2)))
    assert _body(g) == (
        "graph(\n"
        "    %0: f32[2] = input(x)\n"
        "    %1: f32[2] = exp(%0)\n"
        "    %2: f32[2] = random.rand(2)\n"
        "    %3: f32[2] = add(%0, 1)\n"
        "    return (out0=%3)\n"
        ")")
    after = verify(dce.run(g))
    assert _body(after) == (
        "graph(\n"
        "    %0: f32[2] = input(x)\n"
        "    %2: f32[2] = random.rand(2)\n"
        "    %3: f32[2] = add(%0, 1)\n"
        "    return (out0=%3)\n"
        ")")
    assert len(g.nodes) == 4  # the pass returned a new graph


def test_common_subexpression_elimination():
    def f(x):
        a = x * 2
        b = x * 2
        c = x * 0.0
        d = x * -0.0                             # equal to 0.0 but a different result
        return a + b, c + d
    g = verify(trace(f, cadenza.ones(3)))
    after = verify(cse.run(g))
    assert _body(after) == (
        "graph(\n"
        "    %0: f32[3] = input(x)\n"
        "    %1: f32[3] = mul(%0, 2)\n"
        "    %3: f32[3] = mul(%0, 0.0)\n"
        "    %4: f32[3] = mul(%0, -0.0)\n"
        "    %5: f32[3] = add(%1, %1)\n"
        "    %6: f32[3] = add(%3, %4)\n"
        "    return (out0=%5, out1=%6)\n"
        ")")
    x = cadenza.arange(3.0)
    assert [a.tolist() for a in run(after, [x._data])] == [[0.0, 4.0, 8.0], [0.0, 0.0, 0.0]]


def test_cse_never_merges_random_nodes():
    g = trace(lambda x: cadenza.rand(3) + cadenza.rand(3) + x, cadenza.ones(3))
    assert str(cse.run(g)).count("random.rand") == 2


def test_pipeline_order_and_verify_after_each_pass(capsys, monkeypatch):
    assert [n for n, _ in PASSES] == [
        "eliminate_dead_code", "eliminate_common_subexpressions", "fold_constants",
        "simplify_algebra", "combine_padded_sums", "gate_before_pool_gradient",
        "fuse_conv_relu", "fuse_pool_weight_grad", "eliminate_dead_code", "fuse_elementwise",
        "fuse_reductions", "fuse_gemm_epilogue", "plan_memory"]
    monkeypatch.setenv("CADENZA_DEBUG", "2")
    g = trace(lambda x: (x.exp(), (x + 1) * (x + 1))[1], cadenza.ones(2))
    out = optimize(g, check=True)
    printed = capsys.readouterr().out
    assert "after eliminate_dead_code" in printed and "after eliminate_common" in printed
    assert "exp" not in str(out) and str(out).count("add") == 1


def test_verify_rejects_use_before_definition_and_wrong_types():
    g = Graph()
    x = g.add_node("input", [], {}, (2,), "float32", name="x")
    y = g.add_node(Add, [x, 1.0], {}, (2,), "float32")
    g.add_output(y, "out=")
    verify(g)
    g.nodes.reverse()
    with pytest.raises(GraphError, match="before its definition"):
        verify(g)
    g2 = Graph()
    x = g2.add_node("input", [], {}, (2,), "float32", name="x")
    g2.add_node(Mul, [x, x], {}, (3,), "float32")
    with pytest.raises(GraphError, match="recorded type"):
        verify(g2)
    g3 = Graph()
    x = g3.add_node("input", [], {}, (2,), "float32", name="x")
    g3.add_output(g3.new_value((2,), "float32"), "out=")
    with pytest.raises(GraphError, match="not defined"):
        verify(g3)


def test_printing_and_dot():
    g = trace(lambda x, w: (x @ w).sum(), cadenza.ones(2, 3), cadenza.ones(3, 1))
    text = str(g)
    assert "%2: f32[2, 1] = matmul(%0, %1)  # test_graph.py:" in text
    dot = g.to_dot()
    assert dot.startswith("digraph cadenza {") and "v0 -> v2;" in dot


def test_ref_filler_equals_substitute_refs():
    """The interpreter's per-node filler (built once) gives what substitute_refs gives."""
    import numpy as np
    from cadenza.graph.ir import Ref, ref_filler, substitute_refs
    arrays = [np.arange(3), 7, "x"]
    cases = [{"index": (0, slice(None), Ref(1))}, {"a": [Ref(0), (Ref(2), 3)], "b": 5},
             {"k": 1}, (Ref(1),), [1, 2], {"i": ((Ref(0),),), "j": [None]}, Ref(2), 3.5]
    for c in cases:
        got, want = ref_filler(c)(arrays), substitute_refs(c, arrays)
        assert repr(got) == repr(want) and type(got) is type(want), c
    c = {"index": (Ref(0),)}
    fill = ref_filler(c)
    assert fill([1])["index"] == (1,) and fill([2])["index"] == (2,)   # fresh per call
    assert c == {"index": (c["index"][0],)} and isinstance(c["index"][0], Ref)  # unchanged

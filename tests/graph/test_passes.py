"""fold_constants and simplify_algebra on printed graphs before and after, verify() after each
pass, and compiled results equal to eager (bitwise for a whole training step)."""
import numpy as np

import cadenza
import cadenza.nn as nn
import cadenza.nn.functional as F
import cadenza.optim as optim
from cadenza.graph import verify
from cadenza.graph.interpret import run
from cadenza.graph.ir import Graph
from cadenza.graph.passes import eliminate_dead_code as dce
from cadenza.graph.passes import fold_constants as fold
from cadenza.graph.passes import simplify_algebra as simplify
from cadenza.graph.pipeline import optimize
from cadenza.graph.trace import trace
from cadenza.ops.binary import Add, Mul
from cadenza.ops.views import Permute, Reshape


def _body(g):
    """The printed graph without source comments (line numbers move when this file changes)."""
    return "\n".join(line.split("  #")[0] for line in str(g).splitlines())


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# ---------------------------------------------------------------------------- fold_constants
def test_fold_constants_folds_chains_and_keeps_random_and_inputs():
    def f(x):
        c = (cadenza.tensor([1.0, 2.0, 3.0]) * 2).exp()    # const chain: folds
        return x + c + cadenza.rand(3) * cadenza.ones(3).sum()
    g = verify(trace(f, cadenza.ones(3)))
    assert _body(g) == (
        "graph(\n"
        "    %0: f32[3] = input(x)\n"
        "    %1: f32[3] = const(<array f32[3]>)\n"
        "    %2: f32[3] = mul(%1, 2)\n"
        "    %3: f32[3] = exp(%2)\n"
        "    %4: f32[3] = add(%0, %3)\n"
        "    %5: f32[3] = random.rand(3)\n"
        "    %6: f32[3] = const(<array f32[3]>)\n"
        "    %7: f32[] = sum(%6, dims=None, keepdim=False, dtype=None)\n"
        "    %8: f32[3] = mul(%5, %7)\n"
        "    %9: f32[3] = add(%4, %8)\n"
        "    return (out0=%9)\n"
        ")")
    x = np.arange(3, dtype=np.float32)
    cadenza.manual_seed(1)
    want = run(g, [x])[0]
    folded = verify(fold.run(g))
    assert _body(folded) == (
        "graph(\n"
        "    %0: f32[3] = input(x)\n"
        "    %1: f32[3] = const(<array f32[3]>)\n"
        "    %2: f32[3] = const(<array f32[3]>)\n"
        "    %3: f32[3] = const(<array f32[3]>)\n"
        "    %4: f32[3] = add(%0, %3)\n"
        "    %5: f32[3] = random.rand(3)\n"
        "    %6: f32[3] = const(<array f32[3]>)\n"
        "    %7: f32[] = const(3.0)\n"
        "    %8: f32[3] = mul(%5, %7)\n"
        "    %9: f32[3] = add(%4, %8)\n"
        "    return (out0=%9)\n"
        ")")
    after = verify(dce.run(folded))
    assert _body(after) == (
        "graph(\n"
        "    %0: f32[3] = input(x)\n"
        "    %3: f32[3] = const(<array f32[3]>)\n"
        "    %4: f32[3] = add(%0, %3)\n"
        "    %5: f32[3] = random.rand(3)\n"
        "    %7: f32[] = const(3.0)\n"
        "    %8: f32[3] = mul(%5, %7)\n"
        "    %9: f32[3] = add(%4, %8)\n"
        "    return (out0=%9)\n"
        ")")
    cadenza.manual_seed(1)
    assert _same(run(after, [x])[0], want)
    c3 = after.nodes[1].attrs["value"]
    assert c3.dtype == np.float32 and c3.base is None
    assert _same(c3, np.exp(np.array([1, 2, 3], np.float32) * 2))


def test_fold_constants_keeps_dtypes_and_shapes_exactly():
    def f(x):
        i = cadenza.arange(6).reshape(2, 3)          # int64 chain
        b = i > 2                                    # bool
        h = cadenza.ones(2, 3, dtype=cadenza.float64) / 3
        return x + i.sum(0), b, h * 1.5, i // 2
    g = verify(trace(f, cadenza.ones(3, dtype=cadenza.int64)))
    after = verify(dce.run(verify(fold.run(g))))
    kinds = [n.op for n in after.nodes]
    assert kinds.count("const") == 4 and len(after.nodes) == 6   # input, 4 consts, add(x, .)
    for n in after.nodes:
        if n.op == "const":
            v = n.attrs["value"]
            assert (v.shape, v.dtype) == (n.out.shape, n.out.dtype)
    x = np.array([1, 2, 3])
    for a, b in zip(run(g, [x]), run(after, [x])):
        assert _same(a, b)
    assert [v.dtype.name for v in after.outputs] == ["int64", "bool", "float64", "int64"]


def test_fold_constants_never_folds_host_nodes_or_what_uses_them():
    g = Graph()
    x = g.add_node("input", [], {}, (2,), "float64", name="x")
    c = g.add_node("const", [], {"value": np.array(3.0)}, (), "float64")
    h = g.add_node("host", [c], {"fn": lambda a: a * 2}, (), "float64")
    y = g.add_node(Mul, [h, 2.0], {}, (), "float64")
    z = g.add_node(Add, [x, y], {}, (2,), "float64")
    g.add_output(z, "out0=")
    before = _body(verify(g))
    after = verify(fold.run(g))
    assert _body(after) == before
    assert run(after, [np.ones(2)])[0].tolist() == [13.0, 13.0]


def test_fold_constants_does_not_bake_huge_broadcasts():
    def f(x):
        return x + cadenza.tensor(1.0).expand(512, 512)
    g = verify(trace(f, cadenza.ones(512, 512)))
    assert "expand" in str(verify(fold.run(g)))


def test_compiled_constant_result_is_not_shared_with_the_graph():
    @cadenza.compile
    def f(x):
        return x + 1, (cadenza.tensor([1.0, 2.0]) * 2)
    x = cadenza.ones(2)
    _, c = f(x)
    c.add_(100.0)                          # the caller owns its result
    _, c2 = f(x)
    assert c2.tolist() == [2.0, 4.0]


# ---------------------------------------------------------------------------- simplify_algebra
def test_simplify_arithmetic_identities():
    def f(x):
        y = x.exp()
        return (y * 1 - 0) / 1 * 2 + (-0.0), 1 * y + 0.0, y.float(), x * 1
    g = verify(trace(f, cadenza.ones(2, 3)))
    assert _body(g) == (
        "graph(\n"
        "    %0: f32[2, 3] = input(x)\n"
        "    %1: f32[2, 3] = exp(%0)\n"
        "    %2: f32[2, 3] = mul(%1, 1)\n"
        "    %3: f32[2, 3] = sub(%2, 0)\n"
        "    %4: f32[2, 3] = div(%3, 1)\n"
        "    %5: f32[2, 3] = mul(%4, 2)\n"
        "    %6: f32[2, 3] = add(%5, -0.0)\n"
        "    %7: f32[2, 3] = mul(%1, 1)\n"
        "    %8: f32[2, 3] = add(%7, 0.0)\n"
        "    %9: f32[2, 3] = mul(%0, 1)\n"
        "    return (out0=%6, out1=%8, out2=%1, out3=%9)\n"
        ")")
    after = verify(simplify.run(g))
    # %6 = %5 + -0.0 is exact and %5 is a fresh buffer: the output becomes %5.
    # %8 = y + 0.0 stays (-0.0 + 0.0 is +0.0); %9 = x * 1 stays (it would alias the input x).
    assert _body(after) == (
        "graph(\n"
        "    %0: f32[2, 3] = input(x)\n"
        "    %1: f32[2, 3] = exp(%0)\n"
        "    %5: f32[2, 3] = mul(%1, 2)\n"
        "    %8: f32[2, 3] = add(%1, 0.0)\n"
        "    %9: f32[2, 3] = mul(%0, 1)\n"
        "    return (out0=%5, out1=%8, out2=%1, out3=%9)\n"
        ")")
    x = np.array([[0.0, -1.0, 2.0], [-0.0, 1.5, -3.0]], np.float32)
    for a, b in zip(run(g, [x]), run(after, [x])):
        assert _same(a, b)


def test_simplify_never_loses_broadcast_or_promotion():
    def f(x, i):
        a = x * cadenza.ones(2, 3)            # broadcast [3] -> [2, 3]: kept
        b = (i * 1.0).exp()                   # int * 1.0 promotes: kept
        c = (i + 0).exp() - 0                 # int + 0 is exact; float - 0.0 too
        return a.sum() + b.sum() + c.sum()
    g = verify(trace(f, cadenza.ones(3), cadenza.arange(3)))
    after = verify(dce.run(verify(simplify.run(verify(fold.run(g))))))
    text = _body(after)
    assert "expand" in text or "mul(%0, %" in text          # the broadcast multiply is still there
    assert "sub(" not in text and "add(%1, 0)" not in text
    xs = [np.arange(3, dtype=np.float32), np.arange(3)]
    for a, b in zip(run(g, xs), run(after, xs)):
        assert _same(a, b)


def _shape_graph():
    g = Graph()
    x = g.add_node("input", [], {}, (2, 3, 4), "float32", name="x")
    p1 = g.add_node(Permute, [x], {"dims": (2, 0, 1)}, (4, 2, 3), "float32")
    p2 = g.add_node(Permute, [p1], {"dims": (1, 2, 0)}, (2, 3, 4), "float32")   # identity
    e = g.add_node(Mul, [p2, 2.0], {}, (2, 3, 4), "float32")
    q1 = g.add_node(Permute, [e], {"dims": (1, 0, 2)}, (3, 2, 4), "float32")
    q2 = g.add_node(Permute, [q1], {"dims": (0, 2, 1)}, (3, 4, 2), "float32")   # -> one
    r1 = g.add_node(Reshape, [e], {"shape": (6, 4)}, (6, 4), "float32")
    r2 = g.add_node(Reshape, [r1], {"shape": (24,)}, (24,), "float32")        # -> one
    r3 = g.add_node(Reshape, [e], {"shape": (2, 3, 4)}, (2, 3, 4), "float32")  # own shape
    t = g.add_node(Add, [r2, 0.5], {}, (24,), "float32")
    s = g.add_node(Add, [r3, 1.0], {}, (2, 3, 4), "float32")
    for v in (q2, t, s):
        g.add_output(v, f"out{len(g.outputs)}=")
    return g


def test_simplify_permutes_and_reshapes():
    g = verify(_shape_graph())
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    want = run(g, [x])
    assert _body(g) == (
        "graph(\n"
        "    %0: f32[2, 3, 4] = input(x)\n"
        "    %1: f32[4, 2, 3] = permute(%0, dims=(2, 0, 1))\n"
        "    %2: f32[2, 3, 4] = permute(%1, dims=(1, 2, 0))\n"
        "    %3: f32[2, 3, 4] = mul(%2, 2.0)\n"
        "    %4: f32[3, 2, 4] = permute(%3, dims=(1, 0, 2))\n"
        "    %5: f32[3, 4, 2] = permute(%4, dims=(0, 2, 1))\n"
        "    %6: f32[6, 4] = reshape(%3, shape=(6, 4))\n"
        "    %7: f32[24] = reshape(%6, shape=(24,))\n"
        "    %8: f32[2, 3, 4] = reshape(%3, shape=(2, 3, 4))\n"
        "    %9: f32[24] = add(%7, 0.5)\n"
        "    %10: f32[2, 3, 4] = add(%8, 1.0)\n"
        "    return (out0=%5, out1=%9, out2=%10)\n"
        ")")
    simplified = verify(simplify.run(g))
    assert _body(simplified) == (
        "graph(\n"
        "    %0: f32[2, 3, 4] = input(x)\n"
        "    %1: f32[4, 2, 3] = permute(%0, dims=(2, 0, 1))\n"
        "    %3: f32[2, 3, 4] = mul(%0, 2.0)\n"
        "    %4: f32[3, 2, 4] = permute(%3, dims=(1, 0, 2))\n"
        "    %5: f32[3, 4, 2] = permute(%3, dims=(1, 2, 0))\n"
        "    %6: f32[6, 4] = reshape(%3, shape=(6, 4))\n"
        "    %7: f32[24] = reshape(%3, shape=(24,))\n"
        "    %9: f32[24] = add(%7, 0.5)\n"
        "    %10: f32[2, 3, 4] = add(%3, 1.0)\n"
        "    return (out0=%5, out1=%9, out2=%10)\n"
        ")")
    after = verify(dce.run(simplified))
    assert _body(after) == (
        "graph(\n"
        "    %0: f32[2, 3, 4] = input(x)\n"
        "    %3: f32[2, 3, 4] = mul(%0, 2.0)\n"
        "    %5: f32[3, 4, 2] = permute(%3, dims=(1, 2, 0))\n"
        "    %7: f32[24] = reshape(%3, shape=(24,))\n"
        "    %9: f32[24] = add(%7, 0.5)\n"
        "    %10: f32[2, 3, 4] = add(%3, 1.0)\n"
        "    return (out0=%5, out1=%9, out2=%10)\n"
        ")")
    for a, b in zip(want, run(after, [x])):
        assert _same(a, b)


def test_double_transpose_of_an_output_is_its_input():
    g = Graph()
    x = g.add_node("input", [], {}, (2, 3), "float64", name="x")
    y = g.add_node(Mul, [x, 3.0], {}, (2, 3), "float64")
    t1 = g.add_node(Permute, [y], {"dims": (1, 0)}, (3, 2), "float64")
    t2 = g.add_node(Permute, [t1], {"dims": (-1, -2)}, (2, 3), "float64")
    g.add_output(t2, "out0=")
    after = verify(dce.run(verify(simplify.run(verify(g)))))
    assert _body(after) == (
        "graph(\n"
        "    %0: f64[2, 3] = input(x)\n"
        "    %1: f64[2, 3] = mul(%0, 3.0)\n"
        "    return (out0=%1)\n"
        ")")


def test_no_new_aliasing_between_results():
    def f(x):
        y = x.exp()
        z = y * 1                               # z's view is returned, and y too: kept
        return z.t(), y, (x * 2).reshape(6).reshape(3, 2)
    g = verify(trace(f, cadenza.ones(2, 3)))
    after = verify(dce.run(verify(simplify.run(g))))
    assert "mul(%1, 1)" in str(after)
    cf = cadenza.compile(f)
    a, b, c = cf(cadenza.ones(2, 3))
    b.add_(1.0)
    assert a.tolist() == f(cadenza.ones(2, 3))[0].tolist()


# ---------------------------------------------------------------------------- compiled == eager
def test_compiled_equals_eager_with_the_whole_pipeline(monkeypatch):
    import cadenza.compiler.compiled as compiled_mod
    monkeypatch.setattr(compiled_mod, "optimize", lambda g: optimize(g, check=True))

    def f(x):
        return (x * 1 + 0).t().t().reshape(6).reshape(2, 3)

    def h(x):
        y = (x.exp() * 1).t().contiguous().t() * (cadenza.ones(2, 3) * 2 - 1)
        return y.reshape(3, 2).reshape(6) / 1 - 0, (cadenza.arange(4) * 3).sum()

    x = cadenza.tensor([[0.5, -0.0, 2.0], [-1.0, 3.0, 0.0]])
    for fn in (f, h):
        cf = cadenza.compile(fn)
        want, got = fn(x), cf(x)
        want = want if isinstance(want, tuple) else (want,)
        got = got if isinstance(got, tuple) else (got,)
        for a, b in zip(want, got):
            assert _same(a.numpy(), b.numpy())
        verify(cf.graph)


def test_training_step_bitwise_equal_to_eager_with_new_passes(monkeypatch):
    import cadenza.compiler.compiled as compiled_mod
    monkeypatch.setattr(compiled_mod, "optimize", lambda g: optimize(g, check=True))
    old = cadenza.get_default_dtype()
    cadenza.set_default_dtype(cadenza.float64)
    try:
        def make():
            cadenza.manual_seed(0)
            m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
            return m, optim.AdamW(m.parameters(), lr=1e-2, weight_decay=0.1)

        def step_fn(m, opt):
            def step(x, y):
                opt.zero_grad()
                scale = cadenza.tensor(4.0) / 4            # folds to a constant 1.0
                loss = F.cross_entropy(m(x * 1).t().t(), y) * scale + 0
                loss.backward()
                opt.step()
                return loss
            return step
        (m1, o1), (m2, o2) = make(), make()
        eager, compiled = step_fn(m1, o1), cadenza.compile(step_fn(m2, o2))
        rng = np.random.default_rng(0)
        for i in range(20):
            x = cadenza.tensor(rng.standard_normal((5, 4)))
            y = cadenza.tensor(rng.integers(0, 3, 5))
            assert _same(eager(x, y).detach().numpy(), compiled(x, y).detach().numpy()), i
        for p1, p2 in zip(m1.parameters(), m2.parameters()):
            assert _same(p1.detach().numpy(), p2.detach().numpy())
            assert _same(p1.grad.numpy(), p2.grad.numpy())
        verify(compiled.graph)
    finally:
        cadenza.set_default_dtype(old)


def test_combine_padded_sums_turns_split_gradients_into_one_concatenation():
    import numpy as np
    from cadenza.graph.passes import combine_padded_sums
    from cadenza.graph.verify import verify
    from cadenza.graph.interpret import Interpreter

    def f(x, a, b, c):
        # the gradient a split produces: each slice's gradient padded to the full size, summed
        return (cadenza.nn.functional.pad(a, (0, 0, 0, 8)) +
                cadenza.nn.functional.pad(b, (0, 0, 4, 4))) + \
            cadenza.nn.functional.pad(c, (0, 0, 8, 0)) + x * 0

    rng = np.random.default_rng(0)
    arrs = [rng.standard_normal(s).astype(np.float32) for s in
            [(2, 12, 3), (2, 4, 3), (2, 4, 3), (2, 4, 3)]]
    arrs[1][0, 0, 0] = -0.0          # eager turns it into +0.0 (-0.0 + 0.0): kept exact
    xs = [cadenza.from_numpy(a) for a in arrs]
    g = trace(f, *xs)
    g2 = verify(combine_padded_sums.run(g))
    text = str(g2)
    assert "cat(" in text and text.count("pad_constant") == 0
    want = f(*xs).numpy()
    got = Interpreter(g2)(arrs)[0]
    assert np.array_equal(got, want) and np.array_equal(np.signbit(got), np.signbit(want))


def _attention_split_step(dtype):
    """A q/k/v projection split into heads, attention, output projection: its backward sums
    the three slices' padded gradients (combine_padded_sums' attention pattern)."""
    cadenza.manual_seed(0)
    lin, proj = nn.Linear(16, 48).to(dtype), nn.Linear(16, 16).to(dtype)

    def step(x):
        B, T, C = x.shape
        qkv = lin(x).view(B, T, 12, 4).transpose(1, 2)
        q, k, v = qkv.split(4, dim=1)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        loss = proj(y.transpose(1, 2).reshape(B, T, C)).square().sum()
        loss.backward()
        return loss
    return [lin.weight, lin.bias, proj.weight], step


def test_combine_padded_sums_reads_attention_gradients_from_their_buffer():
    # float32 attention's backward returns dq|dk|dv in one flat buffer: no concatenation, the
    # "+ 0" kernel reads the buffer permuted into place and its result reshapes as a view;
    # float64 (attention decomposed) keeps the concatenation, written in C order: no copy at
    # its reshape. Both bitwise equal to eager.
    rng = np.random.default_rng(0)
    x64 = rng.standard_normal((2, 8, 16))
    x64[0, 0, :] = -0.0
    for dtype, cats in ((cadenza.float32, 0), (cadenza.float64, 1)):
        x = cadenza.from_numpy(x64).to(dtype)
        grads = []
        for compiled in (False, True):
            params, step = _attention_split_step(dtype)
            f = cadenza.compile(step) if compiled else step
            for _ in range(2):
                for p in params:
                    p.grad = None
                f(x)
            grads.append([p.grad.numpy().copy() for p in params])
        for a, b in zip(*grads):
            assert _same(a, b)
        g = f.cache[-1].run_graph.graph
        text = _body(g)
        assert text.count(" cat(") == cats, text
        # the gradient of qkv (B*T, 48) is a view of a kernel's C-ordered output, not a copy
        (r,) = [n for n in g.nodes if n.op is Reshape and n.out.shape == (16, 48)]
        assert r.inputs[0].order is None

"""Programs (codegen/program.py): runs of kernel calls of a compiled graph as one C function.
A decoding-like step (layer norm, single-row products with epilogues, attention over a cache
window with a bool mask, views between them) runs as programs and gives eager's values bit for
bit; outputs that are views of a program's values survive the next call; an input of another
layout runs the nodes' closures; CADENZA_PROGRAMS=0 (``c_programs``) turns programs off."""
import numpy as np
import pytest

import cadenza
import cadenza.nn.functional as F
from cadenza.backend import ckernels
from cadenza.codegen import executor, gemv, program

from _cc import require_cc


def _need():
    require_cc()
    if gemv.library() is None or ckernels.attention_kernels() is None:
        pytest.skip("no gemv library or attention kernels")


def _params(seed=0):
    g = np.random.default_rng(seed)
    r = lambda *s: cadenza.from_numpy(g.standard_normal(s).astype(np.float32) * 0.1)  # noqa
    return dict(ln_w=r(32), ln_b=r(32), w_qkv=r(96, 32), b_qkv=r(96), w_o=r(32, 32), b_o=r(32),
                w_fc=r(64, 32), b_fc=r(64), w_p=r(32, 64))


def _step(p):
    def step(x, ck, cv, mask):            # x (1, 1, 32); ck, cv (1, 2, 24, 16) cache windows
        h = F.layer_norm(x, (32,), p["ln_w"], p["ln_b"])
        qkv = F.linear(h.reshape(1, 32), p["w_qkv"], p["b_qkv"]).reshape(1, 1, 96)
        q = qkv.view(1, 1, 6, 16).transpose(1, 2)[:, :2]                 # (1, 2, 1, 16)
        a = F.scaled_dot_product_attention(q, ck, cv, attn_mask=mask)
        x = x + F.linear(a.reshape(1, 32), p["w_o"], p["b_o"]).reshape(1, 1, 32)
        f = F.gelu(F.linear(x.reshape(1, 32), p["w_fc"], p["b_fc"]), approximate="tanh")
        y = x + F.linear(f, p["w_p"]).reshape(1, 1, 32)
        return y, qkv.view(1, 1, 6, 16)[:, :, 2:4]      # an output viewing a product
    return step


def _args(seed, cache=40):
    g = np.random.default_rng(seed)
    f32 = lambda *s: g.standard_normal(s).astype(np.float32)  # noqa: E731
    ck, cv = cadenza.from_numpy(f32(1, 2, cache, 16)), cadenza.from_numpy(f32(1, 2, cache, 16))
    mask = cadenza.from_numpy((np.arange(24) <= 10 + seed)[None])
    return cadenza.from_numpy(f32(1, 1, 32)), ck[:, :, :24], cv[:, :, :24], mask


def _programs(cf):
    nodes = getattr(cf.cache[-1].run_graph, "step_nodes", None) or []
    return [n for n in nodes if isinstance(n, program.ProgramNode)]


def test_decode_like_step_runs_as_programs_equal_to_eager():
    _need()
    step = _step(_params())
    cf = cadenza.compile(step)
    held = []
    for i in range(4):
        args = _args(i)
        want = step(*args)
        got = cf(*args)
        for g, w in zip(got, want):
            assert g.shape == w.shape and np.array_equal(g.numpy(), w.numpy())
        held.append((got[1].numpy().copy(), got[1]))
    progs = _programs(cf)
    assert progs and sum(len(p.segment.calls) for p in progs) >= 5
    for copy, t in held:            # later calls did not write over an earlier call's output
        assert np.array_equal(t.numpy(), copy)
    prof = cf.profile(*_args(7), calls=1)
    assert "program" in str(prof)


def test_other_layout_runs_the_closures_and_programs_off_agree(monkeypatch):
    _need()
    step = _step(_params(1))
    cf = cadenza.compile(step)
    x, ck, cv, mask = _args(0)
    cf(x, ck, cv, mask)
    cf(x, ck, cv, mask)
    assert _programs(cf)
    xs = cadenza.from_numpy(np.random.default_rng(3).standard_normal((1, 1, 64))
                            .astype(np.float32))[:, :, ::2]       # (1, 1, 32), stride 2
    want = step(xs, ck, cv, mask)
    got = cf(xs, ck, cv, mask)
    for g, w in zip(got, want):
        assert np.array_equal(g.numpy(), w.numpy())
    monkeypatch.setattr(executor, "c_programs", lambda: False)
    off = cadenza.compile(step)
    for _ in range(2):
        for g, w in zip(off(x, ck, cv, mask), cf(x, ck, cv, mask)):
            assert np.array_equal(g.numpy(), w.numpy())
    assert not _programs(off)


def test_static_views_and_layouts():
    """A view's layout comes from running its forward on a stand-in of its input's layout;
    a reshape NumPy would copy is no view."""
    from cadenza.graph.ir import Node, Value
    from cadenza.ops import REGISTRY
    x = Value(1, (4, 6), np.float32)
    lays = {1: program._root_lay(x)}
    t = Node(REGISTRY["permute"], [x], {"dims": (1, 0)}, Value(2, (6, 4), np.float32))
    lay = program._view_lay(t, lays)
    assert lay.root == 1 and lay.off == 0 and lay.strides == (4, 24) and not lay.contiguous()
    lays[2] = lay
    r = Node(REGISTRY["reshape"], [t.out], {"shape": (24,)}, Value(3, (24,), np.float32))
    assert program._view_lay(r, lays) is None           # a copy in NumPy


def test_index_write_into_a_cache_in_place_and_out_of_range():
    """An in-place index write at a run-time position (a KV cache) inside a program: the
    caller's buffer takes the values; a position out of range runs the closures, which raise
    eager's IndexError."""
    _need()
    g = np.random.default_rng(4)
    w1 = cadenza.from_numpy(g.standard_normal((24, 16)).astype(np.float32))
    w2 = cadenza.from_numpy(g.standard_normal((8, 24)).astype(np.float32))

    def step(x, cache, pos):          # x (1, 16); cache (2, 10, 3, 8); pos 0-d int64
        positions = pos + cadenza.arange(1)
        h = F.layer_norm(F.linear(x, w1), (24,))
        kv = F.linear(h, w2).reshape(1, 8)
        cache[1, positions] = kv.expand(3, 8).reshape(1, 3, 8)
        y = F.linear(h, w2)
        return y + cache[1, :4].sum()

    cf = cadenza.compile(step)
    ref = cadenza.zeros(2, 10, 3, 8)
    got = cadenza.zeros(2, 10, 3, 8)
    for i in range(4):
        x = cadenza.from_numpy(g.standard_normal((1, 16)).astype(np.float32))
        want = step(x, ref, cadenza.tensor(i))
        out = cf(x, got, cadenza.tensor(i))
        assert np.array_equal(out.numpy(), want.numpy())
        assert np.array_equal(got.numpy(), ref.numpy())
    assert any(c.node.op_name == "index_put" for p in _programs(cf) for c in p.segment.calls)
    with pytest.raises(IndexError):
        step(x, ref, cadenza.tensor(12))
    with pytest.raises(IndexError):
        cf(x, got, cadenza.tensor(12))


def test_programs_the_compiler_refuses_leave_the_kernels(monkeypatch):
    _need()
    monkeypatch.setattr(program, "source", lambda segs: "\n#error refused\n" if segs else "")
    step = _step(_params(2))
    cf = cadenza.compile(step)
    for i in range(2):
        args = _args(i)
        for g, w in zip(cf(*args), step(*args)):
            assert np.array_equal(g.numpy(), w.numpy())
    assert not _programs(cf) and type(cf.cache[-1].run_graph) is executor.KernelRunner

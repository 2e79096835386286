"""Compiled decoding with the KV cache written in place (issue 12, W2):
``GPT.forward_step(..., inplace=True)`` writes each step's keys/values into the caller's cache
tensors; compiled, the index writes run in place (``graph/passes/write_in_place.py``) instead of
copying the cache. Checked against eager decoding (greedy tokens, logits, cache contents), on
the C backend and the NumPy interpreter; the caller's buffers see every write, replays never
show stale values, and a changed cache shape or dtype still recompiles."""
import numpy as np
import pytest

import cadenza
from cadenza.models.gpt import GPT, GPTConfig

SMALL = dict(vocab_size=64, block_size=32, n_layer=2, n_head=4, n_embd=32)
CONFIGS = {
    "gpt2": dict(SMALL),
    "llama": dict(SMALL, n_kv_head=2, mlp="swiglu", norm="rmsnorm", pos="rope", bias=False),
}
BACKENDS = ["c", "numpy"]


def _model(name, dtype=None):
    cadenza.manual_seed(0)
    model = GPT(GPTConfig(**CONFIGS[name])).eval()
    if dtype is not None:
        model = model.to(dtype)
    return model


def _decode(model, step, n, S=24, inplace=True, dtype=None):
    """Greedy decoding through ``step`` (forward_step or its compiled form): tokens, the
    logits of every call and the final caches."""
    prompt = cadenza.from_numpy(np.random.default_rng(0).integers(0, 64, (1, 5)))
    kw = dict(inplace=True) if inplace else {}
    with cadenza.no_grad():
        pk, pv = model.empty_cache(1, S, dtype=dtype)
        logits, k2, v2 = step(prompt, pk, pv, cadenza.tensor(0), **kw)
        if inplace:
            assert k2 is pk and v2 is pv        # the caller's tensors, written in place
        pk, pv = k2, v2
        tokens, all_logits = [], [logits.numpy().copy()]
        for t in range(n):
            nxt = logits[:, -1, :].argmax(dim=-1, keepdim=True)
            tokens.append(int(nxt.item()))
            logits, k2, v2 = step(nxt, pk, pv, cadenza.tensor(5 + t), **kw)
            if inplace:
                assert k2 is pk and v2 is pv
            pk, pv = k2, v2
            all_logits.append(logits.numpy().copy())
    return tokens, all_logits, pk.numpy().copy(), pv.numpy().copy()


def _in_place_writes(step) -> int:
    return max(len(s.run_graph.write_into) for s in step.cache if s.run_graph is not None)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_compiled_inplace_decode_matches_eager(name, backend):
    model = _model(name)
    want = _decode(model, model.forward_step, 12, inplace=False)
    eager_inplace = _decode(model, model.forward_step, 12)
    cadenza.compiler.reset_stats()
    step = cadenza.compile(model.forward_step, backend=backend)
    got = _decode(model, step, 12)
    stats = cadenza.compiler.stats()
    assert got[0] == want[0] == eager_inplace[0]
    for a, b, c in zip(got[1], want[1], eager_inplace[1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(c, b)     # in place or not, eager is the same maths
    for a, b in zip(got[2:], want[2:]):          # every slot written, none stale
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    # one graph for the prompt, one for every decode position; writes run in place
    assert stats["compiles"] == 2 and stats["cache_hits"] == 11
    assert _in_place_writes(step) == 2 * CONFIGS[name]["n_layer"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_float64_compiled_decode_is_bitwise_eager(backend):
    model = _model("gpt2", cadenza.float64)
    want = _decode(model, model.forward_step, 6, inplace=False, dtype=cadenza.float64)
    step = cadenza.compile(model.forward_step, backend=backend)
    got = _decode(model, step, 6, dtype=cadenza.float64)
    assert got[0] == want[0]
    for a, b in zip(got[1] + list(got[2:]), want[1] + list(want[2:])):
        if backend == "numpy":
            np.testing.assert_array_equal(a, b)
        else:   # the C backend's attention differs in the last bit (as without inplace)
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
def test_replay_writes_into_each_callers_cache(backend):
    """Two caches decoded alternately through one compiled step: each sees only its own
    writes (the graph writes into the buffers of this call's arguments, not the traced
    call's), and the other slots keep what the caller had there."""
    model = _model("gpt2")
    step = cadenza.compile(model.forward_step, backend=backend)
    with cadenza.no_grad():
        caches = [model.empty_cache(1, 16) for _ in range(2)]
        fill = [c.clone() for c in caches[1]]
        for c, f in zip(caches[1], fill):
            c.fill_(7.0)
            f.fill_(7.0)
        refs = [tuple(c.clone() for c in cache) for cache in caches]
        tok = [cadenza.tensor([[3]]), cadenza.tensor([[9]])]
        for pos in range(4):
            for j in range(2):
                logits, k, v = step(tok[j], *caches[j], cadenza.tensor(pos), inplace=True)
                want, rk, rv = model.forward_step(tok[j], *refs[j], cadenza.tensor(pos))
                refs[j] = (rk, rv)
                np.testing.assert_allclose(logits.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
        for cache, ref in zip(caches, refs):
            for c, r in zip(cache, ref):
                np.testing.assert_allclose(c.numpy(), r.numpy(), rtol=1e-5, atol=1e-6)
        # slots past the last position were never written: cache 1 still holds its 7s there
        assert (caches[1][0].numpy()[:, :, :, 4:] == 7.0).all()
    assert _in_place_writes(step) == 4


def test_cache_hit_guards_shape_and_dtype():
    model = _model("gpt2")
    cadenza.compiler.reset_stats()
    step = cadenza.compile(model.forward_step)
    with cadenza.no_grad():
        tok = cadenza.tensor([[1]])
        for S in (16, 16, 20, 16):          # another cache length is another graph
            pk, pv = model.empty_cache(1, S)
            logits, _, _ = step(tok, pk, pv, cadenza.tensor(2), inplace=True)
            want, wk, _ = model.forward_step(tok, *model.empty_cache(1, S), cadenza.tensor(2))
            np.testing.assert_allclose(logits.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(pk.numpy(), wk.numpy(), rtol=1e-5, atol=1e-6)
        assert cadenza.compiler.stats()["compiles"] == 2
        # a float64 cache is another specialisation: traced again, it fails as eager does
        # (the float32 model's queries meet float64 keys), not replayed with float32 buffers
        pk, pv = model.empty_cache(1, 16, dtype=cadenza.float64)
        with pytest.raises(cadenza.errors.DTypeError, match="one dtype"):
            step(tok, pk, pv, cadenza.tensor(2), inplace=True)
        with pytest.raises(cadenza.errors.DTypeError, match="one dtype"):
            model.forward_step(tok, pk, pv, cadenza.tensor(2), inplace=True)
        assert cadenza.compiler.stats()["compiles"] == 3
        hits = cadenza.compiler.stats()["cache_hits"]
        pk, pv = model.empty_cache(1, 16)
        step(tok, pk, pv, cadenza.tensor(2), inplace=True)
        assert cadenza.compiler.stats()["cache_hits"] == hits + 1
        # the out-of-place form is another specialisation and leaves the caches alone
        pk, pv = model.empty_cache(1, 16)
        _, k2, _ = step(tok, pk, pv, cadenza.tensor(2))
        assert k2 is not pk and not pk.numpy().any() and k2.numpy().any()


@pytest.mark.parametrize("backend", BACKENDS)
def test_out_of_place_index_write_leaves_its_input(backend):
    """index_put whose input is read again afterwards, or is not written back, must copy:
    the in-place analysis refuses both."""
    def f(c, k, pos):
        d = c.index_put((pos,), k)          # out of place: c is not changed by it
        e = c * 2 + d                        # the old c, read after the write
        return e, d

    def g(c, k, pos):
        d = c.index_put((pos,), k)
        s = c.sum()                          # old c read after the write
        c.copy_(d)                           # ...then c written back
        return s

    rng = np.random.default_rng(0)
    base = rng.standard_normal((6, 3)).astype(np.float32)
    cf, cg = cadenza.compile(f, backend=backend), cadenza.compile(g, backend=backend)
    for i in range(3):
        k = cadenza.from_numpy(rng.standard_normal((1, 3)).astype(np.float32))
        pos = cadenza.tensor([i])
        c = cadenza.from_numpy(base.copy())
        got = cf(c, k, pos)
        want = f(cadenza.from_numpy(base.copy()), k, pos)
        np.testing.assert_array_equal(c.numpy(), base)
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
        c, c2 = cadenza.from_numpy(base.copy()), cadenza.from_numpy(base.copy())
        np.testing.assert_array_equal(cg(c, k, pos).numpy(), g(c2, k, pos).numpy())
        np.testing.assert_array_equal(c.numpy(), c2.numpy())
    assert _in_place_writes(cf) == 0
    assert _in_place_writes(cg) == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_chained_writes_into_an_argument_run_in_place(backend):
    def f(c, k, pos):
        c[pos] = k
        c[pos + 1] = k * 2
        return c.sum(dim=1)

    rng = np.random.default_rng(1)
    step = cadenza.compile(f, backend=backend)
    c = cadenza.zeros(8, 3)
    ref = cadenza.zeros(8, 3)
    for i in range(0, 6, 2):
        k = cadenza.from_numpy(rng.standard_normal(3).astype(np.float32))
        np.testing.assert_array_equal(step(c, k, cadenza.tensor(i)).numpy(),
                                      f(ref, k, cadenza.tensor(i)).numpy())
        np.testing.assert_array_equal(c.numpy(), ref.numpy())
    assert _in_place_writes(step) == 2


def test_decode_sized_gelu_runs_as_a_kernel():
    """A lone GELU over a decoding step's 1 x 1024 activation is a kernel (its NumPy forward
    is several passes); a lone exp of that size stays one NumPy call."""
    from cadenza.graph.ir import Fused
    import cadenza.nn.functional as F
    x = cadenza.randn(1, 1024)
    for fn, fused in ((lambda t: F.gelu(t, approximate="tanh"), True),
                      (lambda t: F.gelu(t), True), (cadenza.exp, False)):
        step = cadenza.compile(fn)
        np.testing.assert_allclose(step(x).numpy(), fn(x).numpy(), rtol=1e-6, atol=1e-7)
        kinds = [isinstance(n.op, Fused) for n in step.graph.nodes if n.op != "input"]
        assert kinds == [fused]


@pytest.mark.parametrize("backend", BACKENDS)
def test_whole_greedy_step_compiled(backend):
    """The whole greedy step as one graph (bench/compiled.py's W2): forward_step writing the
    cache in place, argmax, and the position tensor advanced in place."""
    model = _model("llama")

    def greedy(tok, pk, pv, pos):
        logits, _, _ = model.forward_step(tok, pk, pv, pos, inplace=True)
        pos.add_(tok.shape[1])
        return logits[:, -1, :].argmax(dim=-1, keepdim=True)

    want = _decode(model, model.forward_step, 10, inplace=False)
    cadenza.compiler.reset_stats()
    step = cadenza.compile(greedy, backend=backend)
    prompt = cadenza.from_numpy(np.random.default_rng(0).integers(0, 64, (1, 5)))
    with cadenza.no_grad():
        pk, pv = model.empty_cache(1, 24)
        pos = cadenza.tensor(0)
        nxt = step(prompt, pk, pv, pos)
        tokens = []
        for _ in range(10):
            tokens.append(int(nxt.item()))
            nxt = step(nxt, pk, pv, pos)
    assert tokens == want[0] and int(pos) == 5 + 10
    np.testing.assert_allclose(pk.numpy(), want[2], rtol=1e-5, atol=1e-5)
    assert cadenza.compiler.stats()["compiles"] == 2
    assert _in_place_writes(step) == 2 * CONFIGS["llama"]["n_layer"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_attention_window_matches_full_cache(backend):
    """window: attention over the first W slots (pos + T <= W <= S) gives the full cache's
    logits (the slots past pos are masked either way); each window is its own graph."""
    model = _model("gpt2")
    step = cadenza.compile(model.forward_step, backend=backend)
    cadenza.compiler.reset_stats()
    with cadenza.no_grad():
        pk, pv = model.empty_cache(1, 24)
        rk, rv = model.empty_cache(1, 24)
        tok = cadenza.tensor([[1, 5, 7]])
        for pos, win in ((0, 8), (3, 8), (4, 8), (5, 16), (6, 24), (7, 8)):
            got, k2, _ = step(tok, pk, pv, cadenza.tensor(pos), inplace=True, window=win)
            want, rk, rv = model.forward_step(tok, rk, rv, cadenza.tensor(pos))
            assert k2 is pk
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(pk.numpy(), rk.numpy(), rtol=1e-5, atol=1e-6)
            tok = got[:, -1:, :].argmax(dim=-1)
        # (T, window): (3, 8), then (1, 8), (1, 16), (1, 24); (1, 8) again is a cache hit
        assert cadenza.compiler.stats()["compiles"] == 4
        with pytest.raises(ValueError, match="window"):
            model.forward_step(tok, pk, pv, cadenza.tensor(0), window=8)      # not inplace
        with pytest.raises(ValueError, match="window"):
            model.forward_step(tok, pk, pv, cadenza.tensor(0), inplace=True, window=25)

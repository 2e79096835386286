"""The fused attention primitive (cadenza/ops/attention.py, issue 12): float32
F.scaled_dot_product_attention runs one primitive whose C kernels give torch's forward and
gradients within rounding, for causal and explicit (bool/float) masks, grouped-query heads, odd
sizes and strided inputs; float64, dropout and a mask that needs a gradient keep the composite;
the NumPy form of the primitive (no kernels) agrees with the kernels; higher-order gradients,
compiled mode and ONNX export work through it."""
import numpy as np
import pytest

import cadenza
import cadenza.nn.functional as F
from cadenza.backend import ckernels
from cadenza.ops import attention as A
from cadenza.ops._registry import apply

torch = pytest.importorskip("torch")
TF = torch.nn.functional

needs_kernels = pytest.mark.skipif(ckernels.attention_kernels() is None,
                                   reason="no C compiler: the composite runs")
FUSED = "scaled_dot_product_attention"   # the primitive a node records (its shown name is
#                                         torch's ScaledDotProductFlashAttentionForCpuBackward0)


def _op(y):
    return getattr(y.grad_fn.op, "name", None)


def _rand(shape, seed, dt=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dt)


def _run(lib, q, k, v, g, **kw):
    """Output and (dq, dk, dv) of ``lib``'s sdpa for upstream g, and the recorded op."""
    FF = F if lib is cadenza else TF
    ts = [lib.from_numpy(x.copy()).requires_grad_() for x in (q, k, v)]
    kw = {n: (lib.from_numpy(m) if isinstance(m, np.ndarray) else m) for n, m in kw.items()}
    y = FF.scaled_dot_product_attention(*ts, **kw)
    y.backward(lib.from_numpy(g))
    return [y.detach().numpy()] + [t.grad.numpy() for t in ts], \
        _op(y) if lib is cadenza else None


def _close(ours, want, rtol=2e-5):
    for a, b in zip(ours, want):
        assert a.shape == b.shape and a.dtype == b.dtype
        # relative to the largest value (0.1 where a gradient is 0 up to rounding: T=1's dq)
        scale = max(float(np.abs(b).max()), 0.1)
        np.testing.assert_allclose(a, b, rtol=0, atol=rtol * scale)


CASES = {   # name: (q shape, k shape, v shape, keyword arguments)
    "plain": ((2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 6), {}),
    "causal_w1": ((2, 4, 128, 64), (2, 4, 128, 64), (2, 4, 128, 64), dict(is_causal=True)),
    "causal_odd": ((1, 2, 67, 24), (1, 2, 67, 24), (1, 2, 67, 24), dict(is_causal=True)),
    "causal_l_gt_s": ((2, 2, 9, 8), (2, 2, 5, 8), (2, 2, 5, 8), dict(is_causal=True)),
    "causal_l_lt_s": ((2, 2, 5, 8), (2, 2, 70, 8), (2, 2, 70, 8), dict(is_causal=True)),
    "t1": ((3, 2, 1, 16), (3, 2, 1, 16), (3, 2, 1, 16), dict(is_causal=True)),
    "decode": ((2, 4, 1, 16), (2, 4, 33, 16), (2, 4, 33, 16), {}),
    "long_keys": ((1, 1, 70, 40), (1, 1, 300, 40), (1, 1, 300, 17), dict(scale=0.3)),
    # a few query rows (<= 4): the forward's row-by-row path (keys read as stored)
    "few_rows_causal": ((1, 2, 3, 8), (1, 2, 70, 8), (1, 2, 70, 5), dict(is_causal=True)),
    "decode_gqa_mask": ((2, 4, 1, 16), (2, 2, 40, 16), (2, 2, 40, 16),
                        dict(enable_gqa=True, attn_mask=(np.arange(40) < 29)[None])),
    "few_rows_masked": ((1, 3, 2, 8), (1, 3, 9, 8), (1, 3, 9, 8),
                        dict(attn_mask=np.array([[False] * 9, [True] * 4 + [False] * 5]))),
    "unbatched": ((5, 8), (7, 8), (7, 3), {}),
    "3d": ((4, 6, 8), (4, 9, 8), (4, 9, 5), dict(is_causal=True)),
    "gqa": ((2, 6, 9, 16), (2, 2, 9, 16), (2, 2, 9, 16), dict(is_causal=True, enable_gqa=True)),
    "gqa_mask": ((2, 4, 9, 16), (2, 2, 11, 16), (2, 2, 11, 16),
                 dict(enable_gqa=True, attn_mask=np.random.default_rng(5).random((9, 11)) > 0.3)),
    "bool_mask": ((2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 6),
                  dict(attn_mask=np.random.default_rng(1).random((5, 7)) > 0.5)),
    "bool_mask_rows_masked": ((2, 3, 4, 8), (2, 3, 6, 8), (2, 3, 6, 6),
                              dict(attn_mask=np.array([[True] * 6, [False] * 6,
                                                       [True, False] * 3, [False] * 5 + [True]]))),
    "key_padding": ((2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 6),
                    dict(attn_mask=np.random.default_rng(2).random((2, 1, 1, 7)) > 0.3)),
    "float_mask": ((2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 6),
                   dict(attn_mask=_rand((3, 1, 7), 3))),
    "float_mask_full": ((2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 6),
                        dict(attn_mask=_rand((2, 3, 5, 7), 4))),
    "float_mask_inf": ((1, 2, 4, 8), (1, 2, 6, 8), (1, 2, 6, 8),
                       dict(attn_mask=np.where(np.random.default_rng(6).random((4, 6)) > 0.4,
                                               0.0, -np.inf).astype(np.float32))),
}


@needs_kernels
@pytest.mark.parametrize("case", sorted(CASES))
def test_forward_and_gradients_match_torch(case):
    qs, ks, vs, kw = CASES[case]
    q, k, v = _rand(qs, 10), _rand(ks, 11), _rand(vs, 12)
    g = _rand(qs[:-1] + vs[-1:], 13)
    ours, fn = _run(cadenza, q, k, v, g, **kw)
    want, _ = _run(torch, q, k, v, g, **kw)
    assert fn == FUSED
    _close(ours, want)


@needs_kernels
@pytest.mark.parametrize("keys", [3, 16])     # 16: the rows' whole-vector (AVX2) softmax
@pytest.mark.parametrize("kw", [dict(is_causal=True), {}, dict(attn_mask="pattern")])
def test_nan_and_inf_scores_give_nan_rows_as_the_composite(kw, keys, monkeypatch):
    if kw.get("attn_mask") == "pattern":   # the first row sees no key
        kw = dict(attn_mask=np.array([[False] * 18] + [[True, False, True] * 6] * 3)[:, :keys])
    q, k, v = _rand((1, 2, 4, 8), 80), _rand((1, 2, keys, 8), 81), _rand((1, 2, keys, 8), 82)
    q[0, 0, 1, 0] = np.nan
    q[0, 1, 2] = np.nan
    q[0, 1, 3, 0] = np.inf
    kw = {n: (cadenza.from_numpy(m) if isinstance(m, np.ndarray) else m) for n, m in kw.items()}
    args = [cadenza.from_numpy(x) for x in (q, k, v)]
    got = F.scaled_dot_product_attention(*args, **kw).numpy()
    monkeypatch.setattr(ckernels, "enabled", False)
    want = F.scaled_dot_product_attention(*args, **kw).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-5, atol=1e-6)


@needs_kernels
def test_strided_inputs_as_the_model_has_them():
    """q, k, v as head views of one (B, T, 3, H, D) projection and the upstream gradient as
    the (B, T, H, D) -> (B, H, T, D) view the model's output reshape hands back: the kernels
    read them without copies."""
    B, T, H, D = 2, 37, 3, 16
    qkv = _rand((B, T, 3 * H * D), 20)
    g = _rand((B, T, H * D), 21)
    res = []
    for lib in (cadenza, torch):
        x = lib.from_numpy(qkv.copy()).requires_grad_()
        heads = x.view(B, T, 3 * H, D).transpose(1, 2)
        q, k, v = heads[:, :H], heads[:, H:2 * H], heads[:, 2 * H:]
        y = (F if lib is cadenza else TF).scaled_dot_product_attention(q, k, v, is_causal=True)
        y.transpose(1, 2).reshape(B, T, H * D).backward(lib.from_numpy(g))
        res.append([y.detach().numpy(), x.grad.numpy()])
    _close(*res)


@needs_kernels
def test_float64_dropout_and_mask_grad_keep_the_composite():
    q = cadenza.from_numpy(_rand((2, 2, 5, 4), 30, np.float64)).requires_grad_()
    assert _op(F.scaled_dot_product_attention(q, q, q, is_causal=True)) != FUSED
    q32 = q.detach().float().requires_grad_()
    y = F.scaled_dot_product_attention(q32, q32, q32, dropout_p=0.5)
    assert _op(y) != FUSED
    m = cadenza.zeros(5, 5, requires_grad=True)
    y = F.scaled_dot_product_attention(q32, q32, q32, attn_mask=m)
    assert _op(y) != FUSED
    y.sum().backward()
    tq = torch.from_numpy(q32.detach().numpy()).requires_grad_()
    tm = torch.zeros(5, 5, requires_grad=True)
    TF.scaled_dot_product_attention(tq, tq, tq, attn_mask=tm).sum().backward()
    _close([m.grad.numpy(), q32.grad.numpy()], [tm.grad.numpy(), tq.grad.numpy()], 1e-5)


@pytest.mark.parametrize("case", ["causal_odd", "gqa_mask", "bool_mask_rows_masked",
                                  "float_mask"])
def test_numpy_form_equals_the_kernels(case, monkeypatch):
    """The primitive without C kernels (no compiler) computes the same values."""
    qs, ks, vs, kw = CASES[case]
    q, k, v = _rand(qs, 40), _rand(ks, 41), _rand(vs, 42)
    g = _rand(qs[:-1] + vs[-1:], 43)
    mask = kw.get("attn_mask")
    args = dict(scale=1 / np.sqrt(qs[-1]), causal=kw.get("is_causal", False))
    res = []
    for on in (True, False):
        monkeypatch.setattr(ckernels, "enabled", on)
        if on and ckernels.attention_kernels() is None:
            pytest.skip("no C compiler")
        res.append([A._forward(np, q, k, v, mask, **args),
                     A._backward(np, g, q, k, v, mask, **args)])
    _close(*res)


@needs_kernels
def test_double_backward_matches_torch():
    q, k, v = _rand((1, 2, 6, 4), 50), _rand((1, 2, 6, 4), 51), _rand((1, 2, 6, 4), 52)
    res = []
    for lib in (cadenza, torch):
        ts = [lib.from_numpy(x.copy()).requires_grad_() for x in (q, k, v)]
        if lib is cadenza:
            y = F.scaled_dot_product_attention(*ts, is_causal=True)
        else:   # torch's flash kernel has no double backward: its math backend
            from torch.nn.attention import SDPBackend, sdpa_kernel
            with sdpa_kernel(SDPBackend.MATH):
                y = TF.scaled_dot_product_attention(*ts, is_causal=True)
        gq, gk, gv = (lib.autograd.grad((y * y).sum(), ts, create_graph=True))
        (gq.sum() + (gk * gk).sum() + gv.sum()).backward()
        res.append([t.grad.numpy() for t in ts])
    _close(*res, rtol=1e-4)


@needs_kernels
@pytest.mark.parametrize("case", ["causal_w1", "gqa", "bool_mask"])
def test_compiled_training_step_equals_eager(case):
    qs, ks, vs, kw = CASES[case]
    arrays = [_rand(qs, 60), _rand(ks, 61), _rand(vs, 62)]
    g = cadenza.from_numpy(_rand(qs[:-1] + vs[-1:], 63))
    kw = {n: (cadenza.from_numpy(m) if isinstance(m, np.ndarray) else m) for n, m in kw.items()}

    def step(q, k, v):
        y = F.scaled_dot_product_attention(q, k, v, **kw)
        dq, dk, dv = cadenza.autograd.grad(y, (q, k, v), g)
        return y, dq, dk, dv

    def leaves():
        return [cadenza.from_numpy(a.copy()).requires_grad_() for a in arrays]
    compiled = cadenza.compile(step)
    for _ in range(2):
        got = [t.detach().numpy() for t in compiled(*leaves())]
    want = [t.detach().numpy() for t in step(*leaves())]
    _close(got, want, 1e-6)


@pytest.mark.parametrize("kernels", [True, False])
def test_merged_gradients_are_the_projections_layout(kernels, monkeypatch):
    """backward(merged=True) (set by graph/passes/combine_padded_sums.py) writes (dq, dk, dv)
    as the (B, L, 3, H, D) gradient of their projection, + 0 (no -0.0), kernels or NumPy."""
    monkeypatch.setattr(ckernels, "enabled", kernels)
    B, H, L, D = 2, 3, 19, 16
    q, k, v, g = (_rand((B, H, L, D), 90 + i) for i in range(4))
    args = dict(scale=0.25, causal=True)
    flat = A._backward(np, g, q, k, v, **args)
    n = q.size
    want = np.stack([flat[i * n:(i + 1) * n].reshape(q.shape).swapaxes(1, 2)
                     for i in range(3)], axis=2) + np.float32(0)
    got = A._backward(np, g, q, k, v, merged=True, **args).reshape(B, L, 3, H, D)
    np.testing.assert_array_equal(got, want)
    assert not np.signbit(got[got == 0]).any()
    with pytest.raises(ValueError, match="merged gradients need"):
        A._backward(np, g[:, :1], q[:, :1], k, v, merged=True, **args)


@needs_kernels
def test_compiled_projection_gradient_is_the_kernels_output():
    """The split heads of one projection: the compiled backward writes the projection's
    gradient from the kernel (merged, no sum after it), equal to eager bit for bit."""
    B, T, H, D = 2, 21, 2, 8
    w = cadenza.from_numpy(_rand((3 * H * D, 5), 95)).requires_grad_()
    x = cadenza.from_numpy(_rand((B, T, 5), 96))

    def step():
        heads = (x @ w.T).view(B, T, 3 * H, D).transpose(1, 2)
        q, k, v = heads[:, :H], heads[:, H:2 * H], heads[:, 2 * H:]
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        (gw,) = cadenza.autograd.grad(y.transpose(1, 2).reshape(B, T, H * D).sum(), (w,))
        return gw
    compiled = cadenza.compile(step)
    got = [compiled().numpy() for _ in range(2)][-1]
    assert "merged=True" in str(compiled.graph)
    np.testing.assert_array_equal(got, step().numpy())


@needs_kernels
def test_gpt_model_routes_through_the_primitive():
    from cadenza.graph.trace import trace
    from cadenza.models.gpt import GPT, GPTConfig
    cfg = GPTConfig(vocab_size=32, block_size=16, n_layer=1, n_head=2, n_embd=16)
    cadenza.manual_seed(0)
    model = GPT(cfg)
    x = cadenza.randint(0, 32, (2, 16))
    names = [n.op.name for n in trace(lambda: model(x, x)[1]).nodes
             if not isinstance(n.op, str)]
    assert "scaled_dot_product_attention" in names and "softmax" not in names


def test_primitive_rejects_nothing_the_router_sends(monkeypatch):
    """apply() on the primitive directly works without kernels too (CuPy-like path)."""
    monkeypatch.setattr(ckernels, "enabled", False)
    q = cadenza.from_numpy(_rand((2, 3, 4), 70)).requires_grad_()
    y = apply(A.ScaledDotProductAttention, q, q, q, None, scale=0.5, causal=True)
    y.sum().backward()
    tq = torch.from_numpy(_rand((2, 3, 4), 70)).requires_grad_()
    ty = TF.scaled_dot_product_attention(tq, tq, tq, is_causal=True, scale=0.5)
    ty.sum().backward()
    _close([y.detach().numpy(), q.grad.numpy()], [ty.detach().numpy(), tq.grad.numpy()], 1e-5)


def test_autocast_keeps_the_composite_and_torchs_dtype():
    q = cadenza.from_numpy(_rand((1, 2, 4, 8), 90))
    with cadenza.autocast("cpu", dtype=cadenza.bfloat16):
        y = F.scaled_dot_product_attention(q, q, q, is_causal=True)
    tq = torch.from_numpy(_rand((1, 2, 4, 8), 90))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ty = TF.scaled_dot_product_attention(tq, tq, tq, is_causal=True)
    assert y.dtype == cadenza.bfloat16 and ty.dtype == torch.bfloat16
    np.testing.assert_allclose(y.float().numpy(), ty.float().numpy(), rtol=0.05, atol=0.05)


def test_onnx_export_with_a_dynamic_length(tmp_path):
    """The lowering's causal mask follows the sequence length at run time (Trilu)."""
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    import cadenza.onnx as cox

    def f(x):
        return F.scaled_dot_product_attention(x, x * 0.5, x, is_causal=True)
    path = str(tmp_path / "a.onnx")
    cox.export(f, (cadenza.from_numpy(_rand((1, 2, 5, 8), 100)),), path, input_names=["x"],
               dynamic_axes={"x": {2: "T"}})
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    x = _rand((1, 2, 9, 8), 101)
    got = sess.run(None, {"x": x})[0]
    np.testing.assert_allclose(got, f(cadenza.from_numpy(x)).numpy(), rtol=1e-5, atol=1e-5)


@needs_kernels
def test_multi_head_attention_without_weights_runs_the_primitive():
    from cadenza.graph.trace import trace
    L, S, N, E, H = 5, 7, 2, 8, 2
    arrays = [_rand((L, N, E), 110), _rand((S, N, E), 111), _rand((S, N, E), 112),
              _rand((3 * E, E), 113), _rand((3 * E,), 114), _rand((E, E), 115),
              _rand((E,), 116), _rand((L, S), 117)]
    kpm = np.random.default_rng(118).random((N, S)) > 0.7
    res = []
    for lib in (cadenza, torch):
        t = [lib.from_numpy(a.copy()).requires_grad_() for a in arrays[:7]]
        mask, pad = lib.from_numpy(arrays[7]), lib.from_numpy(kpm)

        def call():
            return (F if lib is cadenza else TF).multi_head_attention_forward(
                t[0], t[1], t[2], E, H, t[3], t[4], None, None, False, 0.0, t[5], t[6],
                need_weights=False, attn_mask=mask, key_padding_mask=pad)
        out, w = call()
        assert w is None
        out.backward(lib.from_numpy(_rand((L, N, E), 119)))
        res.append([out.detach().numpy()] + [x.grad.numpy() for x in t])
        if lib is cadenza:
            names = {n.op.name for n in trace(lambda: call()[0]).nodes
                     if not isinstance(n.op, str)}
            assert "scaled_dot_product_attention" in names and "softmax" not in names
    _close(*res, rtol=1e-5)


def test_many_layouts_keep_their_offsets_alive(monkeypatch):
    """The per-layout offset cache is cleared when it grows past 256 entries, possibly in the
    middle of a call: the offsets of every operand must stay alive until the kernel returns
    (this once read freed memory and crashed after a few hundred distinct cache views). The
    kernels are wrapped so that small int64 arrays are allocated just before each call: memory
    of a freed offsets array would be reused and overwritten."""
    import cadenza.ops.attention as att
    real = ckernels.attention_kernels

    def spoiling():
        fns = real()

        def wrap(fn):
            def call(*args):
                junk = [np.full(n, 1 << 40, np.int64) for n in range(1, 65)]  # noqa: F841
                return fn(*args)
            return call
        return tuple(wrap(f) for f in fns)
    if real() is None:
        pytest.skip("the attention kernels did not build")
    monkeypatch.setattr(att.ckernels, "attention_kernels", spoiling)

    class AlwaysFull(dict):      # every new layout clears the cache first
        def __len__(self):
            return 1000
    monkeypatch.setattr(att, "_OFFSETS", AlwaysFull())
    rng = np.random.default_rng(0)
    for _ in range(60):
        B, Hk, rep = int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(1, 3))
        L, S, D = int(rng.integers(1, 40)), int(rng.integers(1, 40)), int(rng.integers(1, 20))
        smax = S + int(rng.integers(0, 9))
        ck = rng.standard_normal((B, Hk, smax, D)).astype(np.float32)
        cv = rng.standard_normal((B, Hk, smax, D)).astype(np.float32)
        qa = rng.standard_normal((B, Hk * rep, L, D)).astype(np.float32)
        q = cadenza.tensor(qa, requires_grad=True)
        out = F.scaled_dot_product_attention(q, cadenza.from_numpy(ck)[:, :, :S],
                                             cadenza.from_numpy(cv)[:, :, :S],
                                             enable_gqa=rep > 1)
        out.sum().backward()
        tq = torch.tensor(qa, requires_grad=True)
        ref = torch.nn.functional.scaled_dot_product_attention(
            tq, torch.from_numpy(ck)[:, :, :S], torch.from_numpy(cv)[:, :, :S],
            enable_gqa=rep > 1)
        ref.sum().backward()
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=2e-5)
        np.testing.assert_allclose(q.grad.numpy(), tq.grad.numpy(), atol=2e-5)

"""ONNX export of the language model: prefill logits and KV-cache decoding through onnxruntime
match Cadenza (GPT-2 style, Llama style with GQA + RoPE + RMSNorm + SwiGLU, Grok style MoE),
dynamic batch/sequence axes, and the lowerings the model needs."""
import numpy as np
import pytest

import cadenza as cz
import cadenza.nn.functional as F
import cadenza.onnx as cox
from cadenza.models.gpt import GPT, PRESETS, GPTConfig, KVCache

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

SMALL = dict(vocab_size=64, block_size=16, n_layer=2, n_embd=32)
CONFIGS = {
    "gpt2": dict(SMALL, n_head=4, tie_weights=True),   # learned positions, LayerNorm, GELU
    "llama": dict(PRESETS["llama-tiny"], **SMALL),      # RoPE, RMSNorm, SwiGLU, GQA 4/2
    "grok": dict(PRESETS["grok-tiny"], **SMALL),        # the same with 4 experts, top-2
}
STEP_NAMES = dict(input_names=["idx", "past_k", "past_v", "pos"],
                  output_names=["logits", "present_k", "present_v"])
DYNAMIC = {"idx": {0: "batch", 1: "seq"}, "past_k": {1: "batch"}, "past_v": {1: "batch"},
           "logits": {0: "batch", 1: "seq"}}
# float32 throughout; onnxruntime's kernels sum in other orders than NumPy/OpenBLAS, which
# moves logits by ~1e-7 here, far inside the tolerance
TOL = dict(rtol=1e-5, atol=1e-5)


def _model(kind):
    cz.manual_seed(0)
    return GPT(GPTConfig(**CONFIGS[kind])).eval()


def _session(path):
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("kind", list(CONFIGS))
def test_prefill_logits_match(kind, tmp_path):
    model = _model(kind)
    idx = cz.randint(0, 64, (2, 7), generator=cz.Generator().manual_seed(1))
    path = tmp_path / "prefill.onnx"
    cox.export(lambda i: model(i)[0], (idx,), str(path), input_names=["idx"],
               output_names=["logits"])
    got = _session(path).run(None, {"idx": idx.numpy()})[0]
    with cz.no_grad():
        ref = model(idx)[0].numpy()
    assert got.shape == ref.shape == (2, 7, 64)
    np.testing.assert_allclose(got, ref, **TOL)


@pytest.mark.parametrize("kind", list(CONFIGS))
def test_forward_step_matches_kv_cache_forward(kind):
    """The functional step (cache in, cache out) is the cached forward, eagerly."""
    model = _model(kind)
    idx = cz.randint(0, 64, (2, 5), generator=cz.Generator().manual_seed(2))
    with cz.no_grad():
        cache = KVCache(model.config, 2)
        past_k, past_v = model.empty_cache(2)
        ref, _ = model(idx, cache=cache)
        got, past_k, past_v = model.forward_step(idx, past_k, past_v, cz.tensor(0))
        np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-6, atol=1e-6)
        for t in range(3):
            nxt = ref[:, -1:].argmax(-1)
            ref, _ = model(nxt, cache=cache)
            got, past_k, past_v = model.forward_step(nxt, past_k, past_v, cz.tensor(5 + t))
            np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-6, atol=1e-6)
    assert past_k.shape == (2, 2, model.config.n_kv_head, 16, 8)
    # the cache holds what the eager KVCache holds (keys in heads 0..K-1, values after)
    K = model.config.n_kv_head
    for layer in range(2):
        np.testing.assert_allclose(past_k[layer, :, :, :8].numpy(),
                                   cache.kv[layer][:, :K, :8].numpy(), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(past_v[layer, :, :, :8].numpy(),
                                   cache.kv[layer][:, K:, :8].numpy(), rtol=1e-6, atol=1e-6)


def test_forward_step_validates_cache_shape():
    model = _model("gpt2")
    with pytest.raises(ValueError, match="past_k of shape"):
        model.forward_step(cz.zeros(1, 2, dtype=cz.int64), cz.zeros(2, 1, 4, 8),
                           cz.zeros(2, 1, 4, 8), cz.tensor(0))
    past_k, past_v = model.empty_cache(1)
    with pytest.raises(ValueError, match="0-d int64"):
        model.forward_step(cz.zeros(1, 2, dtype=cz.int64), past_k, past_v, cz.tensor([0]))


@pytest.mark.parametrize("kind", list(CONFIGS))
def test_decode_with_kv_cache_through_onnxruntime(kind, tmp_path):
    """One graph with dynamic batch and sequence axes runs the prompt (T = 6), then decodes
    token by token feeding present_k/v back as past_k/v: logits match Cadenza's KVCache
    decoding at every step and the greedy tokens are model.generate's."""
    model = _model(kind)
    B, P, n_new = 2, 6, 5
    prompt = cz.randint(0, 64, (B, P), generator=cz.Generator().manual_seed(3))
    past_k, past_v = model.empty_cache(2)
    path = tmp_path / "step.onnx"
    proto = cox.export(model.forward_step, (cz.zeros(2, 3, dtype=cz.int64), past_k, past_v,
                                            cz.tensor(0)), str(path), dynamic_axes=DYNAMIC,
                       **STEP_NAMES)
    shapes = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
              for i in proto.graph.input}
    assert shapes["idx"] == ["batch", "seq"] and shapes["pos"] == []
    assert shapes["past_k"] == [2, "batch", model.config.n_kv_head, 16, 8]
    sess = _session(path)
    assert [o.name for o in sess.get_outputs()] == STEP_NAMES["output_names"]
    feeds = {"idx": prompt.numpy(), "pos": np.array(0, np.int64),
             "past_k": np.zeros((2, B, model.config.n_kv_head, 16, 8), np.float32)}
    feeds["past_v"] = feeds["past_k"].copy()
    tokens = []
    with cz.no_grad():
        cache = KVCache(model.config, B)
        ref, _ = model(prompt, cache=cache)
        for step in range(n_new):
            logits, feeds["past_k"], feeds["past_v"] = sess.run(None, feeds)
            np.testing.assert_allclose(logits, ref.numpy(), **TOL)
            nxt = logits[:, -1].argmax(-1)[:, None]                     # (B, 1) greedy
            tokens.append(nxt)
            feeds["pos"] = np.array(feeds["pos"] + feeds["idx"].shape[1], np.int64)
            feeds["idx"] = nxt
            ref, _ = model(cz.from_numpy(nxt), cache=cache)
        expected = model.generate(prompt, n_new, temperature=0).numpy()[:, P:]
    np.testing.assert_array_equal(np.concatenate(tokens, 1), expected)


def test_static_decode_graph_serves_every_position(tmp_path):
    """Without dynamic axes a T = 1 step graph is still position-independent: pos is an
    input, so one file decodes the whole sequence after a prompt fed token by token."""
    model = _model("llama")
    past_k, past_v = model.empty_cache(1)
    path = tmp_path / "decode.onnx"
    proto = cox.export(model.forward_step, (cz.zeros(1, 1, dtype=cz.int64), past_k, past_v,
                                            cz.tensor(0)), str(path), **STEP_NAMES)
    assert [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == [1, 1]
    sess = _session(path)
    seq = [5, 17, 3, 60, 9, 33, 2, 41]
    k, v = past_k.numpy(), past_v.numpy()
    with cz.no_grad():
        ref, _ = model(cz.tensor([seq]))
    for t, tok in enumerate(seq):
        logits, k, v = sess.run(None, {"idx": np.array([[tok]]), "past_k": k, "past_v": v,
                                       "pos": np.array(t)})
        np.testing.assert_allclose(logits[:, 0], ref[:, t].numpy(), **TOL)


def test_dynamic_axes_reject_sizes_baked_into_the_graph(tmp_path):
    def baked(x):
        return x * x.shape[1] + x[:, :3].sum()    # a scalar operand and a slice from sizes

    with pytest.raises(cox.UnsupportedOpsError) as ei:
        cox.export(baked, (cz.randn(2, 5),), str(tmp_path / "b.onnx"), input_names=["x"],
                   dynamic_axes={"x": [1]})
    msg = str(ei.value)
    assert "follows dynamic axis 'x_dim1'" in msg and "test_llm_export.py:" in msg

    def branches(x):
        return x.relu() if x.shape[0] > 2 else x.tanh()

    with pytest.raises(ValueError, match="traced graph changes"):
        cox.export(branches, (cz.randn(3, 4),), str(tmp_path / "c.onnx"),
                   dynamic_axes={"input0": {0: "n"}})
    with pytest.raises(ValueError, match="dynamic_axes names 'y'"):
        cox.export(branches, (cz.randn(3, 4),), str(tmp_path / "d.onnx"),
                   dynamic_axes={"y": {0: "n"}})


def test_dynamic_axes_mlp_batch(tmp_path):
    import cadenza.nn as nn
    cz.manual_seed(0)
    m = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.LayerNorm(16), nn.Linear(16, 3)).eval()
    path = tmp_path / "mlp.onnx"
    cox.export(m, (cz.randn(4, 8),), str(path), input_names=["x"], output_names=["y"],
               dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    sess = _session(path)
    for n in (1, 4, 9):
        x = cz.randn(n, 8)
        with cz.no_grad():
            np.testing.assert_allclose(sess.run(None, {"x": x.numpy()})[0], m(x).numpy(), **TOL)


def test_llm_primitives_round_trip(tmp_path):
    """The lowerings added for the model, one function: norms with and without affine
    parameters, causal scaled softmax, tensor indexing (embedding rows, gather), topk,
    argmax, where, isinf, ne, rsqrt, clamp on ints."""
    def f(x, w, ids):
        a = F.layer_norm(x, (8,), w, w * 0.5) + F.layer_norm(x, (8,)) + F.rms_norm(x, (8,), w)
        q = x.reshape(1, 2, 3, 8)
        att = F.scaled_dot_product_attention(q, q, q, is_causal=True).reshape(6, 8)
        emb = F.embedding(ids, x)                                      # (2, 2, 8)
        vals, top = x.topk(3, dim=-1)
        g = x.gather(1, top) + vals
        m = cz.where((x > 0) & (x != 1.0), x, 1.0).rsqrt() + cz.where(x.isinf(), 0.0, x)
        return (a, att, emb, g, m, x.argmax(-1), (ids - 4).clamp(0, 2), x[ids[0]],
                x[:, -1], x[-2:, 1:-1])
    x = cz.randn(6, 8)
    w = cz.randn(8)
    ids = cz.tensor([[0, 5], [3, 1]])
    path = tmp_path / "prims.onnx"
    cox.export(f, (x, w, ids), str(path))
    sess = _session(path)
    got = sess.run(None, {"input0": x.numpy(), "input1": w.numpy(), "input2": ids.numpy()})
    with cz.no_grad():
        ref = f(x, w, ids)
    for g, r in zip(got, ref):
        assert g.shape == tuple(r.shape) and g.dtype == r.numpy().dtype
        np.testing.assert_allclose(g, r.numpy(), **TOL)


def test_moe_export_is_dense_only_while_exporting():
    """MoE routes tokens eagerly outside export; while exporting it mixes densely, and both
    give the same output."""
    model = _model("grok")
    moe = model.transformer.h[0].mlp
    x = cz.randn(2, 5, 32)
    with cz.no_grad():
        routed = moe(x)
        cox._EXPORTING[0] = True
        try:
            dense = moe(x)
        finally:
            cox._EXPORTING[0] = False
    assert not cox.is_in_onnx_export()
    np.testing.assert_allclose(dense.numpy(), routed.numpy(), rtol=1e-6, atol=1e-6)

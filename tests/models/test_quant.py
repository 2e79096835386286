"""int8 weight-only quantization of the GPT (cadenza.models.quant): scales vs NumPy, Int8Linear vs
PyTorch, logits vs the float model, generation and KV-cache paths, checkpoints, tied weights,
MoE, errors."""
import io

import numpy as np
import pytest

import cadenza
from cadenza.models.gpt import GPT, GPTConfig
from cadenza.models.quant import (Int8Embedding, Int8Linear, quantize_int8,
                                  quantize_per_channel)

torch = pytest.importorskip("torch")

BASE = dict(vocab_size=61, block_size=24, n_layer=2, n_head=4, n_embd=32)
VARIANTS = {
    "gpt2": dict(BASE),
    "gpt2-tied": dict(BASE, tie_weights=True),
    "llama": dict(BASE, n_kv_head=2, mlp="swiglu", norm="rmsnorm", pos="rope", bias=False),
    "moe": dict(BASE, n_kv_head=1, mlp="swiglu", norm="rmsnorm", pos="rope", bias=False,
                n_expert=4, n_expert_active=2),
}


def _model(kind, seed=0):
    cadenza.manual_seed(seed)
    return GPT(GPTConfig(**VARIANTS[kind])).eval()


def _idx(cfg, B=2, T=None, seed=1):
    rng = np.random.default_rng(seed)
    return cadenza.from_numpy(rng.integers(0, cfg.vocab_size, (B, T or cfg.block_size)))


def _logits(model, idx, **kw):
    with cadenza.no_grad():
        return model(idx, **kw)[0].numpy()


def _np_quantize(w):
    """The reference: symmetric per-row absmax / 127 in float32, round half to even."""
    s = np.abs(w).max(axis=1) / np.float32(127)
    q = np.clip(np.rint(w / np.where(s == 0, np.float32(1), s)[:, None]), -127, 127)
    return q.astype(np.int8), s


def test_per_channel_scales_exact_vs_numpy():
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((37, 53)) * rng.uniform(1e-3, 5, (37, 1))).astype(np.float32)
    w[3] = 0.0                                   # an all-zero row: scale 0, zeros
    w[5, 7] = -np.abs(w[5]).max() * 2            # the row's absmax is negative: -> -127
    q, s = quantize_per_channel(cadenza.from_numpy(w))
    rq, rs = _np_quantize(w)
    assert q.dtype == cadenza.int8 and s.dtype == cadenza.float32
    np.testing.assert_array_equal(s.numpy(), rs)
    np.testing.assert_array_equal(q.numpy(), rq)
    assert q.numpy()[5, 7] == -127 and s.numpy()[3] == 0 and not q.numpy()[3].any()
    assert np.abs(q.numpy()).max() == 127
    err = np.abs(w - q.numpy() * s.numpy()[:, None])
    assert (err <= s.numpy()[:, None] / 2 * (1 + 1e-6)).all()


def test_quantize_per_channel_errors():
    with pytest.raises(ValueError, match="2-d float weight"):
        quantize_per_channel(cadenza.zeros(3, 4, 5))
    with pytest.raises(ValueError, match="2-d float weight"):
        quantize_per_channel(cadenza.zeros(3, 4, dtype=cadenza.int64))
    w = cadenza.ones(3, 4)
    w[1, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite"):
        quantize_per_channel(w)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(16,), (5, 16), (2, 3, 16), (2, 1, 3, 16), (0, 16)])
def test_int8_linear_matches_torch(shape, bias):
    cadenza.manual_seed(0)
    lin = cadenza.nn.Linear(16, 24, bias=bias)
    q = Int8Linear.from_float(lin)
    assert q.weight.dtype == cadenza.int8 and q.weight_scale.dtype == cadenza.float32
    assert (q.bias is lin.bias) if bias else q.bias is None
    x = cadenza.randn(*shape)
    y = q(x)
    assert tuple(y.shape) == shape[:-1] + (24,) and y.dtype == cadenza.float32
    tx = torch.from_numpy(x.numpy().reshape(-1, 16))
    tw, ts = torch.from_numpy(q.weight.numpy()), torch.from_numpy(q.weight_scale.numpy())
    tb = torch.from_numpy(lin.bias.detach().numpy()) if bias else None
    # a float reference with the dequantized weight, and torch's own int8 weight-only GEMM
    ref = torch.nn.functional.linear(tx, tw.float() * ts[:, None], tb)
    np.testing.assert_allclose(y.detach().numpy().reshape(-1, 24), ref.numpy(), atol=1e-5,
                               rtol=1e-5)
    if hasattr(torch, "_weight_int8pack_mm") and tx.shape[0]:
        ref2 = torch._weight_int8pack_mm(tx, tw, ts) + (tb if bias else 0)
        np.testing.assert_allclose(y.detach().numpy().reshape(-1, 24), ref2.numpy(),
                                   atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(q.dequantize().numpy(), (tw.float() * ts[:, None]).numpy())


def test_int8_linear_dtypes_grad_and_errors():
    cadenza.manual_seed(0)
    lin = cadenza.nn.Linear(8, 4)
    q = Int8Linear.from_float(lin)
    x64 = cadenza.randn(3, 8, dtype=cadenza.float64)
    assert q(x64).dtype == cadenza.float64
    np.testing.assert_allclose(q(x64).detach().numpy(),
                               x64.numpy() @ q.dequantize().numpy().T.astype(np.float64)
                               + lin.bias.detach().numpy(), rtol=1e-6, atol=1e-6)
    x = cadenza.randn(3, 8, requires_grad=True)  # gradients reach the input and the bias
    q(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.tile(q.dequantize().numpy().sum(0), (3, 1)),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lin.bias.grad.numpy(), np.full(4, 3.0))
    assert [n for n, _ in q.named_parameters()] == ["bias"]
    with pytest.raises(RuntimeError, match=r"int8_linear: expected input \(\.\.\., 8\) for "
                                           r"weight \(4, 8\), got \(3, 7\)"):
        q(cadenza.randn(3, 7))
    with pytest.raises(TypeError, match="int8_linear: expected a floating-point input"):
        q(cadenza.zeros(3, 8, dtype=cadenza.int64))
    with pytest.raises(TypeError, match="expected an nn.Linear"):
        Int8Linear.from_float(cadenza.nn.Conv1d(2, 2, 1))


# relative error of the logits (Frobenius norm) after quantization, measured 0.3-0.9 % on these
# random-init models; the bound leaves room for other seeds
REL_ERR = 0.03


@pytest.mark.parametrize("kind", list(VARIANTS))
def test_quantized_logits_close_to_float(kind):
    model = _model(kind)
    idx = _idx(model.config)
    ref = _logits(model, idx)
    assert quantize_int8(model) is model
    out = _logits(model, idx)
    rel = np.linalg.norm(out - ref) / np.linalg.norm(ref)
    assert 0 < rel < REL_ERR, rel
    # the same model built from the dequantized weights in float gives the same logits
    deq = _model(kind)
    sd = {}
    for name, mod in model.named_modules():
        if isinstance(mod, Int8Linear):
            sd[name + ".weight"] = mod.dequantize()
    with cadenza.no_grad():
        for k, v in deq.state_dict().items():
            if k in sd:
                v.copy_(sd[k])
    np.testing.assert_allclose(_logits(deq, idx), out, atol=1e-5, rtol=1e-4)


def test_every_linear_quantized_router_kept():
    model = quantize_int8(_model("moe"))
    kinds = {n: type(m).__name__ for n, m in model.named_modules()
             if isinstance(m, (cadenza.nn.Linear, Int8Linear))}
    assert kinds.pop("transformer.h.0.mlp.router") == "Linear"
    assert kinds.pop("transformer.h.1.mlp.router") == "Linear"
    assert set(kinds.values()) == {"Int8Linear"}
    assert "transformer.h.1.mlp.experts.3.w2" in kinds and "lm_head" in kinds
    assert len(kinds) == 2 * (2 + 4 * 3) + 1
    full = quantize_int8(_model("moe"), skip=())  # the router too, on request
    assert isinstance(full.transformer.h[0].mlp.router, Int8Linear)
    idx = _idx(full.config)
    assert np.isfinite(_logits(full, idx)).all()


def test_skip_patterns():
    model = quantize_int8(_model("gpt2"), skip=("lm_head", "h.1.mlp.*"))
    assert type(model.lm_head) is cadenza.nn.Linear
    assert type(model.transformer.h[1].mlp.c_fc) is cadenza.nn.Linear
    assert type(model.transformer.h[1].attn.c_attn) is Int8Linear
    assert type(model.transformer.h[0].mlp.c_fc) is Int8Linear


def test_tied_weights_share_one_int8_matrix():
    model = _model("gpt2-tied")
    idx = _idx(model.config)
    ref = _logits(model, idx)
    quantize_int8(model)
    wte, head = model.transformer.wte, model.lm_head
    assert isinstance(wte, Int8Embedding) and isinstance(head, Int8Linear)
    assert wte.weight is head.weight and wte.weight_scale is head.weight_scale
    rows = wte(idx).numpy()
    np.testing.assert_array_equal(rows, head.dequantize().numpy()[idx.numpy()])
    assert np.linalg.norm(_logits(model, idx) - ref) / np.linalg.norm(ref) < REL_ERR
    # state dict: both names, one tensor; a load keeps them one
    sd = model.state_dict()
    assert sd["lm_head.weight"].data_ptr() == sd["transformer.wte.weight"].data_ptr()
    other = quantize_int8(_model("gpt2-tied", seed=5))
    other.load_state_dict(sd)
    assert other.transformer.wte.weight is other.lm_head.weight
    np.testing.assert_array_equal(_logits(other, idx), _logits(model, idx))
    # skipping the head keeps the float tie as it was
    kept = quantize_int8(_model("gpt2-tied"), skip=("lm_head",))
    assert type(kept.transformer.wte) is cadenza.nn.Embedding
    assert kept.lm_head.weight is kept.transformer.wte.weight


@pytest.mark.parametrize("kind", ["gpt2", "llama", "moe"])
def test_kv_cache_paths_and_generate(kind):
    model = quantize_int8(_model(kind))
    cfg = model.config
    idx = _idx(cfg, B=2, T=12)
    full = _logits(model, idx)
    # forward(idx, cache=): a 7-token prefill, then single tokens
    from cadenza.models.gpt import KVCache
    cache = KVCache(cfg, 2)
    parts = [_logits(model, idx[:, :7], cache=cache)]
    for t in range(7, 12):
        parts.append(_logits(model, idx[:, t:t + 1], cache=cache))
    np.testing.assert_allclose(np.concatenate(parts, 1), full, atol=1e-5, rtol=1e-4)
    # forward_step with explicit caches
    pk, pv = model.empty_cache(2)
    with cadenza.no_grad():
        lg, pk, pv = model.forward_step(idx[:, :5], pk, pv, cadenza.tensor(0))
        lg2, pk, pv = model.forward_step(idx[:, 5:12], pk, pv, cadenza.tensor(5))
    np.testing.assert_allclose(np.concatenate([lg.numpy(), lg2.numpy()], 1), full, atol=1e-5,
                               rtol=1e-4)
    # greedy generate (no_grad inside) equals argmax decoding without a cache
    prompt = idx[:1, :4]
    out = model.generate(prompt, 10, temperature=0)
    seq = prompt
    for _ in range(10):
        nxt = _logits(model, seq)[:, -1].argmax(-1)
        seq = cadenza.cat([seq, cadenza.from_numpy(nxt[:, None])], 1)
    assert out.tolist() == seq.tolist()
    with cadenza.no_grad():
        sampled = model.generate(prompt, 6, temperature=0.8, top_k=10,
                                 generator=cadenza.Generator().manual_seed(1))
    assert tuple(sampled.shape) == (1, 10)


@pytest.mark.parametrize("kind", ["gpt2-tied", "moe"])
def test_quantized_checkpoint_round_trip(kind, tmp_path):
    model = quantize_int8(_model(kind))
    idx = _idx(model.config)
    want = _logits(model, idx)
    sd = model.state_dict()
    # flat safetensors: int8 weights and float32 scales as they are
    path = str(tmp_path / "q.safetensors")
    cadenza.io.save_safetensors(sd, path)
    loaded = cadenza.io.load_safetensors(path)
    assert loaded["lm_head.weight"].dtype == cadenza.int8
    assert loaded["lm_head.weight_scale"].dtype == cadenza.float32
    assert set(loaded) == set(sd)
    fresh = quantize_int8(_model(kind, seed=9))
    fresh.load_state_dict(loaded)
    np.testing.assert_array_equal(_logits(fresh, idx), want)
    # cadenza.save / load (nested, shared tensors stored once)
    buf = io.BytesIO()
    cadenza.save({"model": sd}, buf)
    buf.seek(0)
    fresh2 = quantize_int8(_model(kind, seed=11))
    fresh2.load_state_dict(cadenza.load(buf)["model"])
    np.testing.assert_array_equal(_logits(fresh2, idx), want)
    # the file is about a quarter of the float one
    fpath = str(tmp_path / "f.safetensors")
    cadenza.io.save_safetensors(_model(kind).state_dict(), fpath)
    import os
    assert os.path.getsize(path) < 0.4 * os.path.getsize(fpath)


def test_float_checkpoint_into_quantized_model_is_an_error():
    fsd = _model("gpt2").state_dict()
    q = quantize_int8(_model("gpt2"))
    with pytest.raises(RuntimeError, match=r"lm_head.weight: expected cadenza.int8 in a "
                                           r"quantized checkpoint, got cadenza.float32"):
        q.load_state_dict(fsd, strict=False)
    f = _model("gpt2")
    with pytest.raises(RuntimeError, match="weight_scale"):  # unexpected keys
        f.load_state_dict(q.state_dict())


def test_quantize_int8_errors():
    with pytest.raises(TypeError, match="expected a cadenza.models.gpt.GPT, got Linear"):
        quantize_int8(cadenza.nn.Linear(2, 2))
    model = quantize_int8(_model("gpt2"))
    with pytest.raises(ValueError, match="already quantized"):
        quantize_int8(model)
    with pytest.raises(TypeError, match="skip to be a sequence"):
        quantize_int8(_model("gpt2"), skip="lm_head")
    with pytest.raises(ValueError, match=r"\['lm_haed'\] match no Linear"):
        quantize_int8(_model("gpt2"), skip=("lm_haed",))


def test_memory_is_about_a_quarter():
    def nbytes(m):
        seen = {}
        for t in list(m.parameters()) + list(m.buffers()):
            seen[id(t)] = t.numel() * t.element_size()
        return sum(seen.values())
    for kind in ("gpt2-tied", "llama"):
        f = _model(kind)
        before = nbytes(f)
        q = nbytes(quantize_int8(f))
        assert q < 0.5 * before, (kind, q, before)


def test_int8_linear_large_weight_blocked_path():
    """A weight above the primitive's block size is widened block by block: same result."""
    rng = np.random.default_rng(3)
    w = cadenza.from_numpy(rng.integers(-127, 128, (1100, 1000)).astype(np.int8))
    s = cadenza.from_numpy(rng.uniform(0.001, 0.01, 1100).astype(np.float32))
    b = cadenza.from_numpy(rng.standard_normal(1100).astype(np.float32))
    x = cadenza.from_numpy(rng.standard_normal((2, 3, 1000)).astype(np.float32))
    assert w.numel() > cadenza.ops.REGISTRY["int8_linear"].BLOCK
    y = cadenza.ops.int8_linear(x, w, s, b).numpy()
    ref = (x.numpy().astype(np.float64) @ w.numpy().T.astype(np.float64)) * s.numpy() + b.numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4)


def test_compiled_and_onnx_forward_step(tmp_path):
    """The int8 primitive traces (cadenza.compile) and exports (Cast/MatMul/Mul/Add in ONNX),
    tied embedding included."""
    model = quantize_int8(_model("gpt2-tied"))
    idx = _idx(model.config, B=2, T=6)
    pk, pv = model.empty_cache(2)
    args = (idx, pk, pv, cadenza.tensor(0))
    with cadenza.no_grad():
        want = model.forward_step(*args)[0].numpy()
        step = cadenza.compile(model.forward_step)
        for _ in range(2):  # trace, then the cached graph
            np.testing.assert_allclose(step(*args)[0].numpy(), want, atol=1e-6, rtol=1e-6)
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    path = str(tmp_path / "q.onnx")
    cadenza.onnx.export(model.forward_step, args, path, input_names=["idx", "pk", "pv", "pos"])
    got = ort.InferenceSession(path).run(None, {"idx": idx.numpy(), "pk": pk.numpy(),
                                                "pv": pv.numpy(), "pos": np.array(0)})[0]
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)

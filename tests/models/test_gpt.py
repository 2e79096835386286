"""GPT vs an independent PyTorch implementation with the same weights; KV cache; sampling."""
import numpy as np
import pytest

import cadenza
from cadenza.models.gpt import GPT, GPTConfig, PRESETS

torch = pytest.importorskip("torch")
from gpt_torch_ref import RefGPT  # noqa: E402

BASE = dict(vocab_size=61, block_size=16, n_layer=2, n_head=4, n_embd=32)
VARIANTS = {
    "gpt2": dict(BASE, tie_weights=True),
    "grok": dict(BASE, n_kv_head=2, mlp="swiglu", norm="rmsnorm", pos="rope", bias=False),
    "moe": dict(BASE, n_kv_head=1, mlp="swiglu", norm="rmsnorm", pos="rope", bias=False,
                n_expert=4, n_expert_active=2, moe_aux_weight=0.1),
    "moe-gelu": dict(BASE, n_expert=3, n_expert_active=1),
}


def _pair(kind, seed=0):
    cadenza.manual_seed(seed)
    cfg = GPTConfig(**VARIANTS[kind])
    model = GPT(cfg)
    ref = RefGPT(cfg)
    sd = {k: torch.from_numpy(np.array(v.numpy())) for k, v in model.state_dict().items()}
    ref.load_state_dict(sd, strict=True)
    return cfg, model, ref


def _batch(cfg, B=3, T=None, seed=1):
    rng = np.random.default_rng(seed)
    T = T or cfg.block_size
    x = rng.integers(0, cfg.vocab_size, (B, T))
    y = rng.integers(0, cfg.vocab_size, (B, T))
    y[0, :3] = -1  # ignored positions
    return x, y


@pytest.mark.parametrize("kind", list(VARIANTS))
def test_logits_loss_grads_match_torch(kind):
    cfg, model, ref = _pair(kind)
    x, y = _batch(cfg)
    logits, loss = model(cadenza.from_numpy(x), cadenza.from_numpy(y))
    loss.backward()
    rlogits, rloss = ref(torch.from_numpy(x), torch.from_numpy(y))
    rloss.backward()
    np.testing.assert_allclose(logits.detach().numpy(), rlogits.detach().numpy(), atol=1e-4,
                               rtol=1e-4)
    assert abs(float(loss) - float(rloss.detach())) < 1e-5
    rparams = dict(ref.named_parameters())
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        np.testing.assert_allclose(p.grad.numpy(), rparams[name].grad.numpy(), atol=2e-5,
                                   rtol=1e-3, err_msg=name)


def test_no_targets_returns_none_loss_and_shapes():
    cfg, model, _ = _pair("grok")
    logits, loss = model(cadenza.zeros((2, 5), dtype=cadenza.int64))
    assert loss is None and tuple(logits.shape) == (2, 5, cfg.vocab_size)


@pytest.mark.parametrize("kind", ["gpt2", "grok", "moe"])
def test_kv_cache_matches_full_recompute(kind):
    cfg, model, _ = _pair(kind)
    prompt = cadenza.from_numpy(_batch(cfg, B=2, T=5)[0])
    # 20 new tokens run past block_size=16, exercising the cropped-recompute path too
    a = model.generate(prompt, 20, temperature=0, use_cache=True)
    b = model.generate(prompt, 20, temperature=0, use_cache=False)
    assert a.tolist() == b.tolist()
    ga = cadenza.Generator().manual_seed(3)
    gb = cadenza.Generator().manual_seed(3)
    a = model.generate(prompt, 12, temperature=1.0, top_k=10, generator=ga, use_cache=True)
    b = model.generate(prompt, 12, temperature=1.0, top_k=10, generator=gb, use_cache=False)
    assert a.tolist() == b.tolist()


def test_cached_chunks_match_one_pass():
    cfg, model, _ = _pair("grok")
    from cadenza.models.gpt import KVCache
    x = cadenza.from_numpy(_batch(cfg, B=2, T=12)[0])
    model.eval()
    with cadenza.no_grad():
        full, _ = model(x)
        cache = KVCache(cfg, 2)
        parts = [model(x[:, :5], cache=cache)[0], model(x[:, 5:6], cache=cache)[0],
                 model(x[:, 6:], cache=cache)[0]]
    np.testing.assert_allclose(cadenza.cat(parts, dim=1).numpy(), full.numpy(), atol=1e-5)


def test_seeded_sampling_reproducible_and_options():
    cfg, model, _ = _pair("gpt2")
    prompt = cadenza.tensor([[1, 2, 3]])

    def run(seed, **kw):
        g = cadenza.Generator().manual_seed(seed)
        return model.generate(prompt, 10, generator=g, **kw).tolist()

    assert run(0) == run(0)
    assert run(0) != run(1)
    assert run(5, top_p=0.9, temperature=0.7) == run(5, top_p=0.9, temperature=0.7)
    # top_k=1 is greedy
    assert run(2, top_k=1) == model.generate(prompt, 10, temperature=0).tolist()
    stream = list(model.generate_stream(prompt, 5, temperature=0))
    assert len(stream) == 5 and all(tuple(t.shape) == (1, 1) for t in stream)
    first = int(stream[0][0, 0])
    out = model.generate(prompt, 10, temperature=0, stop_tokens=[first])
    assert out.shape[1] == 4  # stopped right after the stop token


def test_prompt_longer_than_context_raises():
    cfg, model, _ = _pair("gpt2")
    with pytest.raises(ValueError, match="block_size"):
        model.generate(cadenza.zeros((1, cfg.block_size + 1), dtype=cadenza.int64), 1)


def test_overfits_one_batch():
    cadenza.manual_seed(0)
    cfg = GPTConfig(vocab_size=32, block_size=16, n_layer=2, n_head=2, n_embd=32)
    model = GPT(cfg)
    x, y = _batch(cfg, B=4, seed=3)
    y[0, :3] = 0
    x, y = cadenza.from_numpy(x), cadenza.from_numpy(y)
    opt = cadenza.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    first = None
    for _ in range(80):
        _, loss = model(x, y)
        first = first if first is not None else float(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first > 3.0 and float(loss) < 0.2


@pytest.mark.parametrize("field,value", [("n_embd", 30), ("n_kv_head", 3), ("mlp", "relu"),
                                         ("norm", "batchnorm"), ("pos", "alibi"),
                                         ("n_expert", 1), ("dropout", 1.5),
                                         ("vocab_size", 0)])
def test_config_validation_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        GPTConfig(**dict(BASE, **{field: value}))


def test_presets_are_valid():
    for name, d in PRESETS.items():
        GPTConfig(**d)

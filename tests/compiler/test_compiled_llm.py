"""The LLM's whole training step compiled (issue 4): GPT-2 style and Grok style (RoPE,
RMSNorm, SwiGLU, grouped-query attention, mixture of experts) give the eager losses and
weights within float32 tolerance over several AdamW steps, and recompile at most once."""
import numpy as np
import pytest

import cadenza
from cadenza.models.gpt import GPT, GPTConfig

SMALL = dict(vocab_size=64, block_size=16, n_layer=2, n_head=4, n_embd=32)
CONFIGS = {
    "gpt2": dict(SMALL),
    "grok": dict(SMALL, n_kv_head=2, mlp="swiglu", norm="rmsnorm", pos="rope", bias=False,
                 n_expert=4, n_expert_active=2),
}


def _run(cfg, compiled, steps=4):
    cadenza.manual_seed(0)
    model = GPT(GPTConfig(**cfg))
    opt = cadenza.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.1)

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        _, loss = model(x, y)
        loss.backward()
        opt.step()
        return loss

    f = cadenza.compile(step) if compiled else step
    rng = np.random.default_rng(1)
    losses = []
    for _ in range(steps):
        x = cadenza.from_numpy(rng.integers(0, cfg["vocab_size"], (4, cfg["block_size"])))
        y = cadenza.from_numpy(rng.integers(0, cfg["vocab_size"], (4, cfg["block_size"])))
        losses.append(float(f(x, y)))
    return losses, [p.detach().numpy().copy() for p in model.parameters()]


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_llm_training_step_compiled_matches_eager(name):
    cadenza.compiler.reset_stats()
    got, got_params = _run(CONFIGS[name], compiled=True)
    stats = cadenza.compiler.stats()
    want, want_params = _run(CONFIGS[name], compiled=False)
    np.testing.assert_allclose(got, want, rtol=2e-5)
    for a, b in zip(got_params, want_params):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    # the first call traces; the second once more (AdamW's state appeared); then cache hits
    assert stats["compiles"] <= 2 and stats["cache_hits"] >= 2 and stats["eager_fallbacks"] == 0

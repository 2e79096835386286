"""Load transformers-built GPT-2 / Llama checkpoints (random weights, nothing downloaded) into
cadenza's GPT and save back; logits must agree within 1e-4."""
import numpy as np
import pytest

import cadenza
from cadenza.models.hf import load_hf, save_hf

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("safetensors")


def _hf_model(kind):
    torch.manual_seed(0)
    if kind == "gpt2":
        cfg = transformers.GPT2Config(vocab_size=97, n_positions=32, n_embd=32, n_layer=2,
                                      n_head=4, resid_pdrop=0.0, embd_pdrop=0.0,
                                      attn_pdrop=0.0)
        return transformers.GPT2LMHeadModel(cfg).eval()
    cfg = transformers.LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=64,
                                   num_hidden_layers=2, num_attention_heads=4,
                                   num_key_value_heads=2, max_position_embeddings=32,
                                   rms_norm_eps=1e-5, tie_word_embeddings=False)
    return transformers.LlamaForCausalLM(cfg).eval()


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_hf_roundtrip_logits(kind, tmp_path):
    hf = _hf_model(kind)
    hf.save_pretrained(tmp_path / "hf", safe_serialization=True)
    model = load_hf(str(tmp_path / "hf"))
    x = np.random.default_rng(0).integers(0, 97, (2, 12))
    with torch.no_grad():
        want = hf(torch.from_numpy(x)).logits.numpy()
    with cadenza.no_grad():
        got = model(cadenza.from_numpy(x))[0].numpy()
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)
    save_hf(model, str(tmp_path / "back"))
    cls = type(hf)
    hf2 = cls.from_pretrained(str(tmp_path / "back")).eval()
    with torch.no_grad():
        again = hf2(torch.from_numpy(x)).logits.numpy()
    np.testing.assert_allclose(again, want, atol=1e-4, rtol=1e-4)


def test_load_hf_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_hf(str(tmp_path))

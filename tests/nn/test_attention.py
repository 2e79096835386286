"""MultiheadAttention and TransformerEncoderLayer vs torch.nn (same weights, float64)."""
import numpy as np
import pytest
import torch

import cadenza
import cadenza.nn as nn
from helpers import check_module, copy_into_torch, rand

D, TD = cadenza.float64, torch.float64


def _mha(**kw):
    cm = nn.MultiheadAttention(8, 2, dtype=D, **kw)
    tm = torch.nn.MultiheadAttention(8, 2, dtype=TD, **kw)
    # non-zero biases so that they are exercised
    with cadenza.no_grad():
        for name, p in cm.named_parameters():
            if "bias" in name:
                p.copy_(cadenza.tensor(rand(*p.shape, seed=11)))
    return cm, tm


def test_mha_names_and_init():
    cm, tm = _mha()
    assert list(cm.state_dict()) == list(tm.state_dict())
    assert [n for n, _ in cm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert np.all(nn.MultiheadAttention(8, 2).in_proj_bias.detach().numpy() == 0)
    cm2, tm2 = _mha(kdim=5, vdim=3, bias=False, add_bias_kv=True)
    assert list(cm2.state_dict()) == list(tm2.state_dict())


@pytest.mark.parametrize("kw", [dict(), dict(batch_first=True), dict(add_bias_kv=True),
                                dict(add_zero_attn=True), dict(bias=False)])
def test_mha_self_attention(kw):
    cm, tm = _mha(**kw)
    x = rand(2, 5, 8) if kw.get("batch_first") else rand(5, 2, 8)
    check_module(cm, tm, x, x, x)


def test_mha_cross_attention_kdim_vdim():
    cm, tm = _mha(kdim=5, vdim=3)
    check_module(cm, tm, rand(4, 2, 8), rand(6, 2, 5, seed=1), rand(6, 2, 3, seed=2))


@pytest.mark.filterwarnings("ignore:Support for mismatched")
@pytest.mark.parametrize("mask_kind", ["bool", "float", "3d"])
def test_mha_masks(mask_kind):
    cm, tm = _mha()
    L = S = 5
    causal = np.triu(np.ones((L, S), dtype=bool), 1)
    if mask_kind == "bool":
        am = causal
    elif mask_kind == "float":
        am = rand(L, S, seed=3)
    else:
        am = rand(2 * 2, L, S, seed=3)
    kpm = np.zeros((2, S), dtype=bool)
    kpm[1, -2:] = True
    x = rand(L, 2, 8)
    check_module(cm, tm, x, x, x, kwargs=dict(key_padding_mask=kpm, attn_mask=am))


def test_mha_options():
    cm, tm = _mha()
    copy_into_torch(cm, tm)
    x = rand(5, 2, 8)
    causal = np.triu(np.ones((5, 5), dtype=bool), 1)
    co, cw = cm(*(cadenza.tensor(x),) * 3, need_weights=True, average_attn_weights=False,
                attn_mask=cadenza.tensor(causal), is_causal=True)
    to, tw = tm(*(torch.tensor(x),) * 3, need_weights=True, average_attn_weights=False,
                attn_mask=torch.tensor(causal), is_causal=True)
    np.testing.assert_allclose(cw.detach().numpy(), tw.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(co.detach().numpy(), to.detach().numpy(), rtol=1e-10)
    # is_causal alone builds the causal mask
    co2, _ = cm(*(cadenza.tensor(x),) * 3, is_causal=True, need_weights=False)
    np.testing.assert_allclose(co2.detach().numpy(), to.detach().numpy(), rtol=1e-10)
    out, w = cm(*(cadenza.tensor(x),) * 3, need_weights=False)
    assert w is None
    # unbatched
    cu, cwu = cm(*(cadenza.tensor(x[:, 0]),) * 3)
    tu, twu = tm(*(torch.tensor(x[:, 0]),) * 3)
    np.testing.assert_allclose(cu.detach().numpy(), tu.detach().numpy(), rtol=1e-10)
    assert tuple(cwu.shape) == tuple(twu.shape)


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_encoder_layer(norm_first):
    kw = dict(dim_feedforward=16, dropout=0.0, batch_first=True, norm_first=norm_first)
    cm = nn.TransformerEncoderLayer(8, 2, dtype=D, **kw)
    tm = torch.nn.TransformerEncoderLayer(8, 2, dtype=TD, **kw)
    assert list(cm.state_dict()) == list(tm.state_dict())
    kpm = np.zeros((2, 5), dtype=bool)
    kpm[0, -1] = True
    check_module(cm, tm, rand(2, 5, 8), kwargs=dict(src_key_padding_mask=kpm))
    enc_c = nn.TransformerEncoder(cm, 2)
    enc_t = torch.nn.TransformerEncoder(tm, 2, enable_nested_tensor=False)
    assert list(enc_c.state_dict()) == list(enc_t.state_dict())
    check_module(enc_c, enc_t, rand(2, 5, 8))


def test_sdpa_kernel_selection_api():
    import torch.nn.attention as ta
    import cadenza.nn.attention as ca
    assert {k: int(v) for k, v in ca.SDPBackend.__members__.items()} == \
        {k: int(v) for k, v in ta.SDPBackend.__members__.items()}
    q = rand(1, 2, 3, 4)
    want = torch.nn.functional.scaled_dot_product_attention(*[torch.tensor(q)] * 3).numpy()
    before = ca._cur_sdpa_kernel_backends()
    with ca.sdpa_kernel([ca.SDPBackend.MATH, ca.SDPBackend.MATH, ca.SDPBackend.FLASH_ATTENTION]):
        assert ca._cur_sdpa_kernel_backends() == [ca.SDPBackend.MATH,
                                                   ca.SDPBackend.FLASH_ATTENTION]
        got = cadenza.nn.functional.scaled_dot_product_attention(*[cadenza.tensor(q)] * 3)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10)
    assert ca._cur_sdpa_kernel_backends() == before
    with pytest.raises(AssertionError, match="SDPBackend"):
        with ca.sdpa_kernel("flash"):
            pass

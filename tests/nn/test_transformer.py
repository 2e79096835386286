"""Transformer, TransformerDecoder(Layer) vs torch.nn with copied weights (float64): state-dict
keys, outputs and gradients, masks, norm_first, batch_first, activations."""
import numpy as np
import pytest
import torch

import cadenza
import cadenza.nn as nn
from helpers import check_module, rand

D, TD = cadenza.float64, torch.float64


def _pair(make):
    cm, tm = make(nn, D), make(torch.nn, TD)
    assert list(cm.state_dict()) == list(tm.state_dict())
    with cadenza.no_grad():
        for i, p in enumerate(cm.parameters()):
            p.copy_(cadenza.tensor(rand(*p.shape, seed=i) * 0.3))
    return cm.eval(), tm.eval()


def _layer(lib, d, **kw):
    return lib.TransformerDecoderLayer(8, 2, 16, dropout=0.0, dtype=d, **kw)


@pytest.mark.parametrize("kw", [dict(), dict(norm_first=True), dict(batch_first=True),
                                dict(activation="gelu"), dict(bias=False)])
def test_decoder_layer(kw):
    cm, tm = _pair(lambda lib, d: _layer(lib, d, **kw))
    bf = kw.get("batch_first")
    tgt, mem = (rand(2, 5, 8), rand(2, 4, 8, seed=1)) if bf else \
        (rand(5, 2, 8), rand(4, 2, 8, seed=1))
    check_module(cm, tm, tgt, mem)


def test_decoder_layer_callable_activation():
    cm, tm = _pair(lambda lib, d: _layer(lib, d, activation=lib.functional.silu))
    check_module(cm, tm, rand(5, 2, 8), rand(4, 2, 8, seed=1))


def test_decoder_masks():
    cm, tm = _pair(lambda lib, d: lib.TransformerDecoder(_layer(lib, d), 2,
                                                        norm=lib.LayerNorm(8, dtype=d)))
    mask = nn.Transformer.generate_square_subsequent_mask(5, dtype=D).numpy()
    assert np.array_equal(mask, torch.nn.Transformer.generate_square_subsequent_mask(
        5, dtype=TD).numpy())
    tkpm = np.array([[False] * 5, [False, False, False, True, True]])
    mkpm = np.array([[False, False, False, True], [False] * 4])
    check_module(cm, tm, rand(5, 2, 8), rand(4, 2, 8, seed=1),
                 kwargs=dict(tgt_mask=mask, tgt_key_padding_mask=tkpm,
                             memory_key_padding_mask=mkpm))
    check_module(cm, tm, rand(5, 2, 8), rand(4, 2, 8, seed=1),
                 kwargs=dict(tgt_mask=mask, tgt_is_causal=True))
    bool_mask = np.triu(np.ones((5, 4), bool), 1)
    check_module(cm, tm, rand(5, 2, 8), rand(4, 2, 8, seed=1),
                 kwargs=dict(memory_mask=bool_mask))


@pytest.mark.parametrize("kw", [dict(), dict(batch_first=True, norm_first=True)])
def test_transformer(kw):
    cm, tm = _pair(lambda lib, d: lib.Transformer(8, 2, 2, 1, 16, dropout=0.0, dtype=d, **kw))
    names = [n for n, _ in cm.named_parameters()]
    assert names == [n for n, _ in tm.named_parameters()]
    bf = kw.get("batch_first")
    src, tgt = (rand(2, 6, 8), rand(2, 5, 8, seed=1)) if bf else \
        (rand(6, 2, 8), rand(5, 2, 8, seed=1))
    mask = nn.Transformer.generate_square_subsequent_mask(5, dtype=D).numpy()
    skpm = np.array([[False] * 6, [False] * 4 + [True] * 2])
    check_module(cm, tm, src, tgt, kwargs=dict(tgt_mask=mask, src_key_padding_mask=skpm,
                                               memory_key_padding_mask=skpm))
    check_module(cm, tm, src, tgt)


def test_transformer_unbatched_and_errors():
    cm, tm = _pair(lambda lib, d: lib.Transformer(8, 2, 1, 1, 16, dropout=0.0, dtype=d))
    check_module(cm, tm, rand(6, 8), rand(5, 8, seed=1))
    with pytest.raises(RuntimeError, match="batch number"):
        cm(cadenza.zeros(6, 2, 8, dtype=D), cadenza.zeros(5, 3, 8, dtype=D))
    with pytest.raises(RuntimeError, match="d_model"):
        cm(cadenza.zeros(6, 2, 4, dtype=D), cadenza.zeros(5, 2, 4, dtype=D))


def test_transformer_init_is_xavier():
    cadenza.manual_seed(0)
    m = nn.Transformer(32, 4, 1, 1, 64)
    w = m.decoder.layers[0].linear1.weight.detach().numpy()
    bound = np.sqrt(6 / (32 + 64))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound


def test_transformer_trains():
    cadenza.manual_seed(0)
    m = nn.Transformer(8, 2, 1, 1, 16, dropout=0.1)
    opt = cadenza.optim.Adam(m.parameters(), lr=1e-2)
    src, tgt = cadenza.randn(6, 3, 8), cadenza.randn(5, 3, 8)
    mask = nn.Transformer.generate_square_subsequent_mask(5)
    losses = []
    for _ in range(20):
        loss = (m(src, tgt, tgt_mask=mask) - tgt).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]

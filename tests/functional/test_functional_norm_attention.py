"""Normalisation and attention: running statistics, small-magnitude float32, dropout, error
messages. The comparisons with torch (forward, gradients, gradcheck, compiled) are op-table
entries: tests/ops/opinfo.py and opinfo_nn.py."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cadenza
import cadenza.nn.functional as F
from functional_helpers import check, rng

R = rng(2)


def test_rms_norm_small_float32():
    # eps=None is the dtype's machine epsilon (as torch): tiny float32 rows stay accurate
    x32 = R.standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(F.rms_norm(cadenza.tensor(x32 * 1e-4), (4,)).numpy(),
                               TF.rms_norm(torch.tensor(x32 * 1e-4), (4,)).numpy(), rtol=1e-5)


@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 5), (2, 3, 2, 2)])
def test_batch_norm_training_updates_running_stats(shape):
    x = R.standard_normal(shape)
    C = shape[1]
    crm, crv = cadenza.zeros(C, dtype=cadenza.float64), cadenza.ones(C, dtype=cadenza.float64)
    trm, trv = torch.zeros(C, dtype=torch.float64), torch.ones(C, dtype=torch.float64)
    w, b = R.standard_normal(C), R.standard_normal(C)
    check(lambda a, w_, b_: F.batch_norm(a, crm, crv, w_, b_, True, 0.3, 1e-4),
          lambda a, w_, b_: TF.batch_norm(a, trm, trv, w_, b_, True, 0.3, 1e-4), x, w, b)
    np.testing.assert_allclose(crm.numpy(), trm.numpy())
    np.testing.assert_allclose(crv.numpy(), trv.numpy())
    assert not crm.requires_grad
    check(lambda a, w_, b_: F.batch_norm(a, crm, crv, w_, b_, False),
          lambda a, w_, b_: TF.batch_norm(a, trm, trv, w_, b_, False), x, w, b)


def test_batch_norm_float32_running_stats():
    x = R.standard_normal((8, 3)).astype(np.float32)
    rm, rv = cadenza.zeros(3), cadenza.ones(3)
    trm, trv = torch.zeros(3), torch.ones(3)
    F.batch_norm(cadenza.tensor(x), rm, rv, training=True)
    TF.batch_norm(torch.tensor(x), trm, trv, training=True)
    assert rm.dtype is cadenza.float32
    np.testing.assert_allclose(rv.numpy(), trv.numpy(), rtol=1e-6)


def test_instance_norm_updates_running_stats():
    x = R.standard_normal((2, 4, 3, 2))
    w, b = R.standard_normal(4), R.standard_normal(4)
    crm, crv = cadenza.zeros(4, dtype=cadenza.float64), cadenza.ones(4, dtype=cadenza.float64)
    trm, trv = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    check(lambda a, w_, b_: F.instance_norm(a, crm, crv, w_, b_),
          lambda a, w_, b_: TF.instance_norm(a, trm, trv, w_, b_), x, w, b)
    np.testing.assert_allclose(crm.numpy(), trm.numpy())
    np.testing.assert_allclose(crv.numpy(), trv.numpy())


def test_norm_errors():
    with pytest.raises(cadenza.ShapeError, match=r"layer_norm: expected input.shape\[-1:\]"):
        F.layer_norm(cadenza.ones(2, 3), (4,))
    with pytest.raises(cadenza.ShapeError, match="group_norm: expected num_channels"):
        F.group_norm(cadenza.ones(2, 3, 4), 2)
    with pytest.raises(cadenza.ShapeError, match="batch_norm: expected running_mean"):
        F.batch_norm(cadenza.ones(2, 3), cadenza.zeros(4), cadenza.ones(4))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(cadenza.ones(1, 3), None, None, training=True)


def test_layer_norm_tuple_shortcut_keeps_checks_and_results():
    """layer_norm's shortcut for nn.LayerNorm's call (a tuple normalized_shape, float32/64
    operands whose shapes fit) gives what torch gives; misfits still reach the checks."""
    x = R.standard_normal((2, 3, 4)).astype(np.float32)
    w, b = R.standard_normal(4).astype(np.float32), R.standard_normal(4).astype(np.float32)
    for shape, args in (((4,), (w, b)), ((3, 4), (None, None)), ((4,), (w, None)),
                        ([4], (w, b))):
        got = F.layer_norm(cadenza.tensor(x), shape,
                           *[None if a is None else cadenza.tensor(a) for a in args])
        want = TF.layer_norm(torch.tensor(x), shape,
                             *[None if a is None else torch.tensor(a) for a in args])
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(cadenza.ShapeError, match="expected weight.shape"):
        F.layer_norm(cadenza.tensor(x), (4,), cadenza.ones(3))
    with pytest.raises(cadenza.ShapeError, match=r"expected input.shape\[-2:\]"):
        F.layer_norm(cadenza.tensor(x), (2, 4))
    half = F.layer_norm(cadenza.tensor(x).half(), (4,), cadenza.ones(4).half())  # composite
    assert half.dtype == cadenza.float16


# ----------------------------------------------------------------------------- attention
def _qkv(B=2, H=2, L=3, S=4, E=5, Hk=None):
    Hk = Hk or H
    return (R.standard_normal((B, H, L, E)), R.standard_normal((B, Hk, S, E)),
            R.standard_normal((B, Hk, S, E)))


def test_sdpa_dropout():
    q, k, v = (cadenza.tensor(a, requires_grad=True) for a in _qkv(1, 1, 2, 3, 2))
    cadenza.manual_seed(0)
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    assert out.shape == (1, 1, 2, 2)


def test_sdpa_errors():
    q, k, v = (cadenza.tensor(a) for a in _qkv())
    with pytest.raises(cadenza.ShapeError, match=r"query.shape\[-1\] == key.shape\[-1\]"):
        F.scaled_dot_product_attention(q, k[..., :3], v)
    with pytest.raises(cadenza.ShapeError, match=r"key.shape\[-2\] == value.shape\[-2\]"):
        F.scaled_dot_product_attention(q, k, v[:, :, :2])
    with pytest.raises(cadenza.ShapeError, match="attn_mask"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=cadenza.ones(5, 5, dtype=cadenza.bool))
    with pytest.raises(cadenza.DTypeError):
        F.scaled_dot_product_attention(q.float(), k, v)


def _sdpa_layout_cases():
    # (source shape, permutation to (B, H, L, D), dtype, sdpa keywords)
    blhd = ((2, 5, 3, 4), (0, 2, 1, 3))
    lbhd = ((5, 2, 3, 4), (1, 2, 0, 3))
    strided_last = ((2, 3, 4, 5), (0, 1, 3, 2))
    return [(*blhd, "float32", {}), (*blhd, "float32", {"is_causal": True}),
            (*blhd, "float64", {}), (*lbhd, "float32", {}), (*strided_last, "float32", {}),
            (*blhd, "float32", {"dropout_p": 0.5}), ((2, 3, 5, 4), (0, 1, 2, 3), "float32", {})]


@pytest.mark.parametrize("src,perm,dtype,kw", _sdpa_layout_cases())
def test_sdpa_output_follows_query_memory_order(src, perm, dtype, kw):
    # torch's CPU kernel returns the output in the query's memory order: heads split from a
    # (B, L, H*D) projection come back (B, L, H, D)-ordered, and .transpose(1, 2).view(...)
    # works on it without .contiguous()
    x = R.standard_normal(src).astype(dtype)
    q = cadenza.tensor(x).permute(*perm)
    tq = torch.tensor(x).permute(*perm)
    out, ref = F.scaled_dot_product_attention(q, q, q, **kw), \
        TF.scaled_dot_product_attention(tq, tq, tq, **kw)
    assert out.stride() == ref.stride()
    if not kw:
        np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)
    B, H, L, D = out.shape
    if ref.transpose(1, 2).is_contiguous():
        assert out.transpose(1, 2).view(B, L, H * D).shape == (B, L, H * D)

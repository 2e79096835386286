"""torch's limited-support dtypes: uint16/uint32/uint64 (storage, casts, a few ops; no
promotion with other integer dtypes) and the float8 storage dtypes float8_e4m3fn/float8_e5m2
(casts with torch's saturation, creation, joins; no promotion), against torch 2.13."""
import numpy as np
import pytest
import torch

import cadenza

UNSIGNED = ("uint16", "uint32", "uint64")
FLOAT8 = ("float8_e4m3fn", "float8_e5m2")


def _both(name):
    return getattr(cadenza, name), getattr(torch, name)


@pytest.mark.parametrize("name", UNSIGNED)
def test_unsigned_ops_torch_supports(name):
    cd, td = _both(name)
    vals = [1, 2, 3, int(np.iinfo(name).max)]
    c, t = cadenza.tensor(vals, dtype=cd), torch.tensor(vals, dtype=td)
    for f in (lambda L, x: x * x, lambda L, x: x * 3, lambda L, x: x / 2, lambda L, x: x == 2,
              lambda L, x: x.sum(), lambda L, x: x.cumsum(0), lambda L, x: x.float(),
              lambda L, x: x.long(), lambda L, x: L.cat([x, x]), lambda L, x: x[1:],
              lambda L, x: x & x, lambda L, x: x ^ 5, lambda L, x: x.sort(descending=True)[0],
              lambda L, x: x.unique(), lambda L, x: x * 2.5, lambda L, x: x * L.tensor(3),
              lambda L, x: x + L.ones(4), lambda L, x: L.full((2,), -1, dtype=x.dtype)):
        r, e = f(cadenza, c), f(torch, t)
        assert str(r.dtype).split(".")[1] == str(e.dtype).split(".")[1]
        assert r.tolist() == e.tolist()
    assert cadenza.tensor([3e9, 1.7]).to(cd).tolist() == torch.tensor([3e9, 1.7]).to(td).tolist()
    assert (cd.is_signed, cd.itemsize, cd.is_floating_point) == (False, td.itemsize, False)
    info = cadenza.iinfo(cd)
    assert (info.min, info.max, info.bits) == (torch.iinfo(td).min, torch.iinfo(td).max,
                                               torch.iinfo(td).bits)
    assert repr(cadenza.tensor([7], dtype=cd)).replace("cadenza", "torch") == repr(
        torch.tensor([7], dtype=td))


@pytest.mark.parametrize("name", UNSIGNED)
def test_unsigned_promotion_refused_as_torch(name):
    cd, _ = _both(name)
    for other in ("bool", "uint8", "int8", "int64", "complex64",
                  *(u for u in UNSIGNED if u != name)):
        with pytest.raises(RuntimeError, match="Promotion for uint16, uint32, uint64"):
            cadenza.promote_types(cd, getattr(cadenza, other))
        with pytest.raises(RuntimeError, match="Promotion for uint16, uint32, uint64"):
            torch.promote_types(getattr(torch, name), getattr(torch, other))
    for other in ("float16", "float32", "float64"):
        assert cadenza.promote_types(cd, getattr(cadenza, other)) is getattr(cadenza, other)
    with pytest.raises(RuntimeError, match="UInt"):
        cadenza.tensor([1, 2], dtype=cd) * cadenza.tensor([1, 2])
    with pytest.raises(OverflowError):   # as torch: a negative int is no uint64
        cadenza.tensor([-1], dtype=cadenza.uint64)


def test_float8_casts_match_torch_bitwise():
    pytest.importorskip("ml_dtypes")
    rng = np.random.default_rng(0)
    x = np.concatenate([(rng.standard_normal(800) * 10.0 ** rng.integers(-9, 7, 800)),
                        [np.inf, -np.inf, 449, 464, 465, 480, 1e6, 57344, 61440, 61441, 1e-10,
                         -0.0]]).astype(np.float32)
    for name in FLOAT8:
        cd, td = _both(name)
        for src in (x, x.astype(np.float64)):
            c = cadenza.tensor(src).to(cd)
            t = torch.tensor(src).to(td)
            assert c.dtype is cd
            np.testing.assert_array_equal(c.float().numpy(), t.float().numpy())
        bits = np.arange(256, dtype=np.uint8)   # every float8 value back to float32
        back = cadenza.from_numpy(bits).view(cd).float().numpy()
        np.testing.assert_array_equal(back, torch.from_numpy(bits).view(td).float().numpy())


@pytest.mark.parametrize("name", FLOAT8)
def test_float8_storage_ops(name):
    pytest.importorskip("ml_dtypes")
    cd, td = _both(name)
    vals = [1.0, 2.5, 500.0, -0.3, float("nan"), 0.001]
    c, t = cadenza.tensor(vals).to(cd), torch.tensor(vals).to(td)
    for f in (lambda L, x: L.cat([x, x]), lambda L, x: x[1:3], lambda L, x: x.clone(),
              lambda L, x: L.stack([x, x]), lambda L, x: x.reshape(2, 3),
              lambda L, x: L.zeros(2, dtype=x.dtype), lambda L, x: L.full((2,), 3.3, dtype=x.dtype),
              lambda L, x: L.tensor([1.0, 3.3], dtype=x.dtype), lambda L, x: x.bfloat16(),
              lambda L, x: x.half(), lambda L, x: x.abs(), lambda L, x: x.isnan(),
              lambda L, x: L.zeros(2, dtype=x.dtype).copy_(L.tensor([1.5, 600.0]))):
        r, e = f(cadenza, c), f(torch, t)
        assert str(r.dtype).split(".")[1] == str(e.dtype).split(".")[1]
        np.testing.assert_array_equal(np.array(r.float().tolist()), np.array(e.float().tolist()))
    assert c.tolist() == pytest.approx(t.tolist(), nan_ok=True)
    fi, ti = cadenza.finfo(cd), torch.finfo(td)
    assert (fi.max, fi.eps, fi.tiny, fi.resolution, fi.bits) == (ti.max, ti.eps, ti.tiny,
                                                                  ti.resolution, ti.bits)
    for other in ("float32", "float16", "int64", *(f for f in FLOAT8 if f != name)):
        with pytest.raises(RuntimeError, match="Promotion for Float8 Types is not supported"):
            cadenza.promote_types(cd, getattr(cadenza, other))


def test_new_dtypes_round_trip_through_checkpoints(tmp_path):
    pytest.importorskip("ml_dtypes")
    sd = {"u16": cadenza.tensor([1, 65535], dtype=cadenza.uint16),
          "u64": cadenza.tensor([2 ** 64 - 1], dtype=cadenza.uint64),
          "f8": cadenza.tensor([1.5, -600.0]).to(cadenza.float8_e4m3fn)}
    cadenza.save(sd, str(tmp_path / "d.pt"))
    back = cadenza.load(str(tmp_path / "d.pt"))
    for k, v in sd.items():
        assert back[k].dtype is v.dtype and back[k].tolist() == v.tolist()


def test_dense_tensor_sparse_layout_queries_as_torch():
    c, t = cadenza.ones(2, 3), torch.ones(2, 3)
    assert (c.sparse_dim(), c.dense_dim(), c.is_sparse_csr) == (
        t.sparse_dim(), t.dense_dim(), t.is_sparse_csr)
    for name in ("is_coalesced", "coalesce", "indices", "values", "crow_indices",
                 "col_indices", "ccol_indices", "row_indices"):
        with pytest.raises(RuntimeError, match=f"{name} expected sparse") as e:
            getattr(c, name)()
        with pytest.raises(RuntimeError) as et:
            getattr(t, name)()
        assert str(e.value).split(" (")[0] == str(et.value)
    s = cadenza.tensor([[0.0, 2.0], [3.0, 0.0]]).to_sparse()
    assert (s.sparse_dim(), s.dense_dim(), s.is_coalesced(), s.is_sparse_csr) == (2, 0, True,
                                                                                   False)

"""save_safetensors / load_safetensors and interop with the safetensors package."""
import numpy as np
import pytest

import cadenza as C
from cadenza.io import load, load_safetensors, save_safetensors

st_numpy = pytest.importorskip("safetensors.numpy")


def state():
    g = C.Generator().manual_seed(1)
    return {"w": C.randn(3, 4, generator=g), "b": C.zeros(4, dtype=C.float64),
            "h": C.ones(2, dtype=C.float16), "bf": C.randn(5, generator=g).to(C.bfloat16),
            "m": C.tensor([True, False, True]), "i": C.arange(7), "u": C.arange(3, dtype=C.uint8),
            "s": C.tensor(1.5), "e": C.zeros(0, 2)}


def test_round_trip(tmp_path):
    p = tmp_path / "m.safetensors"
    sd = state()
    save_safetensors(sd, p, metadata={"format": "pt"})
    out = load_safetensors(p)
    assert list(out) == list(sd)
    for k in sd:
        assert out[k].dtype == sd[k].dtype and out[k].shape == sd[k].shape
        np.testing.assert_array_equal(np.asarray(out[k]), np.asarray(sd[k]))
    assert sorted(load(p)) == sorted(sd)  # cadenza.load reads plain files as flat dicts
    with pytest.raises(TypeError):
        save_safetensors({"a": 1}, p)
    with pytest.raises(TypeError):
        save_safetensors({1: C.ones(1)}, p)


def test_package_reads_our_files(tmp_path):
    from safetensors import safe_open
    p = tmp_path / "ours.safetensors"
    sd = state()
    save_safetensors(sd, p, metadata={"format": "pt", "note": "hi"})
    theirs = st_numpy.load_file(str(p))
    assert sorted(theirs) == sorted(sd)
    for k in sd:
        np.testing.assert_array_equal(theirs[k], np.asarray(sd[k]))
        assert theirs[k].dtype == np.asarray(sd[k]).dtype
    with safe_open(str(p), framework="numpy") as f:
        meta = f.metadata()
    assert meta.pop("cadenza.crc32").startswith('{"tensors":')  # our checksums ride along
    assert meta.pop("cadenza.integrity") == "crc32"
    assert meta == {"format": "pt", "note": "hi"}
    q = tmp_path / "ckpt.safetensors"  # a nested cadenza.save file is valid too
    C.save({"model": sd, "opt": {"state": {0: {"m": C.ones(2)}}}, "step": 3}, q)
    assert "opt.state.0.m" in st_numpy.load_file(str(q))


def test_we_read_package_files(tmp_path):
    import ml_dtypes
    p = tmp_path / "theirs.safetensors"
    arrs = {"a": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.array([1, 2], np.int64),
            "c": np.array([True, False]), "d": np.ones(3, ml_dtypes.bfloat16),
            "e": np.zeros((2, 0), np.int8), "f": np.array(3.0),
            "g": np.array([1, -2], np.int16)}
    st_numpy.save_file(arrs, str(p), metadata={"k": "v"})
    out = load_safetensors(p)
    assert sorted(out) == sorted(arrs)
    for k, a in arrs.items():
        assert out[k].numpy().dtype == a.dtype and tuple(out[k].shape) == a.shape
        np.testing.assert_array_equal(out[k].numpy(), a)


def test_torch_safetensors_interop(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    p = tmp_path / "t.safetensors"
    st_torch.save_file({"w": torch.arange(6.0).reshape(2, 3).to(torch.bfloat16)}, str(p))
    w = load_safetensors(p)["w"]
    assert w.dtype == C.bfloat16 and w.float().tolist() == [[0, 1, 2], [3, 4, 5]]
    save_safetensors({"w": w}, p)
    assert st_torch.load_file(str(p))["w"].float().tolist() == [[0, 1, 2], [3, 4, 5]]

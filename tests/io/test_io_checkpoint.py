"""cadenza.save / cadenza.load round trips and atomic writes."""
import collections
import io
import math
import os

import numpy as np
import pytest

import cadenza as C
import cadenza.io as cio
from cadenza.io import _format


def assert_tree_equal(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, C.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad
        np.testing.assert_array_equal(np.asarray(a.detach()), np.asarray(b.detach()))
    elif isinstance(a, dict):
        assert list(a.keys()) == list(b.keys())
        for k in a:
            assert_tree_equal(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_tree_equal(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


def sample_checkpoint():
    g = C.Generator().manual_seed(0)
    model = collections.OrderedDict([
        ("emb.weight", C.randn(5, 4, generator=g)),
        ("fc.weight", C.randn(3, 4, generator=g, requires_grad=True)),
        ("fc.bias", C.zeros(3, dtype=C.float64)),
        ("half", C.ones(2, 2, dtype=C.float16)),
        ("bf", C.randn(3, generator=g).to(C.bfloat16)),
        ("mask", C.tensor([[True, False], [False, True]])),
        ("idx", C.arange(4, dtype=C.int32)), ("u8", C.arange(3, dtype=C.uint8)),
        ("i8", C.tensor([-1, 2], dtype=C.int8)), ("i16", C.tensor([7], dtype=C.int16)),
        ("scalar", C.tensor(2.5)), ("empty", C.zeros(0, 3)),
    ])
    optim = {"state": {0: {"step": C.tensor(3.0), "exp_avg": C.ones(5, 4)},
                       1: {"step": C.tensor(3.0), "exp_avg": C.zeros(3, 4)}},
             "param_groups": [{"lr": 3e-4, "betas": (0.9, 0.95), "eps": 1e-8,
                               "weight_decay": 0.0, "amsgrad": False, "foreach": None,
                               "params": [0, 1]}]}
    return {"model": model, "optimizer": optim, "step": 1200, "best": float("inf"),
            "nan": float("nan"), "config": {"name": "gpt", "n_layer": 2, "bias": True,
                                            "tags": ["a", "b"], "dims": (64, 128)},
            "rng": C.get_rng_state(), "keys": {(1, "a"): "tuple key", 2.5: None, True: 1,
                                                None: "none"},
            "blob": b"\x00\x01", "dtype": C.bfloat16, "np": np.arange(3.0)}


@pytest.mark.parametrize("to_path", [True, False])
def test_nested_round_trip(tmp_path, to_path):
    ckpt = sample_checkpoint()
    if to_path:
        f = tmp_path / "ckpt.pt"
        C.save(ckpt, f)
        out = C.load(str(f))
    else:
        f = io.BytesIO()
        C.save(ckpt, f)
        f.seek(0)
        out = C.load(f)
    np_arr = out.pop("np")
    np.testing.assert_array_equal(np_arr, ckpt.pop("np"))
    assert_tree_equal(out, ckpt)
    assert isinstance(out["model"], collections.OrderedDict)
    assert list(out["optimizer"]["state"]) == [0, 1]  # int keys preserved
    assert isinstance(out["config"]["dims"], tuple)
    for t in out["model"].values():  # loaded tensors are writable (optimizers update in place)
        t.numpy(force=True)[...] = 0 if t.numel() else None


def test_plain_tensor_and_values(tmp_path):
    p = tmp_path / "t.safetensors"
    for obj in (C.arange(6).reshape(2, 3), 3, "x", None, [], {}, (C.ones(1),)):
        C.save(obj, p)
        assert_tree_equal(C.load(p), obj)


def test_shared_tensors_stay_shared(tmp_path):
    w = C.randn(3, 3)
    C.save({"a": w, "b": w, "c": [w]}, tmp_path / "s")
    out = C.load(tmp_path / "s")
    assert out["a"] is out["b"] is out["c"][0]


def test_parameter_flag_round_trips(tmp_path):
    nn = pytest.importorskip("cadenza.nn")
    if not hasattr(nn, "Parameter"):
        pytest.skip("cadenza.nn.Parameter not available yet")
    p = nn.Parameter(C.randn(2))
    C.save({"p": p}, tmp_path / "p")
    out = C.load(tmp_path / "p")["p"]
    assert isinstance(out, nn.Parameter) and out.requires_grad


def test_file_is_plain_safetensors_and_map_location(tmp_path):
    p = tmp_path / "m.safetensors"
    sd = {"w": C.randn(2, 3), "b": C.zeros(3)}
    C.save({"model": sd, "step": 1}, p)
    flat = cio.load_safetensors(p)
    assert sorted(flat) == ["model.b", "model.w"]
    seen = []
    out = C.load(p, map_location=lambda t, loc: seen.append(loc))
    assert seen == ["cpu", "cpu"] and out["step"] == 1
    for ml in ("cpu", C.device("cpu"), {"cuda:0": "cpu"}):
        assert_tree_equal(C.load(p, map_location=ml, weights_only=True)["model"], sd)
    mapped = C.load(p, mmap=True)["model"]
    assert_tree_equal(mapped, sd)
    assert mapped["w"].device.type == "cpu" and type(mapped["w"].numpy()) is np.ndarray
    mapped["w"].numpy()[...] = 7.0  # copy-on-write: the file keeps its contents
    assert_tree_equal(C.load(p)["model"], sd)


def test_unsupported_objects_rejected_before_writing(tmp_path):
    p = tmp_path / "x"
    C.save({"a": 1}, p)
    before = p.read_bytes()
    class Local:  # not found again under its name: could never load
        pass

    class Reducing:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    for bad in ({"f": lambda: 0}, {"o": Local()}, {"r": Reducing()}, {"g": (i for i in ())}):
        with pytest.raises(TypeError, match="save: cannot store"):
            C.save(bad, p)
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        C.save(loop, p)
    assert p.read_bytes() == before


def test_atomic_write_failure_keeps_old_file(tmp_path, monkeypatch):
    p = tmp_path / "ckpt.safetensors"
    C.save({"w": C.ones(4)}, p)
    before = p.read_bytes()
    real = _format._write_array
    calls = []

    def failing(fh, arr):
        calls.append(1)
        if len(calls) == 2:
            fh.write(b"\x00" * 3)  # part of a tensor reaches the disk, then the crash
            raise OSError("disk full (simulated)")
        real(fh, arr)
    monkeypatch.setattr(_format, "_write_array", failing)
    with pytest.raises(OSError, match="simulated"):
        C.save({"w": C.zeros(100), "v": C.zeros(100), "x": C.zeros(5)}, p)
    assert p.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]
    monkeypatch.setattr(_format, "_write_array", real)
    C.save({"w": C.zeros(2)}, p)
    assert C.load(p)["w"].tolist() == [0.0, 0.0]
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]


def test_atomic_write_fsyncs_file_and_directory(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    C.save({"w": C.ones(1)}, tmp_path / "c")
    assert len(synced) >= (2 if os.name == "posix" else 1)

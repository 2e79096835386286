"""Files written by real PyTorch (``torch.save``: the zip format and the legacy one), recorded
by record_torch_fixtures.py into torch_fixtures/, loaded by Cadenza without torch: values,
dtypes, Parameters, storage shared among views, state dicts that ``load_state_dict`` accepts,
and hostile pickles refused before anything runs."""
import copyreg
import dataclasses
import io
import os
import pathlib
import pickle
import sys
import zipfile

import numpy as np
import pytest

import cadenza as C
from cadenza.io import CheckpointError, UnsafeGlobalError, load
from cadenza.io.torch_format import LEGACY_MAGIC

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "torch_fixtures")
VALUES = np.load(os.path.join(FIX, "values.npz"))
sys.path.insert(0, HERE)
import _pt_convnet  # noqa: E402


def fix(name):
    return os.path.join(FIX, name)


def as_np(t):
    t = t.detach()
    return (t.float() if t.dtype == C.bfloat16 else t).numpy()


def check_tensors(out):
    dtypes = {"f32": C.float32, "f16": C.float16, "bf16": C.bfloat16, "f64": C.float64,
              "i64": C.int64, "i32": C.int32, "u8": C.uint8, "bool": C.bool}
    for k, v in out.items():
        if isinstance(v, C.Tensor):
            np.testing.assert_array_equal(as_np(v), VALUES[f"tensors/{k}"], err_msg=k)
    for k, dt in dtypes.items():
        assert out[k].dtype == dt, k
    assert out["scalar"].shape == () and out["empty"].shape == (0, 3)
    assert type(out["param"]) is C.nn.Parameter and out["param"].requires_grad
    assert type(out["frozen"]) is C.nn.Parameter and not out["frozen"].requires_grad
    assert type(out["grad"]) is C.Tensor and out["grad"].requires_grad
    assert not out["base"].requires_grad
    assert out["misc"] == [1, 2.5, "s", (3, None), {"k": [True, b"by"]}, C.Size([2, 3]),
                           C.float16, C.device("cpu"), {1, 2}, slice(1, 5, 2), 1 + 2j]


@pytest.mark.parametrize("name", ["tensors.pt", "tensors_legacy.pt"])
def test_tensors_values_dtypes_and_views(name):
    for src in (fix(name), io.BytesIO(pathlib.Path(fix(name)).read_bytes())):
        out = load(src, weights_only=True)
        check_tensors(out)
    assert out["t"].stride() == (1, 6) and not out["t"].is_contiguous()
    assert out["cols"].stride() == (6, 2)
    # views saved together alias one storage, as in PyTorch
    out["base"][1, 0] = 100.0
    assert out["row"][0].item() == 100.0 and out["t"][0, 1].item() == 100.0
    assert out["cols"][0, 0].item() == 100.0
    base = VALUES["tensors/base"]
    assert out["row"][1].item() == base[1, 1]  # the rest unchanged


def test_full_checkpoint_into_cadenza_model_and_optimizer():
    ck = load(fix("checkpoint.pt"), map_location="cpu")
    assert ck["epoch"] == 3 and ck["history"] == [[0.5, 0.25], [0.125]]
    assert ck["name"] == "run-1"
    assert type(ck["best"]) is np.float64 and ck["best"] == 0.875
    assert type(ck["count"]) is np.int64 and ck["count"] == 7
    for k in ("order", "mask"):
        assert isinstance(ck[k], np.ndarray)
        np.testing.assert_array_equal(ck[k], VALUES[f"checkpoint/{k}"])
        assert ck[k].dtype == VALUES[f"checkpoint/{k}"].dtype
    model = C.nn.Sequential(C.nn.Linear(4, 3), C.nn.ReLU(), C.nn.Linear(3, 2))
    model.load_state_dict(ck["model"])
    np.testing.assert_array_equal(model[2].bias.detach().numpy(),
                                  VALUES["checkpoint/model/2.bias"])
    opt = C.optim.Adam(model.parameters(), lr=0.5)
    opt.load_state_dict(ck["optimizer"])
    assert opt.param_groups[0]["lr"] == 0.01
    st = opt.state[model[0].weight]
    np.testing.assert_array_equal(st["exp_avg"].numpy(),
                                  VALUES["checkpoint/optimizer/state/0/exp_avg"])
    assert float(st["step"]) == 2.0


def test_convnet_state_dict_gives_torchs_outputs():
    net = _pt_convnet.build(C)()
    sd = load(fix("convnet.pt"), weights_only=True)
    assert list(sd) == list(net.state_dict())
    net.load_state_dict(sd)
    net.eval()
    y = net(C.from_numpy(VALUES["convnet/x"]))
    np.testing.assert_allclose(y.detach().numpy(), VALUES["convnet/y"], rtol=1e-4, atol=1e-5)


def test_map_location_and_mmap(tmp_path):
    seen = []

    def keep(storage, loc):
        seen.append(loc)
        return storage
    for ml in ("cpu", C.device("cpu"), {"cpu": "cpu"}, keep):
        check_tensors(load(fix("tensors.pt"), map_location=ml))
    assert seen and set(seen) == {"cpu"}
    for name in ("tensors.pt", "tensors_legacy.pt"):
        check_tensors(load(fix(name), map_location=keep))
        meta = load(fix(name), map_location=lambda s, loc: s.to("meta"))
        assert meta["f32"].is_meta and meta["f32"].shape == (3, 2)
        meta = load(fix(name), map_location="meta")
        assert meta["misc"][0] == 1 and meta["param"].is_meta
        assert type(meta["param"]) is C.nn.Parameter and meta["param"].requires_grad
    p = tmp_path / "copy.pt"
    p.write_bytes(pathlib.Path(fix("tensors.pt")).read_bytes())
    out = load(p, mmap=True)
    check_tensors(out)
    out["base"].mul_(0)  # copy-on-write: the file keeps its values
    check_tensors(load(p))


def torch_zip(pkl, storages=None, byteorder=b"little"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/byteorder", byteorder)
        for k, v in (storages or {}).items():
            z.writestr(f"archive/data/{k}", v)
        z.writestr("archive/version", b"3\n")
    buf.seek(0)
    return buf


def tensor_pickle(size, stride, offset=0, numel=3):
    return (b"ctorch._utils\n_rebuild_tensor_v2\n((S'storage'\nctorch\nFloatStorage\nS'0'\n"
            b"S'cpu'\nI%d\ntQI%d\n(I%d\nt(I%d\ntI00\n(dtR." % (numel, offset, size, stride))


def test_handmade_files_byteorder_and_corruption():
    be = np.array([1.5, -2.0, 3.0], ">f4").tobytes()
    t = load(torch_zip(tensor_pickle(3, 1), {"0": be}, b"big"))
    assert t.tolist() == [1.5, -2.0, 3.0]
    le = np.array([1.5, -2.0, 3.0], "<f4").tobytes()
    assert load(torch_zip(tensor_pickle(2, 2), {"0": le})).tolist() == [1.5, 3.0]
    bad = [(tensor_pickle(3, 1), {"0": le[:8]}, "bytes"),
           (tensor_pickle(3, 1), {}, "missing"),
           (tensor_pickle(3, 2), {"0": le}, "reaches element"),
           (tensor_pickle(1, 1, offset=5), {"0": le}, "reaches element"),
           (b"\x80\x02(X\x03\x00\x00\x00absQ.", {}, "persistent id"),
           (b"\x80\x02K", {}, "broken pickle")]
    for pkl, st, frag in bad:
        with pytest.raises(CheckpointError, match=frag):
            load(torch_zip(pkl, st))
    with pytest.raises(CheckpointError, match="larger than the file"):
        load(legacy(tensor_pickle(3, 1, numel=10 ** 15)))
    with pytest.raises(CheckpointError, match="storage key list"):
        load(legacy(tensor_pickle(3, 1)))
    with pytest.raises(CheckpointError, match="data.pkl"):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("x/other", b"")
        buf.seek(0)
        load(buf)


class Boom:
    def __reduce__(self):
        return (exec, ("import sys; sys.modules['cadenza']._PWNED = True",))


HOSTILE = [pickle.dumps({"x": Boom()}, protocol=2),
           b"cposix\nsystem\n(S'touch /tmp/pwned_ptload'\ntR.",
           b"cbuiltins\ngetattr\n(cbuiltins\nobject\nS'__subclasses__'\ntR.",
           b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(cos\nsystem\ntR.",
           b"\x80\x04\x8c\x02os\x8c\x06system\x93X\x04\x00\x00\x00true\x85R.",
           b"\x80\x02ctorch.nn.modules.linear\nLinear\nK\x02K\x03\x86R.",
           b"\x80\x02ctorch.nn.modules.linear\nLinear\n)\x81."]


def legacy(pkl):
    p = [pickle.dumps(x, protocol=2) for x in (1001, {"little_endian": True})]
    return io.BytesIO(LEGACY_MAGIC + b"".join(p) + pkl + pickle.dumps([], protocol=2))


@pytest.mark.parametrize("weights_only", [True, False, None])
def test_hostile_pickles_refused_without_running_anything(weights_only):
    copyreg.add_extension("os", "system", 0x7ead)
    try:
        ext = b"\x80\x02\x83\xad\x7eX\x01\x00\x00\x00x\x85R."  # EXT2 -> os.system
        hostile = HOSTILE + [ext] if weights_only else HOSTILE[:-1] + [ext]
        for pkl in hostile:
            for f in (torch_zip(pkl), legacy(pkl)):
                with pytest.raises(UnsafeGlobalError, match="Unsupported") as ei:
                    load(f, weights_only=weights_only)
                assert isinstance(ei.value, pickle.UnpicklingError)
    finally:
        copyreg.remove_extension("os", "system", 0x7ead)
    assert not hasattr(C, "_PWNED") and not os.path.exists("/tmp/pwned_ptload")
    with pytest.raises(UnsafeGlobalError, match="state_dict"):
        load(torch_zip(HOSTILE[-1]), weights_only=True)
    # NumPy values are numbers only: no object arrays (whose items pickle could make)
    for pkl in (b"\x80\x02cnumpy\ndtype\nX\x01\x00\x00\x00O\x85R.",
                b"\x80\x02cnumpy._core.multiarray\nscalar\ncnumpy\ndtype\nX\x02\x00\x00\x00"
                b"f8\x85RC\x01a\x86R."):
        with pytest.raises(CheckpointError, match="NumPy"):
            load(torch_zip(pkl))


@dataclasses.dataclass
class Point:
    x: int = 0
    y: int = 0


def test_safe_globals_extend_the_allow_list():
    pkl = pickle.dumps({"p": Point(1, 2)}, protocol=2)
    with pytest.raises(UnsafeGlobalError, match="Point"):
        load(torch_zip(pkl), weights_only=True)
    with C.serialization.safe_globals([Point]):
        assert load(torch_zip(pkl), weights_only=True) == {"p": Point(1, 2)}
    with pytest.raises(UnsafeGlobalError):
        load(torch_zip(pkl), weights_only=True)
    # weights_only=False: an imported dataclass that runs no code of its own when restored
    # (cadenza.io._allow's rule), made with __new__ and filled from its saved __dict__
    assert load(torch_zip(pkl), weights_only=False) == {"p": Point(1, 2)}


def test_cuda_saved_tensors_need_map_location_without_cuda():
    pkl = tensor_pickle(3, 1).replace(b"S'cpu'", b"S'cuda:0'")
    le = np.array([1.0, 2.0, 3.0], "<f4").tobytes()
    if not C.cuda.is_available():
        with pytest.raises(RuntimeError, match="map_location='cpu'"):
            load(torch_zip(pkl, {"0": le}))
    for ml in ("cpu", {"cuda:0": "cpu"}, lambda s, loc: s):
        t = load(torch_zip(pkl, {"0": le}), map_location=ml)
        assert t.device.type == "cpu" and t.tolist() == [1.0, 2.0, 3.0]


def test_build_cannot_patch_classes_or_dtypes():
    pkl = b"\x80\x02ctorch\nSize\nN}X\x07\x00\x00\x00__len__ctorch\nfloat32\ns\x86b."
    with pytest.raises(UnsafeGlobalError, match="BUILD"):
        load(torch_zip(pkl))
    assert C.Size.__len__ is tuple.__len__


def test_argparse_namespace_with_weights_only_false():
    import argparse
    import types
    ns = pickle.dumps({"args": argparse.Namespace(lr=0.1, layers=[2, 3]),
                       "cfg": types.SimpleNamespace(a=1)}, protocol=2)
    for wo in (False, None):
        out = load(torch_zip(ns), weights_only=wo)
        assert out == {"args": argparse.Namespace(lr=0.1, layers=[2, 3]),
                       "cfg": types.SimpleNamespace(a=1)}
    with pytest.raises(UnsafeGlobalError, match="weights_only=False to allow"):
        load(torch_zip(ns), weights_only=True)
    evil = b"\x80\x02cargparse\nNamespace\n)\x81}X\x09\x00\x00\x00__class__cbuiltins\nset\nsb."
    with pytest.raises(UnsafeGlobalError, match="BUILD"):
        load(torch_zip(evil), weights_only=False)


def test_numpy_values_keep_identity_byteorder_and_layout():
    a = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    for proto in (2, 4):
        pkl = pickle.dumps([a, a, np.dtype(">f4"), np.dtype("f4"), np.float32(1.5)], proto)
        out = load(torch_zip(pkl))
        assert out[0] is out[1] and out[0].flags["F_CONTIGUOUS"]
        np.testing.assert_array_equal(out[0], a)
        assert out[2:] == [np.dtype(">f4"), np.dtype("<f4"), np.float32(1.5)]
    assert np.dtype("f4").byteorder == "="  # the cached dtype is left alone


def test_whole_model_with_weights_only_false():
    m = load(fix("whole_model.pt"), weights_only=False)
    assert type(m) is C.nn.Sequential and type(m[1]) is C.nn.Tanh
    assert type(m[0].weight) is C.nn.Parameter and m[0].weight.requires_grad
    y = m(C.from_numpy(VALUES["whole/x"]))
    np.testing.assert_allclose(y.detach().numpy(), VALUES["whole/y"], rtol=1e-5, atol=1e-6)
    assert [k for k, _ in m.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    with pytest.raises(UnsafeGlobalError, match="weights_only=False"):
        load(fix("whole_model.pt"), weights_only=True)
    with pytest.raises(UnsafeGlobalError, match="REDUCE"):  # classes are never called
        load(torch_zip(HOSTILE[-2]), weights_only=False)


@pytest.mark.parametrize("name", ["uint16", "uint32", "uint64", "float8_e4m3fn",
                                  "float8_e5m2"])
def test_dtypes_torch_saves_untyped(tmp_path, name):
    # torch writes these through _rebuild_tensor_v3 on an untyped (byte) storage
    torch = pytest.importorskip("torch")
    dt = getattr(torch, name)
    t = (torch.tensor([1.5, 2., 288., -7.]) if "float" in name
         else torch.tensor([1, 2, 60000, 9])).to(dt).reshape(2, 2).t()
    torch.save({"x": t, "v": t[1:]}, tmp_path / "u.pt")
    got = C.load(tmp_path / "u.pt")
    assert str(got["x"].dtype) == f"cadenza.{name}"
    assert got["x"].float().tolist() == t.float().tolist()
    assert got["v"].float().tolist() == t[1:].float().tolist()

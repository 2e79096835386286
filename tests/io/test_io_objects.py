"""Whole objects in checkpoints: models, optimizers, schedulers and configs saved with
``torch.save(obj, f)`` and restored by ``torch.load`` only for allowed classes (PyTorch's
``weights_only`` safety model; ``cadenza.serialization``'s allow-list), never running code
named by the file."""
import argparse
import collections
import dataclasses
import enum
import io
import json
import os

import numpy as np
import pytest
import torch

import cadenza as C
import cadenza.nn as nn
from cadenza.io import CheckpointError, UnsafeGlobalError, _format
from cadenza.io.checkpoint import STRUCTURE_KEY

CALLS = []  # what code of classes under test ran (must stay empty for refused loads)


class WordLM(nn.Module):
    """A word-level LM as pytorch/examples writes it: embedding, LSTM, tied decoder."""

    def __init__(self, ntoken=20, nhid=8):
        super().__init__()
        self.drop = nn.Dropout(0.1)
        self.encoder = nn.Embedding(ntoken, nhid)
        self.rnn = nn.LSTM(nhid, nhid, 2, batch_first=True)
        self.decoder = nn.Linear(nhid, ntoken)
        self.decoder.weight = self.encoder.weight  # tied
        self.blocks = nn.ModuleList([nn.TransformerEncoderLayer(nhid, 2, 16, batch_first=True)])
        self.norm = nn.BatchNorm1d(nhid)
        self.register_buffer("pos", C.arange(5.0))
        self.register_buffer("scratch", C.zeros(2), persistent=False)
        self.nhid, self.kind = nhid, "LSTM"

    def forward(self, x):
        h, _ = self.rnn(self.drop(self.encoder(x)))
        for b in self.blocks:
            h = b(h)
        h = self.norm(h.transpose(1, 2)).transpose(1, 2)
        return self.decoder(h + self.pos[: x.shape[1], None])


class Evil(nn.Module):
    def __setstate__(self, state):  # would run on load: only if the user allows Evil
        CALLS.append("Evil.__setstate__")
        self.__dict__.update(state)


class Mode(enum.Enum):
    TRAIN = "train"
    EVAL = "eval"


@dataclasses.dataclass
class Config:
    lr: float = 0.1
    layers: tuple = (1, 2)


def roundtrip(obj, **kw):
    buf = io.BytesIO()
    C.save(obj, buf)
    buf.seek(0)
    return C.load(buf, **kw)


def train_step(model, opt, x):
    opt.zero_grad()
    loss = model(x).square().mean()
    loss.backward()
    opt.step()
    return loss.item()


def test_whole_model_same_outputs_structure_and_training(tmp_path):
    C.manual_seed(0)
    m = WordLM()
    x = C.randint(0, 20, (3, 5))
    opt = C.optim.Adam(m.parameters(), lr=1e-2)
    sched = C.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5)
    train_step(m, opt, x)
    sched.step()
    path = tmp_path / "model.pt"
    C.save({"model": m, "optimizer": opt, "scheduler": sched, "epoch": 4,
            "args": argparse.Namespace(lr=0.5, tied=True)}, path)
    ck = C.load(path)
    m2, opt2, sched2 = ck["model"], ck["optimizer"], ck["scheduler"]
    assert type(m2) is WordLM and type(opt2) is C.optim.Adam and ck["epoch"] == 4
    assert ck["args"] == argparse.Namespace(lr=0.5, tied=True)
    assert m2.decoder.weight is m2.encoder.weight  # ties survive
    assert isinstance(m2.encoder.weight, nn.Parameter) and m2.encoder.weight.requires_grad
    assert m2.nhid == 8 and m2.kind == "LSTM" and m2.training
    assert "scratch" not in m2.state_dict() and m2.scratch.shape == (2,)
    assert list(m2.state_dict()) == list(m.state_dict())
    assert type(m2.blocks) is nn.ModuleList and m2.blocks[0].activation is m.blocks[0].activation
    # the optimizer and scheduler point at the loaded model's parameters
    params2 = list(m2.parameters())
    assert all(a is b for a, b in zip(opt2.param_groups[0]["params"], params2))
    assert sched2.optimizer is opt2 and sched2.get_last_lr() == sched.get_last_lr()
    assert set(map(id, opt2.state)) == set(map(id, params2))
    m.eval(), m2.eval()
    np.testing.assert_array_equal(m2(x).detach().numpy(), m(x).detach().numpy())
    m.train(), m2.train()
    # one more step of each gives the same parameters (optimizer moments were restored)
    C.manual_seed(1)
    train_step(m, opt, x)
    C.manual_seed(1)
    train_step(m2, opt2, x)
    for a, b in zip(m.parameters(), m2.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6)


def test_word_lm_save_then_load_like_pytorch_examples(tmp_path):
    """``with open(path, 'wb') as f: torch.save(model, f)`` then ``torch.load(f)``."""
    m = WordLM().eval()
    x = C.randint(0, 20, (2, 4))
    p = tmp_path / "model.pt"
    with open(p, "wb") as f:
        C.save(m, f)
    with open(p, "rb") as f:
        m2 = C.load(f)
    np.testing.assert_array_equal(m2(x).detach().numpy(), m(x).detach().numpy())
    m3 = C.load(p, weights_only=False, map_location="cpu")
    np.testing.assert_array_equal(m3(x).detach().numpy(), m(x).detach().numpy())


def test_state_dict_checkpoint_format_unchanged(tmp_path):
    """State dicts load under weights_only=True and stay plain safetensors tensors."""
    m = nn.Linear(3, 2)
    p = tmp_path / "sd.pt"
    C.save({"model": m.state_dict(), "step": 1}, p)
    ck = C.load(p, weights_only=True)
    assert list(ck["model"]) == ["weight", "bias"]
    assert isinstance(ck["model"], collections.OrderedDict)
    meta = _format.read_safetensors(str(p))[1]
    assert "object" not in meta[STRUCTURE_KEY]


def test_plain_values_round_trip():
    d = collections.defaultdict(list, {"a": [1]})
    obj = {"size": C.Size([2, 3]), "dtype": C.float16, "device": C.device("cpu"),
           "slice": slice(1, None, 2), "range": range(0, 10, 3), "set": {1, "a", (2, 3)},
           "frozen": frozenset({4}), "complex": 1 + 2j, "ellipsis": ..., "bytes": b"\x00\xff",
           "dd": d, "od": collections.OrderedDict(b=1, a=2), "none": None, "nan": float("nan"),
           "cfg": Config(0.5, (3,)), (1, "k"): "tuple key", C.float32: "dtype key"}
    out = roundtrip(obj)
    assert out["size"] == (2, 3) and type(out["size"]) is C.Size
    assert out["dtype"] is C.float16 and out["device"] == C.device("cpu")
    assert out["slice"] == slice(1, None, 2) and out["range"] == range(0, 10, 3)
    assert out["set"] == {1, "a", (2, 3)} and out["frozen"] == frozenset({4})
    assert out["complex"] == 1 + 2j and out["ellipsis"] is Ellipsis
    assert out["bytes"] == b"\x00\xff" and out["none"] is None and np.isnan(out["nan"])
    assert type(out["dd"]) is collections.defaultdict and out["dd"].default_factory is list
    assert out["dd"] == {"a": [1]} and list(out["od"]) == ["b", "a"]
    assert out["cfg"] == Config(0.5, (3,)) and out[(1, "k")] == "tuple key"
    assert out[C.float32] == "dtype key"


def test_shared_objects_and_cycles_survive():
    a = argparse.Namespace(x=1)
    a.me = a
    out = roundtrip({"one": a, "two": a})
    assert out["one"] is out["two"] and out["one"].me is out["one"]


def test_map_location_forms_apply_to_model_tensors():
    m = nn.Linear(2, 2)
    seen = []
    out = roundtrip(m, map_location=lambda t, loc: seen.append(loc) or t)
    assert seen == ["cpu", "cpu"] and isinstance(out.weight, nn.Parameter)
    for ml in ("cpu", C.device("cpu"), {"cpu": "cpu"}):
        out = roundtrip(m, map_location=ml)
        np.testing.assert_array_equal(out.weight.detach().numpy(), m.weight.detach().numpy())


def test_pickle_arguments_accepted_and_ignored():
    import pickle
    buf = io.BytesIO()
    C.save({"a": 1}, buf, pickle_module=pickle, pickle_protocol=4)
    buf.seek(0)
    assert C.load(buf, "cpu", pickle, encoding="latin1") == {"a": 1}
    with pytest.raises(TypeError, match="unexpected keyword"):
        C.load(io.BytesIO(), bogus=1)


# ------------------------------------------------------------------ the allow-list

def test_weights_only_true_refuses_user_classes_with_a_clear_message():
    buf = io.BytesIO()
    C.save({"model": WordLM()}, buf)
    buf.seek(0)
    with pytest.raises(UnsafeGlobalError) as ei:
        C.load(buf, weights_only=True)
    msg = str(ei.value)
    assert f"{__name__}.WordLM" in msg and "add_safe_globals([WordLM])" in msg
    assert "weights_only=False" in msg
    assert isinstance(ei.value, RuntimeError)
    import pickle
    assert isinstance(ei.value, pickle.UnpicklingError)  # what torch raises
    buf.seek(0)
    with C.serialization.safe_globals([WordLM]):
        assert type(C.load(buf, weights_only=True)["model"]) is WordLM
        assert WordLM in C.serialization.get_safe_globals()
    assert WordLM not in C.serialization.get_safe_globals()
    buf.seek(0)
    with pytest.raises(UnsafeGlobalError):
        C.load(buf, weights_only=True)


def test_own_classes_load_under_weights_only_true():
    m = nn.Sequential(nn.Linear(2, 3), nn.GELU(), nn.TransformerEncoderLayer(4, 2))
    opt = C.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    out = roundtrip({"m": m, "opt": opt}, weights_only=True)
    assert type(out["m"][2]) is nn.TransformerEncoderLayer and type(out["opt"]) is C.optim.SGD


def test_add_and_clear_safe_globals_like_torch():
    C.serialization.clear_safe_globals()
    torch.serialization.clear_safe_globals()
    got = []
    for mod in (C.serialization, torch.serialization):
        mod.add_safe_globals([Config, (WordLM, "somewhere.WordLM")])
        got.append(set(mod.get_safe_globals()))
        mod.clear_safe_globals()
        assert mod.get_safe_globals() == []
    assert got[0] == got[1] == {Config, (WordLM, "somewhere.WordLM")}
    with pytest.raises(TypeError):
        C.serialization.add_safe_globals([3])


def test_weights_only_false_refuses_classes_that_would_run_code():
    buf = io.BytesIO()
    C.save(Evil(), buf)
    for wo in (None, False, True):
        buf.seek(0)
        with pytest.raises(UnsafeGlobalError, match="Evil"):
            C.load(buf, weights_only=wo)
    assert CALLS == []
    buf.seek(0)
    with C.serialization.safe_globals([Evil]):  # allowed: its __setstate__ runs, as in torch
        assert type(C.load(buf)) is Evil
    assert CALLS == ["Evil.__setstate__"]
    CALLS.clear()


def crafted(structure, tensors=()):
    buf = io.BytesIO()
    _format.write_safetensors(buf, list(tensors), {"format": "cadenza",
                                                   STRUCTURE_KEY: json.dumps(structure)})
    buf.seek(0)
    return buf


@pytest.mark.parametrize("module,qualname", [
    ("os", "system"), ("builtins", "eval"), ("builtins", "exec"), ("subprocess", "Popen"),
    ("posix", "system"), ("cadenza.nn.init", "os.system"), ("cadenza.nn.functional", "np.load"),
    ("cadenza.functional.activation", "user_source"),
    ("cadenza.nn.modules.module", "Module.__getattr__"),
    ("cadenza.__main__", "main"), ("cadenza.cli", "main"), ("builtins", "getattr"),
    ("tests.io.test_io_objects", "Evil"), ("pickle", "loads"), ("nonexistent.mod", "X"),
])
def test_crafted_files_naming_code_are_refused(module, qualname, monkeypatch):
    ran = []
    monkeypatch.setattr(os, "system", lambda *a: ran.append(a))
    for node in ({"type": "global", "module": module, "qualname": qualname},
                 {"type": "object", "id": 0, "module": module, "qualname": qualname,
                  "state": {"type": "str", "value": "echo pwned"}},
                 {"type": "defaultdict", "items": [],
                  "factory": {"type": "global", "module": module, "qualname": qualname}}):
        for wo in (True, False, None):
            with pytest.raises(UnsafeGlobalError, match="not an allowed global"):
                C.load(crafted(node), weights_only=wo)
    assert ran == []


@pytest.mark.parametrize("node,fragment", [
    ({"type": "global", "module": "os;", "qualname": "x"}, "malformed global"),
    ({"type": "ref", "id": 3}, "reference to object"),
    ({"type": "object", "id": "0", "module": "collections", "qualname": "OrderedDict",
      "state": {"type": "none"}}, "object number"),
    ({"type": "list", "items": [{"type": "object", "id": 0, "module": "argparse",
                                 "qualname": "Namespace", "state": {"type": "none"}},
                                {"type": "object", "id": 0, "module": "argparse",
                                 "qualname": "Namespace", "state": {"type": "none"}}]},
     "used twice"),
    ({"type": "object", "id": 0, "module": "argparse", "qualname": "Namespace",
      "state": {"type": "list", "items": []}}, "dict of attribute names"),
    ({"type": "size", "value": [1, "2"]}, "bad size"),
    ({"type": "object", "id": 0, "module": "cadenza.optim.sgd", "qualname": "SGD",
      "state": {"type": "dict", "items": [[{"type": "str", "value": "param_groups"},
                                          {"type": "int", "value": 3}]]}},
     "cannot restore a SGD"),
    ({"type": "object", "id": 0, "module": "cadenza.nn.modules.linear", "qualname": "Linear",
      "state": {"type": "int", "value": 3}}, "cannot restore a Linear"),
    ({"type": "range", "items": [{"type": "none"}]}, "items list"),
])
def test_malformed_object_nodes(node, fragment):
    with pytest.raises(CheckpointError, match=fragment):
        C.load(crafted(node), weights_only=False)


def test_state_dict_of_a_torch_model_matches_after_whole_model_load(tmp_path):
    """The loaded whole model's state dict equals the original's, tensor for tensor, and a
    state dict saved from it loads into a fresh torch model of the same shape."""
    C.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    p = tmp_path / "m.pt"
    C.save(m, p)
    m2 = C.load(p)
    sd = {k: torch.from_numpy(v.detach().numpy().copy()) for k, v in m2.state_dict().items()}
    tm = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    tm.load_state_dict(sd)
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(tm(torch.from_numpy(x)).detach().numpy(),
                               m(C.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_whole_model_files_are_written_atomically(tmp_path, monkeypatch):
    p = tmp_path / "model.pt"
    C.save(nn.Linear(2, 2), p)
    before = p.read_bytes()

    def boom(fh, arr):
        raise OSError("disk full")

    monkeypatch.setattr(_format, "_write_array", boom)
    with pytest.raises(OSError, match="disk full"):
        C.save(WordLM(), p)
    assert p.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir()] == ["model.pt"]


SCRIPT = r'''
import io, cadenza as torch

seen = []

def hook(module, args, out):
    seen.append(type(module).__name__)

class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 2)
    def forward(self, x):
        return self.fc(x)

m = Model()
m.register_forward_hook(hook)
buf = io.BytesIO(); torch.save(m, buf)
buf.seek(0); m2 = torch.load(buf)              # the script's own class and hook function
m2(torch.ones(1, 2))
assert seen == ["Model"], seen
buf.seek(0)
try:
    torch.load(buf, weights_only=True)
except torch.serialization.UnsafeGlobalError as e:
    assert "__main__.Model" in str(e), e
else:
    raise AssertionError("weights_only=True loaded a user class")
with torch.serialization.safe_globals([Model, hook]):
    buf.seek(0); assert type(torch.load(buf, weights_only=True)) is Model
print("ok")
'''


def test_script_classes_and_hooks_in_main(tmp_path):
    """A program run as a script (``__main__``) saves and loads its own model with a hook."""
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    script = tmp_path / "prog.py"
    script.write_text(SCRIPT)
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                       timeout=300, env=dict(os.environ, PYTHONPATH=root))
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_enum_members_round_trip_by_name():
    out = roundtrip({"mode": Mode.EVAL, "modes": [Mode.TRAIN]})
    assert out["mode"] is Mode.EVAL and out["modes"][0] is Mode.TRAIN
    buf = io.BytesIO()
    C.save(Mode.TRAIN, buf)
    buf.seek(0)
    with pytest.raises(UnsafeGlobalError, match="Mode"):
        C.load(buf, weights_only=True)
    buf.seek(0)
    with C.serialization.safe_globals([Mode]):
        assert C.load(buf, weights_only=True) is Mode.TRAIN
    bad = {"type": "enum", "module": __name__, "qualname": "Mode", "name": "__class__"}
    with pytest.raises(CheckpointError, match="not a member"):
        C.load(crafted(bad))
    evil = {"type": "enum", "module": "os", "qualname": "system", "name": "x"}
    with pytest.raises(UnsafeGlobalError):
        C.load(crafted(evil))

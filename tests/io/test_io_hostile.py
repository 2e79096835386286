"""Hostile and broken files: each raises CheckpointError (a RuntimeError), naming the file and
the problem, and nothing from the file is executed."""
import io
import json
import pickle
import struct

import numpy as np
import pytest
import torch

import cadenza as C
from cadenza.io import CheckpointError, load, load_safetensors


def good_bytes():
    buf = io.BytesIO()
    C.save({"a": C.ones(4), "b": C.arange(3)}, buf)
    return buf.getvalue()


def file_with_header(tmp_path, header, data=b"", raw=None):
    raw = raw if raw is not None else json.dumps(header).encode()
    p = tmp_path / "bad.safetensors"
    p.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return p


def expect(p, *fragments):
    with pytest.raises(CheckpointError) as ei:
        load(p)
    msg = str(ei.value)
    assert "bad.safetensors" in msg or "BytesIO" in msg, msg
    for frag in fragments:
        assert frag in msg, msg
    assert isinstance(ei.value, RuntimeError)
    return msg


def test_truncated_files(tmp_path):
    data = good_bytes()
    p = tmp_path / "bad.safetensors"
    for cut in (0, 5, 8, 20, len(data) - 1):
        p.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="bad.safetensors"):
            load(p)


def test_header_lies(tmp_path):
    ent = {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}
    expect(file_with_header(tmp_path, {"a": ent}, b"\x00" * 8), "past the end")
    expect(file_with_header(tmp_path, {"a": {**ent, "shape": [1000000000, 1000000000],
                                             "data_offsets": [0, 4 * 10 ** 18]}}, b"\0" * 16),
           "past the end")
    expect(file_with_header(tmp_path, {"a": {**ent, "shape": [5]}}, b"\x00" * 16), "needs 20")
    two = {"a": ent, "b": {**ent, "data_offsets": [8, 24]}}
    expect(file_with_header(tmp_path, two, b"\x00" * 24), "overlap")
    expect(file_with_header(tmp_path, {"a": {**ent, "data_offsets": [16, 0]}}, b"\0" * 16),
           "data_offsets")
    expect(file_with_header(tmp_path, {"a": {**ent, "data_offsets": [-4, 12]}}, b"\0" * 16),
           "data_offsets")
    expect(file_with_header(tmp_path, {"a": {**ent, "shape": [-4]}}, b"\0" * 16), "shape")
    expect(file_with_header(tmp_path, {"a": {**ent, "dtype": "C64"}}, b"\0" * 16),
           "unknown or unsupported dtype 'C64'")
    expect(file_with_header(tmp_path, {"a": "nope"}), "expected an object")
    expect(file_with_header(tmp_path, [1, 2]), "JSON list")
    expect(file_with_header(tmp_path, None, raw=b"{not json"), "not valid JSON")
    expect(file_with_header(tmp_path, None, raw=b"[" * 100000 + b"]" * 100000), "JSON")
    expect(file_with_header(tmp_path, {"__metadata__": {"a": 1}}), "__metadata__")
    p = tmp_path / "bad.safetensors"
    p.write_bytes(struct.pack("<Q", 2 ** 62) + b"{}")
    expect(p, "absurd")
    p.write_bytes(struct.pack("<Q", 50_000_000) + b"{}")
    expect(p, "runs past the end")


def test_corrupted_structure(tmp_path):
    ent = {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}
    for structure, frag in [({"type": "tensor", "name": "zz"}, "not in the file"),
                            ({"type": "pickle", "value": "cos\nsystem"}, "unknown node type"),
                            ({"type": "int", "value": "1"}, "int node"),
                            ({"type": "dict", "items": [[{"type": "list", "items": []},
                                                         {"type": "none"}]]}, "unhashable"),
                            ("[" * 5000, "structure")]:
        raw = structure if isinstance(structure, str) else json.dumps(structure)
        p = file_with_header(tmp_path, {"a": ent, "__metadata__": {"cadenza.structure": raw}},
                             b"\x00" * 4)
        expect(p, frag)


class Boom:
    def __reduce__(self):
        return (exec, ("import sys; sys.modules['cadenza']._PWNED = True",))


def test_pickles_are_refused_and_never_executed(tmp_path):
    p = tmp_path / "bad.safetensors"
    for proto in range(0, pickle.HIGHEST_PROTOCOL + 1):
        p.write_bytes(pickle.dumps({"x": Boom()}, protocol=proto))
        msg = expect(p, "never unpickles", "pickle")
        assert "weights_only=True" in msg
        assert not hasattr(C, "_PWNED")
    torch.save({"w": torch.ones(2)}, p)
    expect(p, "torch.save", "never unpickles")
    torch.save({"w": torch.ones(2)}, p, _use_new_zipfile_serialization=False)
    expect(p, "pickle")
    with pytest.raises(CheckpointError, match="BytesIO"):
        load(io.BytesIO(pickle.dumps([1, 2])))
    with pytest.raises(CheckpointError):
        load_safetensors(p)
    assert not hasattr(C, "_PWNED")


def test_random_garbage_never_crashes_otherwise(tmp_path):
    rng = np.random.default_rng(0)
    data = good_bytes()
    p = tmp_path / "bad.safetensors"
    for _ in range(200):
        b = bytearray(data)
        for i in rng.integers(0, len(b), size=3):
            b[i] = rng.integers(0, 256)
        p.write_bytes(bytes(b))
        try:
            load(p)
        except CheckpointError:
            pass

"""Hostile and broken files: each raises CheckpointError (a RuntimeError), naming the file and
the problem, and nothing from the file is executed."""
import io
import json
import os
import pickle
import struct
import threading
import time
import tracemalloc

import numpy as np
import pytest
import torch

import cadenza as C
from cadenza.io import CheckpointError, _format, load, load_safetensors


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
    expect(file_with_header(tmp_path, {"a": {**ent, "dtype": "C128"}}, b"\0" * 16),
           "unknown or unsupported dtype 'C128'")
    expect(file_with_header(tmp_path, {"a": "nope"}), "expected an object")
    expect(file_with_header(tmp_path, [1, 2]), "JSON list")
    expect(file_with_header(tmp_path, None, raw=b"{not json"), "not valid JSON")
    expect(file_with_header(tmp_path, None, raw=b"[" * 100000 + b"]" * 100000), "JSON")
    expect(file_with_header(tmp_path, {"__metadata__": {"a": 1}}), "__metadata__")
    p = tmp_path / "bad.safetensors"
    p.write_bytes(struct.pack("<Q", 2 ** 62) + b"{}")
    expect(p, "over the limit")
    p.write_bytes(struct.pack("<Q", 10_000_000) + b"{}")
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
    # torch.save files are read by the restricted unpickler (test_io_torch_format.py)
    torch.save({"w": torch.ones(2)}, p)
    assert load(p)["w"].tolist() == [1.0, 1.0]
    torch.save({"w": torch.ones(2)}, p, _use_new_zipfile_serialization=False)
    assert load(p)["w"].tolist() == [1.0, 1.0]
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


def test_malformed_fields_are_checkpoint_errors(tmp_path):
    # each of these raised TypeError / ValueError / nothing at all before
    ent = {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}
    data = b"\0" * 16
    for bad_dtype in ([1], {"a": 1}, None, 5, "f32"):
        expect(file_with_header(tmp_path, {"a": {**ent, "dtype": bad_dtype}}, data), "dtype")
    expect(file_with_header(tmp_path, {"a": {**ent, "shape": [1] * 66 + [4]}}, data),
           "67 dimensions")
    expect(file_with_header(tmp_path, {"a": {**ent, "shape": [2 ** 64],
                                             "data_offsets": [0, 0]}}), "shape")
    expect(file_with_header(tmp_path, {"a": {**ent, "shape": [2 ** 40, 2 ** 40, 0],
                                             "data_offsets": [0, 0]}}), "too large")
    expect(file_with_header(tmp_path, {"a": {**ent, "shape": [True] * 4}}, data), "shape")
    expect(file_with_header(tmp_path, {"a": {**ent, "shape": 4}}, data), "shape")
    expect(file_with_header(tmp_path, {"a": {**ent, "data_offsets": [0.0, 16.0]}}, data),
           "data_offsets")
    expect(file_with_header(tmp_path, {"a": {**ent, "data_offsets": [0, 16, 32]}}, data),
           "data_offsets")
    dup = b'{"a":' + json.dumps(ent).encode() + b',"a":' + json.dumps(ent).encode() + b"}"
    expect(file_with_header(tmp_path, None, data, raw=dup), "'a' appears twice")
    for meta in ([], "x", 0, {"k": ["v"]}):
        expect(file_with_header(tmp_path, {"a": ent, "__metadata__": meta}, data),
               "__metadata__")
    expect(file_with_header(tmp_path, None, raw=b"\xff\xfe{}"), "not valid JSON")
    expect(file_with_header(tmp_path, None, raw=b""), "not valid JSON")
    expect(file_with_header(tmp_path, None, raw=b"{}" + b"\0" * 6), "not valid JSON")


def test_header_length_is_bounded_and_refused_before_reading(tmp_path):
    p = tmp_path / "bad.safetensors"
    for n in (_format.MAX_HEADER + 1, 2 ** 64 - 1):
        p.write_bytes(struct.pack("<Q", n) + b"[" * 64)
        os.truncate(p, min(n, 2 ** 40))  # sparse: the header's bytes exist but take no disk
        tracemalloc.start()
        t0 = time.perf_counter()
        expect(p, "over the limit")
        assert time.perf_counter() - t0 < 2
        assert tracemalloc.get_traced_memory()[1] < 1 << 20
        tracemalloc.stop()


def test_padded_file_costs_only_its_tensors(tmp_path):
    # a 5 KB checkpoint padded to a 4 GiB sparse file took 4 GiB to load
    p = tmp_path / "ckpt.safetensors"
    sd = {"w": C.arange(1000, dtype=C.float32), "b": C.ones(3)}
    C.save(sd, p)
    os.truncate(p, 4 << 30)
    for mmap in (False, True):
        tracemalloc.start()
        out = load(p, mmap=mmap)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 1 << 20, peak
        assert out["w"].tolist() == list(range(1000)) and out["b"].tolist() == [1, 1, 1]


def wait_for(thread, fifo):
    thread.join(10)
    if thread.is_alive():  # unblock the reader so the test process can finish
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(10)
        pytest.fail("load blocked on a FIFO")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_non_regular_files_are_refused_at_once(tmp_path):
    fifo = tmp_path / "bad.safetensors"
    os.mkfifo(fifo)
    link = tmp_path / "link.safetensors"
    link.symlink_to(fifo)
    for target, kind in ((fifo, "FIFO"), (link, "FIFO")):
        errors = []

        def run(target=target):
            try:
                load(target)
            except Exception as e:  # noqa: BLE001 (checked below)
                errors.append(e)
        th = threading.Thread(target=run, daemon=True)
        th.start()
        wait_for(th, fifo)
        assert len(errors) == 1 and isinstance(errors[0], CheckpointError), errors
        assert kind in str(errors[0]) and "regular file" in str(errors[0])
    with pytest.raises(CheckpointError, match="is a directory"):
        load(tmp_path)
    for dev in ("/dev/null", "/dev/zero"):
        if os.path.exists(dev):
            with pytest.raises(CheckpointError, match="character device"):
                load(dev)
            with pytest.raises(CheckpointError, match="character device"):
                load_safetensors(dev)
    with pytest.raises(FileNotFoundError):  # as PyTorch: a missing file is not a bad file
        load(tmp_path / "missing")


class Unseekable(io.RawIOBase):
    """A pipe-like stream: read() only, no seek, no size."""

    def __init__(self, data):
        self.data = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, b):
        return self.data.readinto(b)


def test_streams_that_cannot_seek(tmp_path):
    buf = io.BytesIO()
    sd = {"a": C.arange(5.0), "i": C.tensor([1, 2], dtype=C.int8), "e": C.zeros(0)}
    C.save({"m": sd, "step": 4}, buf)
    out = load(Unseekable(buf.getvalue()))
    assert out["step"] == 4 and out["m"]["a"].tolist() == [0, 1, 2, 3, 4]
    assert out["m"]["i"].tolist() == [1, 2]
    for cut in (0, 7, 30, len(buf.getvalue()) - 1):
        with pytest.raises(CheckpointError, match="Unseekable"):
            load(Unseekable(buf.getvalue()[:cut]))
    with pytest.raises(CheckpointError, match="pickle"):
        load(Unseekable(pickle.dumps([1], protocol=4)))

    class ReadOnly:  # read() alone, no readinto
        def __init__(self, data):
            self.read = io.BytesIO(data).read
    assert load(ReadOnly(buf.getvalue()))["m"]["a"].tolist() == [0, 1, 2, 3, 4]

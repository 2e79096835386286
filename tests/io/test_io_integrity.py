"""Checksums (a bit flip anywhere in a tensor or the metadata is a CheckpointError naming what
changed; files without checksums still load) and temporary files of killed saves."""
import fcntl
import io
import json
import os
import struct
import subprocess
import sys
import time

import numpy as np
import pytest

import cadenza as C
from cadenza.io import CheckpointError, _format, load, load_safetensors, save_safetensors

KEY = _format.CHECKSUM_KEY


def checkpoint():
    return {"model": {"w": C.arange(6.0).reshape(2, 3), "h": C.ones(3, dtype=C.float16),
                      "m": C.tensor([True, False]), "e": C.zeros(0, 2)},
            "step": 1200, "lr": 3e-4}


def split(data: bytes):
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def join(header, data: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def owner(header, offset):
    """The tensor whose bytes hold data offset ``offset``."""
    return next(k for k, v in header.items() if k != "__metadata__"
                and v["data_offsets"][0] <= offset < v["data_offsets"][1])


def test_every_bit_flip_in_tensor_data_is_caught(tmp_path):
    p = tmp_path / "ckpt.safetensors"
    C.save(checkpoint(), p)
    good = p.read_bytes()
    header, data = split(good)
    start = len(good) - len(data)
    assert json.loads(header["__metadata__"][KEY])["tensors"].keys() == {
        "model.w", "model.h", "model.m", "model.e"}
    for i in range(len(data)):
        bad = bytearray(good)
        bad[start + i] ^= 1 << (i % 8)
        p.write_bytes(bytes(bad))
        name = owner(header, i)
        for read in (load, lambda f: load(f, mmap=True), load_safetensors,
                     lambda f: load(io.BytesIO(f.read_bytes()))):
            with pytest.raises(CheckpointError, match=f"tensor '{name}' fails its checksum"):
                read(p)
    p.write_bytes(good)
    assert load(p)["step"] == 1200


def test_header_edits_that_keep_sizes_are_caught(tmp_path):
    p = tmp_path / "ckpt.safetensors"
    C.save(checkpoint(), p)
    header, data = split(p.read_bytes())
    for tensor, field, value in (("model.w", "dtype", "I32"), ("model.w", "shape", [3, 2]),
                                 ("model.m", "dtype", "U8")):
        edited = json.loads(json.dumps(header))
        edited[tensor][field] = value
        p.write_bytes(join(edited, data))
        with pytest.raises(CheckpointError, match=f"tensor '{tensor}' fails its checksum"):
            load(p)
    edited = json.loads(json.dumps(header))
    meta = edited["__metadata__"]
    meta["cadenza.structure"] = meta["cadenza.structure"].replace("1200", "1208")
    p.write_bytes(join(edited, data))
    with pytest.raises(CheckpointError, match="__metadata__.*fails its checksum"):
        load(p)


def test_malformed_checksums_are_refused(tmp_path):
    p = tmp_path / "ckpt.safetensors"
    C.save(checkpoint(), p)
    header, data = split(p.read_bytes())
    sums = json.loads(header["__metadata__"][KEY])
    extra = {**sums, "tensors": {**sums["tensors"], "ghost": 1}}
    fewer = {**sums, "tensors": {k: v for k, v in sums["tensors"].items() if k != "model.w"}}
    for bad, frag in (("not json", "malformed"), ("[1]", "malformed"),
                      (json.dumps({**sums, "metadata": -1}), "malformed"),
                      (json.dumps({**sums, "tensors": {**sums["tensors"], "model.w": "0"}}),
                       "malformed"),
                      (json.dumps(extra), "ghost"), (json.dumps(fewer), "model.w")):
        header["__metadata__"][KEY] = bad
        p.write_bytes(join(header, data))
        with pytest.raises(CheckpointError, match=frag):
            load(p)
    header["__metadata__"][KEY] = json.dumps(sums)
    for meta in ({_format.INTEGRITY_KEY: "sha1"}, {_format.INTEGRITY_KEY: None},
                 {KEY: None}):
        edited = {**header, "__metadata__": {**header["__metadata__"], **meta}}
        edited["__metadata__"] = {k: v for k, v in edited["__metadata__"].items()
                                  if v is not None}
        p.write_bytes(join(edited, data))
        with pytest.raises(CheckpointError, match="damaged|fails its checksum"):
            load(p)


def test_files_without_checksums_still_load(tmp_path):
    # what the code before checksums wrote: the same file less the checksum entry
    p = tmp_path / "ckpt.safetensors"
    C.save(checkpoint(), p)
    header, data = split(p.read_bytes())
    del header["__metadata__"][KEY], header["__metadata__"][_format.INTEGRITY_KEY]
    p.write_bytes(join(header, data))
    out = load(p)
    assert out["step"] == 1200 and out["model"]["w"].tolist() == [[0, 1, 2], [3, 4, 5]]
    save_safetensors({"w": C.ones(2)}, p)  # plain files had no __metadata__ at all
    header, data = split(p.read_bytes())
    del header["__metadata__"]
    p.write_bytes(join(header, data))
    assert load_safetensors(p)["w"].tolist() == [1, 1]


def test_metadata_round_trip_hides_and_renews_checksums(tmp_path):
    p = tmp_path / "m.safetensors"
    save_safetensors({"w": C.ones(2)}, p, metadata={"format": "pt", KEY: "stale"})
    arrays, meta = _format.read_safetensors(p)
    assert meta == {"format": "pt"}
    save_safetensors({"w": C.zeros(2)}, p, metadata=meta)
    assert load_safetensors(p)["w"].tolist() == [0, 0]


def test_save_refuses_a_header_load_would_refuse(tmp_path, monkeypatch):
    p = tmp_path / "ckpt.safetensors"
    C.save({"w": C.ones(1)}, p)
    before = p.read_bytes()
    monkeypatch.setattr(_format, "MAX_HEADER", 2000)
    with pytest.raises(ValueError, match="over the 2000-byte limit"):
        C.save({"w": C.ones(1), "history": [0.5] * 200}, p)
    assert p.read_bytes() == before and os.listdir(tmp_path) == ["ckpt.safetensors"]
    monkeypatch.setattr(_format, "MAX_HEADER", 100)
    with pytest.raises(CheckpointError, match="over the limit of 100 bytes"):
        load(p)


# ---- temporary files of killed saves -------------------------------------------------------

KILLED_SAVE = """
import os, signal, sys
import cadenza as C
from cadenza.io import _format
real = _format._write_array
def dying(fh, arr):
    real(fh, arr[: arr.size // 2])
    fh.flush()
    os.kill(os.getpid(), signal.SIGKILL)
_format._write_array = dying
C.save({"w": C.ones(100000)}, sys.argv[1])
"""


def temps(directory):
    return sorted(n for n in os.listdir(directory) if n.endswith(".tmp"))


def age(path, seconds=3600):
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_killed_save_leaves_a_temp_that_the_next_save_removes(tmp_path):
    p = tmp_path / "ckpt.safetensors"
    C.save({"w": C.zeros(3)}, p)
    root = os.path.dirname(os.path.dirname(C.__file__))  # the cadenza under test
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = subprocess.run([sys.executable, "-c", KILLED_SAVE, str(p)], env=env,
                       capture_output=True, timeout=120)
    assert r.returncode == -9, r.stderr.decode()
    [tmp] = temps(tmp_path)
    assert tmp.startswith(".ckpt.safetensors.") and (tmp_path / tmp).stat().st_size > 200_000
    assert load(p)["w"].tolist() == [0, 0, 0]  # the good checkpoint is untouched
    C.save({"w": C.ones(3)}, p)  # a temp this fresh may be a save in progress: kept
    assert temps(tmp_path) == [tmp]
    age(tmp_path / tmp)
    C.save({"w": C.ones(3)}, tmp_path / "other.safetensors")  # any save to the directory
    assert temps(tmp_path) == []
    assert sorted(os.listdir(tmp_path)) == ["ckpt.safetensors", "other.safetensors"]


def test_cleaning_spares_live_saves_and_other_files(tmp_path):
    live = tmp_path / ".ckpt.safetensors.0123456789ab.tmp"
    live.write_bytes(b"x")
    age(live)
    fd = os.open(live, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as a save in another process holds it
    foreign = [".notes.tmp", "a.0123456789ab.tmp", ".a.0123456789AB.tmp", ".a.0123456789ab.tmpx",
               ".a.0123456789a.tmp", ".a.0123456789ab.tmp.bak"]
    for name in foreign:
        (tmp_path / name).write_bytes(b"keep")
        age(tmp_path / name)
    (tmp_path / ".d.0123456789ab.tmp").mkdir()
    (tmp_path / ".l.0123456789ab.tmp").symlink_to(tmp_path / ".notes.tmp")
    dead = tmp_path / ".old.bin.fedcba987654.tmp"
    dead.write_bytes(b"")
    age(dead)
    try:
        C.save({"w": C.ones(1)}, tmp_path / "ckpt.safetensors")
    finally:
        os.close(fd)
    left = set(os.listdir(tmp_path))
    assert dead.name not in left
    assert left == {live.name, *foreign, ".d.0123456789ab.tmp", ".l.0123456789ab.tmp",
                    "ckpt.safetensors"}
    C.save({"w": C.ones(1)}, tmp_path / "ckpt.safetensors")  # the live save has ended now
    assert live.name not in os.listdir(tmp_path)


def test_a_saving_process_holds_its_temp_locked(tmp_path, monkeypatch):
    seen = []
    real = _format._write_array

    def probe(fh, arr):
        [name] = temps(tmp_path)
        fd = os.open(tmp_path / name, os.O_RDONLY)
        try:
            seen.append(_format._lock(fd, wait=False))
        finally:
            os.close(fd)
        real(fh, arr)
    monkeypatch.setattr(_format, "_write_array", probe)
    C.save({"w": C.ones(1)}, tmp_path / "ckpt.safetensors")
    assert seen == [False]
    assert np.asarray(load(tmp_path / "ckpt.safetensors")["w"]).tolist() == [1.0]


def test_any_bit_flip_anywhere_is_an_error(tmp_path):
    # the length, the header's JSON, the metadata (incl. the checksums' own key names), the data
    buf = io.BytesIO()
    C.save({"w": C.arange(3.0), "n": 7}, buf)
    good = buf.getvalue()
    for i in range(len(good)):
        for bit in (0, 2, 5, 7):
            bad = bytearray(good)
            bad[i] ^= 1 << bit
            with pytest.raises(CheckpointError):
                load(io.BytesIO(bytes(bad)))

"""`cadenza train | generate | eval | chat` end to end on a tiny corpus in a temp directory."""
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import cadenza
from cadenza.cli import main

TINY = ["--n-layer", "1", "--n-head", "2", "--n-embd", "32", "--block-size", "32",
        "--batch-size", "4", "--eval-every", "3", "--eval-batches", "2", "--ckpt-every", "2",
        "--warmup", "2", "--lr", "1e-2"]


def _train(tmp, corpus, out, *extra):
    return main(["train", "--corpus", str(corpus), "--ext", ".py", "--out", str(tmp / out),
                 *TINY, *extra])


def _weights(path):
    st = cadenza.load(os.path.join(path, "ckpt.safetensors"))
    return {k: v.numpy().copy() for k, v in st["model"].items()}, int(st["step"])


def _losses(path):
    rows = [json.loads(ln) for ln in open(os.path.join(path, "metrics.jsonl"))]
    return [(r["step"], r["loss"], r.get("val_loss")) for r in rows]


@pytest.fixture(scope="module")
def straight(tmp_path_factory, corpus):
    """Six eager steps in one go: what every resumed or compiled run below is compared with."""
    tmp = tmp_path_factory.mktemp("straight")
    assert _train(tmp, corpus, "a", "--steps", "6") == 0
    return tmp / "a"


def test_train_resume_is_bit_exact(tmp_path, corpus, straight):
    assert _train(tmp_path, corpus, "b", "--steps", "3", "--decay-steps", "6") == 0
    assert main(["train", "--resume", str(tmp_path / "b"), "--steps", "6"]) == 0
    wa, sa = _weights(straight)
    wb, sb = _weights(tmp_path / "b")
    assert sa == sb == 6 and wa.keys() == wb.keys()
    for k in wa:
        assert np.array_equal(wa[k], wb[k]), k
    assert _losses(straight) == _losses(tmp_path / "b")
    for f in ("tokenizer.json", "metrics.jsonl"):
        assert (straight / f).exists()


def test_resume_after_sigkill_is_bit_exact(tmp_path, corpus, straight):
    cmd = [sys.executable, "-m", "cadenza.cli", "train", "--corpus", str(corpus), "--ext", ".py",
           "--out", str(tmp_path / "k"), *TINY, "--steps", "6", "--debug-kill-at", "5"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == -9, r.stderr
    assert _weights(tmp_path / "k")[1] == 4  # the last checkpoint before the kill
    assert main(["train", "--resume", str(tmp_path / "k")]) == 0
    wa, _ = _weights(straight)
    wk, sk = _weights(tmp_path / "k")
    assert sk == 6 and all(np.array_equal(wa[k], wk[k]) for k in wa)
    assert _losses(straight) == _losses(tmp_path / "k")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, corpus):
    out = tmp_path_factory.mktemp("run")
    assert main(["train", "--corpus", str(corpus), "--ext", ".py", "--out", str(out), *TINY,
                 "--steps", "4"]) == 0
    return out


def test_generate_streams_and_is_seeded(trained, capsys):
    args = ["generate", "--ckpt", str(trained), "--prompt", "def ", "--max-new-tokens", "20",
            "--seed", "1"]
    assert main(args) == 0
    a = capsys.readouterr().out
    assert main(args) == 0
    assert capsys.readouterr().out == a and a.startswith("def ")


def test_generate_from_stdin(trained, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("import "))
    assert main(["generate", "--ckpt", str(trained), "--max-new-tokens", "5"]) == 0
    assert capsys.readouterr().out.startswith("import ")


def test_chat_loop(trained, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("class A:\n\n"))
    assert main(["chat", "--ckpt", str(trained), "--max-new-tokens", "5", "--seed", "0"]) == 0


def test_eval_prints_loss_and_perplexity(trained, capsys):
    assert main(["eval", "--ckpt", str(trained), "--batches", "2"]) == 0
    out = capsys.readouterr().out
    assert "val loss" in out and "perplexity" in out


def _err(capsys, argv):
    code = main(argv)
    cap = capsys.readouterr()
    err = cap.err.strip()
    assert code == 2 and cap.out == "", err
    assert len(err.splitlines()) == 1 and err.startswith("cadenza"), err
    return err


def test_bad_input_exits_2_in_one_line(tmp_path, trained, corpus, capsys):
    before = {p: os.path.getmtime(trained / p) for p in os.listdir(trained)}
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "small.py").write_text("x = 1\n")
    assert "no files" in _err(capsys, ["train", "--corpus", str(empty), "--out",
                                       str(tmp_path / "o")])
    assert "expected an existing" in _err(capsys, ["train", "--corpus", str(tmp_path / "nope")])
    assert "split" in _err(capsys, ["train", "--corpus", str(tmp_path / "small.py"),
                                    "--out", str(tmp_path / "o2")])
    (tmp_path / "e.py").write_text("")
    assert "empty" in _err(capsys, ["train", "--corpus", str(tmp_path / "e.py")])
    assert "preset" in _err(capsys, ["train", "--preset", "huge"])
    assert "unrecognized" in _err(capsys, ["train", "--bogus-flag"])
    assert "context" in _err(capsys, ["generate", "--ckpt", str(trained), "--prompt", "x" * 40])
    assert "checkpoint" in _err(capsys, ["generate", "--ckpt", str(tmp_path / "none")])
    assert "n_layer" in _err(capsys, ["train", "--resume", str(trained), "--n-layer", "2",
                                      "--steps", "8"])
    assert "--n-embd" in _err(capsys, ["train", "--n-embd", "30", "--n-head", "4",
                                     "--corpus", str(corpus)])
    assert not (tmp_path / "o").exists() and not (tmp_path / "o2" / "ckpt.safetensors").exists()
    assert {p: os.path.getmtime(trained / p) for p in os.listdir(trained)} == before


def test_bpe_tokenizer_trains_saves_and_generates(tmp_path, corpus, capsys):
    pytest.importorskip("tokenizers")
    assert _train(tmp_path, corpus, "bpe", "--steps", "3", "--tokenizer", "bpe",
                  "--bpe-vocab", "300") == 0
    out = tmp_path / "bpe"
    saved = json.loads((out / "tokenizer.json").read_text())
    assert saved  # the trained BPE vocabulary lives beside the checkpoint
    st = cadenza.load(os.path.join(out, "ckpt.safetensors"))
    assert st["model"]["lm_head.weight"].shape[0] == 300 or \
        st["model"]["transformer.wte.weight"].shape[0] == 300
    capsys.readouterr()
    assert main(["generate", "--ckpt", str(out), "--prompt", "def ", "--max-new-tokens", "8",
                 "--seed", "1"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("def ")


def test_train_compiled_matches_eager_and_resumes(tmp_path, corpus, straight):
    # --compile: one graph per step (forward, backward, clipping, AdamW); the learning-rate
    # schedule changes lr every step without recompiling; losses track eager within float32
    # rounding (kernels and the tensor form of clipping round differently)
    cadenza.compiler.reset_stats()
    assert _train(tmp_path, corpus, "c", "--steps", "6", "--compile") == 0
    st = cadenza.compiler.stats()
    lc, le = _losses(tmp_path / "c"), _losses(straight)
    assert [r[0] for r in lc] == [r[0] for r in le]
    np.testing.assert_allclose([r[1] for r in lc], [r[1] for r in le], rtol=1e-4)
    assert st["compiles"] <= 2 and st["cache_hits"] >= 4 and st["eager_fallbacks"] == 0
    assert main(["train", "--resume", str(tmp_path / "c"), "--steps", "8", "--compile"]) == 0
    assert _weights(tmp_path / "c")[1] == 8

"""The command line never prints a traceback for bad input and never writes a non-finite model.

Issue 14 items 2 and 9: every bad flag value, damaged checkpoint, non-UTF-8 prompt, unwritable
--out or full disk gives one ``cadenza: error:`` line and exit 2; a NaN/inf loss or update stops
the run (exit 1) before anything is saved, or is skipped with --skip-nonfinite; Ctrl-C saves a
checkpoint at the end of the step and exits 130.
"""
import errno
import io
import json
import os
import shutil
import signal

import numpy as np
import pytest
from test_llm_cli import TINY  # the tiny model's flags (the corpus fixture: conftest.py)

import cadenza
from cadenza.cli import main
from cadenza.models import train as train_mod


def _train(corpus, out, *extra):
    return main(["train", "--corpus", str(corpus), "--ext", ".py", "--out", str(out), *TINY,
                 *extra])


@pytest.fixture(scope="module")
def good(tmp_path_factory, corpus):
    """A 4-step run whose cosine schedule runs to step 100, so a resume uses the given --lr."""
    out = tmp_path_factory.mktemp("good")
    assert _train(corpus, out, "--steps", "4", "--decay-steps", "100") == 0
    return out


@pytest.fixture(scope="module")
def damaged(tmp_path_factory, good):
    """Checkpoint directories that are not what they claim to be."""
    root = tmp_path_factory.mktemp("damaged")
    blob = (good / "ckpt.safetensors").read_bytes()
    st = cadenza.load(str(good / "ckpt.safetensors"))
    del st["optimizer"]
    for name, data in (("truncated", blob[:len(blob) // 2]), ("garbage", os.urandom(3000)),
                       ("empty", b""), ("header", blob[:100]), ("no-optimizer", None)):
        d = root / name
        d.mkdir()
        shutil.copy(good / "tokenizer.json", d)
        if data is None:
            cadenza.save(st, str(d / "ckpt.safetensors"))
        else:
            (d / "ckpt.safetensors").write_bytes(data)
    cadenza.save({"model": {"w": cadenza.zeros(2)}, "step": 1}, str(root / "nometa.safetensors"))
    (root / "a-file").write_text("x")
    (root / "cfg.json").write_text('{"lr": Infinity}')
    (root / "cfg2.json").write_text('{"steps": "10"}')
    return root


LOG = ("step ", "model:", "trained steps")  # a training run's progress lines


def _one_line_exit(capsys, argv, code=2):
    capsys.readouterr()
    try:
        got = main(argv)
    except BaseException as e:  # the defect: an exception escaping main (a traceback)
        pytest.fail(f"{argv}: raised {type(e).__name__}: {e}")
    cap = capsys.readouterr()
    lines = [ln for ln in cap.err.splitlines()
             if ln.strip() and "%|" not in ln and not ln.startswith(LOG)]
    assert got == code, (argv, got, cap.err[-500:])
    assert len(lines) == 1 and lines[0].startswith("cadenza"), cap.err[-500:]
    assert "Traceback" not in cap.err
    return lines[0]


# (argv after the subcommand's fixed part, words the one line must hold)
TRAIN_BAD = [
    (["--steps", "-1"], "--steps"), (["--batch-size", "0"], "--batch-size"),
    (["--lr", "-1"], "--lr"), (["--lr", "inf"], "--lr"), (["--lr", "nan"], "--lr"),
    (["--lr", "1e999"], "--lr"), (["--min-lr", "inf"], "--min-lr"),
    (["--weight-decay", "nan"], "--weight-decay"), (["--weight-decay", "-1"], "--weight-decay"),
    (["--grad-clip", "-1"], "--grad-clip"), (["--grad-clip", "nan"], "--grad-clip"),
    (["--decay-steps", "-1"], "--decay-steps"), (["--decay-steps", "0"], "--decay-steps"),
    (["--max-bytes", "-5"], "--max-bytes"), (["--warmup", "-1"], "--warmup"),
    (["--val-fraction", "nan"], "--val-fraction"), (["--val-fraction", "1.5"], "--val-fraction"),
    (["--eval-every", "0"], "--eval-every"), (["--grad-accum", "0"], "--grad-accum"),
    (["--bpe-vocab", "10"], "--bpe-vocab"),
    (["--bpe-vocab", "10", "--tokenizer", "bpe"], "--bpe-vocab"),
    (["--dropout", "1.5"], "--dropout"), (["--dropout", "nan"], "--dropout"),
    (["--n-head", "3"], "--n-embd"), (["--block-size", "0"], "--block-size"),
    (["--n-embd", "100000000", "--n-head", "1"], "GiB"),
    (["--compile", "--skip-nonfinite"], "--skip-nonfinite"),
    (["--nproc", "0"], "--nproc"), (["--steps", "x"], "--steps"),
]


@pytest.mark.parametrize("extra,words", TRAIN_BAD, ids=[" ".join(a) for a, _ in TRAIN_BAD])
def test_bad_train_values_exit_2_in_one_line(tmp_path, corpus, capsys, extra, words):
    out = tmp_path / "o"
    # --steps 2 first: a value accepted by mistake trains for seconds, not for the default run
    line = _one_line_exit(capsys, ["train", "--corpus", str(corpus), "--out", str(out), *TINY,
                                   "--steps", "2", *extra])
    assert words in line, line
    assert not out.exists()  # refused before any work


GEN = ["--prompt", "de", "--max-new-tokens", "2", "--seed", "1"]
OTHER_BAD = [  # (argv with {good} / {damaged}, words)
    (["generate", "--ckpt", "{good}", *GEN, "--temperature", "nan"], "--temperature"),
    (["generate", "--ckpt", "{good}", *GEN, "--temperature", "inf"], "--temperature"),
    (["generate", "--ckpt", "{good}", *GEN, "--temperature", "-1"], "--temperature"),
    (["generate", "--ckpt", "{good}", *GEN, "--top-k", "-3"], "--top-k"),
    (["generate", "--ckpt", "{good}", *GEN, "--top-p", "2"], "--top-p"),
    (["generate", "--ckpt", "{good}", *GEN, "--top-p", "nan"], "--top-p"),
    (["generate", "--ckpt", "{good}", *GEN, "--max-new-tokens", "-5"], "--max-new-tokens"),
    (["generate", "--ckpt", "{good}", *GEN, "--num-samples", "0"], "--num-samples"),
    (["generate", "--ckpt", "{good}", *GEN, "--num-samples", "-1"], "--num-samples"),
    (["generate", "--ckpt", "{good}", "--prompt", "a\udcff"], "0xff"),  # argv bytes b"a\xff"
    (["chat", "--ckpt", "{good}", "--temperature", "nan"], "--temperature"),
    (["eval", "--ckpt", "{good}", "--batches", "0"], "--batches"),
    (["eval", "--ckpt", "{good}", "--batches", "-1"], "--batches"),
    (["eval", "--ckpt", "{good}", "--batch-size", "0"], "--batch-size"),
    (["eval", "--ckpt", "{good}", "--batch-size", "-1"], "--batch-size"),
    (["train", "--resume", "{damaged}/truncated", "--steps", "9"], "checkpoint"),
    (["train", "--resume", "{damaged}/garbage", "--steps", "9"], "checkpoint"),
    (["train", "--resume", "{damaged}/empty", "--steps", "9"], "checkpoint"),
    (["train", "--resume", "{damaged}/no-optimizer", "--steps", "9"], "optimizer"),
    (["train", "--resume", "{damaged}/nometa.safetensors", "--steps", "9"], "meta"),
    (["generate", "--ckpt", "{damaged}/truncated", *GEN], "checkpoint"),
    (["generate", "--ckpt", "{damaged}/header", *GEN], "checkpoint"),
    (["chat", "--ckpt", "{damaged}/garbage"], "checkpoint"),
    (["eval", "--ckpt", "{damaged}/garbage"], "checkpoint"),
    (["eval", "--ckpt", "{damaged}/nometa.safetensors"], "meta"),
    (["train", "--config", "{damaged}/cfg.json"], "--lr"),
    (["train", "--config", "{damaged}/cfg2.json"], "--steps"),
    (["train", "--out", "{damaged}/a-file"], "--out"),
    (["train", "--out", "{damaged}/a-file/sub"], "--out"),
]


@pytest.mark.parametrize("argv,words", OTHER_BAD, ids=[" ".join(a) for a, _ in OTHER_BAD])
def test_bad_input_exits_2_in_one_line(good, damaged, capsys, argv, words):
    before = {p: (good / p).read_bytes() for p in ("ckpt.safetensors", "metrics.jsonl")}
    argv = [a.format(good=good, damaged=damaged) for a in argv]
    line = _one_line_exit(capsys, argv)
    assert words in line, line
    assert {p: (good / p).read_bytes() for p in before} == before


def test_non_utf8_stdin_is_one_line(good, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"def \xff\xfe"),
                                                      encoding="utf-8"))
    assert "UTF-8" in _one_line_exit(capsys, ["generate", "--ckpt", str(good)])


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def _ckpt(path):
    return (path / "ckpt.safetensors").read_bytes()


def _weights(path):
    st = cadenza.load(str(path / "ckpt.safetensors"))
    return {k: v.numpy().copy() for k, v in st["model"].items()}, int(st["step"])


def _metrics(path):
    return [json.loads(ln) for ln in open(path / "metrics.jsonl")]


@pytest.mark.parametrize("flags", [[], ["--skip-nonfinite"], ["--grad-clip", "0"]])
def test_nonfinite_update_stops_and_keeps_the_checkpoint(tmp_path, good, capsys, flags):
    # --lr 1e308 is finite, but its first AdamW update overflows every weight: before the fix
    # the run exited 0 and wrote a 100% NaN checkpoint over the good one
    run = _copy(good, tmp_path / "r")
    before = _ckpt(run)
    line = _one_line_exit(capsys, ["train", "--resume", str(run), "--steps", "8",
                                   "--lr", "1e308", *flags], code=1)
    assert "step 5" in line and "non-finite" in line and "(step 4) is untouched" in line, line
    assert _ckpt(run) == before
    assert [r["step"] for r in _metrics(run)] == [r["step"] for r in _metrics(good)]


class _NanNormOnce:
    """clip_grad_norm_ that reports a NaN gradient norm on its n-th call (a NaN gradient)."""

    def __init__(self, n):
        self.n, self.calls, self.real = n, 0, train_mod.clip_grad_norm_

    def __call__(self, params, max_norm):
        self.calls += 1
        norm = self.real(params, max_norm)
        return float("nan") if self.calls == self.n else norm


def test_nonfinite_gradient_stops_before_the_update(tmp_path, corpus, capsys, monkeypatch):
    monkeypatch.setattr(train_mod, "clip_grad_norm_", _NanNormOnce(3))
    out = tmp_path / "n"
    line = _one_line_exit(capsys, ["train", "--corpus", str(corpus), "--out", str(out), *TINY,
                                   "--steps", "6"], code=1)
    assert "step 3" in line and "gradient norm nan" in line and "--skip-nonfinite" in line
    assert _weights(out)[1] == 2  # the step-2 checkpoint stays the last one


def test_skip_nonfinite_skips_the_step(tmp_path, corpus, capsys, monkeypatch):
    assert _train(corpus, tmp_path / "ref", "--steps", "2") == 0
    monkeypatch.setattr(train_mod, "clip_grad_norm_", _NanNormOnce(3))
    out = tmp_path / "s"
    assert _train(corpus, out, "--steps", "4", "--skip-nonfinite") == 0
    assert "step 3: skipped (gradient norm nan)" in capsys.readouterr().err
    rows = _metrics(out)
    assert rows[2]["skipped"] == "gradient norm nan" and "loss" not in rows[2]
    assert "NaN" not in (out / "metrics.jsonl").read_text()  # strict JSON
    w, step = _weights(out)
    assert step == 4 and all(np.isfinite(v).all() for v in w.values())


def test_nonfinite_check_covers_loss_and_gradients_when_clipping_is_off():
    p = cadenza.ones(3, requires_grad=True)
    p.grad = cadenza.tensor([1.0, float("inf"), 0.0])
    assert train_mod._nonfinite(float("nan"), 1.0, []) == "loss nan"
    assert train_mod._nonfinite(1.0, float("inf"), []) == "gradient norm inf"
    assert train_mod._nonfinite(1.0, None, [p]) == "non-finite gradient"
    assert train_mod._nonfinite(1.0, None, []) == ""
    p.grad = cadenza.zeros(3)
    assert train_mod._nonfinite(1.0, 2.0, [p]) == ""


def _sigint_at(monkeypatch, step, times=1):
    """Ctrl-C delivered to this process while step ``step`` (1-based) is running."""
    real = train_mod.lr_at

    def lr_at(s, cfg):
        if s + 1 == step:
            for _ in range(times):
                os.kill(os.getpid(), signal.SIGINT)
        return real(s, cfg)
    monkeypatch.setattr(train_mod, "lr_at", lr_at)


def test_ctrl_c_saves_a_checkpoint_and_resume_is_exact(tmp_path, corpus, capsys, monkeypatch):
    assert _train(corpus, tmp_path / "a", "--steps", "6") == 0
    _sigint_at(monkeypatch, 3)
    line = _one_line_exit(capsys, ["train", "--corpus", str(corpus), "--ext", ".py", "--out",
                                   str(tmp_path / "b"), *TINY, "--steps", "6"], code=130)
    assert "saved step 3" in line and "--resume" in line, line
    assert _weights(tmp_path / "b")[1] == 3  # not a --ckpt-every step: saved for Ctrl-C
    monkeypatch.undo()
    assert main(["train", "--resume", str(tmp_path / "b")]) == 0
    wa, _ = _weights(tmp_path / "a")
    wb, sb = _weights(tmp_path / "b")
    assert sb == 6 and all(np.array_equal(wa[k], wb[k]) for k in wa)
    assert _metrics(tmp_path / "a") == _metrics(tmp_path / "b")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_second_ctrl_c_stops_at_once_and_says_nothing_was_saved(tmp_path, corpus, capsys,
                                                                monkeypatch):
    _sigint_at(monkeypatch, 3, times=2)
    line = _one_line_exit(capsys, ["train", "--corpus", str(corpus), "--out",
                                   str(tmp_path / "c"), *TINY, "--steps", "6"], code=130)
    assert "not saved" in line and "(step 2) is untouched" in line, line
    assert _weights(tmp_path / "c")[1] == 2


def test_full_disk_is_one_line_and_keeps_the_checkpoint(tmp_path, good, capsys, monkeypatch):
    run = _copy(good, tmp_path / "r")
    before = _ckpt(run)

    def no_space(obj, path, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    monkeypatch.setattr(cadenza, "save", no_space)
    line = _one_line_exit(capsys, ["train", "--resume", str(run), "--steps", "6"])
    assert "No space left on device" in line, line
    assert _ckpt(run) == before


def test_skip_nonfinite_is_documented(capsys):
    assert main(["train", "--help"]) == 0
    assert "--skip-nonfinite" in capsys.readouterr().out

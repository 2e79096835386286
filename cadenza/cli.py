"""The ``cadenza`` command line: ``cadenza train | generate | chat | eval | serve | launch``.

    cadenza train                          # tiny model on the Python stdlib, ~2 min on 2 cores
    cadenza train --corpus src/ --ext .py --preset small --steps 2000 --out run1
    cadenza train --resume run1 --steps 4000
    cadenza generate --ckpt out --prompt "def " --max-new-tokens 300
    cadenza chat --ckpt out
    cadenza eval --ckpt out
    cadenza serve --ckpt out --port 8000   # OpenAI-compatible server (pip install cadenza[serve])
    cadenza train --nproc 2                # data-parallel over MPI (pip install cadenza[dist])
    cadenza launch -n 2 script.py args     # any script on 2 MPI ranks

Bad input (missing corpus, unknown preset or flag, a value out of range, a damaged or mismatched
checkpoint, an over-long or non-UTF-8 prompt, an unwritable --out, a full disk) prints one
``cadenza: error: ...`` line and exits with status 2, leaving files untouched. A training run
whose loss, gradient or update turns NaN/inf stops with one line and status 1 before saving
anything (``--skip-nonfinite`` skips such steps instead), so the last good checkpoint stays.
Ctrl-C during training saves a checkpoint at the end of the current step, says so, and exits
with status 130 (a second Ctrl-C stops at once without saving, and says so).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import tempfile
from typing import List, Optional

from ._creation import tensor
from .distributed.launch import main as launch_main, relaunch
from .dtypes import int64
from .models.data import DataError, TokenData
from .models.train import (ConfigError, Interrupted, NonFiniteError, TrainConfig, build_model,
                           corpus_files, evaluate, load_checkpoint, resolve_ckpt, train)
from .random import Generator
from .serve import Engine, serve
from .serve.loading import load_served_model
from .serve.server import DEFAULT_MAX_BODY, require_aiohttp

__all__ = ["main", "CLIError"]

USAGE_ERROR = 2
TRAINING_FAILED = 1   # a run stopped by a non-finite loss/update (nothing saved)
INTERRUPTED = 130     # 128 + SIGINT, as shells report Ctrl-C


class CLIError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of argparse's usage dump
        raise CLIError(f"{self.prog}: {message} (see --help)")


_MODEL_FLAGS = {  # flag -> (GPTConfig field, type)
    "block_size": int, "n_layer": int, "n_head": int, "n_kv_head": int, "n_embd": int,
    "mlp": str, "norm": str, "pos": str, "n_expert": int, "n_expert_active": int,
    "dropout": float, "tie_weights": lambda s: s.lower() in ("1", "true", "yes"),
}
_TRAIN_FLAGS = {
    "preset": str, "tokenizer": str, "bpe_vocab": int, "val_fraction": float, "out": str,
    "steps": int, "decay_steps": int, "batch_size": int, "grad_accum": int, "lr": float,
    "min_lr": float,
    "warmup": int, "weight_decay": float, "grad_clip": float, "eval_every": int,
    "eval_batches": int, "ckpt_every": int, "log_every": int, "seed": int, "max_bytes": int,
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _build_parser() -> _Parser:
    p = _Parser(prog="cadenza", description="Train and sample language models with Cadenza.")
    sub = p.add_subparsers(dest="cmd", parser_class=_Parser,
                           metavar="{train,generate,chat,eval,serve}")
    sub.required = True

    t = sub.add_parser("train", help="train a GPT on a corpus (default: the Python stdlib)")
    t.add_argument("--config", help="TOML or JSON file of train settings ([model] table too)")
    t.add_argument("--corpus", nargs="+", help="files or directories (default: Python stdlib)")
    t.add_argument("--ext", nargs="+", help="extensions to keep in directories, e.g. .py .txt")
    t.add_argument("--resume", metavar="CKPT", help="continue from a checkpoint file or dir")
    for name, typ in _TRAIN_FLAGS.items():
        t.add_argument(_flag(name), dest=name, type=typ, default=None)
    for name, typ in _MODEL_FLAGS.items():
        t.add_argument(_flag(name), dest="m_" + name, type=typ, default=None,
                       help="model override" if name == "block_size" else argparse.SUPPRESS)
    t.add_argument("--nproc", type=int, default=None,
                   help="train data-parallel on N processes (MPI; pip install cadenza[dist])")
    t.add_argument("--compile", dest="compile", action="store_true", default=None,
                   help="run each training step as one compiled graph (cadenza.compile)")
    t.add_argument("--skip-nonfinite", dest="skip_nonfinite", action="store_true", default=None,
                   help="skip a step whose loss or gradient is NaN/inf (default: stop the run "
                        "with exit status 1, saving nothing); an update that makes the weights "
                        "non-finite always stops")
    t.add_argument("--debug-kill-at", type=int, default=-1, help=argparse.SUPPRESS)

    for name, helptext in (("generate", "stream a continuation of a prompt"),
                           ("chat", "interactive prompt loop")):
        g = sub.add_parser(name, help=helptext)
        g.add_argument("--ckpt", default="out", help="checkpoint file or directory (out)")
        if name == "generate":
            g.add_argument("--prompt", help="prompt text (default: read stdin)")
            g.add_argument("--num-samples", type=int, default=1)
        g.add_argument("--max-new-tokens", type=int, default=300 if name == "generate" else 200)
        g.add_argument("--temperature", type=float, default=0.8)
        g.add_argument("--top-k", type=int, default=None)
        g.add_argument("--top-p", type=float, default=None)
        g.add_argument("--stop", action="append", default=[],
                       help="stop after this token (a one-token string; repeatable)")
        g.add_argument("--seed", type=int, default=None)

    e = sub.add_parser("eval", help="validation loss and perplexity of a checkpoint")
    e.add_argument("--ckpt", default="out")
    e.add_argument("--corpus", nargs="+", help="files or directories (default: the training "
                                                "corpus of the checkpoint)")
    e.add_argument("--ext", nargs="+")
    e.add_argument("--batches", type=int, default=None, help="at most this many batches")
    e.add_argument("--batch-size", type=int, default=None)

    s = sub.add_parser("serve", help="OpenAI-compatible HTTP server (pip install cadenza[serve])")
    src = s.add_mutually_exclusive_group()
    src.add_argument("--ckpt", help="checkpoint file or directory of `cadenza train` (out)")
    src.add_argument("--hf", metavar="DIR", help="local Hugging Face GPT-2 or Llama directory")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000, help="8000; 0 picks a free port")
    s.add_argument("--model-name", help="the name clients send as `model` (the path given)")
    s.add_argument("--max-batch", type=int, default=8, help="sequences decoded together (8)")
    s.add_argument("--max-queue", type=int, default=64,
                   help="requests waiting for a slot before 429 (64)")
    s.add_argument("--max-step-tokens", type=int, default=256,
                   help="prompt tokens prefilled per engine step (256)")
    s.add_argument("--compile", action="store_true", help="run the model through cadenza.compile")
    s.add_argument("--quantize", choices=["int8"], help="int8 weight-only quantization")
    s.add_argument("--chat-template", metavar="FILE",
                   help="jinja chat template (default: the checkpoint's, else plain text)")
    s.add_argument("--max-body", type=int, default=DEFAULT_MAX_BODY,
                   help=f"largest request body in bytes ({DEFAULT_MAX_BODY})")
    s.add_argument("--shutdown-timeout", type=float, default=60.0,
                   help="seconds in-flight requests get after SIGTERM (60)")
    return p


def _read_config(path: str) -> dict:
    if not os.path.isfile(path):
        raise CLIError(f"train: config file {path!r} not found")
    try:
        if path.endswith(".toml"):
            import tomllib  # stdlib from Python 3.11; on 3.10 the ImportError is reported
            with open(path, "rb") as f:
                return tomllib.load(f)
        with open(path) as f:
            return json.load(f)
    except (ValueError, OSError) as e:  # tomllib.TOMLDecodeError and JSONDecodeError
        raise CLIError(f"train: cannot parse {path}: {e}".splitlines()[0]) from None


def _cmd_train(a) -> int:
    if a.nproc is not None:
        if a.nproc < 1:
            raise CLIError(f"train: --nproc must be >= 1, got {a.nproc}")
        rc = relaunch(a.nproc)  # re-runs this command on N ranks under mpiexec
        if rc is not None:
            return rc
    d = _read_config(a.config) if a.config else {}
    d = dict(d)
    model = dict(d.pop("model", {}) or {})
    for name in _TRAIN_FLAGS:
        if getattr(a, name) is not None:
            d[name] = getattr(a, name)
    for name in ("corpus", "ext", "compile", "skip_nonfinite"):
        if getattr(a, name) is not None:
            d[name] = getattr(a, name)
    for name in _MODEL_FLAGS:
        if getattr(a, "m_" + name) is not None:
            model[name] = getattr(a, "m_" + name)
    if a.resume:
        saved = load_checkpoint(a.resume)[2]
        base = dict(saved.__dict__)
        explicit = {k: v for k, v in d.items()}
        base.update(explicit)
        if model:
            base["model"] = {**saved.model, **model}
        if "out" not in explicit:
            base["out"] = os.path.dirname(os.path.abspath(_ckpt_file(a.resume)))
        d, model = base, base["model"]
    d["model"] = model
    cfg = TrainConfig.from_dict(d)
    try:
        cfg.validate()
    except ConfigError as e:  # name the model's flags as typed: --n-embd, not GPTConfig.n_embd
        raise ConfigError(re.sub(r"GPTConfig\.(\w+)", lambda m: _flag(m[1])
                                 if m[1] in _MODEL_FLAGS else m[0], str(e))) from None
    train(cfg, resume=a.resume, log=lambda s: print(s, file=sys.stderr), kill_at=a.debug_kill_at)
    return 0


def _ckpt_file(path):
    return resolve_ckpt(path)


def _load_for_inference(path):
    state, gcfg, tcfg, tok, p = load_checkpoint(path)
    model = build_model(gcfg, state)
    model.eval()
    return model, gcfg, tcfg, tok


def _check_utf8(text: str, cmd: str) -> None:
    """Command-line text that was not UTF-8 reaches Python as lone surrogates (PEP 383), which
    no tokenizer can encode: name the first bad byte instead of a UnicodeEncodeError."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        ch = ord(text[e.start])
        byte = f"byte 0x{ch - 0xdc00:02x}" if 0xdc80 <= ch <= 0xdcff else f"U+{ch:04X}"
        raise CLIError(f"{cmd}: the prompt is not valid UTF-8 ({byte} at character "
                       f"{e.start})") from None


def _read_text(read, cmd: str) -> str:
    try:
        return read()
    except UnicodeDecodeError as e:
        raise CLIError(f"{cmd}: the input is not valid UTF-8 (byte 0x{e.object[e.start]:02x} "
                       f"at offset {e.start})") from None


def _stream(model, tok, text: str, a, generator, out, echo: bool = False) -> str:
    _check_utf8(text, a.cmd)
    ids = tok.encode(text)
    bs = model.config.block_size
    if len(ids) > bs:
        raise CLIError(f"generate: the prompt is {len(ids)} tokens, longer than the model's "
                       f"context of {bs}; shorten it")
    if not ids:
        raise CLIError("generate: the prompt is empty; give --prompt TEXT or text on stdin")
    try:
        stops = [tok.token_id(s) for s in a.stop]
    except ValueError as e:
        raise CLIError(f"{a.cmd}: --stop: {e}") from None
    if echo:
        out.write(text)
    dec = tok.stream_decoder()
    idx = tensor([ids], dtype=int64)
    produced = []
    for nxt in model.generate_stream(idx, a.max_new_tokens, a.temperature, a.top_k, a.top_p,
                                     stop_tokens=stops, generator=generator):
        piece = dec.push(nxt[0].tolist())
        produced.append(piece)
        out.write(piece)
        out.flush()
    tail = dec.flush()
    out.write(tail)
    out.flush()
    return "".join(produced) + tail


def _generator(seed):
    g = Generator()
    if seed is not None:
        g.manual_seed(seed)
    else:
        g.seed()
    return g


def _check_sampling(a):
    if a.max_new_tokens < 1:
        raise CLIError(f"{a.cmd}: expected --max-new-tokens >= 1, got {a.max_new_tokens}")
    if getattr(a, "num_samples", 1) < 1:
        raise CLIError(f"{a.cmd}: expected --num-samples >= 1, got {a.num_samples}")
    # `not x >= 0` (not `x < 0`) so that NaN is refused too
    if not (math.isfinite(a.temperature) and a.temperature >= 0):
        raise CLIError(f"{a.cmd}: expected --temperature to be a finite number >= 0 (0: "
                       f"greedy), got {a.temperature}")
    if a.top_k is not None and a.top_k < 1:
        raise CLIError(f"{a.cmd}: expected --top-k >= 1, got {a.top_k}")
    if a.top_p is not None and not 0 < a.top_p <= 1:
        raise CLIError(f"{a.cmd}: expected 0 < --top-p <= 1, got {a.top_p}")


def _cmd_generate(a) -> int:
    _check_sampling(a)
    model, _, _, tok = _load_for_inference(a.ckpt)
    prompt = a.prompt if a.prompt is not None else _read_text(sys.stdin.read, a.cmd)
    g = _generator(a.seed)
    for i in range(a.num_samples):
        if i:
            sys.stdout.write("\n---------------\n")
        _stream(model, tok, prompt, a, g, sys.stdout, echo=True)
    sys.stdout.write("\n")
    return 0


def _cmd_chat(a) -> int:
    _check_sampling(a)
    model, gcfg, _, tok = _load_for_inference(a.ckpt)
    g = _generator(a.seed)
    print(f"cadenza chat: {model.num_params() / 1e6:.2f}M-parameter model, context "
          f"{gcfg.block_size} tokens. Type a prompt; an empty line or Ctrl-D quits.",
          file=sys.stderr)
    history = ""
    while True:
        try:
            line = _read_text(lambda: input("> "), a.cmd)
        except EOFError:
            print(file=sys.stderr)
            return 0
        if not line.strip():
            return 0
        history += line + "\n"
        ids = tok.encode(history)
        keep = gcfg.block_size // 2   # leave room to answer
        if len(ids) > keep:
            history = tok.decode(ids[-keep:])
        history += _stream(model, tok, history, a, g, sys.stdout)
        sys.stdout.write("\n")


def _cmd_eval(a) -> int:
    for flag, v in (("--batches", a.batches), ("--batch-size", a.batch_size)):
        if v is not None and v < 1:
            raise CLIError(f"eval: expected {flag} >= 1, got {v}")
    model, gcfg, tcfg, tok = _load_for_inference(a.ckpt)
    if a.corpus:
        tcfg.corpus, tcfg.ext = a.corpus, a.ext
    if a.batch_size is not None:
        tcfg.batch_size = a.batch_size
    files = corpus_files(tcfg)
    with tempfile.TemporaryDirectory(prefix="cadenza-eval-") as tmp:
        data = TokenData.build(files, tok, tmp, tcfg.val_fraction)
        data.check_block(gcfg.block_size)
        loss = evaluate(model, data, tcfg, gcfg.block_size, a.batches)
        del data
    print(f"val loss {loss:.4f}  perplexity {math.exp(loss):.3f}  "
          f"({len(files)} files, context {gcfg.block_size})")
    return 0


def _cmd_serve(a) -> int:
    for flag, v, lo in (("--port", a.port, 0), ("--max-batch", a.max_batch, 1),
                        ("--max-queue", a.max_queue, 1),
                        ("--max-step-tokens", a.max_step_tokens, 1),
                        ("--max-body", a.max_body, 1024)):
        if v < lo:
            raise CLIError(f"serve: expected {flag} >= {lo}, got {v}")
    if a.port > 65535:
        raise CLIError(f"serve: expected --port <= 65535, got {a.port}")
    if not (math.isfinite(a.shutdown_timeout) and a.shutdown_timeout >= 0):
        raise CLIError(f"serve: expected --shutdown-timeout >= 0, got {a.shutdown_timeout}")
    require_aiohttp()  # before the model loads: a missing extra is a one-line error at once
    ckpt = a.ckpt if a.ckpt is not None or a.hf is not None else "out"
    served = load_served_model(ckpt, a.hf, name=a.model_name, chat_template=a.chat_template,
                               quantize_mode=a.quantize)
    try:
        engine = Engine(served.model, served.tokenizer, max_batch=a.max_batch,
                        max_queue=a.max_queue, max_step_tokens=a.max_step_tokens,
                        compile=a.compile)
    except ValueError as e:  # an engine setting it cannot run with (e.g. --compile)
        raise CLIError(f"serve: {e}".splitlines()[0]) from None
    return serve(engine, served, a.host, a.port, max_body=a.max_body,
                 shutdown_timeout=a.shutdown_timeout)


def main(argv: Optional[List[str]] = None) -> int:
    """Run one subcommand; returns the process exit code (2 for bad input)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["launch"]:  # cadenza launch -n N script.py ...: mpiexec around a script
        return launch_main(argv[1:])
    cmd = argv[0] if argv else "cadenza"
    try:
        a = _build_parser().parse_args(argv)
        return {"train": _cmd_train, "generate": _cmd_generate, "chat": _cmd_chat,
                "eval": _cmd_eval, "serve": _cmd_serve}[a.cmd](a)
    except SystemExit as e:  # --help
        return int(e.code or 0)
    except BrokenPipeError:  # `cadenza generate | head`: the reader left, not an error
        return 0
    except (CLIError, ConfigError, DataError, ImportError) as e:
        return _one_line(e, USAGE_ERROR)
    except NonFiniteError as e:
        return _one_line(e, TRAINING_FAILED)
    except (OSError, MemoryError) as e:
        # a full disk (ENOSPC), a permission or I/O error, a model too big to allocate: the
        # system's reason in one line (its str names the errno and the file)
        return _one_line(f"{cmd}: {type(e).__name__}: {e}", USAGE_ERROR)
    except KeyboardInterrupt as e:  # Interrupted says what was saved; else nothing was
        if not isinstance(e, Interrupted) and not str(e):
            e = "cadenza: interrupted" + ("; no checkpoint saved" if cmd == "train" else "")
        return _one_line(e, INTERRUPTED)


def _one_line(e, code: int) -> int:
    text = str(e)
    msg = text.splitlines()[0] if text.strip() else type(e).__name__
    if not msg.startswith("cadenza"):
        msg = "cadenza: error: " + msg
    print(msg, file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())

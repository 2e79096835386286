"""Training the language model: a dataclass config, the loop, and exact-resume checkpoints.

Everything the loop's future depends on lives in one checkpoint file (``ckpt.safetensors``,
written atomically by ``cadenza.save``): model, optimizer, step (the learning-rate schedule is a
pure function of the step), the default and data random generators (the data position is the
data generator's state) and both configs. So N steps straight and k steps + ``--resume`` to N
give bit-identical weights and losses, also after a SIGKILL between checkpoints.

    >>> cfg = TrainConfig(preset="tiny", steps=300, out="out")
    >>> train(cfg)                     # out/ckpt.safetensors, out/tokenizer.json, metrics, PNG
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import List, Optional

import numpy as np

import cadenza
from .. import distributed as dist
from ..distributed.launch import launched_under_mpi
from ..io import CheckpointError
from ..nn.parallel import DistributedDataParallel
from ..nn.utils import clip_grad_norm_
from .data import TokenData, default_corpus_files, find_files
from .config import PRESETS, ConfigError, FromDict, GPTConfig
from .gpt import GPT
from .tokenizer import ByteTokenizer, get_tokenizer, load_tokenizer

CKPT_NAME = "ckpt.safetensors"


class NonFiniteError(RuntimeError):
    """A step's loss, gradient or update was NaN/inf: the run stopped before saving it."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during training; the message says which checkpoint holds the run."""


@dataclass
class TrainConfig(FromDict):
    """How to train. ``model`` holds GPTConfig overrides applied on top of ``preset``."""
    _unknown, _error = "train config: unknown key(s)", ConfigError
    preset: str = "tiny"
    model: dict = field(default_factory=dict)
    corpus: Optional[List[str]] = None     # files/dirs; None: the Python stdlib's sources
    ext: Optional[List[str]] = None        # extension filter for directories, e.g. ['.py']
    max_bytes: int = 4_000_000             # cap of the default corpus
    tokenizer: str = "byte"                # 'byte' | 'bpe'
    bpe_vocab: int = 4096
    val_fraction: float = 0.1
    out: str = "out"
    steps: int = 450                       # the default run: ~2 min on 2 cores (tiny preset)
    decay_steps: Optional[int] = None      # cosine schedule length; None: = steps of 1st run
    batch_size: int = 16
    grad_accum: int = 1
    lr: float = 5e-3
    min_lr: float = 3e-4
    warmup: int = 30
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    eval_every: int = 100
    eval_batches: int = 8
    ckpt_every: int = 100
    log_every: int = 10
    seed: int = 1337
    compile: bool = False                  # each step as one compiled graph (cadenza.compile)
    skip_nonfinite: bool = False           # skip steps whose loss/gradient is NaN/inf (else stop)

    def validate(self) -> "TrainConfig":
        """Every value in range before any work (a bad one is a one-line ConfigError naming
        the flag), including the model's config and a size that fits in this machine's memory."""
        if self.preset not in PRESETS:
            raise ConfigError(f"train: unknown preset {self.preset!r}; choose one of "
                              f"{', '.join(PRESETS)}")

        def bad(name, expected):
            raise ConfigError(f"train: expected --{name.replace('_', '-')} to be {expected}, "
                              f"got {getattr(self, name)!r}")
        for name in ("steps", "batch_size", "grad_accum", "eval_every", "eval_batches",
                     "ckpt_every", "log_every", "max_bytes"):
            if not _is_int(getattr(self, name)) or getattr(self, name) < 1:
                bad(name, "a positive int")
        if self.decay_steps is not None and (not _is_int(self.decay_steps)
                                             or self.decay_steps < 1):
            bad("decay_steps", "a positive int")
        if not _is_int(self.warmup) or self.warmup < 0:
            bad("warmup", "an int >= 0")
        if not _is_int(self.seed):
            bad("seed", "an int")
        if not _is_int(self.bpe_vocab) or self.bpe_vocab < 257:
            bad("bpe_vocab", "an int > 256 (the 256 byte tokens plus merges)")
        # inf and NaN pass `> 0`-style checks; a non-finite rate or decay would turn every
        # weight into NaN at the first update
        if not (_finite(self.lr) and self.lr > 0):
            bad("lr", "a finite number > 0")
        for name in ("min_lr", "weight_decay", "grad_clip"):
            if not (_finite(getattr(self, name)) and getattr(self, name) >= 0):
                bad(name, "a finite number >= 0" + (" (0: no clipping)"
                                                    if name == "grad_clip" else ""))
        for name in ("beta1", "beta2"):
            if not (_finite(getattr(self, name)) and 0 <= getattr(self, name) < 1):
                bad(name, "a number in [0, 1)")
        if not (_finite(self.val_fraction) and 0 < self.val_fraction < 1):
            bad("val_fraction", "a number in (0, 1)")
        if self.tokenizer not in ("byte", "bpe"):
            raise ConfigError(f"train: expected --tokenizer byte or bpe, got {self.tokenizer!r}")
        if self.compile and self.skip_nonfinite:
            raise ConfigError("train: --skip-nonfinite needs eager steps (a compiled step "
                              "updates the weights in the same graph); drop --compile")
        gcfg = self.model_config(self.bpe_vocab if self.tokenizer == "bpe" else 256)
        _check_fits_memory(gcfg)
        return self

    def model_config(self, vocab_size: int) -> GPTConfig:
        d = dict(PRESETS[self.preset])
        d.update(self.model)
        d["vocab_size"] = vocab_size
        try:
            return GPTConfig.from_dict(d)
        except (ValueError, TypeError) as e:
            raise ConfigError(f"model config: {e}") from None


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _param_estimate(g: GPTConfig) -> int:
    """Parameters of GPT(g), within a few percent (embeddings, attention, feed-forward)."""
    c, kv = g.n_embd, g.n_kv_head * g.head_dim
    ffn = (3 if g.mlp == "swiglu" else 2) * c * g.hidden * max(1, g.n_expert)
    per_layer = 2 * c * c + 2 * c * kv + ffn
    pos = g.block_size * c if g.pos == "learned" else 0
    return g.vocab_size * c * (1 if g.tie_weights else 2) + pos + g.n_layer * per_layer


def _check_fits_memory(g: GPTConfig) -> None:
    """Refuse a model whose training state cannot fit in RAM before allocating it (NumPy's
    MemoryError comes after minutes of tokenizing, or the OOM killer comes first)."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows): no check
        return
    n = _param_estimate(g)
    need = n * 4 * 4  # float32 weights, gradients and AdamW's two moments
    if need > ram:
        raise ConfigError(f"model config: ~{n:.3g} parameters (n_embd={g.n_embd}, "
                          f"n_layer={g.n_layer}, vocab {g.vocab_size}) need ~{need / 2**30:.3g} "
                          f"GiB to train, more than this machine's {ram / 2**30:.0f} GiB; "
                          "choose a smaller --n-embd / --n-layer")


def _all_finite(tensors) -> bool:
    with cadenza.no_grad():
        return all(bool(cadenza.isfinite(t).all()) for t in tensors)


def _check_out_writable(out: str) -> None:
    """A clear error for an --out that cannot be written, before any work (and without
    creating it: bad input leaves the file system untouched)."""
    path = os.path.abspath(out)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError(f"train: --out {out!r} is a file, expected a directory")
    while not os.path.exists(path):
        path = os.path.dirname(path)
    if not os.path.isdir(path):
        raise ConfigError(f"train: cannot create --out {out!r}: {path!r} is not a directory")
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"train: cannot write --out {out!r}: no write permission in {path!r}")


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warmup to lr, then cosine decay to min_lr at the last step."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    span = max(1, (cfg.decay_steps or cfg.steps) - cfg.warmup)
    ratio = min(1.0, (step - cfg.warmup) / span)
    return cfg.min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (cfg.lr - cfg.min_lr)


def corpus_files(cfg: TrainConfig) -> List[str]:
    if not cfg.corpus:
        return default_corpus_files(cfg.max_bytes)
    return find_files(cfg.corpus, cfg.ext)


def make_optimizer(model: GPT, cfg: TrainConfig):
    """AdamW; weight decay on matrices only (not biases, norms or 1-d tensors)."""
    decay, no_decay, seen = [], [], set()
    for p in model.parameters():
        if id(p) in seen:  # tied weights
            continue
        seen.add(id(p))
        (decay if p.dim() >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return cadenza.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))


def compiled_step(model: GPT, opt, params, grad_clip: float):
    """``step(x, y) -> (loss, grad_norm or None)``: forward, backward, clipping, AdamW and
    zero_grad as one compiled graph (``cadenza train --compile``). ``clip_grad_norm_`` records
    its norm and coefficient as host nodes of the eager maths, and the learning rate the loop
    sets each step is read by the graph on each call."""
    def step(x, y):
        _, loss = model(x, y)
        loss.backward()
        norm = clip_grad_norm_(params, grad_clip) if grad_clip > 0 else None
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss, norm
    return cadenza.compile(step)


def resolve_ckpt(path: str) -> str:
    p = os.path.join(path, CKPT_NAME) if os.path.isdir(path) else path
    if not os.path.isfile(p):
        raise ConfigError(f"checkpoint: expected a {CKPT_NAME} file or a directory holding one, "
                          f"got {path!r}")
    return p


def load_checkpoint(path: str):
    """-> (state dict, GPTConfig, TrainConfig, tokenizer, checkpoint file)."""
    p = resolve_ckpt(path)
    try:
        state = cadenza.load(p)
        meta = json.loads(state["meta"])
        gcfg = GPTConfig.from_dict(meta["model"])
        tcfg = TrainConfig.from_dict(meta["train"])
        if not isinstance(state.get("model"), dict):
            raise KeyError("model")
    except (CheckpointError, OSError, KeyError, ValueError, TypeError, AttributeError) as e:
        # a damaged or foreign file: one line naming it (KeyError's str is just the key)
        if isinstance(e, CheckpointError):  # its message names the file already
            raise ConfigError(f"checkpoint: {e}".splitlines()[0]) from None
        what = f"missing entry {e}" if isinstance(e, KeyError) else str(e)
        raise ConfigError(f"checkpoint: cannot read {p}: {what}".splitlines()[0]) from None
    try:
        tok = load_tokenizer(os.path.dirname(p) or ".")
    except FileNotFoundError:
        tok = ByteTokenizer()
    if tok.vocab_size != gcfg.vocab_size:
        raise ConfigError(f"checkpoint: tokenizer.json beside {p} has vocab {tok.vocab_size}, "
                          f"the model {gcfg.vocab_size}; keep the checkpoint's own tokenizer")
    return state, gcfg, tcfg, tok, p


def build_model(gcfg: GPTConfig, state: Optional[dict] = None) -> GPT:
    model = GPT(gcfg)
    if state is not None:
        try:
            model.load_state_dict(state["model"])
        except (RuntimeError, KeyError, ValueError) as e:
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ConfigError(f"checkpoint: its weights do not fit the model config: {msg}"
                              ) from None
    return model


@cadenza.no_grad()
def evaluate(model: GPT, data: TokenData, cfg: TrainConfig, block_size: int,
             max_batches: Optional[int] = None) -> float:
    """Mean loss over the first ``max_batches`` sequential validation batches."""
    was = model.training
    model.eval()
    losses = [float(model(x, y)[1]) for x, y in
              data.sequential_batches("val", cfg.batch_size, block_size, max_batches)]
    model.train(was)
    return sum(losses) / max(1, len(losses))


def _progress(total: int, initial: int):
    try:  # an optional extra (cadenza[llm]); without it the loop logs lines instead
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, file=sys.stderr)


def _rewrite_metrics(path: str, upto_step: int) -> None:
    """On resume, drop log lines written after the checkpoint (a killed run's tail)."""
    if not os.path.exists(path):
        return
    with open(path) as f:
        keep = [ln for ln in f if ln.strip() and json.loads(ln).get("step", 0) <= upto_step]
    with open(path + ".tmp", "w") as f:
        f.writelines(keep)
    os.replace(path + ".tmp", path)


def plot_metrics(metrics_path: str, png_path: str) -> Optional[str]:
    """Loss curve PNG; returns a note instead when matplotlib is not installed."""
    try:  # an optional extra (cadenza[llm]), and slow to import: only when plotting
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not installed; skipped the loss-curve PNG (pip install matplotlib)"
    rows = [json.loads(ln) for ln in open(metrics_path) if ln.strip()]
    tr = [(r["step"], r["loss"]) for r in rows if "loss" in r]
    va = [(r["step"], r["val_loss"]) for r in rows if "val_loss" in r]
    fig, ax = plt.subplots(figsize=(6, 4))
    if tr:
        ax.plot(*zip(*tr), label="train")
    if va:
        ax.plot(*zip(*va), "o-", label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png_path + ".tmp.png", dpi=100)
    plt.close(fig)
    os.replace(png_path + ".tmp.png", png_path)
    return None


def train(cfg: TrainConfig, resume: Optional[str] = None, log=print, kill_at: int = -1) -> dict:
    """Train (or continue) and return {'step', 'loss', 'val_loss', 'ckpt', 'seconds'}.

    Under mpiexec (``cadenza train --nproc N``) every rank runs this function: rank r takes
    rows [r*B/N, (r+1)*B/N) of each global batch drawn from the shared data stream, gradients
    are averaged by DistributedDataParallel, and only rank 0 logs and writes files, so N ranks
    compute what one process computes with the same global batch."""
    cfg.validate()
    _check_out_writable(cfg.out)
    rank, world = _init_distributed(cfg)
    if rank != 0:
        log = _silent
    state = None
    if resume is not None:
        state, gcfg, saved_cfg, tok, _ = load_checkpoint(resume)
        for name in ("preset", "model", "tokenizer", "batch_size", "grad_accum", "seed",
                     "decay_steps"):
            if getattr(saved_cfg, name) != getattr(cfg, name):
                raise ConfigError(f"resume: the checkpoint was trained with {name}="
                                  f"{getattr(saved_cfg, name)!r}, not {getattr(cfg, name)!r}; "
                                  "drop that flag or start a new --out directory")
        try:
            start = int(state["step"])
        except (KeyError, ValueError, TypeError, RuntimeError) as e:
            raise ConfigError(f"resume: the checkpoint has no valid step ({e})") from None
        if start >= cfg.steps:
            raise ConfigError(f"resume: the checkpoint is at step {start}; pass --steps > "
                              f"{start} to train further")
    files = corpus_files(cfg)
    if cfg.decay_steps is None:
        cfg.decay_steps = cfg.steps
    if state is None:
        tok = get_tokenizer(cfg.tokenizer, files, cfg.bpe_vocab)
        gcfg = cfg.model_config(tok.vocab_size)
        start = 0
    def build_data():
        return TokenData.build(files, tok, os.path.join(cfg.out, "data"), cfg.val_fraction,
                               min_tokens=gcfg.block_size + 1)
    if world > 1:  # rank 0 writes the token file; the others then reuse it
        data = build_data() if rank == 0 else None
        dist.barrier()
        data = data if rank == 0 else build_data()
    else:
        data = build_data()
    data.check_block(gcfg.block_size)

    cadenza.manual_seed(cfg.seed)
    model = build_model(gcfg, state)
    model.train()
    fwd = model
    if world > 1:
        fwd = DistributedDataParallel(model)
    opt = make_optimizer(model, cfg)
    data_gen = cadenza.Generator().manual_seed(cfg.seed + 1)
    if state is not None:
        try:
            opt.load_state_dict(state["optimizer"])
            cadenza.set_rng_state(state["rng"]["default"])
            data_gen.set_state(state["rng"]["data"])
        except (KeyError, ValueError, TypeError, RuntimeError, AttributeError) as e:
            what = f"missing entry {e}" if isinstance(e, KeyError) else str(e)
            raise ConfigError(f"resume: the checkpoint cannot continue training (not a "
                              f"training checkpoint?): {what}".splitlines()[0]) from None
    ckpt_path = os.path.join(cfg.out, CKPT_NAME)
    metrics_path = os.path.join(cfg.out, "metrics.jsonl") if rank == 0 else os.devnull
    if rank == 0:
        os.makedirs(cfg.out, exist_ok=True)
        tok.save(cfg.out)
        if state is None:
            open(metrics_path, "w").close()
        else:
            _rewrite_metrics(metrics_path, start)
    meta = json.dumps({"model": gcfg.to_dict(), "train": asdict(cfg)})

    last_saved = [start if state is not None else None]

    def save(step: int) -> None:
        if rank == 0:
            cadenza.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                          "step": step, "meta": meta,
                          "rng": {"default": cadenza.get_rng_state(),
                                  "data": data_gen.get_state()}}, ckpt_path)
        last_saved[0] = step
        if world > 1:
            dist.barrier()  # no rank runs ahead of a checkpoint being written

    params = [p for p in model.parameters() if p.requires_grad]
    tokens_per_step = cfg.batch_size * cfg.grad_accum * gcfg.block_size
    bar = _progress(cfg.steps, start) if rank == 0 else None
    log(f"model: {model.num_params() / 1e6:.2f}M parameters, {gcfg.n_layer} layers, d={gcfg.n_embd}"
        f", context {gcfg.block_size}; corpus: {len(files)} files, {len(data)} tokens")
    t0, loss_v, val = time.perf_counter(), float("nan"), None
    cstep = None
    if cfg.compile:
        if cfg.grad_accum != 1 or world > 1:
            raise ConfigError("train: --compile needs --grad-accum 1 and a single process")
        cstep = compiled_step(model, opt, params, cfg.grad_clip)
    ctrl_c = _CtrlC(world == 1, lambda: _unsaved_message(last_saved[0], ckpt_path))
    # the bar is closed on any exit so that a stop message starts on a line of its own
    closing_bar = contextlib.closing(bar) if bar is not None else contextlib.nullcontext()
    # NumPy's overflow/invalid warnings are dropped in the loop: every step is checked for
    # NaN/inf below and a bad one is reported in one line naming the step, not as warnings
    quiet = np.errstate(over="ignore", invalid="ignore", divide="ignore")
    with ctrl_c, closing_bar, quiet, open(metrics_path, "a") as mf:
        for step in range(start, cfg.steps):
            lr = lr_at(step, cfg)
            for g in opt.param_groups:
                g["lr"] = lr
            loss_sum = 0.0
            for micro in range(cfg.grad_accum if cstep is None else 0):
                x, y = data.batch("train", cfg.batch_size, gcfg.block_size, data_gen)
                if world > 1:  # this rank's share of the global batch
                    share = cfg.batch_size // world
                    x, y = x[rank * share:(rank + 1) * share], y[rank * share:(rank + 1) * share]
                last = micro == cfg.grad_accum - 1
                with _no_sync(fwd, not last):
                    _, loss = fwd(x, y)
                    (loss / cfg.grad_accum).backward()
                loss_sum += float(loss)
            if world > 1:
                loss_sum = _mean_over_ranks(loss_sum)
            if cstep is not None:
                x, y = data.batch("train", cfg.batch_size, gcfg.block_size, data_gen)
                loss, norm = cstep(x, y)
                loss_sum = float(loss)
                gnorm = float(norm) if norm is not None else None
            else:
                gnorm = (float(clip_grad_norm_(params, cfg.grad_clip)) if cfg.grad_clip > 0
                         else None)
            done = step + 1
            bad = _nonfinite(loss_sum, gnorm, params if cfg.skip_nonfinite else ())
            skipped = False
            if bad and cstep is None and cfg.skip_nonfinite:
                opt.zero_grad(set_to_none=True)  # drop this step, weights untouched
                skipped = True
                msg = f"step {done}: skipped ({bad})"
                bar.write(msg, file=sys.stderr) if bar is not None else log(msg)
            elif bad:
                raise NonFiniteError(_stop_message(done, bad, last_saved[0], ckpt_path, cfg))
            elif cstep is None:
                opt.step()
                opt.zero_grad(set_to_none=True)
            # a finite gradient can still give a non-finite update (--lr 1e308): never go on
            # (or save) with such weights
            if not skipped and not _all_finite(params):
                raise NonFiniteError(_stop_message(
                    done, f"the update made the weights non-finite (lr {lr:g})",
                    last_saved[0], ckpt_path, cfg, update=True))
            loss_v = loss_sum / cfg.grad_accum
            now = time.perf_counter()
            rec = {"step": done, "loss": loss_v, "lr": lr}
            if skipped:
                rec = {"step": done, "skipped": bad, "lr": lr}
            if gnorm is not None and not skipped:  # keep metrics.jsonl strict JSON (no NaN)
                rec["grad_norm"] = gnorm
            if rank == 0 and (done % cfg.eval_every == 0 or done == cfg.steps):
                val = evaluate(model, data, cfg, gcfg.block_size, cfg.eval_batches)
                rec["val_loss"] = val
            if rank == 0:
                mf.write(json.dumps(rec) + "\n")
            mf.flush()
            if bar is not None:
                tps = tokens_per_step * (done - start) / max(now - t0, 1e-9)
                bar.set_postfix(loss=f"{loss_v:.3f}", tok_s=f"{tps:,.0f}", refresh=False)
                bar.update(1)
            elif done % cfg.log_every == 0 or done == cfg.steps:
                tps = tokens_per_step * (done - start) / max(now - t0, 1e-9)
                eta = (cfg.steps - done) * (now - t0) / (done - start)
                log(f"step {done}/{cfg.steps} loss {loss_v:.4f} tok/s {tps:,.0f} ETA {eta:.0f}s")
            if "val_loss" in rec:
                msg = f"step {done}: val loss {val:.4f}"
                bar.write(msg, file=sys.stderr) if bar is not None else log(msg)
            if done % cfg.ckpt_every == 0 or done == cfg.steps:
                save(done)
            if done == kill_at:  # test hook: die hard between checkpoints
                os.kill(os.getpid(), signal.SIGKILL)
            if ctrl_c.hit and done < cfg.steps:
                if last_saved[0] != done:
                    save(done)
                raise Interrupted(f"cadenza: interrupted; saved step {done} to {ckpt_path} "
                                  f"(continue with: cadenza train --resume {cfg.out})")
    seconds = time.perf_counter() - t0
    if rank == 0:
        note = plot_metrics(metrics_path, os.path.join(cfg.out, "loss.png"))
        if note:
            log(note)
    log(f"trained steps {start}..{cfg.steps} in {seconds:.1f}s; final loss {loss_v:.4f}"
        + (f", val loss {val:.4f}" if val is not None else "") + f"; checkpoint {ckpt_path}")
    return {"step": cfg.steps, "loss": loss_v, "val_loss": val, "ckpt": ckpt_path,
            "seconds": seconds}


def _nonfinite(loss: float, gnorm: Optional[float], params) -> str:
    """'' when the step is finite, else what is not (loss, gradient norm, or a gradient when
    clipping is off and a step may be skipped)."""
    if not math.isfinite(loss):
        return f"loss {loss}"
    if gnorm is not None and not math.isfinite(gnorm):
        return f"gradient norm {gnorm}"
    if gnorm is None and not _all_finite(p.grad for p in params if p.grad is not None):
        return "non-finite gradient"
    return ""


def _unsaved_message(last: Optional[int], ckpt_path: str) -> str:
    if last is None:
        return "no checkpoint was written"
    return f"{ckpt_path} (step {last}) is untouched"


def _stop_message(step: int, what: str, last: Optional[int], ckpt_path: str,
                  cfg: TrainConfig, update: bool = False) -> str:
    if update:  # skipping cannot help: the next step's update would be as large
        hint = "lower --lr or --weight-decay"
    else:
        hint = "lower --lr" + ("" if cfg.compile or cfg.skip_nonfinite
                               else ", or pass --skip-nonfinite to skip such steps")
    return (f"train: stopped at step {step}: {what}; nothing saved, "
            f"{_unsaved_message(last, ckpt_path)}; {hint}")


class _CtrlC:
    """The first Ctrl-C (SIGINT) asks the loop to checkpoint at the end of the step and stop
    (stopping mid-step would save half an optimizer update); a second one stops at once.
    Only for one process and the main thread: ranks under MPI would reach the end of a step
    at different times and disagree on the step to save."""

    def __init__(self, enabled: bool, unsaved):
        self.enabled, self.unsaved, self.hit, self.prev = enabled, unsaved, False, None

    def _handler(self, signum, frame):
        if self.hit:
            raise KeyboardInterrupt(f"cadenza: interrupted twice; not saved, "
                                    f"{self.unsaved()}")
        self.hit = True

    def __enter__(self):
        if self.enabled:
            try:
                self.prev = signal.signal(signal.SIGINT, self._handler)
            except ValueError:  # not the main thread: Ctrl-C is not ours to handle
                self.prev = None
        return self

    def __exit__(self, *exc):
        if self.prev is not None:
            signal.signal(signal.SIGINT, self.prev)
        return False


def _silent(*_args, **_kwargs):
    pass


def _init_distributed(cfg: TrainConfig):
    """(rank, world size): (0, 1) for one process; under mpiexec, the MPI process group."""
    if not launched_under_mpi():
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    if cfg.batch_size % world:
        raise ConfigError(f"train: --batch-size {cfg.batch_size} must be divisible by the "
                          f"number of processes ({world})")
    return rank, world


class _no_sync:
    """DDP's no_sync() for all but the last micro-batch of gradient accumulation."""

    def __init__(self, module, skip: bool):
        self.ctx = module.no_sync() if skip and hasattr(module, "no_sync") else None

    def __enter__(self):
        if self.ctx is not None:
            self.ctx.__enter__()

    def __exit__(self, *exc):
        return self.ctx.__exit__(*exc) if self.ctx is not None else False


def _mean_over_ranks(value: float) -> float:
    t = cadenza.tensor([value], dtype=cadenza.float64)
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    return float(t[0])

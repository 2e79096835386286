"""int8 weight-only quantization (issue 13, ``cadenza serve --quantize int8``): parameter memory,
decode speed and validation perplexity, float32 vs int8, for one checkpoint.

    python bench/quant.py                       # uses out/ (from `cadenza train`) if present,
                                                # else trains the tiny preset first (--steps)
    python bench/quant.py --ckpt out --tokens 128 --rounds 5
    python bench/quant.py --train --steps 200 --out /tmp/quant-bench
    python bench/quant.py --random gpt2 --tokens 16   # untrained: memory and decode only

Decode: greedy generation with the KV cache, batch 1, a 16-token prompt from the validation
split; float32 and int8 rounds alternate in one process, the median is reported. Perplexity:
``cadenza.models.train.evaluate`` on the held-out split (what ``cadenza eval`` prints).
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.common import BusyCheck, cpu_model  # noqa: E402


def _bytes(model) -> int:
    """Bytes of the model's parameters and buffers, each tensor once (tied ones too)."""
    seen, total = set(), 0
    for t in list(model.parameters()) + list(model.buffers()):
        if id(t) not in seen:
            seen.add(id(t))
            total += t.numel() * t.element_size()
    return total


def _clone(model):
    """A float copy of ``model`` (same config and weights)."""
    from cadenza.models.gpt import GPT
    other = GPT(model.config).eval()
    other.load_state_dict(model.state_dict())
    return other


def _ensure_ckpt(a) -> str:
    from cadenza.models.train import CKPT_NAME, TrainConfig, train
    if not a.train and os.path.isfile(os.path.join(a.ckpt, CKPT_NAME)):
        return a.ckpt
    out = a.out or tempfile.mkdtemp(prefix="cadenza-quant-bench-")
    print(f"training the {a.preset} preset for {a.steps} steps into {out} ...", flush=True)
    t = time.perf_counter()
    cfg = TrainConfig(preset=a.preset, steps=a.steps, out=out, eval_every=a.steps,
                      ckpt_every=a.steps, log_every=max(1, a.steps // 4))
    train(cfg, log=lambda *x: print(*x, flush=True))
    print(f"trained in {time.perf_counter() - t:.0f} s")
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ckpt", default="out", help="checkpoint directory (default out/)")
    p.add_argument("--train", action="store_true", help="train even if --ckpt exists")
    p.add_argument("--preset", default="tiny")
    p.add_argument("--steps", type=int, default=200, help="training steps when training")
    p.add_argument("--out", default=None, help="where to train (default: a temp directory)")
    p.add_argument("--tokens", type=int, default=100, help="new tokens per decode round")
    p.add_argument("--rounds", type=int, default=5, help="decode rounds per model")
    p.add_argument("--eval-batches", type=int, default=16,
                   help="validation batches (a large number: the whole held-out split)")
    p.add_argument("--random", metavar="PRESET", default=None,
                   help="an untrained model of this preset: memory and decode only")
    a = p.parse_args(argv)

    import cadenza
    from cadenza.models.data import TokenData
    from cadenza.models.quant import quantize_int8
    from cadenza.models.train import build_model, corpus_files, evaluate, load_checkpoint

    print(f"CPU: {cpu_model()}  ({os.cpu_count()} cores)")
    if a.random:
        from cadenza.models.gpt import GPT, GPTConfig, PRESETS
        gcfg = GPTConfig(**PRESETS[a.random])
        cadenza.manual_seed(0)
        fp = GPT(gcfg).eval()
        q8 = quantize_int8(_clone(fp))
        prompt = cadenza.randint(0, gcfg.vocab_size, (1, 16))
        print(f"untrained {a.random}: {fp.num_params(non_embedding=False):,} parameters")
    else:
        ckpt = _ensure_ckpt(a)
        state, gcfg, tcfg, tok, path = load_checkpoint(ckpt)
        fp = build_model(gcfg, state).eval()
        q8 = quantize_int8(build_model(gcfg, state).eval())
        print(f"checkpoint {path}: {fp.num_params(non_embedding=False):,} parameters, "
              f"config {gcfg.to_dict()}")

    b_fp, b_q8 = _bytes(fp), _bytes(q8)
    print(f"memory   float32 {b_fp:,} B | int8 {b_q8:,} B | int8/float32 {b_q8 / b_fp:.3f} "
          f"({b_fp / b_q8:.2f}x smaller)")

    if not a.random:
        files = corpus_files(tcfg)
        with tempfile.TemporaryDirectory(prefix="cadenza-quant-eval-") as tmp:
            data = TokenData.build(files, tok, tmp, tcfg.val_fraction)
            data.check_block(gcfg.block_size)
            losses = {name: evaluate(m, data, tcfg, gcfg.block_size, a.eval_batches)
                      for name, m in (("float32", fp), ("int8", q8))}
            prompt = cadenza.from_numpy(data.splits["val"][:16].astype("int64"))[None]
            n_win = (len(data.splits["val"]) - 1) // gcfg.block_size
            n_batches = min(a.eval_batches, -(-n_win // tcfg.batch_size))
            del data
        ppl = {k: math.exp(v) for k, v in losses.items()}
        print(f"val loss float32 {losses['float32']:.4f} | int8 {losses['int8']:.4f} "
              f"({n_batches} batches of <= {tcfg.batch_size}x{gcfg.block_size} tokens, "
              f"{n_win} windows in the split)")
        print(f"val ppl  float32 {ppl['float32']:.4f} | int8 {ppl['int8']:.4f} | change "
              f"{100 * (ppl['int8'] / ppl['float32'] - 1):+.3f} %")

    n = min(a.tokens, gcfg.block_size - prompt.shape[1])
    outs, times = {}, {"float32": [], "int8": []}
    for m in (fp, q8):
        m.generate(prompt, 4, temperature=0)  # warm-up
    with BusyCheck() as busy:
        for _ in range(a.rounds):
            for name, m in (("float32", fp), ("int8", q8)):
                t = time.perf_counter()
                outs[name] = m.generate(prompt, n, temperature=0)[0, 16:].tolist()
                times[name].append((time.perf_counter() - t) * 1e3 / n)
    med = {k: statistics.median(v) for k, v in times.items()}
    same = sum(x == y for x, y in zip(outs["float32"], outs["int8"]))
    print(f"decode   float32 {med['float32']:.3f} ms/token | int8 {med['int8']:.3f} ms/token "
          f"| int8/float32 {med['int8'] / med['float32']:.2f}x (median of {a.rounds} "
          f"interleaved rounds of {n} tokens, batch 1) {busy.note()}")
    print(f"greedy tokens equal to float32's: {same}/{n}")


if __name__ == "__main__":
    main()

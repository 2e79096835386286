"""Aggregate decode throughput of the continuous-batching engine (cadenza.serve.engine, no HTTP)
for the `tiny` preset: N concurrent requests (N = 1, 8, 32) through one engine with
max_batch = N, against the same N requests served one at a time (max_batch = 1, what a server
without batching does). Greedy, random-init weights, float32, prompts of 8..23 tokens.
Rounds are interleaved; medians are reported. Run: python bench/serve_engine.py [--new 64]
[--blas-threads 1] (on a loaded machine, OpenBLAS threads spin against other processes on the
batched GEMMs; the flag sets OPENBLAS_NUM_THREADS / OMP_NUM_THREADS before NumPy loads)."""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def serve(model, tok, prompts, new, max_batch, max_step_tokens):
    """All prompts submitted at once to a fresh engine; -> (seconds, tokens generated,
    decode-step seconds)."""
    from cadenza.serve.engine import Engine, SamplingParams
    engine = Engine(model, tok, max_batch=max_batch, max_queue=len(prompts),
                    max_step_tokens=max_step_tokens)
    done = threading.Semaphore(0)
    counts = [0] * len(prompts)

    def on_event(i):
        def f(ev):
            counts[i] += len(ev.token_ids)
            if ev.finish_reason is not None:
                done.release()
        return f
    engine.start()
    t0 = time.perf_counter()
    for i, p in enumerate(prompts):
        engine.submit(p, SamplingParams(max_tokens=new, temperature=0), on_event(i))
    for _ in prompts:
        done.acquire()
    dt = time.perf_counter() - t0
    engine.stop()
    assert counts == [new] * len(prompts), counts
    return dt, sum(counts), engine.stats()["step_seconds"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", default="1,8,32")
    ap.add_argument("--new", type=int, default=64, help="tokens per request")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--max-step-tokens", type=int, default=256)
    ap.add_argument("--blas-threads", type=int, default=None)
    args = ap.parse_args()
    if args.blas_threads:
        assert "numpy" not in sys.modules, "NumPy was loaded before the thread count was set"
        os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(
            args.blas_threads)
    import numpy as np
    import cadenza
    from common import BusyCheck, busy_note, cpu_model
    from cadenza.models.config import PRESETS
    from cadenza.models.gpt import GPT, GPTConfig
    from cadenza.models.tokenizer import ByteTokenizer
    cadenza.manual_seed(0)
    model = GPT(GPTConfig(**PRESETS["tiny"])).eval()
    tok = ByteTokenizer()
    rng = np.random.default_rng(0)
    clients = [int(c) for c in args.clients.split(",")]
    prompts = {n: [rng.integers(1, 256, 8 + i % 16).tolist() for i in range(n)]
               for n in clients}
    print(f"CPU: {cpu_model()}; tiny preset {PRESETS['tiny']}; {args.new} new tokens per "
          f"request, greedy, float32; BLAS threads: "
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'default')}")
    serve(model, tok, prompts[clients[0]], 4, 1, args.max_step_tokens)   # warm-up
    res = {(n, mode): [] for n in clients for mode in ("batched", "one-at-a-time")}
    steps = {n: [] for n in clients}
    with BusyCheck() as busy:
        for _ in range(args.rounds):
            for n in clients:
                for mode, mb in (("batched", n), ("one-at-a-time", 1)):
                    if mode == "one-at-a-time" and n == 1:
                        continue
                    dt, toks, step_s = serve(model, tok, prompts[n], args.new, mb,
                                             args.max_step_tokens)
                    res[n, mode].append(toks / dt)
                    if mode == "batched":
                        steps[n].extend(step_s)
    base = statistics.median(res[clients[0], "batched"]) if clients[0] == 1 else None
    print(f"{'clients':>7} {'batched tok/s':>14} {'one-at-a-time tok/s':>20} {'speedup':>8} "
          f"{'median step ms':>15}")
    for n in clients:
        b = statistics.median(res[n, "batched"])
        s = statistics.median(res[n, "one-at-a-time"]) if res[n, "one-at-a-time"] else base
        sp = f"{b / s:7.1f}x" if s else "-"
        print(f"{n:>7} {b:>14.0f} {s or float('nan'):>20.0f} {sp:>8} "
              f"{1000 * statistics.median(steps[n]):>15.2f}")
    print(busy_note(busy.other_cores))


if __name__ == "__main__":
    main()

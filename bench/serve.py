"""`cadenza serve` under 1, 8 and 32 concurrent streaming clients (loopback, bounded run) against
the same model served one request at a time by PyTorch + transformers ``generate``.

    python bench/serve.py                     # the `tiny` preset, random weights
    python bench/serve.py --ckpt out          # the checkpoint `cadenza train` wrote
    python bench/serve.py --clients 1 8 --max-tokens 32 --quick

Workload per level: C closed-loop clients, each sending ``--requests-per-client`` (at least 4
requests in all) greedy completions of ``--max-tokens`` tokens with a prompt of 20-40 tokens,
the next one as soon as the previous one ends, none started after ``--budget`` seconds (so a
level takes at most the budget plus one request per client). Reported: aggregate generated
tokens/s over the level's wall time, p50/p99 time to first token (from sending the request to
its first streamed token), p50/p99 inter-token latency (between consecutive streamed tokens of
one request), and CPU time per generated token (the server process's, or the baseline
process's): on a shared machine the wall-clock figures swing with other load, CPU per token
much less.

cadenza: ``cadenza serve --hf DIR --max-batch 32`` in a subprocess, clients are aiohttp
streaming (SSE) requests from this process. Baseline: ``transformers`` GPT2LMHeadModel loaded
from the same DIR (the weights exported by ``cadenza.models.hf.save_hf``), one request at a time
in arrival order (what a user writes around ``model.generate``: a worker thread and a queue),
the same C client threads, a streamer timing each token; no HTTP on this side (that favours
it). Random weights produce random bytes, most of them not UTF-8 characters that a streamed
text chunk could carry, so the random model's non-ASCII token embeddings are zeroed: its greedy
output is ASCII, one token per streamed chunk.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from common import BusyCheck, cpu_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEXT = ("def parse(self, text, strict=True):\n    \"\"\"Split text into tokens and return "
        "them as a list.\"\"\"\n    for line in text.splitlines():\n        yield line.strip()"
        "\nclass Queue(object):\n    def __init__(self, maxsize=0):\n        self.items = []\n")


def prompts(n: int):
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        k = int(rng.integers(20, 41))
        s = int(rng.integers(0, len(TEXT) - k))
        out.append(TEXT[s:s + k])
    return out


def export_model(ckpt, directory):
    """The served model as a Hugging Face GPT-2 directory (cadenza.models.hf.save_hf) with the
    byte tokenizer beside it; returns its config."""
    import cadenza
    from cadenza.models.gpt import GPT, GPTConfig, PRESETS
    from cadenza.models.hf import save_hf
    from cadenza.models.tokenizer import ByteTokenizer
    from cadenza.models.train import build_model, load_checkpoint
    if ckpt:
        state, gcfg, _, tok, _ = load_checkpoint(ckpt)
        if tok.vocab_size != 256:
            raise SystemExit("bench/serve.py: expected a byte-tokenizer checkpoint")
        model = build_model(gcfg, state)
    else:
        cadenza.manual_seed(0)
        model = GPT(GPTConfig(**PRESETS["tiny"]))
        with cadenza.no_grad():   # ASCII-only greedy output (see the module docstring)
            model.transformer.wte.weight[128:] = 0
            model.lm_head.weight[128:] = 0
    save_hf(model.eval(), directory, kind="gpt2")
    ByteTokenizer().save(directory)
    return model.config


def pct(xs, q):
    return float(np.percentile(np.asarray(xs), q)) if xs else float("nan")


def summary(tokens, wall, ttft, itl):
    return {"tok_s": tokens / wall, "ttft_p50": pct(ttft, 50), "ttft_p99": pct(ttft, 99),
            "itl_p50": pct(itl, 50), "itl_p99": pct(itl, 99), "tokens": tokens, "wall": wall}


def cpu_seconds(pid=None) -> float:
    """User + system CPU time of a process (this one by default): CPU per token is a figure
    that a busy shared machine disturbs much less than wall-clock rates."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- cadenza serve (HTTP)
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


class ServerProc:
    def __init__(self, hf_dir, max_batch, threads=None):
        env = dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED="1")
        if threads:
            env.update({v: str(threads) for v in THREAD_VARS})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cadenza", "serve", "--hf", hf_dir, "--model-name", "bench",
             "--port", "0", "--max-batch", str(max_batch), "--max-queue", "256"],
            cwd=ROOT, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        end = time.monotonic() + 120
        self.port = None
        while time.monotonic() < end:
            line = self.proc.stderr.readline()
            if not line:
                break
            m = re.search(r"on http://127\.0\.0\.1:(\d+)/v1", line)
            if m:
                self.port = int(m.group(1))
                break
        if self.port is None:
            self.proc.kill()
            raise SystemExit("bench/serve.py: the server did not start")
        threading.Thread(target=lambda: self.proc.stderr.read(), daemon=True).start()

    def stop(self):
        self.proc.terminate()
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None


async def _http_level(port, clients, work, max_tokens, deadline):
    import aiohttp
    url = f"http://127.0.0.1:{port}/v1/completions"
    ttft, itl, tokens = [], [], [0]
    it = iter(work)

    async def client(session):
        for p in it:
            if time.perf_counter() > deadline:
                return
            body = {"model": "bench", "prompt": p, "max_tokens": max_tokens, "temperature": 0,
                    "stream": True, "stream_options": {"include_usage": True}}
            t0 = time.perf_counter()
            last = None
            async with session.post(url, json=body) as r:
                if r.status != 200:
                    raise SystemExit(f"bench/serve.py: HTTP {r.status}: {await r.text()}")
                async for line in r.content:
                    if not line.startswith(b"data: {"):
                        continue
                    now = time.perf_counter()
                    chunk = json.loads(line[6:])
                    if chunk.get("usage"):
                        tokens[0] += chunk["usage"]["completion_tokens"]
                    if not chunk["choices"] or not chunk["choices"][0]["text"]:
                        continue
                    if last is None:
                        ttft.append(now - t0)
                    else:
                        itl.append(now - last)
                    last = now

    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        t = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(clients)))
        wall = time.perf_counter() - t
    return summary(tokens[0], wall, ttft, itl)


def cadenza_level(port, clients, work, max_tokens, budget=1e9):
    return asyncio.run(_http_level(port, clients, work, max_tokens,
                                   time.perf_counter() + budget))


# ---------------------------------------------------------------- transformers baseline
def baseline_level(hf_model, clients, work, max_tokens, budget=1e9):
    """C client threads; one worker runs model.generate on one request at a time."""
    import torch
    from transformers.generation.streamers import BaseStreamer

    class Timer(BaseStreamer):
        def __init__(self):
            self.times, self.prompt_seen = [], False

        def put(self, value):
            if not self.prompt_seen:    # generate passes the prompt first
                self.prompt_seen = True
                return
            self.times.append(time.perf_counter())

        def end(self):
            pass

    jobs: queue.Queue = queue.Queue()
    ttft, itl, tokens = [], [], [0]
    lock = threading.Lock()
    it = iter(work)
    it_lock = threading.Lock()
    deadline = time.perf_counter() + budget

    def worker():
        while True:
            job = jobs.get()
            if job is None:
                return
            prompt, t0, done = job
            ids = torch.tensor([list(prompt.encode())])
            timer = Timer()
            with torch.no_grad():
                out = hf_model.generate(ids, attention_mask=torch.ones_like(ids),
                                        max_new_tokens=max_tokens, min_new_tokens=max_tokens,
                                        do_sample=False, streamer=timer, pad_token_id=0)
            with lock:
                tokens[0] += out.shape[1] - ids.shape[1]
                ttft.append(timer.times[0] - t0)
                itl.extend(b - a for a, b in zip(timer.times, timer.times[1:]))
            done.set()

    def client():
        while True:
            with it_lock:
                p = next(it, None)
            if p is None or time.perf_counter() > deadline:
                return
            done = threading.Event()
            jobs.put((p, time.perf_counter(), done))
            done.wait()

    w = threading.Thread(target=worker, daemon=True)
    w.start()
    t = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t
    jobs.put(None)
    w.join()
    return summary(tokens[0], wall, ttft, itl)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ckpt", help="a `cadenza train` checkpoint (byte tokenizer); default: "
                                   "the tiny preset with random weights")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--requests-per-client", type=int, default=2)
    ap.add_argument("--max-batch", type=int, default=32)
    ap.add_argument("--quick", action="store_true", help="1 request per client, 16 tokens")
    ap.add_argument("--budget", type=float, default=60.0,
                    help="seconds per level and side after which no client starts a new "
                         "request (those running finish): the run is bounded (60)")
    ap.add_argument("--threads", type=int, default=None,
                    help="BLAS / torch threads for both sides (default: the libraries' own)")
    a = ap.parse_args()
    if a.quick:
        a.max_tokens, a.requests_per_client = 16, 1
    import torch
    import transformers
    if a.threads:
        torch.set_num_threads(a.threads)
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), transformers {transformers.__version__}; "
          f"server BLAS threads: {a.threads or 'default'}")
    with tempfile.TemporaryDirectory(prefix="cadenza-bench-serve-") as d:
        cfg = export_model(a.ckpt, d)
        print(f"model: {a.ckpt or 'tiny preset, random weights'} ({cfg.n_layer} layers, "
              f"d={cfg.n_embd}, context {cfg.block_size}); {a.max_tokens} new tokens per "
              f"request, greedy, prompts of 20-40 tokens")
        hf = transformers.GPT2LMHeadModel.from_pretrained(d).eval()
        server = ServerProc(d, a.max_batch, a.threads)
        rows = []
        try:
            cadenza_level(server.port, 1, prompts(2), 4)   # warm both sides
            baseline_level(hf, 1, prompts(2), 4)
            for c in a.clients:
                work = prompts(max(4, c * a.requests_per_client))
                c0 = cpu_seconds(server.proc.pid)
                ours = cadenza_level(server.port, c, work, a.max_tokens, a.budget)
                ours["cpu_ms_tok"] = (cpu_seconds(server.proc.pid) - c0) / ours["tokens"] * 1e3
                c0 = cpu_seconds()
                with BusyCheck() as busy:   # the server's own CPU would count as "other"
                    theirs = baseline_level(hf, c, work, a.max_tokens, a.budget)
                theirs["cpu_ms_tok"] = (cpu_seconds() - c0) / theirs["tokens"] * 1e3
                rows.append((c, ours, theirs, busy.note()))
        finally:
            rc = server.stop()
    head = (f"{'clients':>7} {'side':<22} {'tok/s':>8} {'TTFT p50':>9} {'TTFT p99':>9} "
            f"{'ITL p50':>8} {'ITL p99':>8} {'CPU/tok':>8}")
    print(head)
    for c, ours, theirs, note in rows:
        for name, r in (("cadenza serve", ours), ("torch+HF generate, 1x1", theirs)):
            print(f"{c:>7} {name:<22} {r['tok_s']:>8.1f} {r['ttft_p50'] * 1e3:>7.0f}ms "
                  f"{r['ttft_p99'] * 1e3:>7.0f}ms {r['itl_p50'] * 1e3:>6.1f}ms "
                  f"{r['itl_p99'] * 1e3:>6.1f}ms {r['cpu_ms_tok']:>6.2f}ms")
        print(f"{'':>7} -> aggregate tokens/s {ours['tok_s'] / theirs['tok_s']:.2f}x the "
              f"baseline {note}")
    print(f"server exit status after SIGTERM: {rc}")


if __name__ == "__main__":
    main()

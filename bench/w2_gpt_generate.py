"""W2 gpt-generate (../shared/WORKLOADS.md): ms per generated token, greedy decoding with a KV
cache, batch 1, prompt 16, 256 new tokens, W1's model with a 512-row position table; Cadenza
eager vs PyTorch eager in one process. Run: python bench/w2_gpt_generate.py"""
from __future__ import annotations

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _gpt_common import W1, copy_weights, cpu_snapshot, others_busy, torch_gpt  # noqa: E402

PROMPT, NEW = 16, 256


def main():
    import numpy as np
    import torch
    import cadenza
    from cadenza.models.gpt import GPT, GPTConfig
    cfg = GPTConfig(**dict(W1, block_size=512))
    cadenza.manual_seed(0)
    cm = GPT(cfg).eval()
    tm = torch_gpt(cfg).eval()
    copy_weights(cm, tm)
    prompt = np.random.default_rng(0).integers(0, 256, (1, PROMPT))

    def cgen():
        out = cm.generate(cadenza.from_numpy(prompt), NEW, temperature=0)
        return out[0, PROMPT:].tolist()

    @torch.no_grad()
    def tgen():
        caches = [{} for _ in range(cfg.n_layer)]
        idx = torch.from_numpy(prompt)
        logits, _ = tm(idx, caches=caches)
        out, pos = [], PROMPT
        for _ in range(NEW):
            nxt = logits[:, -1].argmax(-1, keepdim=True)
            out.append(int(nxt))
            logits, _ = tm(nxt, caches=caches, start=pos)
            pos += 1
        return out

    res, toks = {}, {}
    for name, fn in (("cadenza eager", cgen), ("pytorch eager", tgen)):
        fn()  # warm-up
        times = []
        before = cpu_snapshot()
        for _ in range(3):
            t = time.perf_counter()
            toks[name] = fn()
            times.append((time.perf_counter() - t) * 1e3 / NEW)
        res[name] = statistics.median(times)
        print(f"W2 {name:14s}: {res[name]:7.2f} ms/token (median of 3; "
              f"{others_busy(before, cpu_snapshot())})")
    same = toks["cadenza eager"] == toks["pytorch eager"]
    print(f"W2 ratio cadenza/pytorch ms/token: {res['cadenza eager'] / res['pytorch eager']:.2f}x"
          f" (target <= 1.5x); greedy tokens identical: {same}")


if __name__ == "__main__":
    main()

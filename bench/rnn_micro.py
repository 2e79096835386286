"""nn.LSTM / nn.GRU / nn.RNN forward+backward under Cadenza and PyTorch, interleaved in one
process (median ms per step and the ratio torch/cadenza, > 1: Cadenza faster). The shapes are
those of the corpus's recurrent programs (char_lstm, word_lstm_lm, packed_rnn,
seq2seq_attention): small batches, where per-time-step overhead dominates.

    python bench/rnn_micro.py [--rounds 15] [--only lstm2,gru]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

import cadenza

from common import cpu_model

# name: (module, input size, hidden, layers, extra kwargs, seq len, batch)
CASES = {
    "lstm2": ("LSTM", 32, 64, 2, {"dropout": 0.1, "batch_first": True}, 24, 16),
    "lstm_word": ("LSTM", 200, 200, 2, {"dropout": 0.2}, 35, 20),
    "lstm_bi": ("LSTM", 16, 32, 1, {"bidirectional": True, "batch_first": True}, 20, 32),
    "gru": ("GRU", 64, 64, 1, {"batch_first": True}, 12, 32),
    "rnn_tanh": ("RNN", 64, 64, 2, {}, 35, 20),
}


def step_fn(lib, case):
    kind, inp, hid, layers, kw, seq, batch = case
    lib.manual_seed(0)
    mod = getattr(lib.nn, kind)(inp, hid, layers, **kw)
    shape = (batch, seq, inp) if kw.get("batch_first") else (seq, batch, inp)
    x = lib.tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32))

    def step():
        out, _ = mod(x)
        out.sum().backward()
    return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print("CPU:", cpu_model())
    names = [n for n in CASES if not args.only or n in args.only.split(",")]
    for name in names:
        fns = {"cadenza": step_fn(cadenza, CASES[name]), "torch": step_fn(torch, CASES[name])}
        times = {k: [] for k in fns}
        for f in fns.values():
            f()
        for r in range(args.rounds):
            for k in (("cadenza", "torch") if r % 2 else ("torch", "cadenza")):
                t0 = time.perf_counter()
                fns[k]()
                times[k].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        print(f"{name:10s} cadenza {med['cadenza']:8.2f} ms  torch {med['torch']:8.2f} ms  "
              f"ratio {med['torch'] / med['cadenza']:.2f}x")


if __name__ == "__main__":
    main()

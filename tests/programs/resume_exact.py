"""Exact mid-epoch resume, the way training frameworks checkpoint: a model with Dropout,
a shuffled DataLoader driven by its own torch.Generator, gradient accumulation with
clip_grad_norm_, an AdamW + warmup LambdaLR, and a checkpoint holding model, optimizer,
scheduler, step counters, torch.get_rng_state() and the loader generator's get_state(). Run
once straight through, then again stopping mid-epoch, saving to disk, rebuilding every object
from scratch and resuming (skipping the batches already seen). The two runs must end with
bit-identical weights; the metric is the final training loss."""
import argparse
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

ACCUM = 2


def make_data():
    g = torch.Generator().manual_seed(42)
    x = torch.randn(384, 20, generator=g)
    w = torch.randn(20, 5, generator=g)
    y = (x @ w + 0.5 * torch.randn(384, 5, generator=g)).argmax(1)
    return TensorDataset(x, y)


def build(ds, total_steps):
    model = nn.Sequential(nn.Linear(20, 64), nn.GELU(), nn.Dropout(0.3), nn.Linear(64, 64),
                          nn.LayerNorm(64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 5))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.05)
    warm = 10
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (total_steps - s) / total_steps))
    gen = torch.Generator()
    loader = DataLoader(ds, batch_size=16, shuffle=True, generator=gen, drop_last=True)
    return model, opt, sched, gen, loader


def run(epochs, stop_at=None, ckpt=None):
    """Train; stop after `stop_at` micro-batches (saving `ckpt`) or resume from `ckpt`."""
    torch.manual_seed(0)
    ds = make_data()
    total_steps = epochs * (len(ds) // 16) // ACCUM
    model, opt, sched, gen, loader = build(ds, total_steps)
    gen.manual_seed(7)
    start_epoch, skip, micro = 0, 0, 0
    if ckpt is not None and stop_at is None:
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        start_epoch, skip, micro = state["epoch"], state["batch"], state["micro"]
        gen.set_state(state["loader_gen_epoch_start"])
        torch.set_rng_state(state["rng"])
    losses = []
    for epoch in range(start_epoch, epochs):
        epoch_gen_state = gen.get_state()
        model.train()
        for i, (x, y) in enumerate(loader):
            if epoch == start_epoch and i < skip:
                continue
            loss = F.cross_entropy(model(x), y) / ACCUM
            loss.backward()
            micro += 1
            losses.append(loss.item() * ACCUM)
            if micro % ACCUM == 0:
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                sched.step()
                opt.zero_grad(set_to_none=True)
            if stop_at is not None and micro == stop_at:
                torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                            "scheduler": sched.state_dict(), "epoch": epoch, "batch": i + 1,
                            "micro": micro, "loader_gen_epoch_start": epoch_gen_state,
                            "rng": torch.get_rng_state()}, ckpt)
                return model, losses
        skip = 0
    return model, losses


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--ckpt", default="resume_ckpt.pt")
    args = p.parse_args()
    full, losses = run(args.epochs)
    run(args.epochs, stop_at=36, ckpt=args.ckpt)      # mid-epoch 1, after an optimizer step
    resumed, _ = run(args.epochs, ckpt=args.ckpt)
    same = all(torch.equal(a, b) for a, b in zip(full.state_dict().values(),
                                                resumed.state_dict().values()))
    print("resumed run identical:", same)
    assert same, "resume diverged"
    os.remove(args.ckpt)
    tail = sum(losses[-24:]) / 24
    print(f"final_loss {tail:.4f}")


if __name__ == "__main__":
    main()

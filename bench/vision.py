"""Vision workloads (issue 11), Cadenza eager and compiled next to PyTorch eager, same weights:

- ResNet-18 training step on 32x32 images, batch 64, 10 classes (SGD momentum, cross-entropy):
  samples/s;
- ResNet-50 inference, batch 8, 224x224, eval mode under no_grad: images/s.

    python bench/vision.py                # both workloads
    python bench/vision.py --quick        # a step or two each: checks that everything runs
    python bench/vision.py --only r18     # or r50; --backend numpy for the graph interpreter

The PyTorch columns use torchvision's models (the oracle, never a dependency): make it
importable, e.g. ``pip download --no-deps torchvision==0.28.0`` and unzip the wheel into a
folder on PYTHONPATH (its C ops are not needed: an empty ``torchvision._meta_registrations``
module is installed first, so the CPU build of torch works). Without it the PyTorch columns
print n/a. Cadenza's weights are copied into the torchvision model, so both compute the same
function (the compiled column also prints its largest logit difference from eager).
"""
from __future__ import annotations

import argparse
import sys
import time
import types

import numpy as np

from common import BusyCheck, busy_note, cpu_model, train_throughput


def torchvision_or_reason():
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("stub"))
    try:
        import torchvision
        return torchvision, None
    except Exception as e:  # noqa: BLE001 - any import failure makes the column n/a
        return None, f"torchvision not importable ({type(e).__name__}: {e})"[:200]


def copy_weights(src, dst, torch):
    dst.load_state_dict({k: torch.from_numpy(np.array(v.detach().numpy()))
                         for k, v in src.state_dict().items()}, strict=True)


def r18_train(lib, model, compile=None, steps=5, warm=2, batch=64):
    rng = np.random.default_rng(0)
    xs = [lib.from_numpy(rng.standard_normal((batch, 3, 32, 32), dtype=np.float32))
          for _ in range(2)]
    ys = [lib.from_numpy(rng.integers(0, 10, batch)) for _ in range(2)]
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    record = {}
    value = train_throughput(lib, model, opt, xs, ys, warm, steps, batch, compile=compile,
                             record=record)
    return value, record


def r50_infer(lib, model, compile=None, steps=3, warm=1, batch=8):
    x = lib.from_numpy(np.random.default_rng(1).standard_normal((batch, 3, 224, 224),
                                                                  dtype=np.float32))
    model.eval()
    fn = model if compile is None else compile(model)
    with lib.no_grad():
        for _ in range(warm):
            out = fn(x)
        with BusyCheck() as busy:
            t = time.perf_counter()
            for _ in range(steps):
                out = fn(x)
            dt = time.perf_counter() - t
    return batch * steps / dt, {"logits": out.detach().numpy(), "other_cores": busy.other_cores}


def row(name, unit, cols):
    parts = []
    for label, (value, rec, reason) in cols.items():
        parts.append(f"{label} {value:,.2f} {unit}" if value is not None
                     else f"{label} n/a ({reason})")
    busy = max((rec or {}).get("other_cores") or 0.0 for _, rec, _ in cols.values())
    print(f"{name}: " + " | ".join(parts) + f" {busy_note(busy)}")
    eager = cols.get("cadenza eager", (None,))[0]
    torch_eager = cols.get("pytorch eager", (None,))[0]
    comp = [v for k, (v, _, _) in cols.items() if k.startswith("cadenza compiled")]
    if eager and torch_eager:
        line = f"  cadenza eager / pytorch eager: {eager / torch_eager:.2f}x"
        if comp and comp[0]:
            line += (f"; cadenza compiled / pytorch eager: {comp[0] / torch_eager:.2f}x"
                     f"; compiled / eager: {comp[0] / eager:.2f}x")
        print(line)


def attempt(fn):
    try:
        value, rec = fn()
        return value, rec, None
    except Exception as e:  # noqa: BLE001 - a failing column prints n/a, others go on
        lines = [s for s in str(e).splitlines() if s.strip()]
        return None, None, f"{type(e).__name__}: {lines[0] if lines else ''}"[:200]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="r18,r50")
    ap.add_argument("--backend", default="c")
    args = ap.parse_args()
    import cadenza
    import torch
    from cadenza.vision import models
    tv, reason = torchvision_or_reason()
    print(f"CPU: {cpu_model()}; torch threads {torch.get_num_threads()}")
    comp = lambda f: cadenza.compile(f, backend=args.backend)  # noqa: E731
    if "r18" in args.only:
        steps, warm = (1, 1) if args.quick else (5, 2)
        cadenza.manual_seed(0)
        cols = {}
        base = models.resnet18(num_classes=10)
        state = {k: v.detach().clone() for k, v in base.state_dict().items()}

        def fresh():
            m = models.resnet18(num_classes=10)
            m.load_state_dict(state)
            return m
        cols["cadenza eager"] = attempt(lambda: r18_train(cadenza, fresh(), None, steps, warm))
        cols[f"cadenza compiled[{args.backend}]"] = attempt(
            lambda: r18_train(cadenza, fresh(), ("step", comp), steps, warm))
        if tv is not None:
            def torch_run():
                m = tv.models.resnet18(num_classes=10)
                copy_weights(base, m, torch)
                return r18_train(torch, m, None, steps, warm)
            cols["pytorch eager"] = attempt(torch_run)
        else:
            cols["pytorch eager"] = (None, None, reason)
        row("ResNet-18 train step, 32x32, batch 64", "samples/s", cols)
        e, c = cols["cadenza eager"][1], cols[f"cadenza compiled[{args.backend}]"][1]
        if e and c:
            d = max(abs(a - b) for a, b in zip(e["losses"], c["losses"]))
            print(f"  compiled vs eager losses: max |diff| {d:.2e} over {len(e['losses'])} steps")
    if "r50" in args.only:
        steps, warm = (1, 1) if args.quick else (3, 1)
        cadenza.manual_seed(0)
        model = models.resnet50()
        cols = {"cadenza eager": attempt(lambda: r50_infer(cadenza, model, None, steps, warm)),
                f"cadenza compiled[{args.backend}]": attempt(
                    lambda: r50_infer(cadenza, model, comp, steps, warm))}
        if tv is not None:
            def torch_run():
                m = tv.models.resnet50()
                copy_weights(model, m, torch)
                return r50_infer(torch, m, None, steps, warm)
            cols["pytorch eager"] = attempt(torch_run)
        else:
            cols["pytorch eager"] = (None, None, reason)
        row("ResNet-50 inference, 224x224, batch 8", "images/s", cols)
        logits = {k: v[1]["logits"] for k, v in cols.items() if v[1]}
        if "cadenza eager" in logits:
            for k, v in logits.items():
                if k != "cadenza eager":
                    d = float(np.abs(v - logits["cadenza eager"]).max())
                    print(f"  {k} logits vs cadenza eager: max |diff| {d:.2e}")


if __name__ == "__main__":
    main()

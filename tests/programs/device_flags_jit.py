"""Boilerplate that real scripts carry around the model: device selection with cuda / mps
fallbacks, torch.backends flags (cudnn.benchmark / deterministic, cuda.matmul.allow_tf32,
set_float32_matmul_precision, use_deterministic_algorithms), torch.cuda.manual_seed_all,
pin_memory / non_blocking transfers, torch.autocast(device_type=device.type, enabled=...),
float64 / half / bfloat16 conversions, channels_last; then TorchScript on small functions
(@torch.jit.script with type annotations, loops and Optional, torch.jit.trace of a module,
torch.jit.save / load) used inside the training loop."""
import io
import os
import random
from typing import List, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def get_device():
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


@torch.jit.script
def smooth_l1(x: torch.Tensor, y: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    d = torch.abs(x - y)
    return torch.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta).mean()


@torch.jit.script
def running_mean(xs: List[float], window: int = 3) -> List[float]:
    out: List[float] = []
    for i in range(len(xs)):
        lo = max(0, i - window + 1)
        s = 0.0
        for j in range(lo, i + 1):
            s += xs[j]
        out.append(s / (i + 1 - lo))
    return out


@torch.jit.script
def maybe_scale(x: torch.Tensor, scale: Optional[float] = None) -> torch.Tensor:
    if scale is None:
        return x
    return x * scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 1)

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1)).squeeze(1)


if __name__ == "__main__":
    seed_everything(0)
    device = get_device()
    print("device", device, "cuda devices", torch.cuda.device_count(),
          "cudnn", torch.backends.cudnn.enabled)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.set_float32_matmul_precision("high")
    print("matmul precision", torch.get_float32_matmul_precision())
    torch.use_deterministic_algorithms(True, warn_only=True)
    print("deterministic", torch.are_deterministic_algorithms_enabled())
    # data: regress the mean brightness of the red channel minus the blue one
    x = torch.rand(512, 3, 8, 8)
    y = x[:, 0].mean((1, 2)) - x[:, 2].mean((1, 2))
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True,
                        pin_memory=torch.cuda.is_available(), drop_last=True)
    model = Net().to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    use_amp = device.type == "cuda"
    scaler = torch.cuda.amp.GradScaler(enabled=use_amp)
    losses = []
    for epoch in range(6):
        model.train()
        for xb, yb in loader:
            xb = xb.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            yb = yb.to(device, non_blocking=True)
            with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
                loss = smooth_l1(model(xb), yb, 0.1)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        losses.append(loss.item())
    print("smoothed losses", [round(v, 5) for v in running_mean(losses)])
    print("maybe_scale", maybe_scale(torch.ones(2)).tolist(),
          maybe_scale(torch.ones(2), 3.0).tolist())
    # dtype round trips
    model.eval()
    with torch.no_grad():
        xt = x[:64].to(device)
        ref = model(xt)
        d64 = Net().double()
        d64.load_state_dict(model.state_dict())
        d64.eval()
        err64 = (d64(xt.double()).float() - ref).abs().max().item()
        half_w = model.fc.weight.half().float()
        bf = ref.to(torch.bfloat16).float()
        print("float64 err", err64, "half w err", (half_w - model.fc.weight).abs().max().item(),
              "bf16 err", (bf - ref).abs().max().item())
        assert err64 < 1e-4
    # trace + save + load
    traced = torch.jit.trace(model, xt[:2])
    buf = io.BytesIO()
    torch.jit.save(traced, buf)
    buf.seek(0)
    loaded = torch.jit.load(buf, map_location=device)
    with torch.no_grad():
        jit_err = (loaded(xt) - ref).abs().max().item()
        test_loss = smooth_l1(model(xt), y[:64].to(device), 0.1).item()
    print("jit err", jit_err)
    assert jit_err < 1e-5
    print(f"final_loss {test_loss:.6f}")

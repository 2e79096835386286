"""Mixed-precision idioms on CPU: torch.autocast('cpu', dtype=torch.bfloat16) around the
forward, torch.cuda.amp.GradScaler / torch.amp.GradScaler(enabled=False) wrapping backward and
step, .float() before the loss, and checks of the dtypes autocast produces."""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 64)
        self.fc2 = nn.Linear(64, 64)
        self.out = nn.Linear(64, 4)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.out(x)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--amp", action="store_true", default=True)
    args = parser.parse_args()
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    X = torch.randn(2048, 16)
    y = (X[:, :4] * torch.tensor([1.0, -1.0, 0.5, 2.0])).argmax(1)
    model = Net().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    scaler = torch.amp.GradScaler(device, enabled=(device == "cuda"))
    legacy_scaler = torch.cuda.amp.GradScaler(enabled=False)
    assert not legacy_scaler.is_enabled()

    with torch.autocast("cpu", dtype=torch.bfloat16):
        probe = model(X[:4])
        assert probe.dtype == torch.bfloat16, probe.dtype
        s = torch.softmax(probe, dim=-1)
    print("autocast output dtype", probe.dtype, "softmax dtype", s.dtype)

    for step in range(args.steps):
        idx = torch.randint(0, 1536, (64,))
        xb, yb = X[idx].to(device), y[idx].to(device)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=args.amp):
            logits = model(xb)
            loss = F.cross_entropy(logits.float(), yb)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        scaler.step(optimizer)
        scaler.update()
        if step % 50 == 0:
            print(f"step {step} loss {loss.item():.4f} scale {scaler.get_scale()}")
    assert all(p.dtype == torch.float32 for p in model.parameters())
    model.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        pred = model(X[1536:]).argmax(1)
    acc = (pred == y[1536:]).float().mean().item()
    print(f"final_acc {acc:.4f}")

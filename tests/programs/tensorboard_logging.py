"""Training with TensorBoard logging: SummaryWriter add_scalar / add_scalars / add_histogram /
add_text / add_hparams, flush and close; the event files are found on disk afterwards."""
import glob
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.tensorboard import SummaryWriter

if __name__ == "__main__":
    torch.manual_seed(0)
    writer = SummaryWriter(log_dir="runs/exp1")
    X = torch.randn(800, 6)
    y = X @ torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0, -1.0]) + 0.1 * torch.randn(800)
    model = nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Linear(32, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for n_iter in range(200):
        idx = torch.randint(0, 640, (32,))
        loss = F.mse_loss(model(X[idx]).squeeze(1), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        writer.add_scalar("Loss/train", loss.item(), n_iter)
        if n_iter % 50 == 0:
            with torch.no_grad():
                val = F.mse_loss(model(X[640:]).squeeze(1), y[640:]).item()
            writer.add_scalar("Loss/test", val, n_iter)
            writer.add_scalars("run_14h", {"xsinx": n_iter * torch.sin(torch.tensor(n_iter)).item(),
                                           "tanx": torch.tan(torch.tensor(n_iter * 0.01)).item()},
                               n_iter)
            for name, p in model.named_parameters():
                writer.add_histogram(name, p.detach(), n_iter)
    writer.add_text("notes", "trained a tiny regressor", 0)
    with torch.no_grad():
        val = F.mse_loss(model(X[640:]).squeeze(1), y[640:]).item()
    writer.add_hparams({"lr": 1e-2, "bsize": 32}, {"hparam/loss": val})
    writer.flush()
    writer.close()
    events = glob.glob(os.path.join("runs", "exp1", "**", "events.out.tfevents.*"), recursive=True)
    assert events, "no event file written"
    print("event files", len(events))
    print(f"final_loss {val:.4f}")

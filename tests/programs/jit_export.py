"""Train a small model, then export it the usual ways: torch.jit.trace and torch.jit.script of
the trained model, torch.jit.save / torch.jit.load, and check the loaded modules agree with eager
on held-out data; the traced model is what gets evaluated."""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self, d_in: int = 12, hidden: int = 32, n_out: int = 3):
        super().__init__()
        self.fc1 = nn.Linear(d_in, hidden)
        self.bn = nn.BatchNorm1d(hidden)
        self.fc2 = nn.Linear(hidden, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=80)
    args = parser.parse_args()
    torch.manual_seed(0)
    X = torch.randn(900, 12)
    y = torch.argmax(X[:, :3] + 0.3 * X[:, 3:6], dim=1)
    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for epoch in range(args.epochs):
        model.train()
        opt.zero_grad()
        loss = F.nll_loss(model(X[:700]), y[:700])
        loss.backward()
        opt.step()
    model.eval()
    example = torch.rand(1, 12)
    traced_script_module = torch.jit.trace(model, example)
    traced_script_module.save("traced_model.pt")
    scripted = torch.jit.script(model)
    torch.jit.save(scripted, "scripted_model.pt")
    loaded_traced = torch.jit.load("traced_model.pt")
    loaded_scripted = torch.jit.load("scripted_model.pt", map_location="cpu")
    with torch.no_grad():
        eager = model(X[700:])
        for m in (traced_script_module, scripted, loaded_traced, loaded_scripted):
            assert torch.allclose(m(X[700:]), eager, atol=1e-5)
        acc = (loaded_traced(X[700:]).argmax(1) == y[700:]).float().mean().item()
    print("train loss", round(loss.item(), 4))
    print(f"final_acc {acc:.4f}")

"""Activation checkpointing: torch.utils.checkpoint.checkpoint (use_reentrant=False) around
residual blocks and checkpoint_sequential over an nn.Sequential; gradients equal the
uncheckpointed ones; then a deep residual MLP is trained with checkpointing on."""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint, checkpoint_sequential


class ResBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, 2 * dim)
        self.fc2 = nn.Linear(2 * dim, dim)
        self.drop = nn.Dropout(0.0)

    def forward(self, x):
        return x + self.drop(self.fc2(F.gelu(self.fc1(self.norm(x)))))


class DeepNet(nn.Module):
    def __init__(self, dim=32, depth=6, use_checkpoint=True):
        super().__init__()
        self.inp = nn.Linear(8, dim)
        self.blocks = nn.ModuleList([ResBlock(dim) for _ in range(depth)])
        self.out = nn.Linear(dim, 1)
        self.use_checkpoint = use_checkpoint

    def forward(self, x):
        x = self.inp(x)
        for blk in self.blocks:
            if self.use_checkpoint and self.training:
                x = checkpoint(blk, x, use_reentrant=False)
            else:
                x = blk(x)
        return self.out(x).squeeze(-1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    torch.manual_seed(0)
    X = torch.randn(1024, 8)
    y = torch.sin(X[:, 0] * 2) + X[:, 1] * X[:, 2] - 0.5 * X[:, 3].abs()

    net = DeepNet()
    ref = DeepNet(use_checkpoint=False)
    ref.load_state_dict(net.state_dict())
    F.mse_loss(net(X[:64]), y[:64]).backward()
    F.mse_loss(ref(X[:64]), y[:64]).backward()
    for (n, p), q in zip(net.named_parameters(), ref.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-6), n
    seq = nn.Sequential(*[ResBlock(16) for _ in range(4)])
    inp = torch.randn(4, 16, requires_grad=True)
    out = checkpoint_sequential(seq, 2, inp, use_reentrant=False)
    out.sum().backward()
    assert inp.grad is not None and inp.grad.shape == inp.shape

    net.zero_grad()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    for step in range(args.steps):
        idx = torch.randint(0, 896, (64,))
        loss = F.mse_loss(net(X[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0:
            print(f"step {step} loss {loss.item():.4f}")
    net.eval()
    with torch.no_grad():
        test = F.mse_loss(net(X[896:]), y[896:]).item()
    print(f"final_loss {test:.4f}")

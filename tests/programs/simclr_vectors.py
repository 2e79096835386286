"""SimCLR-style contrastive learning on vectors: two random augmentations (noise, masking,
scaling) per sample, a projection head, NT-Xent loss built from F.normalize, a masked cosine
similarity matrix and cross_entropy; then a linear probe on frozen features (requires_grad_)."""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F


class Encoder(nn.Module):
    def __init__(self, d_in=16, d_rep=32, d_proj=16):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(d_in, 64), nn.BatchNorm1d(64), nn.ReLU(),
                                      nn.Linear(64, d_rep))
        self.projector = nn.Sequential(nn.ReLU(), nn.Linear(d_rep, d_proj))

    def forward(self, x):
        h = self.backbone(x)
        return h, self.projector(h)


def augment(x):
    mask = (torch.rand_like(x) > 0.2).float()
    scale = torch.empty(x.size(0), 1).uniform_(0.8, 1.2)
    return x * mask * scale + 0.1 * torch.randn_like(x)


def info_nce_loss(z1, z2, temperature=0.2):
    z = F.normalize(torch.cat([z1, z2], dim=0), dim=1)
    n = z1.size(0)
    sim = z @ z.T / temperature
    sim.masked_fill_(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(sim, targets)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch_size", type=int, default=64)
    args = parser.parse_args()
    torch.manual_seed(0)
    n_classes, n = 4, 1200
    protos = torch.randn(n_classes, 16) * 2
    labels = torch.randint(0, n_classes, (n,))
    data = protos[labels] + 0.8 * torch.randn(n, 16)
    model = Encoder()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-6)
    for step in range(args.steps):
        idx = torch.randperm(1000)[:args.batch_size]
        x = data[idx]
        _, z1 = model(augment(x))
        _, z2 = model(augment(x))
        loss = info_nce_loss(z1, z2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0:
            print(f"step {step} nt-xent {loss.item():.4f}")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        feats = model(data)[0]
    probe = nn.Linear(feats.size(1), n_classes)
    popt = torch.optim.LBFGS(probe.parameters(), lr=0.5, max_iter=50)

    def closure():
        popt.zero_grad()
        l = F.cross_entropy(probe(feats[:1000]), labels[:1000])
        l.backward()
        return l
    popt.step(closure)
    acc = (probe(feats[1000:]).argmax(1) == labels[1000:]).float().mean().item()
    print(f"linear probe accuracy {acc:.4f}")
    print(f"final_acc {acc:.4f}")

"""A categorical VAE with the Gumbel-softmax trick (the Jang et al. 2016 blog-post notebook,
shrunk): binary 8x8 glyphs (strokes drawn with NumPy), an encoder with `nn.GroupNorm`,
`nn.Mish` and a `nn.GLU` gate producing logits for 6 categorical latents of 8 classes each
(`nn.Unflatten`), samples by `F.gumbel_softmax(logits, tau, hard=True)` (straight-through) with
tau annealed by `math.exp(-rate * step)`, a decoder back through `nn.Unflatten(1, (1, 8, 8))`,
BCE-with-logits reconstruction plus the KL to a uniform categorical prior computed in closed
form and checked against `distributions.kl_divergence(OneHotCategorical, OneHotCategorical)`,
`RelaxedOneHotCategorical.rsample` as an alternative sampler, and `torch.nn.init.kaiming_normal_`
with a `model.apply` initialiser. Metric: the test negative ELBO per image."""
import argparse
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import OneHotCategorical, RelaxedOneHotCategorical, kl_divergence

N_LATENT, N_CLASSES = 6, 8


def glyphs(rs, n):
    imgs = np.zeros((n, 8, 8), np.float32)
    for k in range(n):
        kind = rs.randint(4)
        a, b = rs.randint(1, 7, size=2)
        if kind == 0:
            imgs[k, a, 1:7] = 1
        elif kind == 1:
            imgs[k, 1:7, b] = 1
        elif kind == 2:
            imgs[k, a, 1:7] = 1
            imgs[k, 1:7, b] = 1
        else:
            for i in range(1, 7):
                imgs[k, i, i] = 1
        flip = rs.rand(8, 8) < 0.03
        imgs[k][flip] = 1 - imgs[k][flip]
    return torch.from_numpy(imgs).unsqueeze(1)


class CategoricalVAE(nn.Module):
    def __init__(self, hidden=64):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.GroupNorm(4, 16), nn.Mish(),
            nn.Conv2d(16, 16, 3, stride=2, padding=1), nn.GroupNorm(4, 16), nn.Mish(),
            nn.Flatten(), nn.Linear(16 * 16, 2 * hidden), nn.GLU(dim=1),
            nn.Linear(hidden, N_LATENT * N_CLASSES), nn.Unflatten(1, (N_LATENT, N_CLASSES)))
        self.decoder = nn.Sequential(
            nn.Flatten(), nn.Linear(N_LATENT * N_CLASSES, hidden), nn.Mish(),
            nn.Linear(hidden, 64), nn.Unflatten(1, (1, 8, 8)))

    def forward(self, x, tau, hard=True):
        logits = self.encoder(x)
        z = F.gumbel_softmax(logits, tau=tau, hard=hard, dim=-1)
        return self.decoder(z), logits


def init_weights(m):
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        nn.init.zeros_(m.bias)


def kl_uniform(logits):
    q = F.softmax(logits, dim=-1)
    return (q * (F.log_softmax(logits, dim=-1) + math.log(N_CLASSES))).sum((1, 2))


def neg_elbo(model, x, tau, hard=True):
    recon, logits = model(x, tau, hard)
    rec = F.binary_cross_entropy_with_logits(recon, x, reduction="none").sum((1, 2, 3))
    return (rec + kl_uniform(logits)).mean(), logits


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    rs = np.random.RandomState(0)
    train, test = glyphs(rs, 640), glyphs(rs, 256)
    model = CategoricalVAE()
    model.apply(init_weights)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    step, tau0, rate, tau_min = 0, 1.0, 3e-3, 0.5
    for epoch in range(1, args.epochs + 1):
        model.train()
        perm = torch.randperm(len(train))
        total = 0.0
        for i in range(0, len(train), args.batch_size):
            x = train[perm[i:i + args.batch_size]]
            tau = max(tau_min, tau0 * math.exp(-rate * step))
            loss, _ = neg_elbo(model, x, tau)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(x)
            step += 1
        if epoch % 5 == 0:
            print(f"epoch {epoch} tau {tau:.3f} train -elbo {total / len(train):.3f}")
    model.eval()
    with torch.no_grad():
        test_loss, logits = neg_elbo(model, test, tau_min)
        prior = OneHotCategorical(logits=torch.zeros(N_LATENT, N_CLASSES))
        post = OneHotCategorical(logits=logits)
        torch.testing.assert_close(kl_divergence(post, prior).sum(1), kl_uniform(logits))
        relaxed = RelaxedOneHotCategorical(torch.tensor(tau_min), logits=logits).rsample()
        assert relaxed.shape == logits.shape
        torch.testing.assert_close(relaxed.sum(-1), torch.ones(relaxed.shape[:-1]))
        soft_loss, _ = neg_elbo(model, test, tau_min, hard=False)
        codes = logits.argmax(-1)
        used = len(torch.unique(codes[:, 0]))
    print(f"test -elbo hard {test_loss.item():.3f} soft {soft_loss.item():.3f}, "
          f"{used} codes used by the first latent")
    print(f"final_loss {test_loss.item():.4f}")


if __name__ == "__main__":
    main()

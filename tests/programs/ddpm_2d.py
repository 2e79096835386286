"""A denoising diffusion probabilistic model (DDPM, Ho et al. 2020) on 2-D toy data, in the
style of the many "diffusion from scratch" notebooks: a linear beta schedule with
`torch.linspace` / `torch.cumprod`, `extract()` gathering per-timestep coefficients and
reshaping for broadcasting, sinusoidal timestep embeddings (`math.log(10000)` / `torch.exp` /
sin-cos cat), an MLP noise predictor with the embedding added per block, `q_sample` forward
noising, the simple epsilon-MSE loss with `torch.randint` timesteps, `@torch.no_grad()`
ancestral sampling (`p_sample_loop`), and EMA weights via `copy.deepcopy` + `lerp_`."""
import argparse
import copy
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def make_swiss_roll(n, rng):
    t = 1.5 * np.pi * (1 + 2 * rng.rand(n))
    x = np.stack([t * np.cos(t), t * np.sin(t)], 1) / 10.0
    return torch.from_numpy((x + 0.03 * rng.randn(n, 2)).astype(np.float32))


class SinusoidalPositionEmbeddings(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, time):
        half_dim = self.dim // 2
        embeddings = math.log(10000) / (half_dim - 1)
        embeddings = torch.exp(torch.arange(half_dim, device=time.device) * -embeddings)
        embeddings = time[:, None] * embeddings[None, :]
        embeddings = torch.cat((embeddings.sin(), embeddings.cos()), dim=-1)
        return embeddings


class Block(nn.Module):
    def __init__(self, dim, time_dim):
        super().__init__()
        self.lin = nn.Linear(dim, dim)
        self.time_mlp = nn.Linear(time_dim, dim)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x, t_emb):
        return x + F.gelu(self.lin(self.norm(x)) + self.time_mlp(t_emb))


class Denoiser(nn.Module):
    def __init__(self, hidden=64, time_dim=32, n_blocks=3):
        super().__init__()
        self.time_mlp = nn.Sequential(SinusoidalPositionEmbeddings(time_dim),
                                      nn.Linear(time_dim, time_dim), nn.GELU())
        self.inp = nn.Linear(2, hidden)
        self.blocks = nn.ModuleList([Block(hidden, time_dim) for _ in range(n_blocks)])
        self.out = nn.Linear(hidden, 2)

    def forward(self, x, t):
        t_emb = self.time_mlp(t.float())
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, t_emb)
        return self.out(h)


def linear_beta_schedule(timesteps, start=1e-4, end=0.02):
    return torch.linspace(start, end, timesteps)


def extract(a, t, x_shape):
    batch_size = t.shape[0]
    out = a.gather(-1, t.cpu())
    return out.reshape(batch_size, *((1,) * (len(x_shape) - 1))).to(t.device)


class Diffusion:
    def __init__(self, timesteps):
        self.timesteps = timesteps
        self.betas = linear_beta_schedule(timesteps, end=0.05)
        alphas = 1. - self.betas
        self.alphas_cumprod = torch.cumprod(alphas, axis=0)
        alphas_cumprod_prev = F.pad(self.alphas_cumprod[:-1], (1, 0), value=1.0)
        self.sqrt_recip_alphas = torch.sqrt(1.0 / alphas)
        self.sqrt_alphas_cumprod = torch.sqrt(self.alphas_cumprod)
        self.sqrt_one_minus_alphas_cumprod = torch.sqrt(1. - self.alphas_cumprod)
        self.posterior_variance = self.betas * (1. - alphas_cumprod_prev) / \
            (1. - self.alphas_cumprod)

    def q_sample(self, x_start, t, noise=None):
        if noise is None:
            noise = torch.randn_like(x_start)
        return (extract(self.sqrt_alphas_cumprod, t, x_start.shape) * x_start +
                extract(self.sqrt_one_minus_alphas_cumprod, t, x_start.shape) * noise)

    def p_losses(self, model, x_start, t, loss_type="l2"):
        noise = torch.randn_like(x_start)
        x_noisy = self.q_sample(x_start, t, noise)
        predicted_noise = model(x_noisy, t)
        if loss_type == "l1":
            return F.l1_loss(noise, predicted_noise)
        if loss_type == "huber":
            return F.smooth_l1_loss(noise, predicted_noise)
        return F.mse_loss(noise, predicted_noise)

    @torch.no_grad()
    def p_sample(self, model, x, t, t_index):
        betas_t = extract(self.betas, t, x.shape)
        sqrt_one_minus = extract(self.sqrt_one_minus_alphas_cumprod, t, x.shape)
        sqrt_recip = extract(self.sqrt_recip_alphas, t, x.shape)
        model_mean = sqrt_recip * (x - betas_t * model(x, t) / sqrt_one_minus)
        if t_index == 0:
            return model_mean
        posterior_variance_t = extract(self.posterior_variance, t, x.shape)
        return model_mean + torch.sqrt(posterior_variance_t) * torch.randn_like(x)

    @torch.no_grad()
    def p_sample_loop(self, model, shape):
        x = torch.randn(shape)
        for i in reversed(range(0, self.timesteps)):
            x = self.p_sample(model, x, torch.full((shape[0],), i, dtype=torch.long), i)
        return x


def mmd(x, y, sigma=0.2):
    def k(a, b):
        return torch.exp(-torch.cdist(a, b).pow(2) / (2 * sigma ** 2))
    return (k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean()).item()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--timesteps", type=int, default=50)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch_size", type=int, default=128)
    args = parser.parse_args()
    rng = np.random.RandomState(0)
    data = make_swiss_roll(4000, rng)
    torch.manual_seed(0)
    diffusion = Diffusion(args.timesteps)
    model = Denoiser()
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.steps)
    losses = []
    for step in range(args.steps):
        idx = torch.randint(0, data.shape[0], (args.batch_size,))
        batch = data[idx]
        t = torch.randint(0, args.timesteps, (args.batch_size,), device=batch.device).long()
        loss = diffusion.p_losses(model, batch, t, loss_type="l2")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        with torch.no_grad():
            for p_ema, p in zip(ema.parameters(), model.parameters()):
                p_ema.lerp_(p, 0.05)
        losses.append(loss.item())
        if step % 150 == 0:
            print(f"step {step} loss {np.mean(losses[-50:]):.4f}")
    g = torch.Generator().manual_seed(1)
    samples = diffusion.p_sample_loop(ema, (500, 2))
    ref = data[torch.randperm(data.shape[0])[:500]]
    noise = torch.randn(500, 2, generator=g)
    print(f"MMD samples {mmd(samples, ref):.4f} vs noise {mmd(noise, ref):.4f}")
    # the denoising loss of the EMA model on a fixed evaluation set (drawn with NumPy so that it
    # is the same set whichever framework runs the program)
    with torch.no_grad():
        eval_rng = np.random.RandomState(11)
        x0 = data[:1000]
        t = torch.from_numpy(eval_rng.randint(0, args.timesteps, 1000))
        eps = torch.from_numpy(eval_rng.randn(1000, 2).astype(np.float32))
        xt = diffusion.q_sample(x0, t, eps)
        val = F.mse_loss(ema(xt, t), eps).item()
    print(f"final_loss {val:.4f}")


if __name__ == "__main__":
    main()

"""WGAN-GP on a 2-D mixture of eight Gaussians (the improved-WGAN toy experiment, as in
the popular PyTorch re-implementations): generator and critic MLPs, two Adam optimizers with
betas=(0.5, 0.9), n_critic critic steps per generator step, the gradient penalty through
torch.autograd.grad(create_graph=True, grad_outputs=torch.ones_like), .detach() of fake
samples for the critic, requires_grad toggling, and a mode-coverage metric on samples."""
import math

import numpy as np
import torch
import torch.autograd as autograd
import torch.nn as nn


def sample_real(n, rs):
    centers = [(math.cos(2 * math.pi * k / 8) * 2, math.sin(2 * math.pi * k / 8) * 2)
               for k in range(8)]
    idx = rs.randint(0, 8, n)
    pts = np.array(centers)[idx] + rs.normal(0, 0.05, (n, 2))
    return torch.from_numpy(pts.astype(np.float32))


class Generator(nn.Module):
    def __init__(self, nz=2, dim=128):
        super().__init__()
        self.main = nn.Sequential(nn.Linear(nz, dim), nn.ReLU(True), nn.Linear(dim, dim),
                                  nn.ReLU(True), nn.Linear(dim, 2))

    def forward(self, noise):
        return self.main(noise)


class Critic(nn.Module):
    def __init__(self, dim=128):
        super().__init__()
        self.main = nn.Sequential(nn.Linear(2, dim), nn.ReLU(True), nn.Linear(dim, dim),
                                  nn.ReLU(True), nn.Linear(dim, 1))

    def forward(self, x):
        return self.main(x).view(-1)


def calc_gradient_penalty(netD, real_data, fake_data, lambda_=0.1):
    alpha = torch.rand(real_data.size(0), 1)
    alpha = alpha.expand(real_data.size())
    interpolates = alpha * real_data + ((1 - alpha) * fake_data)
    interpolates.requires_grad_(True)
    disc_interpolates = netD(interpolates)
    gradients = autograd.grad(outputs=disc_interpolates, inputs=interpolates,
                              grad_outputs=torch.ones_like(disc_interpolates),
                              create_graph=True, retain_graph=True, only_inputs=True)[0]
    return ((gradients.norm(2, dim=1) - 1) ** 2).mean() * lambda_


def mode_coverage(samples):
    centers = torch.tensor([[math.cos(2 * math.pi * k / 8) * 2, math.sin(2 * math.pi * k / 8) * 2]
                            for k in range(8)])
    d = torch.cdist(samples, centers)
    nearest = d.min(dim=1)
    good = nearest.values < 0.5
    covered = torch.bincount(nearest.indices[good], minlength=8) > len(samples) * 0.02
    return covered.float().mean().item(), good.float().mean().item()


def main():
    torch.manual_seed(1)
    rs = np.random.RandomState(1)
    batch, critic_iters, iters = 128, 5, 400
    netG, netD = Generator(), Critic()
    optimizerD = torch.optim.Adam(netD.parameters(), lr=5e-4, betas=(0.5, 0.9))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=5e-4, betas=(0.5, 0.9))
    one = torch.tensor(1, dtype=torch.float)
    mone = one * -1
    for iteration in range(iters):
        for p in netD.parameters():
            p.requires_grad = True
        for iter_d in range(critic_iters):
            real_data = sample_real(batch, rs)
            netD.zero_grad()
            D_real = netD(real_data).mean()
            D_real.backward(mone)
            noise = torch.randn(batch, 2)
            with torch.no_grad():
                fake = netG(noise)
            D_fake = netD(fake.detach()).mean()
            D_fake.backward(one)
            gradient_penalty = calc_gradient_penalty(netD, real_data, fake)
            gradient_penalty.backward()
            D_cost = D_fake - D_real + gradient_penalty
            Wasserstein_D = D_real - D_fake
            optimizerD.step()
        for p in netD.parameters():
            p.requires_grad = False
        netG.zero_grad()
        fake = netG(torch.randn(batch, 2))
        G = netD(fake).mean()
        G.backward(mone)
        optimizerG.step()
        if iteration % 100 == 99:
            print(f"iter {iteration + 1}: D cost {D_cost.item():.4f} G cost {-G.item():.4f} "
                  f"W distance {Wasserstein_D.item():.4f}")
    with torch.no_grad():
        samples = netG(torch.randn(2000, 2))
    covered, near = mode_coverage(samples)
    print(f"modes covered {covered:.3f}, samples near a mode {near:.3f}")
    print(f"final_acc {near:.4f}")


if __name__ == "__main__":
    main()

"""DCGAN (the PyTorch DCGAN tutorial, scaled to 16x16 images): ImageFolder with Resize /
CenterCrop / Normalize, the tutorial's weights_init, BCELoss, Adam(0.0002, betas=(0.5, 0.999)),
save_image of a fixed-noise grid. The image folder is generated offline (coloured discs)."""
import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
import torchvision.datasets as dset
import torchvision.transforms as transforms
import torchvision.utils as vutils
from PIL import Image

nz, ngf, ndf, nc = 16, 16, 16, 3


def make_images(root, n=96, seed=3):
    rs = np.random.RandomState(seed)
    os.makedirs(os.path.join(root, "discs"), exist_ok=True)
    yy, xx = np.mgrid[0:20, 0:20]
    for i in range(n):
        cy, cx, r = rs.uniform(6, 14), rs.uniform(6, 14), rs.uniform(3, 6)
        colour = rs.uniform(80, 255, 3)
        img = np.full((20, 20, 3), 20.0)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = colour
        Image.fromarray(img.astype(np.uint8)).save(os.path.join(root, "discs", f"{i:03d}.png"))


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 2, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, input):
        return self.main(input)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False), nn.Sigmoid())

    def forward(self, input):
        return self.main(input)


def main():
    torch.manual_seed(999)
    make_images("data/shapes")
    dataset = dset.ImageFolder(root="data/shapes", transform=transforms.Compose([
        transforms.Resize(16), transforms.CenterCrop(16), transforms.ToTensor(),
        transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]))
    dataloader = torch.utils.data.DataLoader(dataset, batch_size=16, shuffle=True)
    netG, netD = Generator(), Discriminator()
    netG.apply(weights_init)
    netD.apply(weights_init)
    criterion = nn.BCELoss()
    fixed_noise = torch.randn(16, nz, 1, 1)
    real_label, fake_label = 1.0, 0.0
    optimizerD = optim.Adam(netD.parameters(), lr=0.0002, betas=(0.5, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=0.0002, betas=(0.5, 0.999))
    d_x_hist, d_gz_hist = [], []
    for epoch in range(5):
        for i, data in enumerate(dataloader, 0):
            netD.zero_grad()
            real = data[0]
            b_size = real.size(0)
            label = torch.full((b_size,), real_label, dtype=torch.float)
            output = netD(real).view(-1)
            errD_real = criterion(output, label)
            errD_real.backward()
            D_x = output.mean().item()
            noise = torch.randn(b_size, nz, 1, 1)
            fake = netG(noise)
            label.fill_(fake_label)
            output = netD(fake.detach()).view(-1)
            errD_fake = criterion(output, label)
            errD_fake.backward()
            optimizerD.step()
            netG.zero_grad()
            label.fill_(real_label)
            output = netD(fake).view(-1)
            errG = criterion(output, label)
            errG.backward()
            D_G_z2 = output.mean().item()
            optimizerG.step()
            d_x_hist.append(D_x)
            d_gz_hist.append(D_G_z2)
        print(f"[{epoch}/5] Loss_D: {(errD_real + errD_fake).item():.4f} "
              f"Loss_G: {errG.item():.4f} D(x): {D_x:.4f} D(G(z)): {D_G_z2:.4f}")
    with torch.no_grad():
        fake = netG(fixed_noise).detach()
    vutils.save_image(fake, "fake_samples.png", normalize=True, nrow=4)
    grid = vutils.make_grid(fake, padding=2, normalize=True)
    assert tuple(grid.shape) == (3, 38, 146), grid.shape
    print("OUTCOME " + json.dumps({"D_x_last_epoch": float(np.mean(d_x_hist[-6:])),
                                   "D_G_z_last_epoch": float(np.mean(d_gz_hist[-6:])),
                                   "fake_png": os.path.getsize("fake_samples.png") > 0}))


if __name__ == "__main__":
    main()

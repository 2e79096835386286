"""Super-resolution with an efficient sub-pixel CNN (pytorch/examples/super_resolution):
images from a folder, the Y channel of YCbCr, CenterCrop + Resize to make the low-resolution
input, pixel_shuffle upscaling, MSE, PSNR on a test split. The images are generated offline
(smooth random blobs) and saved as PNG."""
import json
import math
import os
from os import listdir
from os.path import join

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import CenterCrop, Compose, Resize, ToTensor

UPSCALE, CROP = 2, 24


def make_images(root, n, seed):
    rs = np.random.RandomState(seed)
    os.makedirs(root, exist_ok=True)
    yy, xx = np.mgrid[0:28, 0:28] / 28.0
    for i in range(n):
        img = np.zeros((28, 28, 3))
        for _ in range(4):
            cy, cx, s = rs.uniform(0, 1), rs.uniform(0, 1), rs.uniform(0.05, 0.2)
            blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
            img += rs.uniform(0, 255, 3) * blob[..., None]
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(join(root, f"{i}.png"))


def load_img(filepath):
    y, _, _ = Image.open(filepath).convert("YCbCr").split()
    return y


class DatasetFromFolder(Dataset):
    def __init__(self, image_dir, input_transform, target_transform):
        super().__init__()
        self.image_filenames = sorted(join(image_dir, x) for x in listdir(image_dir)
                                      if x.endswith(".png"))
        self.input_transform, self.target_transform = input_transform, target_transform

    def __getitem__(self, index):
        input = load_img(self.image_filenames[index])
        target = input.copy()
        return self.input_transform(input), self.target_transform(target)

    def __len__(self):
        return len(self.image_filenames)


class Net(nn.Module):
    def __init__(self, upscale_factor):
        super().__init__()
        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(1, 32, (5, 5), (1, 1), (2, 2))
        self.conv2 = nn.Conv2d(32, 32, (3, 3), (1, 1), (1, 1))
        self.conv3 = nn.Conv2d(32, 16, (3, 3), (1, 1), (1, 1))
        self.conv4 = nn.Conv2d(16, upscale_factor ** 2, (3, 3), (1, 1), (1, 1))
        self.upscale_factor = upscale_factor

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.relu(self.conv3(x))
        return F.pixel_shuffle(self.conv4(x), self.upscale_factor)


def main():
    torch.manual_seed(123)
    make_images("data/train", 64, 5)
    make_images("data/test", 16, 6)
    input_tf = Compose([CenterCrop(CROP), Resize(CROP // UPSCALE), ToTensor()])
    target_tf = Compose([CenterCrop(CROP), ToTensor()])
    train = DataLoader(DatasetFromFolder("data/train", input_tf, target_tf), batch_size=16,
                       shuffle=True)
    test = DataLoader(DatasetFromFolder("data/test", input_tf, target_tf), batch_size=16)
    model = Net(UPSCALE)
    criterion = nn.MSELoss()
    optimizer = optim.Adam(model.parameters(), lr=0.003)
    for epoch in range(1, 9):
        epoch_loss = 0.0
        for input, target in train:
            optimizer.zero_grad()
            loss = criterion(model(input), target)
            epoch_loss += loss.item()
            loss.backward()
            optimizer.step()
        print(f"===> Epoch {epoch} Complete: Avg. Loss: {epoch_loss / len(train):.5f}")
    avg_psnr = 0.0
    with torch.no_grad():
        for input, target in test:
            mse = criterion(model(input), target)
            avg_psnr += 10 * math.log10(1 / mse.item())
    avg_psnr /= len(test)
    print(f"===> Avg. PSNR: {avg_psnr:.4f} dB")
    print("OUTCOME " + json.dumps({"psnr_db": avg_psnr}))


if __name__ == "__main__":
    main()

"""The "Datasets & DataLoaders" tutorial's CustomImageDataset on files written to disk: PNG and
JPEG images saved with PIL into a directory with an annotations CSV, read back with
torchvision.io.read_image (ImageReadMode.RGB for the colour JPEGs) and
decode_image(read_file(...), mode=ImageReadMode.GRAY), a transforms.v2 pipeline on uint8
tensors (Resize, RandomRotation, ToDtype(scale=True), Normalize), a target_transform Lambda
making one-hot targets with scatter_, a CNN trained with cross-entropy on the soft targets,
StepLR, utils.make_grid + save_image of a batch read back with read_image."""
import csv
import json
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import utils
from torchvision.io import ImageReadMode, decode_image, read_file, read_image
from torchvision.transforms import v2

CLASSES = ["ring", "cross", "bar", "dot"]


def draw(label, rs, size=32):
    yy, xx = np.mgrid[0:size, 0:size]
    cy, cx = rs.randint(10, size - 10, 2)
    r = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
    if label == 0:
        shape = (r > 5) & (r < 8)
    elif label == 1:
        shape = (((abs(yy - cy) < 2) & (abs(xx - cx) < 8))
                 | ((abs(xx - cx) < 2) & (abs(yy - cy) < 8)))
    elif label == 2:
        shape = (abs(yy - cy) < 2) & (abs(xx - cx) < 9)
    else:
        shape = r < 4
    img = rs.randint(0, 60, (size, size)).astype(np.float64)
    img[shape] = rs.randint(180, 256)
    return img.astype(np.uint8)


def write_dataset(root, n, seed):
    rs = np.random.RandomState(seed)
    rows = []
    for i in range(n):
        label = i % len(CLASSES)
        gray = draw(label, rs)
        if i % 3 == 0:   # some files are colour JPEGs
            rgb = np.stack([gray, gray // 2 + 60, 255 - gray], -1)
            name = f"img_{i:04d}.jpg"
            Image.fromarray(rgb).save(os.path.join(root, name), quality=95)
        else:
            name = f"img_{i:04d}.png"
            Image.fromarray(gray).save(os.path.join(root, name))
        rows.append((name, label))
    with open(os.path.join(root, "annotations.csv"), "w", newline="") as f:
        csv.writer(f).writerows(rows)


class CustomImageDataset(Dataset):
    def __init__(self, annotations_file, img_dir, transform=None, target_transform=None):
        with open(annotations_file) as f:
            self.img_labels = [(name, int(label)) for name, label in csv.reader(f)]
        self.img_dir = img_dir
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self):
        return len(self.img_labels)

    def __getitem__(self, idx):
        name, label = self.img_labels[idx]
        img_path = os.path.join(self.img_dir, name)
        if name.endswith(".jpg"):
            image = read_image(img_path, mode=ImageReadMode.RGB)
            image = image.float().mean(0, keepdim=True).round().to(torch.uint8)
        else:
            image = decode_image(read_file(img_path), mode=ImageReadMode.GRAY)
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.fc = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(32 * 7 * 7, 64),
                                nn.ReLU(), nn.Linear(64, len(CLASSES)))

    def forward(self, x):
        return self.fc(self.conv(x))


def main():
    torch.manual_seed(int(os.environ.get("SEED", 0)))
    tmp = tempfile.mkdtemp()
    train_dir, test_dir = os.path.join(tmp, "train"), os.path.join(tmp, "test")
    os.makedirs(train_dir)
    os.makedirs(test_dir)
    write_dataset(train_dir, 160, seed=0)
    write_dataset(test_dir, 60, seed=1)
    one_hot = v2.Lambda(lambda y: torch.zeros(len(CLASSES), dtype=torch.float).scatter_(
        0, torch.tensor(y), value=1))
    train_tf = v2.Compose([v2.Resize(28, antialias=True), v2.RandomRotation(10),
                           v2.ToDtype(torch.float32, scale=True), v2.Normalize([0.3], [0.3])])
    test_tf = v2.Compose([v2.Resize(28, antialias=True), v2.ToDtype(torch.float32, scale=True),
                          v2.Normalize([0.3], [0.3])])
    training_data = CustomImageDataset(os.path.join(train_dir, "annotations.csv"), train_dir,
                                       transform=train_tf, target_transform=one_hot)
    test_data = CustomImageDataset(os.path.join(test_dir, "annotations.csv"), test_dir,
                                   transform=test_tf, target_transform=one_hot)
    img, target = training_data[0]
    print("sample", tuple(img.shape), img.dtype, target.tolist())
    train_dataloader = DataLoader(training_data, batch_size=16, shuffle=True)
    test_dataloader = DataLoader(test_data, batch_size=30)

    model = Net()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.3)
    for epoch in range(8):
        model.train()
        for X, y in train_dataloader:
            loss = loss_fn(model(X), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        scheduler.step()
        model.eval()
        test_loss, correct = 0.0, 0
        with torch.no_grad():
            for X, y in test_dataloader:
                pred = model(X)
                test_loss += loss_fn(pred, y).item() * len(X)
                correct += (pred.argmax(1) == y.argmax(1)).type(torch.float).sum().item()
        test_loss /= len(test_data)
        accuracy = correct / len(test_data)
        print(f"epoch {epoch}: Accuracy {100 * accuracy:.1f}%, Avg loss {test_loss:.4f}")

    X, _ = next(iter(test_dataloader))
    grid = utils.make_grid(X[:8] * 0.3 + 0.3, nrow=4, padding=2)
    utils.save_image(grid, os.path.join(tmp, "grid.png"))
    back = read_image(os.path.join(tmp, "grid.png"))
    print("grid", tuple(grid.shape), "read back", tuple(back.shape), back.dtype)
    print("OUTCOME " + json.dumps({"accuracy": accuracy, "test_loss": test_loss,
                                   "grid_roundtrip": tuple(back.shape) == (3, 62, 122)}))


if __name__ == "__main__":
    main()

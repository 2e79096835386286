"""Transfer learning the way the "finetuning torchvision models" tutorial does it: a
torchvision.models.resnet18 (weights=None: no downloads; its stem is "pre-trained" first on
a proxy task here), every parameter frozen with requires_grad_(False) except layer4 and a
new fc head, parameter groups with different learning rates, OneCycleLR, a custom Dataset of
PIL images drawn in code (ImageDraw) with transforms.Compose([RandomResizedCrop,
RandomHorizontalFlip, ColorJitter, ToTensor, Normalize(ImageNet stats)]), a datasets.FakeData
smoke test, model.eval() + torch.no_grad() evaluation, best-model state_dict kept with
copy.deepcopy and torch.save."""
import copy
import json
import time

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from PIL import Image, ImageDraw
from torch.utils.data import DataLoader, Dataset
from torchvision import datasets, models, transforms

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


class ShapesDataset(Dataset):
    """RGB images of a disc, a square or a triangle in random colours on noisy backgrounds."""
    classes = ["disc", "square", "triangle"]

    def __init__(self, n, transform=None, seed=0, size=40):
        rs = np.random.RandomState(seed)
        self.samples, self.transform = [], transform
        for i in range(n):
            label = i % 3
            bg = rs.randint(0, 90, (size, size, 3)).astype(np.uint8)
            img = Image.fromarray(bg)
            draw = ImageDraw.Draw(img)
            cx, cy, r = rs.randint(12, size - 12), rs.randint(12, size - 12), rs.randint(6, 11)
            colour = tuple(int(c) for c in rs.randint(120, 256, 3))
            if label == 0:
                draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
            elif label == 1:
                draw.rectangle([cx - r, cy - r, cx + r, cy + r], fill=colour)
            else:
                draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
            self.samples.append((img, label))

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, idx):
        img, label = self.samples[idx]
        if self.transform is not None:
            img = self.transform(img)
        return img, label


def set_parameter_requires_grad(model, feature_extracting):
    if feature_extracting:
        for param in model.parameters():
            param.requires_grad = False


def train_model(model, dataloaders, criterion, optimizer, scheduler, num_epochs):
    since = time.time()
    best_model_wts = copy.deepcopy(model.state_dict())
    best_acc = 0.0
    for epoch in range(num_epochs):
        for phase in ["train", "val"]:
            model.train() if phase == "train" else model.eval()
            running_loss, running_corrects = 0.0, 0
            for inputs, labels in dataloaders[phase]:
                optimizer.zero_grad()
                with torch.set_grad_enabled(phase == "train"):
                    outputs = model(inputs)
                    loss = criterion(outputs, labels)
                    _, preds = torch.max(outputs, 1)
                    if phase == "train":
                        loss.backward()
                        optimizer.step()
                        scheduler.step()
                running_loss += loss.item() * inputs.size(0)
                running_corrects += torch.sum(preds == labels.data)
            epoch_loss = running_loss / len(dataloaders[phase].dataset)
            epoch_acc = running_corrects.double() / len(dataloaders[phase].dataset)
            print(f"epoch {epoch} {phase} Loss: {epoch_loss:.4f} Acc: {epoch_acc:.4f}")
            if phase == "val" and epoch_acc > best_acc:
                best_acc = epoch_acc
                best_model_wts = copy.deepcopy(model.state_dict())
    print(f"Training complete in {time.time() - since > 0}; best val Acc: {best_acc:4f}")
    model.load_state_dict(best_model_wts)
    return model, float(best_acc), epoch_loss


def main():
    torch.manual_seed(0)
    fake = datasets.FakeData(size=4, image_size=(3, 24, 24), num_classes=3,
                             transform=transforms.ToTensor())
    x0, y0 = fake[0]
    print("FakeData sample", tuple(x0.shape), x0.dtype, type(y0).__name__, len(fake))

    train_tf = transforms.Compose([
        transforms.RandomResizedCrop(32, scale=(0.7, 1.0)),
        transforms.RandomHorizontalFlip(),
        transforms.ColorJitter(brightness=0.2, contrast=0.2),
        transforms.ToTensor(),
        transforms.Normalize(MEAN, STD),
    ])
    val_tf = transforms.Compose([transforms.Resize(36), transforms.CenterCrop(32),
                                 transforms.ToTensor(), transforms.Normalize(MEAN, STD)])
    dataloaders = {
        "train": DataLoader(ShapesDataset(240, train_tf, seed=0), batch_size=24, shuffle=True),
        "val": DataLoader(ShapesDataset(90, val_tf, seed=1), batch_size=45),
    }
    model = models.resnet18(weights=None)
    set_parameter_requires_grad(model, True)
    model.layer4.requires_grad_(True)
    num_ftrs = model.fc.in_features
    model.fc = nn.Linear(num_ftrs, len(ShapesDataset.classes))
    params_to_update = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    print(f"trainable tensors {len(params_to_update)}: {params_to_update[0][0]} ... "
          f"{params_to_update[-1][0]}; frozen "
          f"{sum(p.numel() for p in model.parameters() if not p.requires_grad)} weights")
    optimizer = optim.SGD([
        {"params": model.layer4.parameters(), "lr": 0.01},
        {"params": model.fc.parameters()},
    ], lr=0.05, momentum=0.9, weight_decay=1e-4)
    num_epochs = 5
    scheduler = optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=[0.005, 0.02], epochs=num_epochs,
        steps_per_epoch=len(dataloaders["train"]))
    criterion = nn.CrossEntropyLoss()
    frozen_before = model.conv1.weight.clone()
    model, best_acc, last_loss = train_model(model, dataloaders, criterion, optimizer,
                                             scheduler, num_epochs)
    assert torch.equal(frozen_before, model.conv1.weight), "frozen weights changed"
    assert model.conv1.weight.grad is None
    torch.save(model.state_dict(), "resnet_ft.pth")
    fresh = models.resnet18(num_classes=3)
    fresh.load_state_dict(torch.load("resnet_ft.pth"))
    fresh.eval()
    with torch.no_grad():
        xb, yb = next(iter(dataloaders["val"]))
        same = torch.allclose(fresh(xb), model(xb), atol=1e-4)
    print("OUTCOME " + json.dumps({"best_val_acc": best_acc, "last_val_loss": last_loss,
                                   "reload_matches": bool(same)}))


if __name__ == "__main__":
    main()

"""Semantic segmentation with torchvision's DeepLabV3 pieces on a small backbone, as people do
when resnet50 is too big: a models.resnet18 trunk cut by models._utils.IntermediateLayerGetter
(layer2 as "out", layer1 as "aux": output stride 8), models.segmentation.deeplabv3.DeepLabHead
(ASPP) and models.segmentation.fcn.FCNHead assembled into models.segmentation.deeplabv3.DeepLabV3,
the reference scripts' criterion (out + 0.5 * aux cross-entropy with ignore_index=255 on the
borders), PolynomialLR, per-class IoU from a confusion matrix built with torch.bincount,
utils.draw_segmentation_masks of the prediction on the uint8 image, and the model's output
resized back with F.interpolate(mode="bilinear", align_corners=False)."""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from torchvision import models, utils
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.segmentation.deeplabv3 import DeepLabHead, DeepLabV3
from torchvision.models.segmentation.fcn import FCNHead

NUM_CLASSES = 3  # background, disc, square


def make_scenes(n, seed, size=40):
    """Images with a disc and/or a square on a noisy background; the mask has 255 on a one
    pixel ring around each shape (the "void" label of VOC)."""
    rs = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    images = np.zeros((n, 3, size, size), np.float32)
    masks = np.zeros((n, size, size), np.int64)
    for i in range(n):
        img = 0.4 + 0.15 * rs.randn(3, size, size)
        cy, cx, r = rs.randint(10, size - 10), rs.randint(10, size - 10), rs.randint(6, 10)
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        ring = ((yy - cy) ** 2 + (xx - cx) ** 2 <= (r + 1) ** 2) & ~disc
        sy, sx, h = rs.randint(3, size - 15), rs.randint(3, size - 15), rs.randint(8, 13)
        square = np.zeros_like(disc)
        square[sy:sy + h, sx:sx + h] = True
        img[:, disc] += np.array([0.5, -0.2, 0.1])[:, None]
        img[:, square] += np.array([-0.2, 0.1, 0.5])[:, None]
        masks[i][ring] = 255
        masks[i][disc] = 1
        masks[i][square] = 2
        images[i] = img
    return torch.from_numpy(images.clip(0, 1)), torch.from_numpy(masks)


def build_model():
    backbone = models.resnet18(weights=None)
    backbone = IntermediateLayerGetter(backbone, return_layers={"layer2": "out",
                                                                "layer1": "aux"})
    classifier = DeepLabHead(128, NUM_CLASSES, atrous_rates=(2, 4, 6))
    aux_classifier = FCNHead(64, NUM_CLASSES)
    return DeepLabV3(backbone, classifier, aux_classifier)


def criterion(inputs, target):
    losses = {name: F.cross_entropy(x, target, ignore_index=255) for name, x in inputs.items()}
    if len(losses) == 1:
        return losses["out"]
    return losses["out"] + 0.5 * losses["aux"]


class ConfusionMatrix:
    def __init__(self, num_classes):
        self.num_classes = num_classes
        self.mat = torch.zeros((num_classes, num_classes), dtype=torch.int64)

    def update(self, a, b):
        n = self.num_classes
        k = (a >= 0) & (a < n)
        inds = n * a[k].to(torch.int64) + b[k]
        self.mat += torch.bincount(inds, minlength=n ** 2).reshape(n, n)

    def compute(self):
        h = self.mat.float()
        acc_global = torch.diag(h).sum() / h.sum()
        iu = torch.diag(h) / (h.sum(1) + h.sum(0) - torch.diag(h))
        return acc_global.item(), iu


def main():
    torch.manual_seed(int(os.environ.get("SEED", 0)))
    x_train, y_train = make_scenes(48, seed=0)
    x_val, y_val = make_scenes(24, seed=1)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    train_loader = DataLoader(TensorDataset((x_train - mean) / std, y_train), batch_size=8,
                              shuffle=True, drop_last=True)
    model = build_model()
    print("parameters", sum(p.numel() for p in model.parameters()))
    params_to_optimize = [
        {"params": [p for p in model.backbone.parameters() if p.requires_grad]},
        {"params": [p for p in model.classifier.parameters() if p.requires_grad]},
        {"params": [p for p in model.aux_classifier.parameters() if p.requires_grad],
         "lr": 0.05},
    ]
    optimizer = torch.optim.SGD(params_to_optimize, lr=0.05, momentum=0.9, weight_decay=1e-4)
    epochs = 5
    lr_scheduler = torch.optim.lr_scheduler.PolynomialLR(
        optimizer, total_iters=len(train_loader) * epochs, power=0.9)
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for image, target in train_loader:
            output = model(image)
            loss = criterion(output, target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            lr_scheduler.step()
            total += loss.item()
        print(f"epoch {epoch} loss {total / len(train_loader):.4f} "
              f"lr {optimizer.param_groups[0]['lr']:.5f}")

    model.eval()
    confmat = ConfusionMatrix(NUM_CLASSES)
    with torch.no_grad():
        out = model((x_val - mean) / std)
        assert set(out.keys()) == {"out", "aux"} and out["out"].shape[-2:] == x_val.shape[-2:]
        val_loss = criterion({"out": out["out"]}, y_val).item()
        pred = out["out"].argmax(1)
        confmat.update(y_val.flatten(), pred.flatten())
        # a lower-resolution forward, resized back to full size for the metric
        small = F.interpolate((x_val - mean) / std, scale_factor=0.75, mode="bilinear",
                              align_corners=False)
        up = F.interpolate(model(small)["out"], size=x_val.shape[-2:], mode="bilinear",
                           align_corners=False)
        small_acc = (up.argmax(1) == y_val)[y_val != 255].float().mean().item()
    acc, iu = confmat.compute()
    print("global acc", round(acc, 4), "IoU", [round(v, 3) for v in iu.tolist()])

    image_u8 = (x_val[0] * 255).to(torch.uint8)
    class_masks = pred[0] == torch.arange(NUM_CLASSES)[:, None, None]
    overlay = utils.draw_segmentation_masks(image_u8, class_masks[1:], alpha=0.6,
                                            colors=["red", "blue"])
    overlay_ok = overlay.dtype == torch.uint8 and overlay.shape == image_u8.shape
    print("OUTCOME " + json.dumps({"mean_iou": iu.mean().item(), "global_acc": acc,
                                   "val_loss": val_loss, "small_input_acc": small_acc,
                                   "overlay_ok": bool(overlay_ok)}))


if __name__ == "__main__":
    main()

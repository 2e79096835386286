"""Training torchvision's Inception-family networks with their auxiliary classifiers, as the
ImageNet reference script does: models.googlenet(weights=None, aux_logits=True,
init_weights=True, num_classes=...) returns GoogLeNetOutputs(logits, aux_logits2, aux_logits1)
in train mode and a plain tensor in eval mode; the loss is main + 0.3 * (aux1 + aux2); SGD with
momentum and a MultiStepLR; transforms.v2 with AutoAugment(CIFAR10 policy) / RandAugment on
uint8 tv_tensors.Image batches; then models.inception_v3(aux_logits=False, init_weights=False)
at its 75x75 minimum size (its aux head would need ~300x300) for a few Adam steps, where train
mode returns the plain logits; the aux heads removed from a trained GoogLeNet (model.aux1 =
None) keep its eval predictions unchanged."""
import argparse
import json

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision import models, tv_tensors
from torchvision.transforms import v2

NUM_CLASSES = 4


def make_images(n, size, seed):
    """Class = which quadrant holds a bright disc; uint8 images with noise."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    imgs = (torch.rand(n, 3, size, size, generator=g) * 80).to(torch.uint8)
    labels = torch.arange(n) % NUM_CLASSES
    for k in range(n):
        q = int(labels[k])
        cy = size // 4 + (size // 2) * (q // 2) + int(torch.randint(-3, 4, (1,), generator=g))
        cx = size // 4 + (size // 2) * (q % 2) + int(torch.randint(-3, 4, (1,), generator=g))
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= (size // 6) ** 2
        imgs[k][:, disc] = torch.randint(180, 256, (3, 1), generator=g).to(torch.uint8)
    return imgs, labels


def augment_batch(tf, images):
    return torch.stack([tf(tv_tensors.Image(img)) for img in images])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=24)
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    train_x, train_y = make_images(96, 64, args.seed)
    test_x, test_y = make_images(32, 64, 100 + args.seed)
    normalize = v2.Compose([v2.ToDtype(torch.float32, scale=True),
                            v2.Normalize([0.5] * 3, [0.25] * 3)])
    train_tf = v2.Compose([
        v2.RandomChoice([v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10),
                         v2.RandAugment(num_ops=2, magnitude=7)]),
        normalize,
    ])

    model = models.googlenet(weights=None, aux_logits=True, init_weights=True,
                             num_classes=NUM_CLASSES)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[16, 20], gamma=0.3)
    criterion = nn.CrossEntropyLoss()
    model.train()
    for step in range(args.steps):
        idx = torch.randperm(len(train_y))[:16]
        x, y = augment_batch(train_tf, train_x[idx]), train_y[idx]
        outputs = model(x)
        assert isinstance(outputs, models.GoogLeNetOutputs)
        logits, aux2, aux1 = outputs
        loss = criterion(logits, y) + 0.3 * (criterion(aux1, y) + criterion(aux2, y))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        if step % 8 == 0:
            print(f"step {step} loss {loss.item():.4f} main {criterion(logits, y).item():.4f}")

    model.eval()
    with torch.no_grad():
        xt = normalize(test_x)
        out = model(xt)
        assert isinstance(out, torch.Tensor)
        test_loss = F.cross_entropy(out, test_y).item()
        test_acc = (out.argmax(1) == test_y).float().mean().item()
        model.aux1 = model.aux2 = None
        model.aux_logits = False
        same = torch.equal(model(xt).argmax(1), out.argmax(1))
    print(f"googlenet test loss {test_loss:.4f} acc {test_acc:.3f}; lr {scheduler.get_last_lr()}")

    inception = models.inception_v3(weights=None, aux_logits=False, init_weights=False,
                                    num_classes=NUM_CLASSES)
    opt = torch.optim.Adam(inception.parameters(), lr=1e-3)
    small_x = F.interpolate(normalize(train_x[:8]), size=(75, 75), mode="bilinear",
                            align_corners=False, antialias=True)
    inception.train()
    for step in range(3):
        out = inception(small_x)
        assert isinstance(out, torch.Tensor)
        inc_loss = criterion(out, train_y[:8])
        opt.zero_grad()
        inc_loss.backward()
        opt.step()
    inception.eval()
    with torch.no_grad():
        eval_out = inception(small_x)
    print(f"inception loss {inc_loss.item():.4f}, eval output {tuple(eval_out.shape)}")
    print("OUTCOME " + json.dumps({
        "test_loss": test_loss, "test_acc": test_acc, "last_loss": loss.item(),
        "aux_free_same": same, "inception_eval_shape_ok": tuple(eval_out.shape) == (8, 4),
        "inception_loss": inc_loss.item()}))


if __name__ == "__main__":
    main()

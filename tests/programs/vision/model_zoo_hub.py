"""Picking an architecture through torchvision's model registry, the way the "Models and
pre-trained weights" docs show it: models.list_models() (all, per module, include / exclude
patterns), models.get_model_weights(name) and its DEFAULT entry, weights.meta["num_params"]
checked against the parameters of the 1000-class model, models.get_weight("...Weights.X"), the
weights' inference transforms (weights.transforms()) applied to a uint8 image, then
get_model(name, weights=None, num_classes=...) for several small ImageNet architectures
(ShuffleNetV2, MNASNet, SqueezeNet, RegNetY, DenseNet, GoogLeNet without aux heads) trained
for a few steps each with AdamW on the same generated batches."""
import argparse
import json

import torch
import torch.nn.functional as F
import torchvision
from torchvision import models

ARCHS = ["shufflenet_v2_x0_5", "mnasnet0_5", "squeezenet1_1", "regnet_y_400mf",
         "densenet121", "googlenet"]


def make_batches(n_batches, batch_size, num_classes, size, seed):
    """Stripes whose orientation / frequency give the class, plus noise."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float32),
                            torch.arange(size, dtype=torch.float32), indexing="ij")
    batches = []
    for _ in range(n_batches):
        labels = torch.randint(0, num_classes, (batch_size,), generator=g)
        angle = labels.float() * (3.14159 / num_classes)
        freq = 0.35 + 0.1 * (labels % 2).float()
        phase = torch.rand(batch_size, generator=g) * 6.28
        proj = (torch.cos(angle)[:, None, None] * xx + torch.sin(angle)[:, None, None] * yy)
        img = torch.sin(freq[:, None, None] * proj + phase[:, None, None])
        img = img[:, None].expand(-1, 3, -1, -1).clone()
        img[:, 1] *= 0.5
        img += 0.3 * torch.randn(img.shape, generator=g)
        batches.append((img, labels))
    return batches


def extra_kwargs(name):
    # the released GoogLeNet weights have no auxiliary heads
    return {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}


def train_briefly(name, batches, num_classes, steps, lr):
    model = models.get_model(name, weights=None, num_classes=num_classes, **extra_kwargs(name))
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    model.train()
    losses, correct, seen = [], 0, 0
    for step in range(steps):
        x, y = batches[step % len(batches)]
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step >= steps // 2:   # the second half: running means of the training loss
            losses.append(loss.item())
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
    return n_params, sum(losses) / len(losses), correct / seen


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    all_models = models.list_models()
    classification = models.list_models(module=torchvision.models)
    segmentation = models.list_models(module=torchvision.models.segmentation)
    resnets = models.list_models(include="resnet*")
    small = models.list_models(include=["mobilenet*", "shufflenet*"], exclude="*x2_0")
    assert set(segmentation) <= set(all_models) and set(classification) <= set(all_models)
    assert "resnet18" in resnets and "resnext50_32x4d" not in resnets
    print(f"{len(all_models)} models, {len(classification)} classifiers, resnets {resnets}")
    print("small:", small)

    # the metadata of the weights, without downloading them
    weights_enum = models.get_model_weights("shufflenet_v2_x0_5")
    default = weights_enum.DEFAULT
    assert default is weights_enum.IMAGENET1K_V1
    assert models.get_weight("ShuffleNet_V2_X0_5_Weights.IMAGENET1K_V1") is default
    assert models.get_model_weights(models.shufflenet_v2_x0_5) is weights_enum
    meta_counts = {}
    for name in ARCHS:
        weights = models.get_model_weights(name).DEFAULT
        full = models.get_model(name, weights=None, **extra_kwargs(name))
        count = sum(p.numel() for p in full.parameters())
        assert count == weights.meta["num_params"], (name, count, weights.meta["num_params"])
        meta_counts[name] = count
    print("num_params:", meta_counts)

    # the inference preset of the weights on a uint8 image (resize, centre crop, normalise)
    preprocess = models.RegNet_Y_400MF_Weights.IMAGENET1K_V2.transforms()
    image = (torch.arange(3 * 300 * 280) % 251).to(torch.uint8).reshape(3, 300, 280)
    batch = preprocess(image).unsqueeze(0)
    print("preset:", tuple(batch.shape), round(batch.mean().item(), 5))
    preset_checksum = batch.abs().sum().item()

    num_classes = 4
    batches = make_batches(4, 16, num_classes, 48, args.seed)
    results = {}
    for name in ARCHS:
        n_params, loss, acc = train_briefly(name, batches, num_classes, args.steps, 1e-3)
        results[name] = (n_params, loss, acc)
        print(f"{name:20s} params {n_params:9d} train loss {loss:.4f} acc {acc:.3f}")

    outcome = {"num_classifiers": len(classification), "preset_checksum": preset_checksum,
               "total_small_params": sum(r[0] for r in results.values())}
    for name, (_, loss, acc) in results.items():
        outcome[name + "_loss"] = loss
    outcome["mean_acc"] = sum(r[2] for r in results.values()) / len(results)
    print("OUTCOME " + json.dumps(outcome))


if __name__ == "__main__":
    main()

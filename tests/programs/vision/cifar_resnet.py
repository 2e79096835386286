"""CIFAR-10 with torchvision's ResNet-18 (the "training a classifier" tutorial with the usual
augmentation: random crop with padding, horizontal flip, normalisation). The python batches
are generated offline in the official pickle format; they are not the official files, so the
dataset class is pointed at their checksums (torchvision verifies md5 for CIFAR)."""
import hashlib
import json
import os
import pickle

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
import torchvision
import torchvision.transforms as transforms


def make_cifar(root, per_batch=24, seed=2):
    rs = np.random.RandomState(seed)
    folder = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(folder, exist_ok=True)
    tints = rs.uniform(40, 215, (10, 3))
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        labels = rs.randint(0, 10, per_batch)
        base = tints[labels][:, :, None, None] + rs.normal(0, 50, (per_batch, 3, 32, 32))
        data = np.clip(base, 0, 255).astype(np.uint8).reshape(per_batch, 3072)
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump({"batch_label": name, "data": data, "labels": labels.tolist(),
                         "filenames": [f"{i}.png" for i in range(per_batch)]}, f, protocol=2)
    with open(os.path.join(folder, "batches.meta"), "wb") as f:
        pickle.dump({"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog",
                                     "frog", "horse", "ship", "truck"]}, f, protocol=2)
    md5 = lambda n: hashlib.md5(open(os.path.join(folder, n), "rb").read()).hexdigest()  # noqa
    C = torchvision.datasets.CIFAR10
    C.train_list = [[n, md5(n)] for n in names[:5]]
    C.test_list = [["test_batch", md5("test_batch")]]
    C.meta = dict(C.meta, md5=md5("batches.meta"))


def main():
    torch.manual_seed(2)
    make_cifar("data")
    normalize = transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
    transform_train = transforms.Compose([transforms.RandomCrop(32, padding=4),
                                          transforms.RandomHorizontalFlip(),
                                          transforms.ToTensor(), normalize])
    transform_test = transforms.Compose([transforms.ToTensor(), normalize])
    trainset = torchvision.datasets.CIFAR10(root="data", train=True, download=True,
                                            transform=transform_train)
    testset = torchvision.datasets.CIFAR10(root="data", train=False, download=True,
                                           transform=transform_test)
    trainloader = torch.utils.data.DataLoader(trainset, batch_size=24, shuffle=True)
    testloader = torch.utils.data.DataLoader(testset, batch_size=24, shuffle=False)
    net = torchvision.models.resnet18(num_classes=10)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    for epoch in range(4):
        net.train()
        running = 0.0
        for i, (inputs, labels) in enumerate(trainloader):
            optimizer.zero_grad()
            loss = criterion(net(inputs), labels)
            loss.backward()
            optimizer.step()
            running += loss.item()
        print(f"[{epoch + 1}] loss: {running / (i + 1):.3f}")
    net.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in testloader:
            _, predicted = torch.max(net(images), 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    print(f"Accuracy of the network on the {total} test images: {100 * correct // total} %")
    print("OUTCOME " + json.dumps({"accuracy": correct / total,
                                   "last_epoch_loss": running / (i + 1)}))


if __name__ == "__main__":
    main()

"""Adversarial example generation (the FGSM tutorial): a LeNet-style classifier trained on
synthetic glyphs, then attacked: data.requires_grad = True, F.nll_loss, model.zero_grad(),
data.grad.data, fgsm_attack(image, epsilon, data_grad) with sign() and torch.clamp, a
denorm/renormalise step with transforms-style mean/std, accuracy per epsilon, and
adversarial examples collected with .squeeze().detach().cpu().numpy()."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.utils.data import DataLoader, TensorDataset

epsilons = [0, .1, .2, .3]
torch.manual_seed(42)
use_cuda = torch.cuda.is_available()
device = torch.device("cuda" if use_cuda else "cpu")
print("CUDA Available: ", use_cuda)


def glyphs(n, rng):
    y = rng.integers(0, 10, n)
    x = rng.normal(0, 0.15, (n, 1, 28, 28)).astype(np.float32) + 0.2
    for i, k in enumerate(y):
        x[i, 0, 4 + 2 * k:7 + 2 * k, 5:23] += 0.7
        x[i, 0, 5:23, 4 + (9 - k) * 2:6 + (9 - k) * 2] += 0.5
    return torch.from_numpy(np.clip(x, 0, 1)), torch.from_numpy(y)


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


def fgsm_attack(image, epsilon, data_grad):
    sign_data_grad = data_grad.sign()
    perturbed_image = image + epsilon * sign_data_grad
    perturbed_image = torch.clamp(perturbed_image, 0, 1)
    return perturbed_image


def denorm(batch, mean=[0.1307], std=[0.3081]):
    if isinstance(mean, list):
        mean = torch.tensor(mean).to(device)
    if isinstance(std, list):
        std = torch.tensor(std).to(device)
    return batch * std.view(1, -1, 1, 1) + mean.view(1, -1, 1, 1)


def test(model, device, test_loader, epsilon):
    correct = 0
    adv_examples = []
    for data, target in test_loader:
        data, target = data.to(device), target.to(device)
        data.requires_grad = True
        output = model(data)
        init_pred = output.max(1, keepdim=True)[1]
        if init_pred.item() != target.item():
            continue
        loss = F.nll_loss(output, target)
        model.zero_grad()
        loss.backward()
        data_grad = data.grad.data
        data_denorm = denorm(data)
        perturbed_data = fgsm_attack(data_denorm, epsilon, data_grad)
        perturbed_data_normalized = (perturbed_data - 0.1307) / 0.3081
        output = model(perturbed_data_normalized)
        final_pred = output.max(1, keepdim=True)[1]
        if final_pred.item() == target.item():
            correct += 1
            if epsilon == 0 and len(adv_examples) < 5:
                adv_ex = perturbed_data.squeeze().detach().cpu().numpy()
                adv_examples.append((init_pred.item(), final_pred.item(), adv_ex))
        else:
            if len(adv_examples) < 5:
                adv_ex = perturbed_data.squeeze().detach().cpu().numpy()
                adv_examples.append((init_pred.item(), final_pred.item(), adv_ex))
    final_acc = correct / float(len(test_loader))
    print(f"Epsilon: {epsilon}\tTest Accuracy = {correct} / {len(test_loader)} = {final_acc}")
    return final_acc, adv_examples


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    xtr, ytr = glyphs(1200, rng)
    xte, yte = glyphs(80, rng)
    norm = lambda x: (x - 0.1307) / 0.3081
    train_loader = DataLoader(TensorDataset(norm(xtr), ytr), batch_size=64, shuffle=True)
    test_loader = DataLoader(TensorDataset(norm(xte), yte), batch_size=1, shuffle=True)
    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    for epoch in range(2):
        model.train()
        for data, target in train_loader:
            optimizer.zero_grad()
            loss = F.nll_loss(model(data.to(device)), target.to(device))
            loss.backward()
            optimizer.step()
        print("epoch", epoch, loss.item())
    model.eval()
    accuracies = []
    examples = []
    for eps in epsilons:
        acc, ex = test(model, device, test_loader, eps)
        accuracies.append(acc)
        examples.append(ex)
    print("shapes", [e[0][2].shape for e in examples if e])
    print(f"clean_acc {accuracies[0]:.4f}")
    print(f"final_acc {np.mean(accuracies):.4f}")

# PyTorch "quickstart"-style program (synthetic data instead of a download), unmodified torch API.
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
device = "cuda" if torch.cuda.is_available() else "cpu"
X = torch.randn(512, 1, 8, 8)
y = (X[:, 0, 1, 1] > 0).long() + 2 * (X[:, 0, 0, 0] > 0).long()
train = DataLoader(TensorDataset(X[:384], y[:384]), batch_size=32, shuffle=True)
test = DataLoader(TensorDataset(X[384:], y[384:]), batch_size=64)


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 4))

    def forward(self, x):
        return self.linear_relu_stack(self.flatten(x))


model = NeuralNetwork().to(device)
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)


def train_loop(dataloader, model, loss_fn, optimizer):
    model.train()
    for batch, (Xb, yb) in enumerate(dataloader):
        Xb, yb = Xb.to(device), yb.to(device)
        loss = loss_fn(model(Xb), yb)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()


def test_loop(dataloader, model, loss_fn):
    model.eval()
    size, num_batches = len(dataloader.dataset), len(dataloader)
    test_loss, correct = 0, 0
    with torch.no_grad():
        for Xb, yb in dataloader:
            pred = model(Xb)
            test_loss += loss_fn(pred, yb).item()
            correct += (pred.argmax(1) == yb).type(torch.float).sum().item()
    return test_loss / num_batches, correct / size


for t in range(25):
    train_loop(train, model, loss_fn, optimizer)
loss, acc = test_loop(test, model, loss_fn)
print(f"Test Error: Accuracy: {(100 * acc):>0.1f}%, Avg loss: {loss:>8f}")
print(f"final_acc {acc:.4f}")
torch.save(model.state_dict(), "model.pth")
model2 = NeuralNetwork()
model2.load_state_dict(torch.load("model.pth", weights_only=True))
model2.eval()
with torch.no_grad():
    same = torch.equal(model2(X[384:]), model(X[384:]))
print("reloaded identical:", same)
assert acc > 0.7 and same

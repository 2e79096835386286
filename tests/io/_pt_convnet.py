"""A small ResNet-like convolutional model written against a ``torch``-like module, so the same
definition builds a PyTorch model (in record_torch_fixtures.py) and a Cadenza model (in
test_io_torch_format.py)."""


def build(torch):
    nn = torch.nn
    F = torch.nn.functional

    class Block(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(c)
            self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(c)

        def forward(self, x):
            y = F.relu(self.bn1(self.conv1(x)))
            return F.relu(x + self.bn2(self.conv2(y)))

    class TinyResNet(nn.Module):
        def __init__(self, classes=5):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(8)
            self.layer1 = nn.Sequential(Block(8))
            self.fc = nn.Linear(8, classes)

        def forward(self, x):
            x = F.relu(self.bn1(self.conv1(x)))
            x = self.layer1(x)
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    return TinyResNet

"""Knowledge distillation (the PyTorch KD tutorial's recipe): a larger teacher trained first,
then a small student trained on soft targets (KLDivLoss on temperature-scaled log-softmax,
T^2 factor) plus hard-label cross-entropy; the student is compared with one trained alone."""
import argparse

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

device = "cuda" if torch.cuda.is_available() else "cpu"


class Teacher(nn.Module):
    def __init__(self, num_classes=6):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(20, 128), nn.ReLU(), nn.Dropout(0.1),
                                      nn.Linear(128, 128), nn.ReLU())
        self.classifier = nn.Linear(128, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x))


class Student(nn.Module):
    def __init__(self, num_classes=6):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, num_classes))

    def forward(self, x):
        return self.net(x)


def train(model, loader, epochs, learning_rate):
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    model.train()
    for epoch in range(epochs):
        for inputs, labels in loader:
            inputs, labels = inputs.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = criterion(model(inputs), labels)
            loss.backward()
            optimizer.step()


def train_knowledge_distillation(teacher, student, loader, epochs, learning_rate, T,
                                 soft_target_loss_weight, ce_loss_weight):
    ce_loss = nn.CrossEntropyLoss()
    kl = nn.KLDivLoss(reduction="batchmean")
    optimizer = torch.optim.Adam(student.parameters(), lr=learning_rate)
    teacher.eval()
    student.train()
    for epoch in range(epochs):
        running_loss = 0.0
        for inputs, labels in loader:
            inputs, labels = inputs.to(device), labels.to(device)
            optimizer.zero_grad()
            with torch.no_grad():
                teacher_logits = teacher(inputs)
            student_logits = student(inputs)
            soft_targets = nn.functional.softmax(teacher_logits / T, dim=-1)
            soft_prob = nn.functional.log_softmax(student_logits / T, dim=-1)
            soft_targets_loss = kl(soft_prob, soft_targets) * (T ** 2)
            label_loss = ce_loss(student_logits, labels)
            loss = soft_target_loss_weight * soft_targets_loss + ce_loss_weight * label_loss
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
        print(f"Epoch {epoch + 1}/{epochs}, Loss: {running_loss / len(loader)}")


def test(model, X, y):
    model.eval()
    with torch.no_grad():
        return (model(X.to(device)).argmax(1) == y.to(device)).float().mean().item()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    torch.manual_seed(42)
    rng = np.random.default_rng(42)  # the data set is the same under every RNG stream
    centers = rng.normal(size=(6, 20)) * 1.2
    lab_np = rng.integers(0, 6, 3000)
    X_np = centers[lab_np] + rng.normal(size=(3000, 20))
    X = torch.tensor(X_np + 0.5 * np.sin(3 * X_np), dtype=torch.float32)
    lab = torch.from_numpy(lab_np)
    train_loader = DataLoader(TensorDataset(X[:1000], lab[:1000]), batch_size=64, shuffle=True)
    teacher = Teacher().to(device)
    train(teacher, train_loader, epochs=args.epochs, learning_rate=1e-3)
    torch.manual_seed(0)
    student = Student().to(device)
    baseline = Student().to(device)
    baseline.load_state_dict(student.state_dict())
    train(baseline, train_loader, epochs=args.epochs, learning_rate=3e-3)
    train_knowledge_distillation(teacher=teacher, student=student, loader=train_loader,
                                 epochs=args.epochs, learning_rate=3e-3, T=2,
                                 soft_target_loss_weight=0.25, ce_loss_weight=0.75)
    t_acc = test(teacher, X[1000:], lab[1000:])
    s_acc = test(student, X[1000:], lab[1000:])
    b_acc = test(baseline, X[1000:], lab[1000:])
    print(f"Teacher accuracy: {t_acc:.4f}  Student (KD) accuracy: {s_acc:.4f}  "
          f"Student alone: {b_acc:.4f}")
    print(f"final_acc {s_acc:.4f}")

"""torch.profiler around a few training steps: profile(activities=[ProfilerActivity.CPU],
record_shapes=True) with record_function labels and a schedule, key_averages().table(),
export_chrome_trace; training continues afterwards without the profiler."""
import json
import os

import torch
import torch.nn as nn
from torch.profiler import ProfilerActivity, profile, record_function, schedule


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(24, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                                 nn.Linear(64, 2))

    def forward(self, x):
        with record_function("model_forward"):
            return self.net(x)


if __name__ == "__main__":
    torch.manual_seed(0)
    X = torch.randn(1024, 24)
    y = ((X[:, 0] * X[:, 1] + X[:, 2]) > 0).long()
    model = Model()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step(i):
        idx = torch.randint(0, 896, (64,))
        with record_function("loss_and_backward"):
            loss = loss_fn(model(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
        opt.step()
        return loss

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        with record_function("model_inference"):
            model(X[:64])
    table = prof.key_averages().table(sort_by="cpu_time_total", row_limit=10)
    print(table)
    assert "model_inference" in table

    traces = []
    with profile(activities=[ProfilerActivity.CPU],
                 schedule=schedule(wait=1, warmup=1, active=2, repeat=1),
                 on_trace_ready=lambda p: traces.append(len(p.key_averages()))) as prof:
        for i in range(6):
            step(i)
            prof.step()
    assert traces, "on_trace_ready was not called"
    prof.export_chrome_trace("trace.json")
    with open("trace.json") as f:
        trace = json.load(f)
    assert "traceEvents" in trace and os.path.getsize("trace.json") > 0

    for i in range(400):
        loss = step(i)
    with torch.no_grad():
        acc = (model(X[896:]).argmax(1) == y[896:]).float().mean().item()
    print("loss", round(loss.item(), 4))
    print(f"final_acc {acc:.4f}")

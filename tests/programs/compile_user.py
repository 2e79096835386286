"""torch.compile in a user script, the way the PyTorch 2 tutorials use it: compiling a model
(`torch.compile(model)`), a free function with a decorator (`@torch.compile`), mode= and
fullgraph= / dynamic= arguments, a graph break (a print and .item() inside the function),
torch._dynamo.reset(), changing batch sizes, the compiled module's state_dict (keys with
`_orig_mod.` prefix) saved and loaded into an uncompiled model, and a train loop where
compiled and eager models see the same data and must agree."""
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 64)
        self.ln = nn.LayerNorm(64)
        self.fc2 = nn.Linear(64, 64)
        self.fc3 = nn.Linear(64, 3)
        self.drop = nn.Dropout(0.0)

    def forward(self, x):
        x = F.gelu(self.ln(self.fc1(x)))
        x = x + torch.tanh(self.fc2(self.drop(x)))
        return self.fc3(x)


@torch.compile
def new_gelu(x):
    return 0.5 * x * (1.0 + torch.tanh(0.7978845608 * (x + 0.044715 * torch.pow(x, 3.0))))


def with_break(x):
    y = torch.sin(x) ** 2
    if y.sum().item() > 0:       # data-dependent branch: a graph break under dynamo
        y = y + torch.cos(x) ** 2
    return y


def make_data(n, seed):
    w = torch.randn(16, 3, generator=torch.Generator().manual_seed(1234))
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 16, generator=g)
    y = (X @ w + 0.3 * torch.randn(n, 3, generator=g)).argmax(1)
    return X, y


def main():
    torch.manual_seed(0)
    x = torch.randn(64, 8)
    ref = F.gelu(x, approximate="tanh")
    print("compiled new_gelu matches F.gelu(tanh):", torch.allclose(new_gelu(x), ref, atol=1e-5))
    opt_fn = torch.compile(with_break)
    print("graph break function:", torch.allclose(opt_fn(x), torch.ones_like(x), atol=1e-6))
    fn_full = torch.compile(lambda a, b: (a @ b).relu().sum(dim=-1), fullgraph=True, dynamic=True)
    for n in (4, 7, 9):
        a, b = torch.randn(n, 5), torch.randn(5, 6)
        assert torch.allclose(fn_full(a, b), (a @ b).relu().sum(dim=-1), atol=1e-5)
    torch._dynamo.reset()

    X, y = make_data(2048, 0)
    Xte, yte = make_data(512, 1)
    model = MLP()
    eager = MLP()
    eager.load_state_dict(model.state_dict())
    compiled = torch.compile(model, mode="reduce-overhead")
    opt_c = torch.optim.AdamW(compiled.parameters(), lr=3e-3)
    opt_e = torch.optim.AdamW(eager.parameters(), lr=3e-3)
    max_diff = 0.0
    t0 = time.perf_counter()
    for epoch in range(6):
        perm = torch.randperm(len(X))
        for i in range(0, len(X), 128):
            idx = perm[i:i + 128]
            xb, yb = X[idx], y[idx]
            for net, opt in ((compiled, opt_c), (eager, opt_e)):
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(net(xb), yb)
                loss.backward()
                opt.step()
                if net is compiled:
                    loss_c = loss.item()
                else:
                    max_diff = max(max_diff, abs(loss_c - loss.item()))
        print(f"epoch {epoch}: loss {loss_c:.4f} (eager {loss.item():.4f})")
    print(f"compiled vs eager: max loss difference {max_diff:.2e}, "
          f"{time.perf_counter() - t0 > 0}")
    assert max_diff < 1e-3, max_diff
    compiled.eval()
    with torch.no_grad():
        for bs in (512, 100, 1):   # new batch sizes: recompiles or dynamic shapes
            out = compiled(Xte[:bs])
            assert out.shape == (bs, 3)
        acc = (compiled(Xte).argmax(1) == yte).float().mean().item()
    sd = {k.replace("_orig_mod.", ""): v for k, v in compiled.state_dict().items()}
    print("compiled state_dict keys:", list(sd)[:2])
    torch.save(model.state_dict(), "mlp.pt")
    fresh = MLP()
    fresh.load_state_dict(torch.load("mlp.pt"))
    fresh.eval()
    with torch.no_grad():
        same = torch.allclose(fresh(Xte), compiled(Xte), atol=1e-5)
    print(f"reloaded eager model matches the compiled one: {same}")
    assert same
    print(f"final_acc {acc:.4f}")


if __name__ == "__main__":
    main()

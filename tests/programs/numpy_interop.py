"""NumPy-heavy workflow: data built and preprocessed in NumPy (float64, int32, strided slices,
read-only and Fortran-ordered arrays, np.float32 scalars), moved with torch.from_numpy /
torch.as_tensor / torch.tensor, results brought back with .numpy() / .detach().cpu().numpy() /
.item() / .tolist(), metrics computed in NumPy; k-means in torch seeded from NumPy, and a
polynomial least-squares fit compared with np.linalg.lstsq."""
import numpy as np
import torch
import torch.nn as nn


def standardize(a):
    return (a - a.mean(axis=0)) / a.std(axis=0)


if __name__ == "__main__":
    rng = np.random.RandomState(0)
    torch.manual_seed(0)

    # 1. polynomial regression: torch fit vs numpy closed form
    x = np.linspace(-1, 1, 200)
    y = 0.5 - 2 * x + 3 * x ** 3 + 0.05 * rng.randn(200)
    V = np.vander(x, 4, increasing=True)  # float64, C-contiguous
    coef_np, *_ = np.linalg.lstsq(V, y, rcond=None)
    Vt = torch.from_numpy(V)
    yt = torch.from_numpy(y)
    w = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([w], lr=0.05)
    for _ in range(600):
        opt.zero_grad()
        loss = ((Vt @ w - yt) ** 2).mean()
        loss.backward()
        opt.step()
    coef_t = w.detach().numpy()
    assert coef_t.dtype == np.float64
    print("coef torch", np.round(coef_t, 3), "numpy", np.round(coef_np, 3))

    # 2. classification with numpy-side preprocessing and metrics
    X = rng.randn(600, 5).astype(np.float64)
    X[:, 2] *= 100.0
    labels = ((X[:, 0] + X[:, 2] / 100.0 - X[:, 4]) > 0).astype(np.int32)
    Xs = standardize(X)[:, ::-1]  # negative-stride view
    Xs.flags.writeable = False if Xs.base is None else Xs.flags.writeable
    Xf = np.asfortranarray(Xs)
    Xt = torch.as_tensor(np.ascontiguousarray(Xf), dtype=torch.float32)
    yt = torch.tensor(labels, dtype=torch.long)
    ro = np.array(Xt.numpy())
    ro.setflags(write=False)
    assert torch.equal(torch.as_tensor(ro), Xt)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 2))
    optim = torch.optim.SGD(model.parameters(), lr=np.float32(0.2).item())
    for epoch in range(150):
        optim.zero_grad()
        l = nn.functional.cross_entropy(model(Xt[:450]), yt[:450])
        l.backward()
        optim.step()
    with torch.no_grad():
        probs = torch.softmax(model(Xt[450:]), dim=1).detach().cpu().numpy()
    pred = probs.argmax(axis=1)
    acc = float(np.mean(pred == labels[450:]))
    tp = int(np.sum((pred == 1) & (labels[450:] == 1)))
    print("accuracy", acc, "true positives", tp, "probs dtype", probs.dtype)

    # 3. k-means in torch, initialised from numpy indices
    pts = np.concatenate([rng.randn(100, 2) + c for c in ([0, 0], [5, 5], [0, 6])])
    P = torch.from_numpy(pts).float()
    init = rng.choice(len(pts), 3, replace=False)
    C = P[torch.from_numpy(init)]
    for _ in range(10):
        assign = torch.cdist(P, C).argmin(dim=1)
        C = torch.stack([P[assign == k].mean(0) for k in range(3)])
    inertia = ((P - C[assign]) ** 2).sum().item()
    sizes = np.bincount(assign.numpy(), minlength=3)
    print("cluster sizes", sorted(sizes.tolist()), "inertia", round(inertia, 2))
    print(f"final_loss {loss.item():.6f}")
    print(f"final_acc {acc:.4f}")

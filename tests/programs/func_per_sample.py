"""torch.func the way its tutorials use it: per-sample gradients with functional_call + grad
+ vmap(in_dims=(None, None, 0, 0)) checked against a loop of ordinary backward passes,
per-sample gradient norms for DP-SGD-style clipping (clip, add noise, average, apply by hand
under torch.no_grad), model ensembling with stack_module_state + vmap over a copy of one
model (the tutorial moves that copy to the meta device, which Cadenza lacks), and jacrev /
hessian of a small function."""
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call, grad, hessian, jacrev, stack_module_state, vmap


class SimpleMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 32)
        self.fc2 = nn.Linear(32, 3)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


def make_data(n, seed):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(10, 3, generator=torch.Generator().manual_seed(99))
    x = torch.randn(n, 10, generator=g)
    return x, (x @ w).argmax(1)


def main():
    torch.manual_seed(0)
    model = SimpleMLP()
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def compute_loss(params, buffers, sample, target):
        batch = sample.unsqueeze(0)
        targets = target.unsqueeze(0)
        predictions = functional_call(model, (params, buffers), (batch,))
        return F.cross_entropy(predictions, targets)

    ft_compute_grad = grad(compute_loss)
    ft_compute_sample_grad = vmap(ft_compute_grad, in_dims=(None, None, 0, 0))
    x, y = make_data(64, 0)
    ft_per_sample_grads = ft_compute_sample_grad(params, buffers, x[:8], y[:8])
    for i in range(8):
        model.zero_grad()
        F.cross_entropy(model(x[i:i + 1]), y[i:i + 1]).backward()
        for name, p in model.named_parameters():
            assert torch.allclose(ft_per_sample_grads[name][i], p.grad, atol=3e-6, rtol=1e-5), name
    print("per-sample grads match the loop:",
          {k: tuple(v.shape) for k, v in ft_per_sample_grads.items()})

    # DP-SGD style training: clip each example's gradient, add noise, average
    X, Y = make_data(1024, 1)
    Xte, Yte = make_data(512, 2)
    max_norm, noise_mult, lr = 1.0, 0.3, 0.5
    g = torch.Generator().manual_seed(3)
    for epoch in range(8):
        perm = torch.randperm(len(X))
        for i in range(0, len(X), 64):
            idx = perm[i:i + 64]
            params = {k: v.detach() for k, v in model.named_parameters()}
            grads = ft_compute_sample_grad(params, buffers, X[idx], Y[idx])
            norms = torch.stack([gr.flatten(1).norm(dim=1) for gr in grads.values()]).norm(dim=0)
            factor = (max_norm / (norms + 1e-6)).clamp(max=1.0)
            with torch.no_grad():
                for name, p in model.named_parameters():
                    clipped = (grads[name] * factor.view(-1, *[1] * (grads[name].dim() - 1))).sum(0)
                    noise = torch.randn(p.shape, generator=g) * noise_mult * max_norm
                    p -= lr * (clipped + noise) / len(idx)
        with torch.no_grad():
            acc = (model(Xte).argmax(1) == Yte).float().mean().item()
        print(f"epoch {epoch}: mean per-sample grad norm {norms.mean():.3f}, test acc {acc:.3f}")

    # ensembling: stack the weights of several models and vmap one functional model over them
    models = [SimpleMLP() for _ in range(4)]
    for m in models:
        m.load_state_dict(model.state_dict())
        with torch.no_grad():
            for p in m.parameters():
                p.add_(torch.randn_like(p) * 0.01)
    ens_params, ens_buffers = stack_module_state(models)
    base_model = copy.deepcopy(models[0])

    def fmodel(params, buffers, x):
        return functional_call(base_model, (params, buffers), (x,))

    preds = vmap(fmodel, in_dims=(0, 0, None))(ens_params, ens_buffers, Xte)
    loop = torch.stack([m(Xte) for m in models])
    assert torch.allclose(preds, loop, atol=1e-5), (preds - loop).abs().max()
    ens_acc = (preds.softmax(-1).mean(0).argmax(1) == Yte).float().mean().item()
    print(f"ensemble of {preds.shape[0]}: predictions {tuple(preds.shape)}, acc {ens_acc:.3f}")

    f = lambda v: (v.sin() * v.pow(2)).sum()
    v = torch.tensor([0.5, -1.0, 2.0])
    print("jacrev", jacrev(f)(v), "hessian diag", torch.diagonal(hessian(f)(v)))
    print(f"final_acc {ens_acc:.4f}")


if __name__ == "__main__":
    main()

"""LoRA fine-tuning the way loralib / PEFT-from-scratch blog posts write it: pretrain a small
transformer text classifier on task A, then freeze it and inject `LoRALinear` wrappers in place
of chosen `nn.Linear` submodules (found by `named_modules()`, swapped with `setattr` on the
parent from `get_submodule`), lora_A initialised by `nn.init.kaiming_uniform_(a=math.sqrt(5))`
and lora_B by zeros, `scaling = alpha / r`, LoRA dropout, `requires_grad_(False)` on the rest and
`mark_only_lora_as_trainable`, a trainable-parameter count, an adapter-only `state_dict`
filtered by name saved with `torch.save` into a `tempfile.TemporaryDirectory()` and loaded into a
fresh model with `load_state_dict(strict=False)` (missing/unexpected keys checked), then merging
`W + B @ A * scaling` into the base weight and checking the merged model against the adapter
model with `torch.allclose`. The metric is the merged model's accuracy on task B."""
import argparse
import math
import os
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F


class LoRALinear(nn.Module):
    def __init__(self, base: nn.Linear, r=4, alpha=8, dropout=0.05):
        super().__init__()
        self.base = base
        self.r = r
        self.scaling = alpha / r
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))
        self.lora_dropout = nn.Dropout(dropout)
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.merged = False

    def forward(self, x):
        out = self.base(x)
        if not self.merged:
            out = out + (self.lora_dropout(x) @ self.lora_A.T @ self.lora_B.T) * self.scaling
        return out

    @torch.no_grad()
    def merge(self):
        self.base.weight += (self.lora_B @ self.lora_A) * self.scaling
        self.merged = True


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.q_proj = nn.Linear(d, d)
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.o_proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))

    def forward(self, x):
        B, T, C = x.shape
        h = self.ln1(x)
        q, k, v = (proj(h).view(B, T, self.heads, C // self.heads).transpose(1, 2)
                   for proj in (self.q_proj, self.k_proj, self.v_proj))
        att = F.scaled_dot_product_attention(q, k, v)
        x = x + self.o_proj(att.transpose(1, 2).reshape(B, T, C))
        return x + self.mlp(self.ln2(x))


class Classifier(nn.Module):
    def __init__(self, vocab, d=48, heads=4, layers=2, n_cls=2, max_len=16):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(1, max_len, d) * 0.02)
        self.blocks = nn.ModuleList([Block(d, heads) for _ in range(layers)])
        self.head = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, n_cls))

    def forward(self, x):
        h = self.tok(x) + self.pos[:, : x.size(1)]
        for block in self.blocks:
            h = block(h)
        return self.head(h.mean(1))


def inject_lora(model, target_names=("q_proj", "v_proj"), r=4, alpha=8):
    names = [n for n, m in model.named_modules()
             if isinstance(m, nn.Linear) and n.split(".")[-1] in target_names]
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, child, LoRALinear(getattr(parent, child), r=r, alpha=alpha))
    return names


def mark_only_lora_as_trainable(model):
    for n, p in model.named_parameters():
        p.requires_grad_("lora_" in n)


def make_task(gen, n, vocab, length, rule):
    x = torch.randint(1, vocab, (n, length), generator=gen)
    if rule == "A":     # does token 1..4 appear more than tokens 5..8?
        y = ((x <= 4).sum(1) > ((x > 4) & (x <= 8)).sum(1)).long()
    else:               # task B: are there more tokens 1..6 than tokens 7..11?
        small = torch.where(x <= 6, torch.ones_like(x), torch.zeros_like(x))
        y = (small.sum(1) > length // 2).long()
    return x, y


def train(model, x, y, params, steps, lr, bs=64):
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    model.train()
    for step in range(steps):
        idx = torch.randint(0, x.size(0), (bs,))
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


@torch.no_grad()
def accuracy(model, x, y):
    model.eval()
    return (model(x).argmax(-1) == y).float().mean().item()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(7)
    vocab, length = 12, 12
    xa, ya = make_task(gen, 1200, vocab, length, "A")
    xb, yb = make_task(gen, 1200, vocab, length, "B")

    model = Classifier(vocab)
    train(model, xa[:1000], ya[:1000], model.parameters(), args.steps, 3e-3)
    print(f"pretrained: task A acc {accuracy(model, xa[1000:], ya[1000:]):.3f}, "
          f"task B acc {accuracy(model, xb[1000:], yb[1000:]):.3f}")

    names = inject_lora(model)
    mark_only_lora_as_trainable(model)
    model.head[1].weight.requires_grad_(True)   # a fresh-task head, as PEFT's modules_to_save
    model.head[1].bias.requires_grad_(True)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    print(f"lora on {len(names)} layers: {trainable} / {total} trainable "
          f"({100 * trainable / total:.1f}%)")
    frozen_before = model.blocks[0].k_proj.weight.clone()
    train(model, xb[:1000], yb[:1000], [p for p in model.parameters() if p.requires_grad],
          args.steps, 5e-3)
    assert torch.equal(frozen_before, model.blocks[0].k_proj.weight)
    acc_lora = accuracy(model, xb[1000:], yb[1000:])

    # save only the adapters (+ head) and load them into a second copy of the base model
    adapter = {k: v for k, v in model.state_dict().items()
               if "lora_" in k or k.startswith("head.1")}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "adapter.pt")
        torch.save(adapter, path)
        print("adapter file bytes > 0:", os.path.getsize(path) > 0, "tensors:", len(adapter))
        fresh = Classifier(vocab)
        inject_lora(fresh)
        base_sd = {k: v for k, v in model.state_dict().items() if k not in adapter}
        missing, unexpected = fresh.load_state_dict(base_sd, strict=False)
        assert all("lora_" in k or k.startswith("head.1") for k in missing), missing
        assert not unexpected, unexpected
        result = fresh.load_state_dict(torch.load(path), strict=False)
        assert all("lora_" not in k for k in result.missing_keys)
    print("reloaded acc", f"{accuracy(fresh, xb[1000:], yb[1000:]):.3f}")

    model.eval()
    with torch.no_grad():
        before = model(xb[1000:])
        for m in model.modules():
            if isinstance(m, LoRALinear):
                m.merge()
        after = model(xb[1000:])
    print("merged matches:", torch.allclose(before, after, atol=1e-4))
    acc = accuracy(model, xb[1000:], yb[1000:])
    print(f"lora acc {acc_lora:.3f}")
    print(f"final_acc {acc:.4f}")


if __name__ == "__main__":
    main()

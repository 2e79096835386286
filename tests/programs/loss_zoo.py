"""Every nn loss module a user reaches for, on fixed float64 inputs (deterministic): each loss,
its reductions, weights and options, and the gradient of the loss w.r.t. the input. A small
multi-task head is then trained with a weighted sum of several of them; the metric is the sum
of all evaluated losses plus the trained loss."""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def fixed(*shape, scale=1.0, shift=0.0):
    n = int(np.prod(shape))
    return (torch.cos(torch.arange(n, dtype=torch.float64) * 0.731 + shift) * scale).reshape(shape)


def evaluate(name, loss_fn, inp, *targets):
    inp = inp.clone().requires_grad_(True)
    out = loss_fn(inp, *targets)
    out.sum().backward()
    val = out.sum().item()
    gnorm = inp.grad.norm().item()
    print(f"{name:34s} {val:14.8f} grad {gnorm:.8f}")
    return val + gnorm


def main():
    torch.set_default_dtype(torch.float64)
    total = 0.0
    logits = fixed(8, 5, scale=2.0)
    labels = torch.tensor([0, 3, 1, 4, 2, 2, 0, 1])
    weights = torch.tensor([1.0, 2.0, 0.5, 1.5, 1.0])
    soft = F.softmax(fixed(8, 5, shift=1.0) * 3, dim=1)
    probs = torch.sigmoid(fixed(8, 5, shift=0.3) * 2)
    binary = (fixed(8, 5, shift=2.0) > 0).double()
    reg = fixed(8, 5, shift=0.7, scale=3.0)
    for red in ("mean", "sum", "none"):
        total += evaluate(f"CrossEntropy {red}", nn.CrossEntropyLoss(reduction=red), logits,
                          labels)
    total += evaluate("CrossEntropy weight+smoothing",
                      nn.CrossEntropyLoss(weight=weights, label_smoothing=0.1), logits, labels)
    total += evaluate("CrossEntropy ignore_index", nn.CrossEntropyLoss(ignore_index=2),
                      logits, labels)
    total += evaluate("CrossEntropy soft targets", nn.CrossEntropyLoss(label_smoothing=0.05),
                      logits, soft)
    seg = fixed(2, 5, 3, 4)
    seg_t = (torch.arange(24).reshape(2, 3, 4) * 7) % 5
    total += evaluate("CrossEntropy 4d weighted", nn.CrossEntropyLoss(weight=weights), seg,
                      seg_t)
    total += evaluate("NLLLoss", nn.NLLLoss(weight=weights),
                      F.log_softmax(logits, 1), labels)
    total += evaluate("BCELoss weight", nn.BCELoss(weight=weights), probs, binary)
    total += evaluate("BCEWithLogits pos_weight",
                      nn.BCEWithLogitsLoss(pos_weight=torch.full((5,), 3.0)), logits, binary)
    total += evaluate("MSELoss", nn.MSELoss(), logits, reg)
    total += evaluate("L1Loss sum", nn.L1Loss(reduction="sum"), logits, reg)
    total += evaluate("SmoothL1 beta=0.5", nn.SmoothL1Loss(beta=0.5), logits, reg)
    total += evaluate("HuberLoss delta=0.7", nn.HuberLoss(delta=0.7), logits, reg)
    total += evaluate("KLDiv batchmean", nn.KLDivLoss(reduction="batchmean"),
                      F.log_softmax(logits, 1), soft)
    total += evaluate("KLDiv log_target", nn.KLDivLoss(reduction="sum", log_target=True),
                      F.log_softmax(logits, 1), soft.log())
    total += evaluate("PoissonNLL", nn.PoissonNLLLoss(), logits, reg.abs().round())
    total += evaluate("PoissonNLL no log full",
                      nn.PoissonNLLLoss(log_input=False, full=True), probs * 4,
                      reg.abs().round())
    var = probs + 0.1
    total += evaluate("GaussianNLL", lambda a, t: nn.GaussianNLLLoss()(a, t, var), logits, reg)
    total += evaluate("GaussianNLL full scalar-var",
                      lambda a, t: nn.GaussianNLLLoss(full=True)(a, t, var[:, :1]), logits, reg)
    total += evaluate("MultiMargin p=2 weight",
                      nn.MultiMarginLoss(p=2, margin=0.8, weight=weights), logits, labels)
    multi = torch.tensor([[0, 3, -1, 0, 0], [1, -1, 0, 0, 0]] * 4)
    total += evaluate("MultiLabelMargin", nn.MultiLabelMarginLoss(), logits, multi)
    total += evaluate("MultiLabelSoftMargin", nn.MultiLabelSoftMarginLoss(weight=weights),
                      logits, binary)
    sign = binary * 2 - 1
    total += evaluate("SoftMargin", nn.SoftMarginLoss(), logits, sign)
    total += evaluate("HingeEmbedding", nn.HingeEmbeddingLoss(margin=1.5), logits.abs(), sign)
    a, b = fixed(8, 6), fixed(8, 6, shift=0.4)
    y = torch.tensor([1, -1, 1, 1, -1, -1, 1, -1])
    total += evaluate("CosineEmbedding", lambda u: nn.CosineEmbeddingLoss(margin=0.2)(u, b, y), a)
    total += evaluate("MarginRanking",
                      lambda u: nn.MarginRankingLoss(margin=0.3)(u, b[:, 0], y), a[:, 0])
    c = fixed(8, 6, shift=1.9)
    total += evaluate("TripletMargin swap",
                      lambda u: nn.TripletMarginLoss(margin=1.0, p=2, swap=True)(u, b, c), a)
    total += evaluate("TripletMarginWithDistance cos",
                      lambda u: nn.TripletMarginWithDistanceLoss(
                          distance_function=lambda s, t: 1 - F.cosine_similarity(s, t),
                          margin=0.5)(u, b, c), a)
    # CTC: (T, N, C) log-probs, concatenated targets with lengths
    T, N, C = 12, 3, 6
    lp = F.log_softmax(fixed(T, N, C, scale=2.0), dim=2)
    tg = torch.tensor([1, 2, 2, 3, 4, 5, 1, 1, 3])
    total += evaluate("CTCLoss mean", lambda u: nn.CTCLoss(blank=0)(
        u, tg, torch.tensor([12, 10, 9]), torch.tensor([4, 2, 3])), lp)
    total += evaluate("CTCLoss sum padded zero_inf", lambda u: nn.CTCLoss(
        reduction="sum", zero_infinity=True)(u, torch.tensor([[1, 2, 2, 3], [4, 5, 0, 0],
                                                             [1, 1, 3, 0]]),
                                            (12, 10, 2), (4, 2, 3)), lp)

    # a multi-task head trained with a weighted sum of several losses
    x = fixed(64, 6, scale=1.5)
    cls_t = (torch.arange(64) * 5) % 3
    reg_t = x[:, :2].sum(1, keepdim=True) * 0.5
    bin_t = (x[:, 3:4] > 0).double()
    torch.manual_seed(0)
    body = nn.Sequential(nn.Linear(6, 16), nn.Tanh())
    heads = nn.ModuleDict({"cls": nn.Linear(16, 3), "reg": nn.Linear(16, 1),
                           "bin": nn.Linear(16, 1)})
    params = list(body.parameters()) + list(heads.parameters())
    with torch.no_grad():
        for i, p in enumerate(params):
            p.copy_(fixed(*p.shape, scale=0.4, shift=i))
    opt = torch.optim.Adam(params, lr=0.02)
    for step in range(150):
        h = body(x)
        loss = (F.cross_entropy(heads["cls"](h), cls_t)
                + 0.5 * F.smooth_l1_loss(heads["reg"](h), reg_t)
                + 0.3 * F.binary_cross_entropy_with_logits(heads["bin"](h), bin_t))
        opt.zero_grad()
        loss.backward()
        opt.step()
    print("multitask loss", loss.item())
    total += loss.item()
    assert math.isfinite(total)
    print(f"final_loss {total:.10f}")


if __name__ == "__main__":
    main()

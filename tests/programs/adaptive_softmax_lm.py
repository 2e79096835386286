"""Large-vocabulary word LM with nn.AdaptiveLogSoftmaxWithLoss (Grave et al.'s adaptive softmax,
as in fairseq / the PyTorch word-LM variants): a Zipf-distributed vocabulary from a random
bigram "grammar", nn.Embedding(max_norm=...) renormalising looked-up rows in place, a
residual nn.GRU, the adaptive softmax head with cutoffs and div_value (its .loss/.output
namedtuple, .log_prob and .predict), SGD with momentum under CyclicLR(mode="triangular2",
cycle_momentum=True), and validation perplexity checked against log_prob + gather."""
import argparse
import math

import numpy as np
import torch
import torch.nn as nn


def make_corpus(vocab=600, n_tokens=24000, seed=0):
    rs = np.random.RandomState(seed)
    ranks = np.arange(1, vocab + 1)
    unigram = 1.0 / ranks ** 1.1
    unigram /= unigram.sum()
    # each word prefers a few successors: a sparse bigram table mixed with the unigram
    succ = rs.randint(0, vocab, (vocab, 4))
    tokens = np.empty(n_tokens, dtype=np.int64)
    tokens[0] = 0
    for t in range(1, n_tokens):
        if rs.rand() < 0.6:
            tokens[t] = succ[tokens[t - 1], rs.randint(4)]
        else:
            tokens[t] = rs.choice(vocab, p=unigram)
    return torch.from_numpy(tokens), vocab


def batchify(data, bsz):
    nbatch = data.size(0) // bsz
    return data[:nbatch * bsz].view(bsz, -1).t().contiguous()


class LM(nn.Module):
    def __init__(self, vocab, emb=32, hidden=64):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb, max_norm=1.5)
        self.proj = nn.Linear(emb, hidden)
        self.rnn = nn.GRU(hidden, hidden)
        self.drop = nn.Dropout(0.1)
        self.head = nn.AdaptiveLogSoftmaxWithLoss(hidden, vocab, cutoffs=[30, 150],
                                                  div_value=2.0)

    def features(self, x, h=None):
        e = self.proj(self.emb(x))
        out, h = self.rnn(e, h)
        return self.drop(out + e), h

    def forward(self, x, y, h=None):
        feats, h = self.features(x, h)
        res = self.head(feats.view(-1, feats.size(-1)), y.reshape(-1))
        return res, h


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--bptt", type=int, default=20)
    args = p.parse_args()
    torch.manual_seed(0)
    tokens, vocab = make_corpus()
    train = batchify(tokens[:20000], 16)
    val = batchify(tokens[20000:], 8)
    model = LM(vocab)
    opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    steps_per_epoch = (train.size(0) - 1) // args.bptt
    sched = torch.optim.lr_scheduler.CyclicLR(opt, base_lr=0.05, max_lr=0.5,
                                              step_size_up=steps_per_epoch // 2,
                                              mode="triangular2", cycle_momentum=True,
                                              base_momentum=0.8, max_momentum=0.9)
    for epoch in range(args.epochs):
        model.train()
        h, total = None, 0.0
        for i in range(0, steps_per_epoch * args.bptt, args.bptt):
            x, y = train[i:i + args.bptt], train[i + 1:i + 1 + args.bptt]
            (out, loss), h = model(x, y, h)
            h = h.detach()
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            opt.step()
            sched.step()
            total += loss.item()
        norms = model.emb.weight.norm(dim=1)
        print(f"epoch {epoch} train_ppl {math.exp(total / steps_per_epoch):.2f} "
              f"max_row_norm_used {norms.max().item():.3f} lr {sched.get_last_lr()[0]:.4f} "
              f"momentum {opt.param_groups[0]['momentum']:.3f}")
    model.eval()
    with torch.no_grad():
        x, y = val[:-1], val[1:]
        feats, _ = model.features(x)
        flat = feats.view(-1, feats.size(-1))
        out, loss = model.head(flat, y.reshape(-1))
        logp = model.head.log_prob(flat)
        manual = -logp.gather(1, y.reshape(-1, 1)).mean()
        assert torch.allclose(manual, loss, atol=1e-4), (manual, loss)
        assert torch.allclose(logp.exp().sum(1), torch.ones(len(flat)), atol=1e-4)
        acc = (model.head.predict(flat) == y.reshape(-1)).float().mean().item()
    print(f"val ppl {math.exp(loss.item()):.2f} next-word acc {acc:.4f}")
    print(f"final_loss {loss.item():.4f}")


if __name__ == "__main__":
    main()

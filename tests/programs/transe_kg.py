"""TransE knowledge-graph embeddings (Bordes et al. 2013), OpenKE / "TransE in PyTorch" style: a
generated family/geography knowledge graph of (head, relation, tail) id triples, entity and
relation `nn.Embedding`s initialised `uniform_(-6/sqrt(d), 6/sqrt(d))` with relations
L2-normalised once, entity rows re-normalised every step with
`F.normalize(weight.data, p=2, dim=1)` written back by `.data.copy_`, corrupted triples made by
replacing the head or the tail (Bernoulli on a `torch.rand` mask and `torch.where`), the score
`torch.norm(h + r - t, p=1, dim=1)`, `nn.MarginRankingLoss(margin)` with target -1, SGD, and
filtered link-prediction evaluation: all tails scored at once by broadcasting, known true
triples masked out with `index_put_` of `inf`, the rank by counting smaller scores, then mean
rank, MRR and Hits@10. The metric is filtered Hits@10 on held-out triples."""
import argparse
import math
import random

import torch
import torch.nn as nn
import torch.nn.functional as F


def build_graph(rng, n_people=60, n_cities=12, n_countries=4):
    ents, rels = [], ["lives_in", "city_in", "country_of_person", "friend_of", "same_city"]
    people = [f"p{i}" for i in range(n_people)]
    cities = [f"c{i}" for i in range(n_cities)]
    countries = [f"k{i}" for i in range(n_countries)]
    ents = people + cities + countries
    e2i = {e: i for i, e in enumerate(ents)}
    r2i = {r: i for i, r in enumerate(rels)}
    triples = set()
    city_country = {c: countries[i % n_countries] for i, c in enumerate(cities)}
    home = {p: rng.choice(cities) for p in people}
    for c, k in city_country.items():
        triples.add((e2i[c], r2i["city_in"], e2i[k]))
    for p in people:
        triples.add((e2i[p], r2i["lives_in"], e2i[home[p]]))
        triples.add((e2i[p], r2i["country_of_person"], e2i[city_country[home[p]]]))
        same = [q for q in people if q != p and home[q] == home[p]]
        for q in rng.sample(same, min(2, len(same))):
            triples.add((e2i[p], r2i["same_city"], e2i[q]))
    return sorted(triples), len(ents), len(rels)


class TransE(nn.Module):
    def __init__(self, n_ent, n_rel, dim=32, margin=2.0):
        super().__init__()
        self.ent = nn.Embedding(n_ent, dim)
        self.rel = nn.Embedding(n_rel, dim)
        bound = 6 / math.sqrt(dim)
        nn.init.uniform_(self.ent.weight, -bound, bound)
        nn.init.uniform_(self.rel.weight, -bound, bound)
        self.rel.weight.data = F.normalize(self.rel.weight.data, p=2, dim=1)
        self.criterion = nn.MarginRankingLoss(margin=margin)

    def distance(self, h, r, t):
        return torch.norm(self.ent(h) + self.rel(r) - self.ent(t), p=1, dim=1)

    def forward(self, pos, neg):
        d_pos = self.distance(pos[:, 0], pos[:, 1], pos[:, 2])
        d_neg = self.distance(neg[:, 0], neg[:, 1], neg[:, 2])
        target = torch.tensor([-1.0], dtype=torch.float32)
        return self.criterion(d_pos, d_neg, target), d_pos, d_neg

    @torch.no_grad()
    def score_all_tails(self, h, r):
        q = self.ent(h) + self.rel(r)                            # (B, d)
        return (q.unsqueeze(1) - self.ent.weight.unsqueeze(0)).abs().sum(-1)   # (B, E)


def corrupt(batch, n_ent):
    heads = torch.rand(batch.size(0)) < 0.5
    rnd = torch.randint(0, n_ent, (batch.size(0),))
    neg = batch.clone()
    neg[:, 0] = torch.where(heads, rnd, batch[:, 0])
    neg[:, 2] = torch.where(heads, batch[:, 2], rnd)
    return neg


@torch.no_grad()
def evaluate(model, test, known):
    scores = model.score_all_tails(test[:, 0], test[:, 1])
    for i, (h, r, t) in enumerate(test.tolist()):
        others = [tt for tt in known.get((h, r), ()) if tt != t]
        if others:
            scores.index_put_((torch.full((len(others),), i), torch.tensor(others)),
                              torch.tensor(float("inf")))
    target = scores.gather(1, test[:, 2:3])
    ranks = (scores < target).sum(1) + 1
    ranks = ranks.float()
    return ranks.mean().item(), (1.0 / ranks).mean().item(), (ranks <= 10).float().mean().item()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    rng = random.Random(11)
    triples, n_ent, n_rel = build_graph(rng)
    rng.shuffle(triples)
    data = torch.tensor(triples, dtype=torch.long)
    n_test = len(triples) // 6
    test, train = data[:n_test], data[n_test:]
    known = {}
    for h, r, t in triples:
        known.setdefault((h, r), set()).add(t)
    print(f"{n_ent} entities, {n_rel} relations, {len(train)} train / {len(test)} test triples")

    model = TransE(n_ent, n_rel)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    bs = 64
    for epoch in range(args.epochs):
        perm = torch.randperm(train.size(0))
        total = 0.0
        for i in range(0, train.size(0), bs):
            model.ent.weight.data.copy_(F.normalize(model.ent.weight.data, p=2, dim=1))
            pos = train[perm[i: i + bs]]
            loss, _, _ = model(pos, corrupt(pos, n_ent))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * pos.size(0)
        if epoch % 20 == 0 or epoch == args.epochs - 1:
            mr, mrr, h10 = evaluate(model, test, known)
            print(f"epoch {epoch} loss {total / train.size(0):.4f} MR {mr:.1f} MRR {mrr:.3f} "
                  f"Hits@10 {h10:.3f}")
    print(f"final_acc {h10:.4f}")


if __name__ == "__main__":
    main()

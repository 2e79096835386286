"""Child-Sum Tree-LSTM (Tai, Socher & Manning 2015) on generated parse trees, written like the
dasguptar/treelstm.pytorch port: a `Tree` class (parent, children, idx, `depth()`), a
ChildSumTreeLSTM whose `node_forward` sums the children's hidden states (`torch.sum(child_h,
dim=0, keepdim=True)`), computes i/o/u gates from `ioux`/`iouh` split with `torch.split`, one
forget gate per child (`fh(child_h) + fx(x).repeat(len(children), 1)`), `torch.mul` into
`torch.sum(f * child_c)`, recursion over the tree storing `tree.state`, leaves with zero states
made by `x.detach().new_zeros`, a sentiment module with `nn.LogSoftmax` + `nn.NLLLoss` at every
node (sentiment-treebank style node labels), Adagrad with weight_decay as in the paper,
gradients accumulated over a batch of trees before `optimizer.step()`. Sentences are short
phrases with modifiers ("not", "very") whose meaning composes bottom-up. The metric is the root
accuracy on held-out trees."""
import argparse
import random

import torch
import torch.nn as nn

WORDS = {"good": 1, "nice": 1, "fine": 1, "bad": -1, "awful": -1, "sad": -1,
         "movie": 0, "plot": 0, "the": 0, "actor": 0}
MODS = ["not", "very"]


class Tree:
    def __init__(self, word=None):
        self.parent = None
        self.num_children = 0
        self.children = []
        self.word = word
        self.label = None
        self.state = None

    def add_child(self, child):
        child.parent = self
        self.num_children += 1
        self.children.append(child)

    def depth(self):
        if self.num_children == 0:
            return 0
        return 1 + max(c.depth() for c in self.children)

    def size(self):
        return 1 + sum(c.size() for c in self.children)


def polarity_to_label(p):
    return 0 if p < 0 else (1 if p == 0 else 2)


def random_tree(rng, depth):
    """Returns (tree, polarity). Leaves are words; inner nodes combine two subtrees, or apply a
    modifier: 'not' flips, 'very' keeps the sign."""
    if depth == 0 or rng.random() < 0.25:
        w = rng.choice(list(WORDS))
        t = Tree(w)
        t.label = polarity_to_label(WORDS[w])
        return t, WORDS[w]
    t = Tree()
    if rng.random() < 0.35:
        mod = rng.choice(MODS)
        sub, p = random_tree(rng, depth - 1)
        t.add_child(Tree(mod))
        t.children[0].label = 1
        t.add_child(sub)
        pol = -p if mod == "not" else p
    else:
        a, pa = random_tree(rng, depth - 1)
        b, pb = random_tree(rng, depth - 1)
        t.add_child(a)
        t.add_child(b)
        s = pa + pb
        pol = (s > 0) - (s < 0)
    t.label = polarity_to_label(pol)
    return t, pol


class ChildSumTreeLSTM(nn.Module):
    def __init__(self, in_dim, mem_dim):
        super().__init__()
        self.in_dim = in_dim
        self.mem_dim = mem_dim
        self.ioux = nn.Linear(self.in_dim, 3 * self.mem_dim)
        self.iouh = nn.Linear(self.mem_dim, 3 * self.mem_dim)
        self.fx = nn.Linear(self.in_dim, self.mem_dim)
        self.fh = nn.Linear(self.mem_dim, self.mem_dim)

    def node_forward(self, inputs, child_c, child_h):
        child_h_sum = torch.sum(child_h, dim=0, keepdim=True)
        iou = self.ioux(inputs) + self.iouh(child_h_sum)
        i, o, u = torch.split(iou, iou.size(1) // 3, dim=1)
        i, o, u = torch.sigmoid(i), torch.sigmoid(o), torch.tanh(u)
        f = torch.sigmoid(self.fh(child_h) + self.fx(inputs).repeat(len(child_h), 1))
        fc = torch.mul(f, child_c)
        c = torch.mul(i, u) + torch.sum(fc, dim=0, keepdim=True)
        h = torch.mul(o, torch.tanh(c))
        return c, h

    def forward(self, tree, inputs):
        for child in tree.children:
            self.forward(child, inputs)
        x = inputs[tree.idx].unsqueeze(0)
        if tree.num_children == 0:
            child_c = x.detach().new_zeros(1, self.mem_dim)
            child_h = x.detach().new_zeros(1, self.mem_dim)
        else:
            child_c, child_h = zip(*(child.state for child in tree.children))
            child_c, child_h = torch.cat(child_c, dim=0), torch.cat(child_h, dim=0)
        tree.state = self.node_forward(x, child_c, child_h)
        return tree.state


class SentimentModel(nn.Module):
    def __init__(self, vocab_size, in_dim, mem_dim, num_classes=3):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, in_dim)
        self.treelstm = ChildSumTreeLSTM(in_dim, mem_dim)
        self.out = nn.Linear(mem_dim, num_classes)
        self.logsoftmax = nn.LogSoftmax(dim=1)

    def forward(self, tree, token_ids):
        self.treelstm(tree, self.emb(token_ids))
        return tree


def index_nodes(tree, w2i, ids):
    """Post-order: every node gets an input slot; inner nodes read the <node> token."""
    for c in tree.children:
        index_nodes(c, w2i, ids)
    tree.idx = len(ids)
    ids.append(w2i[tree.word] if tree.word is not None else 0)
    return ids


def all_nodes(tree):
    out = [tree]
    for c in tree.children:
        out += all_nodes(c)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    rng = random.Random(3)
    vocab = ["<node>"] + list(WORDS) + MODS
    w2i = {w: i for i, w in enumerate(vocab)}
    trees = [random_tree(rng, 3)[0] for _ in range(280)]
    trees = [t for t in trees if t.num_children > 0]
    samples = [(t, torch.tensor(index_nodes(t, w2i, []))) for t in trees]
    train, test = samples[: int(0.8 * len(samples))], samples[int(0.8 * len(samples)):]
    print(f"{len(train)} train trees, {len(test)} test trees, "
          f"max depth {max(t.depth() for t, _ in samples)}")

    model = SentimentModel(len(vocab), 24, 32)
    criterion = nn.NLLLoss()
    optimizer = torch.optim.Adagrad(model.parameters(), lr=0.05, weight_decay=1e-4)
    batch_size = 16
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(train)).tolist()
        total = 0.0
        optimizer.zero_grad()
        for k, i in enumerate(order):
            tree, ids = train[i]
            model(tree, ids)
            nodes = all_nodes(tree)
            hs = torch.cat([n.state[1] for n in nodes], dim=0)
            labels = torch.tensor([n.label for n in nodes])
            loss = criterion(model.logsoftmax(model.out(hs)), labels)
            (loss / batch_size).backward()
            total += loss.item()
            if (k + 1) % batch_size == 0:
                optimizer.step()
                optimizer.zero_grad()
        print(f"epoch {epoch} node loss {total / len(train):.4f}")

    model.eval()
    correct = 0
    with torch.no_grad():
        for tree, ids in test:
            model(tree, ids)
            pred = model.out(tree.state[1]).argmax(1).item()
            correct += int(pred == tree.label)
    print(f"final_acc {correct / len(test):.4f}")


if __name__ == "__main__":
    main()

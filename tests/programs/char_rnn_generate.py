"""Character-level generation, NLP-from-scratch style ("Generating Names with a Character-Level
RNN"): one-hot inputs built with `F.one_hot(..., num_classes).float()`, a category vector
concatenated to every step, a hand-written RNN cell (i2h / i2o / o2o with `nn.Dropout`) run one
character at a time with `torch.zeros(1, hidden)` initial state, `nn.NLLLoss` summed over the
name, per-parameter manual SGD (`p.data.add_(p.grad.data, alpha=-lr)`), then sampling by
`torch.multinomial` on temperature-scaled `exp()` probabilities and by
`torch.distributions.Categorical`, with `torch.no_grad()`. Names come from a small template
generator per "language". The metric is the mean per-character NLL on held-out names."""
import argparse
import random
import string
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ALL_LETTERS = string.ascii_lowercase + "'"
N_LETTERS = len(ALL_LETTERS) + 1  # + EOS

SYLLABLES = {
    "italian": ["ro", "ma", "ni", "gi", "ve", "lla", "tti", "no", "ri", "ca"],
    "japanese": ["ka", "ta", "mi", "ya", "shi", "ro", "ko", "na", "to", "mo"],
    "russian": ["ov", "ski", "va", "dr", "iv", "ko", "len", "ev", "sha", "in"],
}
ENDINGS = {"italian": ["i", "o"], "japanese": ["a", "o", "i"], "russian": ["ov", "in", "a"]}


def make_name(rng, lang):
    s = "".join(rng.choice(SYLLABLES[lang]) for _ in range(rng.randint(1, 3)))
    return s + rng.choice(ENDINGS[lang])


def input_tensor(line):
    idx = torch.tensor([ALL_LETTERS.find(c) for c in line])
    return F.one_hot(idx, N_LETTERS).float().unsqueeze(1)  # (len, 1, N_LETTERS)


def target_tensor(line):
    return torch.tensor([ALL_LETTERS.find(c) for c in line[1:]] + [N_LETTERS - 1])


def category_tensor(categories, cat):
    return F.one_hot(torch.tensor([categories.index(cat)]), len(categories)).float()


class RNN(nn.Module):
    def __init__(self, n_categories, input_size, hidden_size, output_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(n_categories + input_size + hidden_size, hidden_size)
        self.i2o = nn.Linear(n_categories + input_size + hidden_size, output_size)
        self.o2o = nn.Linear(hidden_size + output_size, output_size)
        self.dropout = nn.Dropout(0.1)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, category, input, hidden):
        input_combined = torch.cat((category, input, hidden), 1)
        hidden = torch.tanh(self.i2h(input_combined))
        output = self.i2o(input_combined)
        output_combined = torch.cat((hidden, output), 1)
        output = self.o2o(output_combined)
        output = self.dropout(output)
        output = self.softmax(output)
        return output, hidden

    def init_hidden(self):
        return torch.zeros(1, self.hidden_size)


def train_step(rnn, criterion, cat_t, inp, tgt, lr):
    hidden = rnn.init_hidden()
    rnn.zero_grad()
    loss = torch.zeros(1)
    for i in range(inp.size(0)):
        output, hidden = rnn(cat_t, inp[i], hidden)
        loss = loss + criterion(output, tgt[i].unsqueeze(0))
    loss.backward()
    for p in rnn.parameters():
        p.data.add_(p.grad.data, alpha=-lr)
    return loss.item() / inp.size(0)


def sample(rnn, categories, category, start, max_length=12, temperature=0.8, use_dist=False):
    with torch.no_grad():
        cat_t = category_tensor(categories, category)
        inp = input_tensor(start)
        hidden = rnn.init_hidden()
        name = start
        for _ in range(max_length):
            output, hidden = rnn(cat_t, inp[0], hidden)
            logits = output[0] / temperature
            if use_dist:
                top = torch.distributions.Categorical(logits=logits).sample().item()
            else:
                top = torch.multinomial(logits.exp(), 1).item()
            if top == N_LETTERS - 1:
                break
            name += ALL_LETTERS[top]
            inp = input_tensor(name[-1])
        return name


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--iters", type=int, default=350)
    p.add_argument("--lr", type=float, default=0.03)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    rng = random.Random(11)
    categories = sorted(SYLLABLES)
    train = [(c, make_name(rng, c)) for c in categories for _ in range(150)]
    test = [(c, make_name(rng, c)) for c in categories for _ in range(20)]
    rnn = RNN(len(categories), N_LETTERS, 64, N_LETTERS)
    criterion = nn.NLLLoss()
    start = time.time()
    total = 0.0
    for it in range(1, args.iters + 1):
        cat, name = random.choice(train)
        total += train_step(rnn, criterion, category_tensor(categories, cat),
                            input_tensor(name), target_tensor(name), args.lr)
        if it % 175 == 0:
            print(f"{it} ({time.time() - start:.1f}s) loss {total / 175:.4f}")
            total = 0.0
    rnn.eval()
    nll = chars = 0
    with torch.no_grad():
        for cat, name in test:
            hidden = rnn.init_hidden()
            inp, tgt = input_tensor(name), target_tensor(name)
            for i in range(inp.size(0)):
                output, hidden = rnn(category_tensor(categories, cat), inp[i], hidden)
                nll += criterion(output, tgt[i].unsqueeze(0)).item()
                chars += 1
    for c in categories:
        print(c, [sample(rnn, categories, c, s) for s in "kmr"],
              sample(rnn, categories, c, "s", use_dist=True))
    print(f"final_loss {nll / chars:.4f}")


if __name__ == "__main__":
    main()

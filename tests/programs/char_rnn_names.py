"""Classifying names with a character-level RNN (the NLP-from-scratch tutorial): unicodedata
normalisation to ASCII, letterToIndex / lineToTensor one-hot tensors of shape
(len, 1, n_letters), the hand-written RNN module (i2h / h2o on torch.cat, LogSoftmax) stepped
in a Python loop with initHidden, NLLLoss, the manual update p.data.add_(p.grad.data,
alpha=-lr), randomTrainingExample, topk predictions; then the newer nn.RNN version on padded
batches."""
import random
import string
import unicodedata

import torch
import torch.nn as nn

all_letters = string.ascii_letters + " .,;'"
n_letters = len(all_letters)

SYLLABLES = {
    "Italian": ["ro", "ssi", "ni", "lli", "ber", "to", "gio", "van", "ce", "ca"],
    "Japanese": ["ka", "ta", "ya", "shi", "mo", "to", "na", "ki", "ru", "ha"],
    "Russian": ["ov", "ev", "sky", "in", "kov", "vich", "ya", "zh", "tro", "ko"],
    "Irish": ["O'", "Mc", "an", "ly", "gh", "ai", "ach", "Dun", "ne", "ell"],
}


def unicodeToAscii(s):
    return ''.join(c for c in unicodedata.normalize('NFD', s)
                   if unicodedata.category(c) != 'Mn' and c in all_letters)


def make_names(rng):
    category_lines = {}
    for cat, syl in SYLLABLES.items():
        names = []
        for _ in range(120):
            w = "".join(rng.choice(syl) for _ in range(rng.randint(2, 4)))
            names.append(unicodeToAscii(w.capitalize() + ("é" if rng.random() < 0.1 else "")))
        category_lines[cat] = names
    return category_lines


def letterToIndex(letter):
    return all_letters.find(letter)


def lineToTensor(line):
    tensor = torch.zeros(len(line), 1, n_letters)
    for li, letter in enumerate(line):
        tensor[li][0][letterToIndex(letter)] = 1
    return tensor


class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super(RNN, self).__init__()
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
        self.h2o = nn.Linear(input_size + hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, input, hidden):
        combined = torch.cat((input, hidden), 1)
        hidden = self.i2h(combined)
        output = self.h2o(combined)
        output = self.softmax(output)
        return output, hidden

    def initHidden(self):
        return torch.zeros(1, self.hidden_size)


class CharRNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden_size)
        self.h2o = nn.Linear(hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, line_tensor, lengths):
        rnn_out, hidden = self.rnn(line_tensor)
        last = rnn_out[lengths - 1, torch.arange(line_tensor.size(1))]
        return self.softmax(self.h2o(last))


def categoryFromOutput(output, all_categories):
    top_n, top_i = output.topk(1)
    category_i = top_i[0].item()
    return all_categories[category_i], category_i


if __name__ == "__main__":
    torch.manual_seed(0)
    rng = random.Random(0)
    category_lines = make_names(rng)
    all_categories = list(category_lines)
    n_categories = len(all_categories)
    print(unicodeToAscii('Ślusàrski'), lineToTensor('Jones').size())
    test = {c: lines[100:] for c, lines in category_lines.items()}
    train = {c: lines[:100] for c, lines in category_lines.items()}

    def randomTrainingExample():
        category = rng.choice(all_categories)
        line = rng.choice(train[category])
        category_tensor = torch.tensor([all_categories.index(category)], dtype=torch.long)
        return category, line, category_tensor, lineToTensor(line)

    n_hidden = 64
    rnn = RNN(n_letters, n_hidden, n_categories)
    criterion = nn.NLLLoss()
    learning_rate = 0.005

    def train_step(category_tensor, line_tensor):
        hidden = rnn.initHidden()
        rnn.zero_grad()
        for i in range(line_tensor.size()[0]):
            output, hidden = rnn(line_tensor[i], hidden)
        loss = criterion(output, category_tensor)
        loss.backward()
        for p in rnn.parameters():
            p.data.add_(p.grad.data, alpha=-learning_rate)
        return output, loss.item()

    current_loss = 0
    for it in range(1, 2001):
        category, line, category_tensor, line_tensor = randomTrainingExample()
        output, loss = train_step(category_tensor, line_tensor)
        current_loss += loss
        if it % 1000 == 0:
            guess, guess_i = categoryFromOutput(output, all_categories)
            print(it, current_loss / 1000, line, guess, '✓' if guess == category else '✗')
            current_loss = 0

    def evaluate(line_tensor):
        hidden = rnn.initHidden()
        for i in range(line_tensor.size()[0]):
            output, hidden = rnn(line_tensor[i], hidden)
        return output

    confusion = torch.zeros(n_categories, n_categories)
    with torch.no_grad():
        for c, lines in test.items():
            for line in lines:
                guess, guess_i = categoryFromOutput(evaluate(lineToTensor(line)), all_categories)
                confusion[all_categories.index(c)][guess_i] += 1
    acc1 = (confusion.diag().sum() / confusion.sum()).item()
    print("manual RNN acc", acc1)

    # nn.RNN on padded batches
    model = CharRNN(n_letters, n_hidden, n_categories)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    data = [(line, all_categories.index(c)) for c, lines in train.items() for line in lines]

    def batchify(items):
        L = max(len(l) for l, _ in items)
        x = torch.zeros(L, len(items), n_letters)
        for b, (line, _) in enumerate(items):
            x[:len(line), b] = lineToTensor(line)[:, 0]
        return x, torch.tensor([len(l) for l, _ in items]), torch.tensor([c for _, c in items])

    for epoch in range(10):
        rng.shuffle(data)
        for k in range(0, len(data), 32):
            x, lengths, y = batchify(data[k:k + 32])
            loss = criterion(model(x, lengths), y)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 3)
            opt.step()
    model.eval()
    with torch.no_grad():
        x, lengths, y = batchify([(l, all_categories.index(c))
                                  for c, ls in test.items() for l in ls])
        acc2 = (model(x, lengths).argmax(1) == y).float().mean().item()
    print("nn.RNN acc", acc2)
    print(f"final_acc {(acc1 + acc2) / 2:.4f}")

"""Text classification with nn.EmbeddingBag (the AG_NEWS tutorial's model) on generated topic
sentences: vocab built by hand, collate_batch producing (label, text, offsets), random_split,
StepLR, gradient clipping."""
import random
import time

import torch
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.data.dataset import random_split

TOPICS = {
    0: "goal match team season coach league player score win cup striker final",
    1: "market stock shares profit bank price investor trade economy growth rate fund",
    2: "computer software chip internet data network code device phone app cloud robot",
    3: "election minister vote government policy parliament law party leader state court",
}
FILLER = "the a of in on to and with for at by from is was new says after over".split()


def make_dataset(n, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        label = rng.randrange(4)
        words = TOPICS[label].split()
        toks = [rng.choice(words) if rng.random() < 0.35 else rng.choice(FILLER)
                for _ in range(rng.randint(6, 16))]
        if rng.random() < 0.3:  # some cross-topic noise
            toks.append(rng.choice(TOPICS[rng.randrange(4)].split()))
        out.append((label + 1, " ".join(toks)))
    return out


def basic_english(line):
    return line.lower().replace(",", " ").split()


class TextClassificationModel(nn.Module):
    def __init__(self, vocab_size, embed_dim, num_class):
        super(TextClassificationModel, self).__init__()
        self.embedding = nn.EmbeddingBag(vocab_size, embed_dim, sparse=False)
        self.fc = nn.Linear(embed_dim, num_class)
        self.init_weights()

    def init_weights(self):
        initrange = 0.5
        self.embedding.weight.data.uniform_(-initrange, initrange)
        self.fc.weight.data.uniform_(-initrange, initrange)
        self.fc.bias.data.zero_()

    def forward(self, text, offsets):
        embedded = self.embedding(text, offsets)
        return self.fc(embedded)


if __name__ == "__main__":
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train_iter, test_iter = make_dataset(2000, 0), make_dataset(400, 1)
    vocab = {"<unk>": 0}
    for _, text in train_iter:
        for tok in basic_english(text):
            vocab.setdefault(tok, len(vocab))
    text_pipeline = lambda x: [vocab.get(tok, 0) for tok in basic_english(x)]
    label_pipeline = lambda x: int(x) - 1

    def collate_batch(batch):
        label_list, text_list, offsets = [], [], [0]
        for _label, _text in batch:
            label_list.append(label_pipeline(_label))
            processed_text = torch.tensor(text_pipeline(_text), dtype=torch.int64)
            text_list.append(processed_text)
            offsets.append(processed_text.size(0))
        label_list = torch.tensor(label_list, dtype=torch.int64)
        offsets = torch.tensor(offsets[:-1]).cumsum(dim=0)
        text_list = torch.cat(text_list)
        return label_list.to(device), text_list.to(device), offsets.to(device)

    num_class = len(set([label for (label, text) in train_iter]))
    model = TextClassificationModel(len(vocab), 32, num_class).to(device)

    def train(dataloader):
        model.train()
        total_acc, total_count = 0, 0
        for idx, (label, text, offsets) in enumerate(dataloader):
            optimizer.zero_grad()
            predicted_label = model(text, offsets)
            loss = criterion(predicted_label, label)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
            optimizer.step()
            total_acc += (predicted_label.argmax(1) == label).sum().item()
            total_count += label.size(0)
        return total_acc / total_count

    def evaluate(dataloader):
        model.eval()
        total_acc, total_count = 0, 0
        with torch.no_grad():
            for idx, (label, text, offsets) in enumerate(dataloader):
                predicted_label = model(text, offsets)
                total_acc += (predicted_label.argmax(1) == label).sum().item()
                total_count += label.size(0)
        return total_acc / total_count

    EPOCHS, LR, BATCH_SIZE = 6, 5, 64
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1.0, gamma=0.1)
    total_accu = None
    num_train = int(len(train_iter) * 0.95)
    split_train_, split_valid_ = random_split(train_iter, [num_train, len(train_iter) - num_train])
    train_dataloader = DataLoader(split_train_, batch_size=BATCH_SIZE, shuffle=True,
                                  collate_fn=collate_batch)
    valid_dataloader = DataLoader(split_valid_, batch_size=BATCH_SIZE, shuffle=True,
                                  collate_fn=collate_batch)
    test_dataloader = DataLoader(test_iter, batch_size=BATCH_SIZE, shuffle=True,
                                 collate_fn=collate_batch)
    for epoch in range(1, EPOCHS + 1):
        epoch_start_time = time.time()
        train(train_dataloader)
        accu_val = evaluate(valid_dataloader)
        if total_accu is not None and total_accu > accu_val:
            scheduler.step()
        else:
            total_accu = accu_val
        print("| end of epoch {:3d} | time: {:5.2f}s | valid accuracy {:8.3f} ".format(
            epoch, time.time() - epoch_start_time, accu_val))
    accu_test = evaluate(test_dataloader)
    print("test accuracy {:8.3f}".format(accu_test))
    print(f"final_acc {accu_test:.4f}")

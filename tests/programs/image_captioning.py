"""Image captioning in the "Show and Tell" tutorial style (the yunjey/pytorch-tutorial captioning
repo): a small CNN EncoderCNN (Conv2d/BatchNorm2d/AdaptiveAvgPool2d + Linear + BatchNorm1d),
a DecoderRNN (Embedding + LSTM + Linear) fed the image feature as the first step, captions of
different lengths sorted by length in a collate_fn, `pack_padded_sequence(...)[0]` as the
target, teacher forcing, greedy `sample()` with LSTM state stepping, and a Vocabulary class
with word2idx / idx2word / <start> <end> <pad> <unk>."""
import argparse

import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence
from torch.utils.data import DataLoader, Dataset

COLORS = ["red", "green", "blue"]
SHAPES = ["square", "cross", "bar"]
SIZES = ["small", "big"]


class Vocabulary(object):
    def __init__(self):
        self.word2idx = {}
        self.idx2word = {}
        self.idx = 0

    def add_word(self, word):
        if word not in self.word2idx:
            self.word2idx[word] = self.idx
            self.idx2word[self.idx] = word
            self.idx += 1

    def __call__(self, word):
        return self.word2idx.get(word, self.word2idx["<unk>"])

    def __len__(self):
        return len(self.word2idx)


def draw(color, shape, size, rng):
    img = np.zeros((3, 16, 16), np.float32)
    s = 3 if size == "small" else 6
    cy, cx = rng.randint(s, 16 - s, size=2)
    c = COLORS.index(color)
    if shape == "square":
        img[c, cy - s:cy + s, cx - s:cx + s] = 1.0
    elif shape == "cross":
        img[c, cy - s:cy + s, cx - 1:cx + 1] = 1.0
        img[c, cy - 1:cy + 1, cx - s:cx + s] = 1.0
    else:
        img[c, cy - 1:cy + 1, cx - s:cx + s] = 1.0
    return img + rng.randn(3, 16, 16).astype(np.float32) * 0.1


class ShapesCaptionDataset(Dataset):
    def __init__(self, n, vocab, seed):
        rng = np.random.RandomState(seed)
        self.items = []
        for _ in range(n):
            color, shape, size = (COLORS[rng.randint(3)], SHAPES[rng.randint(3)],
                                  SIZES[rng.randint(2)])
            if rng.rand() < 0.5:
                words = ["a", size, color, shape]
            else:
                words = ["a", color, shape, "that", "is", size]
            self.items.append((draw(color, shape, size, rng), words))
        self.vocab = vocab

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        image, words = self.items[index]
        caption = [self.vocab("<start>")] + [self.vocab(w) for w in words] + [self.vocab("<end>")]
        return torch.from_numpy(image), torch.Tensor(caption)


def collate_fn(data):
    """Sort by caption length (descending) for pack_padded_sequence, pad with zeros."""
    data.sort(key=lambda x: len(x[1]), reverse=True)
    images, captions = zip(*data)
    images = torch.stack(images, 0)
    lengths = [len(cap) for cap in captions]
    targets = torch.zeros(len(captions), max(lengths)).long()
    for i, cap in enumerate(captions):
        end = lengths[i]
        targets[i, :end] = cap[:end]
    return images, targets, lengths


class EncoderCNN(nn.Module):
    def __init__(self, embed_size):
        super(EncoderCNN, self).__init__()
        self.cnn = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d((1, 1)))
        self.linear = nn.Linear(32, embed_size)
        self.bn = nn.BatchNorm1d(embed_size, momentum=0.01)

    def forward(self, images):
        features = self.cnn(images)
        features = features.reshape(features.size(0), -1)
        return self.bn(self.linear(features))


class DecoderRNN(nn.Module):
    def __init__(self, embed_size, hidden_size, vocab_size, num_layers, max_seq_length=10):
        super(DecoderRNN, self).__init__()
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.lstm = nn.LSTM(embed_size, hidden_size, num_layers, batch_first=True)
        self.linear = nn.Linear(hidden_size, vocab_size)
        self.max_seg_length = max_seq_length

    def forward(self, features, captions, lengths):
        embeddings = self.embed(captions)
        embeddings = torch.cat((features.unsqueeze(1), embeddings), 1)
        packed = pack_padded_sequence(embeddings, lengths, batch_first=True)
        hiddens, _ = self.lstm(packed)
        outputs = self.linear(hiddens[0])
        return outputs

    def sample(self, features, states=None):
        sampled_ids = []
        inputs = features.unsqueeze(1)
        for i in range(self.max_seg_length):
            hiddens, states = self.lstm(inputs, states)
            outputs = self.linear(hiddens.squeeze(1))
            _, predicted = outputs.max(1)
            sampled_ids.append(predicted)
            inputs = self.embed(predicted)
            inputs = inputs.unsqueeze(1)
        sampled_ids = torch.stack(sampled_ids, 1)
        return sampled_ids


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--num_epochs", type=int, default=6)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--learning_rate", type=float, default=0.003)
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(1)
    vocab = Vocabulary()
    for w in ["<pad>", "<start>", "<end>", "<unk>", "a", "that", "is"] + COLORS + SHAPES + SIZES:
        vocab.add_word(w)
    data_loader = DataLoader(ShapesCaptionDataset(640, vocab, 0), batch_size=args.batch_size,
                             shuffle=True, collate_fn=collate_fn)
    test_set = ShapesCaptionDataset(96, vocab, 1)

    encoder = EncoderCNN(32).to(device)
    decoder = DecoderRNN(32, 64, len(vocab), 1).to(device)
    criterion = nn.CrossEntropyLoss()
    params = list(decoder.parameters()) + list(encoder.linear.parameters()) + \
        list(encoder.bn.parameters()) + list(encoder.cnn.parameters())
    optimizer = torch.optim.Adam(params, lr=args.learning_rate)
    total_step = len(data_loader)
    for epoch in range(args.num_epochs):
        for i, (images, captions, lengths) in enumerate(data_loader):
            images = images.to(device)
            captions = captions.to(device)
            # the image feature is step 0, so the decoder predicts the whole caption
            targets = pack_padded_sequence(captions, lengths, batch_first=True)[0]
            features = encoder(images)
            outputs = decoder(features, captions[:, :-1], lengths)
            loss = criterion(outputs, targets)
            decoder.zero_grad()
            encoder.zero_grad()
            loss.backward()
            optimizer.step()
        print("Epoch [{}/{}], Step [{}/{}], Loss: {:.4f}, Perplexity: {:5.4f}"
              .format(epoch, args.num_epochs, i, total_step, loss.item(), np.exp(loss.item())))

    encoder.eval()
    decoder.eval()
    correct = total = 0
    test_loss = []
    with torch.no_grad():
        loader = DataLoader(test_set, batch_size=48, collate_fn=collate_fn)
        for images, captions, lengths in loader:
            targets = pack_padded_sequence(captions, lengths, batch_first=True)[0]
            features = encoder(images)
            test_loss.append(criterion(decoder(features, captions[:, :-1], lengths),
                                       targets).item())
            sampled_ids = decoder.sample(encoder(images)).cpu().numpy()
            for ids, cap, n in zip(sampled_ids, captions.numpy(), lengths):
                words = []
                for word_id in ids:
                    word = vocab.idx2word[int(word_id)]
                    words.append(word)
                    if word == "<end>":
                        break
                ref = [vocab.idx2word[int(t)] for t in cap[:n]]
                pred = ["<start>"] + words
                total += 1
                correct += int(set(pred) == set(ref))
    print("example:", " ".join(words))
    print(f"caption word-set accuracy {correct / total:.4f}")
    print(f"final_loss {np.mean(test_loss):.4f}")


if __name__ == "__main__":
    main()

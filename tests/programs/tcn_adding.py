"""A Temporal Convolutional Network (Bai, Kolter & Koltun 2018, the locuslab/TCN repo) on the
adding problem: TemporalBlock with dilated causal `nn.Conv1d` wrapped in the classic
`torch.nn.utils.weight_norm` (weight_g / weight_v), Chomp1d removing the right padding
(`x[:, :, :-self.chomp_size].contiguous()`), a 1x1 downsample residual, `init_weights` with
`.weight.data.normal_(0, 0.01)`, the last time step fed to a Linear, MSE, Adam, gradient
clipping, and `torch.randperm` batches over a pre-generated data set."""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import weight_norm


def data_generator(N, seq_length):
    X_num = torch.rand([N, 1, seq_length])
    X_mask = torch.zeros([N, 1, seq_length])
    Y = torch.zeros([N, 1])
    for i in range(N):
        positions = torch.randperm(seq_length)[:2]
        X_mask[i, 0, positions[0]] = 1
        X_mask[i, 0, positions[1]] = 1
        Y[i, 0] = X_num[i, 0, positions[0]] + X_num[i, 0, positions[1]]
    X = torch.cat((X_num, X_mask), dim=1)
    return X, Y


class Chomp1d(nn.Module):
    def __init__(self, chomp_size):
        super(Chomp1d, self).__init__()
        self.chomp_size = chomp_size

    def forward(self, x):
        return x[:, :, :-self.chomp_size].contiguous()


class TemporalBlock(nn.Module):
    def __init__(self, n_inputs, n_outputs, kernel_size, stride, dilation, padding, dropout=0.2):
        super(TemporalBlock, self).__init__()
        self.conv1 = weight_norm(nn.Conv1d(n_inputs, n_outputs, kernel_size, stride=stride,
                                           padding=padding, dilation=dilation))
        self.chomp1 = Chomp1d(padding)
        self.relu1 = nn.ReLU()
        self.dropout1 = nn.Dropout(dropout)
        self.conv2 = weight_norm(nn.Conv1d(n_outputs, n_outputs, kernel_size, stride=stride,
                                           padding=padding, dilation=dilation))
        self.chomp2 = Chomp1d(padding)
        self.relu2 = nn.ReLU()
        self.dropout2 = nn.Dropout(dropout)
        self.net = nn.Sequential(self.conv1, self.chomp1, self.relu1, self.dropout1,
                                 self.conv2, self.chomp2, self.relu2, self.dropout2)
        self.downsample = nn.Conv1d(n_inputs, n_outputs, 1) if n_inputs != n_outputs else None
        self.relu = nn.ReLU()
        self.init_weights()

    def init_weights(self):
        self.conv1.weight.data.normal_(0, 0.01)
        self.conv2.weight.data.normal_(0, 0.01)
        if self.downsample is not None:
            self.downsample.weight.data.normal_(0, 0.01)

    def forward(self, x):
        out = self.net(x)
        res = x if self.downsample is None else self.downsample(x)
        return self.relu(out + res)


class TemporalConvNet(nn.Module):
    def __init__(self, num_inputs, num_channels, kernel_size=2, dropout=0.2):
        super(TemporalConvNet, self).__init__()
        layers = []
        num_levels = len(num_channels)
        for i in range(num_levels):
            dilation_size = 2 ** i
            in_channels = num_inputs if i == 0 else num_channels[i - 1]
            out_channels = num_channels[i]
            layers += [TemporalBlock(in_channels, out_channels, kernel_size, stride=1,
                                     dilation=dilation_size,
                                     padding=(kernel_size - 1) * dilation_size,
                                     dropout=dropout)]
        self.network = nn.Sequential(*layers)

    def forward(self, x):
        return self.network(x)


class TCN(nn.Module):
    def __init__(self, input_size, output_size, num_channels, kernel_size, dropout):
        super(TCN, self).__init__()
        self.tcn = TemporalConvNet(input_size, num_channels, kernel_size=kernel_size,
                                   dropout=dropout)
        self.linear = nn.Linear(num_channels[-1], output_size)
        self.init_weights()

    def init_weights(self):
        self.linear.weight.data.normal_(0, 0.01)

    def forward(self, x):
        y1 = self.tcn(x)
        return self.linear(y1[:, :, -1])


def main():
    parser = argparse.ArgumentParser(description="Sequence Modeling - The Adding Problem")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--clip", type=float, default=1.0)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--ksize", type=int, default=4)
    parser.add_argument("--levels", type=int, default=3)
    parser.add_argument("--seq_len", type=int, default=30)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--nhid", type=int, default=24)
    parser.add_argument("--seed", type=int, default=1111)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    X_train, Y_train = data_generator(1600, args.seq_len)
    X_test, Y_test = data_generator(400, args.seq_len)
    channel_sizes = [args.nhid] * args.levels
    model = TCN(2, 1, channel_sizes, kernel_size=args.ksize, dropout=args.dropout)
    print("weight_norm parameters:", sorted(n for n, _ in model.named_parameters()
                                            if "tcn.network.0.conv1" in n))
    optimizer = getattr(torch.optim, "Adam")(model.parameters(), lr=args.lr)

    def evaluate():
        model.eval()
        with torch.no_grad():
            output = model(X_test)
            return F.mse_loss(output, Y_test).item()

    for ep in range(1, args.epochs + 1):
        model.train()
        total_loss = 0
        perm = torch.randperm(X_train.size(0))
        for i in range(0, X_train.size(0), args.batch_size):
            idx = perm[i:i + args.batch_size]
            x, y = X_train[idx], Y_train[idx]
            optimizer.zero_grad()
            output = model(x)
            loss = F.mse_loss(output, y)
            loss.backward()
            if args.clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            total_loss += loss.item()
        print(f"Train Epoch: {ep} \tLoss: {total_loss / (X_train.size(0) / args.batch_size):.6f}"
              f"\tTest loss: {evaluate():.6f}")
    print(f"final_loss {evaluate():.6f}")


if __name__ == "__main__":
    main()

"""VQ-VAE (van den Oord et al. 2017) in the style of the widely copied Zalando Research
notebook: a VectorQuantizerEMA module with `nn.Embedding` codebook, distances by the expanded
square (`torch.sum(x**2, dim=1, keepdim=True) + ... - 2 * torch.matmul(...)`),
`torch.argmin(...).unsqueeze(1)` + `scatter_(1, ...)` one-hot encodings, EMA cluster sizes and
sums kept as a buffer and an `nn.Parameter` updated through `.data` with Laplace smoothing,
the commitment loss, the straight-through estimator `inputs + (quantized - inputs).detach()`,
perplexity, permute/contiguous between BCHW and BHWC, a residual conv encoder/decoder with
ConvTranspose2d, and the reconstruction error normalised by the data variance."""
import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class VectorQuantizerEMA(nn.Module):
    def __init__(self, num_embeddings, embedding_dim, commitment_cost, decay, epsilon=1e-5):
        super(VectorQuantizerEMA, self).__init__()
        self._embedding_dim = embedding_dim
        self._num_embeddings = num_embeddings
        self._embedding = nn.Embedding(self._num_embeddings, self._embedding_dim)
        self._embedding.weight.data.normal_()
        self._commitment_cost = commitment_cost
        self.register_buffer("_ema_cluster_size", torch.zeros(num_embeddings))
        self._ema_w = nn.Parameter(torch.Tensor(num_embeddings, self._embedding_dim))
        self._ema_w.data.normal_()
        self._decay = decay
        self._epsilon = epsilon

    def forward(self, inputs):
        inputs = inputs.permute(0, 2, 3, 1).contiguous()
        input_shape = inputs.shape
        flat_input = inputs.view(-1, self._embedding_dim)
        distances = (torch.sum(flat_input ** 2, dim=1, keepdim=True)
                     + torch.sum(self._embedding.weight ** 2, dim=1)
                     - 2 * torch.matmul(flat_input, self._embedding.weight.t()))
        encoding_indices = torch.argmin(distances, dim=1).unsqueeze(1)
        encodings = torch.zeros(encoding_indices.shape[0], self._num_embeddings,
                                device=inputs.device)
        encodings.scatter_(1, encoding_indices, 1)
        quantized = torch.matmul(encodings, self._embedding.weight).view(input_shape)
        if self.training:
            self._ema_cluster_size = self._ema_cluster_size * self._decay + \
                (1 - self._decay) * torch.sum(encodings, 0)
            n = torch.sum(self._ema_cluster_size.data)
            self._ema_cluster_size = ((self._ema_cluster_size + self._epsilon)
                                      / (n + self._num_embeddings * self._epsilon) * n)
            dw = torch.matmul(encodings.t(), flat_input)
            self._ema_w = nn.Parameter(self._ema_w * self._decay + (1 - self._decay) * dw)
            self._embedding.weight = nn.Parameter(self._ema_w / self._ema_cluster_size.unsqueeze(1))
        e_latent_loss = F.mse_loss(quantized.detach(), inputs)
        loss = self._commitment_cost * e_latent_loss
        quantized = inputs + (quantized - inputs).detach()
        avg_probs = torch.mean(encodings, dim=0)
        perplexity = torch.exp(-torch.sum(avg_probs * torch.log(avg_probs + 1e-10)))
        return loss, quantized.permute(0, 3, 1, 2).contiguous(), perplexity, encodings


class Residual(nn.Module):
    def __init__(self, in_channels, num_hiddens, num_residual_hiddens):
        super(Residual, self).__init__()
        self._block = nn.Sequential(
            nn.ReLU(True),
            nn.Conv2d(in_channels, num_residual_hiddens, kernel_size=3, stride=1, padding=1,
                      bias=False),
            nn.ReLU(True),
            nn.Conv2d(num_residual_hiddens, num_hiddens, kernel_size=1, stride=1, bias=False))

    def forward(self, x):
        return x + self._block(x)


class Encoder(nn.Module):
    def __init__(self, in_channels, num_hiddens, num_residual_hiddens):
        super(Encoder, self).__init__()
        self._conv_1 = nn.Conv2d(in_channels, num_hiddens // 2, kernel_size=4, stride=2,
                                 padding=1)
        self._conv_2 = nn.Conv2d(num_hiddens // 2, num_hiddens, kernel_size=3, stride=1,
                                 padding=1)
        self._residual = Residual(num_hiddens, num_hiddens, num_residual_hiddens)

    def forward(self, inputs):
        x = F.relu(self._conv_1(inputs))
        x = self._conv_2(x)
        return F.relu(self._residual(x))


class Decoder(nn.Module):
    def __init__(self, in_channels, num_hiddens, num_residual_hiddens):
        super(Decoder, self).__init__()
        self._conv_1 = nn.Conv2d(in_channels, num_hiddens, kernel_size=3, stride=1, padding=1)
        self._residual = Residual(num_hiddens, num_hiddens, num_residual_hiddens)
        self._conv_trans_1 = nn.ConvTranspose2d(num_hiddens, 1, kernel_size=4, stride=2,
                                                padding=1)

    def forward(self, inputs):
        x = self._conv_1(inputs)
        x = F.relu(self._residual(x))
        return self._conv_trans_1(x)


class Model(nn.Module):
    def __init__(self, num_hiddens, num_residual_hiddens, num_embeddings, embedding_dim,
                 commitment_cost, decay=0):
        super(Model, self).__init__()
        self._encoder = Encoder(1, num_hiddens, num_residual_hiddens)
        self._pre_vq_conv = nn.Conv2d(num_hiddens, embedding_dim, kernel_size=1, stride=1)
        self._vq_vae = VectorQuantizerEMA(num_embeddings, embedding_dim, commitment_cost, decay)
        self._decoder = Decoder(embedding_dim, num_hiddens, num_residual_hiddens)

    def forward(self, x):
        z = self._pre_vq_conv(self._encoder(x))
        loss, quantized, perplexity, _ = self._vq_vae(z)
        x_recon = self._decoder(quantized)
        return loss, x_recon, perplexity


def make_images(n, rng):
    """12x12 images of one or two axis-aligned bars."""
    imgs = np.zeros((n, 1, 12, 12), np.float32)
    for i in range(n):
        for _ in range(rng.randint(1, 3)):
            p = rng.randint(0, 10)
            if rng.rand() < 0.5:
                imgs[i, 0, p:p + 2, :] = 1
            else:
                imgs[i, 0, :, p:p + 2] = 1
    return imgs - 0.5


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--num_training_updates", type=int, default=300)
    parser.add_argument("--batch_size", type=int, default=32)
    args = parser.parse_args()
    rng = np.random.RandomState(0)
    train = make_images(2000, rng)
    test = make_images(256, rng)
    data_variance = np.var(train + 0.5)
    torch.manual_seed(0)
    loader = DataLoader(TensorDataset(torch.from_numpy(train)), batch_size=args.batch_size,
                        shuffle=True, drop_last=True)
    model = Model(32, 16, 32, 8, commitment_cost=0.25, decay=0.95)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3, amsgrad=False)
    model.train()
    train_res_recon_error, train_res_perplexity = [], []
    i = 0
    while i < args.num_training_updates:
        for (data,) in loader:
            optimizer.zero_grad()
            vq_loss, data_recon, perplexity = model(data)
            recon_error = F.mse_loss(data_recon, data) / data_variance
            loss = recon_error + vq_loss
            loss.backward()
            optimizer.step()
            train_res_recon_error.append(recon_error.item())
            train_res_perplexity.append(perplexity.item())
            i += 1
            if i % 100 == 0:
                print(f"{i} iterations, recon_error: {np.mean(train_res_recon_error[-100:]):.3f}"
                      f", perplexity: {np.mean(train_res_perplexity[-100:]):.3f}")
            if i >= args.num_training_updates:
                break
    model.eval()
    with torch.no_grad():
        x = torch.from_numpy(test)
        _, recon, perplexity = model(x)
        err = (F.mse_loss(recon, x) / data_variance).item()
    print(f"test perplexity {perplexity.item():.2f}")
    print(f"final_loss {err:.4f}")


if __name__ == "__main__":
    main()

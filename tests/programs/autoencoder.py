"""Dense autoencoder on synthetic low-rank data: encoder/decoder nn.Sequential, MSE
reconstruction, DataLoader over a TensorDataset, latent codes extracted under torch.no_grad."""
import argparse

import torch
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset


class Autoencoder(nn.Module):
    def __init__(self, d_in=32, latent=4):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(d_in, 64), nn.ReLU(True), nn.Linear(64, 16),
                                     nn.ReLU(True), nn.Linear(16, latent))
        self.decoder = nn.Sequential(nn.Linear(latent, 16), nn.ReLU(True), nn.Linear(16, 64),
                                     nn.ReLU(True), nn.Linear(64, d_in), nn.Tanh())

    def forward(self, x):
        return self.decoder(self.encoder(x))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--num_epochs", type=int, default=25)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--learning_rate", type=float, default=3e-3)
    args = parser.parse_args()
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(123)
    basis = torch.randn(4, 32, generator=g)
    codes = torch.randn(1024, 4, generator=g)
    data = torch.tanh(0.5 * codes @ basis)
    loader = DataLoader(TensorDataset(data), batch_size=args.batch_size, shuffle=True)
    model = Autoencoder()
    criterion = nn.MSELoss()
    optimizer = optim.Adam(model.parameters(), lr=args.learning_rate, weight_decay=1e-5)
    for epoch in range(args.num_epochs):
        for (img,) in loader:
            output = model(img)
            loss = criterion(output, img)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if epoch % 5 == 0:
            print(f"epoch [{epoch + 1}/{args.num_epochs}], loss:{loss.item():.4f}")
    model.eval()
    with torch.no_grad():
        z = model.encoder(data)
        recon = model.decoder(z)
        mse = nn.functional.mse_loss(recon, data).item()
    print("latent", tuple(z.shape), "variance per dim", [round(v, 3) for v in z.var(0).tolist()])
    print(f"final_loss {mse:.5f}")

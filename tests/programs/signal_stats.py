"""Signal processing and robust statistics: a noisy multi-tone signal denoised by a learned
frequency-domain filter (torch.fft.rfft / irfft, complex multiplication, gradients through
complex tensors), torch.stft / istft round trip with a hann_window, fftshift / fftfreq peak
finding, and statistics: quantile (interpolation modes), nanquantile, median, kthvalue,
histc, bucketize, searchsorted, percentile-based outlier clipping. Deterministic."""
import math

import torch
import torch.fft


def make_signal(n=512, fs=128.0):
    t = torch.arange(n) / fs
    clean = torch.sin(2 * math.pi * 5 * t) + 0.5 * torch.sin(2 * math.pi * 12 * t)
    noise = 0.4 * torch.sin(2 * math.pi * 41 * t + 0.3) + 0.3 * torch.cos(2 * math.pi * 53.5 * t)
    return t, clean, clean + noise


if __name__ == "__main__":
    fs = 128.0
    t, clean, noisy = make_signal(fs=fs)
    n = noisy.numel()
    # spectrum peaks
    spec = torch.fft.rfft(noisy)
    freqs = torch.fft.rfftfreq(n, d=1 / fs)
    top = freqs[spec.abs().topk(4).indices].sort().values
    print("peaks (Hz)", top.tolist())
    full = torch.fft.fftshift(torch.fft.fft(noisy))
    ffreq = torch.fft.fftshift(torch.fft.fftfreq(n, 1 / fs))
    print("two-sided peak", ffreq[full.abs().argmax()].abs().item())
    # learn a per-bin complex gain (magnitude and phase) by gradient descent
    gain_re = torch.zeros(spec.numel(), requires_grad=True)
    gain_im = torch.zeros(spec.numel(), requires_grad=True)
    opt = torch.optim.Adam([gain_re, gain_im], lr=0.05)
    for step in range(200):
        gain = torch.complex(gain_re, gain_im)
        out = torch.fft.irfft(torch.fft.rfft(noisy) * gain, n=n)
        loss = torch.mean((out - clean) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    filt_loss = loss.item()
    print("learned filter mse", filt_loss, "noisy mse", torch.mean((noisy - clean) ** 2).item())
    # polar / angle / abs
    z = torch.polar(torch.ones(4), torch.tensor([0.1, 1.0, 2.0, -2.5]))
    assert torch.allclose(z.angle(), torch.tensor([0.1, 1.0, 2.0, -2.5]))
    # STFT round trip
    win = torch.hann_window(64)
    S = torch.stft(noisy, n_fft=64, hop_length=16, window=win, return_complex=True)
    rec = torch.istft(S, n_fft=64, hop_length=16, window=win, length=n)
    stft_err = (rec - noisy).abs().max().item()
    band = S.abs().mean(-1)
    print("stft", tuple(S.shape), S.dtype, "roundtrip err", stft_err,
          "loudest bin", band.argmax().item())
    assert stft_err < 1e-4
    # statistics
    x = torch.cat([torch.linspace(-1, 1, 101) ** 3, torch.tensor([8.0, -9.0, 12.0])])
    qs = torch.tensor([0.05, 0.25, 0.5, 0.75, 0.95])
    stats = [torch.quantile(x, qs, interpolation=m) for m in
             ("linear", "lower", "higher", "midpoint", "nearest")]
    xn = x.clone()
    xn[::10] = float("nan")
    nq = torch.nanquantile(xn, qs)
    med = x.median()
    kth = torch.kthvalue(x, 10).values
    lo, hi = torch.quantile(x, torch.tensor([0.01, 0.99]))
    clipped = x.clamp(lo, hi)
    hist = torch.histc(x, bins=8, min=-1, max=1)
    edges = torch.linspace(-1, 1, 5)
    buckets = torch.bucketize(x, edges)
    ss = torch.searchsorted(edges, torch.tensor([-0.5, 0.0, 0.7]), right=True)
    q2 = torch.quantile(torch.arange(12.0).reshape(3, 4), 0.5, dim=1, keepdim=True)
    print("quantiles", [s.tolist() for s in stats])
    print("nanquantile", nq.tolist(), "median", med.item(), "kth", kth.item())
    print("hist", hist.tolist(), "buckets", buckets.bincount().tolist(), "ss", ss.tolist(),
          "q2", q2.flatten().tolist())
    stat_sum = sum(s.sum().item() for s in stats) + nq.sum().item() + med.item() + kth.item() + \
        clipped.std().item() + hist.sum().item() + buckets.float().mean().item() + \
        ss.sum().item() + q2.sum().item()
    print("stat_sum", stat_sum)
    print(f"final_loss {filt_loss + stat_sum:.6f}")

"""Feature engineering on a small tabular/time-series data set with the less common tensor ops
(the "PyTorch tensor cookbook" blog style), deterministic (NumPy RandomState data): rolling
windows by `Tensor.unfold`, lag features by `torch.roll`/`torch.diff`/`narrow`, running
extrema by `torch.cummax`/`cummin`, `logcumsumexp`, `torch.unique(return_inverse,
return_counts)` category codes, `repeat_interleave`, `take_along_dim`, `torch.bucketize`
binning, `torch.histogram`, `nan_to_num`, `isclose`, `count_nonzero`, interaction features by
`torch.combinations` / `cartesian_prod` / `tril_indices`, `torch.kron` / `block_diag` /
`diag_embed` / `tensordot` / `einsum` covariances, `torch.special` (erf, expit, logit, xlogy,
gammaln, digamma, ndtr, ndtri, log_ndtr, entr, i0, sinc), `trapezoid` / `cumulative_trapezoid`,
`vander` polynomial features, `index_put_(accumulate=True)`, `index_fill_`, `masked_scatter_`,
`scatter_reduce`, `addmm` / `baddbmm` / `addcmul` / `lerp`. A ridge regression on the features
is solved in closed form; the metric is its test MSE (deterministic)."""
import numpy as np
import torch
from torch.testing import assert_close


def make_series(rs, n):
    t = np.arange(n, dtype=np.float64)
    x = np.sin(t / 7.0) + 0.3 * np.cos(t / 3.0) + 0.1 * rs.randn(n)
    x[rs.rand(n) < 0.02] = np.nan
    cat = rs.randint(0, 5, size=n) * 10 + 3
    return torch.tensor(x), torch.tensor(cat)


def features(x, cat, window=8):
    x = torch.nan_to_num(x, nan=0.0)
    win = x.unfold(0, window, 1)                        # (n - w + 1, w)
    target = x[window:]
    win = win[:-1]                                      # predict the next value
    cat = cat[window - 1:-1]
    mean = win.mean(1)
    std = win.std(1, unbiased=False)
    lag1 = torch.roll(x, 1)[window - 1:-1]
    d = torch.diff(win, dim=1)
    runmax = torch.cummax(win, dim=1).values[:, -1]
    runmin, argmin = torch.cummin(win, dim=1)
    lse = torch.logcumsumexp(win, dim=1)[:, -1]
    slope = torch.narrow(d, 1, d.shape[1] - 3, 3).mean(1)
    # category codes: unique with inverse/counts, frequency encoding
    values, inverse, counts = torch.unique(cat, return_inverse=True, return_counts=True)
    freq = counts[inverse].double() / len(cat)
    onehot = torch.zeros(len(cat), len(values), dtype=torch.float64)
    onehot.index_put_((torch.arange(len(cat)), inverse), torch.tensor(1.0, dtype=torch.float64),
                    accumulate=True)
    # bins of the window mean
    edges = torch.linspace(-1.2, 1.2, 7, dtype=torch.float64)
    bins = torch.bucketize(mean, edges)
    hist, hedges = torch.histogram(mean, bins=6, range=(-1.2, 1.2))
    assert_close(hist.sum(), torch.tensor(float(((mean >= -1.2) & (mean <= 1.2)).sum()),
                                          dtype=torch.float64))
    bin_onehot = torch.nn.functional.one_hot(bins, len(edges) + 1).double()
    # special functions of standardised values
    z = (lag1 - mean) / (std + 1e-3)
    sp = torch.stack([torch.special.erf(z / 3), torch.special.expit(z),
                      torch.special.ndtr(z), torch.special.log_ndtr(-z.abs()),
                      torch.special.sinc(z / 4), torch.special.entr(torch.special.expit(z)),
                      torch.special.i0(z.clamp(-3, 3)) / 5], dim=1)
    base = torch.stack([mean, std, lag1, runmax, runmin[:, -1], argmin[:, -1].double() / 8,
                        lse / 4, slope, freq], dim=1)
    # pairwise interactions of the base features
    pairs = torch.combinations(torch.arange(base.shape[1]), r=2)
    inter = base[:, pairs[:, 0]] * base[:, pairs[:, 1]]
    poly = torch.vander(mean, N=4, increasing=True)[:, 1:]
    X = torch.cat([base, inter, sp, onehot, bin_onehot, poly], dim=1)
    return X, target


def checks(rs):
    a = torch.tensor(rs.randn(3, 4))
    b = torch.tensor(rs.randn(4, 5))
    c = torch.tensor(rs.randn(3, 5))
    assert_close(torch.addmm(c, a, b, beta=0.5, alpha=2.0), 0.5 * c + 2.0 * a @ b)
    bb = torch.tensor(rs.randn(2, 3, 4))
    assert_close(torch.baddbmm(torch.zeros(2, 3, 3, dtype=torch.float64), bb, bb.mT),
                 torch.einsum("bij,bkj->bik", bb, bb))
    assert_close(torch.tensordot(a, b, dims=([1], [0])), a @ b)
    assert_close(torch.kron(torch.eye(2, dtype=torch.float64), a),
                 torch.block_diag(a, a))
    assert_close(torch.addcmul(c, c, c, value=0.5), c + 0.5 * c * c)
    assert_close(torch.lerp(a, a * 3, 0.25), a * 1.5)
    idx = torch.tril_indices(4, 4, offset=-1)
    m = torch.zeros(4, 4, dtype=torch.float64)
    m[idx[0], idx[1]] = 1.0
    assert_close(m, torch.ones(4, 4, dtype=torch.float64).tril(-1))
    grid = torch.cartesian_prod(torch.arange(3), torch.arange(2))
    assert grid.shape == (6, 2) and grid[-1].tolist() == [2, 1]
    r = torch.arange(3).repeat_interleave(torch.tensor([1, 2, 3]))
    assert r.tolist() == [0, 1, 1, 2, 2, 2]
    order = torch.argsort(a, dim=1)
    assert_close(torch.take_along_dim(a, order, dim=1), torch.sort(a, dim=1).values)
    v = torch.zeros(6)
    v.index_fill_(0, torch.tensor([1, 4]), 2.0)
    v.masked_scatter_(v == 0, torch.arange(10.0))
    assert v.tolist() == [0, 2, 1, 2, 2, 3], v
    s = torch.zeros(3).scatter_reduce(0, torch.tensor([0, 0, 2, 2]),
                                      torch.tensor([1.0, 5.0, 2.0, -1.0]), reduce="amax",
                                      include_self=False)
    assert s.tolist() == [5.0, 0.0, 2.0]
    assert torch.count_nonzero(torch.tensor([[0, 1], [2, 0]]), dim=0).tolist() == [1, 1]
    assert torch.isclose(torch.tensor([1.0, 1.001]), torch.tensor([1.0, 1.0]),
                         atol=1e-4).tolist() == [True, False]
    p = torch.tensor([0.2, 0.7])
    assert_close(torch.special.logit(torch.special.expit(p)), p)
    assert_close(torch.special.ndtr(torch.special.ndtri(p)), p)
    assert_close(torch.special.xlogy(torch.tensor([0.0, 2.0]), torch.tensor([0.0, 3.0])),
                 torch.tensor([0.0, 2.0 * np.log(3.0)], dtype=torch.float32))
    assert_close(torch.special.digamma(torch.tensor(1.0)), torch.tensor(-0.5772156649))
    assert_close(torch.special.gammaln(torch.tensor(5.0)), torch.tensor(np.log(24.0),
                                                                        dtype=torch.float32))
    xs = torch.linspace(0, np.pi, 101, dtype=torch.float64)
    assert_close(torch.trapezoid(torch.sin(xs), xs), torch.tensor(2.0, dtype=torch.float64),
                 atol=1e-3, rtol=0)
    ct = torch.cumulative_trapezoid(torch.sin(xs), xs)
    assert_close(ct[-1], torch.trapezoid(torch.sin(xs), xs))
    cov = torch.diag_embed(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert cov.shape == (2, 2, 2) and cov[1, 1, 1].item() == 4.0


def main():
    rs = np.random.RandomState(42)
    checks(rs)
    x, cat = make_series(rs, 400)
    X, y = features(x, cat)
    print("features", tuple(X.shape), "nan", torch.isnan(X).any().item())
    n_train = 300
    mu, sd = X[:n_train].mean(0), X[:n_train].std(0).clamp_min(1e-6)
    Xs = (X - mu) / sd
    Xs = torch.cat([torch.ones(len(Xs), 1, dtype=Xs.dtype), Xs], dim=1)
    A, b = Xs[:n_train], y[:n_train]
    lam = 1.0
    w = torch.linalg.solve(A.T @ A + lam * torch.eye(A.shape[1], dtype=A.dtype), A.T @ b)
    pred = Xs[n_train:] @ w
    mse = torch.mean((pred - y[n_train:]) ** 2).item()
    base = torch.mean((y[n_train:] - y[:n_train].mean()) ** 2).item()
    print(f"ridge test mse {mse:.6f} (predicting the mean: {base:.6f})")
    assert mse < base
    print(f"final_loss {mse:.10f}")


if __name__ == "__main__":
    main()

"""A Kalman filter and RTS smoother for 2-D constant-velocity tracking, written with
torch.linalg in float64 (deterministic: the trajectory comes from NumPy's RandomState). The
continuous-time model is discretised with `torch.linalg.matrix_exp` (Van Loan's block trick),
the filter uses `linalg.cholesky` + `cholesky_solve` for the gain, `linalg.slogdet` and
`linalg.solve` for the innovation log-likelihood (checked against
`distributions.MultivariateNormal`), the Joseph-form covariance update; the RTS smoother uses
`linalg.lu_factor` / `lu_solve`. The noise levels are fitted by maximum likelihood with Adam
through the whole filter (autograd through cholesky/solve/slogdet). Side checks: an
observation-matrix estimate by `linalg.lstsq`, `linalg.pinv`, `linalg.eigh` of the steady-state
covariance, `linalg.svd` / `qr` / `det` / `inv` / `matrix_norm` / `vector_norm` / `multi_dot`
identities with `torch.testing.assert_close`. Metric: the fitted negative log-likelihood per
step plus the smoother's position RMSE."""
import argparse

import numpy as np
import torch
from torch.distributions import MultivariateNormal
from torch.testing import assert_close


def discretize(F_c, L_q, dt):
    """Van Loan: matrix_exp of [[-F, Q], [0, F^T]] dt gives A = exp(F dt) and Q_d."""
    n = F_c.shape[0]
    M = torch.zeros(2 * n, 2 * n, dtype=F_c.dtype)
    M[:n, :n] = -F_c
    M[:n, n:] = L_q
    M[n:, n:] = F_c.T
    E = torch.linalg.matrix_exp(M * dt)
    A = E[n:, n:].T
    Q = A @ E[:n, n:]
    return A, 0.5 * (Q + Q.T)


def model(log_q, log_r, dt):
    F_c = torch.zeros(4, 4, dtype=torch.float64)
    F_c[0, 2] = F_c[1, 3] = 1.0
    L_q = torch.diag(torch.cat([torch.zeros(2, dtype=torch.float64), log_q.exp().expand(2)]))
    A, Q = discretize(F_c, L_q, dt)
    H = torch.eye(2, 4, dtype=torch.float64)
    R = log_r.exp() * torch.eye(2, dtype=torch.float64)
    return A, Q, H, R


def kalman_filter(ys, A, Q, H, R, m0, P0, check=False):
    m, P = m0, P0
    nll = ys.new_zeros(())
    means, covs, preds = [], [], []
    eye = torch.eye(P0.shape[0], dtype=P0.dtype)
    for t, y in enumerate(ys):
        m_pred = A @ m
        P_pred = torch.linalg.multi_dot([A, P, A.T]) + Q
        preds.append((m_pred, P_pred))
        S = H @ P_pred @ H.T + R
        v = y - H @ m_pred
        L = torch.linalg.cholesky(S)
        K = torch.cholesky_solve(H @ P_pred, L).T
        sign, logdet = torch.linalg.slogdet(S)
        quad = v @ torch.linalg.solve(S, v)
        step_nll = 0.5 * (quad + logdet + 2 * np.log(2 * np.pi))
        if check and t % 10 == 0:
            ref = -MultivariateNormal(H @ m_pred, scale_tril=L).log_prob(y)
            assert_close(step_nll, ref)
            assert sign.item() == 1.0
        nll = nll + step_nll
        m = m_pred + K @ v
        IKH = eye - K @ H
        P = IKH @ P_pred @ IKH.T + K @ R @ K.T
        means.append(m)
        covs.append(P)
    return nll, torch.stack(means), torch.stack(covs), preds


def rts_smoother(means, covs, preds, A):
    ms, Ps = [means[-1]], [covs[-1]]
    for t in range(len(means) - 2, -1, -1):
        m_pred, P_pred = preds[t + 1]
        LU, piv = torch.linalg.lu_factor(P_pred)
        G = torch.linalg.lu_solve(LU, piv, A @ covs[t]).T
        ms.append(means[t] + G @ (ms[-1] - m_pred))
        Ps.append(covs[t] + G @ (Ps[-1] - P_pred) @ G.T)
    return torch.stack(ms[::-1]), torch.stack(Ps[::-1])


def simulate(steps, dt, q, r, seed):
    rs = np.random.RandomState(seed)
    x = np.array([0.0, 0.0, 1.0, 0.5])
    xs, ys = [], []
    for _ in range(steps):
        acc = rs.randn(2) * np.sqrt(q * dt)
        x = x + dt * np.array([x[2], x[3], 0, 0]) + np.concatenate([0.5 * dt * acc, acc])
        xs.append(x.copy())
        ys.append(x[:2] + rs.randn(2) * np.sqrt(r))
    return torch.tensor(np.array(xs)), torch.tensor(np.array(ys))


def linalg_identities(A, Q):
    U, S, Vh = torch.linalg.svd(A)
    assert_close(U @ torch.diag(S) @ Vh, A)
    Qm, Rm = torch.linalg.qr(A)
    assert_close(Qm @ Rm, A)
    assert_close(torch.linalg.det(A), torch.prod(S) * torch.linalg.det(U @ Vh))
    assert_close(torch.linalg.inv(A) @ A, torch.eye(4, dtype=A.dtype))
    assert_close(torch.linalg.matrix_norm(A, ord=2), S.max())
    assert_close(torch.linalg.matrix_norm(A), torch.linalg.vector_norm(A.flatten()))
    evals, evecs = torch.linalg.eigh(Q)
    assert_close(evecs @ torch.diag_embed(evals) @ evecs.mT, Q)
    assert (evals > -1e-12).all(), evals
    return S


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--iters", type=int, default=8)
    args = p.parse_args()
    torch.set_default_dtype(torch.float64)
    dt = 0.1
    xs, ys = simulate(args.steps, dt, q=0.5, r=0.05, seed=3)

    # least-squares estimate of the observation map from the true states
    H_hat = torch.linalg.lstsq(xs, ys).solution.T
    assert_close(H_hat[:, :2], torch.eye(2), atol=0.2, rtol=0)
    assert_close(torch.linalg.pinv(xs) @ ys, H_hat.T)

    log_q = torch.tensor(0.0, requires_grad=True)
    log_r = torch.tensor(-1.0, requires_grad=True)
    m0 = torch.tensor([0.0, 0.0, 0.0, 0.0])
    P0 = torch.eye(4)
    A, Q, H, R = model(log_q, log_r, dt)
    S = linalg_identities(A.detach(), Q.detach())
    print("singular values of A", [round(s, 4) for s in S.tolist()])

    opt = torch.optim.Adam([log_q, log_r], lr=0.1)
    for it in range(args.iters):
        opt.zero_grad()
        A, Q, H, R = model(log_q, log_r, dt)
        nll, *_ = kalman_filter(ys, A, Q, H, R, m0, P0, check=(it == 0))
        nll.backward()
        opt.step()
        if it % 5 == 0:
            print(f"iter {it} nll/step {nll.item() / args.steps:.5f} q {log_q.exp().item():.4f} "
                  f"r {log_r.exp().item():.4f}")
    with torch.no_grad():
        A, Q, H, R = model(log_q, log_r, dt)
        nll, means, covs, preds = kalman_filter(ys, A, Q, H, R, m0, P0)
        sm, sP = rts_smoother(means, covs, preds, A)
    filt_rmse = (means[:, :2] - xs[:, :2]).pow(2).sum(1).mean().sqrt().item()
    smooth_rmse = (sm[:, :2] - xs[:, :2]).pow(2).sum(1).mean().sqrt().item()
    raw_rmse = (ys - xs[:, :2]).pow(2).sum(1).mean().sqrt().item()
    print(f"rmse raw {raw_rmse:.4f} filtered {filt_rmse:.4f} smoothed {smooth_rmse:.4f}")
    assert smooth_rmse < filt_rmse < raw_rmse
    P_inf = covs[-1]
    print("steady-state position variances", torch.linalg.eigvalsh(P_inf[:2, :2]).tolist())
    print(f"final_loss {nll.item() / args.steps + smooth_rmse:.8f}")


if __name__ == "__main__":
    main()

"""Optimizers on complex parameters update them as PyTorch does: as (real, imaginary) pairs
(``view_as_real`` of the parameter, gradient and state); Adam, RMSprop, Adagrad... used to mix
the two parts (|g|^2 where torch squares each part). Compared with torch, with the state's
keys, shapes and dtypes (complex, as torch keeps them)."""
import numpy as np
import pytest
import torch

import cadenza

P0 = np.array([[0.3 + 0.5j, -1.2 + 0.1j, 0.7 - 0.9j], [0.05 - 0.2j, 2.0 + 1.0j, -0.4 - 0.3j]])
CASES = [("Adam", {}), ("Adam", dict(amsgrad=True, weight_decay=0.1)), ("AdamW", {}),
         ("AdamW", dict(maximize=True)), ("RMSprop", {}),
         ("RMSprop", dict(momentum=0.5, centered=True)), ("Adagrad", {}), ("Adamax", {}),
         ("NAdam", {}), ("RAdam", {}), ("Adadelta", {}), ("ASGD", {}), ("Rprop", {}),
         ("SGD", dict(momentum=0.9, weight_decay=0.1, nesterov=True))]


def _train(m, name, kw):
    p = m.nn.Parameter(m.tensor(P0.copy()))
    opt = getattr(m.optim, name)([p], lr=0.1, **kw)
    scale = m.arange(1, 4, dtype=m.float64)
    for _ in range(4):
        opt.zero_grad()
        ((p.abs() ** 2 * scale).sum() + (p.real * p.imag).sum()).backward()
        opt.step()
    state = {k: (tuple(v.shape), str(v.dtype).split(".")[-1]) for k, v in opt.state[p].items()
             if hasattr(v, "shape")}
    return p.detach().numpy().copy(), state


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}{'-' + '-'.join(k) if k else ''}"
                                               for n, k in CASES])
def test_complex_parameter_updates_match_torch(name, kw):
    got, got_state = _train(cadenza, name, kw)
    want, want_state = _train(torch, name, kw)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert got_state == want_state

"""Complex elementwise maths, reductions, shape ops and matmul vs PyTorch: values, dtypes and
the gradients of a real loss (PyTorch's convention, grad = dL/dre + i dL/dim)."""
import numpy as np
import pytest

from complex_helpers import carray, rarray, check

Z = carray(3, 4)
W = carray(3, 4, seed=1)
R = rarray(3, 4, seed=2)
ZP = Z + 3  # away from log/sqrt branch cuts' trouble and zero

UNARY = {
    "neg": lambda L, z: -z,
    "exp": lambda L, z: z.exp(),
    "log": lambda L, z: L.log(z),
    "sqrt": lambda L, z: z.sqrt(),
    "rsqrt": lambda L, z: z.rsqrt(),
    "sin": lambda L, z: z.sin(),
    "cos": lambda L, z: z.cos(),
    "tan": lambda L, z: z.tan(),
    "tanh": lambda L, z: z.tanh(),
    "sinh": lambda L, z: z.sinh(),
    "cosh": lambda L, z: z.cosh(),
    "sigmoid": lambda L, z: z.sigmoid(),
    "reciprocal": lambda L, z: z.reciprocal(),
    "square": lambda L, z: z.square(),
    "pow2": lambda L, z: z ** 2,
    "pow_half": lambda L, z: z ** 0.5,
    "pow_complex_scalar": lambda L, z: z ** (1 + 0.5j),
    "abs": lambda L, z: z.abs(),
    "angle": lambda L, z: z.angle(),
    "sgn": lambda L, z: z.sgn(),
    "conj": lambda L, z: z.conj(),
    "conj_physical": lambda L, z: L.conj_physical(z),
    "resolve_conj": lambda L, z: z.conj().resolve_conj() * 2,
    "real": lambda L, z: z.real,
    "imag": lambda L, z: z.imag,
    "real_fn": lambda L, z: L.real(z) * L.imag(z),
    "mul_conj": lambda L, z: z * z.conj(),
    "clone": lambda L, z: z.clone(),
    "div_scalar": lambda L, z: z / 2.5,
    "rdiv": lambda L, z: 1 / z,
    "scalar_mul_complex": lambda L, z: z * (2 - 1j),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary(name):
    check(UNARY[name], ZP)


@pytest.mark.parametrize("name", ["exp", "sin", "mul_conj", "abs", "pow2", "real_fn"])
def test_unary_complex64(name):
    check(UNARY[name], ZP.astype(np.complex64), rtol=2e-5, atol=1e-5)


BINARY = {
    "add": lambda L, a, b: a + b,
    "sub": lambda L, a, b: a - b,
    "mul": lambda L, a, b: a * b,
    "div": lambda L, a, b: a / b,
    "pow": lambda L, a, b: a ** b,
    "torch_mul": lambda L, a, b: L.mul(a, b),
    "where": lambda L, a, b: L.where(a.real > 0, a, b),
}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_complex_complex(name):
    check(BINARY[name], ZP, W)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div"])
def test_binary_complex_real(name):
    """A real input of a complex op gets the real part of its gradient, as in torch."""
    check(BINARY[name], ZP, R)
    check(BINARY[name], R, ZP)


@pytest.mark.parametrize("name", ["add", "mul", "div"])
def test_binary_broadcast(name):
    check(BINARY[name], ZP, W[0])
    check(BINARY[name], R[:, :1], ZP)


def test_real_tensor_times_python_complex():
    check(lambda L, x: x * 1j + (2 - 1j), R)
    check(lambda L, x: (x * (1 + 1j)).abs(), R.astype(np.float32), rtol=1e-5, atol=1e-6)


REDUCE = {
    "sum": lambda L, z: z.sum(),
    "sum_dim": lambda L, z: z.sum(1, keepdim=True),
    "mean": lambda L, z: z.mean(),
    "mean_dim": lambda L, z: z.mean(0),
    "prod": lambda L, z: z.prod(1),
    "cumsum": lambda L, z: z.cumsum(1),
    "cumprod": lambda L, z: z.cumprod(1),
    "var": lambda L, z: z.var(),
    "var_dim": lambda L, z: z.var(1, correction=0),
    "std": lambda L, z: z.std(0),
    "norm": lambda L, z: z.norm(),
    "norm_dim": lambda L, z: L.norm(z, dim=1),
    "norm_p1": lambda L, z: L.norm(z, p=1),
    "vdot": lambda L, z: L.vdot(z[0], z[1]),
    "dot": lambda L, z: L.dot(z[0], z[1]),
    "mv": lambda L, z: L.mv(z, z[0]),
    "trace": lambda L, z: L.trace(z[:, :3]),
    "einsum_diag": lambda L, z: L.einsum("ij,ij->i", z, z),
    "mse_real_parts": lambda L, z: L.nn.functional.mse_loss(L.view_as_real(z),
                                                            L.view_as_real(z * 0.5)),
}


@pytest.mark.parametrize("name", sorted(REDUCE))
def test_reductions(name):
    check(REDUCE[name], ZP)


SHAPE = {
    "reshape": lambda L, z: z.reshape(4, 3),
    "view": lambda L, z: z.view(2, 6),
    "flatten": lambda L, z: z.flatten(),
    "transpose": lambda L, z: z.transpose(0, 1),
    "t": lambda L, z: z.t() * 2,
    "permute": lambda L, z: z.unsqueeze(0).permute(2, 0, 1),
    "squeeze": lambda L, z: z[:1].squeeze(0),
    "expand": lambda L, z: z[:1].expand(3, 4) * 1,
    "getitem": lambda L, z: z[1:, ::2],
    "index_tensor": lambda L, z: z[L.tensor([2, 0, 2])],
    "cat": lambda L, z: L.cat([z, z * 2], 1),
    "stack": lambda L, z: L.stack([z, z.conj()], 0),
    "chunk": lambda L, z: z.chunk(2, 1),
    "split": lambda L, z: L.split(z, [1, 2], 0),
    "flip": lambda L, z: z.flip(0),
    "roll": lambda L, z: z.roll(1, 1),
    "contiguous": lambda L, z: z.t().contiguous(),
    "repeat": lambda L, z: z.repeat(2, 1),
    "unbind": lambda L, z: z.unbind(0),
    "tril": lambda L, z: z.tril(),
    "gather": lambda L, z: z.gather(1, L.tensor([[0, 1], [3, 3], [2, 0]])),
    "masked_fill": lambda L, z: z.masked_fill(z.real > 0, 0),
    "index_select": lambda L, z: z.index_select(1, L.tensor([0, 2])),
    "scatter_add": lambda L, z: L.zeros(3, 4, dtype=z.dtype).scatter_add(
        1, L.tensor([[0, 1, 2, 3], [3, 2, 1, 0], [0, 0, 1, 1]]), z),
    "pad": lambda L, z: L.nn.functional.pad(z, (1, 2)),
    "repeat_interleave": lambda L, z: z.repeat_interleave(2, 0),
    "setitem": lambda L, z: _setitem(z.clone()),
    "outer": lambda L, z: L.outer(z[0], z[1]),
    "lerp": lambda L, z: L.lerp(z, z * 2, 0.3),
    "addcmul": lambda L, z: L.addcmul(z, z, z, value=2),
}


def _setitem(x):
    x[0, 1] = 5j
    x[1] = x[0] * 2
    return x


@pytest.mark.parametrize("name", sorted(SHAPE))
def test_shape_ops(name):
    check(SHAPE[name], Z)


MATMUL = {
    "matmul": (lambda L, a, b: a @ b, (3, 4), (4, 2)),
    "mm": (lambda L, a, b: L.mm(a, b), (3, 4), (4, 5)),
    "bmm": (lambda L, a, b: L.bmm(a, b), (2, 3, 4), (2, 4, 2)),
    "matvec": (lambda L, a, b: a @ b, (3, 4), (4,)),
    "batched": (lambda L, a, b: a @ b, (2, 3, 4), (4, 2)),
    "einsum": (lambda L, a, b: L.einsum("ij,jk->ik", a, b), (3, 4), (4, 2)),
    "linear": (lambda L, a, b: L.nn.functional.linear(a, b, b[:, 0]), (3, 4), (5, 4)),
    "addmm": (lambda L, a, b: L.addmm(a[:, :2], a, b, beta=0.5, alpha=2), (3, 4), (4, 2)),
}


@pytest.mark.parametrize("name", sorted(MATMUL))
def test_matmul(name):
    fn, sa, sb = MATMUL[name]
    check(fn, carray(*sa), carray(*sb, seed=3))


def test_matmul_complex_real():
    check(lambda L, a, b: a @ b.to(a.dtype), carray(3, 4), rarray(4, 2))
    check(lambda L, a, b: a.to(b.dtype) @ b, rarray(3, 4), carray(4, 2))


def test_complex_leaf_requires_grad_and_double_backward():
    import cadenza
    import torch
    out = []
    for L in (torch, cadenza):
        z = L.tensor(ZP, requires_grad=True)
        y = (z * z * z).abs().sum()
        (g,) = L.autograd.grad(y, z, create_graph=True)
        (gg,) = L.autograd.grad(L.view_as_real(g).pow(2).sum(), z)
        out.append((g.detach().numpy(), gg.numpy()))
    np.testing.assert_allclose(out[1][0], out[0][0], rtol=1e-6)
    np.testing.assert_allclose(out[1][1], out[0][1], rtol=1e-6)


GRADCHECK = {
    "mul_exp": lambda L, z, w: (z * w).exp(),
    "div_abs": lambda L, z, w: (z / w).abs(),
    "parts": lambda L, z, w: L.view_as_real(z.conj() * w.real + z.imag),
    "matmul": lambda L, z, w: z @ w.t(),
    "angle": lambda L, z, w: z.angle() * w.abs(),
    "sgn": lambda L, z, w: z.sgn() + w.sqrt(),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK))
def test_gradcheck_and_gradgradcheck_complex(name):
    """Cadenza's gradcheck on complex inputs agrees with finite differences (and torch's
    gradcheck accepts the same functions)."""
    import cadenza
    import torch
    # (the functions from their module: once something imports cadenza.autograd.gradcheck,
    # the package attribute of that name is the module)
    from cadenza.autograd.gradcheck import gradcheck, gradgradcheck
    fn = GRADCHECK[name]
    for L, gc, ggc in ((torch, torch.autograd.gradcheck, torch.autograd.gradgradcheck),
                       (cadenza, gradcheck, gradgradcheck)):
        z = L.tensor(ZP[:2, :3], requires_grad=True)
        w = L.tensor(W[:2, :3] + 2, requires_grad=True)
        assert gc(lambda a, b: fn(L, a, b), (z, w))
        assert ggc(lambda a, b: fn(L, a, b), (z, w))


def test_zero_elements_angle_abs_sgn():
    """At z = 0: angle 0, |z| 0, sgn 0, each with PyTorch's zero gradient (not NaN)."""
    z = np.array([0j, 1 + 1j, -2 + 0j, -3j, 0j])
    check(lambda L, t: t.angle(), z)
    check(lambda L, t: t.abs(), z)
    check(lambda L, t: t.sgn(), z)
    check(lambda L, t: L.polar(t.abs(), t.angle()), z)

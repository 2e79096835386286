"""``out=`` on the top-level functions (cadenza/_out.py) against torch: values, the returned
object is ``out``, resizing (and its warning), the dtype rules and the autograd refusal."""
import warnings

import numpy as np
import pytest
import torch

import cadenza

F = np.array([[1.5, -2.25, 0.5], [3.7, 4.0, -0.1]], dtype=np.float32)
I = np.array([[1, -2, 3], [4, 0, 6]], dtype=np.int64)

# name -> (args builder over the torch-or-cadenza module and an input, keyword arguments)
CASES = {
    "add": (lambda m, a: (a, a), {}), "sub": (lambda m, a: (a, a), {"alpha": 2}),
    "mul": (lambda m, a: (a, 3), {}), "div": (lambda m, a: (a, a * 0 + 2), {}),
    "matmul": (lambda m, a: (a, a.T), {}), "mm": (lambda m, a: (a, a.T), {}),
    "bmm": (lambda m, a: (a[None], a.T[None]), {}), "sum": (lambda m, a: (a, 1), {}),
    "mean": (lambda m, a: (a, 0), {"keepdim": True}), "prod": (lambda m, a: (a, 0), {}),
    "cat": (lambda m, a: ([a, a], 1), {}), "stack": (lambda m, a: ([a, a],), {}),
    "where": (lambda m, a: (a > 1, a, a * 2), {}), "clamp": (lambda m, a: (a, -1, 2), {}),
    "exp": (lambda m, a: (a,), {}), "log": (lambda m, a: (a.abs() + 1,), {}),
    "sqrt": (lambda m, a: (a.abs(),), {}), "pow": (lambda m, a: (a, 2), {}),
    "abs": (lambda m, a: (a,), {}), "eq": (lambda m, a: (a, a * 0 + 4), {}),
    "cumsum": (lambda m, a: (a, 1), {}), "argmax": (lambda m, a: (a, 1), {}),
    "amax": (lambda m, a: (a, 0), {}), "logsumexp": (lambda m, a: (a, 1), {}),
    "isneginf": (lambda m, a: (a,), {}), "any": (lambda m, a: (a, 1), {}),
    "float_power": (lambda m, a: (a, 2), {}), "clamp_min": (lambda m, a: (a, a * 0),
                                                           {}),
}
TUPLE_CASES = {
    "max": (lambda m, a: (a, 1), {}), "min": (lambda m, a: (a, 0), {"keepdim": True}),
    "sort": (lambda m, a: (a, 1), {"descending": True}), "topk": (lambda m, a: (a, 2), {}),
}
OUT_DTYPES = ["same", "float64", "float32", "int64", "bool", "complex64"]


def _run(mod, name, build, kw, arr, out):
    x = mod.tensor(arr)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = getattr(mod, name)(*build(mod, x), **kw, out=out)
        except Exception as e:  # noqa: BLE001  (the class is compared with torch's)
            return e, caught
    return res, caught


def _mk(mod, dtype, like, shape=(0,)):
    dt = like if dtype == "same" else getattr(mod, dtype)
    return mod.empty(shape, dtype=dt)


def _compare(name, t_res, c_res, t_out, c_out):
    if isinstance(t_res, Exception):
        assert isinstance(c_res, Exception), f"{name}: torch raised {t_res!r}, cadenza did not"
        assert isinstance(c_res, RuntimeError) == isinstance(t_res, RuntimeError) or \
            isinstance(c_res, TypeError) == isinstance(t_res, TypeError), (name, t_res, c_res)
        return
    assert not isinstance(c_res, Exception), f"{name}: cadenza raised {c_res!r}"
    pairs = list(zip(t_out, c_out)) if isinstance(t_out, tuple) else [(t_out, c_out)]
    c_items = tuple(c_res) if isinstance(c_out, tuple) else (c_res,)
    for (t, c), r in zip(pairs, c_items):
        assert r is c, f"{name}: out= must return the out tensor itself"
        assert str(c.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
        assert tuple(c.shape) == tuple(t.shape)
        np.testing.assert_allclose(c.numpy().astype(np.complex128),
                                   t.numpy().astype(np.complex128), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("src", ["float32", "int64"])
def test_out_dtypes_vs_torch(name, src):
    build, kw = CASES[name]
    arr = F if src == "float32" else I
    for od in OUT_DTYPES:
        t_out = _mk(torch, od, getattr(torch, src))
        c_out = _mk(cadenza, od, getattr(cadenza, src))
        t_res, _ = _run(torch, name, build, kw, arr, t_out)
        c_res, _ = _run(cadenza, name, build, kw, arr, c_out)
        _compare(f"{name}({src}, out={od})", t_res, c_res, t_out, c_out)


@pytest.mark.parametrize("name", sorted(TUPLE_CASES))
def test_out_tuples_vs_torch(name):
    build, kw = TUPLE_CASES[name]
    for vd, idd in [("same", "int64"), ("float64", "int64"), ("same", "int32")]:
        t_out = (_mk(torch, vd, torch.float32), _mk(torch, idd, None))
        c_out = (_mk(cadenza, vd, cadenza.float32), _mk(cadenza, idd, None))
        t_res, _ = _run(torch, name, build, kw, F, t_out)
        c_res, _ = _run(cadenza, name, build, kw, F, c_out)
        _compare(f"{name}(out=({vd}, {idd}))", t_res, c_res, t_out, c_out)
        if not isinstance(c_res, Exception):
            assert type(c_res).__name__ == type(t_res).__name__ or isinstance(t_res, tuple)
            assert tuple(c_res) == c_out or all(a is b for a, b in zip(c_res, c_out))


def test_out_resize_warns_like_torch():
    for mod in (torch, cadenza):
        x = mod.ones(2, 3)
        out = mod.zeros(4)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = mod.add(x, 1, out=out)
        assert res is out and tuple(out.shape) == (2, 3)
        assert any("resized" in str(w.message) for w in caught), mod
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            mod.mul(x, 2, out=mod.empty(0))         # empty out: resized silently
            mod.mul(x, 2, out=out)                  # right shape: nothing to say
        assert not caught


def test_out_writes_through_views_and_aliases():
    for mod in (torch, cadenza):
        base = mod.zeros(3, 4)
        col = base[:, 1]
        mod.add(mod.ones(3), 5, out=col)
        assert base.sum().item() == 18.0
        a = mod.arange(4.0)
        mod.mul(a, a, out=a)                         # out aliasing an input
        assert a.tolist() == [0.0, 1.0, 4.0, 9.0]


def test_out_refuses_autograd_like_torch():
    for mod in (torch, cadenza):
        w = mod.ones(2, requires_grad=True)
        for fn in (lambda: mod.exp(w, out=mod.empty(2)),
                   lambda: mod.add(mod.ones(2), 1, out=mod.empty(2, requires_grad=True)),
                   lambda: mod.sum(w, 0, out=mod.empty(0))):
            with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
                fn()
        with mod.no_grad():
            assert mod.exp(w, out=mod.empty(2)).tolist() == pytest.approx([np.e, np.e])


def test_out_sum_computes_in_out_dtype():
    x = [[1.5, 2.25], [3.7, 4.0]]
    for dt in ("int64", "float64"):
        t = torch.sum(torch.tensor(x), 0, out=torch.empty(0, dtype=getattr(torch, dt)))
        c = cadenza.sum(cadenza.tensor(x), 0, out=cadenza.empty(0, dtype=getattr(cadenza, dt)))
        np.testing.assert_allclose(c.numpy(), t.numpy())


def test_out_rejects_non_tensor():
    with pytest.raises(TypeError, match="out"):
        cadenza.add(cadenza.ones(2), 1, out=[1, 2])
    with pytest.raises(TypeError, match="tuple of 2"):
        cadenza.sort(cadenza.ones(2), out=cadenza.empty(0))

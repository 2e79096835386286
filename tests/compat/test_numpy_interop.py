"""NumPy data in, as PyTorch takes it: ndarray subclasses (np.memmap, np.matrix), read-only,
non-contiguous arrays, NumPy scalars and lists of them in ``tensor``/``as_tensor``/
``from_numpy``, NumPy scalars on either side of arithmetic and in functions, NumPy indices,
DataLoader collation; byte orders and negative strides refused as torch refuses them."""
import warnings

import numpy as np
import pytest
import torch as T

import cadenza as C
from cadenza.utils.data import DataLoader, Dataset, default_collate


def same(c, t):
    """A Cadenza result equals the torch result: type, dtype, values."""
    assert isinstance(c, C.Tensor), type(c)
    assert isinstance(t, T.Tensor), type(t)
    assert str(c.dtype).split(".")[1] == str(t.dtype).split(".")[1], (c.dtype, t.dtype)
    np.testing.assert_allclose(c.numpy(), t.numpy(), rtol=1e-6)  # ulps: float maths


@pytest.fixture
def memmap(tmp_path):
    warnings.filterwarnings("ignore", "The given NumPy array is not writable")  # torch's
    m = np.memmap(tmp_path / "tokens.bin", dtype=np.int32, mode="w+", shape=(64,))
    m[:] = np.arange(64) * 3
    m.flush()
    return np.memmap(tmp_path / "tokens.bin", dtype=np.int32, mode="r", shape=(64,))


def test_memmap_slices_become_tensors(memmap):
    # the nanoGPT data path: a memory-mapped token file, a slice, astype, from_numpy, then ops
    ix = [3, 10, 20]
    xc = C.stack([C.from_numpy(memmap[i:i + 8].astype(np.int64)) for i in ix])
    xt = T.stack([T.from_numpy(memmap[i:i + 8].astype(np.int64)) for i in ix])
    same(xc, xt)
    same(xc + 1, xt + 1)
    same(C.from_numpy(memmap[2:9]) * 2, T.from_numpy(memmap[2:9]) * 2)  # no astype: a view
    same(C.as_tensor(memmap[1:4]), T.as_tensor(memmap[1:4]))
    same(C.tensor(memmap[1:4]), T.tensor(memmap[1:4]))
    w = C.arange(64.)
    same(w[memmap[0:4].astype(np.int64) // 3], T.arange(64.)[memmap[0:4].astype(np.int64) // 3])


def test_from_numpy_shares_memory_of_a_subclass(tmp_path):
    m = np.memmap(tmp_path / "m.bin", dtype=np.float32, mode="w+", shape=(4,))
    t = C.from_numpy(m)
    m[1] = 5.0
    assert t[1].item() == 5.0
    t[2] = 7.0
    assert m[2] == 7.0
    assert type(t.numpy()) is np.ndarray
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        mat = np.matrix([[1, 2], [3, 4]])
    same(C.from_numpy(mat), T.from_numpy(mat))
    same(C.tensor(mat) @ C.tensor(mat), T.tensor(mat) @ T.tensor(mat))


def test_read_only_and_non_contiguous_arrays():
    ro = np.arange(6.0).reshape(2, 3)
    ro.flags.writeable = False
    nc = np.arange(24.0).reshape(4, 6)[::2, 1::2]
    for a in (ro, nc, np.asfortranarray(np.arange(6.0).reshape(2, 3))):
        same(C.from_numpy(a) * 2, T.from_numpy(a) * 2)
        same(C.as_tensor(a).sum(0), T.as_tensor(a).sum(0))
        same(C.tensor(a), T.tensor(a))


@pytest.mark.parametrize("fn", ["from_numpy", "as_tensor", "tensor"])
def test_byte_order_and_negative_strides_refused_as_torch(fn):
    for a in (np.arange(3, dtype=">i4"), np.arange(3.0, dtype=">f8"), np.arange(5)[::-1],
              np.arange(6.0).reshape(2, 3)[:, ::-1]):
        with pytest.raises(ValueError):
            getattr(T, fn)(a)
        with pytest.raises(ValueError, match="byte order|negative"):
            getattr(C, fn)(a)
    same(getattr(C, fn)(np.arange(5)[::-1].copy()), getattr(T, fn)(np.arange(5)[::-1].copy()))


@pytest.mark.parametrize("data", [
    np.float32(3), np.int64(3), np.float64(2.5), np.bool_(True), np.int32(-4), np.float16(1.5),
    [np.float32(1), np.float32(2)], [np.int32(1), np.int32(2)], [np.float64(1), 2],
    [np.int32(1), 2], [np.float16(1), 2.0], (np.int64(1), np.int64(2)), [np.uint8(1), True],
    [[np.float32(1)], [np.float32(2)]], [np.array(3.0), np.array(4.0)][0],
], ids=repr)
def test_tensor_infers_dtype_from_numpy_scalars_as_torch(data):
    same(C.tensor(data), T.tensor(data))
    same(C.as_tensor(data), T.as_tensor(data))


def test_tensor_of_zero_dim_tensors_and_arrays():
    same(C.tensor([C.tensor(1.0), C.tensor(2.0)]), T.tensor([T.tensor(1.0), T.tensor(2.0)]))
    same(C.tensor([C.tensor(1, dtype=C.int32)]), T.tensor([T.tensor(1, dtype=T.int32)]))
    arrs = [np.zeros(2, np.float32), np.ones(2, np.float32)]
    same(C.tensor(arrs), T.tensor(np.stack(arrs)))


@pytest.mark.parametrize("s", [np.float32(2), np.float64(2), np.int64(2), np.int32(3)], ids=repr)
@pytest.mark.parametrize("dtype", ["float32", "float16", "int32", "int64", "uint8"])
def test_numpy_scalars_in_arithmetic_keep_torch_dtypes(s, dtype):
    c = C.arange(1, 5).to(getattr(C, dtype))
    t = T.arange(1, 5).to(getattr(T, dtype))
    for f in (lambda x: x * s, lambda x: s * x, lambda x: x + s, lambda x: s - x,
              lambda x: x / s, lambda x: s / x, lambda x: x < s, lambda x: s >= x,
              lambda x: x ** s, lambda x: type(x).mul(x, s)):
        same(f(c), f(t))
    lib_fns = (("add", (s,)), ("mul", (s,)), ("sub", (s,)), ("maximum", ()),
               ("clamp", (s, s * 2)), ("where", ()))
    for name, extra in lib_fns:
        if name == "maximum":
            same(C.maximum(c, C.tensor(s)), T.maximum(t, T.tensor(s)))
        elif name == "where":
            same(C.where(c > 2, c, s), T.where(t > 2, t, s))
        else:
            same(getattr(C, name)(c, *extra), getattr(T, name)(t, *extra))


def test_numpy_scalar_results_are_tensors_not_arrays():
    r = np.float32(2) * C.ones(3)
    assert isinstance(r, C.Tensor) and r.dtype == C.float32
    r = np.float64(2) + C.ones(3)
    assert isinstance(r, C.Tensor) and r.dtype == C.float32


def test_numpy_indices():
    c, t = C.arange(24.).reshape(4, 6), T.arange(24.).reshape(4, 6)
    for idx in (np.int64(2), np.int32(1), (np.int64(1), np.int64(2)), np.array([0, 3]),
                np.array([0, 2], np.int32), np.array([True, False, True, False]),
                (slice(np.int64(1), np.int32(3)), np.array([1, 5])),
                (np.array([[0], [2]]), np.array([1, 2]))):
        same(c[idx], t[idx])
    c2, t2 = c.clone(), t.clone()
    c2[np.array([0, 1])] = 5.0
    t2[np.array([0, 1])] = 5.0
    same(c2, t2)
    same(c.reshape(np.int64(6), np.int32(4)), t.reshape(np.int64(6), np.int32(4)))
    same(c.sum(dim=np.int64(1)), t.sum(dim=np.int64(1)))
    same(C.zeros(np.int64(2), 3), T.zeros(np.int64(2), 3))
    same(C.full((2,), np.float32(1.5)), T.full((2,), np.float32(1.5)))


def test_numpy_out():
    c = C.arange(4.0)
    assert type(c.numpy()) is np.ndarray
    np.testing.assert_array_equal(np.asarray(c), T.arange(4.0).numpy())
    assert np.asarray(c, dtype=np.float64).dtype == np.float64
    assert np.float32(c[1]) == 1.0 and float(c[2]) == 2.0


class _NumpyDataset(Dataset):
    def __init__(self, data):
        self.data = data

    def __len__(self):
        return 6

    def __getitem__(self, i):
        return (self.data[i:i + 4].astype(np.int64), self.data[i + 1:i + 5].astype(np.int64),
                np.float32(i) / 2, np.int64(i), {"x": self.data[i:i + 2]})


def test_dataloader_collates_numpy_like_torch(memmap):
    from torch.utils.data import DataLoader as TDataLoader
    ds = _NumpyDataset(memmap)
    for bc, bt in zip(DataLoader(ds, batch_size=3), TDataLoader(ds, batch_size=3)):
        for c, t in zip(bc[:4], bt[:4]):
            same(c, t)
        same(bc[4]["x"], bt[4]["x"])
    batch = [np.float64(1.5), np.float64(2.5)]
    same(default_collate(batch), T.utils.data.default_collate(batch))
    batch = [np.array([1, 2], np.int16), np.array([3, 4], np.int16)]
    same(default_collate(batch), T.utils.data.default_collate(batch))
    with pytest.raises(TypeError):
        default_collate([np.array(["a"]), np.array(["b"])])


_I = np.int64


@pytest.mark.parametrize("name, f", [
    ("squeeze", lambda L, t: t[None].squeeze(_I(0))),
    ("max dim", lambda L, t: t.max(_I(1)).values),
    ("min dim", lambda L, t: t.min(np.int32(0)).indices),
    ("argmax", lambda L, t: t.argmax(_I(1))),
    ("mean", lambda L, t: t.mean(_I(0))),
    ("sum dims", lambda L, t: t.sum((_I(0), _I(1)))),
    ("flip", lambda L, t: t.flip(_I(0))),
    ("softmax", lambda L, t: t.softmax(_I(1))),
    ("cat", lambda L, t: L.cat([t, t], _I(0))),
    ("unsqueeze", lambda L, t: t.unsqueeze(_I(0))),
    ("transpose", lambda L, t: t.transpose(_I(0), _I(1))),
    ("permute", lambda L, t: t.permute(_I(1), _I(0))),
    ("repeat", lambda L, t: t.repeat(_I(2), 1)),
    ("expand", lambda L, t: t[0].expand(_I(3), -1)),
    ("narrow", lambda L, t: t.narrow(0, _I(0), _I(1))),
    ("topk", lambda L, t: t.topk(_I(2)).values),
    ("roll", lambda L, t: t.roll(_I(1), _I(1))),
    ("chunk", lambda L, t: t.chunk(_I(3), 1)[1]),
    ("full shape", lambda L, t: L.full((_I(2),), 1.0)),
    ("full f64 value", lambda L, t: L.full((2,), np.float64(1))),
    ("full i64 value", lambda L, t: L.full((2,), np.int64(1))),
    ("arange", lambda L, t: L.arange(np.float32(0), np.float32(1), np.float32(0.25))),
    ("fill_", lambda L, t: t.clone().fill_(np.float64(2))),
    ("pow", lambda L, t: L.pow(np.float32(2), t)),
], ids=lambda x: x if isinstance(x, str) else "")
def test_numpy_ints_as_dims_sizes_and_values(name, f):
    same(f(C, C.arange(6.0).reshape(2, 3)), f(T, T.arange(6.0).reshape(2, 3)))


class _TokenWindows(Dataset):
    """The nanoGPT/llama data path: windows of a memory-mapped token file."""

    def __init__(self, data, block):
        self.data, self.block = data, block

    def __len__(self):
        return len(self.data) - self.block - 1

    def __getitem__(self, i):
        x = C.from_numpy(self.data[i:i + self.block].astype(np.int64))
        y = C.from_numpy(self.data[i + 1:i + 1 + self.block].astype(np.int64))
        return x, y


@pytest.mark.parametrize("workers", [0, 2])
def test_dataloader_over_a_memmap_in_workers(memmap, workers):
    loader = DataLoader(_TokenWindows(memmap, 8), batch_size=4, shuffle=True,
                        num_workers=workers, generator=C.Generator().manual_seed(0))
    n = 0
    for x, y in loader:
        assert x.dtype == C.int64 and tuple(x.shape[1:]) == (8,)
        np.testing.assert_array_equal(y.numpy()[:, :-1], x.numpy()[:, 1:])
        n += x.shape[0]
    assert n == len(memmap) - 9


@pytest.mark.filterwarnings("ignore:__array_wrap__")  # torch's own, on memmap operands
def test_memmap_operands_of_operators(tmp_path):
    m = np.memmap(tmp_path / "f.bin", dtype=np.float32, mode="w+", shape=(6,))
    m[:] = np.arange(6)
    for f in (lambda L: L.ones(3) + m[:3], lambda L: L.ones(3) * m[:3],
              lambda L: L.ones(3) == m[1:4], lambda L: L.ones(3) - m[3:] * 2):
        same(f(C), f(T))
    c, t = C.ones(3), T.ones(3)
    c += m[:3]
    t += T.from_numpy(np.asarray(m[:3]))
    same(c, t)
    assert str(c.device) == "cpu"


def test_writing_into_a_read_only_array_says_so(memmap):
    t = C.from_numpy(memmap[:4])  # the fixture's memmap is opened mode="r"
    for write in (lambda: t.add_(1), lambda: t.__setitem__(0, 5), lambda: t.zero_(),
                  lambda: t.mul_(C.ones(4, dtype=C.int32))):
        with pytest.raises(RuntimeError, match="read-only.*clone"):
            write()
    c = t.clone()
    c.add_(1)  # a clone is writable
    same(c, T.from_numpy(np.array(memmap[:4])) + 1)
    with pytest.raises(RuntimeError, match="single memory location"):
        C.ones(1).expand(3).add_(1)  # expanded views keep torch's wording

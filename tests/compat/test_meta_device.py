"""The meta device (shapes and dtypes, no data) and the default device, against torch: the
same output shapes, dtypes and devices, the same refusals to read values, modules built on
meta and materialised with ``to_empty``, and no random draw consumed on meta."""
import numpy as np
import pytest

import cadenza

torch = pytest.importorskip("torch")


def _both(fn):
    """fn(lib) on cadenza and torch."""
    return fn(cadenza), fn(torch)


def _same_meta(c, t):
    if isinstance(t, (tuple, list)):
        assert len(c) == len(t)
        for a, b in zip(c, t):
            _same_meta(a, b)
        return
    assert c.is_meta and t.is_meta
    assert tuple(c.shape) == tuple(t.shape), (c.shape, t.shape)
    assert str(c.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    assert c.requires_grad == t.requires_grad
    assert str(c.device) == str(t.device) == "meta"


def _dt(lib, name):
    return getattr(lib, name)


OPS = {
    "add_scalar": lambda L, x, w: x + 1,
    "mul_bcast": lambda L, x, w: x * x[0],
    "cmp": lambda L, x, w: x > 0,
    "int_div": lambda L, x, w: x.long() // 3,
    "true_div_int": lambda L, x, w: x.long() / 2,
    "sum": lambda L, x, w: x.sum(),
    "mean_dim": lambda L, x, w: x.mean(1, keepdim=True),
    "argmax": lambda L, x, w: x.argmax(-1),
    "matmul": lambda L, x, w: x @ w,
    "bmm": lambda L, x, w: L.randn(5, 2, 3, device="meta") @ L.randn(5, 3, 4, device="meta"),
    "linear": lambda L, x, w: L.nn.functional.linear(x, w.t()),
    "view": lambda L, x, w: x.view(3, 2),
    "permute_reshape": lambda L, x, w: x.t().reshape(-1),
    "getitem": lambda L, x, w: x[1:, None, ::2],
    "index_tensor": lambda L, x, w: x[L.zeros(4, dtype=L.long, device="meta")],
    "cat": lambda L, x, w: L.cat([x, x], 1),
    "stack": lambda L, x, w: L.stack([x, x]),
    "softmax": lambda L, x, w: L.softmax(x, -1),
    "topk": lambda L, x, w: tuple(x.topk(2)),
    "to_half": lambda L, x, w: x.to(L.float16),
    "where": lambda L, x, w: L.where(x > 0, x, 0.0),
    "layer_norm": lambda L, x, w: L.nn.functional.layer_norm(x, (3,)),
    "conv2d": lambda L, x, w: L.nn.functional.conv2d(L.empty(2, 3, 8, 8, device="meta"),
                                                     L.empty(4, 3, 3, 3, device="meta"),
                                                     padding=1),
    "cross_entropy": lambda L, x, w: L.nn.functional.cross_entropy(
        x, L.zeros(2, dtype=L.long, device="meta")),
    "embedding": lambda L, x, w: L.nn.functional.embedding(
        L.zeros(2, 5, dtype=L.long, device="meta"), w),
}


@pytest.mark.parametrize("name", list(OPS))
def test_ops_give_torch_shapes_and_dtypes(name):
    def run(L):
        x = L.empty(2, 3, device="meta", requires_grad=name != "index_tensor")
        w = L.empty(3, 4, device="meta")
        return OPS[name](L, x, w)
    _same_meta(*_both(run))


def test_creation_repr_and_attributes():
    for make in (lambda L: L.empty(2, 3, device="meta"),
                 lambda L: L.zeros(2, 3, device="meta", dtype=L.int64),
                 lambda L: L.randn(4, device=L.device("meta"), requires_grad=True),
                 lambda L: L.tensor([True, False], device="meta"),
                 lambda L: L.empty((), device="meta"),
                 lambda L: L.ones(2, 3).to("meta"),
                 lambda L: L.zeros_like(L.empty(2, device="meta")),
                 lambda L: L.empty(3, device="meta").new_zeros(4)):
        c, t = _both(make)
        _same_meta(c, t)
        assert repr(c) == repr(t).replace("torch.", "cadenza.")
        assert c.data_ptr() == t.data_ptr() == 0
    c, t = _both(lambda L: L.empty(2, 3, device="meta"))
    assert c.stride() == t.stride() and c.is_contiguous() and c.numel() == 6
    assert cadenza.device("meta") == "meta" and repr(cadenza.device("meta:0")) == \
        repr(torch.device("meta:0"))


@pytest.mark.parametrize("read", ["item", "float", "bool", "tolist", "numpy", "cpu",
                                  "copy_out", "item_many"])
def test_reading_values_raises_as_torch(read):
    def run(L):
        x = L.empty(1, device="meta")
        y = L.empty(3, device="meta")
        f = {"item": lambda: x.item(), "float": lambda: float(x), "bool": lambda: bool(x),
             "tolist": lambda: x.tolist(), "numpy": lambda: x.numpy(),
             "cpu": lambda: x.cpu(), "copy_out": lambda: L.ones(1).copy_(x),
             "item_many": lambda: y.item()}[read]
        with pytest.raises(Exception) as e:
            f()
        return e
    c, t = _both(run)
    assert type(c.value) is type(t.value), (c.value, t.value)
    assert str(c.value) == str(t.value)


def test_data_dependent_ops_raise_not_implemented():
    x = cadenza.empty(4, device="meta")
    for f in (lambda: x.nonzero(), lambda: x[x > 0], lambda: x.unique(),
              lambda: x.masked_select(x > 0)):
        with pytest.raises(NotImplementedError):
            f()


def test_inplace_and_init_leave_meta_and_draw_nothing():
    def run(L):
        L.manual_seed(0)
        x = L.empty(3, 4, device="meta")
        x.uniform_()
        x.normal_()
        x.fill_(2)
        x.zero_()
        x.copy_(L.ones(4))
        x.add_(1)
        x += 1
        L.nn.init.kaiming_uniform_(x)
        L.nn.init.trunc_normal_(x)
        with L.device("meta"):
            L.nn.Linear(8, 8)
        L.randn(5, device="meta")
        return x, L.randn(3)
    (c, cr), (t, tr) = _both(run)
    _same_meta(c, t)
    for L, r in ((cadenza, cr), (torch, tr)):   # the meta fills drew nothing
        L.manual_seed(0)
        np.testing.assert_array_equal(r.numpy(), L.randn(3).numpy())
    with pytest.raises(RuntimeError):
        cadenza.empty(3, device="meta").copy_(cadenza.ones(4))


def _mlp(L):
    return L.nn.Sequential(L.nn.Linear(4, 8), L.nn.ReLU(), L.nn.LayerNorm(8),
                           L.nn.Linear(8, 2))


def test_module_on_meta_forward_backward_to_empty():
    def run(L):
        with L.device("meta"):
            m = _mlp(L)
            x = L.randn(5, 4)
        assert L.get_default_device().type == "cpu"
        assert L.ones(1).device.type == "cpu"
        loss = L.nn.functional.cross_entropy(m(x), L.zeros(5, dtype=L.long, device="meta"))
        loss.backward()
        grads = [p.grad.detach() for p in m.parameters()]
        L.optim.SGD(m.parameters(), lr=0.1).step()
        params = [p.detach() for p in m.parameters()]
        m.to_empty(device="cpu")
        return loss, grads, params, m
    (cl, cg, cp, cm), (tl, tg, tp, tm) = _both(run)
    _same_meta(cl, tl)
    _same_meta(cg, tg)
    _same_meta(cp, tp)
    assert [(k, tuple(v.shape), v.device.type) for k, v in cm.state_dict().items()] == \
        [(k, tuple(v.shape), v.device.type) for k, v in tm.state_dict().items()]
    out = cm(cadenza.randn(3, 4))
    assert out.shape == (3, 2) and not out.is_meta


def test_linear_device_kwarg_and_default_device():
    c, t = _both(lambda L: L.nn.Linear(3, 4, device="meta").weight)
    _same_meta(c, t)
    assert repr(c) == repr(t).replace("torch.", "cadenza.")
    cadenza.set_default_device("meta")
    try:
        assert cadenza.get_default_device() == cadenza.device("meta")
        assert cadenza.tensor([1.0]).is_meta and cadenza.arange(3).is_meta
        with cadenza.device("cpu"):
            assert not cadenza.zeros(2).is_meta
        assert cadenza.zeros(2).is_meta
    finally:
        cadenza.set_default_device(None)
    assert not cadenza.zeros(2).is_meta
    with cadenza.device("meta"):
        with cadenza.device("cpu"):
            assert not cadenza.zeros(1).is_meta
        assert cadenza.zeros(1).is_meta
    assert not cadenza.zeros(1).is_meta


def test_big_meta_module_allocates_nothing():
    import tracemalloc
    tracemalloc.start()
    try:
        lin = cadenza.nn.Linear(8192, 8192, device="meta")     # 256 MiB on the CPU
        y = lin(cadenza.empty(16, 8192, device="meta"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert y.shape == (16, 8192) and y.is_meta
    assert peak < 8 << 20, peak


def test_meta_tensor_pickles_and_cpu_ops_unchanged():
    import pickle
    x = pickle.loads(pickle.dumps(cadenza.empty(2, 5, device="meta", dtype=cadenza.float64)))
    assert x.is_meta and x.shape == (2, 5) and x.dtype == cadenza.float64
    a = cadenza.ones(2, 2)
    assert (a + a).device.type == "cpu" and float((a @ a).sum()) == 8.0


def test_load_state_dict_into_meta_module():
    def run(L):
        src = L.nn.Sequential(L.nn.Linear(3, 4), L.nn.LayerNorm(4))
        with L.device("meta"):
            m = L.nn.Sequential(L.nn.Linear(3, 4), L.nn.LayerNorm(4))
            kept = L.nn.Sequential(L.nn.Linear(3, 4), L.nn.LayerNorm(4))
        res = [str(m.load_state_dict(src.state_dict(), assign=True)), m[0].weight.device.type,
               type(m[0].weight).__name__, m[0].weight.requires_grad,
               bool(L.allclose(m(L.ones(2, 3)), src(L.ones(2, 3))))]
        with pytest.warns(UserWarning) as w:
            kept.load_state_dict(src.state_dict())
        return res + [kept[1].bias.is_meta, [str(x.message) for x in w]]
    c, t = _both(run)
    assert c == t


def test_save_and_load_meta_tensors(tmp_path):
    def run(L):
        m = L.nn.Linear(2, 3, device="meta")
        path = tmp_path / f"{L.__name__}.pt"
        L.save({"sd": m.state_dict(), "p": m.weight, "x": L.ones(2)}, path)
        d = L.load(path, weights_only=False)
        return ({k: (v.device.type, tuple(v.shape)) for k, v in d["sd"].items()},
                type(d["p"]).__name__, d["p"].is_meta, d["p"].requires_grad, d["x"].tolist())
    c, t = _both(run)
    assert c == t


def test_skip_init_and_new_tensor_follow_meta():
    def run(L):
        m = L.nn.utils.skip_init(L.nn.Linear, 3, 4)
        m2 = L.nn.utils.skip_init(L.nn.Linear, in_features=3, out_features=4, device="meta")
        x = L.empty(2, device="meta")
        return (m.weight.device.type, tuple(m.weight.shape), m.weight.requires_grad,
                m2.weight.device.type,
                [t.device.type for t in (x.new_tensor([1, 2]), x.new_ones(2),
                                         x.new_full((2,), 1.0), x.new_empty(2))])
    c, t = _both(run)
    assert c == t
    with pytest.raises(RuntimeError, match="Expected a Module"):
        cadenza.nn.utils.skip_init(int)

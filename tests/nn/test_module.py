"""Module API: registration, traversal, state_dict, hooks, modes, dtype conversion, repr."""
import copy

import numpy as np
import pytest
import torch

import cadenza
import cadenza.nn as nn
from helpers import to_torch


class Net(nn.Module):
    def __init__(self, lib=nn):
        super().__init__()
        self.conv = lib.Conv2d(3, 4, 3, padding=1)
        self.bn = lib.BatchNorm2d(4)
        self.blocks = lib.ModuleList([lib.Linear(4, 4), lib.Linear(4, 4, bias=False)])
        self.head = lib.Sequential(lib.Flatten(), lib.Linear(4, 2))
        self.register_buffer("scale", (cadenza if lib is nn else torch).ones(1))
        self.register_buffer("tmp", (cadenza if lib is nn else torch).zeros(1),
                             persistent=False)


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        lib = torch.nn
        self.conv = lib.Conv2d(3, 4, 3, padding=1)
        self.bn = lib.BatchNorm2d(4)
        self.blocks = lib.ModuleList([lib.Linear(4, 4), lib.Linear(4, 4, bias=False)])
        self.head = lib.Sequential(lib.Flatten(), lib.Linear(4, 2))
        self.register_buffer("scale", torch.ones(1))
        self.register_buffer("tmp", torch.zeros(1), persistent=False)


def test_parameter_basics():
    p = nn.Parameter(cadenza.ones(2))
    assert p.requires_grad and isinstance(p, cadenza.Tensor) and p.is_leaf
    assert repr(p) == "Parameter containing:\ntensor([1., 1.], requires_grad=True)"
    assert repr(p) == repr(torch.nn.Parameter(torch.ones(2)))
    q = nn.Parameter(cadenza.ones(2), requires_grad=False)
    assert not q.requires_grad
    assert nn.Parameter().shape == (0,)
    d = copy.deepcopy(p)
    assert isinstance(d, nn.Parameter) and d.requires_grad
    assert d.data_ptr() != p.data_ptr()
    # Parameter shares storage with the tensor it wraps
    t = cadenza.zeros(3)
    p2 = nn.Parameter(t)
    with cadenza.no_grad():
        p2.add_(1)
    assert t.tolist() == [1.0, 1.0, 1.0]
    assert type(p * 2) is cadenza.Tensor


def test_state_dict_keys_match_torch():
    cm, tm = Net(), TorchNet()
    assert list(cm.state_dict()) == list(tm.state_dict())
    assert [n for n, _ in cm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert [n for n, _ in cm.named_buffers()] == [n for n, _ in tm.named_buffers()]
    assert [n for n, _ in cm.named_modules()] == [n for n, _ in tm.named_modules()]
    assert [n for n, _ in cm.named_children()] == [n for n, _ in tm.named_children()]
    assert repr(cm).replace("Net", "X") == repr(tm).replace("TorchNet", "X")
    # round trip through torch
    tm.load_state_dict({k: to_torch(v) for k, v in cm.state_dict().items()})
    sd = {k: cadenza.tensor(v.numpy()) for k, v in tm.state_dict().items()}
    Net().load_state_dict(sd)


def test_state_dict_detached_and_keep_vars():
    m = nn.Linear(2, 3)
    sd = m.state_dict()
    assert not sd["weight"].requires_grad
    assert not isinstance(sd["weight"], nn.Parameter)
    assert sd["weight"].data_ptr() == m.weight.data_ptr()
    assert m.state_dict(keep_vars=True)["weight"] is m.weight
    assert list(m.state_dict(prefix="fc.")) == ["fc.weight", "fc.bias"]


def test_load_state_dict_strict_errors_do_not_modify():
    m = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    before = {k: v.clone() for k, v in m.state_dict().items()}
    sd = {k: v + 1 for k, v in m.state_dict().items()}
    del sd["2.bias"]
    sd["extra"] = cadenza.zeros(1)
    sd["0.weight"] = cadenza.zeros(4, 2)
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(sd)
    msg = str(e.value)
    assert msg.startswith("Error(s) in loading state_dict for Sequential:")
    assert 'Missing key(s) in state_dict: "2.bias".' in msg
    assert 'Unexpected key(s) in state_dict: "extra".' in msg
    assert "size mismatch for 0.weight: copying a param with shape" in msg
    for k, v in m.state_dict().items():
        assert np.array_equal(v.numpy(), before[k].numpy()), k
    # torch's message lists the same three problems in the same order
    tm = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    with pytest.raises(RuntimeError) as te:
        tm.load_state_dict({k: to_torch(v) for k, v in sd.items()})
    tlines = [ln.split(":")[0] for ln in str(te.value).split("\n")]
    assert [ln.split(":")[0] for ln in msg.split("\n")] == tlines


def test_load_state_dict_non_strict_and_assign():
    m = nn.Linear(2, 3)
    w = cadenza.ones(3, 2)
    res = m.load_state_dict({"weight": w, "junk": w}, strict=False)
    assert res.missing_keys == ["bias"] and res.unexpected_keys == ["junk"]
    assert m.weight.tolist() == w.tolist() and m.weight.data_ptr() != w.data_ptr()
    ok = m.load_state_dict(nn.Linear(2, 3).state_dict())
    assert repr(ok) == "<All keys matched successfully>"
    assert ok == ([], [])
    res = m.load_state_dict({"weight": w, "bias": cadenza.zeros(3)}, assign=True)
    assert isinstance(m.weight, nn.Parameter) and m.weight.data_ptr() == w.data_ptr()
    # size mismatches raise even when not strict
    with pytest.raises(RuntimeError, match="size mismatch"):
        m.load_state_dict({"weight": cadenza.ones(2, 2)}, strict=False)
    # dtype is cast into the existing parameter
    m.load_state_dict({"weight": cadenza.ones(3, 2, dtype=cadenza.float64),
                       "bias": cadenza.zeros(3)})
    assert m.weight.dtype == cadenza.float32


def test_buffers_and_persistence():
    m = Net()
    assert "tmp" not in m.state_dict() and "scale" in m.state_dict()
    assert len(list(m.buffers())) == 5  # bn: 3, scale, tmp
    m.scale = cadenza.full((1,), 2.0)
    assert m._buffers["scale"].item() == 2.0
    with pytest.raises(TypeError):
        m.scale = 3
    m.b2 = nn.Buffer(cadenza.zeros(2), persistent=False)
    assert "b2" in dict(m.named_buffers()) and "b2" not in m.state_dict()
    with pytest.raises(KeyError):
        m.register_buffer("a.b", cadenza.zeros(1))
    with pytest.raises(KeyError):
        m.register_buffer("conv", cadenza.zeros(1))


def test_setattr_getattr_delattr_dir():
    m = nn.Module()
    m.w = nn.Parameter(cadenza.zeros(2))
    m.sub = nn.Linear(2, 2)
    m.plain = 3
    assert "w" in m._parameters and "sub" in m._modules and m.plain == 3
    with pytest.raises(TypeError):
        m.w = cadenza.zeros(2)
    m.w = None
    assert m.w is None and list(m.named_parameters())[0][0] == "sub.weight"
    del m.sub
    assert not hasattr(m, "sub")
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'nope'"):
        m.nope
    m.sub = nn.Linear(1, 1)
    assert "sub" in dir(m) and "w" in dir(m)
    with pytest.raises(AttributeError):
        class Bad(nn.Module):
            def __init__(self):
                self.w = nn.Parameter(cadenza.zeros(1))
        Bad()
    m.register_buffer("buf", cadenza.ones(1))
    assert m.buf is m._buffers["buf"]
    early = nn.Module.__new__(nn.Module)     # before __init__: no stores, a plain miss
    with pytest.raises(AttributeError, match="no attribute 'weight'"):
        early.weight


def test_parameters_deduplicated_and_shared():
    lin = nn.Linear(2, 2)
    m = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(m.parameters())) == 2
    assert len(list(m.named_parameters(remove_duplicate=False))) == 4
    assert len(list(m.modules())) == 3
    tied = nn.Module()
    tied.a = nn.Linear(2, 2)
    tied.b = nn.Linear(2, 2)
    tied.b.weight = tied.a.weight
    assert len(list(tied.parameters())) == 3
    assert list(tied.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]


def test_get_submodule_and_parameter():
    m = Net()
    assert m.get_submodule("blocks.1") is m.blocks[1]
    assert m.get_parameter("head.1.weight") is m.head[1].weight
    assert m.get_buffer("bn.running_mean") is m.bn.running_mean
    with pytest.raises(AttributeError):
        m.get_submodule("blocks.5")
    with pytest.raises(AttributeError):
        m.get_parameter("bn.running_mean")
    m.register_module("extra", nn.ReLU())
    m.add_module("extra2", nn.ReLU())
    assert isinstance(m.extra, nn.ReLU) and isinstance(m.extra2, nn.ReLU)


def test_train_eval_apply_requires_grad():
    m = Net()
    assert m.training and m.bn.training
    assert m.eval() is m and not m.bn.training and not m.head[1].training
    m.train()
    assert m.head[0].training
    with pytest.raises(ValueError):
        m.train("yes")
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen[-1] == "Net" and seen[0] == "Conv2d"
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_zero_grad():
    m = nn.Linear(2, 1)
    m(cadenza.ones(3, 2)).sum().backward()
    assert m.weight.grad is not None
    m.zero_grad(set_to_none=False)
    assert m.weight.grad.tolist() == [[0.0, 0.0]]
    m.zero_grad()
    assert m.weight.grad is None


def test_to_and_dtype_conversions():
    m = Net()
    p = m.conv.weight
    assert m.double() is m
    assert m.conv.weight is p and p.dtype == cadenza.float64
    assert m.bn.num_batches_tracked.dtype == cadenza.int64
    assert m.bn.running_mean.dtype == cadenza.float64
    m.float()
    assert p.dtype == cadenza.float32
    m.half()
    assert p.dtype == cadenza.float16 and m.bn.num_batches_tracked.dtype == cadenza.int64
    m.to(cadenza.float32)
    m.to("cpu")
    m.to("cpu", cadenza.float64)
    assert p.dtype == cadenza.float64
    with pytest.raises(TypeError):
        m.to(cadenza.int32)
    assert m.cpu() is m and m.share_memory() is m
    lin = nn.Linear(2, 2)
    lin(cadenza.ones(1, 2)).sum().backward()
    lin.double()
    assert lin.weight.grad.dtype == cadenza.float64
    if cadenza.bfloat16 is not None:
        assert nn.Linear(2, 2).bfloat16().weight.dtype == cadenza.bfloat16


def test_forward_hooks():
    m = nn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: calls.append("pre") or (args[0] * 0,))
    h2 = m.register_forward_hook(lambda mod, args, out: calls.append("post") or out + 1)
    with cadenza.no_grad():
        m.bias.zero_()
    out = m(cadenza.ones(1, 2))
    assert calls == ["pre", "post"] and out.tolist() == [[1.0, 1.0]]
    h1.remove()
    h2.remove()
    assert m(cadenza.zeros(1, 2)).tolist() == [[0.0, 0.0]]
    # kwargs variants and prepend order
    order = []
    m.register_forward_pre_hook(lambda mod, a, kw: order.append("kw") or None,
                                with_kwargs=True)
    m.register_forward_pre_hook(lambda mod, a: order.append("first"), prepend=True)
    m.register_forward_hook(lambda mod, a, kw, out: out * 2, with_kwargs=True)
    m(cadenza.ones(1, 2))
    assert order == ["first", "kw"]
    with m.register_forward_hook(lambda *a: None):
        pass


def test_full_backward_hook_matches_torch():
    x = np.random.default_rng(0).standard_normal((3, 2))
    res = {}
    for lib, name in ((nn, "c"), (torch.nn, "t")):
        m = lib.Linear(2, 2)
        if name == "c":
            cm = m
        else:
            m.load_state_dict({k: to_torch(v) for k, v in cm.state_dict().items()})
        got = []
        m.register_full_backward_hook(lambda mod, gi, go: got.append((gi, go)))
        xt = (cadenza if name == "c" else torch).tensor(x, requires_grad=True)
        m(xt.float()).pow(2).sum().backward()
        gi, go = got[0]
        res[name] = (np.array(gi[0].tolist()), np.array(go[0].tolist()))
    np.testing.assert_allclose(res["c"][0], res["t"][0], rtol=1e-5)
    np.testing.assert_allclose(res["c"][1], res["t"][1], rtol=1e-5)


def test_repr_matches_torch():
    cm = nn.Sequential(nn.Conv2d(1, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.Dropout(0.25),
                       nn.Flatten(), nn.Linear(32, 10), nn.LogSoftmax(dim=1),
                       nn.GELU(approximate="tanh"), nn.LayerNorm(10), nn.Embedding(5, 3,
                                                                                   padding_idx=0))
    tm = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, stride=2, padding=1, bias=False),
                             torch.nn.BatchNorm2d(8), torch.nn.ReLU(inplace=True),
                             torch.nn.MaxPool2d(2), torch.nn.Dropout(0.25), torch.nn.Flatten(),
                             torch.nn.Linear(32, 10), torch.nn.LogSoftmax(dim=1),
                             torch.nn.GELU(approximate="tanh"), torch.nn.LayerNorm(10),
                             torch.nn.Embedding(5, 3, padding_idx=0))
    assert repr(cm) == repr(tm)
    assert repr(nn.ModuleList([nn.Linear(2, 2)] * 3)) == \
        repr(torch.nn.ModuleList([torch.nn.Linear(2, 2)] * 3))
    assert repr(nn.MultiheadAttention(8, 2)) == repr(torch.nn.MultiheadAttention(8, 2))
    assert repr(nn.LSTM(3, 4, 2, batch_first=True, bidirectional=True)) == \
        repr(torch.nn.LSTM(3, 4, 2, batch_first=True, bidirectional=True))


def test_call_without_forward_and_bad_init_args():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)
    with pytest.raises(TypeError):
        nn.Module(3)


def test_deepcopy_module():
    m = Net()
    c = copy.deepcopy(m)
    assert c.conv.weight is not m.conv.weight
    assert isinstance(c.conv.weight, nn.Parameter)
    assert np.array_equal(c.conv.weight.detach().numpy(), m.conv.weight.detach().numpy())
    assert list(c.state_dict()) == list(m.state_dict())


def test_extra_state_roundtrip():
    class WithExtra(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(1, 1)
            self.counter = 0

        def get_extra_state(self):
            return {"counter": self.counter}

        def set_extra_state(self, state):
            self.counter = state["counter"]

    a = WithExtra()
    a.counter = 5
    sd = a.state_dict()
    assert "_extra_state" in sd
    b = WithExtra()
    b.load_state_dict(sd)
    assert b.counter == 5


def test_full_backward_pre_hook_set_submodule_to_empty_match_torch():
    def run(lib):
        m = lib.nn.Linear(3, 2)
        with lib.no_grad():
            m.weight.copy_(lib.tensor(np.arange(6.0).reshape(2, 3) / 10, dtype=lib.float32))
        seen = []
        h = m.register_full_backward_pre_hook(lambda mod, go: (go[0] * 2,))
        m.register_full_backward_hook(lambda mod, gi, go: seen.append(
            (round(gi[0].sum().item(), 4), go[0].sum().item())))
        x = lib.ones(4, 3, requires_grad=True)
        m(x).sum().backward()
        h.remove()
        x.grad = None
        m(x).sum().backward()
        return seen, round(x.grad.sum().item(), 4)
    assert run(cadenza) == run(torch)
    seq = cadenza.nn.Sequential(cadenza.nn.Linear(2, 2), cadenza.nn.Sequential(
        cadenza.nn.Linear(2, 2)))
    seq.set_submodule("1.0", cadenza.nn.ReLU())
    assert isinstance(seq[1][0], cadenza.nn.ReLU)
    with pytest.raises(AttributeError):
        seq.set_submodule("1.zz", cadenza.nn.ReLU(), strict=True)
    m = cadenza.nn.Linear(2, 3, dtype=cadenza.float64).to_empty(device="cpu")
    assert m.weight.shape == (3, 2) and m.weight.dtype == cadenza.float64
    assert isinstance(m.weight, cadenza.nn.Parameter)


def test_global_module_forward_hooks_match_torch():
    import torch
    from cadenza.nn.modules import module as cmod
    from torch.nn.modules import module as tmod

    def run(lib, mod):
        lib.manual_seed(0)
        seen = []
        net = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.ReLU())
        net[0].register_forward_hook(lambda m, a, o: seen.append(("own", type(m).__name__)))
        h1 = mod.register_module_forward_pre_hook(
            lambda m, a: seen.append(("pre", type(m).__name__)))
        h2 = mod.register_module_forward_hook(
            lambda m, a, o: (seen.append(("post", type(m).__name__)),
                             o * 2 if type(m).__name__ == "ReLU" else None)[1])
        h3 = mod.register_module_forward_hook(
            lambda m, a, k, o: seen.append(("kw", sorted(k))), with_kwargs=True)
        try:
            out = net(lib.ones(1, 2))
        finally:
            for h in (h1, h2, h3):
                h.remove()
        after = net(lib.ones(1, 2))
        return seen, out, after
    cs, co, ca = run(cadenza, cmod)
    ts, to, ta = run(torch, tmod)
    assert cs == ts
    assert float(co.sum()) == pytest.approx(2 * float(ca.sum()))
    assert float(to.sum()) == pytest.approx(2 * float(ta.sum()))


def test_global_module_backward_hooks_match_torch():
    import torch
    from cadenza.nn.modules import module as cmod
    from torch.nn.modules import module as tmod
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh())
    weights = {k: v.detach().numpy() for k, v in ref.state_dict().items()}

    def run(lib, mod):
        net = lib.nn.Sequential(lib.nn.Linear(3, 2), lib.nn.Tanh())
        net.load_state_dict({k: lib.tensor(v) for k, v in weights.items()})
        seen = []
        net[0].register_full_backward_hook(
            lambda m, gi, go: seen.append(("own", type(m).__name__)))
        net[1].register_full_backward_pre_hook(
            lambda m, go: seen.append(("own_pre", type(m).__name__)))
        h1 = mod.register_module_full_backward_pre_hook(
            lambda m, go: (seen.append(("pre", type(m).__name__, len(go))),
                           (go[0] * 2,) if type(m).__name__ == "Tanh" else None)[1])
        h2 = mod.register_module_full_backward_hook(
            lambda m, gi, go: seen.append(("full", type(m).__name__,
                                           [None if g is None else tuple(g.shape) for g in gi],
                                           [tuple(g.shape) for g in go])))
        x = lib.ones(4, 3, requires_grad=True)
        try:
            net(x).sum().backward()
        finally:
            h1.remove()
            h2.remove()
        g1 = x.grad.numpy().copy()
        x.grad = None
        net(x).sum().backward()     # removed: nothing is seen, gradients halve
        return seen, g1, x.grad.numpy()
    cs, cg1, cg2 = run(cadenza, cmod)
    ts, tg1, tg2 = run(torch, tmod)
    assert cs == ts
    np.testing.assert_allclose(cg1, tg1, rtol=1e-5)
    np.testing.assert_allclose(cg2, tg2, rtol=1e-5)
    np.testing.assert_allclose(cg1, 2 * cg2, rtol=1e-5)


def test_global_registration_hooks_match_torch():
    import torch
    from cadenza.nn.modules import module as cmod
    from torch.nn.modules import module as tmod

    def run(lib, mod):
        seen = []

        def buf(m, name, t):
            seen.append(("buffer", type(m).__name__, name, None if t is None else t.tolist()))
            return None if t is None else t * 10

        def sub(m, name, s):
            seen.append(("module", type(m).__name__, name, type(s).__name__))

        def par(m, name, p):
            seen.append(("param", type(m).__name__, name, tuple(p.shape)))
            return lib.nn.Parameter(lib.zeros(p.shape)) if name == "bias" else None
        hs = [mod.register_module_buffer_registration_hook(buf),
              mod.register_module_module_registration_hook(sub),
              mod.register_module_parameter_registration_hook(par)]
        try:
            class Net(lib.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.lin = lib.nn.Linear(2, 3)
                    self.register_buffer("steps", lib.tensor([1.0]))
                    self.scale = lib.nn.Parameter(lib.ones(2))
                    self.add_module("act", lib.nn.ReLU())
                    self.register_parameter("none", None)
            net = Net()
            net.steps = lib.tensor([2.0])     # assigning a registered buffer registers it
            net.act = None
            net.register_buffer("empty", None)
        finally:
            for h in hs:
                h.remove()
        net.register_buffer("late", lib.tensor([3.0]))
        return seen, net.steps.tolist(), net.late.tolist()
    assert run(cadenza, cmod) == run(torch, tmod)


def test_parameter_dict_key_order_matches_torch():
    """torch.nn.ParameterDict takes a plain dict in sorted key order (an OrderedDict, another
    ParameterDict or a list of pairs in their order); state_dict keys follow it."""
    import torch
    from collections import OrderedDict
    for make in (lambda m: {"w": m.ones(1), "b": m.ones(1), "a0": m.ones(1)},
                 lambda m: OrderedDict(w=m.ones(1), b=m.ones(1)),
                 lambda m: [("w", m.ones(1)), ("b", m.ones(1))]):
        c = cadenza.nn.ParameterDict(make(cadenza))
        t = torch.nn.ParameterDict(make(torch))
        assert list(c.keys()) == list(t.keys())
        assert list(c.state_dict()) == list(t.state_dict())
        c2, t2 = cadenza.nn.ParameterDict(c), torch.nn.ParameterDict(t)
        assert list(c2.keys()) == list(t2.keys())

"""The identity fast path of compiled guards (``Guard.quick``): a cache hit whose guarded objects
are the very objects of the last call where the guards held skips computing them, so every
change a full check would see must still make the quick check fall through: each case calls a
compiled module twice (the quick snapshots are taken), changes one thing, and checks the next
call recompiles and computes with the change, and that restoring it hits the first graph."""
import numpy as np
import pytest

import cadenza
import cadenza.nn as nn
from cadenza.compiler import compiled as C


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3)
        self.scale = 2.0
        self.state = Holder()

    def forward(self, x):
        return self.lin(x) * self.scale + self.state.shift


class Holder:
    def __init__(self):
        self.shift = 1


def _stats():
    return dict(C.STATS)


def _check(net, cf, x):
    with cadenza.no_grad():
        want = net(x).numpy()
        got = cf(x).numpy()
    np.testing.assert_array_equal(got, want)


def _warm(net):
    cf = cadenza.compile(net)
    x = cadenza.randn(2, 4)
    for _ in range(3):
        _check(net, cf, x)
    return cf, x


def _replace_weight(net):
    old = net.lin.weight
    net.lin.weight = nn.Parameter(old.detach() * 3)
    return lambda: setattr(net.lin, "weight", old)


def _change_scale(net):
    net.scale = 5.0
    return lambda: setattr(net, "scale", 2.0)


def _change_held(net):
    net.state.shift = 7
    return lambda: setattr(net.state, "shift", 1)


def _train_mode(net):
    net.train(False)
    return lambda: net.train(True)


def _replace_submodule(net):
    old = net.lin
    net.lin = nn.Linear(4, 3)
    return lambda: setattr(net, "lin", old)


def _reshape_parameters(net):
    old = net.lin.weight.data, net.lin.bias.data
    net.lin.weight.data = cadenza.randn(5, 4)      # the graph reads them live: shape guarded
    net.lin.bias.data = cadenza.randn(5)

    def undo():
        net.lin.weight.data, net.lin.bias.data = old
    return undo


CHANGES = {"parameter replaced": _replace_weight, "scalar attribute": _change_scale,
           "held object's attribute": _change_held, "train/eval": _train_mode,
           "submodule replaced": _replace_submodule, "parameter shapes": _reshape_parameters}


@pytest.mark.parametrize("what", sorted(CHANGES))
def test_a_change_after_quick_hits_recompiles(what):
    cadenza.manual_seed(0)
    net = Net()
    cf, x = _warm(net)
    before = _stats()
    undo = CHANGES[what](net)
    _check(net, cf, x)
    assert _stats()["compiles"] == before["compiles"] + 1, what
    undo()
    mid = _stats()
    _check(net, cf, x)
    _check(net, cf, x)
    assert _stats()["compiles"] == mid["compiles"], what     # the first graph again
    assert _stats()["cache_hits"] >= mid["cache_hits"] + 2


def test_new_parameter_data_of_the_same_shape_is_read_without_recompiling():
    cadenza.manual_seed(0)
    net = Net()
    cf, x = _warm(net)
    before = _stats()
    net.lin.weight.data = cadenza.randn(3, 4)
    _check(net, cf, x)
    with cadenza.no_grad():
        net.lin.bias.copy_(cadenza.randn(3))
    _check(net, cf, x)
    assert _stats()["compiles"] == before["compiles"]


def test_an_equal_new_float_is_a_cache_hit():
    cadenza.manual_seed(0)
    net = Net()
    cf, x = _warm(net)
    before = _stats()
    net.scale = float("2.0")        # another float object, the same value: the full check holds
    _check(net, cf, x)
    _check(net, cf, x)
    after = _stats()
    assert after["compiles"] == before["compiles"]
    assert after["cache_hits"] == before["cache_hits"] + 2


def test_changing_and_restoring_between_every_call():
    """Alternating values: each call's quick snapshot is the other value's."""
    cadenza.manual_seed(0)
    net = Net()
    cf, x = _warm(net)
    for i in range(6):
        net.scale = 2.0 if i % 2 else 4.0
        net.state.shift = i % 3
        _check(net, cf, x)


def _sgd_twins():
    """An eager and a compiled SGD training step on twin models (the same weights)."""
    cadenza.manual_seed(0)
    nets = [nn.Linear(4, 3), nn.Linear(4, 3)]
    nets[1].load_state_dict(nets[0].state_dict())
    opts = [cadenza.optim.SGD(n.parameters(), lr=0.1, momentum=0.9) for n in nets]
    x = cadenza.randn(5, 4)

    def make(net, opt):
        def step():
            opt.zero_grad()
            loss = (net(x) ** 2).sum()
            loss.backward()
            opt.step()
            return loss
        return step
    return nets, opts, make(nets[0], opts[0]), cadenza.compile(make(nets[1], opts[1]))


def _momentum(opt, net):
    opt.param_groups[0]["momentum"] = 0.5


def _freeze_bias(opt, net):
    net.bias.requires_grad_(False)


def _new_momentum_buffer(opt, net):
    st = opt.state[net.weight]
    st["momentum_buffer"] = st["momentum_buffer"].clone() * 0.5


@pytest.mark.parametrize("change", [_momentum, _freeze_bias, _new_momentum_buffer])
def test_optimizer_changes_after_quick_hits_recompile(change):
    """The optimizer and requires_grad guards' quick forms: a group option, a parameter's
    requires_grad or a state tensor replaced after cache hits is seen (a recompile), and the
    compiled steps go on equal to eager."""
    nets, opts, eager, compiled = _sgd_twins()
    for _ in range(4):
        eager()
        compiled()
    before = _stats()
    for opt, net in zip(opts, nets):
        change(opt, net)
    for _ in range(3):
        eager()
        compiled()
    assert _stats()["compiles"] > before["compiles"], change.__name__
    for a, b in zip(nets[0].parameters(), nets[1].parameters()):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)

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

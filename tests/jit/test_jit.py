"""torch.jit: scripted and traced functions and modules give eager's outputs and gradients
(compared with PyTorch's own torch.jit on the same weights), compile where they can, run
eagerly with one warning where they cannot, and save/load through Cadenza's format."""
import io
import typing
import warnings

import numpy as np
import pytest
import torch

import cadenza as C
from cadenza import jit


class Net(C.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = C.nn.Linear(4, 8)
        self.fc2 = C.nn.Linear(8, 3)
        self.scale: typing.Final[float] = 2.0

    def forward(self, x):
        return self.fc2(C.tanh(self.fc1(x))) * self.scale

    @jit.export
    def helper(self, x):
        return x + 1

    @jit.ignore
    def debug(self):
        return "python"


class TNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 8)
        self.fc2 = torch.nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x))) * 2.0


def twins():
    C.manual_seed(0)
    m = Net()
    t = TNet()
    with torch.no_grad():
        for (_, p), (_, q) in zip(m.named_parameters(), t.named_parameters()):
            q.copy_(torch.from_numpy(p.detach().numpy().copy()))
    return m, t


@pytest.mark.parametrize("how", ["script", "trace"])
def test_module_outputs_and_gradients_match_eager_and_torch(how):
    m, t = twins()
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    xc, xt = C.from_numpy(x), torch.from_numpy(x)
    sm = jit.script(m) if how == "script" else jit.trace(m, xc)
    st = torch.jit.script(t) if how == "script" else torch.jit.trace(t, xt)
    assert isinstance(sm, jit.ScriptModule) and isinstance(sm, C.nn.Module)
    for _ in range(2):  # the first call compiles, the second runs the compiled graph
        for p in m.parameters():
            p.grad = None
        out = sm(xc)
        out.square().sum().backward()
        st.zero_grad()
        ref = st(xt)
        ref.square().sum().backward()
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)
        for p, q in zip(m.parameters(), t.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-5)
    assert sm.graph is not None  # it really compiled


def test_scripted_module_shares_state_with_the_original():
    m, _ = twins()
    sm = jit.script(m)
    assert sm.fc1 is m.fc1 and list(sm.state_dict()) == list(m.state_dict())
    assert [p is q for p, q in zip(sm.parameters(), m.parameters())] == [True] * 4
    sm.eval()
    assert not m.training
    assert sm.helper(C.ones(1)).item() == 2.0 and sm.debug() == "python"
    assert sm.original_name == "Net" and "def forward" in sm.code
    assert repr(sm) == repr(m)
    seq = jit.script(C.nn.Sequential(C.nn.Linear(2, 2), C.nn.ReLU()))
    assert len(seq) == 2 and isinstance(seq[1], C.nn.ReLU) and len(list(seq)) == 2


def test_script_decorator_on_a_function_and_trace_of_a_function():
    @jit.script
    def f(x, y):
        return (x * y + 1).relu().sum(dim=0)

    @torch.jit.script
    def g(x, y):
        return (x * y + 1).relu().sum(dim=0)

    a = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    b = np.random.default_rng(2).standard_normal((3, 4)).astype(np.float32)
    xa = C.from_numpy(a).requires_grad_()
    out = f(xa, C.from_numpy(b))
    ta = torch.from_numpy(a).requires_grad_()
    ref = g(ta, torch.from_numpy(b))
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-6)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(xa.grad.numpy(), ta.grad.numpy(), rtol=1e-6)
    assert isinstance(f, jit.ScriptFunction) and f.name == "f" and "relu" in f.code
    tr = jit.trace(lambda x: x.exp() * 2, C.ones(3))
    np.testing.assert_allclose(tr(C.zeros(2)).numpy(), [2.0, 2.0])


def test_uncapturable_code_runs_eagerly_with_one_note():
    @jit.script
    def branchy(x):
        if x.sum() > 0:  # data-dependent Python control flow
            return x * 2
        return x - 1

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert branchy(C.ones(2)).tolist() == [2.0, 2.0]
        assert branchy(-C.ones(2)).tolist() == [-2.0, -2.0]
        assert branchy(C.ones(3)).tolist() == [2.0, 2.0, 2.0]
    notes = [str(w.message) for w in caught]
    assert len(notes) == 1 and "branchy runs eagerly" in notes[0] and "control flow" in notes[0]


def test_is_tracing_is_scripting_and_helpers():
    seen = []

    def fn(x):
        seen.append((jit.is_tracing(), jit.is_scripting()))
        return x + 1

    jit.trace(fn, (C.ones(1),))
    assert seen[0] == (True, False) and not jit.is_tracing()
    assert jit.annotate(typing.List[int], []) == [] and jit.Final is typing.Final
    assert jit.isinstance([1, 2], typing.List[int]) and not jit.isinstance([1, "a"],
                                                                        typing.List[int])
    assert jit.isinstance({"a": C.ones(1)}, typing.Dict[str, C.Tensor])
    assert jit.wait(jit.fork(lambda a: a * 3, 2)) == 6
    assert jit.unused(fn) is fn and jit.ignore(drop=True)(fn) is fn and jit.script(fn.__class__)
    with pytest.raises(RuntimeError, match="eval mode"):
        jit.freeze(jit.script(C.nn.Linear(1, 1)))
    frozen = jit.freeze(jit.script(C.nn.Linear(1, 1)).eval())
    assert not frozen.training
    with pytest.raises(RuntimeError, match="example_inputs"):
        jit.trace(fn)


def test_save_and_load_round_trip(tmp_path):
    m, _ = twins()
    sm = jit.script(m.eval())
    x = C.randn(2, 4)
    path = tmp_path / "scripted.pt"
    sm.save(str(path), _extra_files={"meta.txt": "hello"})
    extra = {"meta.txt": ""}
    loaded = jit.load(str(path), _extra_files=extra)
    assert isinstance(loaded, jit.ScriptModule) and extra["meta.txt"] == b"hello"
    np.testing.assert_array_equal(loaded(x).detach().numpy(), sm(x).detach().numpy())
    buf = io.BytesIO()
    jit.save(sm, buf)
    buf.seek(0)
    assert list(jit.load(buf).state_dict()) == list(m.state_dict())
    buf = io.BytesIO()
    C.save({"w": C.ones(1)}, buf)
    buf.seek(0)
    with pytest.raises(RuntimeError, match="not written by torch.jit.save"):
        jit.load(buf)
    with pytest.raises(TypeError, match="cannot store"):  # jit.save is the way
        C.save(sm, io.BytesIO())


def test_old_style_script_module_subclass():
    class Old(jit.ScriptModule):
        def __init__(self):
            super().__init__()
            self.w = C.nn.Parameter(C.ones(2))

        @jit.script_method
        def forward(self, x):
            return x * self.w

    m = Old()
    assert m(C.full((2,), 3.0)).tolist() == [3.0, 3.0] and isinstance(m, C.nn.Module)
    sm = jit.script(m)
    assert type(sm) is jit.RecursiveScriptModule and jit.script(sm) is sm
    assert sm(C.full((2,), 3.0)).tolist() == [3.0, 3.0]

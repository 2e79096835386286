"""``compile(module)`` is torch's OptimizedModule: an nn.Module whose child ``_orig_mod`` is
the original, so names carry the ``_orig_mod.`` prefix, state dicts round-trip with it,
train/eval/to reach the original, and other attributes are the original's.

torch.compile's first use imports dynamo (~30 s on a loaded machine), so the expectations
are torch 2.13's answers to the same calls, written out (``_TORCH``), not asked anew."""
import copy
import pickle

import numpy as np
import pytest

import cadenza

_KEYS = ["_orig_mod.0.weight", "_orig_mod.0.bias", "_orig_mod.1.weight", "_orig_mod.1.bias",
         "_orig_mod.1.running_mean", "_orig_mod.1.running_var",
         "_orig_mod.1.num_batches_tracked"]
_REPR = """OptimizedModule(
  (_orig_mod): Sequential(
    (0): Linear(in_features=2, out_features=3, bias=True)
    (1): BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
  )
)"""
# torch 2.13's results of the runs below (torch.compile on the same model)
_TORCH = {
    "structure": (True, True, _KEYS, _KEYS[:4], ["", "_orig_mod", "_orig_mod.0", "_orig_mod.1"],
                  _KEYS[4:], 4, 1, "OptimizedModule", _REPR, True),
    "attributes": [(False, False, False), (True, True, True), (1, 1, False), "float64",
                   False],
    "state_dict": ["<All keys matched successfully>", "RuntimeError",
                   "<All keys matched successfully>"],
}


def _model(L):
    L.manual_seed(0)
    return L.nn.Sequential(L.nn.Linear(2, 3), L.nn.BatchNorm1d(3))


def _both(fn, key):
    return fn(cadenza), _TORCH[key]


def test_names_and_structure_match_torch():
    def run(L):
        m = _model(L)
        c = L.compile(m)
        return (isinstance(c, L.nn.Module), c._orig_mod is m, list(c.state_dict()),
                [n for n, _ in c.named_parameters()], [n for n, _ in c.named_modules()],
                [n for n, _ in c.named_buffers()], len(list(c.parameters())),
                len(list(c.children())), type(c).__name__,
                repr(c).replace("torch.", "cadenza."),
                isinstance(c, L._dynamo.eval_frame.OptimizedModule))
    c, t = _both(run, "structure")
    assert c == t


def test_train_eval_to_and_attributes_forward_to_the_original():
    def run(L):
        m = _model(L)
        c = L.compile(m)
        seen = []
        c.eval()
        seen.append((m.training, m[1].training, c.training))
        c.train()
        seen.append((m.training, m[1].training, c.training))
        c.foo = 1
        seen.append((getattr(m, "foo", None), c.foo, "foo" in c.__dict__))
        c.to(L.float64)
        seen.append(str(m[0].weight.dtype).split(".")[-1])
        seen.append(c.state_dict is m.state_dict)
        return seen
    c, t = _both(run, "attributes")
    assert c == t


def test_state_dict_round_trip_and_strict_keys():
    def run(L):
        c = L.compile(_model(L))
        sd = c.state_dict()
        res = [str(c.load_state_dict(sd))]
        plain = {k.replace("_orig_mod.", ""): v for k, v in sd.items()}
        with pytest.raises(RuntimeError) as e:
            c.load_state_dict(plain)
        res.append(type(e.value).__name__)
        m2 = _model(L)
        res.append(str(m2.load_state_dict(plain)))
        with pytest.raises(RuntimeError):
            m2.load_state_dict(sd)
        return res
    c, t = _both(run, "state_dict")
    assert c == t


def test_compiled_calls_train_and_copies():
    m = _model(cadenza)
    c = cadenza.compile(m)
    x = cadenza.randn(4, 2)
    opt = cadenza.optim.SGD(c.parameters(), lr=0.1)
    for _ in range(2):
        loss = c(x).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    np.testing.assert_allclose(c(x).detach().numpy(), m(x).detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    c.eval()
    d = copy.deepcopy(c)
    assert type(d) is type(c) and d._orig_mod is not m and not d.training
    np.testing.assert_allclose(d(x).detach().numpy(), c(x).detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    p = pickle.loads(pickle.dumps(c))
    assert list(p.state_dict()) == list(c.state_dict())
    seen = []
    c.register_forward_hook(lambda mod, a, out: seen.append(out.shape))
    c(x)
    assert seen == [(4, 3)]
    assert len(c) == 2 and c[0] is m[0]

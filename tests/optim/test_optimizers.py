"""Optimizers against torch.optim: identical float64 parameters and gradients, many steps."""
import copy

import numpy as np
import pytest
import torch

import cadenza
import cadenza.nn as nn
import cadenza.optim as optim

SHAPES = [(3, 4), (5,), ()]


def _params(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    ours = [cadenza.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    return ours, theirs


def _grads(n_steps, seed=1, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(n_steps)]


def _set_grads(ours, theirs, grads, step):
    for i, (p, q, g) in enumerate(zip(ours, theirs, grads)):
        if i == 1 and step % 4 == 3:  # some steps without a gradient: the parameter is skipped
            p.grad, q.grad = None, None
        else:
            p.grad, q.grad = cadenza.tensor(g), torch.tensor(g)


def _set_own_grads(params, grads, step):
    for i, (p, g) in enumerate(zip(params, grads)):
        p.grad = None if (i == 1 and step % 4 == 3) else cadenza.tensor(g)


def _assert_close(ours, theirs, rtol=1e-12, atol=1e-12):
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=rtol, atol=atol)


def _groups(params, lrs):
    if lrs is None:
        return params
    return [{"params": params[:1], "lr": lrs[0]}, {"params": params[1:], "lr": lrs[1]}]


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True, foreach=False)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.02, betas=(0.3, 0.6), eps=1e-6, maximize=True, fused=None)),
    ("Adam", dict(lr=0.01, amsgrad=True, capturable=False, differentiable=False)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.3, amsgrad=True, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.005, alpha=0.9, centered=True, momentum=0.5, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.1, eps=1e-6, maximize=True)),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict(lr=0.01)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.01, betas=(0.5, 0.7), weight_decay=0.1, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1, maximize=True)),
    ("Adamax", dict(lr=0.01)),
    ("Adamax", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1, maximize=True)),
    ("ASGD", dict(lr=0.01)),
    ("ASGD", dict(lr=0.05, t0=5, lambd=0.01, alpha=0.5, weight_decay=0.1, maximize=True)),
    ("Rprop", dict(lr=0.01)),
    ("Rprop", dict(lr=0.02, etas=(0.3, 1.5), step_sizes=(1e-3, 0.1), maximize=True)),
    ("Adafactor", dict()),
    ("Adafactor", dict(lr=0.05, beta2_decay=-0.5, eps=(1e-20, 1e-2), d=1.5,
                       weight_decay=0.1, maximize=True)),
]


@pytest.mark.parametrize("lrs", [None, (0.03, 0.007)], ids=["one_group", "two_groups"])
@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_matches_torch(name, kw, lrs):
    ours, theirs = _params()
    opt = getattr(optim, name)(_groups(ours, lrs), **kw)
    ref = getattr(torch.optim, name)(_groups(theirs, lrs), **kw)
    for step, grads in enumerate(_grads(40)):
        _set_grads(ours, theirs, grads, step)
        opt.step()
        ref.step()
    _assert_close(ours, theirs)
    # state: same keys and values as torch's
    ours_sd, ref_sd = opt.state_dict(), ref.state_dict()
    assert sorted(ours_sd["state"]) == sorted(ref_sd["state"])
    for k, entry in ref_sd["state"].items():
        assert sorted(ours_sd["state"][k]) == sorted(entry)
        for key, v in entry.items():
            mine = ours_sd["state"][k][key]
            if key == "step":
                assert mine.dtype == cadenza.float32 and mine.ndim == 0
            np.testing.assert_allclose(mine.numpy(), v.numpy(), rtol=1e-11, atol=1e-13)
    for g, rg in zip(ours_sd["param_groups"], ref_sd["param_groups"]):
        assert sorted(g) == sorted(rg)
        assert g["params"] == rg["params"]
        assert g["lr"] == rg["lr"]


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1, momentum=0.9)),
                                     ("Adam", dict(lr=0.01, amsgrad=True)),
                                     ("RMSprop", dict(lr=0.01, centered=True))])
def test_float32_matches_torch(name, kw):
    ours, theirs = _params(dtype=np.float32)
    opt = getattr(optim, name)(ours, **kw)
    ref = getattr(torch.optim, name)(theirs, **kw)
    for step, grads in enumerate(_grads(20, dtype=np.float32)):
        _set_grads(ours, theirs, grads, step)
        opt.step()
        ref.step()
    for p in ours:
        assert p.dtype == cadenza.float32
    _assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
                                     ("Adam", dict(lr=0.05)),
                                     ("AdamW", dict(lr=0.05, weight_decay=0.1)),
                                     ("RMSprop", dict(lr=0.01, momentum=0.5)),
                                     ("Adagrad", dict(lr=0.1)),
                                     ("NAdam", dict(lr=0.05)),
                                     ("RAdam", dict(lr=0.05)),
                                     ("Adadelta", dict(lr=1.0)),
                                     ("Adamax", dict(lr=0.05)),
                                     ("ASGD", dict(lr=0.05, t0=10)),
                                     ("Rprop", dict(lr=0.05))])
def test_quadratic_loss_with_backward(name, kw):
    """Gradients from each library's own autograd; closure returns the loss."""
    rng = np.random.default_rng(3)
    A = rng.standard_normal((4, 4))
    A = A @ A.T + np.eye(4)
    b = rng.standard_normal(4)
    x0 = rng.standard_normal(4)
    x = cadenza.tensor(x0, requires_grad=True)
    y = torch.tensor(x0, requires_grad=True)
    A_c, b_c, A_t, b_t = cadenza.tensor(A), cadenza.tensor(b), torch.tensor(A), torch.tensor(b)
    opt = getattr(optim, name)([x], **kw)
    ref = getattr(torch.optim, name)([y], **kw)

    def closure_c():
        opt.zero_grad()
        loss = 0.5 * (x @ (A_c @ x)) - (b_c * x).sum()
        loss.backward()
        return loss

    def closure_t():
        ref.zero_grad()
        loss = 0.5 * (y @ (A_t @ y)) - (b_t * y).sum()
        loss.backward()
        return loss

    for _ in range(30):
        loss_c = opt.step(closure_c)
        loss_t = ref.step(closure_t)
        assert abs(loss_c.item() - loss_t.item()) <= 1e-10 * max(1.0, abs(loss_t.item()))
    np.testing.assert_allclose(x.detach().numpy(), y.detach().numpy(), rtol=1e-11, atol=1e-12)


RESUME_CASES = [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.01, amsgrad=True)),
                ("AdamW", dict(lr=0.01)), ("RMSprop", dict(lr=0.01, centered=True,
                                                           momentum=0.3)),
                ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
                ("NAdam", dict(lr=0.01, weight_decay=0.1)), ("RAdam", dict(lr=0.01)),
                ("Adadelta", dict(lr=0.5)), ("Adamax", dict(lr=0.01)),
                ("ASGD", dict(lr=0.01, t0=8)), ("Rprop", dict(lr=0.01)),
                ("Adafactor", dict(lr=0.02, weight_decay=0.1))]


@pytest.mark.parametrize("name,kw", RESUME_CASES)
def test_state_dict_resume_is_exact(name, kw):
    grads = _grads(30)
    ours, _ = _params()
    opt = getattr(optim, name)(_groups(ours, (0.02, 0.01)), **kw)
    for step in range(30):
        _set_own_grads(ours, grads[step], step)
        opt.step()

    first, _ = _params()
    opt1 = getattr(optim, name)(_groups(first, (0.02, 0.01)), **kw)
    for step in range(12):
        _set_own_grads(first, grads[step], step)
        opt1.step()
    saved = copy.deepcopy(opt1.state_dict())
    saved_params = [p.detach().clone() for p in first]
    # keep stepping the first optimizer: loading must not share state with it
    for step in range(12, 15):
        _set_own_grads(first, grads[step], step)
        opt1.step()

    second = [cadenza.tensor(p.numpy(), requires_grad=True) for p in saved_params]
    opt2 = getattr(optim, name)(_groups(second, (0.5, 0.5)), **kw)
    opt2.load_state_dict(saved)
    assert [g["lr"] for g in opt2.param_groups] == [0.02, 0.01]
    assert opt2.param_groups[0]["params"][0] is second[0]
    for step in range(12, 30):
        _set_own_grads(second, grads[step], step)
        opt2.step()
    if name in ("NAdam", "ASGD"):
        # their 0-d state (mu_product, eta, mu) is float32 until loaded, then the parameter's
        # dtype: torch's load_state_dict casts it the same way, so resuming is not bitwise there
        _assert_close(ours, second)
        assert opt2.state[second[0]]["mu" if name == "ASGD" else "mu_product"].dtype == \
            cadenza.float64
        return
    for p, q in zip(ours, second):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


@pytest.mark.parametrize("name,kw", RESUME_CASES)
def test_load_torch_state_dict(name, kw):
    """A torch state dict (tensors converted) loads and continues like torch."""
    grads = _grads(20)
    ours, theirs = _params()
    ref = getattr(torch.optim, name)(theirs, **kw)
    for step in range(10):
        for i, (q, g) in enumerate(zip(theirs, grads[step])):
            q.grad = None if (i == 1 and step % 4 == 3) else torch.tensor(g)
        ref.step()
    for p, q in zip(ours, theirs):
        with cadenza.no_grad():
            p.copy_(cadenza.tensor(q.detach().numpy()))
    sd = ref.state_dict()
    converted = {"state": {k: {n: cadenza.tensor(v.numpy()) for n, v in e.items()}
                           for k, e in sd["state"].items()},
                 "param_groups": copy.deepcopy(sd["param_groups"])}
    opt = getattr(optim, name)(ours, **kw)
    opt.load_state_dict(converted)
    for step in range(10, 20):
        _set_grads(ours, theirs, grads[step], step)
        opt.step()
        ref.step()
    _assert_close(ours, theirs)


def test_load_state_dict_validates_before_changing():
    a, b = _params()[0], _params()[0]
    opt = optim.Adam(a, lr=0.1)
    for p in a:
        p.grad = cadenza.ones_like(p)
    opt.step()
    sd = opt.state_dict()

    target = optim.Adam(_groups(b, (0.3, 0.3)), lr=0.3)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        target.load_state_dict(sd)
    target = optim.Adam([b[0], b[1]], lr=0.3)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        target.load_state_dict(sd)
    assert target.param_groups[0]["lr"] == 0.3 and len(target.state) == 0

    wrong = [cadenza.zeros(4, 3, dtype=cadenza.float64, requires_grad=True), b[1], b[2]]
    target = optim.Adam(wrong, lr=0.3)
    with pytest.raises(ValueError, match=r"exp_avg.*\(4, 3\).*\(3, 4\)"):
        target.load_state_dict(sd)
    assert target.param_groups[0]["lr"] == 0.3 and len(target.state) == 0
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        target.load_state_dict({"state": {}})

    # torch raises the same errors for the same mistakes
    ta = _params()[1]
    tsd = torch.optim.Adam(ta, lr=0.1).state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        torch.optim.Adam(_groups(_params()[1], (0.3, 0.3))).load_state_dict(tsd)


def test_zero_grad():
    p = cadenza.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    (p * p).sum().backward()
    g = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is g
    np.testing.assert_array_equal(g.numpy(), [0.0, 0.0])
    assert not g.requires_grad
    opt.step()  # a zero gradient is still a step (no-op for plain SGD)
    np.testing.assert_array_equal(p.detach().numpy(), [1.0, 2.0])
    opt.zero_grad()
    assert p.grad is None
    opt.step()  # no gradient: skipped, no state
    assert len(opt.state) == 0


def test_params_without_grad_are_skipped_and_get_no_state():
    a = cadenza.tensor([1.0], requires_grad=True)
    b = cadenza.tensor([1.0], requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = cadenza.tensor([1.0])
    opt.step()
    assert b.item() == 1.0 and b not in opt.state
    assert opt.state[a]["step"].item() == 1.0
    assert list(opt.state_dict()["state"]) == [0]


@pytest.mark.parametrize("name,kw,message", [
    ("SGD", dict(lr=-1), "Invalid learning rate: -1"),
    ("SGD", dict(lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5"),
    ("SGD", dict(lr=0.1, weight_decay=-1e-4), "Invalid weight_decay value: -0.0001"),
    ("SGD", dict(lr=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero "
                                         "dampening"),
    ("Adam", dict(lr=-0.5), "Invalid learning rate: -0.5"),
    ("Adam", dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    ("Adam", dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    ("Adam", dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    ("AdamW", dict(weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    ("RMSprop", dict(alpha=-0.1), "Invalid alpha value: -0.1"),
    ("RMSprop", dict(momentum=-0.1), "Invalid momentum value: -0.1"),
    ("Adagrad", dict(lr_decay=-0.1), "Invalid lr_decay value: -0.1"),
])
def test_invalid_hyperparameters(name, kw, message):
    with pytest.raises(ValueError) as ours:
        getattr(optim, name)([cadenza.zeros(2, requires_grad=True)], **kw)
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kw)
    assert str(ours.value) == str(theirs.value) == message


def test_constructor_errors():
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.SGD(cadenza.zeros(2, requires_grad=True), lr=0.1)
    x = cadenza.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([x * 2], lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD([{"params": {x}}], lr=0.1)
    opt = optim.SGD([x], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [x]})
    assert len(opt.param_groups) == 1


def test_param_groups_defaults_and_add_param_group():
    a, b = cadenza.zeros(2, requires_grad=True), cadenza.zeros(3, requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[1]["lr"] == 0.5
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["params"] == [b]
    c = cadenza.zeros(1, requires_grad=True)
    opt.add_param_group({"params": [c], "momentum": 0.0})
    assert opt.param_groups[2]["lr"] == 0.1 and opt.param_groups[2]["momentum"] == 0.0
    t = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    assert sorted(opt.param_groups[0]) == sorted(t.param_groups[0])
    assert sorted(opt.defaults) == sorted(t.defaults)
    assert "Parameter Group 2" in repr(opt)


def test_named_parameters_in_groups():
    a, b = cadenza.zeros(2, requires_grad=True), cadenza.zeros(3, requires_grad=True)
    opt = optim.Adam([("a", a), ("b", b)], lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["a", "b"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["a", "b"]


def test_step_hooks():
    p = cadenza.zeros(2, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    calls = []
    h1 = opt.register_step_pre_hook(lambda o, args, kwargs: calls.append(("pre", o)))
    h2 = opt.register_step_post_hook(lambda o, args, kwargs: calls.append(("post", o)))
    opt.step()
    assert calls == [("pre", opt), ("post", opt)]
    h1.remove()
    h2.remove()
    opt.step()
    assert len(calls) == 2


def test_tensor_lr_and_state_on_default_dtype():
    p = cadenza.tensor([1.0, 2.0], dtype=cadenza.float64, requires_grad=True)
    q = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    opt = optim.SGD([p], lr=cadenza.tensor(0.1))
    ref = torch.optim.SGD([q], lr=torch.tensor(0.1))
    for _ in range(3):
        p.grad, q.grad = cadenza.tensor([0.5, -1.0], dtype=cadenza.float64), \
            torch.tensor([0.5, -1.0], dtype=torch.float64)
        opt.step()
        ref.step()
    np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-6)


def test_adamw_trains_nn_linear_like_torch():
    model = nn.Linear(3, 2)
    ref = torch.nn.Linear(3, 2)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(model.weight.detach().numpy()))
        ref.bias.copy_(torch.tensor(model.bias.detach().numpy()))
    opt = optim.AdamW(model.parameters(), lr=0.01)
    ref_opt = torch.optim.AdamW(ref.parameters(), lr=0.01)
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    for _ in range(5):
        opt.zero_grad()
        ref_opt.zero_grad()
        model(cadenza.tensor(x)).pow(2).mean().backward()
        ref(torch.tensor(x)).pow(2).mean().backward()
        opt.step()
        ref_opt.step()
    np.testing.assert_allclose(model.weight.detach().numpy(), ref.weight.detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_subclass_calling_super_step_runs_hooks_once():
    class Clipped(optim.SGD):
        def step(self, closure=None):
            with cadenza.no_grad():
                for g in self.param_groups:
                    for p in g["params"]:
                        p.grad.clamp_(-1.0, 1.0)
            return super().step(closure)

    p = cadenza.zeros(2, requires_grad=True)
    opt = Clipped([p], lr=0.5)
    calls = []
    opt.register_step_pre_hook(lambda *a: calls.append("pre"))
    p.grad = cadenza.tensor([3.0, -0.5])
    opt.step()
    assert calls == ["pre"]
    assert p.detach().tolist() == [-0.5, 0.25]


def test_docstring_examples():
    import doctest
    from cadenza.optim import (adadelta, adafactor, adagrad, adam, asgd, lbfgs, lr_scheduler,
                               nadam, optimizer, rmsprop, sgd, swa_utils)
    for mod in (optim, optimizer, sgd, adam, rmsprop, adagrad, lr_scheduler, nadam, adadelta,
                asgd, lbfgs, adafactor, swa_utils):
        result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, mod.__name__


@pytest.mark.parametrize("name,kw", [("NAdam", dict(lr=0.01)), ("RAdam", dict(lr=0.01)),
                                     ("Adamax", dict(lr=0.01)), ("Adadelta", dict(lr=0.5)),
                                     ("ASGD", dict(lr=0.01, t0=5)), ("Rprop", dict(lr=0.01))])
@pytest.mark.parametrize("sched", ["step", "cosine", "onecycle"])
def test_new_optimizers_with_lr_schedulers(name, kw, sched):
    """LR schedulers drive the new optimizers as torch's do (OneCycleLR also cycles beta1 of
    the optimizers that have betas, and refuses the others like torch)."""
    def make(lib, params):
        opt = getattr(lib.optim, name)(params, **kw)
        if sched == "step":
            return opt, lib.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.5)
        if sched == "cosine":
            return opt, lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
        return opt, lib.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=25)
    ours, theirs = _params()
    try:
        ref, ref_sched = make(torch, theirs)
    except ValueError as e:
        with pytest.raises(ValueError):
            make(cadenza, ours)
        assert "momentum" in str(e)
        return
    opt, opt_sched = make(cadenza, ours)
    for step, grads in enumerate(_grads(20)):
        _set_grads(ours, theirs, grads, step)
        opt.step()
        ref.step()
        opt_sched.step()
        ref_sched.step()
        assert opt.param_groups[0]["lr"] == pytest.approx(ref.param_groups[0]["lr"], rel=1e-12)
    _assert_close(ours, theirs)
    if "betas" in ref.param_groups[0]:
        assert opt.param_groups[0]["betas"] == pytest.approx(ref.param_groups[0]["betas"])

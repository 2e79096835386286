"""Generic tests over the op table: forward vs torch, gradients vs torch, finite-difference
gradcheck and gradgradcheck, exception classes for bad input, and table completeness."""
from __future__ import annotations

import types
import warnings

import numpy as np
import pytest
import torch

import cadenza
import cadenza.functional
import cadenza.nn.functional as F
import cadenza.ops as ops
from cadenza.autograd import gradcheck, gradgradcheck
from opinfo import OPS, Maker, EXCLUDED_FUNCTIONS, EXCLUDED_PRIMITIVES, EXCLUDED_FUNCTIONAL
from opinfo_nn import EXCLUDED_TOP_LEVEL
from ops_helpers import convert_sample, assert_same, float_outputs, to_np

IDS = [o.name for o in OPS]


def _run(fn, args, kwargs):
    try:
        return fn(*args, **kwargs), None
    except Exception as e:  # noqa: BLE001 - the test compares exception classes
        return None, e


@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_forward_matches_torch(op):
    for dt in op.dtypes:
        m = Maker(dt)
        for k, s in enumerate(op.samples(m)):
            what = f"{op.name}[{dt}] sample {k} {s!r}"[:300]
            ta, tk, _ = convert_sample(s, "th")
            ca, ck, _ = convert_sample(s, "cd")
            t_out, t_err = _run(op.th, ta, tk)
            c_out, c_err = _run(op.cd, ca, ck)
            if t_err is not None:
                assert c_err is not None, f"{what}: torch raised {t_err!r}, cadenza did not"
                assert isinstance(c_err, type(t_err)), \
                    f"{what}: torch raised {type(t_err).__name__}, cadenza {c_err!r}"
                continue
            if c_err is not None:
                raise AssertionError(f"{what}: cadenza raised {c_err!r}") from c_err
            tol = dict(atol=op.atol, rtol=op.rtol)
            if dt == "float32":
                tol = dict(atol=max(op.atol, 1e-5), rtol=max(op.rtol, 2e-5))
            elif dt in ("float16", "bfloat16"):
                tol = dict(atol=2e-2, rtol=1e-2)
            assert_same(c_out, t_out, what=what, **tol)


def _weights(outs, rng):
    return [rng.standard_normal(tuple(o.shape)) for o in outs]


def _grad_samples(op):
    return (op.grad_samples or op.samples)(Maker("float64", seed=1))


GRAD_OPS = [o for o in OPS if o.grad]


@pytest.mark.parametrize("op", GRAD_OPS, ids=[o.name for o in GRAD_OPS])
def test_grad_matches_torch(op):
    for k, s in enumerate(_grad_samples(op)):
        what = f"{op.name} sample {k} {s!r}"[:300]
        ta, tk, tleaves = convert_sample(s, "th", grad=True)
        ca, ck, cleaves = convert_sample(s, "cd", grad=True)
        t_outs = float_outputs(op.th(*ta, **tk))
        c_outs = float_outputs(op.cd(*ca, **ck))
        assert len(c_outs) == len(t_outs), f"{what}: differentiable outputs differ"
        if not t_outs:
            continue
        ws = _weights(t_outs, np.random.default_rng(k))
        t_loss = sum((o * torch.tensor(w)).sum() for o, w in zip(t_outs, ws))
        c_loss = sum((o * cadenza.tensor(w)).sum() for o, w in zip(c_outs, ws))
        t_grads = torch.autograd.grad(t_loss, tleaves, allow_unused=True)
        c_grads = cadenza.autograd.grad(c_loss, cleaves, allow_unused=True)
        for i, (cg, tg) in enumerate(zip(c_grads, t_grads)):
            if tg is None:
                assert cg is None or not np.any(to_np(cg)), f"{what}: grad {i} should be None"
                continue
            assert cg is not None, f"{what}: grad {i} missing"
            assert tuple(cg.shape) == tuple(tg.shape), f"{what}: grad {i} shape"
            assert cg.dtype == cadenza.float64, f"{what}: grad {i} dtype {cg.dtype}"
            np.testing.assert_allclose(to_np(cg), to_np(tg), atol=1e-7, rtol=1e-6,
                                       err_msg=f"{what}: grad {i}")


def _small(s, limit=24):
    sizes = []

    def walk(x):
        if isinstance(x, np.ndarray):
            sizes.append(x.size)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)
    walk(s.args)
    walk(tuple(s.kwargs.values()))
    return sum(sizes) <= limit


CHECK_OPS = [o for o in OPS if o.grad and o.gradcheck]


@pytest.mark.parametrize("op", CHECK_OPS, ids=[o.name for o in CHECK_OPS])
def test_gradcheck(op):
    samples = [s for s in _grad_samples(op) if _small(s, op.check_limit)][:3]
    assert samples, f"{op.name}: no sample of at most {op.check_limit} elements to gradcheck"
    for k, s in enumerate(samples):
        args, kwargs, leaves = convert_sample(s, "cd", grad=True)
        if not leaves:
            continue

        def fn(*xs, _args=args, _kwargs=kwargs, _leaves=leaves):
            # substitute the perturbed leaves back into the call
            it = iter(xs)
            sub = {id(lf): next(it) for lf in _leaves}

            def rep(x):
                if isinstance(x, cadenza.Tensor) and id(x) in sub:
                    return sub[id(x)]
                if isinstance(x, list):
                    return [rep(v) for v in x]
                if isinstance(x, tuple):
                    return tuple(rep(v) for v in x)
                return x
            return op.cd(*rep(_args), **{kk: rep(v) for kk, v in _kwargs.items()})

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert gradcheck(fn, tuple(leaves), eps=1e-6, atol=1e-5, rtol=1e-3), \
                f"{op.name} sample {k}"
            if op.gradgrad is True:
                assert gradgradcheck(fn, tuple(leaves), eps=1e-6, atol=1e-4, rtol=1e-3), \
                    f"{op.name} sample {k} (second order)"


ERR_OPS = [o for o in OPS if o.errors]


@pytest.mark.parametrize("op", ERR_OPS, ids=[o.name for o in ERR_OPS])
def test_error_class_matches_torch(op):
    for k, e in enumerate(op.errors):
        s = e.build(Maker(e.dtype))
        exc = e.exc if isinstance(e.exc, tuple) else (e.exc,)
        ta, tk, _ = convert_sample(s, "th")
        ca, ck, _ = convert_sample(s, "cd")
        with pytest.raises(exc):  # the table states what torch raises: keep it honest
            op.th(*ta, **tk)
        with pytest.raises(exc):
            op.cd(*ca, **ck)


def test_error_messages_are_clear():
    a, b = cadenza.ones(2, 3), cadenza.ones(4)
    with pytest.raises(cadenza.ShapeError, match=r"add: expected broadcastable shapes"):
        a + b
    with pytest.raises(cadenza.ShapeError, match=r"matmul: expected a.shape\[-1\] == b.shape"
                                                  r"\[-2\], got a\(32, 1568\) @ b\(784, 10\)"):
        cadenza.ones(32, 1568) @ cadenza.ones(784, 10)
    with pytest.raises(cadenza.DTypeError):
        cadenza.ones(2, 3) @ cadenza.ones(3, 2, dtype=cadenza.float64)


# ----------------------------------------------------------------------------- completeness
def _public_functions():
    out = {}
    for n in ops.__all__:
        v = getattr(ops, n)
        if isinstance(v, (type, types.ModuleType)) or not callable(v):
            continue
        out[n] = v
    return out


def test_every_public_function_is_in_the_table():
    names = {o.name for o in OPS}
    objs = {id(getattr(ops, o.name)) for o in OPS if hasattr(ops, o.name)}
    missing = [n for n, v in _public_functions().items()
               if n not in names and id(v) not in objs and n not in EXCLUDED_FUNCTIONS]
    assert not missing, f"public functions of cadenza.ops missing from tests/ops/opinfo.py: " \
                        f"{sorted(missing)}"


def test_every_primitive_is_in_the_table():
    covered = set()
    for o in OPS:
        covered.update(o.prims)
    unknown = covered - set(ops.REGISTRY)
    assert not unknown, f"opinfo prims name unregistered primitives: {sorted(unknown)}"
    missing = set(ops.REGISTRY) - covered - set(EXCLUDED_PRIMITIVES)
    assert not missing, f"registered primitives missing from tests/ops/opinfo.py: " \
                        f"{sorted(missing)}"


def test_exclusions_are_still_needed():
    pub = _public_functions()
    stale = [n for n in EXCLUDED_FUNCTIONS if n not in pub]
    stale += [n for n in EXCLUDED_PRIMITIVES if n not in ops.REGISTRY]
    stale += [n for n in EXCLUDED_FUNCTIONAL if n not in F.__all__]
    assert not stale, f"stale exclusions: {stale}"


def test_every_functional_is_in_the_table():
    """Every public function of cadenza.nn.functional has an entry named ``f`` or
    ``f:<variant>``, or is excluded with a reason in opinfo_nn.EXCLUDED_FUNCTIONAL."""
    assert set(F.__all__) == set(cadenza.functional.__all__)
    public = {n for n in dir(F) if not n.startswith("_") and callable(getattr(F, n))
              and not isinstance(getattr(F, n), (type, types.ModuleType))}
    assert public == set(F.__all__), f"public names outside __all__: {public ^ set(F.__all__)}"
    covered = {o.name.split(":")[0] for o in OPS}
    missing = sorted(set(F.__all__) - covered - set(EXCLUDED_FUNCTIONAL))
    assert not missing, f"cadenza.nn.functional functions missing from tests/ops/opinfo_nn.py: " \
                        f"{missing}"
    both = sorted(n for n in covered & set(EXCLUDED_FUNCTIONAL))
    assert not both, f"in the table and excluded: {both}"
    # a name cadenza.ops also has, with its own function: the functional form needs its entry
    shadowed = [n for n in F.__all__ if getattr(ops, n, getattr(F, n)) is not getattr(F, n)]
    names = {o.name for o in OPS}
    missing = [n for n in shadowed if n + ":F" not in names]
    assert not missing, f"no ':F' entry for the functional form of {missing}"


def test_every_top_level_composite_is_in_the_table():
    """A public function of ``cadenza`` outside cadenza.ops has an entry ``<name>:top`` or is
    excluded with a reason in opinfo_nn.EXCLUDED_TOP_LEVEL."""
    top = {n for n in dir(cadenza) if not n.startswith("_") and callable(getattr(cadenza, n))
           and not isinstance(getattr(cadenza, n), (type, types.ModuleType))
           and not hasattr(ops, n)}
    names = {o.name for o in OPS}
    missing = sorted(n for n in top if n + ":top" not in names and n not in EXCLUDED_TOP_LEVEL)
    assert not missing, f"top-level functions missing from tests/ops/opinfo_nn.py: {missing}"
    both = sorted(n for n in EXCLUDED_TOP_LEVEL if n + ":top" in names)
    assert not both, f"in the table and excluded: {both}"


def test_every_gradgrad_exception_has_a_reason():
    bad = [o.name for o in OPS if o.gradgrad is not True and not
           (isinstance(o.gradgrad, str) and o.gradgrad)]
    assert not bad, f"gradgrad must be True or the reason it is skipped: {bad}"

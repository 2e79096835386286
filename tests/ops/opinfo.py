"""The op table (like PyTorch's OpInfo): one entry per public op of ``cadenza.ops``, and (from
opinfo_nn.py) one or more per public function of ``cadenza.nn.functional``.

Each ``OpInfo`` names the Cadenza callable and its torch oracle (a lambda where the names or
call forms differ), sample inputs (built per dtype from NumPy arrays, so both libraries get the
same data), the dtypes to run, whether it is differentiable, tolerances, and bad inputs with the
exception class torch raises. ``prims`` lists the registered primitives the entry exercises
(the completeness test in test_ops.py checks that every primitive and every public function of
``cadenza.ops`` is covered here or excluded with a reason).

Sample arguments: ``np.ndarray`` becomes a tensor in each library (float arrays require grad in
gradient tests, except a ``Const`` view: see ``S.const``), ``DT('float64')`` becomes that
library's dtype, lists/tuples are converted element-wise, anything else is passed as is.
The building blocks (S, Maker, OpInfo...) are in opinfo_base.py.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as TF

import cadenza
import cadenza.ops as ops
from opinfo_base import (FLOAT, INTS, NUM, ALL, HALF, Const, DT, S, Err, Maker,  # noqa: F401
                         OpInfo)  # (re-exported: the table's consumers import from here)


# ----------------------------------------------------------------------------- sample builders
SHAPES = [(), (5,), (2, 3), (0, 3)]


def unary(low=None, high=None, nonzero=False):
    def gen(m):
        return [S(m(*s, low=low, high=high, nonzero=nonzero)) for s in SHAPES]
    return gen


def binary(low=None, high=None, low2=None, high2=None, nonzero2=False, scalars=(2, 1.5)):
    def gen(m):
        def a(*s):
            return m(*s, low=low, high=high)

        def b(*s):
            return m(*s, low=low2, high=high2, nonzero=nonzero2)
        out = [S(a(2, 3), b(2, 3)), S(a(2, 3), b(3)), S(a(2, 1), b(1, 3)), S(a(), b(2, 3)),
               S(a(4, 1, 2), b(3, 1)), S(a(0, 3), b(3)), S(a(), b())]
        out += [S(a(2, 3), sc) for sc in scalars]
        return out
    return gen


def bcast_err(name):
    return (Err(lambda m: S(m(2, 3), m(4)), RuntimeError),)


def red_samples(m, dtype_kw=False):
    out = [S(m(2, 3)), S(m(2, 3), 1), S(m(2, 3), -1, True), S(m(2, 3, 4), (0, 2)),
           S(m(3)), S(m()), S(m(2, 3, 4), dim=(-1, 1), keepdim=True)]
    return out


def red_errors():
    return (Err(lambda m: S(m(2, 3), 2), IndexError),
            Err(lambda m: S(m(2, 3), (0, 0)), RuntimeError))


def _first(x):
    return x


# ----------------------------------------------------------------------------- the table
OPS: list[OpInfo] = []


def add(*infos):
    OPS.extend(infos)


# unary maths (integer inputs compute in the default float dtype)
for _n, _kw in [("exp", {}), ("expm1", {}), ("sin", {}), ("cos", {}), ("tanh", {}),
                ("atan", {}), ("sinh", {}), ("cosh", {}), ("sigmoid", {}), ("erf", {}),
                ("erfc", {}), ("exp2", {}),
                ("tan", dict(low=-1.2, high=1.2)),
                ("asin", dict(low=-0.9, high=0.9)), ("acos", dict(low=-0.9, high=0.9)),
                ("log", dict(low=0.2, high=3)), ("log2", dict(low=0.2, high=3)),
                ("log10", dict(low=0.2, high=3)), ("log1p", dict(low=-0.7, high=3)),
                ("sqrt", dict(low=0.2, high=3)), ("rsqrt", dict(low=0.2, high=3)),
                ("reciprocal", dict(nonzero=True))]:
    _prim = {"erfc": ("erf",), "exp2": ("pow",), "log2": ("log",), "log10": ("log",)}
    add(OpInfo(_n, unary(**_kw), dtypes=NUM + HALF, prims=_prim.get(_n),
               atol=1e-5))

add(OpInfo("neg", unary(), dtypes=NUM),
    OpInfo("square", unary(), dtypes=NUM, prims=("mul",)),
    OpInfo("relu", unary(), dtypes=NUM + HALF, prims=("relu", "relu_backward")),
    OpInfo("abs", unary(nonzero=True), dtypes=NUM),
    OpInfo("sign", unary(), dtypes=NUM + ("bool",)),
    # grad=False: torch's sgn gradient of a real tensor is a ZeroTensor (no NumPy view)
    OpInfo("sgn", unary(), dtypes=NUM + ("bool",), prims=("sign",), grad=False),
    OpInfo("angle", unary(), dtypes=NUM, prims=("where", "lt", "mul", "cast")),
    OpInfo("floor", unary(), dtypes=NUM), OpInfo("ceil", unary(), dtypes=NUM),
    OpInfo("trunc", unary(), dtypes=NUM),
    OpInfo("round", lambda m: unary()(m) + [S(m(2, 3) * 10, decimals=1)], dtypes=FLOAT),
    OpInfo("isnan", lambda m: [S(np.array([1.0, np.nan, np.inf, -np.inf], m.dtype))] +
           unary()(m), dtypes=FLOAT, grad=False),
    OpInfo("isinf", lambda m: [S(np.array([1.0, np.nan, np.inf, -np.inf], m.dtype))] +
           unary()(m), dtypes=FLOAT, grad=False),
    OpInfo("isfinite", lambda m: [S(np.array([1.0, np.nan, np.inf, -np.inf], m.dtype))] +
           unary()(m), dtypes=FLOAT, grad=False),
    OpInfo("logical_not", unary(), dtypes=ALL, grad=False),
    OpInfo("bitwise_not", unary(), dtypes=INTS + ("bool",), grad=False),
    OpInfo("nan_to_num", lambda m: [S(np.array([1.0, np.nan, np.inf, -np.inf], m.dtype)),
                                    S(np.array([1.0, np.nan, np.inf, -np.inf], m.dtype),
                                      nan=2.0, posinf=9.0, neginf=-9.0), S(m(2, 3))],
           dtypes=FLOAT, prims=("where", "isnan", "eq")),
    )

# binary arithmetic with broadcasting and promotion
add(OpInfo("add", lambda m: binary()(m) + [S(m(2, 3), m(3), alpha=2)], dtypes=NUM + HALF,
           errors=bcast_err("add")),
    OpInfo("sub", lambda m: binary()(m) + [S(m(2, 3), m(3), alpha=2)], dtypes=NUM,
           errors=bcast_err("sub")),
    OpInfo("mul", binary(), dtypes=ALL + HALF, errors=bcast_err("mul")),
    OpInfo("div", lambda m: binary(nonzero2=True)(m) + [
        S(m(2, 3), m(3, nonzero=True), rounding_mode="floor"),
        S(m(2, 3), m(3, nonzero=True), rounding_mode="trunc")], dtypes=NUM + HALF,
        errors=bcast_err("div") + (Err(lambda m: S(m(2), m(2), rounding_mode="round"),
                                       RuntimeError),),
        prims=("div", "floor", "trunc", "floor_divide"),
        grad_samples=binary(nonzero2=True)),
    OpInfo("floor_divide", binary(nonzero2=True, scalars=(2, -1.5)), dtypes=NUM, grad=False,
           prims=("floor_divide", "div", "floor")),
    OpInfo("pow", lambda m: (binary(low=0.3, high=2, low2=-2, high2=2, scalars=(2, 0.5, 3))(m)
                             if m.dtype in FLOAT else
                             binary(low=-3, high=3, low2=0, high2=3, scalars=(2, 0))(m)) +
           [S(2.0, m(2, 3, low=0, high=2))],
           dtypes=NUM, errors=bcast_err("pow")),
    OpInfo("float_power", lambda m: [S(m(2, 3, low=0.3, high=2), m(3, low=0, high=2)),
                                     S(m(2, 3, low=0.3, high=2), 2)], dtypes=NUM,
           prims=("pow", "cast")),
    OpInfo("maximum", binary(scalars=()), dtypes=NUM, errors=bcast_err("maximum")),
    OpInfo("minimum", binary(scalars=()), dtypes=NUM),
    OpInfo("remainder", binary(nonzero2=True, scalars=(3, -1.5)), dtypes=NUM,
           grad_samples=binary(low=0.1, high=0.9, low2=1.1, high2=2, scalars=(3,))),
    OpInfo("fmod", binary(nonzero2=True, scalars=(3, -1.5)), dtypes=NUM,
           grad_samples=binary(low=0.1, high=0.9, low2=1.1, high2=2, scalars=(3,))),
    OpInfo("atan2", binary(nonzero2=True, scalars=()), dtypes=NUM),
    OpInfo("lerp", lambda m: [S(m(2, 3), m(2, 3), 0.3), S(m(2, 3), m(3), m(2, 1))],
           prims=("add", "sub", "mul")),
    OpInfo("addcmul", lambda m: [S(m(2, 3), m(2, 3), m(3)), S(m(2, 3), m(3), m(2, 1), value=2)],
           prims=("add", "mul")),
    OpInfo("addcdiv", lambda m: [S(m(2, 3), m(2, 3), m(3, nonzero=True), value=0.5)],
           prims=("add", "div", "mul")),
    )
for _n in ("eq", "ne", "lt", "le", "gt", "ge"):
    add(OpInfo(_n, lambda m: binary(scalars=(0, 0.5))(m) + [S(m(3), m(3).copy())],
               dtypes=ALL, grad=False, errors=bcast_err(_n)))
for _n in ("logical_and", "logical_or", "logical_xor"):
    add(OpInfo(_n, binary(scalars=()), dtypes=ALL, grad=False))
for _n in ("bitwise_and", "bitwise_or", "bitwise_xor"):
    add(OpInfo(_n, binary(scalars=(3,)), dtypes=INTS + ("bool",), grad=False))

add(OpInfo("where", lambda m: [S(m.mask(2, 3), m(2, 3), m(2, 3)), S(m.mask(2, 1), m(3), m(2, 3)),
                               S(m.mask(2, 3), m(2, 3), 0.5), S(m.mask(2, 3), 2, m(3)),
                               S(m.mask(0, 3), m(3), m(1))],
           dtypes=NUM, errors=(Err(lambda m: S(m.mask(2, 3), m(4), m(2, 3)), RuntimeError),)),
    OpInfo("clamp", lambda m: [S(m(2, 3), -0.5, 0.5), S(m(2, 3), min=0.1), S(m(2, 3), max=0.1),
                               S(m(2, 3), m(3, low=-2, high=-0.5), m(2, 1, low=0.5, high=2))],
           dtypes=NUM, prims=("clamp", "maximum", "minimum"),
           errors=(Err(lambda m: S(m(2, 3)), RuntimeError),)),
    OpInfo("to_dtype", lambda m: [S(m(2, 3), DT(d)) for d in ALL] +
           [S(m(), DT("float64")), S(m(2, 3), DT(m.dtype), copy=True)],
           th=lambda x, d, copy=False: x.to(d, copy=copy), dtypes=ALL, prims=("cast",),
           grad_samples=lambda m: [S(m(2, 3), DT("float64"), copy=True), S(m(2, 3), DT("int64"))]),
    OpInfo("isclose", lambda m: [S(m(2, 3), m(2, 3)), S(m(3), m(3) + 1e-7),
                                 S(np.array([np.nan, 1.0], m.dtype),
                                   np.array([np.nan, 1.0], m.dtype), equal_nan=True)],
           grad=False, prims=("abs", "sub", "le", "eq", "logical_or")),
    OpInfo("allclose", lambda m: [S(m(2, 3), m(2, 3)), S(m(3), m(3) + 1e-7)], grad=False),
    OpInfo("equal", lambda m: [S(m(2, 3), m(2, 3)), S(m(3), m(3)), S(m(2), m(3))],
           dtypes=ALL, grad=False,
           cd=lambda a, b: ops.equal(a, b)),
    )

# reductions
add(OpInfo("sum", lambda m: red_samples(m) + [S(m(2, 3), dtype=DT("float64")), S(m(0, 3), 0)],
           dtypes=ALL + HALF, errors=red_errors()),
    OpInfo("nansum", lambda m: [S(np.array([1.0, np.nan, 2.0], m.dtype)), S(m(2, 3), 1)],
           prims=("sum", "where", "isnan")),
    OpInfo("mean", lambda m: red_samples(m) + [S(m(0, 3), 0)], errors=red_errors() + (
        Err(lambda m: S(m(2, 3, dtype="int64")), RuntimeError),), prims=("sum", "div")),
    OpInfo("var", lambda m: [S(m(2, 3)), S(m(2, 3), 1), S(m(2, 3), 1, correction=0),
                             S(m(2, 3, 4), (0, 2), keepdim=True), S(m(4), unbiased=False)],
           prims=("sum", "sub", "mul", "div")),
    OpInfo("std", lambda m: [S(m(2, 3)), S(m(2, 3), 1), S(m(2, 3), 0, correction=0)],
           prims=("sqrt",)),
    OpInfo("var_mean", lambda m: [S(m(2, 3)), S(m(2, 3), 1, keepdim=True)]),
    OpInfo("std_mean", lambda m: [S(m(2, 3)), S(m(2, 3), 0)]),
    OpInfo("amax", lambda m: red_samples(m) + [S(np.array([1.0, 3.0, 3.0, 2.0], m.dtype))],
           dtypes=NUM, errors=red_errors()),
    OpInfo("amin", lambda m: red_samples(m) + [S(np.array([1.0, 1.0, 3.0], m.dtype))],
           dtypes=NUM),
    OpInfo("max", lambda m: [S(m(2, 3)), S(m(2, 3), 1), S(m(2, 3), -1, True), S(m(3), 0),
                             S(m(2, 3), m(3)), S(m())],
           dtypes=NUM, prims=("amax", "argmax", "getitem", "maximum"),
           errors=(Err(lambda m: S(m(0, 3)), RuntimeError),
                   Err(lambda m: S(m(2, 3), 2), IndexError))),
    OpInfo("min", lambda m: [S(m(2, 3)), S(m(2, 3), 1), S(m(2, 3), 0, True), S(m(2, 3), m(3))],
           dtypes=NUM, prims=("amin", "argmin", "getitem", "minimum")),
    OpInfo("aminmax", lambda m: [S(m(2, 3)), S(m(2, 3), dim=1), S(m(2, 3), dim=0, keepdim=True)],
           dtypes=NUM),
    OpInfo("argmax", lambda m: [S(m(2, 3)), S(m(2, 3), 1), S(m(2, 3), 0, True),
                                S(np.array([1, 3, 3, 0], m.dtype))], dtypes=NUM, grad=False,
           errors=(Err(lambda m: S(m(2, 3), 2), IndexError),)),
    OpInfo("argmin", lambda m: [S(m(2, 3)), S(m(2, 3), 1), S(m(2, 3), -1, True)], dtypes=NUM,
           grad=False),
    OpInfo("prod", lambda m: [S(m(2, 3)), S(m(2, 3), 1), S(m(2, 3), 0, True),
                              S(np.array([[1.5, 0.0, 2.0], [0.0, 0.0, 3.0]], m.dtype), 1),
                              S(np.array([[1.5, 0.0, 2.0], [1.0, 2.0, 3.0]], m.dtype))],
           dtypes=NUM),
    OpInfo("cumsum", lambda m: [S(m(2, 3), 1), S(m(2, 3), 0), S(m(4), -1), S(m(), 0)],
           dtypes=NUM, errors=(Err(lambda m: S(m(2, 3), 2), IndexError),)),
    OpInfo("cumprod", lambda m: [S(m(2, 3, nonzero=True), 1), S(m(4, nonzero=True), 0),
                                 S(np.array([2.0, 0.0, 3.0, 0.5], m.dtype), 0)], dtypes=NUM),
    OpInfo("logsumexp", lambda m: [S(m(2, 3), 1), S(m(2, 3), (0, 1)), S(m(2, 3), 0, True),
                                   S(m(2, 3) * 300, 1)],
           prims=("amax", "exp", "sum", "log", "add", "sub")),
    OpInfo("all", lambda m: [S(m(2, 3)), S(m(2, 3), 1), S(m(0)), S(m(2, 3), 0, True)],
           dtypes=ALL, grad=False),
    OpInfo("any", lambda m: [S(m(2, 3)), S(m(2, 3), 1), S(m(0)), S(m(2, 3), 0, True)],
           dtypes=ALL, grad=False),
    OpInfo("count_nonzero", lambda m: [S(m(2, 3)), S(m(2, 3), 1)], dtypes=ALL, grad=False),
    OpInfo("argsort", lambda m: [S(m(2, 3)), S(m(2, 3), dim=0), S(m(5), descending=True)],
           th=lambda x, *a, **k: torch.argsort(x, *a, stable=True, **k), dtypes=NUM,
           grad=False),
    OpInfo("sort", lambda m: [S(m(2, 3)), S(m(2, 3), dim=0), S(m(5), descending=True)],
           th=lambda x, *a, **k: torch.sort(x, *a, stable=True, **k), dtypes=NUM,
           prims=("argsort", "getitem")),
    OpInfo("topk", lambda m: [S(m(2, 5), 2), S(m(6), 3, largest=False), S(m(3, 4), 1, dim=0)],
           errors=(Err(lambda m: S(m(3), 4), RuntimeError),)),
    OpInfo("kthvalue", lambda m: [S(m(2, 5), 2), S(m(5), 1), S(m(3, 4), 2, 0, True)]),
    OpInfo("median", lambda m: [S(m(5)), S(m(2, 4)), S(m(2, 5), 1), S(m(3, 4), 0, True)]),
    OpInfo("norm", lambda m: [S(m(2, 3, nonzero=True)), S(m(2, 3, nonzero=True), 1),
                              S(m(2, 3, nonzero=True), 2, 1), S(m(2, 3, nonzero=True), 3, 0),
                              S(m(2, 3, nonzero=True), float("inf"), 1),
                              S(m(2, 3, nonzero=True), 1, (0, 1), True)],
           prims=("sum", "sqrt", "abs", "amax", "pow")),
    )

# shape ops
add(OpInfo("reshape", lambda m: [S(m(2, 3), (3, 2)), S(m(2, 3), (-1,)), S(m(2, 3), (6,)),
                                 S(m(), (1, 1)), S(m(0, 3), (3, 0, 1))],
           dtypes=ALL, errors=(Err(lambda m: S(m(2, 3), (4,)), RuntimeError),
                               Err(lambda m: S(m(2, 3), (-1, -1)), RuntimeError))),
    OpInfo("view", lambda m: [S(m(2, 3), 3, 2), S(m(2, 3), -1)],
           cd=lambda x, *s: x.view(*s), th=lambda x, *s: x.view(*s), dtypes=ALL),
    OpInfo("view_as", lambda m: [S(m(2, 3), m(3, 2))], cd=lambda x, o: x.view_as(o),
           th=lambda x, o: x.view_as(o), prims=("view",)),
    OpInfo("reshape_as", lambda m: [S(m(2, 3), m(6))], cd=lambda x, o: x.reshape_as(o),
           th=lambda x, o: x.reshape_as(o), prims=("reshape",)),
    OpInfo("flatten", lambda m: [S(m(2, 3, 4)), S(m(2, 3, 4), 1), S(m(2, 3, 4), 0, 1), S(m())],
           dtypes=ALL, prims=("reshape",)),
    OpInfo("unflatten", lambda m: [S(m(2, 6), 1, (2, 3)), S(m(6), 0, (-1, 2))],
           prims=("reshape",)),
    OpInfo("squeeze", lambda m: [S(m(2, 1, 3, 1)), S(m(2, 1, 3), 1), S(m(2, 1, 3), 0),
                                 S(m(1, 1), (0, 1))], dtypes=ALL, prims=("reshape",)),
    OpInfo("unsqueeze", lambda m: [S(m(2, 3), 0), S(m(2, 3), -1), S(m(), 0)], dtypes=ALL,
           errors=(Err(lambda m: S(m(2, 3), 3), IndexError),)),
    OpInfo("permute", lambda m: [S(m(2, 3, 4), (2, 0, 1)), S(m(2, 3), (1, 0))], dtypes=ALL,
           errors=(Err(lambda m: S(m(2, 3), (0,)), RuntimeError),)),
    OpInfo("transpose", lambda m: [S(m(2, 3, 4), 0, 2), S(m(2, 3), -1, -2)], dtypes=ALL,
           prims=("permute",)),
    OpInfo("swapaxes", lambda m: [S(m(2, 3, 4), 0, 2)], prims=("permute",)),
    OpInfo("swapdims", lambda m: [S(m(2, 3), -1, -2)], prims=("permute",)),
    OpInfo("t", lambda m: [S(m(2, 3)), S(m(3))], prims=("permute",),
           errors=(Err(lambda m: S(m(2, 3, 4)), RuntimeError),)),
    OpInfo("movedim", lambda m: [S(m(2, 3, 4), 0, 2), S(m(2, 3, 4), (0, 1), (2, 0))],
           prims=("permute",)),
    OpInfo("expand", lambda m: [S(m(3, 1), 3, 4), S(m(3), 2, 3), S(m(1, 3), -1, 3), S(m(), 2)],
           cd=lambda x, *s: x.expand(*s), th=lambda x, *s: x.expand(*s), dtypes=ALL,
           errors=(Err(lambda m: S(m(3, 2), 3, 4), RuntimeError),)),
    OpInfo("expand_as", lambda m: [S(m(3, 1), m(2, 3, 4))], cd=lambda x, o: x.expand_as(o),
           th=lambda x, o: x.expand_as(o), prims=("expand",), check_limit=30),
    OpInfo("broadcast_to", lambda m: [S(m(3, 1), (2, 3, 4))], prims=("expand",)),
    OpInfo("broadcast_tensors", lambda m: [S(m(3, 1), m(4), m(2, 1, 1))], prims=("expand",)),
    OpInfo("broadcast_shapes", lambda m: [S((3, 1), (4,), (2, 1, 1))], grad=False,
           errors=(Err(lambda m: S((3,), (4,)), RuntimeError),)),
    OpInfo("contiguous", lambda m: [S(m(2, 3).T), S(m(2, 3))], cd=lambda x: x.contiguous(),
           th=lambda x: x.contiguous()),
    OpInfo("clone", lambda m: [S(m(2, 3)), S(m())], dtypes=ALL),
    OpInfo("cat", lambda m: [S([m(2, 3), m(1, 3)]), S([m(2, 3), m(2, 2)], 1),
                             S([m(2, 3), m(0)], 0), S([m(2), m(3), m(1)], -1)],
           dtypes=ALL, errors=(Err(lambda m: S([m(2, 3), m(2, 2)]), RuntimeError),
                               Err(lambda m: S([m(2, 3), m(2, 3)], 2), IndexError))),
    OpInfo("stack", lambda m: [S([m(2, 3), m(2, 3)]), S([m(2, 3), m(2, 3)], 2),
                               S([m(), m()])], dtypes=ALL, prims=("cat", "reshape"),
           errors=(Err(lambda m: S([m(2, 3), m(3, 2)]), RuntimeError),)),
    OpInfo("hstack", lambda m: [S([m(2, 3), m(2, 1)]), S([m(2), m(3)])], prims=("cat",)),
    OpInfo("vstack", lambda m: [S([m(2, 3), m(1, 3)]), S([m(3), m(3)])], prims=("cat",)),
    OpInfo("narrow", lambda m: [S(m(4, 3), 0, 1, 2), S(m(4, 3), 1, -2, 2)],
           prims=("getitem",), errors=(Err(lambda m: S(m(4, 3), 0, 3, 2), RuntimeError),
                                       Err(lambda m: S(m(4, 3), 0, 5, 0), IndexError))),
    OpInfo("split", lambda m: [S(m(5, 3), 2), S(m(5, 3), (1, 4)), S(m(5, 3), 1, 1)],
           prims=("getitem",), errors=(Err(lambda m: S(m(5, 3), (1, 2)), RuntimeError),)),
    OpInfo("tensor_split", lambda m: [S(m(5, 3), 2), S(m(5, 3), (1, 3)), S(m(5, 3), 2, 1)]),
    OpInfo("chunk", lambda m: [S(m(5, 3), 2), S(m(5, 3), 3, 1)]),
    OpInfo("unbind", lambda m: [S(m(3, 2)), S(m(3, 2), 1)]),
    OpInfo("select", lambda m: [S(m(3, 2), 0, 1), S(m(3, 2), 1, -1)], prims=("getitem",)),
    OpInfo("flip", lambda m: [S(m(2, 3), (0,)), S(m(2, 3), (0, 1)), S(m(2, 3), -1)],
           cd=lambda x, *d: ops.flip(x, *d),
           th=lambda x, d: torch.flip(x, (d,) if isinstance(d, int) else d), dtypes=ALL),
    OpInfo("fliplr", lambda m: [S(m(2, 3))], prims=("flip",)),
    OpInfo("flipud", lambda m: [S(m(2, 3))], prims=("flip",)),
    OpInfo("roll", lambda m: [S(m(2, 3), 1), S(m(2, 3), 1, 1), S(m(2, 3), (1, -1), (0, 1))],
           dtypes=ALL),
    OpInfo("repeat", lambda m: [S(m(2, 3), 2, 1), S(m(3), 2, 2), S(m(2, 1), (1, 3))],
           cd=lambda x, *s: x.repeat(*s), th=lambda x, *s: x.repeat(*s),
           prims=("reshape", "expand")),
    OpInfo("tile", lambda m: [S(m(2, 3), (2,)), S(m(3), (2, 2))]),
    OpInfo("repeat_interleave", lambda m: [S(m(2, 3), 2), S(m(2, 3), 2, 1),
                                           S(m(3), m.idx(3, high=3), 0)]),
    OpInfo("pad", lambda m: [S(m(2, 3), (1, 2)), S(m(2, 3), (1, 1, 2, 0), value=1.5),
                             S(m(2, 3), (-1, 1)),
                             S(m(1, 2, 4), (2, 1), mode="reflect"),
                             S(m(1, 2, 4), (2, 1), mode="replicate"),
                             S(m(1, 2, 4), (1, 2), mode="circular")],
           th=TF.pad, prims=("pad_constant", "getitem"),
           errors=(Err(lambda m: S(m(2, 3), (1,)), RuntimeError),)),
    OpInfo("tril", lambda m: [S(m(3, 4)), S(m(2, 3, 3), 1), S(m(3, 4), -1)], dtypes=ALL,
           errors=(Err(lambda m: S(m(3)), RuntimeError),)),
    OpInfo("triu", lambda m: [S(m(3, 4)), S(m(2, 3, 3), -1)], dtypes=ALL),
    OpInfo("Tensor.unfold", lambda m: [S(m(3, 4), 1, 2, 1), S(m(3, 4), 0, 2, 2),
                                       S(m(2, 5, 3), 1, 3, 2), S(m(3, 4), -1, 4, 3),
                                       S(m(3, 4), 1, 0, 1), S(m(), 0, 1, 1)],
           cd=lambda x, *a: x.unfold(*a), th=lambda x, *a: x.unfold(*a), prims=("windows",),
           errors=(Err(lambda m: S(m(3, 4), 1, 5, 1), RuntimeError),
                   Err(lambda m: S(m(3, 4), 1, 2, 0), RuntimeError),
                   Err(lambda m: S(m(3, 4), 2, 1, 1), IndexError))),
    OpInfo("diagonal", lambda m: [S(m(3, 4)), S(m(3, 4), 1), S(m(2, 3, 4), 0, 1, 2),
                                  S(m(3, 4), -2), S(m(2, 3, 4), 5, 2, 0)],
           prims=("diagonal_last",)),
    OpInfo("diag", lambda m: [S(m(3)), S(m(3), 1), S(m(3), -2), S(m(3, 4)), S(m(3, 4), 1)],
           prims=("index_put", "getitem")),
    OpInfo("trace", lambda m: [S(m(3, 4)), S(m(3, 3))]),
    OpInfo("meshgrid", lambda m: [S(m(3), m(2), indexing="ij"), S(m(3), m(2), indexing="xy")]),
    OpInfo("atleast_1d", lambda m: [S(m()), S(m(2))]),
    OpInfo("atleast_2d", lambda m: [S(m()), S(m(2)), S(m(2, 3))]),
    OpInfo("sum_to", lambda m: [S(m(2, 3), (1, 3)), S(m(2, 3), (3,)), S(m(4, 2, 3), (2, 1))],
           th=lambda x, s: x.sum_to_size(s) if len(s) == x.ndim else
           x.sum_to_size((1,) * (x.ndim - len(s)) + tuple(s)).reshape(s)),
    )

# indexing
def _idx_samples(m):
    return [S(m(4, 3), 1), S(m(4, 3), (1, 2)), S(m(4, 3), slice(1, None, 2)),
            S(m(4, 3), (Ellipsis, None, 1)), S(m(4, 3), np.array([0, 0, 3])),
            S(m(4, 3), (np.array([0, 2]), np.array([1, 1]))),
            S(m(4, 3), m.mask(4, 3)), S(m(4, 3), (m.mask(4), slice(None, 2))),
            S(m(4, 3), [2, 0, 2]), S(m(2, 3, 4), (slice(None), np.array([[0], [2]]), 1)),
            S(m(4, 3), (np.array(1), 2))]


def _setitem_cd(x, idx, v):
    y = x.clone()
    y[idx] = v
    return y


def _index_put_samples(m):
    return [S(m(4, 3), (np.array([0, 2]),), m(2, 3)),
            S(m(4, 3), (np.array([0, 0, 1]), np.array([1, 1, 2])), m(3), accumulate=True),
            S(m(4, 3), (np.array([0, 3, 1]), np.array([1, 1, 2])), m(3), accumulate=False),
            S(m(4, 3), (m.mask(4, 3),), m(1))]


add(OpInfo("getitem", _idx_samples, th=lambda x, i: x[i], dtypes=ALL,
           errors=(Err(lambda m: S(m(4, 3), 4), IndexError),
                   Err(lambda m: S(m(4, 3), np.array([0, 5])), IndexError),
                   Err(lambda m: S(m(4, 3), np.array([0.5])), IndexError),
                   Err(lambda m: S(m(4, 3), (0, 0, 0)), IndexError))),
    OpInfo("setitem", lambda m: [S(m(4, 3), 1, m(3)), S(m(4, 3), slice(0, 2), 0.5),
                                 S(m(4, 3), np.array([0, 2]), m(2, 3)),
                                 S(m(4, 3), m.mask(4, 3), 2.0),
                                 S(m(4, 3), (np.array([1, 3]), 0), m(2))],
           cd=_setitem_cd, th=_setitem_cd, dtypes=NUM, prims=("index_put", "clone"),
           errors=(Err(lambda m: S(m(4, 3), 1, m(4)), RuntimeError),)),
    OpInfo("index_put", _index_put_samples, dtypes=NUM,
           th=lambda x, i, v, accumulate=False: torch.index_put(x, i, v, accumulate)),
    OpInfo("gather", lambda m: [S(m(3, 4), 1, m.idx(3, 2, high=4)),
                                S(m(3, 4), 0, m.idx(2, 4, high=3)),
                                S(m(3, 4), -1, m.idx(2, 5, high=4))], dtypes=NUM,
           prims=("getitem", "index_range_check"),
           errors=(Err(lambda m: S(m(3, 4), 1, m(3, 2)), RuntimeError),
                   Err(lambda m: S(m(3, 4), 1, m.idx(3, high=2)), RuntimeError),
                   Err(lambda m: S(m(3, 4), 2, m.idx(3, 2, high=2)), IndexError))),
    OpInfo("take_along_dim", lambda m: [S(m(3, 4), m.idx(3, 2, high=4), 1),
                                        S(m(3, 4), m.idx(5, high=12))]),
    OpInfo("take", lambda m: [S(m(3, 4), m.idx(5, high=12)), S(m(3, 4), m.idx(2, 2, high=12))]),
    OpInfo("scatter", lambda m: [S(m(3, 4), 1, np.array([[0, 1], [2, 3], [1, 0]]), m(3, 2)),
                                 S(m(3, 4), 0, np.array([[0, 1, 2, 0]]), 2.5),
                                 S(m(3, 4), 1, np.array([[0, 0], [1, 1], [3, 3]]), m(3, 2),
                                   reduce="add")],
           th=lambda x, d, i, s, reduce=None: (
               torch.scatter_add(x, d, i, s) if reduce == "add" else
               torch.scatter(x, d, i, s) if isinstance(s, torch.Tensor) else
               torch.scatter(x, d, i, value=s)), dtypes=NUM,
           prims=("index_put",), grad_samples=lambda m: [
               S(m(3, 4), 1, np.array([[0, 1], [2, 3], [1, 0]]), m(3, 2))]),
    OpInfo("scatter_add", lambda m: [S(m(3, 4), 1, np.array([[0, 0], [2, 3], [1, 1]]), m(3, 2)),
                                     S(m(3, 4), 0, m.idx(4, 4, high=3), m(4, 4))], dtypes=NUM),
    OpInfo("index_select", lambda m: [S(m(3, 4), 1, np.array([0, 3, 3])),
                                      S(m(3, 4), 0, np.array([2])),
                                      S(m(3), 0, np.array([0, 0]))],
           dtypes=ALL, prims=("getitem",),
           errors=(Err(lambda m: S(m(3, 4), 0, np.array([[0]])), IndexError),)),
    OpInfo("index_add", lambda m: [S(m(3, 4), 0, np.array([0, 2, 0]), m(3, 4)),
                                   S(m(3, 4), 1, np.array([1, 1]), m(3, 2), alpha=2)], dtypes=NUM),
    OpInfo("index_copy", lambda m: [S(m(3, 4), 0, np.array([2, 0]), m(2, 4))], dtypes=NUM),
    OpInfo("index_fill", lambda m: [S(m(3, 4), 1, np.array([2, 0]), -1.0)], dtypes=FLOAT),
    OpInfo("masked_fill", lambda m: [S(m(3, 4), m.mask(3, 4), 0.5), S(m(3, 4), m.mask(4), -1),
                                     S(m(3, 4), m.mask(3, 1), np.array(2.0, m.dtype))],
           dtypes=NUM, prims=("where",),
           errors=(Err(lambda m: S(m(3, 4), m.mask(2, 4), 0.5), RuntimeError),
                   Err(lambda m: S(m(3, 4), m(3, 4), 0.5), RuntimeError))),
    OpInfo("masked_select", lambda m: [S(m(3, 4), m.mask(3, 4)), S(m(3, 4), m.mask(4))],
           dtypes=NUM),
    OpInfo("masked_scatter", lambda m: [S(m(3, 4), m.mask(3, 4), m(12))], dtypes=NUM,
           check_limit=40),
    OpInfo("nonzero", lambda m: [S(m(3, 4)), S(m(5)), S(m(3, 4), as_tuple=True)],
           dtypes=ALL, grad=False),
    OpInfo("argwhere", lambda m: [S(m(3, 4))], dtypes=ALL, grad=False),
    OpInfo("one_hot", lambda m: [S(m.idx(5, high=4)), S(m.idx(2, 3, high=3), 5)],
           th=TF.one_hot, dtypes=("int64",), grad=False,
           errors=(Err(lambda m: S(np.array([0, 4]), 3), RuntimeError),)),
    OpInfo("bincount", lambda m: [S(m.idx(10, high=5)), S(m.idx(10, high=3), minlength=5),
                                  S(m.idx(4, high=3), m(4, dtype="float64"))],
           dtypes=("int64",), grad=False),
    OpInfo("searchsorted", lambda m: [S(np.sort(m(6)), m(4)), S(np.sort(m(6)), m(2, 3), right=True),
                                      S(np.sort(m(2, 5), axis=1), m(2, 3))],
           dtypes=FLOAT, grad=False),
    OpInfo("bucketize", lambda m: [S(m(2, 3), np.sort(m(5))), S(m(4), np.sort(m(5)), right=True)],
           dtypes=FLOAT, grad=False),
    OpInfo("unique", lambda m: [S(m(8, low=0, high=3)),
                                S(m(8, low=0, high=3), return_inverse=True, return_counts=True),
                                S(m(3, 2, low=0, high=1), dim=0)],
           dtypes=INTS, grad=False),
    )

# linear algebra
add(OpInfo("matmul", lambda m: [S(m(2, 3), m(3, 4)), S(m(3), m(3, 4)), S(m(2, 3), m(3)),
                                S(m(3), m(3)), S(m(5, 2, 3), m(3, 4)), S(m(2, 1, 2, 3), m(3, 3, 2)),
                                S(m(0, 3), m(3, 2))],
           dtypes=FLOAT + ("int64",), atol=1e-5, rtol=1e-4,
           errors=(Err(lambda m: S(m(2, 3), m(4, 5)), RuntimeError),
                   Err(lambda m: S(m(2, 3), m(3, 4, dtype="float64")), RuntimeError),
                   Err(lambda m: S(m(), m(3)), RuntimeError),
                   Err(lambda m: S(m(2, 2, 3), m(3, 3, 4)), RuntimeError))),
    OpInfo("mm", lambda m: [S(m(2, 3), m(3, 4))], prims=("matmul",), rtol=1e-4,
           errors=(Err(lambda m: S(m(3), m(3, 4)), RuntimeError),)),
    OpInfo("bmm", lambda m: [S(m(2, 2, 3), m(2, 3, 4))], prims=("matmul",), rtol=1e-4,
           check_limit=40,
           errors=(Err(lambda m: S(m(2, 2, 3), m(3, 3, 4)), RuntimeError),)),
    OpInfo("mv", lambda m: [S(m(2, 3), m(3))], prims=("matmul",), rtol=1e-4),
    OpInfo("dot", lambda m: [S(m(3), m(3))], prims=("matmul",), rtol=1e-4,
           errors=(Err(lambda m: S(m(2, 3), m(3)), RuntimeError),)),
    OpInfo("vdot", lambda m: [S(m(3), m(3))], rtol=1e-4),
    OpInfo("inner", lambda m: [S(m(3), m(3)), S(m(2, 3), m(4, 3)), S(m(2, 3), m(3)),
                               S(m(), m(2, 3))], rtol=1e-4,
           errors=(Err(lambda m: S(m(2, 3), m(4)), RuntimeError),)),
    OpInfo("outer", lambda m: [S(m(3), m(4))], dtypes=NUM),
    OpInfo("addmm", lambda m: [S(m(2, 4), m(2, 3), m(3, 4)), S(m(4), m(2, 3), m(3, 4), beta=0.5,
                                                              alpha=2)], rtol=1e-4),
    OpInfo("baddbmm", lambda m: [S(m(2, 2, 4), m(2, 2, 3), m(2, 3, 4), alpha=0.5)], rtol=1e-4,
           check_limit=60),
    OpInfo("addmv", lambda m: [S(m(2), m(2, 3), m(3), beta=2)], rtol=1e-4),
    OpInfo("einsum", lambda m: [S("ij,jk->ik", m(2, 3), m(3, 4)), S("bij,bjk", m(2, 2, 3),
                                                                    m(2, 3, 2)),
                                S("i,i->", m(3), m(3)), S("ij->j", m(2, 3)),
                                S("...ij,...jk->...ik", m(2, 2, 3), m(3, 2)),
                                S("i,j,k->ijk", m(2), m(3), m(2)), S("ij->ji", m(2, 3))],
           rtol=1e-4, errors=(Err(lambda m: S("ij,jk->ik", m(2, 3)), RuntimeError),
                              Err(lambda m: S("ijk,jk->ik", m(2, 3), m(3, 4)), RuntimeError))),
    OpInfo("tensordot", lambda m: [S(m(2, 3, 4), m(3, 4, 2)), S(m(2, 3), m(3, 2), 1),
                                   S(m(2, 3, 4), m(4, 3), ([1, 2], [1, 0]))],
           rtol=1e-4, prims=("einsum",)),
    )

# fused linear layer (GEMM + bias)
add(OpInfo("linear", lambda m: [S(m(4, 3), m(5, 3), m(5)), S(m(4, 3), m(5, 3)),
                                S(m(2, 4, 3), m(5, 3), m(5))], th=TF.linear, rtol=1e-4,
           prims=("linear", "matmul"), check_limit=32,
           errors=(Err(lambda m: S(m(4, 3), m(5, 2)), RuntimeError),)))

# weight-only int8 GEMM (cadenza.models.quant): torch's 2-d form, and the N-d form with bias
def _int8(m, *shape):
    return m(*shape, low=-127, high=127, dtype="int8")


add(OpInfo("_weight_int8pack_mm", lambda m: [S(m(4, 3), _int8(m, 5, 3), m(5)),
                                             S(m(1, 6), _int8(m, 2, 6), m(2))],
           cd=ops.linalg._weight_int8pack_mm, th=torch._weight_int8pack_mm,
           dtypes=("float32",), grad=False, prims=("int8_linear",),  # torch: no derivative
           errors=(Err(lambda m: S(m(4, 3), _int8(m, 5, 2), m(5)), RuntimeError),
                   Err(lambda m: S(m(4, 3), m(5, 3, dtype="int32"), m(5)), RuntimeError),
                   Err(lambda m: S(m(2, 4, 3), _int8(m, 5, 3), m(5)), RuntimeError))),
    OpInfo("int8_linear", lambda m: [S(m(2, 2), _int8(m, 3, 2), m(3), m(3)),
                                     S(m(4, 3), _int8(m, 5, 3), m(5), m(5)),
                                     S(m(2, 4, 3), _int8(m, 5, 3), m(5)),
                                     S(m(3), _int8(m, 5, 3), m(5), m(5))],
           th=lambda x, w, s, b=None: TF.linear(x, w.to(x.dtype) * s[:, None], b), rtol=1e-4,
           errors=(Err(lambda m: S(m(4, 3), _int8(m, 5, 2), m(5)), RuntimeError),
                   Err(lambda m: S(m(4, 3), _int8(m, 5, 3), m(4)), RuntimeError))))

# fused activations (primitives with derivative primitives for fast first-order backward)
add(OpInfo("gelu", unary(), th=TF.gelu, dtypes=FLOAT, prims=("gelu", "gelu_backward")),
    OpInfo("gelu_tanh", unary(), cd=lambda x: ops.gelu(x, approximate="tanh"),
           th=lambda x: TF.gelu(x, approximate="tanh"), dtypes=FLOAT,
           prims=("gelu_tanh", "gelu_tanh_backward")))


from cadenza.ops.activation import gru_cell as _gru_cell  # noqa: E402
from cadenza.ops.activation import lstm_cell as _lstm_cell  # noqa: E402


def _th_lstm_cell(z, c):
    i, f, g, o = z.chunk(4, -1)
    cn = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return torch.cat([o.sigmoid() * cn.tanh(), cn], -1)


# nn.LSTM's fused step ([h' | c'] from the gates and c)
add(OpInfo("lstm_cell", lambda m: [S(m(3, 8), m(3, 2)), S(m(8), m(2)),
                                   S(m(2, 3, 12), m(2, 3, 3))],
           cd=lambda z, c: ops.cat(_lstm_cell(z, c), -1), th=_th_lstm_cell,
           prims=("lstm_cell", "lstm_cell_backward"),
           errors=(Err(lambda m: S(m(3, 8), m(3, 3)), RuntimeError),)))


def _th_gru_cell(xw, hw, h):
    x_r, x_z, x_n = xw.chunk(3, -1)
    h_r, h_z, h_n = hw.chunk(3, -1)
    r, z = (x_r + h_r).sigmoid(), (x_z + h_z).sigmoid()
    n = (x_n + r * h_n).tanh()
    return (1 - z) * n + z * h


# nn.GRU's fused step (h' from the two projections and h)
add(OpInfo("gru_cell", lambda m: [S(m(3, 6), m(3, 6), m(3, 2)), S(m(6), m(6), m(2)),
                                  S(m(2, 3, 9), m(2, 3, 9), m(2, 3, 3))],
           cd=_gru_cell, th=_th_gru_cell, prims=("gru_cell", "gru_cell_backward"),
           errors=(Err(lambda m: S(m(3, 6), m(3, 6), m(3, 3)), RuntimeError),)))

from cadenza.ops.activation import gru_layer as _gru_layer  # noqa: E402
from cadenza.ops.activation import lstm_layer as _lstm_layer  # noqa: E402
from cadenza.ops.activation import rnn_layer as _rnn_layer  # noqa: E402


def _mask(xw, lengths):
    """A packed batch's (L, N) mask of live steps, for the layer primitives."""
    return None if lengths is None else cadenza.tensor(
        np.arange(xw.shape[0])[:, None] < np.asarray(lengths)[None])


def _th_scan(step, xw, state, lengths, reverse):
    """torch reference of a layer primitive: ``state`` (a tuple) through ``step(x_t, state)``
    over the steps, held where a sample's sequence ended; (stacked first states, last)."""
    outs = [None] * xw.shape[0]
    for t in (range(xw.shape[0] - 1, -1, -1) if reverse else range(xw.shape[0])):
        new = step(xw[t], state)
        if lengths is not None:
            live = (torch.tensor(lengths) > t)[:, None]
            new = tuple(torch.where(live, a, b) for a, b in zip(new, state))
        state = new
        outs[t] = state[0]
    return torch.stack(outs), state


def _hw(h, w, b):
    return h @ w.T + (b if b is not None else 0)


def _cd_lstm_layer(xw, h0, c0, w, b=None, lengths=None, reverse=False):
    out, _, c_n = _lstm_layer(xw, h0, c0, w, b, _mask(xw, lengths), reverse=reverse)
    return ops.cat([out.reshape(-1), c_n.reshape(-1)])


def _th_lstm_layer(xw, h0, c0, w, b=None, lengths=None, reverse=False):
    out, (_, c) = _th_scan(lambda x, s: _th_lstm_cell(x + _hw(s[0], w, b), s[1]).chunk(2, -1),
                           xw, (h0, c0), lengths, reverse)
    return torch.cat([out.reshape(-1), c.reshape(-1)])


# nn.LSTM's time loop (one layer and direction; lengths: a packed batch's, as a mask)
add(OpInfo("lstm_layer", lambda m: [S(m(2, 1, 4), m(1, 1), m(1, 1), m(4, 1), m(4)),
                                    S(m(2, 1, 4), m(1, 1), m(1, 1), m(4, 1), reverse=True),
                                    S(m(3, 2, 8), m(2, 2), m(2, 2), m(8, 2), m(8)),
                                    S(m(4, 3, 8), m(3, 2), m(3, 2), m(8, 2), m(8),
                                      lengths=(4, 1, 2)),
                                    S(m(4, 3, 8), m(3, 2), m(3, 2), m(8, 2), m(8),
                                      lengths=(2, 4, 3), reverse=True)],
           cd=_cd_lstm_layer, th=_th_lstm_layer, prims=("lstm_layer", "lstm_layer_backward"),
           errors=(Err(lambda m: S(m(3, 2, 8), m(2, 3), m(2, 2), m(8, 2)), RuntimeError),)))


def _cd_gru_layer(xw, h0, w, b=None, lengths=None, reverse=False):
    return _gru_layer(xw, h0, w, b, _mask(xw, lengths), reverse=reverse)[0]


def _th_gru_layer(xw, h0, w, b=None, lengths=None, reverse=False):
    return _th_scan(lambda x, s: (_th_gru_cell(x, _hw(s[0], w, b), s[0]),), xw, (h0,),
                    lengths, reverse)[0]


def _cd_rnn_layer(xw, h0, w, b=None, lengths=None, reverse=False, nonlinearity="tanh"):
    return _rnn_layer(xw, h0, w, b, _mask(xw, lengths), reverse=reverse,
                      nonlinearity=nonlinearity)[0]


def _th_rnn_layer(xw, h0, w, b=None, lengths=None, reverse=False, nonlinearity="tanh"):
    act = torch.relu if nonlinearity == "relu" else torch.tanh
    return _th_scan(lambda x, s: (act(x + _hw(s[0], w, b)),), xw, (h0,), lengths, reverse)[0]


# nn.GRU's and nn.RNN's time loops (one layer and direction; RNN: tanh or relu)
add(OpInfo("gru_layer", lambda m: [S(m(2, 1, 3), m(1, 1), m(3, 1), m(3)),
                                   S(m(2, 1, 3), m(1, 1), m(3, 1), reverse=True),
                                   S(m(3, 2, 6), m(2, 2), m(6, 2), m(6)),
                                   S(m(4, 3, 6), m(3, 2), m(6, 2), m(6), lengths=(4, 1, 2)),
                                   S(m(4, 3, 6), m(3, 2), m(6, 2), m(6), lengths=(2, 4, 3),
                                     reverse=True)],
           cd=_cd_gru_layer, th=_th_gru_layer, prims=("gru_layer", "gru_layer_backward"),
           errors=(Err(lambda m: S(m(3, 2, 6), m(2, 3), m(6, 2)), RuntimeError),)),
    OpInfo("rnn_layer", lambda m: [S(m(3, 1, 2), m(1, 2), m(2, 2), m(2)),
                                   S(m(3, 1, 2), m(1, 2), m(2, 2), reverse=True),
                                   S(m(3, 2, 2), m(2, 2), m(2, 2), m(2), nonlinearity="relu"),
                                   S(m(4, 3, 3), m(3, 3), m(3, 3), m(3), lengths=(4, 1, 2)),
                                   S(m(4, 3, 3), m(3, 3), m(3, 3), m(3), lengths=(2, 4, 3),
                                     reverse=True, nonlinearity="relu")],
           cd=_cd_rnn_layer, th=_th_rnn_layer, prims=("rnn_layer", "rnn_layer_backward"),
           errors=(Err(lambda m: S(m(3, 2, 3), m(2, 2), m(3, 3)), RuntimeError),)))

# fused norms, softmaxes and cross entropy (cadenza/ops/normalization.py, softmax_fused.py),
# reached through their functional wrappers; the (300, 128) samples span several blocks
import cadenza.nn.functional as CF  # noqa: E402

add(OpInfo("layer_norm", lambda m: [S(m(2, 4), (4,), m(4), m(4)), S(m(3, 4), (4,)),
                                    S(m(2, 2, 3), (2, 3), m(2, 3), m(2, 3), eps=1e-3),
                                    S(m(2, 4), [4], None, m(4)),
                                    S(m(300, 128), (128,), m(128), m(128))],
           cd=CF.layer_norm, th=TF.layer_norm, rtol=1e-4,
           prims=("layer_norm", "layer_norm_backward", "layer_norm_weight_grad"),
           errors=(Err(lambda m: S(m(2, 3), (4,)), RuntimeError),)),
    OpInfo("rms_norm", lambda m: [S(m(2, 4), (4,), m(4)), S(m(3, 4), (4,)),
                                  S(m(2, 2, 3), (2, 3), m(2, 3), eps=1e-3),
                                  S(m(300, 128), (128,), m(128), eps=1e-5)],
           cd=CF.rms_norm, th=TF.rms_norm, rtol=1e-4,
           prims=("rms_norm", "rms_norm_backward", "rms_norm_weight_grad")),
    OpInfo("softmax", lambda m: [S(m(2, 3), 1), S(m(2, 3, 2), 0), S(m(3, 5), -1),
                                 S(m(300, 128), -1)],
           cd=CF.softmax, th=TF.softmax, prims=("softmax", "softmax_backward")),
    OpInfo("log_softmax", lambda m: [S(m(2, 3), 1), S(m(2, 3, 2), 0), S(m(300, 128), -1)],
           cd=CF.log_softmax, th=TF.log_softmax,
           prims=("log_softmax", "log_softmax_backward")),
    OpInfo("cross_entropy", lambda m: [S(m(4, 3), np.array([0, 2, 1, 2])),
                                       S(m(4, 3), np.array([0, 2, 1, 2]), ignore_index=2),
                                       S(m(4, 3), np.array([1, 0, 1, 2]), reduction="sum"),
                                       S(m(4, 3), np.array([1, 0, -1, 2]), ignore_index=-1,
                                         reduction="none"),
                                       S(m(300, 128), m.idx(300, high=128))],
           cd=CF.cross_entropy, th=TF.cross_entropy, rtol=1e-4,
           prims=("cross_entropy", "cross_entropy_backward")),
    OpInfo("scaled_dot_product_attention",
           lambda m: [S(m(1, 3, 2), m(1, 3, 2), m(1, 3, 2), is_causal=True),
                      S(m(1, 2, 2), m(1, 3, 2), m(1, 3, 1), is_causal=True),
                      S(m(1, 2, 2), m(1, 3, 2), m(1, 3, 1), scale=0.3),
                      S(m(2, 2, 40, 8), m(2, 2, 40, 8), m(2, 2, 40, 4), is_causal=True)],
           cd=CF.scaled_dot_product_attention, th=TF.scaled_dot_product_attention, rtol=1e-4,
           prims=("softmax", "softmax_backward", "matmul")))

# sliding windows
add(OpInfo("unfold", lambda m: [S(m(1, 2, 4, 5), 2), S(m(2, 1, 5, 5), (2, 3), 1, 1, 2),
                                S(m(1, 1, 5, 6), 3, dilation=2),
                                S(m(2, 4, 5), (2, 2), padding=1)], th=TF.unfold, check_limit=40,
           errors=(Err(lambda m: S(m(1, 1, 2, 5, 5), 2), RuntimeError),
                   Err(lambda m: S(m(1, 1, 2, 2), 3), RuntimeError))),
    OpInfo("fold", lambda m: [S(m(1, 8, 12), (4, 5), 2), S(m(2, 6, 9), (5, 5), (2, 3), 1, 1, 2),
                              S(m(4, 4), (3, 3), 2)],
           errors=(Err(lambda m: S(m(1, 1, 4, 4), (3, 3), 2), RuntimeError),),
           th=TF.fold),
    )

# max pooling primitive pair (max_pool2d + its derivative primitive, Tensor-op gradgrad)
add(OpInfo("max_pool2d", lambda m: [S(m(1, 1, 4, 4), 2), S(m(2, 3, 6, 6), 2),
                                    S(m(1, 2, 7, 5), 3, 2, 1),
                                    S(m(2, 2, 7, 7), (2, 3), (1, 2), (1, 0), 2, True),
                                    S(m(1, 2, 9, 8), 3, 1, 1), S(m(2, 5, 5), 2, ceil_mode=True)],
           cd=lambda *a, **k: __import__("cadenza").nn.functional.max_pool2d(*a, **k),
           th=TF.max_pool2d, prims=("max_pool2d", "max_pool2d_backward")))

add(OpInfo("asinh", unary(), dtypes=NUM + HALF, atol=1e-5))
add(OpInfo("atanh", unary(low=-0.9, high=0.9), dtypes=NUM + HALF, atol=1e-5))


# --- Tensor methods (issue 10): new ops and composites -------------------------------------
def _edge(*vals):
    """A sample of fixed values (special points: zeros, NaN, inf, ties)."""
    return lambda m: S(np.array(vals, m.dtype if m.dtype in FLOAT else "float64"))


_INFS = (1.0, np.nan, np.inf, -np.inf, -0.0, 0.0, -2.0)


def _method(name):
    """(cd, th) calling the Tensor method ``name`` on the first argument."""
    def call(x, *a, **k):
        return getattr(x, name)(*a, **k)
    return call


add(OpInfo("acosh", unary(low=1.1, high=3), dtypes=NUM + HALF, atol=1e-5),
    OpInfo("lgamma", lambda m: unary(low=0.2, high=4)(m) + [_edge(-2.5, -0.5, 0.3, 7.5)(m)],
           dtypes=NUM, prims=("lgamma", "digamma", "polygamma")),
    OpInfo("digamma", lambda m: unary(low=0.2, high=4)(m) + [_edge(-2.5, -0.5, 0.3, 17.5)(m)],
           dtypes=NUM, prims=("digamma", "polygamma")),
    OpInfo("polygamma", lambda m: [S(n, m(2, 3, low=0.3, high=4)) for n in range(4)] +
           [S(1, m(5, low=12, high=30)), S(2, m())], dtypes=FLOAT, atol=1e-5),
    OpInfo("mvlgamma", lambda m: [S(m(2, 3, low=1.6, high=4), 1), S(m(4, low=1.6, high=4), 3)],
           dtypes=FLOAT, prims=("lgamma",)),
    # (torch differentiates igamma/igammac in x only: the shape parameter a is a constant here)
    OpInfo("igamma", lambda m: [S(m(2, 3, low=0.5, high=3), m(2, 3, low=0.1, high=4)).const(0),
                                S(m(3, low=0.5, high=3), m(2, 1, low=0.1, high=6)).const(0),
                                S(np.array([1.0, 2.0, 3.0]), np.array([0.0, np.inf, 2.0]))
                                .const(0)], prims=("gammainc", "lgamma", "exp"),
           grad_samples=lambda m: [
               S(m(2, 3, low=0.5, high=3), m(2, 3, low=0.1, high=4)).const(0),
               S(m(3, low=0.5, high=3), m(2, 1, low=0.1, high=6)).const(0)]),
    OpInfo("igammac", lambda m: [S(m(2, 3, low=0.5, high=3), m(2, 3, low=0.1, high=4)).const(0),
                                 S(m(3, low=4, high=9), m(2, 1, low=5, high=9)).const(0)],
           prims=("gammainc", "lgamma", "exp")),
    OpInfo("erfinv", lambda m: unary(low=-0.9, high=0.9)(m) + [_edge(-1, 1, 0, 0.999, 1.5)(m)],
           dtypes=NUM + HALF, grad_samples=unary(low=-0.9, high=0.9), prims=("erfinv", "exp")),
    OpInfo("i0", lambda m: unary(low=-3, high=3)(m) + [_edge(0, 12.5, -30)(m)], dtypes=NUM,
           prims=("i0", "i1"), grad_samples=unary(low=-3, high=3)),
    OpInfo("signbit", lambda m: [_edge(*_INFS)(m)] + unary()(m), dtypes=NUM, grad=False),
    OpInfo("isposinf", lambda m: [_edge(*_INFS)(m)] + unary()(m), dtypes=NUM, grad=False,
           prims=("isinf", "gt", "bitwise_and", "logical_and")),
    OpInfo("isneginf", lambda m: [_edge(*_INFS)(m)] + unary()(m), dtypes=NUM, grad=False,
           prims=("isinf", "lt")),
    OpInfo("deg2rad", unary(), dtypes=NUM, prims=("mul",)),
    OpInfo("rad2deg", unary(), dtypes=NUM, prims=("mul",)),
    OpInfo("frac", lambda m: unary()(m) + [_edge(-1.5, 2.0, -0.0, 3.25)(m)],
           errors=(Err(lambda m: S(m(3, dtype="int64")), RuntimeError),),
           prims=("sub", "trunc")),
    OpInfo("sinc", lambda m: unary()(m) + [_edge(0.0, 1.0, -0.5)(m)], grad_samples=unary(),
           dtypes=NUM, prims=("sin", "div", "where")),
    OpInfo("logit", lambda m: unary(low=0.05, high=0.95)(m) + [
        S(m(2, 3, low=0, high=1), eps=0.2), S(np.array([0.0, 1.0, 0.5], m.dtype))],
        grad_samples=lambda m: [S(m(2, 3, low=0.05, high=0.95)),
                                S(np.array([0.1, 0.3, 0.9], m.dtype), eps=0.2)],
        prims=("log", "div", "clamp")),
    OpInfo("positive", unary(), dtypes=NUM, errors=(Err(lambda m: S(m(3, dtype="bool")),
                                                        RuntimeError),)),
    OpInfo("logaddexp", lambda m: binary(scalars=())(m) + [
        S(np.array([-np.inf, np.inf, 1000.0, -1000.0], m.dtype),
          np.array([-np.inf, 1.0, 1000.0, 3.0], m.dtype))],
        grad_samples=binary(scalars=()), prims=("exp", "log", "maximum", "add"),
        errors=(Err(lambda m: S(m(3), m(3)), NotImplementedError, "int64"),)),
    OpInfo("logaddexp2", binary(scalars=()), prims=("exp", "log", "maximum", "add")),
    OpInfo("xlogy", lambda m: [S(m(2, 3), m(2, 3, low=0.1, high=3)),
                               S(m(2, 3), m(3, low=0.1, high=3)),
                               S(np.array([0.0, 0.0, 1.0, 2.0], m.dtype),
                                 np.array([0.0, np.nan, 2.0, 0.5], m.dtype)),
                               S(m(2, 3), 2.5), S(2.0, m(3, low=0.1, high=3))],
           grad_samples=lambda m: [S(m(2, 3), m(2, 3, low=0.1, high=3)),
                                   S(np.array([0.0, 1.0], m.dtype), m(2, low=0.5, high=2))],
           prims=("log", "mul", "where", "eq")),
    OpInfo("hypot", binary(low2=0.3, high2=2, scalars=()), prims=("sqrt", "mul", "add"),
           errors=(Err(lambda m: S(m(3), m(3)), NotImplementedError, "int64"),)),
    OpInfo("copysign", lambda m: [x.const(1) for x in binary(nonzero2=True, scalars=())(m)] +
           [S(m(2, 3), -1.5), S(m(4), np.array([-0.0, 0.0, -1.0, np.inf], "float64")).const(1)],
           dtypes=NUM, prims=("signbit", "abs", "neg", "where")),
    OpInfo("fmax", lambda m: binary(scalars=())(m) + [
        S(np.array([np.nan, 1.0, np.nan, 2.0], "float64"),
          np.array([1.0, np.nan, np.nan, 3.0], "float64"))],
        dtypes=NUM, prims=("where", "ge", "isnan")),
    OpInfo("fmin", lambda m: binary(scalars=())(m) + [
        S(np.array([np.nan, 1.0, np.nan, 2.0], "float64"),
          np.array([1.0, np.nan, np.nan, 3.0], "float64"))],
        dtypes=NUM, prims=("where", "le", "isnan")),
    OpInfo("heaviside", lambda m: [S(np.array([-1, 0, 2, 0], m.dtype), m(4)),
                                   S(m(2, 3), m(3)), S(m(2, 3), m(2, 1))],
           dtypes=NUM, grad=False, prims=("where", "eq", "gt", "cast")),
    # (torch's gradient for a negative integer exponent is 0: its 2 ** other is an integer
    # power; the gradient samples keep exponents >= 0, where both are 2 ** other)
    OpInfo("ldexp", lambda m: [S(m(2, 3), np.array([[1, 2, -1], [0, 3, 1]])),
                               S(m(4), np.array(2))], dtypes=NUM, prims=("mul", "pow"),
           grad_samples=lambda m: [S(m(2, 3), np.array([[1, 2, 0], [0, 3, 1]])),
                                   S(m(4), m(4, low=-1, high=1))]),
    OpInfo("frexp", lambda m: [S(m(2, 3)), S(np.array([0.0, 8.0, -3.5, np.inf], m.dtype))],
           grad=False),
    OpInfo("gcd", binary(scalars=()), dtypes=INTS, grad=False),
    OpInfo("lcm", binary(low=-4, high=6, low2=-4, high2=6, scalars=()), dtypes=INTS,
           grad=False),
    OpInfo("nextafter", binary(scalars=()), grad=False),
    OpInfo("bitwise_left_shift", lambda m: [S(m(2, 3), m(2, 3, low=0, high=5)), S(m(2, 3), 2),
                                            S(m(3), m(2, 1, low=0, high=3))],
           dtypes=INTS, grad=False),
    OpInfo("bitwise_right_shift", lambda m: [S(m(2, 3), m(2, 3, low=0, high=3)),
                                             S(m(2, 3), 1)], dtypes=INTS, grad=False),
    )

# scans and statistics
add(OpInfo("cummax", lambda m: [S(m(2, 5), 1), S(m(4), 0), S(m(3, 4), 0), S(m(), 0),
                                S(np.array([1, 3, 3, 2, 3, 5], m.dtype), 0)], dtypes=NUM,
           prims=("cummax_index", "getitem"),
           grad_samples=lambda m: [S(m(2, 5), 1), S(m(4), 0), S(m(3, 4), 0)]),
    OpInfo("cummin", lambda m: [S(m(2, 5), 1), S(m(4), -1),
                                S(np.array([3, 1, 1, 2, 1, 0], m.dtype), 0)], dtypes=NUM,
           prims=("cummin_index", "getitem"),
           grad_samples=lambda m: [S(m(2, 5), 1), S(m(4), -1)]),
    OpInfo("logcumsumexp", lambda m: [S(m(2, 5), 1), S(m(4), 0), S(m(3, 4), 0), S(m(), 0),
                                      S(np.array([-1000.0, 0.0, 1000.0], m.dtype), 0)],
           grad_samples=lambda m: [S(m(2, 5), 1), S(m(4), 0), S(m(3, 4), 0)],
           prims=("logcumsumexp", "exp"),
           errors=(Err(lambda m: S(m(3), 0), NotImplementedError, "int64"),)),
    OpInfo("diff", lambda m: [S(m(2, 5)), S(m(2, 5), 2, 0), S(m(3, 4), 1, -1, m(3, 1), m(3, 2)),
                              S(m(5), prepend=m(2))], dtypes=NUM, prims=("sub", "getitem")),
    OpInfo("msort", lambda m: [S(m(4, 3)), S(m(5))], dtypes=NUM, prims=("argsort", "getitem")),
    OpInfo("nanmean", lambda m: [S(np.array([1.0, np.nan, 2.0], m.dtype)), S(m(2, 3), 1),
                                 S(np.array([[1.0, np.nan], [np.nan, np.nan]], m.dtype), 1, True)],
           grad_samples=lambda m: [S(np.array([1.0, np.nan, 2.0], m.dtype)), S(m(2, 3), 1)],
           prims=("sum", "where", "isnan", "div")),
    OpInfo("nanmedian", lambda m: [
        S(np.array([[np.nan, np.nan, np.nan], [1.0, np.nan, 2.0], [3.0, 1.0, 2.0]], m.dtype), 1),
        S(m(2, 5), 1), S(m(2, 5), 0, True), S(np.array([1.0, np.nan, 3.0, 2.0], m.dtype)),
        S(m(2, 6))], prims=("argsort", "getitem", "isnan", "sum"),
        grad_samples=lambda m: [S(m(2, 5), 1), S(m(2, 5), 0, True),
                                S(np.array([1.0, np.nan, 3.0, 2.0], m.dtype))]),
    OpInfo("quantile", lambda m: [S(m(7), 0.3), S(m(2, 5), 0.5, 1),
                                  S(m(2, 5), np.array([0.1, 0.9], m.dtype), 1, True).const(1),
                                  S(m(3, 4), 0.25, interpolation="lower"),
                                  S(m(3, 4), 0.6, 0, interpolation="higher"),
                                  S(m(3, 4), 0.5, -1, interpolation="midpoint"),
                                  S(m(3, 4), 0.4, 1, True, interpolation="nearest"),
                                  S(np.array([1.0, np.nan, 2.0], m.dtype), 0.5)],
           errors=(Err(lambda m: S(m(3), 1.5), RuntimeError),
                   Err(lambda m: S(m(3, dtype="int64"), 0.5), RuntimeError),
                   Err(lambda m: S(m(3), np.array([0.5])), RuntimeError)),
           prims=("argsort", "getitem", "isnan", "mul", "add", "sub", "where")),
    OpInfo("nanquantile", lambda m: [
        S(np.array([[np.nan, np.nan, np.nan], [1.0, np.nan, 2.0], [3.0, 1.0, 2.0]], m.dtype),
          0.3, 1),
        S(m(2, 5), np.array([0.2, 0.7], m.dtype), 1).const(1),
        S(np.array([1.0, np.nan, 3.0, 2.0], m.dtype), 0.5, interpolation="midpoint")],
        grad_samples=lambda m: [S(m(2, 5), 0.4, 1), S(np.array([1.0, np.nan, 3.0], m.dtype),
                                                      0.3)],
        prims=("argsort", "getitem", "isnan", "mul", "add", "sub", "where")),
    OpInfo("mode", lambda m: [S(np.array([[1, 2, 2, 1, 3], [4, 4, 5, 5, 1]], m.dtype), 1),
                              S(m(3, 4)), S(m(3, 4), 0, True), S(m(), 0)], dtypes=NUM,
           prims=("mode_index", "getitem"),
           grad_samples=lambda m: [S(m(3, 4)), S(m(3, 4), 0, True), S(m(), 0)]),
    OpInfo("histc", lambda m: [S(m(20)), S(m(20), 5, -1, 1), S(m(4, 5), 3)], grad=False,
           errors=(Err(lambda m: S(m(20), 3), NotImplementedError, "int64"),)),
    OpInfo("histogram", lambda m: [S(m(20), 5), S(m(20), 4, range=(-1.0, 1.0)),
                                   S(m(20), 3, density=True)], grad=False),
    OpInfo("cov", lambda m: [S(m(3, 6)), S(m(6)), S(m(3, 6), correction=0),
                             S(m(2, 6), fweights=np.array([1, 2, 1, 3, 1, 2])),
                             S(m(2, 5), aweights=m(5, low=0.1, high=1)).const("aweights")],
           prims=("matmul", "sub", "div", "mul", "sum")),
    OpInfo("corrcoef", lambda m: [S(m(3, 6)), S(m(2, 4))],
           prims=("matmul", "sqrt", "div", "clamp")),
    OpInfo("renorm", lambda m: [S(m(3, 4), 2, 0, 1.0), S(m(3, 4), 1, 1, 0.5),
                                S(m(2, 3, 2), 3, 2, 10.0)], prims=("where", "mul"),
           errors=(Err(lambda m: S(m(3, 4), 2, 0, 1.0), RuntimeError, "int64"),)),
    OpInfo("unique_consecutive", lambda m: [
        S(np.array([1, 1, 2, 2, 3, 1, 1, 2], m.dtype)),
        S(np.array([1, 1, 2, 2, 3, 1, 1, 2], m.dtype), return_inverse=True, return_counts=True),
        S(np.array([[1, 2], [1, 2], [3, 4], [1, 2]], m.dtype), dim=0, return_counts=True)],
        dtypes=INTS, grad=False),
    )

# scatters with reductions and the functional scatters
_SR_IDX = np.array([[0, 1, 0], [2, 2, 3], [1, 0, 0]])
add(OpInfo("scatter_reduce", lambda m: [
        S(m(3, 4, nonzero=True), 1, _SR_IDX, m(3, 3, nonzero=True), r, include_self=inc)
        for r in ("sum", "prod", "mean", "amax", "amin") for inc in (True, False)] + [
        S(m(3, 4), 0, np.array([[0, 1, 2, 0]]), m(2, 4), "sum"),
        S(np.array([2.0, 0.0, 3.0], m.dtype), 0, np.array([0, 0, 1, 2]),
          np.array([0.0, 5.0, 0.0, 4.0], m.dtype), "prod")],
        dtypes=NUM, prims=("scatter_reduce", "getitem", "index_put"),
        # (torch's backward rejects a src larger than index: that sample is forward only)
        grad_samples=lambda m: [
            S(m(3, 4, nonzero=True), 1, _SR_IDX, m(3, 3, nonzero=True), r, include_self=inc)
            for r in ("sum", "prod", "mean", "amax", "amin") for inc in (True, False)] + [
            S(np.array([2.0, 0.0, 3.0]), 0, np.array([0, 0, 1, 2]),
              np.array([0.0, 5.0, 0.0, 4.0]), "prod")]),
    OpInfo("index_reduce", lambda m: [
        S(m(3, 4, nonzero=True), 0, np.array([0, 2, 0]), m(3, 4, nonzero=True), r,
          include_self=inc)
        for r in ("prod", "mean", "amax", "amin") for inc in (True, False)] + [
        S(m(3, 4), 1, np.array([3, 3]), m(3, 2), "amax")], dtypes=NUM,
        prims=("scatter_reduce",), check_limit=40),
    OpInfo("put", lambda m: [S(m(3, 4), np.array([0, 5, -1]), m(3)),
                             S(m(3, 4), np.array([1, 1, 2]), m(3), accumulate=True)],
           dtypes=NUM, prims=("index_put", "reshape")),
    OpInfo("select_scatter", lambda m: [S(m(3, 4), m(4), 0, 1), S(m(3, 4), m(3), 1, -1)],
           dtypes=NUM, prims=("index_put",),
           errors=(Err(lambda m: S(m(3, 4), m(3), 0, 1), RuntimeError),)),
    OpInfo("slice_scatter", lambda m: [S(m(4, 4), m(2, 4), 0, 0, 4, 2),
                                       S(m(3, 5), m(3, 2), 1, 1, 3), S(m(3, 2), m(3, 2))],
           dtypes=NUM, prims=("index_put",)),
    OpInfo("diagonal_scatter", lambda m: [S(m(3, 4), m(3)), S(m(3, 4), m(3), 1),
                                          S(m(2, 3, 3), m(2, 3), 0, 1, 2),
                                          S(m(3, 4), m(2), -1)],
           dtypes=NUM, prims=("index_put", "permute")),
    OpInfo("as_strided", lambda m: [S(m(3, 4), (2, 2), (1, 2)), S(m(12), (3, 3), (2, 1), 1),
                                    S(m(3, 4), (3, 3), (0, 1))], dtypes=NUM,
           prims=("as_strided", "getitem"), errors=(Err(lambda m: S(m(3, 4), (4, 4), (4, 1)),
                                           RuntimeError),)),
    # (torch's gradient for input is the incoming gradient at the overwritten positions, and 0
    # elsewhere: the complement of the right one; compared here for src only)
    OpInfo("as_strided_scatter", lambda m: [S(m(12), m(2, 2), (2, 2), (3, 1)),
                                            S(m(3, 4), m(2, 3), (2, 3), (4, 1), 1)],
           dtypes=NUM, prims=("index_put",),
           grad_samples=lambda m: [S(m(12), m(2, 2), (2, 2), (3, 1)).const(0),
                                   S(m(3, 4), m(2, 3), (2, 3), (4, 1), 1).const(0)]),
    OpInfo("diag_embed", lambda m: [S(m(3)), S(m(2, 3), 1), S(m(2, 3), -1, 0, 2)], dtypes=NUM,
           prims=("index_put", "permute")),
    OpInfo("diagflat", lambda m: [S(m(3)), S(m(2, 2), 1)], dtypes=NUM, prims=("index_put",)),
    OpInfo("nonzero_static", lambda m: [S(m(3, 4), size=4), S(m(3, 4), size=20, fill_value=-2)],
           dtypes=NUM, grad=False),
    OpInfo("fill_diagonal_", lambda m: [S(m(3, 4), 2.0), S(m(7, 3), -1.0, True),
                                        S(m(3, 3, 3), 0.5)],
           cd=lambda x, *a: x.clone().fill_diagonal_(*a),
           th=lambda x, *a: x.clone().fill_diagonal_(*a), dtypes=NUM, prims=("where",)),
    )

# products
add(OpInfo("addbmm", lambda m: [S(m(2, 4), m(3, 2, 3), m(3, 3, 4)),
                                S(m(4), m(3, 2, 3), m(3, 3, 4), beta=0.5, alpha=2),
                                S(np.full((2, 4), np.nan, m.dtype), m(3, 2, 3), m(3, 3, 4),
                                  beta=0).const(0)],
           rtol=1e-4, check_limit=60, prims=("matmul", "sum", "add", "mul")),
    OpInfo("addr", lambda m: [S(m(2, 3), m(2), m(3)), S(m(2, 3), m(2), m(3), beta=2, alpha=0.5)],
           dtypes=NUM, prims=("mul", "add")),
    OpInfo("cross", lambda m: [S(m(4, 3), m(4, 3), dim=1), S(m(3, 2), m(3, 2), 0),
                               S(m(2, 3, 3), m(2, 3, 3), -1)], dtypes=NUM,
           prims=("getitem", "mul", "sub"),
           errors=(Err(lambda m: S(m(4, 2), m(4, 2), 1), RuntimeError),)),
    OpInfo("kron", lambda m: [S(m(2, 3), m(2, 2)), S(m(3), m(2, 2)), S(m(2), m(3))],
           dtypes=NUM, prims=("mul", "reshape")),
    OpInfo("dist", lambda m: [S(m(2, 3), m(2, 3)), S(m(2, 3), m(3), 1),
                              S(m(4), m(4), float("inf")), S(m(3), m(3), 3)],
           prims=("sub", "abs", "sqrt", "sum", "amax", "pow")),
    )

# splits, rotations and the shape methods
add(OpInfo("hsplit", lambda m: [S(m(4, 6), 2), S(m(4, 6), [1, 4]), S(m(6), 3)], dtypes=NUM,
           prims=("getitem",), errors=(Err(lambda m: S(m(4, 5), 2), RuntimeError),)),
    OpInfo("vsplit", lambda m: [S(m(4, 6), 2), S(m(4, 6), [1, 3])], prims=("getitem",),
           errors=(Err(lambda m: S(m(4), 2), RuntimeError),)),
    OpInfo("dsplit", lambda m: [S(m(2, 2, 4), 2), S(m(2, 2, 4), [3])], prims=("getitem",)),
    OpInfo("split_with_sizes", lambda m: [S(m(5, 3), [2, 3]), S(m(5, 3), [1, 2], 1)],
           prims=("getitem",), errors=(Err(lambda m: S(m(5, 3), [1, 2]), RuntimeError),)),
    OpInfo("unsafe_split", lambda m: [S(m(5, 3), 2), S(m(5, 3), 1, 1)], prims=("getitem",),
           errors=(Err(lambda m: S(m(5, 3), 0), RuntimeError),)),
    OpInfo("narrow_copy", lambda m: [S(m(4, 3), 0, 1, 2), S(m(4, 3), 1, 0, 2)], dtypes=NUM,
           prims=("getitem", "clone")),
    OpInfo("ravel", lambda m: [S(m(2, 3)), S(m()), S(m(2, 3, 2))], dtypes=ALL,
           prims=("reshape",)),
    OpInfo("rot90", lambda m: [S(m(2, 3)), S(m(2, 3), 2), S(m(2, 3), 3, (1, 0)),
                               S(m(2, 3, 4), -1, (0, 2)), S(m(2, 3), 4)], dtypes=NUM,
           prims=("flip", "permute", "clone"),
           errors=(Err(lambda m: S(m(2, 3), 1, (0, 0)), RuntimeError),
                   Err(lambda m: S(m(3), 1), RuntimeError))),
    OpInfo("sum_to_size", lambda m: [S(m(2, 3), 1, 3), S(m(2, 3), (2, 1)), S(m(4, 2, 3), 3)],
           cd=_method("sum_to_size"), th=_method("sum_to_size"), prims=("sum_to",),
           errors=(Err(lambda m: S(m(2, 3), 2), RuntimeError),)),
    )


# the functional composites (cadenza.nn.functional and top-level), in their own file
from opinfo_nn import NN_OPS, EXCLUDED_FUNCTIONAL  # noqa: E402,F401

add(*NN_OPS)

# linear algebra: cadenza.linalg and the top-level forms of ops/decomp.py, in their own file
from opinfo_linalg import LINALG_OPS  # noqa: E402

add(*LINALG_OPS)


def by_name():
    return {o.name: o for o in OPS}


# ----------------------------------------------------------------------------- exclusions
# Public names of cadenza.ops that are not ops (helpers re-exported by `import *`) or cannot
# be compared with torch on this machine. Each needs a reason.
# public functions of cadenza.ops (its __all__) not in the table
_COMPLEX = "complex inputs or outputs; the table's samples are real: tests/complex compares " \
           "values and gradients with torch"
EXCLUDED_FUNCTIONS: dict = {n: _COMPLEX for n in (
    "real", "imag", "conj", "conj_physical", "resolve_conj", "resolve_neg", "is_conj", "is_neg",
    "view_as_real", "view_as_complex", "complex", "polar", "stft", "istft", "isreal")} | {
    n: "creation functions without tensor inputs: tests/complex/test_stft.py compares them "
       "with torch" for n in ("hann_window", "hamming_window", "bartlett_window",
                              "blackman_window", "kaiser_window")}
EXCLUDED_PRIMITIVES = {
    **{n: _COMPLEX for n in ("real", "imag", "conj", "view_as_real", "view_as_complex",
                             "complex", "fft_c2c", "fft_r2c", "fft_c2r")},
    "to_device": "moves between CPU and CUDA; needs a second device (CPU->CPU is identity)",
    "conv2d_relu": "compiled graphs' node for conv2d -> relu (graph/passes/fuse_conv_relu.py), "
                   "never traced, no backward; tests/codegen/test_ckernels_conv.py checks it "
                   "against relu(conv2d) bit for bit",
    "conv2d_pooled_weight_grad": "compiled float32 graphs' node for a one-channel conv2d's weight "
                                 "gradient through 2x2 max pooling (graph/passes/"
                                 "fuse_pool_weight_grad.py), never traced, no backward; "
                                 "tests/codegen/test_ckernels_conv.py checks it against torch",
    "linalg_eig": "complex outputs; tests/complex/test_linalg_eig.py compares values and "
                  "gradients with torch",
}

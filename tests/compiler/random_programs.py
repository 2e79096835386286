"""Random programs, eager vs compiled (issue 14): a seeded generator of small training steps
(chains of elementwise, reduction, shape and matmul ops on parameters and inputs, a loss,
backward, an optimizer step, ``.grad`` set to None or zeroed inside or outside) run eagerly
and through ``cadenza.compile`` on identical copies, called several times with new inputs.
float64 results must be bitwise equal (within a few ulps where the program uses
exp/log/tanh/sin, which the C kernels compute with libmvec), float32 within rounding.

``tests/compiler/test_random_programs.py`` runs a fixed slice; the long run is this file:
``python tests/compiler/random_programs.py -n 1000`` prints a summary and every mismatch
with its seed (``--seed S -v`` prints that program and its values).
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
import traceback
import warnings

import numpy as np

if __name__ == "__main__":   # run as a script: this checkout's cadenza, not an installed one
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
        __file__)))))
import cadenza  # noqa: E402
import cadenza.nn as nn  # noqa: E402
from cadenza.errors import TraceError  # noqa: E402

DIMS = (1, 2, 3, 4)
CALLS = 5
# ops whose compiled result may differ from eager's in the last bits (C libmvec vs NumPy)
INEXACT = {"tanh", "sigmoid", "exp", "log1p", "sin", "softmax", "log_softmax", "norm", "var",
           "sqrt"}


def _unary(name, x):
    return {
        "tanh": lambda: x.tanh(), "sigmoid": lambda: x.sigmoid(), "relu": lambda: x.relu(),
        "neg": lambda: -x, "abs": lambda: x.abs(), "square": lambda: x * x,
        "exp": lambda: x.clamp(-4.0, 4.0).exp(), "log1p": lambda: x.abs().log1p(),
        "sin": lambda: x.sin(), "sqrt": lambda: (x.abs() + 1).sqrt(),
        "scale": lambda: x * 0.5 + 0.25, "clone": lambda: x.clone(),
    }[name]()


def _binary(name, x, y):
    return {
        "add": lambda: x + y, "sub": lambda: x - y, "mul": lambda: x * y,
        "div": lambda: x / (y.abs() + 1), "maximum": lambda: cadenza.maximum(x, y),
        "where": lambda: cadenza.where(x > y, x, y),
    }[name]()


def apply_op(spec, vals):
    """Run one op spec (kind, operand indices, attributes) on the value list."""
    kind, ix, a = spec
    x = vals[ix[0]]
    if kind == "unary":
        return _unary(a["name"], x)
    if kind == "binary":
        return _binary(a["name"], x, vals[ix[1]])
    if kind == "inplace":     # out of place first so leaves are never written
        y = x.clone()
        getattr(y, a["name"] + "_")(vals[ix[1]])
        return y
    if kind == "reduce":
        name, dim, keep = a["name"], a["dim"], a["keepdim"]
        if name == "sum":
            return x.sum(dim=dim, keepdim=keep) if dim is not None else x.sum()
        if name == "mean":
            return x.mean(dim=dim, keepdim=keep) if dim is not None else x.mean()
        if name == "amax":
            return x.amax(dim=dim, keepdim=keep)
        if name == "var":
            return x.var(dim=dim, keepdim=keep)
        if name == "norm":
            return x.norm(dim=dim, keepdim=keep)
        return getattr(x, name)(dim=dim)      # softmax, log_softmax
    if kind == "transpose":
        return x.transpose(*a["dims"])
    if kind == "permute":
        return x.permute(*a["dims"])
    if kind == "reshape":
        return x.reshape(*a["shape"])
    if kind == "unsqueeze":
        return x.unsqueeze(a["dim"])
    if kind == "squeeze":
        return x.squeeze(a["dim"])
    if kind == "expand":
        return x.expand(*a["shape"])
    if kind == "slice":
        return x[a["index"]]
    if kind == "cat":
        return cadenza.cat([x, vals[ix[1]]], dim=a["dim"])
    if kind == "matmul":
        y = vals[ix[1]]
        return x @ (y.transpose(-2, -1) if a["t"] else y)
    raise ValueError(kind)


def _bcast(s1, s2):
    try:
        return np.broadcast_shapes(s1, s2)
    except ValueError:
        return None


def _propose(rng, shapes, ops_left):
    """One op spec valid for the current shapes (None if the draw does not fit)."""
    n = len(shapes)
    i = rng.randrange(n) if rng.random() < 0.5 else n - 1 - rng.randrange(min(n, 3))
    s = shapes[i]
    r = len(s)
    kind = rng.choice(["unary", "unary", "binary", "binary", "reduce", "reduce", "transpose",
                       "permute", "reshape", "unsqueeze", "squeeze", "expand", "slice", "cat",
                       "matmul", "matmul", "inplace"])
    if kind == "unary":
        return ("unary", (i,), {"name": rng.choice(["tanh", "sigmoid", "relu", "neg", "abs",
                                                    "square", "exp", "log1p", "sin", "sqrt",
                                                    "scale", "clone"])})
    if kind in ("binary", "inplace"):
        js = [j for j in range(n) if _bcast(s, shapes[j]) is not None and
              (kind == "binary" or _bcast(s, shapes[j]) == s)]
        if not js:
            return None
        j = rng.choice(js)
        if kind == "inplace":
            return ("inplace", (i, j), {"name": rng.choice(["add", "mul", "sub"])})
        return ("binary", (i, j), {"name": rng.choice(["add", "sub", "mul", "div", "maximum",
                                                      "where"])})
    if kind == "reduce":
        if r == 0:
            return None
        name = rng.choice(["sum", "sum", "sum", "mean", "amax", "var", "norm", "softmax",
                           "log_softmax"])
        if name in ("softmax", "log_softmax"):
            return ("reduce", (i,), {"name": name, "dim": rng.randrange(-r, r), "keepdim": None})
        k = rng.choice([1, 1, 2, r]) if r > 1 else 1
        dim = tuple(sorted(rng.sample(range(r), min(k, r))))
        if name in ("var",) and all(s[d] == 1 for d in dim):
            return None
        dim = dim[0] if len(dim) == 1 and rng.random() < 0.5 else dim
        if name == "sum" and rng.random() < 0.1:
            dim = None
        return ("reduce", (i,), {"name": name, "dim": dim, "keepdim": rng.random() < 0.6})
    if kind == "transpose":
        if r < 2:
            return None
        return ("transpose", (i,), {"dims": tuple(rng.sample(range(r), 2))})
    if kind == "permute":
        if r < 2:
            return None
        p = list(range(r))
        rng.shuffle(p)
        return ("permute", (i,), {"dims": tuple(p)})
    if kind == "reshape":
        size = int(np.prod(s))
        opts = [(-1,), (size, 1), (1, size)]
        if size % 2 == 0 and size > 2:
            opts.append((2, -1))
        return ("reshape", (i,), {"shape": rng.choice(opts)})
    if kind == "unsqueeze":
        if r >= 4:
            return None
        return ("unsqueeze", (i,), {"dim": rng.randrange(-r - 1, r + 1)})
    if kind == "squeeze":
        ones = [d for d in range(r) if s[d] == 1]
        return ("squeeze", (i,), {"dim": rng.choice(ones)}) if ones else None
    if kind == "expand":
        ones = [d for d in range(r) if s[d] == 1]
        if not ones:
            return None
        shape = tuple(rng.choice(DIMS[1:]) if d in ones else s[d] for d in range(r))
        return ("expand", (i,), {"shape": shape})
    if kind == "slice":
        big = [d for d in range(r) if s[d] > 1]
        if not big:
            return None
        d = rng.choice(big)
        start = rng.randrange(s[d] - 1)
        idx = tuple([slice(None)] * d + [slice(start, s[d], rng.choice([1, 2]))])
        return ("slice", (i,), {"index": idx})
    if kind == "cat":
        if r == 0:
            return None
        d = rng.randrange(r)
        js = [j for j in range(n) if len(shapes[j]) == r and
              all(shapes[j][e] == s[e] for e in range(r) if e != d)]
        return ("cat", (i, rng.choice(js)), {"dim": d})
    # matmul with a 2-d (or batched) operand whose inner dimension fits
    if r < 1:
        return None
    t = rng.random() < 0.3
    js = [j for j in range(n) if len(shapes[j]) == 2 and
          shapes[j][1 if t else 0] == s[-1]]
    if not js:
        return None
    return ("matmul", (i, rng.choice(js)), {"t": t})


class Program:
    """A random training step; ``make(compiled)`` builds fresh parameters, optimizer and the
    step function, and ``inputs(k)`` the k-th call's inputs (the same for both runs)."""

    def __init__(self, seed: int):
        self.seed = seed
        rng = random.Random(seed)
        self.dtype = rng.choice(["float64", "float64", "float32"])
        nprng = np.random.default_rng(seed)
        base = rng.choice(DIMS[1:])
        pshapes = [(base, rng.choice(DIMS[1:])), (rng.choice(DIMS), base)]
        pshapes += [rng.choice([(base,), (base, base), (1, base)])
                    for _ in range(rng.randrange(2))]
        ishapes = [(rng.choice(DIMS[1:]), base)] + \
            [(rng.choice(DIMS), rng.choice(DIMS), base) for _ in range(rng.randrange(2))]
        self.params = [nprng.standard_normal(s) for s in pshapes]
        self.input_shapes = ishapes
        self.inputs_np = [[nprng.standard_normal(s) for s in ishapes] for _ in range(CALLS)]
        self.ops = []
        shapes = [tuple(s) for s in pshapes + ishapes]
        probe = [cadenza.tensor(a) for a in self.params + self.inputs_np[0]]
        target = rng.randrange(3, 9)
        tries = 0
        while len(self.ops) < target and tries < 200:
            tries += 1
            spec = _propose(rng, shapes, target - len(self.ops))
            if spec is None:
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out = apply_op(spec, probe)
            except Exception:
                continue
            if out.numel() == 0 or out.dim() > 4 or out.numel() > 256:
                continue
            self.ops.append(spec)
            probe.append(out)
            shapes.append(tuple(out.shape))
        # the loss: the last value plus a few others, always reaching every parameter
        k = len(shapes)
        self.loss_terms = sorted({k - 1} | set(rng.sample(range(k), min(k, 2))))
        self.loss_kind = rng.choice(["sum", "mean", "square_mean"])
        self.grad_mode = rng.choice(["zero_grad_inside", "none_inside", "zero_grad_outside",
                                     "accumulate", "zero_grad_false_inside", "return_grads"])
        self.opt = rng.choice(["sgd", "sgd_momentum", "adamw", "adam"])
        self.lr = rng.choice([0.1, 0.01])
        if self.grad_mode == "return_grads" and rng.random() < 0.5:
            # gradients of the parameters and of an input that requires grad, without .grad
            # (a draw after the others, so the other programs of a seed stay the same)
            self.grad_mode = "autograd_grad"
        self.exact = self.dtype == "float64" and not any(
            s[2].get("name") in INEXACT for s in self.ops)

    def describe(self) -> str:
        lines = [f"seed {self.seed}: {self.dtype}, params {[p.shape for p in self.params]}, "
                 f"inputs {self.input_shapes}, {self.grad_mode}, {self.opt} lr={self.lr}, "
                 f"loss {self.loss_kind} of v{self.loss_terms}"]
        base = len(self.params) + len(self.input_shapes)
        for n, (kind, ix, a) in enumerate(self.ops):
            lines.append(f"  v{base + n} = {kind}{tuple(f'v{i}' for i in ix)} {a}")
        return "\n".join(lines)

    def inputs(self, k):
        return [cadenza.tensor(a.astype(self.dtype),
                               requires_grad=self.grad_mode == "autograd_grad" and i == 0)
                for i, a in enumerate(self.inputs_np[k])]

    def make(self, compiled, backend="c"):
        params = [nn.Parameter(cadenza.tensor(a.astype(self.dtype))) for a in self.params]
        opt = None
        if self.grad_mode not in ("return_grads", "autograd_grad"):
            opt = {"sgd": lambda: cadenza.optim.SGD(params, lr=self.lr),
                   "sgd_momentum": lambda: cadenza.optim.SGD(params, lr=self.lr, momentum=0.9,
                                                              weight_decay=0.01),
                   "adamw": lambda: cadenza.optim.AdamW(params, lr=self.lr),
                   "adam": lambda: cadenza.optim.Adam(params, lr=self.lr)}[self.opt]()
        ops, terms, mode, loss_kind = self.ops, self.loss_terms, self.grad_mode, self.loss_kind

        def step(*inputs):
            if mode == "zero_grad_inside":
                opt.zero_grad(set_to_none=True)
            elif mode == "zero_grad_false_inside":
                opt.zero_grad(set_to_none=False)
            elif mode in ("none_inside", "return_grads"):
                for p in params:
                    p.grad = None
            vals = list(params) + list(inputs)
            for spec in ops:
                vals.append(apply_op(spec, vals))
            loss = sum(vals[t].sum() if loss_kind == "sum" else
                       vals[t].mean() if loss_kind == "mean" else (vals[t] * vals[t]).mean()
                       for t in terms)
            loss = loss + sum(p.sum() for p in params) * 1e-3   # every parameter gets a grad
            if mode == "autograd_grad":
                gs = cadenza.autograd.grad(loss, list(params) + [inputs[0]], allow_unused=True)
                return loss.detach(), [cadenza.zeros(1) if g is None else g for g in gs]
            loss.backward()
            if opt is None:
                return loss.detach(), [p.grad.clone() for p in params]
            opt.step()
            return loss.detach()
        fn = cadenza.compile(step, backend=backend) if compiled else step
        return params, opt, fn

    def run(self, compiled, backend="c"):
        """The values each call returns, then the parameters and grads after the last."""
        params, opt, fn = self.make(compiled, backend)
        seen = []
        for k in range(CALLS):
            if self.grad_mode == "zero_grad_outside":
                opt.zero_grad()
            out = fn(*self.inputs(k))
            seen.append(("call", k, _arrays(out)))
        seen.append(("params", None, [p.detach().numpy().copy() for p in params]))
        seen.append(("grads", None, [None if p.grad is None else p.grad.numpy().copy()
                                     for p in params]))
        return seen


def _arrays(out):
    if isinstance(out, (list, tuple)):
        return [a for o in out for a in _arrays(o)]
    return [out.detach().numpy().copy()]


def _close(e, c, prog):
    if e is None or c is None:
        return e is None and c is None
    if e.shape != c.shape or e.dtype != c.dtype:
        return False
    if prog.exact:
        return np.array_equal(e, c, equal_nan=True)
    rtol = 1e-10 if prog.dtype == "float64" else 2e-4
    fin = np.abs(e[np.isfinite(e)])
    scale = max(1.0, float(fin.max()) if fin.size else 1.0)
    if not np.array_equal(np.isfinite(e), np.isfinite(c)):
        return False
    return bool(np.allclose(c, e, rtol=rtol, atol=rtol * scale, equal_nan=True))


def check(seed: int, backend="c"):
    """(status, detail): 'equal', 'mismatch', 'refused' (TraceError), 'crash' (the compiled
    run raised something else) or 'invalid' (eager itself raised: a generator defect)."""
    prog = Program(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            want = prog.run(False)
        except Exception as e:
            return "invalid", f"{type(e).__name__}: {e}", prog
        try:
            got = prog.run(True, backend)
        except TraceError as e:
            return "refused", str(e).splitlines()[0], prog
        except Exception as e:
            return "crash", "".join(traceback.format_exception_only(type(e), e)).strip(), prog
    for (what, k, es), (_, _, cs) in zip(want, got):
        for n, (e, c) in enumerate(zip(es, cs)):
            if not _close(e, c, prog):
                diff = "" if e is None or c is None or e.shape != c.shape else \
                    f", max |diff| {np.nanmax(np.abs(e.astype(float) - c.astype(float))):.3g}"
                return "mismatch", f"{what} {'' if k is None else k}[{n}] differs{diff}", prog
    return "equal", "", prog


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=1000, help="number of programs")
    ap.add_argument("--start", type=int, default=0, help="first seed")
    ap.add_argument("--seed", type=int, help="run this one seed")
    ap.add_argument("--backend", default="mixed", choices=["c", "numpy", "mixed"])
    ap.add_argument("-v", action="store_true", help="print each program")
    args = ap.parse_args(argv)
    seeds = [args.seed] if args.seed is not None else range(args.start, args.start + args.n)
    counts: dict = {}
    t0 = time.time()
    cadenza.compiler.reset_stats()
    bad = []
    for s in seeds:
        backend = args.backend if args.backend != "mixed" else ("c" if s % 2 else "numpy")
        status, detail, prog = check(s, backend)
        key = (status, prog.dtype, "exact" if prog.exact else "ulps")
        counts[key] = counts.get(key, 0) + 1
        if args.v:
            print(prog.describe())
        if status != "equal":
            bad.append(s)
            print(f"seed {s} [{backend}]: {status}: {detail}", flush=True)
    n = len(seeds)
    print(f"\n{n} programs in {time.time() - t0:.0f} s (seeds {seeds[0]}..{seeds[-1]}, "
          f"backend {args.backend})")
    for key in sorted(counts):
        print(f"  {key[0]:9s} {key[1]} {'bitwise' if key[2] == 'exact' else 'within ulps'}: "
              f"{counts[key]}")
    st = cadenza.compiler.stats()
    print(f"compiled calls: {st['compiles']} traced ({st['warmups']} warm-ups), "
          f"{st['cache_hits']} replayed, {st['eager_fallbacks']} eager fallbacks")
    bad_n = sum(v for k, v in counts.items() if k[0] in ("mismatch", "crash"))
    print(f"mismatches + crashes: {bad_n}" + (f" (seeds {bad[:20]})" if bad else ""))
    return 1 if bad_n else 0


if __name__ == "__main__":
    sys.exit(main())

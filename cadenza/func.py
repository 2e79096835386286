"""``torch.func``: function transforms over Cadenza's dynamic graph.

``grad``, ``grad_and_value``, ``vjp``, ``jvp``, ``jacrev``, ``jacfwd``, ``hessian`` run the
function once with fresh differentiable copies of the chosen arguments and differentiate with
the autograd engine (``create_graph`` when an outer transform or graph is watching, so the
transforms nest: ``grad(grad(f))``). Arguments may be tensors or trees of them (tuples, lists,
dicts: the parameter dicts of ``functional_call``). ``vmap`` runs the function once on batched
tensors (``cadenza._batching``: batching rules per op, a per-sample loop for an op without
one); the transforms above differentiate inside it per sample (``_Prepared``).
``functional_call`` runs a module with other parameters and buffers.
"""
from __future__ import annotations

from . import _batching
from ._dispatch import state as _dstate
from . import _creation
from . import ops as _ops
from . import random as _random
from ._tensor import Tensor
from .autograd import grad as _autograd_grad
from .autograd.grad_mode import enable_grad

__all__ = ["vmap", "grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian",
           "functional_call", "stack_module_state"]


# ---------------------------------------------------------------------------------- trees
def _flatten(tree):
    """Tensor leaves of a tree of tuples/lists/dicts, and the spec to rebuild it."""
    if isinstance(tree, (tuple, list)):
        leaves, specs = [], []
        for t in tree:
            lv, sp = _flatten(t)
            leaves += lv
            specs.append((len(lv), sp))
        return leaves, (type(tree), specs)
    if isinstance(tree, dict):
        leaves, specs = [], []
        for k, t in tree.items():
            lv, sp = _flatten(t)
            leaves += lv
            specs.append((k, len(lv), sp))
        return leaves, (dict, specs)
    return [tree], None


def _unflatten(leaves, spec):
    if spec is None:
        return leaves[0]
    kind, specs = spec
    if kind is dict:
        out, i = {}, 0
        for k, n, sp in specs:
            out[k] = _unflatten(leaves[i:i + n], sp)
            i += n
        return out
    parts, i = [], 0
    for n, sp in specs:
        parts.append(_unflatten(leaves[i:i + n], sp))
        i += n
    return kind(parts) if kind in (tuple, list) else kind(*parts)


def _argnums_tuple(argnums, nargs, fn):
    nums = argnums if isinstance(argnums, tuple) else (argnums,)
    if not nums or any(not isinstance(n, int) for n in nums):
        raise RuntimeError(f"{fn}: argnums must be an int or a non-empty tuple of ints, "
                           f"got {argnums!r}")
    out = []
    for n in nums:
        if not -nargs <= n < nargs:
            raise RuntimeError(f"{fn}: Got argnums={n}, but only {nargs} positional inputs")
        out.append(n % nargs)
    return tuple(out)


def _check_differentiable(leaf, fn):
    if not isinstance(leaf, Tensor):
        raise RuntimeError(f"{fn}: expected the differentiated arguments to be Tensors (or "
                           f"trees of them), got {type(leaf).__name__}")
    if not (leaf.is_floating_point() or leaf.is_complex()):
        raise RuntimeError(f"{fn}: only Tensors of floating point dtype can require "
                           f"gradients, got {leaf.dtype}")


def _fresh(leaf):
    # a clone of a tensor an outer transform watches keeps the path to it (so transforms
    # nest); anything else becomes a fresh leaf
    return leaf.clone() if leaf.requires_grad else leaf.detach().requires_grad_()


class _Prepared:
    """``args`` with the arguments ``nums`` replaced by differentiable copies.

    Inside ``vmap`` (``levels``: the running vmaps) each differentiated argument is batched at
    every level (an unmapped one by broadcasting) and the autograd engine works on the
    ordinary tensors underneath (``_batching.bottom``): each sample's output depends on its own
    copy of the inputs only, so the gradient of the outputs' sum w.r.t. those copies is the
    per-sample gradients, which go back batched."""

    def __init__(self, args, nums, fn):
        self.args, self.nums = list(args), nums
        self.levels = _batching.active()
        self.leaves, self.specs, self.flat = [], [], []
        outer = False
        for n in nums:
            lv, sp = _flatten(args[n])
            dl = []
            for x in lv:
                _check_differentiable(x, fn)
                p = self.lower(x)
                outer = outer or p.requires_grad
                p = _fresh(p)
                self.flat.append(p)
                dl.append(_batching.rebuild(p, self.levels) if self.levels else p)
            self.args[n] = _unflatten(dl, sp)
            self.leaves.append(dl)
            self.specs.append(sp)
        self.outer = outer       # an enclosing transform/graph watches the inputs

    def lower(self, t):
        """What the autograd engine sees of ``t``: itself, or inside vmap the tensor under its
        levels."""
        if not self.levels:
            return t
        return _batching.bottom(_batching.lift(t, self.levels))

    def lift(self, g):
        return _batching.rebuild(g, self.levels) if self.levels else g

    def grads(self, outputs, cotangents, retain_graph=False):
        flat = self.flat
        # an output that does not depend on the inputs (the gradient of a linear function,
        # inside hessian) contributes zeros, as in torch.func, instead of autograd's refusal
        if cotangents is None:
            cotangents = [None] * len(outputs)
        pairs = []
        for o, ct in zip(outputs, cotangents):
            if isinstance(o, Tensor):
                o = self.lower(o)
                if not o.requires_grad:
                    continue
                if ct is not None:
                    ct = self.lower(ct)
                elif self.levels:   # a scalar per sample
                    ct = _creation.ones_like(o)
            pairs.append((o, ct))
        if pairs:
            cts = None if pairs[0][1] is None else [ct for _, ct in pairs]
            gs = _autograd_grad([o for o, _ in pairs], flat, cts,
                                retain_graph=retain_graph or None, create_graph=self.outer,
                                allow_unused=True, materialize_grads=True)
        else:
            gs = [_creation.zeros_like(x) for x in flat]
        gs = [self.lift(g) for g in gs]
        out, i = [], 0
        for lv, sp in zip(self.leaves, self.specs):
            out.append(_unflatten(list(gs[i:i + len(lv)]), sp))
            i += len(lv)
        return out

    def release(self, value):
        """What the transform returns as the function's value: detached unless an outer
        transform watches it."""
        leaves, spec = _flatten(value)
        return _unflatten([x if self.outer or not isinstance(x, Tensor) else x.detach()
                           for x in leaves], spec)


def _split_aux(out, has_aux, fn):
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError(f"{fn}(f)(*args): output of function f should be a tuple: "
                           f"(output, aux) if has_aux is True")
    return out


# ---------------------------------------------------------------------------- gradients
def grad_and_value(func, argnums=0, has_aux=False):
    """``f -> (grad of f's scalar output w.r.t. args[argnums], f's value)``."""
    def wrapper(*args, **kwargs):
        nums = _argnums_tuple(argnums, len(args), "grad_and_value")
        with enable_grad():
            p = _Prepared(args, nums, "grad_and_value")
            out, aux = _split_aux(func(*p.args, **kwargs), has_aux, "grad_and_value")
            if not isinstance(out, Tensor):
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a "
                                   f"Tensor, got {type(out).__name__}")
            if out.numel() != 1 or out.dim() != 0:
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a "
                                   f"scalar Tensor, got tensor with {out.dim()} dims. Maybe "
                                   f"you wanted to use the vjp or jacrev APIs instead?")
            gs = p.grads([out], None)
        g = gs[0] if not isinstance(argnums, tuple) else tuple(gs)
        value = p.release(out)
        return (g, (value, p.release(aux))) if has_aux else (g, value)
    return wrapper


def grad(func, argnums=0, has_aux=False):
    """``f -> grad of f's scalar output w.r.t. args[argnums]`` (``(grad, aux)`` with
    has_aux)."""
    gv = grad_and_value(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return wrapper


def vjp(func, *primals, has_aux=False):
    """``(func(*primals), vjp_fn)``: ``vjp_fn(cotangents)`` gives a tuple with one gradient
    per primal (cotangents shaped like the output tree)."""
    with enable_grad():
        p = _Prepared(primals, tuple(range(len(primals))), "vjp")
        out, aux = _split_aux(func(*p.args), has_aux, "vjp")
    out_leaves, out_spec = _flatten(out)

    def vjp_fn(cotangents):
        ct_leaves, _ = _flatten(cotangents)
        if len(ct_leaves) != len(out_leaves):
            raise RuntimeError(f"vjp_fn: expected cotangents with the output's structure "
                               f"({len(out_leaves)} tensors), got {len(ct_leaves)}")
        for o, c in zip(out_leaves, ct_leaves):
            if tuple(o.shape) != tuple(c.shape):
                raise RuntimeError(f"vjp_fn: Mismatch in shape: output has shape "
                                   f"{tuple(o.shape)} but cotangent has {tuple(c.shape)}")
        with enable_grad():
            return tuple(p.grads(out_leaves, ct_leaves, retain_graph=True))

    value = p.release(out)
    return (value, vjp_fn, p.release(aux)) if has_aux else (value, vjp_fn)


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """``(func(*primals), J @ tangents)`` through two reverse passes (the double-vjp rule)."""
    if not isinstance(primals, tuple) or not isinstance(tangents, tuple):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to be "
                           "tuples")
    if len(primals) != len(tangents):
        raise RuntimeError(f"jvp(f, primals, tangents): Expected primals and tangents to "
                           f"have the same length, got {len(primals)} and {len(tangents)}")
    with enable_grad():
        p = _Prepared(primals, tuple(range(len(primals))), "jvp")
        out, aux = _split_aux(func(*p.args), has_aux, "jvp")
        out_leaves, out_spec = _flatten(out)
        low = [p.lower(o) for o in out_leaves]
        us = [_creation.zeros_like(o).requires_grad_() for o in low]
        gs = _autograd_grad(low, p.flat, us, create_graph=True, allow_unused=True,
                            materialize_grads=True)
        tl, _ = _flatten(tangents)
        jv = _autograd_grad(list(gs), us, [p.lower(t) for t in tl], create_graph=p.outer,
                            allow_unused=True, materialize_grads=True)
    res = (p.release(out), p.release(_unflatten([p.lift(j) for j in jv], out_spec)))
    return res + (p.release(aux),) if has_aux else res


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None, _preallocate_and_copy=False):
    """The Jacobian by reverse mode: for an output of shape O and an argument of shape I,
    a tensor of shape O + I (trees of them for tree outputs/arguments)."""
    def wrapper(*args, **kwargs):
        nums = _argnums_tuple(argnums, len(args), "jacrev")
        with enable_grad():
            p = _Prepared(args, nums, "jacrev")
            out, aux = _split_aux(func(*p.args, **kwargs), has_aux, "jacrev")
            out_leaves, out_spec = _flatten(out)
            per_out = []
            for o in out_leaves:
                rows = []
                for k in range(o.numel()):
                    basis = _creation.zeros(o.numel(), dtype=o.dtype, device=o.device)
                    basis[k] = 1
                    cts = [basis.reshape(tuple(o.shape)) if x is o else _creation.zeros_like(x)
                           for x in out_leaves]
                    rows.append(p.grads(out_leaves, cts, retain_graph=True))
                per_arg = []
                for a in range(len(nums)):
                    lv_rows = [_flatten(r[a])[0] for r in rows]
                    spec = p.specs[a]
                    jac_leaves = []
                    for j, leaf in enumerate(p.leaves[a]):
                        col = [r[j] for r in lv_rows]
                        stacked = _ops.stack(col) if col else \
                            _creation.zeros((0,) + tuple(leaf.shape), dtype=leaf.dtype)
                        jac_leaves.append(stacked.reshape(tuple(o.shape) + tuple(leaf.shape)))
                    per_arg.append(_unflatten(jac_leaves, spec))
                per_out.append(per_arg[0] if not isinstance(argnums, tuple) else tuple(per_arg))
        jac = p.release(_unflatten(per_out, out_spec))
        return (jac, p.release(aux)) if has_aux else jac
    return wrapper


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """The Jacobian, as torch.func.jacfwd gives it (computed here by reverse mode: the same
    matrix up to rounding)."""
    return jacrev(func, argnums, has_aux=has_aux)


def hessian(func, argnums=0):
    """Second derivatives: ``jacfwd(jacrev(func, argnums), argnums)``."""
    return jacfwd(jacrev(func, argnums), argnums)


# ----------------------------------------------------------------------------------- vmap
def _broadcast_dims(in_dims, args, fn):
    """in_dims as one entry per tensor leaf of args (None: not mapped)."""
    if isinstance(in_dims, int) or in_dims is None:
        in_dims = (in_dims,) * len(args)
    if not isinstance(in_dims, tuple) or len(in_dims) != len(args):
        raise ValueError(f"{fn}: in_dims is not compatible with the structure of `inputs`. "
                         f"in_dims has structure {in_dims!r} but inputs has {len(args)} "
                         f"positional arguments")
    dims = []
    for d, a in zip(in_dims, args):
        dims += _dims_for(d, a, fn)
    return dims


def _dims_for(d, a, fn):
    """The in_dim of each tensor leaf of ``a`` from ``d`` (an int or None for the whole
    subtree, or a tree matching ``a``'s: tuples/lists by position, dicts by key)."""
    if d is None or isinstance(d, int):
        return [d] * len(_flatten(a)[0])
    ok = (isinstance(d, dict) and isinstance(a, dict) and set(d) == set(a)) or (
        isinstance(d, (tuple, list)) and isinstance(a, (tuple, list)) and len(d) == len(a))
    if not ok:
        raise ValueError(f"{fn}: in_dims is not compatible with the structure of `inputs`. "
                         f"in_dims has structure {d!r} but the input has {_structure(a)}")
    if isinstance(a, dict):
        return [x for k in a for x in _dims_for(d[k], a[k], fn)]
    return [x for dd, aa in zip(d, a) for x in _dims_for(dd, aa, fn)]


def _structure(a):
    if isinstance(a, dict):
        return {k: _structure(v) for k, v in a.items()}
    if isinstance(a, (tuple, list)):
        return type(a)(_structure(v) for v in a)
    return "*"


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """``func`` mapped over dimension ``in_dims`` of its inputs, results stacked along
    ``out_dims``. The function runs once, on batched tensors (see ``cadenza._batching``): ops
    with a batching rule run once over the whole batch, any other op once per sample.
    randomness: 'error' refuses random ops inside, 'same' gives every element the same draws,
    'different' draws for each element.
    chunk_size: at most that many elements per run (the runs' results are concatenated)."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', "
                           f"or 'same'. Got {randomness}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size <= 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got "
                         f"{chunk_size})")

    def wrapper(*args, **kwargs):
        fn = "vmap"
        dims = _broadcast_dims(in_dims, args, fn)
        leaves, spec = _flatten(list(args))
        size = _batch_size(leaves, dims, in_dims, fn)
        step = max(size, 1) if chunk_size is None else chunk_size
        parts = []
        # 'same' randomness: every chunk draws what the first drew
        rng = _random.get_rng_state() if randomness == "same" and step < size else None
        for start in range(0, max(size, 1), step):
            if rng is not None:
                _random.set_rng_state(rng)
            n = min(step, size - start)
            part = [leaf if d is None else leaf if n == size else leaf.narrow(d, start, n)
                    for leaf, d in zip(leaves, dims)]
            parts.append(_vmap_run(func, part, dims, spec, n, kwargs, out_dims, randomness,
                                   fn))
        return parts[0] if len(parts) == 1 else _concat_parts(parts, out_dims, fn)
    return wrapper


def _batch_size(leaves, dims, in_dims, fn):
    sizes = []
    for leaf, d in zip(leaves, dims):
        if d is None:
            continue
        if not isinstance(d, int):
            raise ValueError(f"{fn}: in_dim must be an int or None, got {d!r}")
        if not isinstance(leaf, Tensor):
            raise ValueError(f"{fn}: Got in_dim={d} for an input but the input is of type "
                             f"{type(leaf).__name__}. We cannot vmap over non-Tensor "
                             f"arguments, please use None as the respective in_dim")
        if not -leaf.dim() <= d < max(leaf.dim(), 1) or leaf.dim() == 0:
            raise ValueError(f"{fn}: Got in_dim={d} for some input, but that input is a "
                             f"Tensor of dimensionality {leaf.dim()} so expected in_dim "
                             f"to satisfy -{leaf.dim()} <= in_dim < {leaf.dim()}.")
        sizes.append(leaf.shape[d])
    if not sizes:
        raise ValueError(f"{fn}(f, in_dims={in_dims}, ...)(<inputs>): at least one "
                         f"input must be a Tensor mapped over a dimension (in_dim not "
                         f"None)")
    if len(set(sizes)) > 1:
        raise ValueError(f"{fn}: Expected all tensors to have the same size in the mapped "
                         f"dimension, got sizes {sizes} for the mapped dimension")
    return sizes[0]


def _random_error():
    return RuntimeError("vmap: called random operation while in randomness error mode. "
                        "Please either use the 'same' or 'different' randomness flags on "
                        "vmap or perform the randomness operation out of vmap")


def _vmap_run(func, leaves, dims, spec, size, kwargs, out_dims, randomness, fn):
    """One batched run of func over ``size`` elements."""
    # (random functions refuse themselves in 'error' mode; this also catches in-place draws
    # such as normal_ on the global generator, outside compile's tracing)
    state = _random.get_rng_state() if randomness == "error" and _dstate.tracer is None \
        else None
    level = _batching.push(size, randomness)
    try:
        mapped = [leaf if d is None else
                  _batching.wrap(leaf if d % leaf.dim() == 0 else leaf.movedim(d, 0), level)
                  for leaf, d in zip(leaves, dims)]
        out = func(*_unflatten(mapped, spec), **kwargs)
    finally:
        _batching.pop(level)
    if state is not None and not _rng_equal(state, _random.get_rng_state()):
        raise _random_error()
    out_leaves, out_spec = _flatten(out)
    res = []
    for leaf, d in zip(out_leaves, _out_dims(out_dims, len(out_leaves), fn)):
        if not isinstance(leaf, Tensor):
            raise ValueError(f"{fn}: `{fn}(f)` must return a Tensor or a tuple/list/dict of "
                             f"Tensors, got type {type(leaf).__name__} as a return")
        batched = _batching.is_batched_at(leaf, level)
        if d is None:
            if batched:
                name = getattr(func, "__name__", "f")
                raise ValueError(f"{fn}({name}, ...): `{name}` can not return a "
                                 f"BatchedTensor when out_dim is None")
            res.append(leaf)
            continue
        v = leaf._value if batched else _batching.expand_batch(leaf, size)
        rank = v.dim()
        if not -rank <= d < rank:
            raise ValueError(f"{fn}: out_dim={d} is out of range for outputs of rank "
                             f"{rank - 1}")
        res.append(v if d % rank == 0 else v.movedim(0, d))
    return _unflatten(res, out_spec)


def _out_dims(out_dims, n_leaves, fn):
    if isinstance(out_dims, int) or out_dims is None:
        return [out_dims] * n_leaves
    odims, _ = _flatten(out_dims)
    if len(odims) != n_leaves:
        raise ValueError(f"{fn}: out_dims is not compatible with the structure of "
                         f"`outputs`. out_dims has structure {out_dims!r} but outputs "
                         f"has {n_leaves} tensors")
    return odims


def _concat_parts(parts, out_dims, fn):
    """The results of the chunks of one vmap joined along their out_dims."""
    flat = [_flatten(p) for p in parts]
    spec = flat[0][1]
    odims = _out_dims(out_dims, len(flat[0][0]), fn)
    joined = []
    for j, d in enumerate(odims):
        col = [f[0][j] for f in flat]
        joined.append(col[0] if d is None else _ops.cat(col, d))
    return _unflatten(joined, spec)


def _rng_equal(a, b) -> bool:
    if isinstance(a, Tensor):
        return tuple(a.shape) == tuple(b.shape) and a.numpy().tobytes() == b.numpy().tobytes()
    return a == b


# ------------------------------------------------------------------------ module helpers
def _swap(module, name, value):
    """Put ``value`` at dotted ``name`` (a parameter, buffer or plain attribute) of module;
    returns the restore function."""
    *path, attr = name.split(".")
    owner = module
    for part in path:
        owner = getattr(owner, part)
    for store in ("_parameters", "_buffers"):
        table = owner.__dict__.get(store)
        if table is not None and attr in table:
            old = table[attr]
            table[attr] = value

            def restore(table=table, old=old):
                table[attr] = old
            return restore
    had = attr in owner.__dict__
    old = owner.__dict__.get(attr)
    object.__setattr__(owner, attr, value)

    def restore_attr():
        if had:
            object.__setattr__(owner, attr, old)
        else:
            object.__delattr__(owner, attr)
    return restore_attr


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """Call ``module`` with its parameters and buffers replaced by the tensors in the dict(s)
    (keys as ``named_parameters``/``named_buffers`` give them); the module is unchanged after.
    With tie_weights, a tensor given for one of several tied names serves all of them."""
    dicts = parameter_and_buffer_dicts
    if isinstance(dicts, dict):
        merged = dict(dicts)
    elif isinstance(dicts, (tuple, list)) and all(isinstance(d, dict) for d in dicts):
        merged = {}
        for d in dicts:
            dup = set(merged) & set(d)
            if dup:
                raise ValueError(f"functional_call got multiple values for keys "
                                 f"{sorted(dup)}, which are used in both dictionaries")
            merged.update(d)
    else:
        raise ValueError(f"Expected parameter_and_buffer_dicts to be a dict, or a list/tuple "
                         f"of dicts, but got {type(dicts)}")
    named = dict(module.named_parameters(remove_duplicate=False))
    named.update(module.named_buffers(remove_duplicate=False))
    if tie_weights:      # names sharing one tensor get the value given for any of them
        by_id: dict = {}
        for n, t in named.items():
            by_id.setdefault(id(t), []).append(n)
        for names in by_id.values():
            given = [n for n in names if n in merged]
            if given:
                vals = {id(merged[n]) for n in given}
                if len(vals) > 1:
                    raise ValueError(f"functional_call got multiple values for tied weights "
                                     f"{given}")
                for n in names:
                    merged.setdefault(n, merged[given[0]])
    if strict:
        missing = sorted(set(named) - set(merged))
        unexpected = sorted(set(merged) - set(named))
        if missing or unexpected:
            raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}: "
                               f"missing keys {missing}, unexpected keys {unexpected}")
    args = () if args is None else args if isinstance(args, tuple) else (args,)
    restores = []
    try:
        for n, v in merged.items():
            restores.append(_swap(module, n, v))
        return module(*args, **(kwargs or {}))
    finally:
        for r in reversed(restores):
            r()


def stack_module_state(models):
    """``(params, buffers)``: each name's tensors of the (same-architecture) models stacked
    on a new leading dim; parameters as new leaves that require grad."""
    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if len({type(m) for m in models}) != 1:
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")

    def stacked(tensors):
        out = _ops.stack([t.detach() for t in tensors])
        return out.requires_grad_() if any(t.requires_grad for t in tensors) else out
    names = [n for n, _ in models[0].named_parameters()]
    params = {n: stacked([dict(m.named_parameters())[n] for m in models]) for n in names}
    bnames = [n for n, _ in models[0].named_buffers()]
    buffers = {n: stacked([dict(m.named_buffers())[n] for m in models]) for n in bnames}
    return params, buffers

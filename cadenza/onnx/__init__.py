"""cadenza.onnx: export of inference graphs to ONNX.

``export(model_or_fn, example_inputs, path)`` traces one call under ``cadenza.no_grad()`` (put
the model in ``eval()`` first), drops dead code, turns lifted parameters and buffers into ONNX
initializers and lowers each primitive of the captured graph to ONNX nodes as the primitive
declares (``Op.onnx``; the generic machinery is ``_lower.py``). The
model is checked with ``onnx.checker``. Ops without a lowering are all reported in one error
with their source lines. ``dynamic_axes`` re-traces at other sizes to tell which sizes follow
which axis (``_dynamic.py``). ``onnx`` (and ``onnxruntime``, for round trips) load lazily:
``pip install cadenza[onnx]``.
"""
from __future__ import annotations

import re

import numpy as np

from .._tensor import Tensor
from ..autograd.grad_mode import no_grad
from ..graph.passes import eliminate_dead_code
from ..graph.pytree import flatten_result
from ..graph.trace import Tracer
from ._base import Unsupported
from ._dynamic import Dims
from ._lower import Ctx, lower

__all__ = ["export", "is_in_onnx_export", "UnsupportedOpsError"]

_EXPORTING = [False]


class UnsupportedOpsError(RuntimeError):
    """The graph holds primitives with no ONNX lowering; ``ops`` lists (op name, source)."""

    def __init__(self, msg, ops):
        super().__init__(msg)
        self.ops = ops


def _require_onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("cadenza.onnx.export needs the 'onnx' package: "
                          "pip install cadenza[onnx]") from e
    return onnx, helper, numpy_helper


def is_in_onnx_export() -> bool:
    return _EXPORTING[0]


# ---------------------------------------------------------------------------- tracing
def _param_names(model_or_fn):
    """id(tensor) -> attribute path, for a Module or a bound method of one (model.step)."""
    owner = model_or_fn
    if not hasattr(owner, "named_parameters"):
        owner = getattr(model_or_fn, "__self__", None)
    names = {}
    if owner is not None and hasattr(owner, "named_parameters"):
        for n, p in owner.named_parameters():
            names[id(p)] = n
        if hasattr(owner, "named_buffers"):
            for n, b in owner.named_buffers():
                names[id(b)] = n
    return names


def _trace(model_or_fn, args):
    tr = Tracer(names=_param_names(model_or_fn))
    _EXPORTING[0] = True
    try:
        with no_grad():
            with tr:
                for i, a in enumerate(args):
                    if isinstance(a, Tensor):
                        tr.add_arg(a, i, f"input{i}")
                result = model_or_fn(*args)
                res = tr.finish(result, flatten_result)
    finally:
        _EXPORTING[0] = False
    return res


def _clean(name):
    return re.sub(r"[^A-Za-z0-9_.]", "_", name)


def _check_names(kind, names, n):
    if names is None:
        return [f"{kind}{i}" for i in range(n)]
    names = list(names)
    if len(names) != n or len(set(names)) != n:
        raise ValueError(f"cadenza.onnx.export: expected {n} distinct {kind}_names, "
                         f"got {names}")
    return names


# ---------------------------------------------------------------------------- export
def export(model_or_fn, example_inputs, path, input_names=None, output_names=None,
           opset_version: int = 17, dynamic_axes=None):
    """Trace ``model_or_fn(*example_inputs)`` under no_grad and write an ONNX model to ``path``
    (a file path or a writable binary file). Returns the ``onnx.ModelProto``.

    Inputs and outputs get ``input_names`` / ``output_names`` (default ``input{i}``,
    ``output{i}``); lifted parameters and buffers become initializers named after the module's
    attribute paths (also for a bound method such as ``model.forward_step``). Shapes are the
    example's unless ``dynamic_axes`` (as in ``torch.onnx.export``: ``{input or output name:
    {axis: symbol}}`` or ``{name: [axes]}``) names axes that may change: the export traces again
    with each symbol's size changed, and every size that follows a symbol is computed at run
    time. A size that does not follow the symbols as a product (``T + 1``), a constant or slice
    that depends on one, or a model that takes another path at the other size raises an error
    naming the source line; export with static shapes then.

    The language model exports with its KV cache as explicit inputs and outputs through
    ``GPT.forward_step`` (a fixed-size cache written at ``pos``; see its docstring)::

        >>> import cadenza, cadenza.onnx
        >>> from cadenza.models.gpt import GPT, GPTConfig
        >>> model = GPT(GPTConfig(vocab_size=256, block_size=64, n_layer=2, n_head=4,
        ...                       n_embd=64)).eval()
        >>> idx = cadenza.zeros(1, 8, dtype=cadenza.int64)          # (B, T) token ids
        >>> past_k, past_v = model.empty_cache(batch_size=1)        # (L, B, K, S, D) each
        >>> pos = cadenza.tensor(0)                                 # tokens already cached
        >>> cadenza.onnx.export(
        ...     model.forward_step, (idx, past_k, past_v, pos), "gpt.onnx",
        ...     input_names=["idx", "past_k", "past_v", "pos"],
        ...     output_names=["logits", "present_k", "present_v"],
        ...     dynamic_axes={"idx": {0: "batch", 1: "seq"}, "past_k": {1: "batch"},
        ...                   "past_v": {1: "batch"}})

    With onnxruntime, run the prompt with ``pos = 0``, then feed each step's ``present_k`` /
    ``present_v`` back as ``past_k`` / ``past_v`` with ``pos`` advanced by the tokens fed.
    """
    onnx, helper, numpy_helper = _require_onnx()
    if not isinstance(example_inputs, (tuple, list)):
        example_inputs = (example_inputs,)
    args = tuple(example_inputs)
    res = _trace(model_or_fn, args)
    arg_pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    in_names = _check_names("input", input_names, len(arg_pos))
    outs = [(v, lab) for v, lab in zip(res.graph.outputs, res.graph.output_labels)
            if lab.startswith("out")]
    # state write-backs (e.g. train-mode running stats) are not part of an inference graph
    out_names = _check_names("output", output_names, len(outs))
    dims = None
    if dynamic_axes:
        dims = Dims.build(lambda a: _trace(model_or_fn, a), args, arg_pos, res, in_names,
                          out_names, dynamic_axes)
    g = res.graph.copy()
    g.outputs, g.output_labels = [v for v, _ in outs], [lab for _, lab in outs]
    g = eliminate_dead_code.run(g)   # e.g. an MoE's load-balancing loss, unused in inference
    live = {u.id for n in g.nodes for u in n.uses()} | {v.id for v in g.outputs}
    ctx = Ctx(helper, numpy_helper, opset_version)
    ctx.dims = dims
    graph_inputs = []
    used = set(in_names) | set(out_names)
    for L in res.lifted:
        v = L.value
        if L.src[0] == "arg":
            nm = in_names[arg_pos.index(L.src[1])]
            graph_inputs.append(helper.make_tensor_value_info(
                nm, helper.np_dtype_to_tensor_dtype(v.dtype),
                dims.labels(v, nm) if dims else list(v.shape)))
        elif v.id not in live:
            continue
        else:
            if dims is not None:
                dims.check_static(v, f"{L.name} (a lifted tensor)")
            nm = _clean(L.name)
            while nm in used:
                nm += "_"
            ctx.inits.append(numpy_helper.from_array(np.ascontiguousarray(L.array), nm))
        used.add(nm)
        ctx.names[v.id] = nm
    unsupported = []
    for node in g.nodes:
        if node.op == "input":
            continue
        out = f"v{node.out.id}"
        ctx.names[node.out.id] = out
        try:
            if node.op == "const":
                if dims is not None and dims.lower_const(ctx, node, out):
                    continue
                ctx.inits.append(numpy_helper.from_array(np.ascontiguousarray(
                    node.attrs["value"]), out))
                continue
            lower(ctx, node, out)
        except Unsupported as e:
            unsupported.append((node.op_name, node.src, str(e)))
    if unsupported:
        lines = "\n".join(f"  - {n} at {src or '<unknown>'} ({why})" for n, src, why in
                          unsupported)
        raise UnsupportedOpsError(
            f"cadenza.onnx.export: {len(unsupported)} op(s) have no ONNX lowering:\n{lines}",
            [(n, s) for n, s, _ in unsupported])
    graph_outputs = []
    for nm, v in zip(out_names, g.outputs):
        ctx.node("Identity", [ctx.name(v)], nm)
        graph_outputs.append(helper.make_tensor_value_info(
            nm, helper.np_dtype_to_tensor_dtype(v.dtype),
            dims.labels(v, nm) if dims else list(v.shape)))
    graph = helper.make_graph(ctx.nodes, "cadenza", graph_inputs, graph_outputs,
                              initializer=ctx.inits)
    model = helper.make_model(graph, producer_name="cadenza",
                              opset_imports=[helper.make_opsetid("", opset_version)])
    model.ir_version = min(model.ir_version, 8 if opset_version <= 17 else 9)
    onnx.checker.check_model(model, full_check=True)
    if hasattr(path, "write"):
        path.write(model.SerializeToString())
    else:
        onnx.save(model, str(path))
    return model

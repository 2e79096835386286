"""Lowering of captured graph nodes to ONNX nodes: the generic machinery. What each primitive
becomes is declared on the primitive (``Op.onnx``, read from the registry): the name of an ONNX
op computing it one to one, or a function ``lower(ctx, node, out)`` in the op's own file.

A lowering appends ONNX nodes computing ``node.out`` under the name ``out`` through ``Ctx``, or
raises ``ctx.Unsupported`` (the export then lists the op with its source line). Sizes come from
the traced (static) shapes; ``ctx.dims`` (set by dynamic-axes export) turns the ones that
follow a dynamic axis into run-time values, see ``_dynamic.py``.
"""
from __future__ import annotations

import numpy as np

from ..graph.ir import Value, has_refs
from . import _base
from ._base import Unsupported
from ._index import getitem


class Ctx(_base.Ctx):
    """The graph under construction with the generic lowerings ops' own functions call."""
    Unsupported = Unsupported

    @staticmethod
    def is_value(x) -> bool:
        """Whether a node input is a traced tensor (else a Python/NumPy constant or None)."""
        return isinstance(x, Value)

    def operands(self, node, op=None):
        """Operand names of ``node`` as ``op`` (default: the node's own) reads them; a scalar
        takes the dtype the op computes in, declared by its C lowering fields: comparisons
        (``c_compute == "input"``) their tensor's, where (``c_operands == "cond"``) its value
        operands', with a bool condition; the output's otherwise."""
        op = op or node.op
        vals = [x for x in node.inputs if isinstance(x, Value)]
        cond = op.c_operands == "cond"
        if cond:
            dt = vals[-1].dtype
        elif op.c_compute == "input":
            dt = vals[0].dtype if vals else node.out.dtype
        else:
            dt = node.out.dtype
        return [self.operand(x, np.bool_ if (cond and i == 0) else dt)
                for i, x in enumerate(node.inputs)]

    def getitem(self, node, out):
        """NumPy-style indexing (slices, ints, index arrays) as Slice/Gather nodes."""
        getitem(self, node, out)

    def reduce_node(self, node, out, op, dims, keepdims, reshape_to=None):
        """ReduceX of input 0 over ``dims`` (cast to the output dtype first if it differs),
        then reshaped to ``reshape_to`` if given."""
        x = node.inputs[0]
        src = self.name(x)
        if x.dtype != node.out.dtype:
            src = self.node("Cast", [src], to=self.helper.np_dtype_to_tensor_dtype(
                node.out.dtype))
        r = self.reduce(op, src, dims, keepdims) if dims else self.node("Identity", [src])
        if reshape_to is not None:
            r = self.node("Reshape", [r, self.shape_of(node.out, reshape_to)])
        self.node("Identity", [r], out)


def lowering(node):
    """The ONNX lowering ``node``'s primitive declares, or None."""
    return None if isinstance(node.op, str) else node.op.onnx


def lower(ctx: Ctx, node, out) -> None:
    """Append the ONNX nodes computing ``node`` as ``out``; raise Unsupported if it has none."""
    how = lowering(node)
    if how is None:
        raise Unsupported("no ONNX lowering")
    if not node.op.onnx_refs and has_refs(node.attrs):
        raise Unsupported("traced tensor index")
    if ctx.dims is not None:
        ctx.dims.check_attrs(node)
    if isinstance(how, str):      # one to one: same inputs, no attributes
        if node.attrs:
            raise Unsupported("attributes")
        ctx.node(how, ctx.operands(node), out)
    else:
        how(ctx, node, out)

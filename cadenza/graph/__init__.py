"""Compiled mode's static graph: the IR (ir.py), tracing (trace.py), checks (verify.py), the
NumPy interpreter (interpret.py) and the passes (passes/, ordered in pipeline.py)."""
from .ir import Graph, Node, Value  # noqa: F401
from .verify import verify  # noqa: F401

"""Code generation for compiled graphs: fused kernels rendered as C (render_c.py), built by the
system C compiler and cached on disk (backend/cbuild.py), run by an executor that calls them
through ctypes between the NumPy/BLAS calls of the other nodes (executor.py).

``make_runner(graph, backend)`` is the entry point: ``backend="c"`` generates kernels for the
graph's fused nodes, ``"numpy"`` interprets every node with NumPy. Without a C compiler (or if
building fails) ``"c"`` falls back to the interpreter with a one-line notice.
"""
from __future__ import annotations

from .executor import make_runner

__all__ = ["make_runner"]

"""The disk cache of built kernel libraries, as codegen knows it: the builder itself lives in
``cadenza/backend/cbuild.py`` (the foundation layer), so eager ops build their C kernels
(backend/ckernels.py) with the same compiler, flags and cache."""
from __future__ import annotations

from ..backend.cbuild import CompileError, build, compiler

__all__ = ["CompileError", "build", "compiler"]

"""Single-row products of compiled graphs: the backend's gemv call (``cadenza/backend/gemv.py``,
which eager ``linear`` on one row uses too), under the name the executor and its tests use."""
from __future__ import annotations

from ..backend.gemv import COL_MAJOR, SOURCE, SPLIT, SPLIT_MIN, Gemv, layout, library, suits

__all__ = ["COL_MAJOR", "SOURCE", "SPLIT", "SPLIT_MIN", "Gemv", "layout", "library", "suits"]

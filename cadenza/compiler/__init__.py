"""cadenza.compiler, behind the function cadenza.compile (a module named cadenza.compile
would replace that function on import). Compiled mode (static graph capture, passes, generated
kernels) is not in this version yet; until it lands, compile returns the function or module
unchanged so programs written for torch.compile run eagerly with the same results, and says so
once."""
from __future__ import annotations

import warnings

_warned = [False]


def compile(model=None, *, fullgraph=False, dynamic=None, backend=None, mode=None,
            options=None, disable=False, explain=False):
    def wrap(m):
        if not disable and not _warned[0]:
            _warned[0] = True
            warnings.warn("cadenza.compile: compiled mode is not available in this version; "
                          "running eagerly (results are the same)", stacklevel=3)
        return m
    if model is None:
        return wrap
    return wrap(model)

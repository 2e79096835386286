"""cadenza.backends.opt_einsum: same object as the attribute `cadenza.backends.opt_einsum`."""
import sys as _sys

from . import _flags as _f

_sys.modules[__name__] = _f.opt_einsum

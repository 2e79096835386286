"""cadenza.backends.openmp: same object as the attribute `cadenza.backends.openmp`."""
import sys as _sys

from . import _flags as _f

_sys.modules[__name__] = _f.openmp

"""Cadenza's primitives and the public functions over them. Importing this package registers
every primitive and binds Tensor's operators and methods to these functions, so each op is
defined in exactly one place."""
from __future__ import annotations

from ._registry import REGISTRY, Op, apply, register  # noqa: F401
from .elementwise import *  # noqa: F401,F403
from .elementwise import (add, sub, mul, div, pow, neg, where, clamp, to_dtype, eq, ne, lt,
                          le, gt, ge, logical_not, bitwise_not, logical_and, logical_or,
                          logical_xor, bitwise_and, bitwise_or, bitwise_xor, remainder,
                          floor_divide)  # noqa: F401
from .reduce import *  # noqa: F401,F403
from .reduce import sum, mean, amax, amin, max, min, all, any  # noqa: F401
from .shape import *  # noqa: F401,F403
from .shape import sum_to, reshape  # noqa: F401
from .index import *  # noqa: F401,F403
from .index import getitem, setitem  # noqa: F401
from .linalg import *  # noqa: F401,F403
from .conv import unfold, fold  # noqa: F401
from . import pool as _pool  # noqa: F401  (max pooling primitives)
from .activation import gelu  # noqa: F401
from . import normalization, softmax_fused  # noqa: F401  (fused primitives used by functional)
from . import _methods  # noqa: F401  (binds Tensor methods)

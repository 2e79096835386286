"""Cadenza's primitives and the public functions over them. Importing this package registers
every primitive (``REGISTRY``); each module's ``__all__`` is its own public functions, and this
package's ``__all__`` is their union (what ``cadenza`` and the Tensor method mixins of
``cadenza/_tensor_api`` read). Families: ``unary``/``binary``/``elementwise`` (maths),
``reduce``/``sorting``, ``views``/``join``/``shape`` (shapes), ``index``, ``linalg``/``decomp``, ``conv``,
``pool``, ``activation``/``normalization``/``softmax_fused`` (fused primitives), ``inplace``,
``device``."""
from __future__ import annotations

from ._registry import REGISTRY, Op, apply, register  # noqa: F401
from . import (unary, binary, elementwise, reduce, sorting, views, join, shape, index, linalg,
               decomp, conv, pool, activation, normalization, softmax_fused, inplace, device,
               sparse, special, composites)
from .unary import *  # noqa: F401,F403
from .binary import *  # noqa: F401,F403
from .elementwise import *  # noqa: F401,F403
from .reduce import *  # noqa: F401,F403
from .sorting import *  # noqa: F401,F403
from .views import *  # noqa: F401,F403
from .join import *  # noqa: F401,F403
from .shape import *  # noqa: F401,F403
from .index import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .decomp import *  # noqa: F401,F403
from .special import *  # noqa: F401,F403
from .composites import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .pool import *  # noqa: F401,F403
from .activation import *  # noqa: F401,F403
from .binary import Add, Mul, Div  # noqa: F401  (the operators' direct path)

__all__ = [n for m in (unary, binary, elementwise, reduce, sorting, views, join, shape, index,
                       linalg, decomp, special, composites, conv, pool, activation) for n in m.__all__]

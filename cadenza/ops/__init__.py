"""Cadenza's primitives and the public functions over them. Importing this package registers
every primitive (``REGISTRY``); each module's ``__all__`` is its own public functions, and this
package's ``__all__`` is their union (what ``cadenza`` and the Tensor method mixins of
``cadenza/_tensor_api`` read). Families: ``unary``/``binary``/``elementwise`` (maths),
``reduce``/``sorting``, ``views``/``join``/``shape`` (shapes), ``index``, ``linalg``/``decomp``
(products, decompositions), ``special`` (gamma family, erfinv, Bessel, ...), ``sparse``,
``composites`` (distances, matrix builders, integration), ``pointwise``/``stats``/``scatters``/
``products`` (the rest of torch.Tensor's methods), ``conv``, ``pool``,
``activation``/``normalization``/``softmax_fused``/``attention`` (fused primitives),
``inplace``, ``device``,
``complex`` (complex parts, conjugation, real <-> complex views), ``fft`` (the discrete Fourier
transforms under ``cadenza.fft``, ``stft`` and the window functions)."""
from __future__ import annotations

from ._registry import REGISTRY, Op, apply, register  # noqa: F401
from . import (unary, binary, elementwise, reduce, sorting, views, join, shape, index, linalg,
               decomp, conv, pool, activation, normalization, softmax_fused, inplace, device,
               sparse, special, composites)
from . import pointwise, stats, scatters, products  # (issue 10: Tensor methods)
from . import batchnorm  # noqa: F401  (its primitives: functional.batch_norm)
from . import bessel  # noqa: F401  (J0/J1/Y0/Y1/K0/K1/Ai: torch.special only)
from . import attention  # fused scaled dot-product attention (issue 12), primitives only
from . import complex as _complex  # the module: ``complex`` below is torch.complex
from . import fft as _fft  # the transforms cadenza.fft is built from, stft and windows
from .fft import *  # noqa: F401,F403
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
from .pointwise import *  # noqa: F401,F403
from .stats import *  # noqa: F401,F403
from .scatters import *  # noqa: F401,F403
from .products import *  # noqa: F401,F403
from .complex import *  # noqa: F401,F403
from .binary import Add, Mul, Div  # noqa: F401  (the operators' direct path)

__all__ = [n for m in (unary, binary, elementwise, reduce, sorting, views, join, shape, index,
                       linalg, decomp, special, composites, conv, pool, activation,
                       pointwise, stats, scatters, products, _complex, _fft) for n in m.__all__]

from .._argforms import alias_namespace as _alias_namespace  # noqa: E402
_alias_namespace(globals(), __all__)   # axis= / keepdims= accepted as torch's parser does

"""``torch.special``: PyTorch's special functions. The new primitives (gammaln, digamma,
polygamma, erfinv, erfcx, i0/i0e/i1/i1e, ndtri, log_ndtr, zeta) and composites (ndtr, sinc,
logit, xlogy, xlog1py, entr, multigammaln) live in ``cadenza/ops/special.py``; the rest are
the functions Cadenza already has under their torch.special names."""
from __future__ import annotations

from .ops.special import (digamma, entr, erfcx, erfinv, gammainc, gammaincc, i0, i0e, i1,
                          i1e, log_ndtr, spherical_bessel_j0,
                          modified_bessel_i0, modified_bessel_i1, multigammaln, ndtr, ndtri,
                          polygamma, sinc, xlog1py, xlogy, zeta, POLYNOMIALS as _POLYNOMIALS)
from .ops.special import lgamma as gammaln, digamma as psi, logit
from .ops.bessel import FUNCTIONS as _BESSEL
from .ops.unary import erf, erfc, expm1, log1p, round, sigmoid as expit
from .ops.binary import exp2
from .ops.reduce import logsumexp
from .functional import softmax as _softmax, log_softmax as _log_softmax
from ._out import out_namespace as _out_namespace

__all__ = ["digamma", "entr", "erf", "erfc", "erfcx", "erfinv", "exp2", "expit", "expm1",
           "gammaln", "i0", "i0e", "i1", "i1e", "log1p", "log_ndtr", "log_softmax", "logit",
           "logsumexp", "multigammaln", "ndtr", "ndtri", "polygamma", "psi", "round",
           "sinc", "softmax", "xlog1py", "xlogy", "zeta", "modified_bessel_i0", "gammainc",
           "gammaincc", "spherical_bessel_j0",
           "modified_bessel_i1", *sorted(_POLYNOMIALS), *sorted(_BESSEL)]
globals().update(_POLYNOMIALS)  # chebyshev_polynomial_t ... legendre_polynomial_p
globals().update(_BESSEL)  # bessel_j0 ... scaled_modified_bessel_k1, airy_ai


def softmax(input, dim, *, dtype=None):
    return _softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    return _log_softmax(input, dim, dtype=dtype)


# out= on every function but the two softmaxes, as torch.special (the top level's wrappers:
# torch.special.gammaln stays torch.lgamma)
_out_namespace(globals(), [n for n in __all__ if n not in ("softmax", "log_softmax")])

"""cadenza.functional: the composites of ``torch.nn.functional``, written over Cadenza's
primitives (no backward rules of their own: gradients of every order come from the primitives).

    import cadenza.nn.functional as F
    loss = F.cross_entropy(model(x), y)

Modules: activation (relu, gelu, softmax, ...), loss (cross_entropy, mse_loss, ...), norm
(layer_norm, rms_norm, batch_norm, group_norm), attention (scaled_dot_product_attention), conv
(conv1d/2d/3d, transposed convs, linear), pool (max/avg/adaptive pooling, interpolate), pool3d,
pool_variants (LP, unpooling, fractional), dropout,
sparse (embedding, one_hot), vision (affine_grid, grid_sample).
"""
from __future__ import annotations

from . import (activation, loss, norm, attention, conv, pool, pool3d, pool_variants, sparse,
               vision, linear_ce)
from . import dropout as _dropout_mod  # before the star imports rebind 'dropout' to the function
from .activation import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .norm import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .pool import *  # noqa: F401,F403
from .pool3d import *  # noqa: F401,F403
from .pool_variants import *  # noqa: F401,F403
from .sparse import *  # noqa: F401,F403
from .vision import *  # noqa: F401,F403
from .linear_ce import *  # noqa: F401,F403

__all__ = sorted(set(activation.__all__ + loss.__all__ + norm.__all__ + _dropout_mod.__all__
                     + attention.__all__ + conv.__all__ + pool.__all__ + pool3d.__all__
                     + pool_variants.__all__ + sparse.__all__ + vision.__all__
                     + linear_ce.__all__))

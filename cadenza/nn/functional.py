"""torch.nn.functional's names: a re-export of :mod:`cadenza.functional`.

>>> import cadenza.nn.functional as F
>>> F.relu(cadenza.tensor([-1.0, 1.0]))
tensor([0., 1.])
"""
from __future__ import annotations

from ..functional import *  # noqa: F401,F403
from ..functional import __all__  # noqa: F401
from ..functional import (  # noqa: F401
    relu, relu_, relu6, leaky_relu, leaky_relu_, elu, elu_, selu, selu_, celu, celu_, gelu,
    silu, mish, softplus, softsign, hardtanh, hardtanh_, hardsigmoid, hardswish, sigmoid, tanh,
    logsigmoid, softmax, log_softmax, softmin, glu, normalize, prelu, threshold, threshold_,
    tanhshrink, softshrink, hardshrink, rrelu, rrelu_, gumbel_softmax,
    nll_loss, cross_entropy, mse_loss, l1_loss, smooth_l1_loss, huber_loss,
    binary_cross_entropy, binary_cross_entropy_with_logits, kl_div, cosine_similarity,
    pairwise_distance, cosine_embedding_loss, margin_ranking_loss, triplet_margin_loss,
    hinge_embedding_loss, soft_margin_loss, poisson_nll_loss, gaussian_nll_loss,
    multilabel_soft_margin_loss, multi_margin_loss, multilabel_margin_loss, pdist,
    triplet_margin_with_distance_loss, ctc_loss,
    layer_norm, rms_norm, batch_norm, group_norm, instance_norm, local_response_norm,
    scaled_dot_product_attention,
    conv1d, conv2d, conv_transpose1d, conv_transpose2d, unfold, fold, pad, linear, bilinear,
    pixel_shuffle, pixel_unshuffle, channel_shuffle, native_channel_shuffle,
    max_pool1d, max_pool2d, avg_pool1d, avg_pool2d, adaptive_avg_pool1d, adaptive_avg_pool2d,
    adaptive_max_pool1d, adaptive_max_pool2d, interpolate, upsample, upsample_nearest,
    upsample_bilinear,
    dropout, dropout1d, dropout2d, dropout3d, alpha_dropout, feature_alpha_dropout,
    embedding, embedding_bag, one_hot,
)
from ..functional.vision import (  # noqa: F401  (torch.nn.functional's constants)
    GRID_SAMPLE_INTERPOLATION_MODES, GRID_SAMPLE_PADDING_MODES)
from . import grad  # noqa: E402,F401  (torch.nn.functional.grad is torch.nn.grad)

"""Layers: ``cadenza.nn.modules`` (also re-exported from ``cadenza.nn``)."""
from .module import Module
from ._state import IncompatibleKeys as _IncompatibleKeys
from ._hooks import RemovableHandle
from .container import (Container, Sequential, ModuleList, ModuleDict, ParameterList,
                        ParameterDict)
from .linear import Identity, Linear, LazyLinear, Bilinear
from .flatten import Flatten, Unflatten
from .sparse import Embedding, EmbeddingBag
from .normalization import LayerNorm, RMSNorm, GroupNorm, LocalResponseNorm, CrossMapLRN2d
from .batchnorm import (BatchNorm1d, BatchNorm2d, BatchNorm3d, LazyBatchNorm1d, LazyBatchNorm2d,
                        LazyBatchNorm3d, SyncBatchNorm)
from .dropout import (Dropout, Dropout1d, Dropout2d, Dropout3d, AlphaDropout,
                      FeatureAlphaDropout)
from .conv import (Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d,
                   LazyConv1d, LazyConv2d, LazyConv3d, LazyConvTranspose1d,
                   LazyConvTranspose2d, LazyConvTranspose3d)
from .pooling import (MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d,
                      AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d,
                      AdaptiveMaxPool2d, MaxPool3d, AvgPool3d, AdaptiveAvgPool3d,
                      AdaptiveMaxPool3d, LPPool1d, LPPool2d, LPPool3d, MaxUnpool1d, MaxUnpool2d,
                      MaxUnpool3d, FractionalMaxPool2d, FractionalMaxPool3d)
from .activation import (ReLU, ReLU6, SELU, SiLU, Mish, Hardswish, Hardsigmoid,
                         Hardtanh, GELU, Tanh, Sigmoid, LogSigmoid, Softsign, Tanhshrink,
                         Softmax, LogSoftmax, Softmin, GLU, LeakyReLU, ELU, CELU, Softplus,
                         Threshold, Softshrink, Hardshrink, PReLU, RReLU, Softmax2d)
from .activation_mha import MultiheadAttention
from .loss import (CrossEntropyLoss, NLLLoss, MSELoss, L1Loss, SmoothL1Loss,
                   HuberLoss, BCELoss, BCEWithLogitsLoss, KLDivLoss, SoftMarginLoss,
                   CosineEmbeddingLoss, NLLLoss2d, PoissonNLLLoss, GaussianNLLLoss,
                   HingeEmbeddingLoss, MarginRankingLoss, MultiLabelMarginLoss,
                   MultiLabelSoftMarginLoss, MultiMarginLoss, TripletMarginLoss,
                   TripletMarginWithDistanceLoss, CTCLoss, LinearCrossEntropyLoss,
                   LinearCrossEntropyOptions)
from .rnn import RNNBase, RNN, LSTM, GRU
from .rnn_cell import RNNCellBase, RNNCell, LSTMCell, GRUCell
from .transformer import (Transformer, TransformerEncoderLayer, TransformerEncoder,
                          TransformerDecoderLayer, TransformerDecoder)
from .padding import (ReflectionPad1d, ReflectionPad2d, ReflectionPad3d, ReplicationPad1d,
                      ReplicationPad2d, ReplicationPad3d, CircularPad1d, CircularPad2d,
                      CircularPad3d, ConstantPad1d, ConstantPad2d, ConstantPad3d, ZeroPad1d,
                      ZeroPad2d, ZeroPad3d)
from .pixelshuffle import PixelShuffle, PixelUnshuffle
from .channelshuffle import ChannelShuffle
from .instancenorm import (InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, LazyInstanceNorm1d,
                           LazyInstanceNorm2d, LazyInstanceNorm3d)

from .fold import Fold, Unfold
from .upsampling import Upsample, UpsamplingNearest2d, UpsamplingBilinear2d
from .distance import PairwiseDistance, CosineSimilarity
from .adaptive import AdaptiveLogSoftmaxWithLoss

__all__ = [
    "Module", "RemovableHandle", "Sequential", "ModuleList", "ModuleDict", "ParameterList",
    "ParameterDict", "Identity", "Linear", "LazyLinear", "Bilinear", "Flatten", "Unflatten",
    "Embedding", "LayerNorm", "RMSNorm", "GroupNorm", "BatchNorm1d", "BatchNorm2d",
    "BatchNorm3d", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "Conv1d",
    "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d", "AvgPool1d",
    "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d", "ReLU", "ReLU6", "SELU", "SiLU", "Mish", "Hardswish", "Hardsigmoid",
    "Hardtanh", "GELU", "Tanh", "Sigmoid", "LogSigmoid", "Softsign", "Tanhshrink", "Softmax",
    "LogSoftmax", "Softmin", "GLU", "LeakyReLU", "ELU", "CELU", "Softplus", "Threshold",
    "Softshrink", "Hardshrink", "PReLU", "MultiheadAttention", "CrossEntropyLoss", "NLLLoss",
    "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss", "BCEWithLogitsLoss",
    "KLDivLoss", "SoftMarginLoss", "CosineEmbeddingLoss", "RNNBase", "RNN", "LSTM", "GRU",
    "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell", "TransformerEncoderLayer",
    "TransformerEncoder", "Transformer", "TransformerDecoderLayer", "TransformerDecoder",
    "FeatureAlphaDropout", "RReLU", "Softmax2d", "ReflectionPad1d", "ReflectionPad2d",
    "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d",
    "CircularPad1d", "CircularPad2d", "CircularPad3d", "ConstantPad1d", "ConstantPad2d",
    "ConstantPad3d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "PixelShuffle", "PixelUnshuffle",
    "ChannelShuffle", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "Fold", "Unfold",
    "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "PairwiseDistance",
    "CosineSimilarity",
    "NLLLoss2d", "PoissonNLLLoss", "GaussianNLLLoss", "HingeEmbeddingLoss",
    "MarginRankingLoss", "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss", "MultiMarginLoss",
    "TripletMarginLoss", "TripletMarginWithDistanceLoss", "CTCLoss",
    "Conv3d", "ConvTranspose3d", "MaxPool3d", "AvgPool3d", "AdaptiveAvgPool3d",
    "AdaptiveMaxPool3d", "LPPool1d", "LPPool2d", "LPPool3d", "MaxUnpool1d", "MaxUnpool2d",
    "MaxUnpool3d", "FractionalMaxPool2d", "FractionalMaxPool3d",
    "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
    "LazyConvTranspose3d", "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d",
    "SyncBatchNorm", "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d",
    "Container", "EmbeddingBag", "LocalResponseNorm", "CrossMapLRN2d",
    "LinearCrossEntropyLoss", "LinearCrossEntropyOptions",
    "AdaptiveLogSoftmaxWithLoss",
]

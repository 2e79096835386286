"""Layers: ``cadenza.nn.modules`` (also re-exported from ``cadenza.nn``)."""
from .module import Module  # noqa: F401
from ._state import IncompatibleKeys as _IncompatibleKeys  # noqa: F401
from ._hooks import RemovableHandle  # noqa: F401
from .container import (Sequential, ModuleList, ModuleDict, ParameterList,  # noqa: F401
                        ParameterDict)
from .linear import Identity, Linear, LazyLinear, Bilinear, Flatten, Unflatten  # noqa: F401
from .sparse import Embedding  # noqa: F401
from .normalization import LayerNorm, RMSNorm, GroupNorm  # noqa: F401
from .batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d  # noqa: F401
from .dropout import Dropout, Dropout1d, Dropout2d, Dropout3d, AlphaDropout  # noqa: F401
from .conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d  # noqa: F401
from .pooling import (MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d,  # noqa: F401
                      AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d,
                      AdaptiveMaxPool2d)
from .activation import (ReLU, ReLU6, SELU, SiLU, Mish, Hardswish, Hardsigmoid,  # noqa: F401
                         Hardtanh, GELU, Tanh, Sigmoid, LogSigmoid, Softsign, Tanhshrink,
                         Softmax, LogSoftmax, Softmin, GLU, LeakyReLU, ELU, CELU, Softplus,
                         Threshold, Softshrink, Hardshrink, PReLU)
from .activation_mha import MultiheadAttention  # noqa: F401
from .loss import (CrossEntropyLoss, NLLLoss, MSELoss, L1Loss, SmoothL1Loss,  # noqa: F401
                   HuberLoss, BCELoss, BCEWithLogitsLoss, KLDivLoss, SoftMarginLoss,
                   CosineEmbeddingLoss)
from .rnn import RNNBase, RNN, LSTM, GRU  # noqa: F401
from .rnn_cell import RNNCellBase, RNNCell, LSTMCell, GRUCell  # noqa: F401
from .transformer import TransformerEncoderLayer, TransformerEncoder  # noqa: F401

"""Activation functions as modules (each calls the matching ``nn.functional`` function)."""
from __future__ import annotations

from ... import _creation as C
from .. import functional as F
from ..init import constant_
from ..parameter import Parameter
from .module import Module
from .activation_mha import MultiheadAttention  # torch's path: nn.modules.activation

__all__ = [
    "MultiheadAttention",
    "ReLU", "ReLU6", "SELU", "SiLU", "Mish", "Hardswish", "Hardsigmoid", "Hardtanh", "GELU",
    "Tanh", "Sigmoid", "LogSigmoid", "Softsign", "Tanhshrink", "Softmax", "LogSoftmax",
    "Softmin", "GLU", "LeakyReLU", "ELU", "CELU", "Softplus", "Threshold", "Softshrink",
    "Hardshrink", "PReLU", "RReLU", "Softmax2d",
]


def _ip(inplace: bool) -> str:
    return ", inplace=True" if inplace else ""


class _Inplace(Module):
    """Base of activations whose only option is ``inplace``."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU(_Inplace):
    """max(x, 0).

    >>> import cadenza as torch
    >>> torch.nn.ReLU()(torch.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """

    def forward(self, input):
        return F.relu(input, inplace=self.inplace)


class ReLU6(_Inplace):
    """min(max(x, 0), 6)."""

    def forward(self, input):
        return F.relu6(input, inplace=self.inplace)


class SELU(_Inplace):
    """Scaled ELU (Klambauer et al., 2017)."""

    def forward(self, input):
        return F.selu(input, inplace=self.inplace)


class SiLU(_Inplace):
    """x * sigmoid(x) (a.k.a. swish)."""

    def forward(self, input):
        return F.silu(input, inplace=self.inplace)


class Mish(_Inplace):
    """x * tanh(softplus(x)) (Misra, 2019)."""

    def forward(self, input):
        return F.mish(input, inplace=self.inplace)


class Hardswish(_Inplace):
    """x * relu6(x + 3) / 6 (Howard et al., 2019)."""

    def forward(self, input):
        return F.hardswish(input, inplace=self.inplace)


class Hardsigmoid(_Inplace):
    """relu6(x + 3) / 6."""

    def forward(self, input):
        return F.hardsigmoid(input, inplace=self.inplace)


class Hardtanh(Module):
    """clamp(x, min_val, max_val)."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}{_ip(self.inplace)}"


class GELU(Module):
    """x * Phi(x) (Hendrycks & Gimpel, 2016); ``approximate='tanh'`` for the tanh form.

    >>> import cadenza as torch
    >>> torch.nn.GELU(approximate='tanh')
    GELU(approximate='tanh')
    """

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class _Plain(Module):
    _fn = ""

    def forward(self, input):
        return getattr(F, self._fn)(input)


class Tanh(_Plain):
    """tanh(x)."""
    _fn = "tanh"


class Sigmoid(_Plain):
    """1 / (1 + exp(-x))."""
    _fn = "sigmoid"


class LogSigmoid(_Plain):
    """log(sigmoid(x)), computed stably."""
    _fn = "logsigmoid"


class Softsign(_Plain):
    """x / (1 + |x|)."""
    _fn = "softsign"


class Tanhshrink(_Plain):
    """x - tanh(x)."""
    _fn = "tanhshrink"


class _DimModule(Module):
    _fn = ""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return getattr(F, self._fn)(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_DimModule):
    """exp(x) / sum(exp(x)) along ``dim``.

    >>> import cadenza as torch
    >>> torch.nn.Softmax(dim=-1)(torch.zeros(2))
    tensor([0.5000, 0.5000])
    """
    _fn = "softmax"


class LogSoftmax(_DimModule):
    """log(softmax(x)) along ``dim``, computed stably."""
    _fn = "log_softmax"


class Softmin(_DimModule):
    """softmax(-x) along ``dim``."""
    _fn = "softmin"


class GLU(Module):
    """a * sigmoid(b), where a, b are the halves of the input along ``dim``."""

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x."""

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}{_ip(self.inplace)}"


class ELU(Module):
    """x if x > 0 else alpha * (exp(x) - 1) (Clevert et al., 2015)."""
    _fn = "elu"

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):
        return getattr(F, self._fn)(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}{_ip(self.inplace)}"


class CELU(ELU):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    _fn = "celu"


class Softplus(Module):
    """log(1 + exp(beta * x)) / beta, linear above ``threshold``."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Threshold(Module):
    """x if x > threshold else value."""

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input):
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}{_ip(self.inplace)}"


class Softshrink(Module):
    """x - lambd if x > lambd, x + lambd if x < -lambd, else 0."""
    _fn = "softshrink"

    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        return getattr(F, self._fn)(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Softmax2d(Module):
    """Softmax over the channels of (N, C, H, W) or (C, H, W) at each position.

    >>> import cadenza as torch
    >>> torch.nn.Softmax2d()(torch.zeros(1, 2, 1, 1)).flatten()
    tensor([0.5000, 0.5000])
    """

    def forward(self, input):
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.ndim}D "
                             f"instead")
        return F.softmax(input, -3)


class RReLU(Module):
    """Randomized leaky ReLU: negative slope ~ U(lower, upper) per element in training, the
    mean (lower + upper) / 2 in eval.

    >>> import cadenza as torch
    >>> torch.nn.RReLU(0.1, 0.3).eval()(torch.tensor([-1.0, 2.0]))
    tensor([-0.2000,  2.0000])
    """

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False):
        super().__init__()
        self.lower = lower
        self.upper = upper
        self.inplace = inplace

    def forward(self, input):
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}{_ip(self.inplace)}"


class Hardshrink(Softshrink):
    """x if |x| > lambd else 0."""
    _fn = "hardshrink"


class PReLU(Module):
    """x if x > 0 else a * x with a learnable ``a`` (one, or one per channel).

    >>> import cadenza as torch
    >>> torch.nn.PReLU(3).weight.shape
    cadenza.Size([3])
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(C.full((num_parameters,), init, device=device, dtype=dtype))

    def reset_parameters(self) -> None:
        constant_(self.weight, self.init)

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"

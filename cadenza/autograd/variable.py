"""``torch.autograd.variable``: the legacy ``Variable``, since PyTorch 0.4 the tensor itself."""
from . import Variable

__all__ = ["Variable"]

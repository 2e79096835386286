"""``torch.nn.modules.linear_cross_entropy_options``: the options of LinearCrossEntropyLoss
(defined with the function in ``cadenza/functional/linear_ce.py``)."""
from ...functional.linear_ce import LinearCrossEntropyOptions

__all__ = ["LinearCrossEntropyOptions"]

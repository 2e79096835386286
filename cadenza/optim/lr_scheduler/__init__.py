"""Learning-rate schedulers (``torch.optim.lr_scheduler``).

Each scheduler computes the next learning rate the way PyTorch does: the chainable
(recursive) form from the optimizer's current ``lr`` on ``step()``, and the closed form when
``step(epoch)`` is given, so a run reproduces torch's sequence to rounding. ``base`` holds
``LRScheduler`` and the shared helpers; ``simple`` the epoch-function schedulers, ``composite``
the ones over other schedulers or a metric, ``cyclic`` the cycling ones.

>>> import cadenza as torch
>>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
>>> sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
>>> lrs = []
>>> for _ in range(4):
...     opt.step(); sched.step(); lrs.append(sched.get_last_lr()[0])
>>> lrs
[1.0, 0.5, 0.5, 0.25]
"""
from .base import EPOCH_DEPRECATION_WARNING, LRScheduler, _LRScheduler  # noqa: F401
from .simple import (ConstantLR, CosineAnnealingLR, ExponentialLR, LambdaLR,  # noqa: F401
                     LinearLR, MultiplicativeLR, MultiStepLR, PolynomialLR, StepLR)
from .composite import ChainedScheduler, ReduceLROnPlateau, SequentialLR  # noqa: F401
from .cyclic import CosineAnnealingWarmRestarts, CyclicLR, OneCycleLR  # noqa: F401

__all__ = ["LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR",
           "LinearLR", "ExponentialLR", "SequentialLR", "CosineAnnealingLR", "ChainedScheduler",
           "ReduceLROnPlateau", "CyclicLR", "CosineAnnealingWarmRestarts", "OneCycleLR",
           "PolynomialLR"]

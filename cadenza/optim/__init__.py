"""Optimizers and learning-rate schedulers with PyTorch's API (``torch.optim``).

>>> import cadenza as torch
>>> w = torch.zeros(2, requires_grad=True)
>>> opt = torch.optim.AdamW([w], lr=1e-3)
>>> sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)
"""
from . import lr_scheduler  # noqa: F401
from .optimizer import Optimizer  # noqa: F401
from .sgd import SGD  # noqa: F401
from .adam import Adam, AdamW  # noqa: F401
from .rmsprop import RMSprop  # noqa: F401
from .adagrad import Adagrad  # noqa: F401
from .nadam import NAdam, RAdam  # noqa: F401
from .adadelta import Adadelta, Adamax  # noqa: F401
from .asgd import ASGD, Rprop  # noqa: F401
from .lbfgs import LBFGS  # noqa: F401
from .adafactor import Adafactor  # noqa: F401
from .sparse_adam import SparseAdam  # noqa: F401
from .muon import Muon  # noqa: F401
from . import swa_utils  # noqa: F401

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "NAdam", "RAdam",
           "Adadelta", "Adamax", "ASGD", "Rprop", "LBFGS", "Adafactor", "SparseAdam", "Muon",
           "lr_scheduler", "swa_utils"]

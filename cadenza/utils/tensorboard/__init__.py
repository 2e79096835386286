"""``torch.utils.tensorboard``: ``SummaryWriter`` writes TensorBoard event files with the
``tensorboard`` package's own writer (``pip install cadenza[tensorboard]``).

>>> from cadenza.utils.tensorboard import SummaryWriter  # doctest: +SKIP
>>> with SummaryWriter("runs/exp1") as w:                  # doctest: +SKIP
...     w.add_scalar("loss", 0.5, global_step=1)
"""
from .writer import FileWriter, SummaryWriter

__all__ = ["SummaryWriter", "FileWriter"]

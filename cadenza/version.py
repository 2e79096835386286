"""``torch.version``: what this build is (a CPU build; CUDA goes through CuPy, not a linked
toolkit, so ``cuda`` is None as in PyTorch's CPU wheels)."""
from ._version import __version__

__all__ = ["__version__", "cuda", "hip", "debug", "git_version"]

cuda = None
hip = None
debug = False
git_version = "unknown"

"""cadenza.backends: the flags programs probe at start-up, answered for a CPU-only NumPy build.
Submodules exist too, so ``import cadenza.backends.cudnn`` works as in PyTorch."""
from ._flags import cudnn, mps, mkldnn, openmp, cpu, cuda, opt_einsum

__all__ = ["cudnn", "mps", "mkldnn", "openmp", "cpu", "cuda", "opt_einsum"]

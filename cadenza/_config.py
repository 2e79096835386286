"""The one place that reads environment variables."""
import os


def debug_level() -> int:
    """CADENZA_DEBUG=1..4: recompile reasons, graphs after passes, kernel source, ..."""
    try:
        return int(os.environ.get("CADENZA_DEBUG", "0") or 0)
    except ValueError:
        return 0


def cache_dir() -> str:
    base = os.environ.get("CADENZA_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "cadenza")
    return base


def torch_home() -> str:
    """torch.hub's home: $TORCH_HOME, else $XDG_CACHE_HOME/torch (~/.cache/torch), the
    directory PyTorch uses, so checkpoints it fetched are found."""
    return os.path.expanduser(os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "torch"))


def under_mpi_launcher() -> bool:
    """True in a process started by an MPI launcher (MPICH/hydra, Open MPI, PMIx, Slurm)."""
    return any(v in os.environ for v in ("PMI_RANK", "PMI_SIZE", "PMIX_RANK",
                                         "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS"))


def malloc_tune() -> bool:
    """CADENZA_MALLOC_TUNE=0 leaves glibc's malloc settings alone (see backend/cpu.py)."""
    return os.environ.get("CADENZA_MALLOC_TUNE", "1") != "0"


def blas_choice() -> str:
    """CADENZA_BLAS: ``numpy`` (the default) runs float32 products on NumPy's own BLAS;
    ``mkl`` on oneMKL when the optional ``mkl`` wheel is installed (backend/blas.py)."""
    return (os.environ.get("CADENZA_BLAS") or "numpy").strip().lower()


def c_programs() -> bool:
    """CADENZA_PROGRAMS=0: compiled graphs call each kernel from Python, without the
    per-graph C programs that run consecutive kernel calls in one call (codegen/program.py)."""
    return os.environ.get("CADENZA_PROGRAMS", "1") != "0"

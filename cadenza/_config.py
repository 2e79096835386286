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

"""The package version, in a module of its own so that cadenza.__main__ reads it without
importing the top-level package (no module imports its own package)."""
__all__ = ["__version__"]
__version__ = "0.1.0"

"""Run an unmodified PyTorch script on Cadenza:

    python -m cadenza.compat script.py args...

Every ``import torch`` / ``import torch.x.y`` (and ``from torch... import``) resolves to the
Cadenza module of the same path (``cadenza.x.y``), and ``torchvision[.x]`` to
``cadenza.vision[.x]``. A PyTorch name Cadenza lacks fails with an error that names it.

    python -m cadenza.compat --coverage [--missing] [namespace ...]

prints how many of PyTorch's public names Cadenza has, per namespace (see
``cadenza.compat_coverage``; needs PyTorch installed as the reference)."""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import runpy
import sys

from . import compat_coverage, dtypes, version

__all__ = ["install", "main", "ALIASES"]


# the PyTorch release whose API Cadenza follows (its tests' oracle): under compat,
# ``torch.__version__`` reports it (``2.13.0+cadenza.0.1.0``), so that scripts gating a feature
# on the version (``if torch.__version__ >= "2.0": model = torch.compile(model)``) take the
# path Cadenza implements
TORCH_API_VERSION = "2.13.0"

# PyTorch package -> the Cadenza package with its API
ALIASES = {"torch": "cadenza", "torchvision": "cadenza.vision"}


def _target(fullname):
    """The Cadenza module name for a PyTorch module name, or None when it is not aliased."""
    for prefix, target in ALIASES.items():
        if fullname == prefix or fullname.startswith(prefix + "."):
            return target + fullname[len(prefix):]
    return None


class _TorchAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Maps the module ``torch[.sub]`` to ``cadenza[.sub]`` (and ``torchvision[.sub]`` to
    ``cadenza.vision[.sub]``)."""

    def find_spec(self, fullname, path=None, target=None):
        target_name = _target(fullname)
        if target_name is None:
            return None
        try:
            found = importlib.util.find_spec(target_name)
        except ModuleNotFoundError:
            found = None
        if found is None:
            parent, _, child = target_name.rpartition(".")
            mod = sys.modules.get(parent) or importlib.import_module(parent)
            if not hasattr(mod, child):
                raise ModuleNotFoundError(
                    f"cadenza.compat: PyTorch module '{fullname}' is not supported by Cadenza "
                    f"(no '{target_name}')", name=fullname)
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        target_name = _target(spec.name)
        try:
            return importlib.import_module(target_name)
        except ModuleNotFoundError:
            parent, _, child = target_name.rpartition(".")
            return getattr(importlib.import_module(parent), child)

    def exec_module(self, module):
        pass


def install() -> None:
    """Resolve ``torch`` imports to Cadenza for the rest of this process; dtypes, sizes and
    layouts print as PyTorch prints them (``torch.float32``), and ``torch.compile`` has
    PyTorch's default ``fullgraph=False`` (what it cannot capture runs eagerly)."""
    import cadenza  # the applications layer's facade (compat sits beside it)
    dtypes.set_repr_name("torch")
    if not cadenza.__version__.startswith(TORCH_API_VERSION):
        cadenza.__version__ = version.__version__ = version.TorchVersion(
            f"{TORCH_API_VERSION}+cadenza.{cadenza.__version__}")
    cadenza._compile_defaults["fullgraph"] = False
    if not any(isinstance(f, _TorchAlias) for f in sys.meta_path):
        sys.meta_path.insert(0, _TorchAlias())


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m cadenza.compat script.py [args...]\n"
              "       python -m cadenza.compat --coverage [--missing] [namespace ...]")
        return 0 if argv else 2
    if argv[0] == "--coverage":
        return compat_coverage.main(argv[1:])
    install()
    script = argv[0]
    sys.argv = argv
    try:
        runpy.run_path(script, run_name="__main__")
    except AttributeError as e:
        if "cadenza" in str(e):
            print(f"cadenza.compat: {e}", file=sys.stderr)
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())

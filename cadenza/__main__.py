"""``python -m cadenza`` / the ``cadenza`` command: --version, or a subcommand of cadenza.cli
(train, generate, chat, eval, ...)."""
from __future__ import annotations

import sys

from ._version import __version__

__all__ = ["main"]


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["--version"], ["-V"], ["version"]):
        print(f"cadenza {__version__}")
        return 0
    from .cli import main as cli_main  # loads the trainer (models, nn, optim): not for --version
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())

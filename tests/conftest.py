"""Session set-up shared by every test directory."""
import compileall
import pathlib


def pytest_configure(config):
    # The suite starts hundreds of Python subprocesses (corpus programs, CLI, serving,
    # distributed ranks, examples). Where PYTHONDONTWRITEBYTECODE is set, as on our machines,
    # nothing ever writes cadenza's .pyc files, and each subprocess compiles the package anew
    # (~0.5 s CPU apiece). compileall writes only missing or stale files, regardless of that
    # variable; a read-only checkout just keeps compiling in memory.
    package = pathlib.Path(__file__).resolve().parents[1] / "cadenza"
    try:
        compileall.compile_dir(str(package), quiet=2, workers=1)
    except OSError:
        pass

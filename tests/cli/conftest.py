"""Shared by the command-line tests: a tiny corpus (three stdlib modules and a text file)."""
import os
import sysconfig

import pytest


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    stdlib = sysconfig.get_paths()["stdlib"]
    for name in ("textwrap.py", "bisect.py", "keyword.py"):
        with open(os.path.join(stdlib, name), "rb") as f:
            (d / name).write_bytes(f.read())
    (d / "notes.txt").write_text("not python\n" * 50)
    return d

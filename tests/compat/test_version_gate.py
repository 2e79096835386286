"""Under cadenza.compat, ``torch.__version__`` reports the PyTorch API level Cadenza follows,
as a TorchVersion comparing by release numbers with strings and tuples like torch's (scripts
gate features on it: ``if torch.__version__ >= "2.0": torch.compile(...)``)."""
import os
import subprocess
import sys

import pytest

from cadenza.version import TorchVersion

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

OTHERS = ["2.0", "2.13", "2.13.0", "2.13.1", "2.4", "1.10.2", "10.0", (2, 1), (2, 13, 0),
          (3,), "2.14.0a0", "2.12.1+cu121"]


def test_torchversion_compares_like_torch():
    pytest.importorskip("torch")   # compare against the real torch only where it is installed
    from torch.torch_version import TorchVersion as TV
    for mine in ["2.13.0+cadenza.0.1.0", "1.9.0", "2.4.1"]:
        theirs = TV(mine)
        for o in OTHERS:
            for op in ("__lt__", "__le__", "__gt__", "__ge__"):
                assert getattr(TorchVersion(mine), op)(o) == getattr(theirs, op)(o), (mine, op, o)
    assert TorchVersion("2.13.0") == "2.13.0" and TorchVersion("2.13.0") == (2, 13, 0)
    assert isinstance(TorchVersion("2.1"), str) and len({TorchVersion("2.1"), "2.1"}) == 1


def test_compat_reports_torch_api_version(tmp_path):
    script = tmp_path / "v.py"
    script.write_text("import torch\n"
                      "ok = torch.__version__ >= '2.0' and torch.__version__ >= (1, 10)\n"
                      "major = int(torch.__version__.split('.')[0])\n"
                      "print(ok, major, torch.version.__version__ == torch.__version__)\n")
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, "-m", "cadenza.compat", str(script)], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "2", "True"]

"""A script run through ``python -m cadenza.compat`` prints what it prints under PyTorch:
sizes, dtypes, layouts and tensors with a dtype suffix read ``torch.…`` (programs print shapes
and compare ``str(dtype)``); plain ``import cadenza`` keeps its own name."""
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = """
import torch
x = torch.arange(6.).view(2, 3)
print(x.shape, x.size(), x.dtype, torch.float16, torch.long, torch.Size([2]), torch.strided)
print(torch.tensor([1.5], dtype=torch.float64), torch.tensor([1], dtype=torch.int32))
print(str(torch.bfloat16), repr(x.shape[1:]), x.to(torch.bfloat16).dtype)
print(str(x.dtype).replace("torch.", ""), str(x.shape) == "torch.Size([2, 3])")
"""


def _run(tmp_path, *runner):
    path = tmp_path / "prog.py"
    path.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, *runner, str(path)], capture_output=True, text=True,
                       env=env, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def test_compat_prints_torch_names(tmp_path):
    assert _run(tmp_path, "-m", "cadenza.compat") == _run(tmp_path)


def test_plain_import_keeps_cadenza_names():
    import cadenza
    assert repr(cadenza.ones(2, 3).shape) == "cadenza.Size([2, 3])"
    assert str(cadenza.float32) == "cadenza.float32"

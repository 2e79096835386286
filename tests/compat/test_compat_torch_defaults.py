"""A script run through ``python -m cadenza.compat`` gets PyTorch's defaults: it prints what
it prints under PyTorch (sizes, dtypes, layouts and tensors with a dtype suffix read
``torch.…``: programs print shapes and compare ``str(dtype)``), and ``torch.compile`` has
``fullgraph=False`` (a function it cannot capture runs, as after a graph break). Plain
``import cadenza`` keeps its own name and its strict compile default."""
import contextlib
import io
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


COMPILE_SCRIPT = """
import warnings
import torch
warnings.simplefilter("ignore")

def with_break(x):
    y = torch.sin(x) ** 2
    if y.sum().item() > 0:     # needs a value: torch breaks the graph here
        y = y + torch.cos(x) ** 2
    return y

f = torch.compile(with_break)
print(torch.allclose(f(torch.randn(5)), torch.ones(5)), f(torch.zeros(3)).tolist())
"""


def _run(tmp_path, *runner, script=SCRIPT):
    path = tmp_path / "prog.py"
    path.write_text(script)
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, *runner, str(path)], capture_output=True, text=True,
                       env=env, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def test_compat_prints_torch_names(tmp_path):
    assert sys.modules["torch"] is torch    # the real PyTorch, imported in this process
    out = io.StringIO()
    with contextlib.redirect_stdout(out):   # PyTorch's own output, without a second process
        exec(SCRIPT, {"__name__": "__main__"})
    assert _run(tmp_path, "-m", "cadenza.compat") == out.getvalue()


def test_plain_import_keeps_cadenza_names():
    import cadenza
    assert repr(cadenza.ones(2, 3).shape) == "cadenza.Size([2, 3])"
    assert str(cadenza.float32) == "cadenza.float32"


def test_compat_compile_runs_what_it_cannot_capture(tmp_path):
    # the line PyTorch 2.13 prints for this script (recorded: running torch.compile here took
    # 10 s of the suite's time)
    out = _run(tmp_path, "-m", "cadenza.compat", script=COMPILE_SCRIPT)
    assert out == "True [0.0, 0.0, 0.0]\n"


def test_plain_compile_keeps_fullgraph_default():
    import cadenza
    from cadenza.errors import TraceError

    def f(x):
        return x * 2 if x.sum().item() > 0 else x
    with pytest.raises(TraceError, match="item"):
        cadenza.compile(f)(cadenza.ones(2))

"""Real PyTorch programs, unmodified, run through `python -m cadenza.compat`."""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


@pytest.mark.parametrize("script", ["quickstart.py", "char_lstm.py", "mini_gpt.py"])
def test_program_runs_unmodified(script, tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, "-m", "cadenza.compat", os.path.join(HERE, script)],
                       cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr

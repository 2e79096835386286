"""A real PyTorch program with rotary embeddings and an FFT loss runs unmodified through
``python -m cadenza.compat`` and trains (its losses fall), as under PyTorch."""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def test_rotary_spectral_program_runs_unmodified(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, "-m", "cadenza.compat",
                        os.path.join(HERE, "rotary_spectral.py")],
                       cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    losses = [float(x) for x in re.findall(r"loss (\d+\.\d+)", r.stdout)]
    assert len(losses) == 5 and losses[-1] < losses[0], r.stdout
    assert "tensor([-0.5000, -0.3333, -0.1667,  0.0000,  0.1667,  0.3333])" in r.stdout
    assert "[0.5403+0.8415j, 0.9950+0.0998j]" in r.stdout

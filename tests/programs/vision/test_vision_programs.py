"""Programs written as PyTorch tutorials write them (``import torchvision``), run unmodified
under ``python -m cadenza.compat`` on generated data; each reaches the outcome it reaches under
PyTorch + torchvision (reference.json, made by record_reference.py) within the tolerance
stated there."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

import program_queue   # ../program_queue.py (../conftest.py puts that folder on sys.path)

pytest.importorskip("PIL")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
with open(os.path.join(HERE, "reference.json")) as f:
    REFERENCE = json.load(f)


def queue_key(program):
    return "vision/" + program


def run(program):
    """The program under cadenza.compat in a fresh temporary directory (one BLAS thread: the
    programs run two at a time, as the corpus's)."""
    cwd = tempfile.mkdtemp(prefix="cadenza-vision-program-")
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    try:
        return subprocess.run([sys.executable, "-m", "cadenza.compat",
                               os.path.join(HERE, program + ".py")],
                              cwd=cwd, capture_output=True, text=True, env=env, timeout=900)
    finally:
        shutil.rmtree(cwd, ignore_errors=True)


@pytest.mark.parametrize("program", sorted(REFERENCE))
def test_program_reaches_the_torchvision_outcome(program):
    # queued when collection ended (../conftest.py), run in the background ahead of this test
    r = program_queue.result(queue_key(program), lambda: run(program))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("OUTCOME ")]
    assert lines, r.stdout[-3000:]
    got = json.loads(lines[-1][len("OUTCOME "):])
    ref = REFERENCE[program]
    for key, expected in ref["outcome"].items():
        if isinstance(expected, bool):
            assert got[key] == expected, key
        else:
            tol = ref["tolerance"][key]
            assert abs(got[key] - expected) <= tol, (
                f"{program}: {key} = {got[key]:.4f}, torch + torchvision reached "
                f"{expected:.4f} (tolerance {tol})")

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
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("PIL")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
with open(os.path.join(HERE, "reference.json")) as f:
    REFERENCE = json.load(f)

# Each program is its own process and pytest only waits for it, so the selected programs run
# two at a time (the suite's machines have 2 cores; one BLAS thread each), as the corpus in
# ../test_programs.py does; each keeps its own test and report.
_PARALLEL = 2


def _run(program):
    cwd = tempfile.mkdtemp(prefix="cadenza-vision-program-")
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    try:
        return subprocess.run([sys.executable, "-m", "cadenza.compat",
                               os.path.join(HERE, program + ".py")],
                              cwd=cwd, capture_output=True, text=True, env=env, timeout=900)
    finally:
        shutil.rmtree(cwd, ignore_errors=True)


@pytest.fixture(scope="module")
def runs(request):
    """{program: future of its run}: every selected program of this module, started ahead."""
    selected = [item.callspec.params["program"] for item in request.session.items
                if getattr(item, "module", None) is request.module and
                hasattr(item, "callspec")]
    pool = ThreadPoolExecutor(max_workers=_PARALLEL)
    yield {p: pool.submit(_run, p) for p in selected}
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("program", sorted(REFERENCE))
def test_program_reaches_the_torchvision_outcome(program, runs):
    r = runs[program].result()
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

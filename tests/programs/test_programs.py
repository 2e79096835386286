"""Real PyTorch programs, unmodified, run through `python -m cadenza.compat`; each outcome is
checked against the same program under PyTorch (expected.json, re-recorded by record.py)."""
import json
import shutil
import tempfile

import pytest

import program_queue
from program_specs import (CASES, EXPECTED, XFAIL, first_error_line, missing_requirements,
                           run)

with open(EXPECTED) as f:
    _EXPECTED = json.load(f)


def run_in_tmp(case):
    """The case's run under Cadenza in a fresh temporary directory."""
    cwd = tempfile.mkdtemp(prefix="cadenza-program-")
    try:
        return run(case, torch_mode=False, cwd=cwd)
    finally:
        shutil.rmtree(cwd, ignore_errors=True)


def _result(case):
    # queued when collection ended (conftest.py), run in the background ahead of this test
    return program_queue.result(case.id, lambda: run_in_tmp(case))


def _param(case):
    marks = [pytest.mark.programs]
    if case.id in XFAIL:
        marks.append(pytest.mark.xfail(strict=True, reason=XFAIL[case.id]))
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_program_runs_unmodified(case):
    missing = missing_requirements(case)
    if missing:
        pytest.skip(f"{case.script} imports {missing}, not installed")
    r, dt, value = _result(case)
    assert r.returncode == 0, f"{first_error_line(r)}\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
    assert value is not None, f"no '{case.metric}' line in output:\n{r.stdout[-2000:]}"
    expected = _EXPECTED[case.id]["torch"]
    assert case.check(value, expected), (
        f"{case.id}: {case.metric} {value} under Cadenza vs {expected} under PyTorch "
        f"(needs {case.tolerance()})")


def test_fixture_matches_corpus():
    """Every case has a recorded PyTorch value; every xfail entry names a real case."""
    ids = {c.id for c in CASES}
    assert len(ids) == len(CASES)
    assert ids <= set(_EXPECTED), f"not recorded: {sorted(ids - set(_EXPECTED))} (run record.py)"
    assert set(XFAIL) <= ids, sorted(set(XFAIL) - ids)

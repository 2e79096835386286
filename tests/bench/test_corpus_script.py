"""bench/corpus.py (the compat corpus against PyTorch) runs end to end on one small program:
the table carries the import-subtracted run columns, the import-only times are printed, and
--why profiles the program and names its top functions."""
import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("torch")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_corpus_one_program_with_run_ratio_and_why():
    p = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "corpus.py"), "--only",
                        "logistic_regression", "--why", "1"], capture_output=True, text=True,
                       timeout=900, cwd=ROOT)
    assert p.returncode == 0, p.stderr[-3000:]
    out = p.stdout
    assert re.search(r"^imports \(start-up included\), s, median over runs: torch \d+\.\d+, "
                     r"cadenza \d+\.\d+$", out, re.M), out
    header = next(ln for ln in out.splitlines() if ln.startswith("| program |"))
    assert header.endswith("| torch run s | cadenza run s | ratio torch/cadenza "
                           "| run ratio torch/cadenza |")
    row = next(ln for ln in out.splitlines() if ln.startswith("| logistic_regression |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert len(cells) == 7 and cells[-1].endswith("x"), row
    torch_s, cad_s, rt, rc = (float(cells[i]) for i in (1, 2, 3, 4))
    assert rt < torch_s and rc < cad_s      # the run is timed after the imports
    assert "run (after the imports): median ratio torch/cadenza" in out
    why = out.split("top functions by own time:")[1]
    assert re.search(r"logistic_regression: \d+\.\d s under cProfile; own time: imports \d+%; "
                     r"\S", why), why

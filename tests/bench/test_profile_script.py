"""bench/step_profile.py (issue 12's per-workload profile) runs end to end: its --quick run on
W3 (eager and compiled) and W5 prints one table per workload and mode whose categories are all
there and whose shares add up to 100%, for Cadenza and for PyTorch's column."""
import json
import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("torch")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "bench", "step_profile.py")
CATEGORIES = ("GEMM (BLAS)", "C kernels", "NumPy compute", "memory (copy/alloc)", "optimizer",
              "Python overhead")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("profile") / "profile.json"
    p = subprocess.run([sys.executable, SCRIPT, "--quick", "--only", "w3,w5", "--json",
                        str(out)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stdout, json.loads(out.read_text())


def tables(stdout):
    """{title line: {category: (cadenza %, pytorch % or None)}} of the printed tables."""
    out, title = {}, None
    for line in stdout.splitlines():
        if line.startswith("== "):
            title = line
            out[title] = {}
            continue
        for c in CATEGORIES:
            if title and line.startswith("  " + c + " "):
                nums = re.findall(r"[-+]?\d+\.\d+|(?<= )-(?= )", line[len(c) + 2:])
                theirs = nums[3] if len(nums) > 3 else None
                out[title][c] = (float(nums[1]), None if theirs in (None, "-") else
                                 float(theirs))
    return out


def test_tables_have_every_category_and_shares_sum_to_100(run):
    stdout, _ = run
    assert stdout.startswith("CPU: ")
    t = tables(stdout)
    titles = list(t)
    assert [s.split(":")[0] for s in titles] == ["== W3 mlp-train, eager",
                                                  "== W3 mlp-train, compiled",
                                                  "== W5 op-overhead (per op), eager"]
    for title, rows in t.items():
        assert set(rows) == set(CATEGORIES), title
        assert sum(ours for ours, _ in rows.values()) == pytest.approx(100, abs=0.5), title
        assert sum(th for _, th in rows.values() if th is not None) == \
            pytest.approx(100, abs=0.5), title
    # the products of an MLP's training step are GEMMs, W5's tiny ops have none
    w3 = t[titles[0]]
    assert w3["GEMM (BLAS)"][0] > 0 and w3["optimizer"][0] > 0
    assert t[titles[2]]["GEMM (BLAS)"][0] == 0
    assert "top ops/kernels, cadenza" in stdout and "FLOP-bound:" in stdout


def test_json_has_the_same_numbers(run):
    _, data = run
    assert set(data["results"]) == {"w3-eager", "w3-compiled", "w5-eager"}
    for key, r in data["results"].items():
        for lib in ("cadenza", "pytorch"):
            shares = r[lib]["shares"]
            assert set(shares) == set(CATEGORIES)
            assert sum(shares.values()) == pytest.approx(1.0, abs=1e-6), (key, lib)
            assert sum(r[lib]["cats"].values()) == pytest.approx(r[lib]["total"], rel=1e-6)
        assert len(r["cadenza"]["top"]) > 0
    assert data["results"]["w5-eager"]["cadenza"]["per"] == 2000

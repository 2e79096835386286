"""``python -m cadenza.compat --coverage``: the table of PyTorch names Cadenza has per
namespace, the missing-name lists, the exclusions it states, and its answer without PyTorch."""
import os
import subprocess
import sys

import pytest

from cadenza import compat
from cadenza import compat_coverage as cov

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(*args):
    """The command line itself, in a fresh process (kept to one test: the rest call main)."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "cadenza.compat", *args], capture_output=True,
                          text=True, env=env, timeout=300, cwd=ROOT)


def _main(capsys, *args):
    """``python -m cadenza.compat *args`` in this process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    rc = compat.main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def test_table_runs_and_numbers_are_sane(capsys):
    pytest.importorskip("torch")
    rc, stdout, err = _main(capsys, "--coverage")
    assert rc == 0, err
    lines = stdout.splitlines()
    assert lines[0].split() == ["namespace", "have", "total", "percent"]
    rows = {}
    for line in lines[1:]:
        if not line.strip():
            break
        label, have, total, pct = line.split()
        rows[label] = (int(have), int(total), float(pct.rstrip("%")))
    assert set(rows) == {label for label, _, _ in cov.NAMESPACES} | {"all"}
    for label, (have, total, pct) in rows.items():
        assert 0 <= have <= total and total > 0, label
        assert abs(pct - 100.0 * have / total) < 0.06, label
    assert sum(r[0] for k, r in rows.items() if k != "all") == rows["all"][0]
    # Cadenza's well-covered parts measure as such; PyTorch's big ones are counted in full
    assert rows["Tensor"][1] > 500 and rows["torch"][1] > 700 and rows["nn"][1] > 150
    assert rows["nn"][0] >= 80 and rows["Tensor"][0] >= 250 and rows["nn.functional"][0] >= 80
    for why in cov.EXCLUDED:  # the footer states every exclusion
        assert f"  {why}: {cov.EXCLUDED[why]}" in stdout


def test_missing_lists_names_cadenza_lacks(capsys):
    torch = pytest.importorskip("torch")
    import cadenza
    rc, stdout, err = _main(capsys, "--coverage", "--missing", "Tensor", "optim")
    assert rc == 0, err
    assert "missing in Tensor" in stdout
    listed = stdout.split("missing in Tensor")[1].splitlines()[1].strip().split(", ")
    for name in listed:
        assert hasattr(torch.Tensor, name) and not hasattr(cadenza.Tensor, name), name
    assert "\nlinalg" not in stdout  # only the namespaces asked for


def test_counts_match_hasattr():
    torch = pytest.importorskip("torch")
    import cadenza
    (label, have, total, missing, skipped), = cov.coverage(["nn"])
    names, _ = cov.public_names(torch.nn)
    assert total == len(names) and have == sum(hasattr(cadenza.nn, n) for n in names)
    assert "Linear" in names and "Linear" not in missing and "functional" not in names


@pytest.mark.parametrize("name, reason", [
    ("_C", "private"), ("quantize_per_tensor", "quantized"), ("q_scale", "quantized"),
    ("cudnn_convolution", "other devices"), ("is_mps", "other devices"),
    ("names", "named tensors"), ("FloatStorage", "legacy storage"), ("has_mkl", "not torch"),
    ("handle_torch_function", "not torch"),
])
def test_exclusion_reasons(name, reason):
    def torch_fn():
        pass
    torch_fn.__module__ = "torch"
    assert cov.excluded_reason(name, torch_fn) == reason
    assert cov.excluded_reason("add", torch_fn) is None
    assert cov.excluded_reason("Optional", __import__("typing").Optional) == "not torch"
    assert cov.excluded_reason("pi", 3.14159) is None  # torch's constants count


def test_without_torch_one_line_and_exit_2(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)     # `import torch` raises ImportError
    rc, stdout, err = _main(capsys, "--coverage")
    assert rc == 2
    assert stdout == "" and len(err.strip().splitlines()) == 1
    assert "needs PyTorch" in err


def test_bad_arguments(capsys):
    r = _run("--coverage", "--bogus")
    assert r.returncode == 2 and "unknown option" in r.stderr
    rc, _, err = _main(capsys, "--coverage", "nosuchspace")
    assert rc == 2 and "unknown namespace" in err

"""The scripts in examples/ run as documented (short settings)."""
import importlib.util
import os

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "examples",
                                                                     f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_compiled_training_example(tmp_path, capsys):
    pytest.importorskip("onnx")
    path = str(tmp_path / "spiral.onnx")
    loss_e, loss_c, acc = _load("compiled_training").main(["--steps", "60", "--onnx", path])
    np.testing.assert_allclose(loss_c, loss_e, rtol=1e-4)
    out = capsys.readouterr().out
    assert "memory plan:" in out and "fused_" in out and os.path.getsize(path) > 0

"""ONNX export: round trips through onnxruntime and the unsupported-ops report."""
import numpy as np
import pytest

import cadenza as cz
import cadenza.nn as nn
import cadenza.nn.functional as F
import cadenza.onnx as cox

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _roundtrip(model, xs, path, **kw):
    proto = cox.export(model, xs, str(path), **kw)
    onnx.checker.check_model(onnx.load(str(path)))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    got = sess.run(None, {n: x.numpy() for n, x in zip(names, xs)})
    with cz.no_grad():
        ref = model(*xs)
    ref = ref if isinstance(ref, (tuple, list)) else (ref,)
    assert len(got) == len(ref)
    for g, r in zip(got, ref):
        assert g.shape == tuple(r.shape)
        np.testing.assert_allclose(g, r.numpy(), rtol=1e-5, atol=1e-5)
    return proto


def test_mlp_round_trip(tmp_path):
    cz.manual_seed(0)
    m = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32), nn.GELU(),
                      nn.Linear(32, 10))
    m.eval()
    proto = _roundtrip(m, (cz.randn(8, 16),), tmp_path / "mlp.onnx",
                       input_names=["x"], output_names=["logits"])
    inits = {i.name for i in proto.graph.initializer}
    assert {"0.weight", "0.bias", "4.weight"} <= inits
    assert [i.name for i in proto.graph.input] == ["x"]
    assert [o.name for o in proto.graph.output] == ["logits"]
    assert "Gemm" in {n.op_type for n in proto.graph.node}


def test_small_cnn_round_trip(tmp_path):
    cz.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(8, 4, 3, stride=2, padding=1), nn.Tanh(), nn.Flatten(),
                      nn.Linear(4 * 4 * 4, 5))
    m.eval()
    _roundtrip(m, (cz.randn(2, 3, 16, 16),), tmp_path / "cnn.onnx")


def test_function_op_coverage_round_trip(tmp_path):
    def f(x, y):
        a = F.softmax(x, -1) + F.log_softmax(x, 1) + F.gelu(x)
        b = x.sum(-1, keepdim=True) + x.amax(1, keepdim=True) + x.sum()
        c = cz.cat([x[:, :2], x[:, 2:]], 1).tanh().sigmoid().exp().log()
        d = x.abs().sqrt() - (-x) / (y.permute(1, 0).reshape(2, 4) + 3.0)
        return a + b + c * d + x[0] + x[..., 1:2], (x @ y).relu()
    _roundtrip(f, (cz.randn(2, 4), cz.randn(4, 2)), tmp_path / "f.onnx")


def test_unsupported_ops_listed_together(tmp_path):
    def bad(x):
        a = x.cumprod(0)
        b = x.flip(0)
        return a + b + x.relu()
    with pytest.raises(cox.UnsupportedOpsError) as ei:
        cox.export(bad, (cz.randn(3, 4),), str(tmp_path / "bad.onnx"))
    msg = str(ei.value)
    assert "2 op(s)" in msg and "cumprod" in msg and "flip" in msg
    assert "test_export.py:" in msg
    assert [n for n, _ in ei.value.ops] == ["cumprod", "flip"]
    assert not (tmp_path / "bad.onnx").exists()


def test_every_one_to_one_lowering_names_an_onnx_op():
    """Primitives lowered one to one name their ONNX op (``Op.onnx``): each must exist in
    opset 17 (export's default), so a misspelt name fails here rather than in an export."""
    simple = {n: op.onnx for n, op in cz.ops.REGISTRY.items() if isinstance(op.onnx, str)}
    assert simple, "no one-to-one lowering found"
    missing = {n: o for n, o in simple.items() if not onnx.defs.has(o)}
    assert not missing
    for n, o in simple.items():
        assert onnx.defs.get_schema(o, 17).since_version <= 17, n

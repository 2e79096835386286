"""Package surface: version, start-up probes, placeholders, the compat runner."""
import os
import subprocess
import sys
import textwrap

import pytest

import cadenza

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(args, **kw):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          timeout=120, **kw)


def test_version_flag():
    r = _run(["-m", "cadenza", "--version"])
    assert r.returncode == 0
    assert r.stdout.strip() == f"cadenza {cadenza.__version__}"


def test_probes_answer_for_cpu_only_machine():
    assert cadenza.cuda.is_available() is False
    assert cadenza.cuda.device_count() == 0
    assert cadenza.accelerator.is_available() is False
    assert cadenza.accelerator.current_accelerator() is None
    assert cadenza.backends.mps.is_available() is False
    assert cadenza.backends.cudnn.is_available() is False
    import cadenza.backends.cudnn as cudnn
    cudnn.benchmark = True
    assert cadenza.backends.cudnn.benchmark is True
    cudnn.benchmark = False


def test_cuda_calls_fail_clearly():
    with pytest.raises(cadenza.DeviceError, match="no CUDA device"):
        cadenza.cuda.current_device()
    cadenza.cuda.manual_seed(0)  # a no-op without CUDA, as in PyTorch
    cadenza.cuda.synchronize()


def test_device_objects():
    d = cadenza.device("cuda:1")
    assert (d.type, d.index) == ("cuda", 1)
    assert str(d) == "cuda:1"
    assert cadenza.device("cpu") == "cpu"
    with pytest.raises(RuntimeError):
        cadenza.device("tpu")
    assert cadenza.ones(2).device == cadenza.device("cpu")


def test_placeholders_raise_not_available():
    import cadenza.distributed as dist
    assert dist.is_initialized() is False and dist.get_rank() == -1
    with pytest.raises(RuntimeError, match="expected an initialized process group"):
        dist.all_reduce(dist.ReduceOp)  # checked before the tensor
    with pytest.raises(ValueError, match="backend='mpi'"):
        dist.init_process_group("nccl")
    import cadenza.onnx
    assert cadenza.onnx.is_in_onnx_export() is False
    assert callable(cadenza.onnx.export)  # implemented; round trips in tests/onnx


def test_unknown_attribute_names_it():
    with pytest.raises(AttributeError, match="no_such_thing"):
        cadenza.no_such_thing


def test_legacy_tensor_types():
    t = cadenza.LongTensor([1, 2])
    assert t.dtype is cadenza.int64
    assert isinstance(t, cadenza.LongTensor)
    assert cadenza.FloatTensor(2, 3).shape == (2, 3)


def test_compat_runner_runs_torch_script(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent("""
        import sys
        import torch
        from torch import autograd
        x = torch.tensor([1.0, 2.0], requires_grad=True)
        (x * x).sum().backward()
        print(torch.__name__, x.grad.tolist(), sys.argv[1:])
    """))
    r = _run(["-m", "cadenza.compat", str(script), "a", "b"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "cadenza [2.0, 4.0] ['a', 'b']"


def test_compat_runner_names_unsupported_module(tmp_path):
    script = tmp_path / "script.py"
    script.write_text("import torch.no_such_module\n")
    r = _run(["-m", "cadenza.compat", str(script)])
    assert r.returncode != 0
    assert "torch.no_such_module" in r.stderr


def test_compile_captures_a_graph():
    def f(x):
        return x * 2
    import cadenza.compiler
    g = cadenza.compile(f)
    assert callable(cadenza.compile) and g.__wrapped__ is f
    assert g(cadenza.ones(2)).tolist() == [2.0, 2.0]
    assert g(cadenza.ones(2)).tolist() == [2.0, 2.0]
    assert "mul(%0, 2)" in str(g.graph)
    assert set(cadenza.compiler.stats()) >= {"compiles", "cache_hits", "eager_fallbacks"}

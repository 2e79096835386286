"""cadenza.distributed under ``mpiexec -n 2`` (launched from pytest as a subprocess): collectives
against NumPy, DistributedDataParallel against one process, failure behaviour, the launcher."""
import os
import sys

import numpy as np
import pytest

import _mpi


def test_collectives_and_ddp_semantics():
    rc, out = _mpi.run("worker_checks.py")
    assert rc == 0, out
    assert "CHECKS OK rank 0" in out and "CHECKS OK rank 1" in out, out


def test_world_of_one_without_mpiexec():
    rc, out = _mpi.run_single("worker_checks.py")
    assert rc == 0 and "CHECKS OK rank 0" in out, out


def test_ddp_two_ranks_match_one_process(tmp_path):
    a, b, s = (str(tmp_path / f) for f in ("a.npz", "b.npz", "s.npz"))
    for args in (("ddp", a), ("ddp", b)):
        rc, out = _mpi.run("worker_train.py", *args)
        assert rc == 0, out
    rc, out = _mpi.run_single("worker_train.py", "single", s)
    assert rc == 0, out
    da, db, ds = np.load(a), np.load(b), np.load(s)
    assert list(da) == list(ds) == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight",
                                    "4.bias"]
    for k in da:
        assert np.array_equal(da[k], db[k]), f"{k}: two 2-rank runs differ"
        np.testing.assert_allclose(da[k], ds[k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_raising_rank_stops_every_rank():
    rc, out = _mpi.run("worker_fail.py", "raise")
    assert rc != 0, out
    assert "ValueError: boom on purpose" in out
    assert "rank 1 of 2 failed with ValueError: boom on purpose" in out
    assert "rank 0 stops while waiting in all_reduce" in out and "because rank 1 failed" in out
    assert "UNEXPECTED" not in out


def test_mismatched_shapes_name_the_ranks():
    rc, out = _mpi.run("worker_fail.py", "shape")
    assert rc != 0, out
    assert "expected every rank to call the same collective with the same shape" in out
    assert "rank 0: all_reduce(shapes=(3, 2)" in out
    assert "rank 1: all_reduce(shapes=(4, 2)" in out
    assert "UNEXPECTED" not in out


def test_timeout_names_the_collective():
    rc, out = _mpi.run("worker_fail.py", "timeout")
    assert rc != 0, out
    assert "DistTimeoutError" in out
    assert "all_reduce (call #2) timed out after 1 s on rank 0" in out
    assert "rank 0: waiting in all_reduce (call #2)" in out
    assert "rank 1: no reply: not in a collective" in out
    assert "UNEXPECTED" not in out


def _launch(*args, timeout=60.0):
    """``cadenza launch -n 2 tests/distributed/worker_fail.py args`` -> (rc, output)."""
    import subprocess
    import sys
    _mpi._mpiexec()   # skips without MPI
    cmd = [sys.executable, "-m", "cadenza", "launch", "-n", "2",
           os.path.join(_mpi.HERE, "worker_fail.py")] + list(args)
    p = subprocess.run(cmd, env=_mpi.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout, text=True)
    return p.returncode, p.stdout


def test_rank_exiting_early_stops_every_rank():
    rc, out = _launch("exit")
    assert rc != 0, out
    assert "rank 1 left the process group" in out and "wait in all_reduce" in out
    assert "UNEXPECTED" not in out


def test_killed_rank_is_named_by_the_launcher():
    rc, out = _launch("kill")
    assert rc != 0, out
    assert "cadenza launch: rank 1 (pid" in out and "was killed by signal 9 (SIGKILL)" in out
    assert "UNEXPECTED" not in out


def test_default_timeout_is_finite(monkeypatch):
    rc, out = _mpi.run("worker_fail.py", "default")
    assert rc == 0 and out.count("default timeout 600 s") == 2, out
    monkeypatch.setenv("CADENZA_DIST_TIMEOUT", "42")
    rc, out = _mpi.run("worker_fail.py", "default")
    assert rc == 0 and out.count("default timeout 42 s") == 2, out


def test_launcher_runs_a_script(tmp_path, capfd):
    _mpi._mpiexec()
    from cadenza.distributed import launch
    script = tmp_path / "hello.py"
    script.write_text("import cadenza.distributed as d\nd.init_process_group()\n"
                      "m = ' main' if d.is_main_process() else ''\n"
                      "print(f'hello from {d.get_rank()} of {d.get_world_size()}{m}')\n")
    env = _mpi.env()
    old = dict(os.environ)
    os.environ.update(env)
    try:
        assert launch.main(["-n", "2", str(script)]) == 0
    finally:
        os.environ.clear()
        os.environ.update(old)
    out = capfd.readouterr().out
    assert "hello from 0 of 2 main" in out and "hello from 1 of 2" in out


def test_launcher_errors(monkeypatch, capsys):
    from cadenza.distributed import launch
    assert launch.main(["-n", "2"]) == 2
    assert "expected a script" in capsys.readouterr().err
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    monkeypatch.setenv("PATH", "/nonexistent")
    assert launch.main(["-n", "2", "x.py"]) == 2
    assert "pip install cadenza[dist]" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="mpiexec"):
        launch.find_mpiexec()


def test_relaunch_command(monkeypatch):
    from cadenza.distributed import launch
    calls = []
    monkeypatch.setattr(launch, "run_under_mpiexec", lambda n, prog, **kw: calls.append(
        (n, prog)) or 0)
    monkeypatch.delenv("PMI_RANK", raising=False)
    monkeypatch.delenv("PMI_SIZE", raising=False)
    assert launch.relaunch(1, ["cadenza", "train"]) is None
    assert launch.relaunch(2, ["/x/cadenza/__main__.py", "train", "--nproc", "2", "--k",
                               "v"]) == 0
    assert calls == [(2, [sys.executable, "-m", "cadenza", "train", "--k", "v"])]
    monkeypatch.setenv("PMI_RANK", "0")
    assert launch.relaunch(2, ["cadenza", "train"]) is None

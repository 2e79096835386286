"""Helpers: run a worker script under ``mpiexec -n N`` from pytest (a subprocess), or skip with
the reason when mpi4py or mpiexec is missing."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def _mpiexec():
    if importlib.util.find_spec("mpi4py") is None:
        pytest.skip("mpi4py is not installed (pip install cadenza[dist])")
    from cadenza.distributed.launch import find_mpiexec
    try:
        return find_mpiexec()
    except FileNotFoundError as e:
        pytest.skip(str(e))


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = ROOT + os.pathsep + e.get("PYTHONPATH", "")
    for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        e[v] = "1"
    return e


def run(script: str, *args, n: int = 2, timeout: float = 60.0):
    """Run ``tests/distributed/<script>`` on n ranks; returns (returncode, stdout + stderr)."""
    cmd = [_mpiexec(), "-n", str(n), sys.executable, os.path.join(HERE, script)]
    cmd += [str(a) for a in args]
    p = subprocess.run(cmd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout, text=True)
    return p.returncode, p.stdout


def run_single(script: str, *args, timeout: float = 60.0):
    """Run the worker as one plain process (no mpiexec)."""
    cmd = [sys.executable, os.path.join(HERE, script)] + [str(a) for a in args]
    p = subprocess.run(cmd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout, text=True)
    return p.returncode, p.stdout

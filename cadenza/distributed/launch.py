"""``cadenza launch -n N script.py args...``: run a script on N ranks through ``mpiexec``.

``mpiexec`` is looked up next to the running Python (the ``mpich`` wheel installs it in the
virtual environment's ``bin/``), then on ``PATH``. Each rank gets ``OMP_NUM_THREADS`` (and the
BLAS equivalents) set to its share of the machine's cores unless already set, so N ranks do not
oversubscribe the CPU.

>>> build_command(["-n", "2", "train.py", "--lr", "0.1"])[1:4]   # doctest: +SKIP
['-n', '2', '/venv/bin/python']
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

from .._config import under_mpi_launcher

__all__ = [
    "find_mpiexec", "launched_under_mpi", "mpiexec_command", "rank_env", "build_command",
    "run_under_mpiexec", "run_watched", "relaunch", "main",
]

# Each rank records "<rank>.pid" here when it joins and "<rank>.done" when Python exits or
# reports a failure (cadenza/distributed/_group.py), so the launcher can name a rank that died
# without either: killed by a signal (SIGKILL, the OOM killer) or crashed.
LAUNCH_DIR_VAR = "CADENZA_LAUNCH_DIR"

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

_USAGE = "cadenza launch [-n N] [--hostfile FILE] [--bind-to core] [-m module | script.py] [args]"


def find_mpiexec() -> str:
    """Path of ``mpiexec``: beside ``sys.executable`` first, then on PATH; a clear error
    otherwise."""
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.path.isfile(here) and os.access(here, os.X_OK):
        return here
    found = shutil.which("mpiexec") or shutil.which("mpirun")
    if found:
        return found
    raise FileNotFoundError("cadenza launch: expected an `mpiexec` next to "
                            f"{sys.executable} or on PATH, found none; install one with "
                            "`pip install cadenza[dist]` (the mpich wheel brings mpiexec)")


def launched_under_mpi() -> bool:
    """True inside a process started by mpiexec/mpirun/srun (so it must not relaunch itself)."""
    return under_mpi_launcher()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cadenza launch", usage=_USAGE,
                                description="Run a Python script on N MPI ranks (mpiexec).")
    p.add_argument("-n", "--nproc", "--nproc-per-node", "-np", dest="nproc", type=int,
                   default=2, help="number of processes (ranks), default 2")
    p.add_argument("--hostfile", "-f", default=None,
                   help="MPI host file: one host per line, `host:slots` (MPICH hydra format)")
    p.add_argument("--bind-to", default=None,
                   help="pin each rank, e.g. `core` (passed to mpiexec as -bind-to)")
    p.add_argument("--threads", type=int, default=None,
                   help="threads per rank (OMP_NUM_THREADS); default cores // N")
    p.add_argument("--mpiexec-arg", action="append", default=[],
                   help="extra argument passed to mpiexec (repeatable)")
    p.add_argument("-m", dest="module", default=None, help="run a module, as python -m")
    p.add_argument("script", nargs="?", help="the script to run on every rank")
    p.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")
    return p


def mpiexec_command(nproc: int, program: list, hostfile=None, bind_to=None,
                    extra=()) -> list:
    """``[mpiexec, -n, N, ..., *program]``: the command that runs ``program`` on N ranks."""
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"cadenza launch: expected -n N with N >= 1, got {nproc!r}")
    cmd = [find_mpiexec(), "-n", str(nproc)]
    if hostfile:
        if not os.path.isfile(hostfile):
            raise FileNotFoundError(f"cadenza launch: host file {hostfile!r} not found")
        cmd += ["-f", hostfile]
    if bind_to:
        cmd += ["-bind-to", bind_to]
    return cmd + list(extra) + list(program)


def rank_env(nproc: int, threads=None, env=None) -> dict:
    """The environment for the ranks: the current one plus per-rank thread counts (kept if the
    user already set them)."""
    env = dict(os.environ if env is None else env)
    n = threads or max(1, (os.cpu_count() or 1) // nproc)
    for v in _THREAD_VARS:
        env.setdefault(v, str(n))
    return env


def build_command(argv) -> tuple:
    """Parse ``cadenza launch`` arguments into (command list, environment dict)."""
    a = _parser().parse_args(list(argv))
    if a.module:
        program = [sys.executable, "-m", a.module] + ([a.script] if a.script else []) + a.args
    elif a.script:
        program = [sys.executable, a.script] + a.args
    else:
        raise ValueError(f"cadenza launch: expected a script or -m module to run; usage: {_USAGE}")
    cmd = mpiexec_command(a.nproc, program, a.hostfile, a.bind_to, a.mpiexec_arg)
    return cmd, rank_env(a.nproc, a.threads)


def run_under_mpiexec(nproc: int, program: list, **kwargs) -> int:
    """Run ``program`` (argv list, e.g. ``[sys.executable, "-m", "cadenza", "train", ...]``) on
    ``nproc`` ranks and return mpiexec's exit status."""
    cmd = mpiexec_command(nproc, program, kwargs.get("hostfile"), kwargs.get("bind_to"))
    return run_watched(cmd, rank_env(nproc, kwargs.get("threads")))


def run_watched(cmd: list, env: dict) -> int:
    """Run mpiexec with its output passed through; if it fails because a rank died outside
    Python, add one line naming that rank (MPI's own report gives only a pid)."""
    with tempfile.TemporaryDirectory(prefix="cadenza-launch-") as d:
        p = subprocess.Popen(cmd, env=dict(env, **{LAUNCH_DIR_VAR: d}), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, errors="replace")
        dead_pid = dead_code = None
        try:
            for line in p.stdout:
                sys.stdout.write(line)
                sys.stdout.flush()
                m = re.search(r"\bPID (\d+) RUNNING AT", line)
                dead_pid = int(m.group(1)) if m and dead_pid is None else dead_pid
                m = re.search(r"EXIT CODE: (\d+)", line)
                dead_code = int(m.group(1)) if m and dead_code is None else dead_code
            rc = p.wait()
        except KeyboardInterrupt:
            p.wait()
            return 130
        if rc != 0:
            why = dead_ranks(d, dead_pid, dead_code)
            if why:
                print(f"cadenza launch: {why}", file=sys.stderr, flush=True)
        return rc


def dead_ranks(launch_dir: str, dead_pid=None, dead_code=None):
    """A sentence naming the rank(s) that died without a Python exit, or None when every rank
    exited through Python (its own error message then says what happened)."""
    pids, done = {}, set()
    for name in os.listdir(launch_dir):
        rank, _, kind = name.partition(".")
        if not rank.isdigit():
            continue
        if kind == "done":
            done.add(int(rank))
        elif kind == "pid":
            pids[int(rank)] = int(_read(launch_dir, name).strip() or -1)
    if not pids or any(_read(launch_dir, f"{r}.done").startswith("failed") for r in done):
        return None   # a rank failed in Python and already said why
    how = "died without a Python exit (killed by a signal such as SIGKILL or the OOM killer, " \
          "or crashed)"
    if dead_code is not None and 0 < dead_code < 64:
        try:
            how = f"was killed by signal {dead_code} ({signal.Signals(dead_code).name})"
        except ValueError:
            pass
    by_pid = {pid: r for r, pid in pids.items()}
    if dead_pid in by_pid:
        r = by_pid[dead_pid]
        return f"rank {r} (pid {dead_pid}) {how}; MPI stopped the other ranks"
    missing = sorted(set(pids) - done)
    if not missing:
        return None
    return (f"rank{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))} {how}; "
            f"MPI stopped the other ranks")


def relaunch(nproc: int, argv=None, **kwargs):
    """For ``cadenza train --nproc N``: when not already under MPI and N > 1, re-run this
    process's command line (``argv``, default ``sys.argv``, with ``--nproc`` removed) on N
    ranks and return mpiexec's exit status; return None when the caller should just go on
    (N == 1 or already a rank)."""
    if nproc is None or nproc <= 1 or launched_under_mpi():
        return None
    argv = list(sys.argv if argv is None else argv)
    argv = _drop_option(argv, "--nproc")
    if argv and os.path.basename(argv[0]) in ("cadenza", "__main__.py"):
        program = [sys.executable, "-m", "cadenza"] + argv[1:]
    else:
        program = [sys.executable] + argv
    return run_under_mpiexec(nproc, program, **kwargs)


def _read(folder, name):
    with open(os.path.join(folder, name)) as f:
        return f.read()


def _drop_option(argv, name):
    out, skip = [], False
    for i, a in enumerate(argv):
        if skip:
            skip = False
            continue
        if a == name:
            skip = True
            continue
        if a.startswith(name + "="):
            continue
        out.append(a)
    return out


def main(argv=None) -> int:
    """Entry point of ``cadenza launch``; returns the exit status (mpiexec's)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        cmd, env = build_command(argv)
    except (ValueError, FileNotFoundError) as e:
        print(e, file=sys.stderr)
        return 2
    except SystemExit as e:  # argparse: --help or a usage error
        return e.code if isinstance(e.code, int) else 2
    return run_watched(cmd, env)


if __name__ == "__main__":
    sys.exit(main())

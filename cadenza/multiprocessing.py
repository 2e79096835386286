"""``torch.multiprocessing``: Python's ``multiprocessing`` (every name of it: ``Process``,
``Queue``, ``get_context``, ``set_start_method``, ...) plus ``spawn``/``start_processes`` and the
sharing-strategy queries.

Tensors moved into shared memory with ``Tensor.share_memory_()`` (``Module.share_memory()``)
before a process is started with the fork start method (Linux's default) are the same memory in
both processes: in-place writes on either side (an optimizer's step in Hogwild training) are
seen by the other. A tensor that reaches a process by pickling (the spawn and forkserver start
methods, a ``Queue``, a ``Pipe``) arrives as a copy of its values, not as shared memory."""
from __future__ import annotations

import multiprocessing as _mp
import multiprocessing.connection as _connection
import signal as _signal
import sys as _sys
import traceback as _traceback

for _name in _mp.__all__:
    globals()[_name] = getattr(_mp, _name)

_STRATEGIES = frozenset({"file_descriptor", "file_system"})
_strategy = ["file_descriptor"]


def get_all_sharing_strategies() -> set:
    """The sharing strategies torch names; Cadenza's shared memory is an anonymous mapping that
    forked processes inherit, whichever is set."""
    return set(_STRATEGIES)


def get_sharing_strategy() -> str:
    return _strategy[0]


def set_sharing_strategy(new_strategy: str) -> None:
    if new_strategy not in _STRATEGIES:
        raise ValueError(f"set_sharing_strategy: expected one of {sorted(_STRATEGIES)}, got "
                         f"{new_strategy!r}")
    _strategy[0] = new_strategy


class ProcessException(Exception):
    """A process started by ``spawn``/``start_processes`` failed."""

    def __init__(self, msg: str, error_index: int, error_pid: int):
        super().__init__(msg)
        self.msg = msg
        self.error_index = error_index
        self.pid = error_pid

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.pid)


class ProcessRaisedException(ProcessException):
    """The process's function raised: the message holds its traceback."""


class ProcessExitedException(ProcessException):
    """The process exited with a nonzero code or was killed by a signal."""

    def __init__(self, msg: str, error_index: int, error_pid: int, exit_code: int,
                 signal_name: str | None = None):
        super().__init__(msg, error_index, error_pid)
        self.exit_code = exit_code
        self.signal_name = signal_name

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.pid, self.exit_code,
                            self.signal_name)


def _run(fn, i, args, errors):
    """A started process's body: ``fn(i, *args)``; a raised exception's traceback goes to the
    parent through ``errors`` and the process exits with code 1."""
    try:
        fn(i, *args)
    except KeyboardInterrupt:
        pass
    except Exception:
        errors.put(_traceback.format_exc())
        _sys.exit(1)


class ProcessContext:
    """The processes of one ``start_processes`` call; ``join`` waits for them."""

    def __init__(self, processes, error_queues):
        self.processes = processes
        self.error_queues = error_queues
        self.sentinels = {p.sentinel: i for i, p in enumerate(processes)}

    def pids(self) -> list:
        return [int(p.pid) for p in self.processes]

    def join(self, timeout: float | None = None, grace_period: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds for a process to end. True once all have ended
        successfully; False while some still run. When one failed, the others are terminated
        (after ``grace_period`` seconds) and its error is raised (ProcessRaisedException with
        its traceback, or ProcessExitedException with its exit code or signal)."""
        if not self.sentinels:
            return True
        failed = None
        for s in _connection.wait(list(self.sentinels), timeout=timeout):
            i = self.sentinels.pop(s)
            self.processes[i].join()
            if self.processes[i].exitcode != 0:
                failed = i
                break
        if failed is None:
            return not self.sentinels
        for p in self.processes:
            if p.is_alive() and grace_period:
                p.join(grace_period)
            if p.is_alive():
                p.terminate()
            p.join()
        proc, errors = self.processes[failed], self.error_queues[failed]
        if errors.empty():
            code = proc.exitcode
            if code < 0:
                name = _signal.Signals(-code).name
                raise ProcessExitedException(f"process {failed} terminated with signal {name}",
                                             failed, proc.pid, code, name)
            raise ProcessExitedException(f"process {failed} terminated with exit code {code}",
                                         failed, proc.pid, code)
        raise ProcessRaisedException(f"\n\n-- Process {failed} terminated with the following "
                                     f"error:\n{errors.get()}", failed, proc.pid)


def start_processes(fn, args=(), nprocs: int = 1, join: bool = True, daemon: bool = False,
                    start_method: str = "spawn"):
    """Run ``fn(i, *args)`` for i in 0..nprocs-1, each in a new process of ``start_method``;
    with ``join``, wait for all (raising the first failure), else return their
    ``ProcessContext``."""
    if not isinstance(nprocs, int) or nprocs < 1:
        raise ValueError(f"start_processes: nprocs must be a positive int, got {nprocs!r}")
    ctx = _mp.get_context(start_method)
    processes, queues = [], []
    for i in range(nprocs):
        q = ctx.SimpleQueue()
        p = ctx.Process(target=_run, args=(fn, i, tuple(args), q), daemon=daemon)
        p.start()
        processes.append(p)
        queues.append(q)
    context = ProcessContext(processes, queues)
    if not join:
        return context
    while not context.join():
        pass
    return None


def spawn(fn, args=(), nprocs: int = 1, join: bool = True, daemon: bool = False,
          start_method: str = "spawn"):
    """``start_processes`` with the spawn start method by default (``fn`` and ``args`` must then
    pickle; tensors among ``args`` arrive as copies)."""
    return start_processes(fn, args, nprocs, join, daemon, start_method)


__all__ = list(_mp.__all__) + [
    "get_all_sharing_strategies", "get_sharing_strategy", "set_sharing_strategy", "spawn",
    "start_processes", "ProcessContext", "ProcessException", "ProcessRaisedException",
    "ProcessExitedException"]

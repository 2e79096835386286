"""The selected programs' runs, started in background threads ahead of their tests.

Each program is its own process and pytest only waits for it. conftest.py queues every selected
program when collection ends and starts one worker, which runs them beside the in-process tests
before them (those use one core of the suite's two); when the first program test asks for its
result, a second worker joins (pytest then only waits). Each program keeps its own test and its
own report: ``result`` returns the run of one key, queueing it first if it was not queued.
The workers run at a lower priority (nice 10, which their processes inherit on Linux): an
in-process test that wants both cores (BLAS threads, a two-rank run) keeps them.
"""
import os
import sys
import threading
from concurrent.futures import Future

_lock = threading.Lock()
_pending = []      # [(key, fn, future)], in test order
_futures = {}      # key -> Future of fn()
_workers = []      # running worker threads


def add(key, fn):
    """Queue ``fn()`` (a program's run) under ``key`` unless it is queued already."""
    with _lock:
        if key not in _futures:
            f = Future()
            _futures[key] = f
            _pending.append((key, fn, f))


def _work():
    if sys.platform == "linux":   # niceness is per thread there; children inherit it
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except OSError:
            pass
    while True:
        with _lock:
            if not _pending:
                _workers.remove(threading.current_thread())
                return
            _, fn, f = _pending.pop(0)
        if not f.set_running_or_notify_cancel():
            continue
        try:
            f.set_result(fn())
        except BaseException as e:  # noqa: BLE001 - the test that asks re-raises it
            f.set_exception(e)


def start(workers):
    """At least ``workers`` threads draining the queue (while it has work)."""
    with _lock:
        for _ in range(min(workers - len(_workers), len(_pending))):
            t = threading.Thread(target=_work, name="program-queue", daemon=True)
            _workers.append(t)
            t.start()


def result(key, fn, workers=2):
    """The value of ``fn()`` queued under ``key`` (queued now if it was not)."""
    add(key, fn)
    start(workers)
    f = _futures[key]
    try:
        return f.result()
    finally:
        with _lock:
            _futures.pop(key, None)


def stop():
    """End of session: drop the runs not started, wait for the running ones."""
    with _lock:
        for _, _, f in _pending:
            f.cancel()
        _pending.clear()
        running = list(_workers)
    for t in running:
        t.join()

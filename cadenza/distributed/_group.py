"""The process group: MPI communicators, the polled wait behind every collective, and the
failure side channel.

Every collective runs as a non-blocking MPI request that ``wait`` polls (``Test``) instead of
blocking in ``MPI_Wait``. While polling, a rank also serves a second communicator, the *side
channel*, on which ranks exchange three kinds of small messages:

- ``FAIL``: "rank r raised <error>"; a rank waiting in a collective raises ``RankFailedError``
  naming r instead of hanging;
- ``QUERY`` / ``STATE``: a rank whose collective timed out asks every other rank what it is
  waiting in, so the ``DistTimeoutError`` can say, per rank, which collective it is in (or that
  it is not in one at all: computing, or blocked outside cadenza.distributed);
- ``ACK``: "I have reported your failure", so the failing rank can ``MPI_Abort`` the job once
  every rank has printed why it stops (or after a short grace period).

A ``sys.excepthook`` installed by ``init_process_group`` runs that protocol for an uncaught
exception, then aborts the whole job, so no rank is left hanging.
"""
from __future__ import annotations

import atexit
import os
import sys
import time

__all__ = [
    "DistError", "DistTimeoutError", "RankFailedError", "RankLeftError", "import_mpi",
    "ProcessGroup",
    "install_hooks",
]

_TAG_FAIL, _TAG_QUERY, _TAG_STATE, _TAG_ACK = 7101, 7102, 7103, 7104
# with no timeout given, a collective waits this long (torch's default for its NCCL backend is
# 10 minutes) before it fails naming what every rank waits in: a job never hangs forever
DEFAULT_TIMEOUT_S = 600.0
_TIMEOUT_ENV = "CADENZA_DIST_TIMEOUT"      # seconds, overrides the default
_LAUNCH_DIR_ENV = "CADENZA_LAUNCH_DIR"     # set by `cadenza launch` (distributed/launch.py)
_GRACE_S = 3.0          # how long a failing rank waits for the others to report before aborting
_QUERY_REPLY_S = 1.0    # how long a timed-out rank waits for the others' states

_INSTALL_HINT = ("cadenza.distributed needs mpi4py and an MPI library; install them with "
                 "`pip install cadenza[dist]` (mpi4py and the mpich wheel, which brings "
                 "mpiexec)")


class DistError(RuntimeError):
    """Base class of cadenza.distributed errors (a RuntimeError, as torch's DistError)."""


class DistTimeoutError(DistError, TimeoutError):
    """A collective did not complete within the process group's timeout."""


class RankLeftError(DistError):
    """A rank left the process group (exited early) while others wait in a collective."""


class RankFailedError(DistError):
    """Another rank raised; this rank stops instead of waiting for it forever."""

    def __init__(self, msg: str, failed_rank: int):
        super().__init__(msg)
        self.failed_rank = failed_rank


def import_mpi():
    """``mpi4py.MPI``, imported on first use, or an ImportError that says how to install it."""
    try:
        from mpi4py import MPI
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(_INSTALL_HINT + f" ({e})") from None
    return MPI


class ProcessGroup:
    """The world group: ``comm`` carries collectives, ``side`` the failure/status messages."""

    def __init__(self, timeout):
        MPI = import_mpi()
        self.MPI = MPI
        if not MPI.Is_initialized():
            MPI.Init_thread()
        world = MPI.COMM_WORLD
        self.comm = world.Dup()
        self.side = world.Dup()
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.timeout = _to_seconds(timeout)
        global _joined_rank
        _joined_rank = self.rank
        mark_rank(self.rank, "pid", str(os.getpid()))
        self.seq = 0             # collectives started on this rank
        self.state = None        # what this rank is waiting in, e.g. "all_reduce (call #3)"
        self.last = "none yet"   # the last collective that completed
        self.failure = None      # (rank, message) of a peer's failure, once heard
        self.aborting = False
        self._status = MPI.Status()
        self._pending = []       # isend requests of the side channel, kept alive

    # ------------------------------------------------------------------ waiting
    def wait(self, req, name: str):
        """Complete ``req`` (one request or a list), serving the side channel meanwhile; raise
        ``RankFailedError`` if a peer failed and ``DistTimeoutError`` past the timeout."""
        reqs = req if isinstance(req, list) else [req]
        Testall = self.MPI.Request.Testall
        if Testall(reqs):
            self.last = name
            return
        self.state = name
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        t_spin = time.perf_counter() + 0.0002
        delay = 0.0
        try:
            while True:
                for _ in range(64):
                    if Testall(reqs):
                        self.last = name
                        return
                self.serve()
                if deadline is not None and time.monotonic() > deadline:
                    self._timed_out(name)
                if time.perf_counter() > t_spin:
                    # Past a short spin, back off so a rank waiting for a slow peer does not
                    # hold a core; each wake-up still runs a burst of Tests for progress.
                    delay = min(delay * 2 or 1e-5, 1e-3)
                    time.sleep(delay)
        finally:
            self.state = None

    def serve(self):
        """Answer status queries and notice failures sent on the side channel."""
        MPI, side, st = self.MPI, self.side, self._status
        while side.Iprobe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=st):
            src, tag = st.Get_source(), st.Get_tag()
            msg = side.recv(source=src, tag=tag)
            if tag == _TAG_QUERY:
                self._isend(self._describe(), src, _TAG_STATE)
            elif tag == _TAG_FAIL:
                if self.failure is None:
                    self.failure = (src, msg)
                self._raise_peer_failure()
            # stray STATE / ACK replies (arriving late) are dropped

    def _describe(self) -> str:
        if self.state is not None:
            return f"waiting in {self.state}"
        return ("not in a collective (computing, or blocked outside cadenza.distributed); "
                f"last completed: {self.last}")

    def _raise_peer_failure(self):
        src, msg = self.failure
        where = f" while waiting in {self.state}" if self.state else ""
        raise RankFailedError(
            f"cadenza.distributed: rank {self.rank} stops{where} because rank {src} failed: "
            f"{msg}", src)

    def _timed_out(self, name: str):
        """Ask every other rank what it is waiting in, then raise with the answers."""
        others = [r for r in range(self.size) if r != self.rank]
        for r in others:
            self._isend(None, r, _TAG_QUERY)
        states = {}
        MPI, side, st = self.MPI, self.side, self._status
        end = time.monotonic() + _QUERY_REPLY_S
        while len(states) < len(others) and time.monotonic() < end:
            if side.Iprobe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=st):
                src, tag = st.Get_source(), st.Get_tag()
                msg = side.recv(source=src, tag=tag)
                if tag == _TAG_STATE:
                    states[src] = msg
                elif tag == _TAG_QUERY:
                    self._isend(f"waiting in {name}", src, _TAG_STATE)
                elif tag == _TAG_FAIL:
                    self.failure = (src, msg)
                    self._raise_peer_failure()
            else:
                time.sleep(1e-3)
        lines = [f"  rank {self.rank}: waiting in {name}"]
        for r in others:
            lines.append(f"  rank {r}: " + states.get(
                r, "no reply: not in a collective (computing, or blocked outside "
                   "cadenza.distributed)"))
        raise DistTimeoutError(
            f"cadenza.distributed: {name} timed out after {self.timeout:g} s on rank "
            f"{self.rank} of {self.size}; what each rank is doing:\n" + "\n".join(lines))

    def _isend(self, obj, dest: int, tag: int):
        self._pending = [r for r in self._pending if not r.Test()]
        self._pending.append(self.side.isend(obj, dest=dest, tag=tag))

    # ------------------------------------------------------------------ failure
    def report_failure(self, exc):
        """This rank raised ``exc``: tell the others, wait (briefly) until they have reported
        it, then abort the job so that no rank hangs."""
        if self.aborting:
            return
        self.aborting = True
        mark_rank(self.rank, "done", f"failed: {type(exc).__name__}")
        if isinstance(exc, RankFailedError):
            # Not the origin: acknowledge to the failing rank, let it abort the job.
            try:
                self._isend(None, exc.failed_rank, _TAG_ACK)
                self._sleep_serving(_GRACE_S + 2.0)
            finally:
                self.comm.Abort(1)
            return
        msg = f"{type(exc).__name__}: {exc}"[:4000]
        sys.stderr.write(f"cadenza.distributed: rank {self.rank} of {self.size} failed with "
                         f"{msg}; stopping all {self.size} ranks\n")
        sys.stderr.flush()
        others = [r for r in range(self.size) if r != self.rank]
        for r in others:
            self._isend(msg, r, _TAG_FAIL)
        acks = set()
        MPI, side, st = self.MPI, self.side, self._status
        end = time.monotonic() + _GRACE_S
        try:
            while len(acks) < len(others) and time.monotonic() < end:
                if side.Iprobe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=st):
                    src, tag = st.Get_source(), st.Get_tag()
                    side.recv(source=src, tag=tag)
                    if tag in (_TAG_ACK, _TAG_FAIL):  # a rank that failed too will abort
                        acks.add(src)
                    elif tag == _TAG_QUERY:
                        self._isend(f"failed ({msg})", src, _TAG_STATE)
                else:
                    time.sleep(1e-3)
        finally:
            self.comm.Abort(1)

    def _sleep_serving(self, seconds: float):
        end = time.monotonic() + seconds
        MPI, side, st = self.MPI, self.side, self._status
        while time.monotonic() < end:
            if side.Iprobe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=st):
                side.recv(source=st.Get_source(), tag=st.Get_tag())
            time.sleep(1e-3)

    def free(self):
        for c in (self.comm, self.side):
            try:
                c.Free()
            except Exception:  # pragma: no cover - freeing after MPI finalize
                pass


_joined_rank = None   # this process's rank once it joined a group (for the exit marker)


def mark_rank(rank: int, kind: str, text: str) -> None:
    """Leave "<rank>.<kind>" in the launcher's folder (if launched by `cadenza launch`), so it
    can name a rank that died without a Python exit."""
    folder = os.environ.get(_LAUNCH_DIR_ENV)
    if not folder:
        return
    try:
        with open(os.path.join(folder, f"{rank}.{kind}"), "w") as f:
            f.write(text)
    except OSError:   # the launcher's folder is gone: nobody to tell
        pass


def _to_seconds(timeout):
    if timeout is None:
        env = os.environ.get(_TIMEOUT_ENV)
        return _to_seconds(float(env)) if env else DEFAULT_TIMEOUT_S
    secs = timeout.total_seconds() if hasattr(timeout, "total_seconds") else float(timeout)
    if secs <= 0:
        raise ValueError(f"init_process_group: expected timeout > 0 seconds, got {timeout!r}")
    return secs


# ---------------------------------------------------------------------- hooks
_prev_excepthook = None


def install_hooks(get_group, leave):
    """An excepthook that runs the failure protocol, and an atexit that leaves cleanly by
    calling ``leave`` (``destroy_process_group``, passed in: this module sits below it)."""
    global _prev_excepthook
    if _prev_excepthook is not None:
        return
    _prev_excepthook = sys.excepthook

    def excepthook(etype, value, tb):
        _prev_excepthook(etype, value, tb)
        sys.stderr.flush()
        g = get_group()
        if g is not None:
            g.report_failure(value)

    sys.excepthook = excepthook
    atexit.register(_at_exit, get_group, leave)


def _at_exit(get_group, leave):
    g = get_group()
    if _joined_rank is not None and (g is None or not g.aborting):
        mark_rank(_joined_rank, "done", "exited")
    if g is None or g.aborting:
        return
    try:
        leave()
    except DistError as e:
        sys.stderr.write(f"{e}\n")
        sys.stderr.flush()
        g.report_failure(e)

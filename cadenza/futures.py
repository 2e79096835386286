"""``torch.futures``: ``Future`` (a value or an error set once, callbacks run when it is, child
futures by ``then``), ``collect_all`` and ``wait_all``; and the ``torch.fork``/``torch.wait``
pair, which run the call at once (Cadenza has no interpreter threads, as torch's eager
``jit.fork`` outside TorchScript) and hand back a completed Future."""
from __future__ import annotations

__all__ = ["Future", "collect_all", "wait_all"]

_UNSET = object()


class Future:
    """The result of an asynchronous call: ``set_result``/``set_exception`` complete it once;
    ``wait``/``value`` give the result (raising the stored error); ``then(fn)`` returns a
    child future holding ``fn(self)``; ``add_done_callback(fn)`` runs ``fn(self)``. Nothing
    runs in the background, so waiting on a future nobody completes is an error, not a
    hang."""

    def __init__(self, *, devices=None) -> None:
        self._value = _UNSET
        self._error = None
        self._callbacks = []

    def done(self) -> bool:
        return self._value is not _UNSET or self._error is not None

    def _complete(self, value, error) -> None:
        if self.done():
            raise RuntimeError("Attempting to mark a completed Future as complete again. Note "
                               "that a Future can only be marked completed once.")
        self._value, self._error = value, error
        callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            fn(self)

    def set_result(self, result) -> None:
        self._complete(result, None)

    def set_exception(self, result) -> None:
        if not isinstance(result, BaseException):
            raise TypeError(f"Future.set_exception: expected an exception, got "
                            f"{type(result).__name__}")
        self._complete(_UNSET, result)

    def wait(self):
        if not self.done():
            raise RuntimeError("Future.wait: the future is not completed and nothing runs in "
                               "the background to complete it (Cadenza runs forked calls at "
                               "once): call set_result or set_exception first")
        if self._error is not None:
            raise self._error
        return self._value

    def value(self):
        if not self.done():
            raise RuntimeError("Future.value: the future is not completed yet")
        return self.wait()

    def then(self, callback) -> "Future":
        child = Future()

        def run(fut):
            try:
                out = callback(fut)
            except Exception as e:  # noqa: BLE001  (the child future holds the error)
                err = RuntimeError(f"Got the following error when running the callback: "
                                   f"{type(e).__name__}: {e}")
                err.__cause__ = e
                child.set_exception(err)
            else:
                child.set_result(out)
        self.add_done_callback(run)
        return child

    def add_done_callback(self, callback) -> None:
        if self.done():
            callback(self)
        else:
            self._callbacks.append(callback)

    def __repr__(self) -> str:
        return f"<{__name__}.Future {'done' if self.done() else 'pending'}>"


def collect_all(futures) -> Future:
    """A future completed with the list of ``futures`` once every one is."""
    futures = list(futures)
    out = Future()
    left = [len(futures)]

    def one_done(_):
        left[0] -= 1
        if left[0] == 0:
            out.set_result(futures)
    if not futures:
        out.set_result([])
    for f in futures:
        f.add_done_callback(one_done)
    return out


def wait_all(futures) -> list:
    """The values of ``futures`` (the first stored error is raised)."""
    return [f.wait() for f in futures]


def fork(func, *args, **kwargs) -> Future:
    """``torch.fork``/``torch.jit.fork``: runs ``func(*args, **kwargs)`` now (its error
    propagates at once, as torch's eager fork) and returns a completed Future."""
    fut = Future()
    fut.set_result(func(*args, **kwargs))
    return fut


def wait(future: Future):
    """``torch.wait``: the forked call's result."""
    if not isinstance(future, Future):
        raise TypeError(f"wait: expected a Future, got {type(future).__name__}")
    return future.wait()

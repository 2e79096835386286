"""Grad mode: whether ops record the dynamic graph. Context managers and decorators with
PyTorch's names (no_grad, enable_grad, set_grad_enabled, inference_mode)."""
from __future__ import annotations

import functools

from .._dispatch import state  # noqa: F401  (re-exported: cadenza.autograd.grad_mode.state)


def is_grad_enabled() -> bool:
    return state.grad_enabled


def is_inference_mode_enabled() -> bool:
    return state.inference


class _DecoratorContextManager:
    """A context manager that also works as a decorator (``@no_grad()`` and ``@no_grad``)."""

    def __new__(cls, *args, **kwargs):
        if cls is not set_grad_enabled and len(args) == 1 and not kwargs and callable(args[0]):
            return cls()(args[0])  # used as a bare decorator: @no_grad
        return super().__new__(cls)

    def __call__(self, fn):
        import inspect  # lazily: importing inspect costs ~10 ms of `import cadenza`
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def gen_wrapper(*args, **kwargs):
                gen = fn(*args, **kwargs)
                with self.clone():
                    value = next(gen)
                while True:
                    try:
                        with self.clone():
                            sent = yield value
                            value = gen.send(sent)
                    except StopIteration as stop:
                        return stop.value
            return gen_wrapper

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.clone():
                return fn(*args, **kwargs)
        return wrapper

    def clone(self):
        return self.__class__()


class no_grad(_DecoratorContextManager):
    """Disable graph recording inside the block: ``with cadenza.no_grad(): ...``."""

    def __enter__(self):
        self.prev = state.grad_enabled
        state.grad_enabled = False

    def __exit__(self, *exc):
        state.grad_enabled = self.prev
        return False


class enable_grad(_DecoratorContextManager):
    """Enable graph recording inside the block, even within ``no_grad``."""

    def __enter__(self):
        self.prev = state.grad_enabled
        state.grad_enabled = True

    def __exit__(self, *exc):
        state.grad_enabled = self.prev
        return False


class set_grad_enabled(_DecoratorContextManager):
    """Set grad mode on or off; takes effect at once (as a function) or inside a with-block."""

    def __init__(self, mode: bool):
        self.prev = state.grad_enabled
        self.mode = bool(mode)
        state.grad_enabled = self.mode

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        state.grad_enabled = self.prev
        return False

    def __call__(self, fn):
        # used as a decorator: the constructor's immediate effect must not leak (as torch)
        state.grad_enabled = self.prev
        return super().__call__(fn)

    def clone(self):
        return set_grad_enabled(self.mode)


class inference_mode(_DecoratorContextManager):
    """Like no_grad, and tensors made inside are inference tensors (``is_inference()``): no
    version counter, never written in place outside inference mode, never saved for
    backward. ``inference_mode(False)`` turns it off inside (and grad mode on), as in torch."""

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)

    def __enter__(self):
        self.prev = (state.grad_enabled, state.inference)
        state.grad_enabled = not self.mode
        state.inference = self.mode
        if self.mode:
            state.inference_seen = True

    def __exit__(self, *exc):
        state.grad_enabled, state.inference = self.prev
        return False

    def clone(self):
        return inference_mode(self.mode)

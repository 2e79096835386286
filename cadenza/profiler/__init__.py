"""``torch.profiler``: profile Cadenza's ops over training steps, with PyTorch's API.

``profile`` records what ``cadenza.autograd.profiler`` records (every primitive as
``aten::<op>``, each backward node, ``record_function`` ranges, a ``ProfilerStep#N`` range per
step), following a ``schedule`` of wait / warmup / active steps and handing each finished
cycle to ``on_trace_ready`` (``tensorboard_trace_handler`` writes it as a Chrome trace).
Only the CPU activity exists: Cadenza's kernels run on the host (a CUDA activity is accepted
and records the host side).

>>> import cadenza as torch
>>> from cadenza.profiler import profile, ProfilerActivity, record_function
>>> with profile(activities=[ProfilerActivity.CPU]) as prof:
...     with record_function("forward"):
...         y = torch.ones(2, 2).matmul(torch.ones(2, 2))
>>> [e.key for e in prof.key_averages()]
['forward', 'aten::matmul']
"""
from __future__ import annotations

import enum
import os
import socket
import time

from ..autograd.profiler import (EventList, FunctionEvent, FunctionEventAvg,  # noqa: F401
                                 Recorder, record_function, start as _start, stop as _stop,
                                 write_chrome_trace)

__all__ = ["profile", "record_function", "schedule", "tensorboard_trace_handler",
           "ProfilerActivity", "ProfilerAction", "supported_activities", "EventList",
           "FunctionEvent", "FunctionEventAvg"]


class ProfilerActivity(enum.Enum):
    CPU = 0
    CUDA = 1
    XPU = 2
    MTIA = 3
    HPU = 4
    PrivateUse1 = 5


class ProfilerAction(enum.Enum):
    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def supported_activities() -> set:
    return {ProfilerActivity.CPU}


def schedule(*, wait: int, warmup: int, active: int, repeat: int = 0, skip_first: int = 0,
             skip_first_wait: int = 0):
    """PyTorch's schedule: after ``skip_first`` steps, cycles of ``wait`` idle steps,
    ``warmup`` steps (run, not recorded) and ``active`` recorded steps, the last of which
    saves; ``repeat`` cycles (0: forever).

    >>> s = schedule(wait=1, warmup=1, active=2, repeat=1)
    >>> [s(i).name for i in range(5)]
    ['NONE', 'WARMUP', 'RECORD', 'RECORD_AND_SAVE', 'NONE']
    """
    if wait < 0 or warmup < 0 or active <= 0 or repeat < 0 or skip_first < 0:
        raise ValueError("schedule: expected wait >= 0, warmup >= 0, active > 0, repeat >= 0 "
                         f"and skip_first >= 0, got wait={wait}, warmup={warmup}, "
                         f"active={active}, repeat={repeat}, skip_first={skip_first}")

    def schedule_fn(step: int) -> ProfilerAction:
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        period = wait + warmup + active
        if skip_first_wait and wait:  # the first cycle starts without its wait
            step += wait
        if repeat > 0 and step // period >= repeat:
            return ProfilerAction.NONE
        pos = step % period
        if pos < wait:
            return ProfilerAction.NONE
        if pos < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if pos < period - 1 else ProfilerAction.RECORD_AND_SAVE

    return schedule_fn


def _always_record(step: int) -> ProfilerAction:
    return ProfilerAction.RECORD


def tensorboard_trace_handler(dir_name: str, worker_name: str | None = None,
                              use_gzip: bool = False):
    """An ``on_trace_ready`` that writes each cycle's Chrome trace to
    ``dir_name/<worker>.<ns>.pt.trace.json`` (``.gz`` with ``use_gzip``), where TensorBoard's
    profiler plugin finds it."""

    def handler(prof) -> None:
        os.makedirs(dir_name, exist_ok=True)
        worker = worker_name or f"{socket.gethostname()}_{os.getpid()}"
        name = f"{worker}.{time.time_ns()}.pt.trace.json"
        prof.export_chrome_trace(os.path.join(dir_name, name + (".gz" if use_gzip else "")))

    return handler


class profile:
    """``torch.profiler.profile``: a context manager (or ``start()``/``stop()``) recording
    Cadenza's ops; call ``step()`` at the end of each training step when using a
    ``schedule``."""

    def __init__(self, *, activities=None, schedule=None, on_trace_ready=None,
                 record_shapes=False, profile_memory=False, with_stack=False,
                 with_flops=False, with_modules=False, experimental_config=None,
                 execution_trace_observer=None, acc_events=False, use_cuda=None,
                 custom_trace_id_callback=None, post_processing_timeout_s=None):
        for a in activities or ():
            if not isinstance(a, ProfilerActivity):
                raise TypeError(f"profile: activities must be ProfilerActivity members, got "
                                f"{a!r}")
        self.activities = set(activities or supported_activities())
        self.schedule = schedule or _always_record
        self.record_steps = schedule is not None  # ProfilerStep#N ranges, as in PyTorch
        self.on_trace_ready = on_trace_ready
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.step_num = 0
        self.current_action = ProfilerAction.NONE
        self._recorder = None
        self._step_range = None
        self._events = None

    # ------------------------------------------------------------------ control
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self) -> None:
        self.current_action = self.schedule(self.step_num)
        self._enter(self.current_action)

    def stop(self) -> None:
        if self._recorder is not None:
            self._finish(save=self.current_action in (ProfilerAction.RECORD,
                                                      ProfilerAction.RECORD_AND_SAVE))
        self.current_action = ProfilerAction.NONE

    def step(self) -> None:
        """End the current step: record, save or idle as the schedule says for the next."""
        prev = self.current_action
        self.step_num += 1
        self.current_action = self.schedule(self.step_num)
        if self._recorder is not None:
            if prev == ProfilerAction.RECORD_AND_SAVE or \
                    self.current_action in (ProfilerAction.NONE, ProfilerAction.WARMUP):
                self._finish(save=prev == ProfilerAction.RECORD_AND_SAVE or
                             prev == ProfilerAction.RECORD)
            else:
                self._open_step_range()
        self._enter(self.current_action)

    def _enter(self, action) -> None:
        if action in (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE) and \
                self._recorder is None:
            self._recorder = Recorder(self.record_shapes, self.profile_memory,
                                      self.with_stack)
            _start(self._recorder)
            self._open_step_range()

    def _open_step_range(self) -> None:
        if not self.record_steps:
            return
        rec = self._recorder
        if self._step_range is not None:
            rec.end(self._step_range)
        # "ProfilerStep*" in events and tables (the steps average into one row), the step's
        # number in Chrome traces, as in PyTorch
        self._step_range = rec.begin("ProfilerStep*", user=True,
                                     trace_name=f"ProfilerStep#{self.step_num}")

    def _finish(self, save: bool) -> None:
        rec, self._recorder, self._step_range = self._recorder, None, None
        _stop(rec)
        self._events = rec.finish()
        if save and self.on_trace_ready is not None:
            self.on_trace_ready(self)

    # ------------------------------------------------------------------ results
    def events(self) -> EventList:
        if self._events is None:
            raise RuntimeError("profile: no results yet; the profiler has not finished "
                               "recording a cycle (read them after the block, or in "
                               "on_trace_ready)")
        return self._events

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0,
                     group_by_overload_name=False) -> EventList:
        return self.events().key_averages(group_by_input_shape, group_by_stack_n)

    def export_chrome_trace(self, path) -> None:
        write_chrome_trace(self.events(), path)

    def export_stacks(self, path, metric="self_cpu_time_total") -> None:
        """Collapsed stacks (flame graph input): ``frame;frame;op value`` lines."""
        with open(path, "w") as fh:
            for e in self.events():
                if e.stack:
                    fh.write(f"{';'.join(reversed(e.stack))};{e.name} "
                             f"{int(getattr(e, metric))}\n")

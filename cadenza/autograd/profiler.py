"""``torch.autograd.profiler``: a profiler of Cadenza's ops, and the event lists and tables it
reports (``torch.profiler.profile`` in ``cadenza.profiler`` is built on it).

While a :class:`profile` is active, a :class:`Recorder` sits in ``_dispatch.state.profiler``.
The hook points are the ones tracing uses: ``ops.apply`` (every primitive, as ``aten::<op>``),
random creation functions (``aten::randn`` ...; other creation functions are not timed), and
the autograd engine (each backward node, as
``autograd::engine::evaluate_function: MulBackward0`` around ``MulBackward0``, and
``torch::autograd::AccumulateGrad``), plus :class:`record_function` ranges. When no profiler is
active each hook costs one attribute load and a comparison with None.

Events nest by time on each thread: an event's self time is its total minus its children's.
Times are in microseconds, as in PyTorch. An op runs with the recorder removed from
``state.profiler`` (so the few primitives that apply others count as one), which means ops of
other threads are not recorded during that time.

>>> import cadenza as torch
>>> with torch.autograd.profiler.profile() as prof:
...     y = (torch.ones(3, requires_grad=True) * 2).sum()
...     y.backward()
>>> [e.key for e in prof.key_averages()][:3]
['aten::mul', 'aten::sum', 'autograd::engine::evaluate_function: SumBackward0']
"""
from __future__ import annotations

import contextlib
import json
import os
import threading
import time

from .._dispatch import state, user_frame

__all__ = ["profile", "record_function", "FunctionEvent", "FunctionEventAvg", "EventList",
           "Recorder"]


# device columns of PyTorch's events: 0 here (Cadenza's kernels run on the host), so programs
# written for a GPU (sort_by="cuda_time_total", e.cuda_time) run unchanged
_DEVICE_KEYS = frozenset(f"{pre}{dev}_{what}" for pre in ("", "self_")
                         for dev in ("cuda", "device", "xpu", "privateuse1")
                         for what in ("time_total", "memory_usage")) | {
    "cuda_time", "device_time", "xpu_time"}


class _DeviceZeros:
    """The device times and memory of an event: always 0."""

    def __getattr__(self, name):
        if name in _DEVICE_KEYS:
            return 0
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")


class FunctionEvent(_DeviceZeros):
    """One timed range: an op, a backward node or a ``record_function`` block."""

    def __init__(self, id, name, thread, start_us, input_shapes=(), is_user_annotation=False,
                 stack=(), category="cpu_op", trace_name=None):
        self.id = id
        self.name = name
        self.trace_name = trace_name or name  # its name in Chrome traces
        self.thread = thread
        self.time_range_start = start_us
        self.time_range_end = start_us
        self.input_shapes = list(input_shapes)
        self.is_user_annotation = is_user_annotation
        self.stack = list(stack)
        self.category = category
        self.cpu_children = []
        self.cpu_parent = None
        self.cpu_memory_usage = 0
        self.count = 1
        self.device_type = "CPU"

    @property
    def key(self) -> str:
        return self.name

    @property
    def cpu_time_total(self) -> float:
        return self.time_range_end - self.time_range_start

    @property
    def self_cpu_time_total(self) -> float:
        return self.cpu_time_total - sum(c.cpu_time_total for c in self.cpu_children)

    @property
    def self_cpu_memory_usage(self) -> int:
        return self.cpu_memory_usage - sum(c.cpu_memory_usage for c in self.cpu_children)

    @property
    def cpu_time(self) -> float:
        return self.cpu_time_total

    def __repr__(self) -> str:
        return (f"<FunctionEvent id={self.id} name={self.name} thread={self.thread} "
                f"cpu_time_total={self.cpu_time_total:.3f}us "
                f"input_shapes={self.input_shapes}>")


class FunctionEventAvg(_DeviceZeros):
    """The events of one key (name, and input shapes or stack when grouped by them) summed."""

    def __init__(self, key, input_shapes=None, stack=None):
        self.key = key
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.cpu_memory_usage = 0
        self.self_cpu_memory_usage = 0
        self.input_shapes = input_shapes
        self.stack = stack
        self.is_user_annotation = False
        self.device_type = "CPU"

    def add(self, ev) -> "FunctionEventAvg":
        self.count += ev.count
        self.cpu_time_total += ev.cpu_time_total
        self.self_cpu_time_total += ev.self_cpu_time_total
        self.cpu_memory_usage += ev.cpu_memory_usage
        self.self_cpu_memory_usage += ev.self_cpu_memory_usage
        self.is_user_annotation = ev.is_user_annotation
        if self.input_shapes is None:
            self.input_shapes = ev.input_shapes
        return self

    @property
    def cpu_time(self) -> float:
        return self.cpu_time_total / self.count if self.count else 0.0

    def __repr__(self) -> str:
        return (f"<FunctionEventAvg key={self.key} self_cpu_time={self.self_cpu_time_total:.3f}"
                f"us cpu_time={self.cpu_time_total:.3f}us count={self.count} "
                f"input_shapes={self.input_shapes}>")


def _fmt_time(us: float) -> str:
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


def _fmt_mem(nbytes: int) -> str:
    for unit, size in (("Gb", 1 << 30), ("Mb", 1 << 20), ("Kb", 1 << 10)):
        if abs(nbytes) >= size:
            return f"{nbytes / size:.2f} {unit}"
    return f"{nbytes} B"


_SORT_KEYS = {"cpu_time_total", "self_cpu_time_total", "cpu_time", "count",
              "cpu_memory_usage", "self_cpu_memory_usage"}


class EventList(list):
    """A list of :class:`FunctionEvent` (or of averages) with PyTorch's reports."""

    wall_start_us = 0.0  # wall-clock time (us since the epoch) the events' times count from

    def __init__(self, events=(), profile_memory=False, with_stack=False):
        super().__init__(events)
        self._profile_memory = profile_memory
        self._with_stack = with_stack

    @property
    def self_cpu_time_total(self) -> float:
        return sum(e.self_cpu_time_total for e in self)

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0,
                     group_by_overload_name=False) -> "EventList":
        """One :class:`FunctionEventAvg` per name (and input shapes / top ``n`` stack
        frames when asked), in order of first appearance."""
        groups = {}
        for e in self:
            name = e.key
            key = (name,)
            shapes = stack = None
            if group_by_input_shape:
                shapes = e.input_shapes
                key += (str(shapes),)
            if group_by_stack_n:
                stack = e.stack[:group_by_stack_n]
                key += tuple(stack)
            avg = groups.get(key)
            if avg is None:
                avg = groups[key] = FunctionEventAvg(name, shapes, stack)
            avg.add(e)
        out = EventList(groups.values(), self._profile_memory, self._with_stack)
        out._grouped_by_shape = group_by_input_shape
        out._grouped_by_stack = group_by_stack_n
        return out

    def total_average(self) -> FunctionEventAvg:
        total = FunctionEventAvg("Total")
        for e in self:
            total.add(e)
        return total

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75,
              max_name_column_width=55, max_shapes_column_width=80, header=None,
              top_level_events_only=False, time_unit=None) -> str:
        """PyTorch's profiler table: Name, Self CPU %, Self CPU, CPU total %, CPU total,
        CPU time avg, (CPU Mem, Self CPU Mem with memory profiling), # of Calls, (Input
        Shapes when grouped by them, Source Location when grouped by stack)."""
        events = list(self)
        if top_level_events_only:
            events = [e for e in events if getattr(e, "cpu_parent", None) is None]
        if sort_by is not None:
            if sort_by not in _SORT_KEYS | _DEVICE_KEYS:
                raise ValueError(f"table: sort_by must be one of "
                                 f"{sorted(_SORT_KEYS | _DEVICE_KEYS)}, got {sort_by!r}")
            events.sort(key=lambda e: getattr(e, sort_by), reverse=True)
        if row_limit is not None and row_limit > 0:
            events = events[:row_limit]
        total_self = self.self_cpu_time_total or 1e-12
        name_w = min(max([len(e.key) for e in events] + [4]) + 4, max_name_column_width)
        cols = [("Name", name_w), ("Self CPU %", 12), ("Self CPU", 12), ("CPU total %", 12),
                ("CPU total", 12), ("CPU time avg", 12)]
        mem = self._profile_memory
        if mem:
            cols += [("CPU Mem", 12), ("Self CPU Mem", 12)]
        cols.append(("# of Calls", 12))
        shapes = getattr(self, "_grouped_by_shape", False)
        if shapes:
            shape_w = min(max([len(str(e.input_shapes)) for e in events] + [12]) + 4,
                          max_shapes_column_width)
            cols.append(("Input Shapes", shape_w))
        stacks = getattr(self, "_grouped_by_stack", 0)
        if stacks:
            cols.append(("Source Location", max_src_column_width))
        sep = "  ".join("-" * w for _, w in cols) + "  "
        lines = []
        if header:
            lines += ["=" * len(sep), header]
        lines += [sep, "  ".join(f"{n:>{w}}" for n, w in cols) + "  ", sep]

        def clip(s, w):
            return s if len(s) <= w else s[:w - 3] + "..."

        for e in events:
            row = [clip(e.key, name_w),
                   f"{100 * e.self_cpu_time_total / total_self:.2f}%",
                   _fmt_time(e.self_cpu_time_total),
                   f"{100 * e.cpu_time_total / total_self:.2f}%",
                   _fmt_time(e.cpu_time_total), _fmt_time(e.cpu_time)]
            if mem:
                row += [_fmt_mem(e.cpu_memory_usage), _fmt_mem(e.self_cpu_memory_usage)]
            row.append(str(e.count))
            if shapes:
                row.append(clip(str(e.input_shapes), shape_w))
            if stacks:
                row.append(clip((e.stack or [""])[0], max_src_column_width))
            lines.append("  ".join(f"{v:>{w}}" for v, (_, w) in zip(row, cols)) + "  ")
        lines += [sep, f"Self CPU time total: {_fmt_time(self.self_cpu_time_total)}", ""]
        return "\n".join(lines)

    def export_chrome_trace(self, path) -> None:
        write_chrome_trace(self, path)


def chrome_trace(events) -> dict:
    """The Chrome trace (chrome://tracing, Perfetto, TensorBoard) of ``events``: complete
    ("ph": "X") events with ``ts``/``dur`` in microseconds."""
    pid = os.getpid()
    base = getattr(events, "wall_start_us", 0.0)
    out = []
    for e in events:
        args = {"External id": e.id}
        if e.input_shapes:
            args["Input Dims"] = e.input_shapes
        if e.stack:
            args["Call stack"] = ";".join(e.stack)
        if e.cpu_memory_usage:
            args["Bytes"] = e.cpu_memory_usage
        out.append({"ph": "X", "cat": e.category, "name": e.trace_name, "pid": pid,
                    "tid": e.thread, "ts": base + e.time_range_start, "dur": e.cpu_time_total,
                    "args": args})
    return {"schemaVersion": 1, "displayTimeUnit": "ms", "traceName": "cadenza",
            "traceEvents": out}


def write_chrome_trace(events, path) -> None:
    if str(path).endswith(".gz"):
        import gzip  # noqa: E402  # reason: only for compressed traces
        with gzip.open(path, "wt") as fh:
            json.dump(chrome_trace(events), fh)
        return
    with open(path, "w") as fh:
        json.dump(chrome_trace(events), fh)


def _shapes(args) -> list:
    return [list(a.shape) if hasattr(a, "shape") and hasattr(a, "_data") else []
            for a in args]


class Recorder:
    """What ``state.profiler`` holds while a profile records: collects events."""

    def __init__(self, record_shapes=False, profile_memory=False, with_stack=False):
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.events = []
        self._stacks = {}  # thread id -> open events, innermost last
        self._ids = 0
        # times are microseconds since the recorder started (exact in a float); the wall
        # clock at that moment makes trace timestamps absolute
        self._t0 = time.perf_counter_ns()
        self.wall_start_us = time.time_ns() / 1e3

    def _now(self) -> float:
        return (time.perf_counter_ns() - self._t0) / 1e3

    def begin(self, name, args=(), user=False, category="cpu_op",
              trace_name=None) -> FunctionEvent:
        tid = threading.get_native_id()
        self._ids += 1
        stack = ()
        if self.with_stack:
            fn, ln, func = user_frame(2)
            stack = (f"{fn}({ln}): {func}",)
        ev = FunctionEvent(self._ids, name, tid, self._now(),
                           _shapes(args) if self.record_shapes and args else (), user, stack,
                           "user_annotation" if user else category, trace_name)
        open_ = self._stacks.setdefault(tid, [])
        if open_:
            ev.cpu_parent = open_[-1]
            open_[-1].cpu_children.append(ev)
        open_.append(ev)
        self.events.append(ev)
        return ev

    def end(self, ev, out=None) -> None:
        ev.time_range_end = self._now()
        open_ = self._stacks.get(ev.thread, [])
        if ev in open_:  # a range may close out of order (a ProfilerStep around a block)
            open_.remove(ev)
        if out is not None and self.profile_memory:
            arr = getattr(out, "_data", None)
            if arr is not None and getattr(arr, "base", None) is None:
                ev.cpu_memory_usage += int(arr.nbytes)
        parent = ev.cpu_parent
        if parent is not None and self.profile_memory:
            parent.cpu_memory_usage += ev.cpu_memory_usage

    def op(self, apply, op, args, attrs):
        """``ops.apply`` while recording: time the primitive as ``aten::<name>``."""
        return self.call("aten::" + op.name, apply, (op, *args), attrs, args)

    def call(self, name, fn, args, kwargs, shaped=None):
        """Time ``fn(*args, **kwargs)`` as ``name`` (input shapes from ``shaped``, default
        ``args``), with the recorder removed meanwhile: ops it applies inside count as its
        own time (random creation functions, which make tensors without ``ops.apply``)."""
        ev = self.begin(name, args if shaped is None else shaped)
        state.profiler = None
        out = None
        try:
            out = fn(*args, **kwargs)
            return out
        finally:
            state.profiler = self
            self.end(ev, out)

    def backward(self, node, run):
        """The engine's evaluation of one node (``run()`` computes it), as PyTorch names it."""
        name = node.name() if hasattr(node, "name") else type(node).__name__
        if name == "AccumulateGrad":
            name = "torch::autograd::AccumulateGrad"
        outer = self.begin(f"autograd::engine::evaluate_function: {name}")
        inner = self.begin(name)
        try:
            return run()
        finally:
            self.end(inner)
            self.end(outer)

    def finish(self) -> EventList:
        """Close ranges still open (a block left by an exception) and hand the events over."""
        for open_ in self._stacks.values():
            for ev in list(open_):
                self.end(ev)
        out = EventList(self.events, self.profile_memory, self.with_stack)
        out.wall_start_us = self.wall_start_us
        return out


def start(recorder: Recorder) -> None:
    if state.profiler is not None:
        raise RuntimeError("profiler: another profiler is already recording; nest "
                           "record_function ranges instead of profilers")
    state.profiler = recorder


def stop(recorder: Recorder) -> None:
    if state.profiler is recorder:
        state.profiler = None


class profile:
    """``torch.autograd.profiler.profile``: record Cadenza's ops while the block runs.

    ``use_cuda``/``use_device`` are accepted; Cadenza profiles the host (CPU) side, where its
    kernels run. ``with_flops``/``with_modules`` are accepted and add nothing.
    """

    def __init__(self, enabled=True, *, use_cuda=False, use_device=None, record_shapes=False,
                 with_flops=False, profile_memory=False, with_stack=False, with_modules=False,
                 use_kineto=True, use_cpu=True, experimental_config=None, acc_events=False,
                 custom_trace_id_callback=None):
        self.enabled = enabled
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.function_events = None
        self._recorder = None

    def __enter__(self):
        if self.enabled:
            self._recorder = Recorder(self.record_shapes, self.profile_memory, self.with_stack)
            start(self._recorder)
        return self

    def __exit__(self, *exc):
        if self._recorder is not None:
            stop(self._recorder)
            self.function_events = self._recorder.finish()
            self._recorder = None
        return False

    def _events(self) -> EventList:
        if self.function_events is None:
            raise RuntimeError("profiler: no results yet; read them after the profiled block "
                               "has finished")
        return self.function_events

    def events(self) -> EventList:
        return self._events()

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0,
                     group_by_overload_name=False) -> EventList:
        return self._events().key_averages(group_by_input_shape, group_by_stack_n)

    def table(self, *args, **kwargs) -> str:
        return self._events().table(*args, **kwargs)

    def total_average(self) -> FunctionEventAvg:
        return self._events().total_average()

    def export_chrome_trace(self, path) -> None:
        write_chrome_trace(self._events(), path)

    @property
    def self_cpu_time_total(self) -> float:
        return self._events().self_cpu_time_total

    def __str__(self) -> str:
        return self.table() if self.function_events is not None else "<unfinished profile>"


class record_function(contextlib.ContextDecorator):
    """A named range in the profile (a context manager or a decorator); free when no
    profiler records."""

    def __init__(self, name: str, args=None):
        self.name = name
        self.args = args
        self._ev = None
        self._rec = None

    def __enter__(self):
        rec = state.profiler
        if rec is not None:
            self._rec = rec
            self._ev = rec.begin(self.name, user=True)
        return self

    def __exit__(self, *exc):
        if self._ev is not None:
            self._rec.end(self._ev)
            self._ev = self._rec = None
        return False

    def _recreate_cm(self):  # a fresh range per decorated call (recursion, threads)
        return type(self)(self.name, self.args)


def emit_nvtx(*args, **kwargs):
    """Accepted for compatibility: Cadenza has no NVTX ranges to emit."""
    return contextlib.nullcontext()


__all__ += ["emit_nvtx"]

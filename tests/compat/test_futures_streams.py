"""torch.futures.Future, torch.fork/wait (run at once) and torch.Stream/torch.Event with the
CPU semantics torch 2.13 gives them, side by side with torch."""
import pytest

import cadenza

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("L", [cadenza, torch], ids=["cadenza", "torch"])
def test_future_protocol(L):
    f = L.futures.Future()
    assert not f.done()
    seen = []
    f.add_done_callback(lambda fut: seen.append(fut.value()))
    child = f.then(lambda fut: fut.value() + 1)
    f.set_result(5)
    assert f.done() and f.wait() == 5 and f.value() == 5 and seen == [5] and child.wait() == 6
    with pytest.raises(RuntimeError, match="completed Future"):
        f.set_result(6)
    g = L.futures.Future()
    g.set_exception(ValueError("x"))
    with pytest.raises(ValueError, match="x"):
        g.wait()
    bad = f.then(lambda fut: 1 / 0)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        bad.wait()
    assert L.futures.wait_all([f, child]) == [5, 6]
    assert [x.wait() for x in L.futures.collect_all([f, child]).wait()] == [5, 6]
    assert L.Future is type(f) or issubclass(type(f), L.Future)


@pytest.mark.parametrize("L", [cadenza, torch], ids=["cadenza", "torch"])
def test_fork_runs_the_call_and_wait_returns_it(L):
    fut = L.fork(lambda x, k=1: x * 2 + k, L.tensor(3), k=2)
    assert fut.done() and L.wait(fut).item() == 8
    assert L.jit.wait(L.jit.fork(lambda: 7)) == 7

    def boom():
        raise KeyError("boom")
    with pytest.raises(KeyError):
        L.jit.fork(boom)


def test_unfinished_future_wait_is_an_error_not_a_hang():
    with pytest.raises(RuntimeError, match="not completed"):
        cadenza.futures.Future().wait()
    with pytest.raises(TypeError, match="expected a Future"):
        cadenza.wait(3)


@pytest.mark.parametrize("L", [cadenza, torch], ids=["cadenza", "torch"])
def test_stream_and_event_on_the_cpu(L):
    s = L.Stream()
    assert (s.device_type, s.device_index, s.stream_id) == (0, -1, 0)
    assert s.device == L.device("cpu") and s.query() and s.synchronize() is None
    assert s == L.Stream(device="cpu", priority=0) and not s.is_capturing()
    assert repr(s).split(".", 1)[1] == "Stream device_type=cpu, device_index=-1, stream_id=0"
    e = L.Event()
    assert e.query() and e.synchronize() is None and e.event_id == 0
    assert s.wait_event(e) is None and e.wait() is None
    for call in (e.record, s.record_event, lambda: s.wait_stream(L.Stream())):
        with pytest.raises(RuntimeError, match="cpu backend doesn't support events"):
            call()
    with pytest.raises(ValueError, match="enable_timing"):
        e.elapsed_time(L.Event())
    assert repr(L.Event(enable_timing=True)).split(".", 1)[1] == (
        "Event device_type=cpu, device_index=-1, event_flag=1, event_id=0")
    with s:
        pass
    with pytest.raises(RuntimeError):
        L.Stream(device="cuda")   # (no CUDA build here; Cadenza: cuda.Stream)


@pytest.mark.parametrize("L", [cadenza, torch], ids=["cadenza", "torch"])
def test_record_stream_argument_check_and_cpu_refusal(L):
    x = L.ones(3)
    for bad in (None, 1):
        with pytest.raises(RuntimeError, match="unknown parameter type"):
            x.record_stream(bad)
    with pytest.raises(NotImplementedError):
        x.record_stream(L.Stream())

"""``Tensor.share_memory_`` / ``Module.share_memory`` and ``torch.multiprocessing``: values kept in
place, and in-place updates made by forked processes (Hogwild training) seen by the parent."""
import io
import multiprocessing

import numpy as np
import pytest

import cadenza as torch
import cadenza.multiprocessing as mp

torch_ref = pytest.importorskip("torch")

fork_only = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                               reason="needs the fork start method")


def test_share_memory_keeps_values_identity_and_autograd_state():
    x = torch.arange(6.).reshape(2, 3).t().requires_grad_()
    before, stride = x.detach().numpy().copy(), x.stride()
    assert not x.is_shared()
    assert x.share_memory_() is x and x.is_shared()
    np.testing.assert_array_equal(x.detach().numpy(), before)
    assert x.stride() == stride and x.requires_grad and x.grad_fn is None
    assert x.share_memory_() is x                            # idempotent
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((3, 2), 2.0))
    assert x[1:].is_shared() and x.detach().is_shared()      # views of the shared memory
    assert not x.clone().is_shared() and not (x + 1).is_shared()
    for dt in (torch.bfloat16, torch.int64, torch.bool):     # any dtype, any size
        t = torch.ones(3, dtype=dt)
        assert t.share_memory_().is_shared() and t.dtype is dt and t.tolist() == [1, 1, 1]
    assert torch.empty(0).share_memory_().is_shared()


def test_share_memory_of_a_view_moves_its_base_as_torch_does():
    base = torch.arange(6.)
    v = base[1:4]
    v.share_memory_()
    t = torch_ref.arange(6.)
    tv = t[1:4]
    tv.share_memory_()
    assert v.is_shared() == tv.is_shared() and base.is_shared() == t.is_shared()
    v.add_(10)                                                # the view still aliases its base
    np.testing.assert_array_equal(base.numpy(), [0, 11, 12, 13, 4, 5])


def test_meta_and_sparse_tensors_refuse():
    with pytest.raises(RuntimeError, match="share_memory_.*CPU.*meta"):
        torch.empty(2, device="meta").share_memory_()
    with pytest.raises(RuntimeError, match="share_memory_.*sparse"):
        torch.eye(2).to_sparse().share_memory_()


def test_module_share_memory_covers_parameters_grads_and_buffers():
    m = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    m(torch.ones(3, 2)).sum().backward()
    params = [p for p in m.parameters()]
    assert m.share_memory() is m
    assert [p for p in m.parameters()] == params   # the same Parameter objects
    assert all(p.is_shared() and p.grad.is_shared() for p in m.parameters())
    assert all(b.is_shared() for b in m.buffers())
    tm = torch_ref.nn.Linear(2, 2)
    tm(torch_ref.ones(1, 2)).sum().backward()
    tm.share_memory()
    assert tm.weight.grad.is_shared()


def test_optimizer_state_dict_and_save_load_after_sharing():
    torch.manual_seed(0)
    m = torch.nn.Linear(3, 2).share_memory()
    ref = torch.nn.Linear(3, 2)
    ref.load_state_dict(m.state_dict())
    x = torch.randn(4, 3)
    for model in (m, ref):
        opt = torch.optim.Adam(model.parameters(), lr=0.1)
        for _ in range(2):
            opt.zero_grad()
            model(x).pow(2).sum().backward()
            opt.step()
    assert m.weight.is_shared()                      # updated in place
    np.testing.assert_array_equal(m.weight.detach().numpy(), ref.weight.detach().numpy())
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    buf.seek(0)
    sd = torch.load(buf)
    np.testing.assert_array_equal(sd["weight"].numpy(), m.weight.detach().numpy())
    fresh = torch.nn.Linear(3, 2).share_memory()
    fresh.load_state_dict(sd)                        # copied into the shared memory
    assert fresh.weight.is_shared()
    np.testing.assert_array_equal(fresh.bias.detach().numpy(), m.bias.detach().numpy())


def _steps(rank, model, lock, n):
    """n SGD steps of exact integer-valued gradients on the shared parameters, under a lock:
    whatever the interleaving, the sum of the updates is exact."""
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    for _ in range(n):
        with lock:
            for p in model.parameters():
                p.grad = torch.full(tuple(p.shape), float(rank + 1))
            opt.step()


@fork_only
def test_hogwild_children_update_the_parents_weights():
    model = torch.nn.Linear(3, 2)
    with torch.no_grad():
        model.weight.copy_(torch.arange(6.).reshape(2, 3))
        model.bias.zero_()
    model.share_memory()
    ctx = mp.get_context("fork")
    lock = ctx.Lock()
    procs = [ctx.Process(target=_steps, args=(rank, model, lock, 3)) for rank in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert [p.exitcode for p in procs] == [0, 0]
    # 3 steps of -1 from child 0 and 3 steps of -2 from child 1
    np.testing.assert_array_equal(model.weight.detach().numpy(),
                                  np.arange(6.).reshape(2, 3) - 9)
    np.testing.assert_array_equal(model.bias.detach().numpy(), [-9, -9])


def _train(rank, model, q):
    torch.manual_seed(rank)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = torch.randn(8, 3), torch.randn(8, 2)
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    q.put(model.weight.detach().clone())    # a pickled copy of the child's view


@fork_only
def test_hogwild_training_in_turn_matches_one_process():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2).share_memory()
    ref = torch.nn.Linear(3, 2)
    ref.load_state_dict(model.state_dict())
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    for rank in range(2):           # one after the other: the result does not hang on timing
        p = ctx.Process(target=_train, args=(rank, model, q))
        p.start()
        reported = q.get(timeout=60)
        p.join()
        assert p.exitcode == 0
        np.testing.assert_array_equal(model.weight.detach().numpy(), reported.numpy())
        _train(rank, ref, ctx.Queue())
    np.testing.assert_array_equal(model.weight.detach().numpy(), ref.weight.detach().numpy())
    np.testing.assert_array_equal(model.bias.detach().numpy(), ref.bias.detach().numpy())


def _fails(rank, t):
    t.add_(rank + 1)
    if rank == 1:
        raise ValueError("rank one fails")


@fork_only
def test_spawn_runs_every_rank_and_raises_a_childs_error():
    t = torch.zeros(2).share_memory_()
    with pytest.raises(mp.ProcessRaisedException, match="rank one fails") as e:
        mp.spawn(_fails, args=(t,), nprocs=2, start_method="fork")
    assert e.value.error_index == 1
    assert t.tolist() == [3.0, 3.0]
    ctx = mp.start_processes(_fails, args=(t,), nprocs=1, join=False, start_method="fork")
    while not ctx.join():
        pass
    assert t.tolist() == [4.0, 4.0] and len(ctx.pids()) == 1


def test_multiprocessing_namespace_is_pythons():
    for name in ("Process", "Queue", "Pool", "get_context", "set_start_method",
                 "get_start_method", "cpu_count", "Lock"):
        assert getattr(mp, name) is getattr(multiprocessing, name), name
        assert hasattr(torch_ref.multiprocessing, name)
    assert torch.multiprocessing is mp
    assert mp.get_all_sharing_strategies() == torch_ref.multiprocessing.get_all_sharing_strategies()
    assert mp.get_sharing_strategy() == torch_ref.multiprocessing.get_sharing_strategy()
    with pytest.raises(ValueError, match="set_sharing_strategy"):
        mp.set_sharing_strategy("nope")

"""Worker: every collective against NumPy on known inputs, and DistributedDataParallel's
semantics (construction broadcast, unused parameters, no_sync, buckets, state dict), on any
number of ranks. Prints ``CHECKS OK rank r`` at the end; any failure raises."""
import numpy as np

import cadenza
import cadenza.distributed as dist
from cadenza import nn

dist.init_process_group("mpi")
r, w = dist.get_rank(), dist.get_world_size()
assert dist.is_initialized() and dist.get_backend() == "mpi"


def val(rank, shape=(2, 3), dtype=np.float32):
    """Rank-specific known values."""
    return (np.arange(np.prod(shape)).reshape(shape) + 10 * rank + 1).astype(dtype)


allv = np.stack([val(k) for k in range(w)])

# all_reduce with every op, float and int
for op, ref in ((dist.ReduceOp.SUM, allv.sum(0)), (dist.ReduceOp.AVG, allv.mean(0)),
                (dist.ReduceOp.MAX, allv.max(0)), (dist.ReduceOp.MIN, allv.min(0)),
                (dist.ReduceOp.PRODUCT, allv.prod(0))):
    t = cadenza.from_numpy(val(r).copy())
    v0 = t._version
    assert dist.all_reduce(t, op=op) is None
    np.testing.assert_allclose(t.numpy(), ref, rtol=1e-6, err_msg=str(op))
    assert t._version > v0
ti = cadenza.from_numpy(val(r, (4,), np.int64))
dist.all_reduce(ti)
assert ti.dtype == cadenza.int64 and np.array_equal(ti.numpy(), allv.reshape(w, -1)[:, :4]
                                                   .astype(np.int64).sum(0))
# a non-contiguous tensor is reduced in place too
tn = cadenza.from_numpy(val(r, (3, 2)).copy()).t()
dist.all_reduce(tn)
np.testing.assert_allclose(tn.numpy(), sum(val(k, (3, 2)) for k in range(w)).T)
# async_op returns a Work
t = cadenza.from_numpy(val(r).copy())
work = dist.all_reduce(t, async_op=True)
assert work.wait() and work.is_completed()
np.testing.assert_allclose(t.numpy(), allv.sum(0))

# broadcast from every source
for src in range(w):
    t = cadenza.from_numpy(val(r))
    dist.broadcast(t, src=src)
    assert np.array_equal(t.numpy(), val(src))

# all_gather, all_gather_into_tensor
outs = [cadenza.zeros(2, 3) for _ in range(w)]
dist.all_gather(outs, cadenza.from_numpy(val(r)))
for k in range(w):
    assert np.array_equal(outs[k].numpy(), val(k))
big = cadenza.zeros(2 * w, 3)
dist.all_gather_into_tensor(big, cadenza.from_numpy(val(r)))
assert np.array_equal(big.numpy(), np.concatenate([val(k) for k in range(w)]))

# reduce_scatter: rank k gets sum over ranks of input_list[k]
inputs = [cadenza.from_numpy(val(r) * (k + 1)) for k in range(w)]
out = cadenza.zeros(2, 3)
dist.reduce_scatter(out, inputs)
np.testing.assert_allclose(out.numpy(), allv.sum(0) * (r + 1))
out = cadenza.zeros(2, 3)
dist.reduce_scatter_tensor(out, cadenza.cat(inputs), op=dist.ReduceOp.AVG)
np.testing.assert_allclose(out.numpy(), allv.mean(0) * (r + 1), rtol=1e-6)

# objects, barrier
objs = [None] * w
dist.all_gather_object(objs, {"rank": r})
assert objs == [{"rank": k} for k in range(w)]
lst = [r, "x"] if r == 0 else [None, None]
dist.broadcast_object_list(lst, src=0)
assert lst == [0, "x"]
dist.barrier()

# a bad argument is refused locally, before any communication
try:
    dist.all_gather([cadenza.zeros(1)], cadenza.zeros(2))
except ValueError as e:
    assert "all_gather" in str(e)
else:
    raise AssertionError("all_gather accepted a wrong tensor_list")

# DistributedSampler takes world size and rank from the group
s = cadenza.utils.data.DistributedSampler(range(7), shuffle=True, seed=3)
mine = list(s)
got = [None] * w
dist.all_gather_object(got, mine)
assert sorted(set(i for g in got for i in g)) == list(range(7))


# ---------------------------------------------------------------- DistributedDataParallel
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 4)
        self.b = nn.Linear(4, 2)
        self.unused = nn.Linear(2, 2)      # never used: .grad stays None everywhere
        self.sometimes = nn.Linear(3, 2)   # used on the last rank only
        self.register_buffer("step", cadenza.zeros(1) + r)

    def forward(self, x):
        y = self.b(self.a(x).relu())
        if r == w - 1:
            y = y + self.sometimes(x)
        return y


cadenza.manual_seed(100 + r)
net = Net()
ddp = nn.parallel.DistributedDataParallel(net, bucket_cap_mb=0.0001)  # several buckets
assert ddp.module is net and len(ddp._buckets) > 1
assert list(ddp.state_dict()) == ["module." + k for k in net.state_dict()]
# construction broadcast: every rank holds rank 0's parameters and buffers
for name, p in net.state_dict().items():
    g = [None] * w
    dist.all_gather_object(g, p.numpy().tobytes())
    assert all(x == g[0] for x in g), name
assert net.step.item() == 0


def local_grads(x):
    """Gradients of this rank's loss without DDP, for the expected averages."""
    net.zero_grad()
    net(x).square().sum().backward()
    return {n: (None if p.grad is None else p.grad.numpy().copy())
            for n, p in net.named_parameters()}


def averaged(local):
    """Average over ranks, a missing gradient counting as zeros."""
    res = {}
    for n, g in local.items():
        gs = [None] * w
        dist.all_gather_object(gs, g)
        if all(x is None for x in gs):
            res[n] = None
        else:
            res[n] = sum(x if x is not None else 0 for x in gs) / w
    return res


x1 = cadenza.from_numpy(val(r, (5, 3)) / 10)
x2 = cadenza.from_numpy(val(r + 3, (5, 3)) / 10)
expect = averaged(local_grads(x1))
net.zero_grad()
ddp(x1).square().sum().backward()
for n, p in net.named_parameters():
    if expect[n] is None:
        assert p.grad is None, n
    else:
        np.testing.assert_allclose(p.grad.numpy(), expect[n], rtol=1e-5, atol=1e-6,
                                   err_msg=n)

# no_sync: accumulate locally, the next synced backward averages the sum
g1, g2 = local_grads(x1), local_grads(x2)
expect = averaged({n: None if g1[n] is None else g1[n] + g2[n] for n in g1})
net.zero_grad()
with ddp.no_sync():
    ddp(x1).square().sum().backward()
local = {n: None if p.grad is None else p.grad.numpy().copy() for n, p in
         net.named_parameters()}
for n in local:  # not reduced inside no_sync
    assert (local[n] is None) == (g1[n] is None) and \
        (local[n] is None or np.allclose(local[n], g1[n])), n
ddp(x2).square().sum().backward()
for n, p in net.named_parameters():
    if expect[n] is None:
        assert p.grad is None, n
    else:
        np.testing.assert_allclose(p.grad.numpy(), expect[n], rtol=1e-5, atol=1e-6,
                                   err_msg=n)

dist.destroy_process_group()
assert not dist.is_initialized()
print(f"CHECKS OK rank {r}", flush=True)

"""Record files written by real PyTorch's ``torch.save`` into tests/io/torch_fixtures/ (run
ONCE, by hand, with PyTorch installed: ``python tests/io/record_torch_fixtures.py``). The tests
(test_io_torch_format.py) load them with Cadenza without importing torch and compare with the
values recorded next to them in ``values.npz``."""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "torch_fixtures")
sys.path.insert(0, HERE)


def tensors():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4, 6, generator=g)
    return {
        "f32": torch.randn(3, 2, generator=g),
        "f16": torch.randn(5, generator=g).half(),
        "bf16": torch.randn(2, 3, generator=g).bfloat16(),
        "f64": torch.randn(2, generator=g).double(),
        "i64": torch.arange(-3, 4),
        "i32": torch.tensor([7, -8], dtype=torch.int32),
        "u8": torch.tensor([0, 255], dtype=torch.uint8),
        "bool": torch.tensor([[True, False], [False, True]]),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
        "base": base,
        "row": base[1],            # a view at an offset
        "t": base.t(),             # non-contiguous strides
        "cols": base[1:3, ::2],    # offset and strides
        "param": torch.nn.Parameter(torch.randn(3, generator=g)),
        "frozen": torch.nn.Parameter(torch.ones(2), requires_grad=False),
        "grad": torch.ones(2).requires_grad_(),
        "misc": [1, 2.5, "s", (3, None), {"k": [True, b"by"]}, torch.Size([2, 3]),
                 torch.float16, torch.device("cpu"), {1, 2}, slice(1, 5, 2), 1 + 2j],
    }


def flat(prefix, obj, out):
    if isinstance(obj, torch.Tensor):
        t = obj.detach()
        out[prefix] = (t.float() if t.dtype == torch.bfloat16 else t).numpy()
    elif isinstance(obj, (np.ndarray, np.generic)):
        out[prefix] = np.asarray(obj)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            flat(f"{prefix}/{k}", v, out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            flat(f"{prefix}/{i}", v, out)


def checkpoint():
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(2):
        opt.zero_grad()
        model(torch.randn(5, 4)).pow(2).sum().backward()
        opt.step()
    return {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3,
            "history": [[0.5, 0.25], [0.125]], "name": "run-1",
            # NumPy values as training scripts keep them (allowed: numbers only)
            "best": np.float64(0.875), "count": np.int64(7),
            "order": np.array([[3, 1], [2, 0]], ">i4"), "mask": np.array([True, False])}


def main():
    import _pt_convnet
    os.makedirs(OUT, exist_ok=True)
    values = {}
    t = tensors()
    torch.save(t, os.path.join(OUT, "tensors.pt"))
    torch.save(t, os.path.join(OUT, "tensors_legacy.pt"), _use_new_zipfile_serialization=False)
    flat("tensors", t, values)
    ck = checkpoint()
    torch.save(ck, os.path.join(OUT, "checkpoint.pt"))
    flat("checkpoint", ck, values)
    torch.manual_seed(2)
    net = _pt_convnet.build(torch)()
    with torch.no_grad():  # non-trivial running statistics
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
    net.eval()
    x = torch.randn(2, 3, 8, 8)
    values["convnet/x"] = x.numpy()
    values["convnet/y"] = net(x).detach().numpy()
    torch.save(net.state_dict(), os.path.join(OUT, "convnet.pt"))
    torch.manual_seed(3)  # a whole model (torch.nn classes), for weights_only=False
    whole = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    torch.save(whole, os.path.join(OUT, "whole_model.pt"))
    values["whole/x"] = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
    values["whole/y"] = whole(torch.from_numpy(values["whole/x"])).detach().numpy()
    np.savez_compressed(os.path.join(OUT, "values.npz"), **values)


if __name__ == "__main__":
    main()

"""Record torchvision's deform_conv2d and ps_roi_align / ps_roi_pool outputs and gradients into
tests/vision/fixtures/vision_ops.npz (run ONCE, by hand; CI has no torchvision). Set torchvision
up as record_fixtures.py says, then:

    PYTHONPATH=/tmp/tvpkg python tests/vision/record_vision_ops.py

These ops exist only in torchvision's compiled library (_C.so), which is linked against the
CUDA build of torch and does not load on the CPU build. Its only missing symbols are a few
functions of libc10_cuda.so / libtorch_cuda.so (stream and device helpers that the CPU kernels
never call), so this script compiles an empty-bodied stand-in for them (gcc), and re-runs itself
with that folder and torch's lib folder on LD_LIBRARY_PATH; the CPU kernels then run unchanged.
(torchvision's own files are only executed, never read.)"""
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
STUBS = "/tmp/tv_cuda_stubs"


def _build_stubs(torch_lib, tv_dir):
    """libc10_cuda.so defining every symbol _C.so needs from c10::cuda / at::cuda (each
    aborting if ever called) and an empty libtorch_cuda.so."""
    def names(path, flag):
        res = subprocess.run(["nm", "-D", flag, path], capture_output=True, text=True)
        return {ln.split()[-1].split("@")[0] for ln in res.stdout.splitlines() if ln.strip()}
    need = names(os.path.join(tv_dir, "_C.so"), "--undefined-only")
    have = set()
    for lib in ("libc10.so", "libtorch.so", "libtorch_cpu.so", "libtorch_python.so"):
        have |= names(os.path.join(torch_lib, lib), "--defined-only")
    syms = sorted(s for s in need - have
                  if s.startswith(("_ZN3c104cuda", "_ZNK3c104cuda", "_ZN2at4cuda")))
    src = ["#include <stdlib.h>"]
    for i, s in enumerate(syms):
        if s.endswith("allocatorE"):  # a data symbol (the caching allocator's pointer)
            src.append(f'char d{i}[64] __asm__("{s}");')
        else:
            src.append(f'void f{i}(void) __asm__("{s}");\nvoid f{i}(void) {{ abort(); }}')
    os.makedirs(STUBS, exist_ok=True)
    with open(os.path.join(STUBS, "stub.c"), "w") as f:
        f.write("\n".join(src) + "\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", os.path.join(STUBS, "libc10_cuda.so"),
                    os.path.join(STUBS, "stub.c")], check=True)
    with open(os.path.join(STUBS, "empty.c"), "w") as f:
        f.write("int tv_cuda_stub_empty;\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", os.path.join(STUBS, "libtorch_cuda.so"),
                    os.path.join(STUBS, "empty.c")], check=True)


def _ensure_loadable():
    if os.environ.get("TV_CUDA_STUBS") == "1":
        return
    import importlib.util
    import torch
    torch_lib = os.path.join(os.path.dirname(torch.__file__), "lib")
    tv_dir = os.path.dirname(importlib.util.find_spec("torchvision").origin)
    _build_stubs(torch_lib, tv_dir)
    env = dict(os.environ, TV_CUDA_STUBS="1",
               LD_LIBRARY_PATH=f"{STUBS}:{torch_lib}:" + os.environ.get("LD_LIBRARY_PATH", ""))
    sys.exit(subprocess.run([sys.executable] + sys.argv, env=env).returncode)


def _run(torch, fn, arrays, kw, n_grad):
    ts = [None if a is None else torch.tensor(a, requires_grad=i < n_grad)
          for i, a in enumerate(arrays)]
    y = fn(*ts, **kw)
    import _ops_cases as cases
    (y * torch.tensor(cases.out_weights(tuple(y.shape)))).sum().backward()
    return y.detach().numpy(), [None if t is None else t.grad.numpy() for t in ts[:n_grad]]


def record(torch, tv):
    import _ops_cases as cases
    out = {}
    for name in cases.DEFORM:
        for dt in ("float64", "float32"):
            (x, off, w, b, m), kw = cases.deform_inputs(name, getattr(np, dt))

            def fn(x, off, w, b, m, **kw):
                return tv.ops.deform_conv2d(x, off, w, b, mask=m, **kw)
            y, grads = _run(torch, fn, [x, off, w, b, m], kw, 5)
            out[f"deform/{name}/{dt}/out"] = y
            for g, n in zip(grads, ("input", "offset", "weight", "bias", "mask")):
                if g is not None:
                    out[f"deform/{name}/{dt}/{n}"] = g
    x, rois = cases.ps_inputs()
    for name, (op, kw) in cases.PS.items():
        y, (g,) = _run(torch, getattr(tv.ops, op), [x, rois], kw, 1)
        out[f"{name}/out"], out[f"{name}/grad"] = y, g
    np.savez_compressed(os.path.join(HERE, "fixtures", "vision_ops.npz"), **out)
    print(f"wrote {len(out)} arrays")


if __name__ == "__main__":
    _ensure_loadable()
    import torch
    import torchvision
    record(torch, torchvision)

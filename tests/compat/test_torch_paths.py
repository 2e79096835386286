"""Every name PyTorch has at a module path that programs import from, and that Cadenza
implements, is importable from the same Cadenza path (``torch.x.y`` -> ``cadenza.x.y``, as
``python -m cadenza.compat`` maps them); names Cadenza lacks entirely are not failed here (the
coverage tool counts them). The walk is generic: the module files of ``torch.nn.modules``,
``torch.optim`` and ``torch.distributions`` are listed from PyTorch, so a class another part
adds to Cadenza is checked at its torch path as soon as it exists anywhere in Cadenza's
namespace."""
import importlib
import os
import pkgutil
import subprocess
import sys
import types
import warnings

import pytest

torch = pytest.importorskip("torch")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_FIXED = """
torch.utils.data torch.utils.data.dataloader torch.utils.data.dataset torch.utils.data.sampler
torch.utils.data.distributed torch.utils.data._utils.collate torch.utils.checkpoint
torch.autograd torch.autograd.grad_mode torch.autograd.function torch.autograd.functional
torch.autograd.anomaly_mode torch.autograd.gradcheck torch.autograd.variable torch.autograd.graph
torch.nn torch.nn.modules torch.nn.parameter torch.nn.init torch.nn.functional torch.nn.utils
torch.nn.utils.rnn torch.nn.utils.clip_grad torch.nn.utils.convert_parameters torch.nn.parallel
torch.optim torch.optim.lr_scheduler torch.types torch.random torch.backends
torch.backends.cudnn torch.backends.cuda torch.backends.mps torch.backends.cpu
torch.backends.mkldnn torch.backends.openmp torch.cuda torch.cuda.amp
torch.cuda.amp.autocast_mode torch.cuda.amp.grad_scaler torch.amp torch.amp.autocast_mode
torch.amp.grad_scaler torch.distributions torch.linalg torch.fft torch.special
torch.serialization torch.jit torch.profiler torch.utils.tensorboard torch.sparse torch.func
torch.nn.utils.stateless torch.quasirandom
""".split()


def _package_files(pkg: str):
    mod = importlib.import_module(pkg)
    return [f"{pkg}.{m.name}" for m in pkgutil.iter_modules(mod.__path__)
            if not m.name.startswith("_")]


def _torch_modules():
    mods = list(_FIXED)
    for pkg in ("torch.nn.modules", "torch.optim", "torch.distributions"):
        mods += [m for m in _package_files(pkg) if m not in mods]
    return mods


def _torch_names(mod):
    """The public names of a torch module: its __all__, else what it defines itself."""
    if hasattr(mod, "__all__"):
        return [n for n in mod.__all__ if not n.startswith("_")]
    out = []
    for n in dir(mod):
        v = getattr(mod, n, None)
        if n.startswith("_") or isinstance(v, types.ModuleType):
            continue
        owner = getattr(v, "__module__", None)
        if isinstance(owner, str) and owner.startswith("torch"):
            out.append(n)
    return out


_PKG = os.path.join(ROOT, "cadenza")


def _cadenza(path: str):
    """The Cadenza module at a torch path, or None where there is none (in this checkout: an
    editable install elsewhere may offer modules this tree does not have)."""
    name = "cadenza" + path[len("torch"):]
    rel = os.path.join(_PKG, *name.split(".")[1:])
    if name != "cadenza" and not (os.path.isdir(rel) or os.path.isfile(rel + ".py")):
        return None
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name and name.startswith(e.name):
            return None
        raise


def _implemented(path: str, name: str):
    """Where Cadenza has ``name`` for torch module ``path``: the object from the nearest
    Cadenza package above the path's own module that has it (``torch.nn.modules.rnn.GRUCell``
    -> ``cadenza.nn.modules`` or ``cadenza.nn``), or None. The top level is not searched (its
    names are the tensor functions: ``torch.nn.init.eye`` is not ``torch.eye``)."""
    parts = path.split(".")
    for cut in range(len(parts) - 1, 1, -1):
        mod = _cadenza(".".join(parts[:cut]))
        value = getattr(mod, name, None) if mod is not None else None
        if value is not None and not isinstance(value, types.ModuleType):  # optim.sgd: a file
            return value
    return None


def _cases():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in _torch_modules():
            try:
                mod = importlib.import_module(path)
            except ImportError:  # an optional torch part (tensorboard without its package)
                continue
            yield path, _torch_names(mod)


CASES = list(_cases())


@pytest.mark.parametrize("path, names", CASES, ids=[c[0] for c in CASES])
def test_names_cadenza_has_are_at_torch_paths(path, names):
    ours = _cadenza(path)
    wrong = []
    for name in names:
        value = getattr(ours, name, None) if ours is not None else None
        if value is not None and not isinstance(value, types.ModuleType):
            elsewhere = _implemented(path, name)
            if isinstance(value, type) and isinstance(elsewhere, type):
                assert value is elsewhere, f"{path}.{name} is a second class {value}"
            continue
        if _implemented(path, name) is not None:
            wrong.append(name)
    assert not wrong, (f"Cadenza has {wrong} but not at cadenza{path[len('torch'):]} "
                       f"(torch's path {path})")


def test_paths_checked_cover_the_issue_list():
    checked = {c[0] for c in CASES}
    for path in ("torch.utils.data.dataloader", "torch.nn.modules.activation",
                 "torch.nn.modules.linear", "torch.nn.modules.module", "torch.nn.utils.rnn",
                 "torch.utils.checkpoint", "torch.optim.adamw", "torch.cuda.amp",
                 "torch.nn.modules.padding", "torch.nn.modules.transformer",
                 "torch.distributions.transforms", "torch.distributions.constraint_registry",
                 "torch.distributions.transformed_distribution", "torch.distributions.utils"):
        assert path in checked


def test_classes_at_the_paths_the_issue_names():
    from cadenza.nn.modules.activation import MultiheadAttention
    from cadenza.nn.modules.linear import Linear, NonDynamicallyQuantizableLinear
    from cadenza.nn.modules.module import Module
    import cadenza
    assert MultiheadAttention is cadenza.nn.MultiheadAttention
    assert issubclass(NonDynamicallyQuantizableLinear, Linear)
    assert type(MultiheadAttention(4, 2).out_proj) is NonDynamicallyQuantizableLinear
    assert Module is cadenza.nn.Module


def test_a_program_imports_torch_paths_under_compat(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(
        "import numpy as np\n"
        "import torch\n"
        "import torch.utils.data.dataloader as dl\n"
        "from torch.utils.data.dataloader import DataLoader\n"
        "from torch.utils.data.dataset import Dataset, TensorDataset, random_split\n"
        "from torch.utils.data.sampler import BatchSampler, SequentialSampler\n"
        "from torch.utils.data.distributed import DistributedSampler\n"
        "from torch.utils.data._utils.collate import default_collate\n"
        "from torch.utils.checkpoint import checkpoint\n"
        "from torch.nn.modules.activation import MultiheadAttention\n"
        "from torch.nn.modules.linear import NonDynamicallyQuantizableLinear\n"
        "from torch.nn.modules.module import Module\n"
        "from torch.nn.modules.rnn import LSTM, LSTMCell\n"
        "from torch.nn.modules.flatten import Flatten\n"
        "from torch.nn.parameter import Parameter\n"
        "from torch.nn.utils.clip_grad import clip_grad_norm_\n"
        "from torch.optim.optimizer import Optimizer\n"
        "from torch.optim.adamw import AdamW\n"
        "from torch.optim.lr_scheduler import StepLR\n"
        "from torch.autograd.grad_mode import no_grad\n"
        "from torch.autograd.function import Function, once_differentiable\n"
        "from torch.autograd.variable import Variable\n"
        "from torch.cuda.amp import GradScaler, autocast\n"
        "from torch.amp.grad_scaler import GradScaler as G2\n"
        "from torch.types import Number\n"
        "ds = TensorDataset(torch.from_numpy(np.arange(12, dtype=np.float32).reshape(6, 2)))\n"
        "x, = next(iter(DataLoader(ds, batch_size=3)))\n"
        "lin = torch.nn.Linear(2, 2)\n"
        "checkpoint(lin, x.requires_grad_(), use_reentrant=False).sum().backward()\n"
        "print('ok', tuple(x.shape), dl.DataLoader is DataLoader, lin.weight.grad is not None)\n")
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, "-W", "ignore::FutureWarning", "-m", "cadenza.compat",
                        str(script)], capture_output=True, text=True, env=env, timeout=300,
                       cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok (3, 2) True True"

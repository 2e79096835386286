"""How much of PyTorch's public API Cadenza has, measured against an installed PyTorch:

    python -m cadenza.compat --coverage [--missing | -v] [namespace ...]

For each namespace (torch, Tensor, nn, nn.functional, optim, utils.data, linalg, fft, special,
distributions) it counts PyTorch's public names, how many Cadenza has at the same place
(``hasattr`` on the Cadenza counterpart: ``cadenza``, ``cadenza.Tensor``, ``cadenza.nn`` ...)
and prints a table (namespace, have, total, percent); ``--missing`` (or ``-v``) lists the
missing names. PyTorch is the oracle: without it the command says so in one line and exits 2.

Names not counted (``EXCLUDED``, printed under the table), and why:
- private: a leading underscore (``torch._C``, ``Tensor._version``): not API;
- submodules: ``torch.nn.functional`` as a name of ``torch.nn`` (module paths are checked by
  tests/compat/test_torch_paths.py);
- not PyTorch objects: typing and standard-library re-exports (``Optional``, ``Callable``),
  docstring fragments (``F.tf32_notes``), build flags (``torch.has_mkl``, ``USE_GLOBAL_DEPS``,
  ``TYPE_CHECKING``, ``PRIVATE_OPS``) and ``__torch_function__`` plumbing
  (``handle_torch_function``, ``has_torch_function*``, ``boolean_dispatch``);
- quantized tensors (``quantize_per_tensor``, ``q_scale``, ``int_repr``, ``qint8``,
  ``fbgemm_*``...): integer-quantized inference kernels, outside Cadenza's scope;
- named tensors (``names``, ``rename``, ``refine_names``, ``align_to``, ``align_as``):
  a prototype feature PyTorch itself marks unstable;
- vendor kernels and probes of devices Cadenza has no backend for (``cudnn_*``, ``miopen_*``,
  ``mkldnn_*``, ``is_mps``, ``is_xpu``, ``xpu()``, ``is_vulkan``...): the ``cuda`` and ``cpu``
  ones are counted;
- legacy typed storages (``FloatStorage``, ``ByteStorage``...): Cadenza has no storage layer
  (``UntypedStorage``/``TypedStorage`` stay counted).
"""
from __future__ import annotations

import importlib
import re
import sys
import types
import warnings

__all__ = ["NAMESPACES", "EXCLUDED", "excluded_reason", "public_names", "coverage", "main"]

# (row label, torch object path, Cadenza object path); "Tensor" is the class
NAMESPACES = [
    ("torch", "torch", "cadenza"),
    ("Tensor", "torch.Tensor", "cadenza.Tensor"),
    ("nn", "torch.nn", "cadenza.nn"),
    ("nn.functional", "torch.nn.functional", "cadenza.nn.functional"),
    ("optim", "torch.optim", "cadenza.optim"),
    ("utils.data", "torch.utils.data", "cadenza.utils.data"),
    ("linalg", "torch.linalg", "cadenza.linalg"),
    ("fft", "torch.fft", "cadenza.fft"),
    ("special", "torch.special", "cadenza.special"),
    ("distributions", "torch.distributions", "cadenza.distributions"),
]

_QUANTIZED = re.compile(r"quantiz|^q_|qint|quint|int_repr|fbgemm|qscheme|per_channel|"
                        r"per_tensor|^is_quantized$")
_NAMED = {"names", "rename", "rename_", "refine_names", "align_to", "align_as", "has_names"}
_DEVICES = re.compile(r"^(cudnn|miopen|mkldnn|mps|xpu|ipu|hpu|xla|mtia|maia|vulkan|nnpack)"
                      r"(_|$)|^is_(mkldnn|mps|xpu|ipu|hpu|xla|mtia|maia|vulkan)$")
_PLUMBING = {"handle_torch_function", "has_torch_function", "has_torch_function_unary",
             "has_torch_function_variadic", "boolean_dispatch", "TYPE_CHECKING", "PRIVATE_OPS",
             "USE_GLOBAL_DEPS", "USE_RTLD_GLOBAL_WITH_LIBTORCH"}
_LEGACY_STORAGE = re.compile(r"^[A-Z][A-Za-z0-9]*Storage$")

EXCLUDED = {
    "private": "a leading underscore: not API",
    "submodule": "a module, not a name (paths: tests/compat/test_torch_paths.py)",
    "not torch": "typing/stdlib re-exports, docstring fragments, build flags, "
                 "__torch_function__ plumbing",
    "quantized": "integer-quantized tensors and kernels: outside Cadenza's scope",
    "named tensors": "prototype API PyTorch marks unstable",
    "other devices": "vendor kernels and probes of devices without a Cadenza backend",
    "legacy storage": "typed storage classes: Cadenza has no storage layer",
}


def _resolve(path: str):
    """The object at a dotted path (module, or class inside one); None if it does not exist."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for p in parts[cut:]:
            obj = getattr(obj, p, None)
            if obj is None:
                return None
        return obj
    return None


def _is_torch_object(value) -> bool:
    if isinstance(value, (bool, int, float)):  # constants: torch.pi, torch.inf, torch.e
        return True
    if isinstance(value, str):
        return False
    owner = getattr(value, "__module__", None) if callable(value) else None
    if owner is None:
        owner = type(value).__module__
    return isinstance(owner, str) and owner.split(".")[0] == "torch"


def excluded_reason(name: str, value, of_class: bool = False) -> str | None:
    """Why a public-looking name of a torch namespace (a module, or a class with
    ``of_class``: every attribute of ``torch.Tensor`` is its own) is not counted (None: it
    is counted)."""
    if name.startswith("_"):
        return "private"
    if isinstance(value, types.ModuleType):
        return "submodule"
    if name in _PLUMBING or (not of_class and (name.startswith(("has_", "USE_")) or
                                               not _is_torch_object(value))):
        return "not torch"
    if _QUANTIZED.search(name):
        return "quantized"
    if name in _NAMED:
        return "named tensors"
    if _DEVICES.search(name):
        return "other devices"
    if _LEGACY_STORAGE.match(name) and name not in ("UntypedStorage", "TypedStorage"):
        return "legacy storage"
    return None


def public_names(obj) -> tuple[list[str], dict[str, int]]:
    """The counted public names of a torch namespace, and how many of each exclusion reason."""
    names, skipped = [], {}
    of_class = isinstance(obj, type)
    for name in dir(obj):
        try:
            value = getattr(obj, name)
        except Exception:  # a lazy attribute that fails to load is not counted
            skipped["not torch"] = skipped.get("not torch", 0) + 1
            continue
        why = excluded_reason(name, value, of_class)
        if why is None:
            names.append(name)
        else:
            skipped[why] = skipped.get(why, 0) + 1
    return sorted(names), skipped


def _has(obj, name: str) -> bool:
    if obj is None:
        return False
    try:
        return hasattr(obj, name)
    except Exception:
        return False


def coverage(only=None):
    """[(label, have, total, missing names, exclusion counts)] for each namespace."""
    rows = []
    for label, torch_path, cadenza_path in NAMESPACES:
        if only and label not in only:
            continue
        names, skipped = public_names(_resolve(torch_path))
        ours = _resolve(cadenza_path)
        missing = [n for n in names if not _has(ours, n)]
        rows.append((label, len(names) - len(missing), len(names), missing, skipped))
    return rows


def _format(rows, show_missing: bool) -> str:
    lines = [f"{'namespace':<16}{'have':>6}{'total':>7}{'percent':>9}"]
    for label, have, total, _, _ in rows:
        pct = 100.0 * have / total if total else 100.0
        lines.append(f"{label:<16}{have:>6}{total:>7}{pct:>8.1f}%")
    have = sum(r[1] for r in rows)
    total = sum(r[2] for r in rows)
    lines.append(f"{'all':<16}{have:>6}{total:>7}{100.0 * have / max(total, 1):>8.1f}%")
    if show_missing:
        for label, _, _, missing, _ in rows:
            if missing:
                lines.append(f"\nmissing in {label} ({len(missing)}):")
                lines.append("  " + ", ".join(missing))
    lines.append("\nnot counted (per namespace: names skipped):")
    for why, text in EXCLUDED.items():
        counts = ", ".join(f"{r[0]} {r[4][why]}" for r in rows if r[4].get(why))
        lines.append(f"  {why}: {text}" + (f" [{counts}]" if counts else ""))
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    show_missing = False
    only = []
    for a in argv:
        if a in ("--missing", "-v", "--verbose"):
            show_missing = True
        elif a == "--coverage":
            continue
        elif a.startswith("-"):
            print(f"cadenza.compat --coverage: unknown option {a!r}", file=sys.stderr)
            return 2
        else:
            only.append(a)
    known = {row[0] for row in NAMESPACES}
    if any(n not in known for n in only):
        print(f"cadenza.compat --coverage: unknown namespace(s) "
              f"{sorted(set(only) - known)}; known: {', '.join(sorted(known))}",
              file=sys.stderr)
        return 2
    try:
        import torch  # the oracle: an optional install
        if torch.__name__ != "torch":  # compat's alias (cadenza itself) is no oracle
            raise ImportError
    except ImportError:
        print("cadenza.compat --coverage needs PyTorch installed (it is the reference the "
              "names are counted against)", file=sys.stderr)
        return 2
    with warnings.catch_warnings():  # deprecated torch names warn when read
        warnings.simplefilter("ignore")
        rows = coverage(only)
    print(_format(rows, show_missing))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The layer order of docs/ARCHITECTURE.md, enforced: every import in the package (top-level
and inside functions) points to the same or a lower layer, the module graph has no cycles
(importing ``a.b.c`` also runs the package ``a.b``'s ``__init__``), nothing imports the
top-level ``cadenza`` package from inside it, and in-function imports are rare and explained.
"""
from __future__ import annotations

import ast
import fnmatch
import functools
import pathlib
import sys

PKG = pathlib.Path(__file__).resolve().parents[1] / "cadenza"

# Bottom to top; a module may import only from its own layer or the layers before it.
# A module matches the first pattern that fits; every module must match one.
LAYERS = [
    ("foundation", ["cadenza.errors", "cadenza._config", "cadenza._dispatch", "cadenza.device",
                    "cadenza.dtypes", "cadenza.backend", "cadenza.backend.*", "cadenza._repr",
                    "cadenza._trace_hooks", "cadenza._version", "cadenza.types"]),
    ("tensor", ["cadenza._tensor_base", "cadenza.random", "cadenza.autograd",
                "cadenza.autograd.grad_mode", "cadenza.autograd.node",
                "cadenza.autograd.views"]),
    ("ops", ["cadenza.ops", "cadenza.ops.*", "cadenza._creation", "cadenza._argforms",
             "cadenza._out",
             "cadenza.autograd.anomaly"]),
    ("autograd", ["cadenza.autograd.*"]),
    ("functional", ["cadenza.functional", "cadenza.functional.*", "cadenza.fft",
                    "cadenza.linalg", "cadenza.special"]),
    ("tensor api", ["cadenza._tensor_api", "cadenza._tensor_api.*", "cadenza._tensor",
                    "cadenza._sparse_compressed"]),
    ("library", ["cadenza.nn", "cadenza.nn.*", "cadenza.optim", "cadenza.optim.*",
                 "cadenza.data", "cadenza.data.*", "cadenza.utils", "cadenza.utils.*",
                 "cadenza.io", "cadenza.io.*", "cadenza.serialization", "cadenza.profiler",
                 "cadenza.distributions",
                 "cadenza.distributions.*", "cadenza.distributed", "cadenza.distributed.*",
                 "cadenza.amp", "cadenza.amp.*", "cadenza.cuda", "cadenza.cuda.*",
                 "cadenza.accelerator", "cadenza.backends",
                 "cadenza.backends.*", "cadenza._legacy", "cadenza.sparse",
                 "cadenza._torch_functions", "cadenza.func", "cadenza._batching",
                 "cadenza.testing", "cadenza.version", "cadenza.cpu", "cadenza.cpu.*",
                 "cadenza._torch_extras", "cadenza.hub",
                 "cadenza.multiprocessing", "cadenza.futures", "cadenza._stream",
                 "cadenza._torch_native", "cadenza.quasirandom", "cadenza._sobol_directions"]),
    ("graph", ["cadenza.graph", "cadenza.graph.*"]),
    ("codegen", ["cadenza.codegen", "cadenza.codegen.*"]),
    ("compiler", ["cadenza.compiler", "cadenza.compiler.*", "cadenza.jit", "cadenza._dynamo"]),
    ("export", ["cadenza.onnx", "cadenza.onnx.*"]),
    ("applications", ["cadenza.models", "cadenza.models.*", "cadenza.serve", "cadenza.serve.*",
                      "cadenza.vision",
                      "cadenza.vision.*", "cadenza.cli", "cadenza.compat",
                      "cadenza.compat_coverage",
                      "cadenza.__main__", "cadenza"]),
]

# Optional extras and heavy libraries: importing them inside a function keeps `import cadenza`
# fast and the extra optional, so such imports need no further reason.
LAZY_OK = {"ml_dtypes", "safetensors", "tokenizers", "tqdm", "matplotlib", "onnx",
           "onnxruntime", "mpi4py", "cupy", "cupyx", "PIL", "jinja2", "transformers", "torch",
           "aiohttp"}
MAX_IN_FUNCTION = 30


def _module_name(path: pathlib.Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@functools.lru_cache(maxsize=None)
def _modules() -> dict:
    return {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _resolve(mod: str, is_pkg: bool, node, modules) -> list[str]:
    """The package modules an import statement loads."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names if a.name.split(".")[0] == "cadenza"]
    else:
        if node.level:
            base = mod.split(".")
            if not is_pkg:
                base = base[:-1]
            base = base[:len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        if target.split(".")[0] != "cadenza":
            return []
        names = [f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target
                 for a in node.names]
    out = []
    for n in names:
        while n not in modules and "." in n:
            n = n.rsplit(".", 1)[0]
        out.append(n)
    return out


@functools.lru_cache(maxsize=None)
def _imports():
    """(edges: module -> {modules}, in_function: [(module, line, text, top-level name)])."""
    modules = _modules()
    edges: dict = {m: set() for m in modules}
    in_function = []
    for mod, path in modules.items():
        source = path.read_text()
        tree = ast.parse(source)
        lines = source.splitlines()
        parents = {c: n for n in ast.walk(tree) for c in ast.iter_child_nodes(n)}
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            targets = _resolve(mod, path.name == "__init__.py", node, modules)
            for t in targets:
                # importing a.b.c runs the __init__ of a.b first: a dependency on it too, unless
                # a.b is the importer's own package (initialised before the importer runs) or
                # the root (the entry point every import starts from)
                edges[mod].add(t)
                parts = t.split(".")
                for i in range(2, len(parts)):
                    prefix = ".".join(parts[:i])
                    if not mod.startswith(prefix + "."):
                        edges[mod].add(prefix)
            q, inside = node, False
            while q in parents:
                q = parents[q]
                if isinstance(q, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    inside = True
                    break
            if inside:
                first = (node.names[0].name if isinstance(node, ast.Import)
                         else (node.module or "")).split(".")[0]
                in_function.append((mod, node.lineno, lines[node.lineno - 1].strip(),
                                    "cadenza" if getattr(node, "level", 0) else first))
        edges[mod].discard(mod)
    return edges, in_function


def _layer_of(mod: str) -> int:
    for i, (_, patterns) in enumerate(LAYERS):
        if any(fnmatch.fnmatchcase(mod, p) for p in patterns):
            return i
    raise AssertionError(f"{mod} is in no layer: add it to LAYERS and docs/ARCHITECTURE.md")


def test_every_module_has_a_layer():
    for mod in _modules():
        _layer_of(mod)


def test_imports_point_down():
    edges, _ = _imports()
    upward = [f"{a} ({LAYERS[_layer_of(a)][0]}) imports {b} ({LAYERS[_layer_of(b)][0]})"
              for a, targets in sorted(edges.items()) for b in sorted(targets)
              if _layer_of(b) > _layer_of(a)]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_no_import_cycles():
    edges, _ = _imports()
    index: dict = {}
    low: dict = {}
    stack: list = []
    on_stack: set = set()
    cycles = []
    counter = [0]
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w == "cadenza":
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_nothing_imports_the_top_level_package():
    """Only the applications layer may (the model files are written against the public API,
    ``import cadenza``, like a user's script); the top level loads them lazily, never at import
    time, which test_no_import_cycles checks."""
    edges, _ = _imports()
    top = len(LAYERS) - 1
    offenders = sorted(m for m, targets in edges.items()
                       if "cadenza" in targets and _layer_of(m) != top)
    assert not offenders, f"these modules import the top-level cadenza package: {offenders}"


def test_in_function_imports_are_rare_and_explained():
    _, in_function = _imports()
    unexplained = [f"{m}:{line}: {text}" for m, line, text, first in in_function
                   if first not in LAZY_OK and "#" not in text]
    assert not unexplained, ("in-function imports without a reason (move them to the top, or "
                             "say why on the line):\n" + "\n".join(unexplained))
    assert len(in_function) <= MAX_IN_FUNCTION, (
        f"{len(in_function)} in-function imports (at most {MAX_IN_FUNCTION}):\n"
        + "\n".join(f"{m}:{line}: {text}" for m, line, text, _ in in_function))


def test_layer_table_matches_the_doc():
    doc = (PKG.parent / "docs" / "ARCHITECTURE.md").read_text()
    for name, patterns in LAYERS:
        assert f"**{name}**" in doc, f"layer {name!r} is not described in docs/ARCHITECTURE.md"
        for p in patterns:
            assert f"`{p.removeprefix('cadenza.') if p != 'cadenza' else p}`" in doc, (
                f"{p} (layer {name}) is not listed in docs/ARCHITECTURE.md")

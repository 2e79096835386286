"""``torch.hub`` without a network: models from a local ``hubconf.py`` and checkpoints already
in the hub cache. Cadenza downloads nothing; where torch would fetch a repository or a file the
call raises ``HubDownloadError`` naming the file and where to put it.

- ``load(repo_or_dir, model, *args, source='local', **kwargs)`` imports ``repo_or_dir``'s
  ``hubconf.py`` (the repository's own code, as torch runs it; the directory is first on
  ``sys.path`` while it loads), checks its ``dependencies`` and calls the entrypoint. A
  ``'owner/repo[:ref]'`` with ``source='github'`` uses a copy torch already checked out in the
  hub directory (``<hub_dir>/owner_repo_ref``), if there is one.
- ``list`` / ``help``: the entrypoints and one's docstring, for the same places.
- ``get_dir`` / ``set_dir``: ``$TORCH_HOME/hub`` by default (``~/.cache/torch/hub``).
- ``load_state_dict_from_url`` reads ``<hub_dir>/checkpoints/<file name>`` (or ``model_dir``)
  with ``cadenza.load``, which never unpickles: a file torch pickled raises its
  ``CheckpointError`` with how to convert it, and no code from it runs.
  ``download_url_to_file`` copies a file found there (or a ``file://`` URL) to ``dst``.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import sys
import uuid
from urllib.parse import urlparse

from . import _config
from .io.checkpoint import load as _load

__all__ = ["load", "list", "help", "get_dir", "set_dir", "load_state_dict_from_url",
           "download_url_to_file", "HubDownloadError"]

MODULE_HUBCONF = "hubconf.py"
VAR_DEPENDENCY = "dependencies"
HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")
_hub_dir: list = [None]


class HubDownloadError(RuntimeError):
    """What torch.hub would download is not here; Cadenza never downloads."""


def get_dir() -> str:
    """The hub directory: ``set_dir``'s, else ``$TORCH_HOME/hub``."""
    return _hub_dir[0] if _hub_dir[0] is not None else os.path.join(_config.torch_home(), "hub")


def set_dir(d) -> None:
    _hub_dir[0] = os.path.expanduser(os.fspath(d))


def _repo_dir(repo_or_dir: str, source: str, name: str) -> str:
    if source not in ("github", "local"):
        raise ValueError(f'Unknown source: "{source}". Allowed values: "github" | "local".')
    if source == "local":
        if not os.path.isdir(repo_or_dir):
            raise FileNotFoundError(f"{name}: {repo_or_dir!r} is not a directory (source='local' "
                                    f"loads a directory that holds a {MODULE_HUBCONF})")
        return repo_or_dir
    owner_repo, _, ref = repo_or_dir.partition(":")
    if owner_repo.count("/") != 1:
        raise ValueError(f'{name}: repo_or_dir must be of the form "repo_owner/repo_name[:ref]" '
                         f"for source='github', got {repo_or_dir!r}")
    stem = owner_repo.replace("/", "_")
    tried = [os.path.join(get_dir(), f"{stem}_{r}".replace("/", "_"))
             for r in ([ref] if ref else ["main", "master"])]
    for d in tried:
        if os.path.isfile(os.path.join(d, MODULE_HUBCONF)):
            return d
    raise HubDownloadError(
        f"{name}: {repo_or_dir!r} is not in the hub cache ({' or '.join(tried)}) and Cadenza "
        f"downloads nothing. Clone the repository and pass its directory with source='local'.")


def _import_hubconf(repo_dir: str, name: str):
    path = os.path.join(repo_dir, MODULE_HUBCONF)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{name}: no {MODULE_HUBCONF} in {repo_dir!r}")
    spec = importlib.util.spec_from_file_location(f"hubconf_{uuid.uuid4().hex}", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, repo_dir)
    try:
        spec.loader.exec_module(module)
    finally:
        try:
            sys.path.remove(repo_dir)
        except ValueError:
            pass
    missing = [d for d in getattr(module, VAR_DEPENDENCY, None) or ()
               if importlib.util.find_spec(d) is None]
    if missing:
        raise RuntimeError(f"Missing dependencies: {', '.join(missing)}")
    return module


def _entry(module, model: str):
    if not isinstance(model, str):
        raise ValueError("Invalid input: model should be a string of function name")
    fn = getattr(module, model, None)
    if fn is None or not callable(fn):
        raise RuntimeError(f"Cannot find callable {model} in hubconf")
    return fn


def list(github, force_reload=False, skip_validation=False, trust_repo="check",  # noqa: A001
         verbose=True, *, source=None):
    """The entrypoints (public callables) of a hubconf: a local directory, or a repository
    torch already checked out in the hub directory."""
    source = source or ("local" if os.path.isdir(str(github)) else "github")
    module = _import_hubconf(_repo_dir(str(github), source, "hub.list"), "hub.list")
    return [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n))]


def help(github, model, force_reload=False, skip_validation=False,  # noqa: A001
         trust_repo="check", *, source=None):
    """The docstring of entrypoint ``model``."""
    source = source or ("local" if os.path.isdir(str(github)) else "github")
    module = _import_hubconf(_repo_dir(str(github), source, "hub.help"), "hub.help")
    return _entry(module, model).__doc__


def load(repo_or_dir, model, *args, source="github", trust_repo="check", force_reload=False,
         verbose=True, skip_validation=False, **kwargs):
    """``model(*args, **kwargs)`` from ``repo_or_dir``'s hubconf.py (``source='local'``: a
    directory; ``'github'``: a copy already in the hub cache, never downloaded)."""
    module = _import_hubconf(_repo_dir(os.fspath(repo_or_dir), str(source).lower(), "hub.load"),
                             "hub.load")
    return _entry(module, model)(*args, **kwargs)


def _cached(url: str, model_dir, file_name, name: str) -> str:
    directory = model_dir if model_dir is not None else os.path.join(get_dir(), "checkpoints")
    path = os.path.join(directory, file_name or os.path.basename(urlparse(url).path))
    if not os.path.isfile(path):
        raise HubDownloadError(
            f"{name}: {path} is not in the hub cache and Cadenza downloads nothing; fetch {url} "
            f"yourself and put it there (a file torch.save wrote must first be converted: "
            f"see cadenza.load's error for it)")
    return path


def _check_hash(path: str, prefix: str, name: str) -> None:
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            sha.update(chunk)
    digest = sha.hexdigest()
    if not digest.startswith(prefix):
        raise RuntimeError(f'{name}: invalid hash value of {path} (expected "{prefix}", got '
                           f'"{digest}")')


def load_state_dict_from_url(url: str, model_dir=None, map_location=None, progress=True,
                             check_hash=False, file_name=None, weights_only=False):
    """The checkpoint ``url`` names, read from the hub cache (``<hub_dir>/checkpoints/<file>``
    or ``model_dir``) with ``cadenza.load`` (never unpickles); ``check_hash``: the file's
    sha256 must start with the hex digits after the last '-' of its name, as torch's."""
    path = _cached(url, model_dir, file_name, "hub.load_state_dict_from_url")
    if check_hash:
        m = HASH_REGEX.search(os.path.basename(path))
        if m:
            _check_hash(path, m.group(1), "hub.load_state_dict_from_url")
    return _load(path, map_location=map_location, weights_only=weights_only)


def download_url_to_file(url: str, dst: str, hash_prefix=None, progress=True) -> None:
    """Copy the file ``url`` names to ``dst``: a ``file://`` URL, or a file of that name in the
    hub cache's checkpoints; anything else raises (Cadenza downloads nothing)."""
    parsed = urlparse(url)
    src = parsed.path if parsed.scheme == "file" else \
        _cached(url, None, None, "hub.download_url_to_file")
    if not os.path.isfile(src):
        raise FileNotFoundError(f"hub.download_url_to_file: no file {src}")
    if hash_prefix is not None:
        _check_hash(src, hash_prefix, "hub.download_url_to_file")
    dst = os.path.expanduser(os.fspath(dst))
    tmp = f"{dst}.{uuid.uuid4().hex}.partial"
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


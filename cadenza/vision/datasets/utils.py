"""Integrity checks, downloads (when there is a network) and the restricted unpickler that reads
CIFAR's python batches without executing anything."""
from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import os
import pickle
import urllib.request

import numpy as np

__all__ = ["calculate_md5", "check_md5", "check_integrity", "download_url", "safe_unpickle",
           "DatasetFileError", "verify_str_arg", "download_or_explain", "extract_archive"]


class DatasetFileError(RuntimeError):
    """A dataset file is missing, unreadable or corrupt (the message names it)."""


def calculate_md5(fpath, chunk_size=1024 * 1024) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    with open(fpath, "rb") as f:
        while chunk := f.read(chunk_size):
            md5.update(chunk)
    return md5.hexdigest()


def check_md5(fpath, md5, **kwargs) -> bool:
    return md5 == calculate_md5(fpath, **kwargs)


def check_integrity(fpath, md5=None) -> bool:
    """torchvision's rule: the file exists and, when ``md5`` is given, has that checksum."""
    if not os.path.isfile(fpath):
        return False
    return md5 is None or check_md5(fpath, md5)


def download_url(urls, root, filename, md5=None, timeout=30):
    """Fetch ``filename`` into ``root`` from the first of ``urls`` that answers; an existing file
    with the right checksum is kept. No network: one line naming the file and where it goes."""
    fpath = os.path.join(root, filename)
    if check_integrity(fpath, md5):
        return fpath
    if os.path.isfile(fpath):
        raise DatasetFileError(f"{fpath} is corrupt: its md5 is {calculate_md5(fpath)}, "
                               f"expected {md5}; delete it to download it again")
    os.makedirs(root, exist_ok=True)
    errors = []
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                data = r.read()
        except (OSError, ValueError) as e:
            errors.append(f"{url}: {e}")
            continue
        if md5 is not None and hashlib.md5(data, usedforsecurity=False).hexdigest() != md5:
            errors.append(f"{url}: md5 mismatch")
            continue
        tmp = fpath + ".part"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, fpath)
        return fpath
    raise DatasetFileError(f"{filename} is not in {root} and could not be downloaded "
                           f"({'; '.join(errors)}): put the file there and retry")


def download_or_explain(ds, url, folder, filename, md5, expected):
    """Fetch ``filename`` for dataset ``ds``; offline, one line naming what ``ds`` expects
    (``expected``) in ``folder``."""
    try:
        return download_url([url], folder, filename, md5)
    except DatasetFileError as e:
        if os.path.isfile(os.path.join(folder, filename)):
            raise
        raise DatasetFileError(f"{type(ds).__name__}: expected {expected} in {folder}; not "
                               f"there and downloading failed ({e})") from None


def extract_archive(from_path, to_path=None):
    """Unpack a .tar[.gz|.xz], .tgz or .zip archive (members may not leave ``to_path``)."""
    import tarfile   # reason: stdlib archive readers, needed only after a download
    import zipfile   # reason: as above
    to_path = os.path.dirname(from_path) if to_path is None else to_path
    if zipfile.is_zipfile(from_path):
        with zipfile.ZipFile(from_path) as z:
            z.extractall(to_path)
    else:
        with tarfile.open(from_path) as t:
            t.extractall(to_path, filter="data")
    return to_path


def verify_str_arg(value, arg=None, valid_values=None, custom_msg=None):
    """torchvision's check of a string argument against its valid values (ValueError)."""
    if not isinstance(value, str):
        msg = "Expected type str" + (f" for argument {arg}" if arg else "") + \
            f", but got type {type(value)}."
        raise ValueError(msg)
    if valid_values is None or value in valid_values:
        return value
    if custom_msg is not None:
        raise ValueError(custom_msg)
    raise ValueError(f"Unknown value '{value}' for argument {arg}. Valid values are "
                     f"{{{', '.join(repr(v) for v in valid_values)}}}.")


def read_maybe_gzip(path) -> bytes:
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".gz") or data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise DatasetFileError(f"{path} is corrupt: not a readable gzip file ({e})") from None
    return data


def _reconstruct():
    core = getattr(np, "_core", None) or np.core
    return core.multiarray._reconstruct


# the only globals a CIFAR batch refers to: NumPy's array and dtype rebuilders, and the codec
# Python 2 pickles use for byte strings
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("_codecs", "encode"): lambda: codecs.encode,
}


class _Refused(pickle.UnpicklingError):
    pass


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        make = _ALLOWED.get((module, name))
        if make is None:
            raise _Refused(
                f"refusing to load global '{module}.{name}': only NumPy arrays, lists, dicts, "
                "bytes, str and numbers are accepted")
        return make()


def safe_unpickle(path):
    """Load a pickle that may hold only NumPy arrays, lists, dicts, bytes, str and numbers."""
    try:
        with open(path, "rb") as f:
            return _RestrictedUnpickler(io.BytesIO(f.read()), encoding="latin1").load()
    except _Refused as e:
        raise DatasetFileError(f"{path}: {e}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError,
            AttributeError) as e:
        raise DatasetFileError(f"{path} is corrupt: not a readable python batch "
                               f"({type(e).__name__}: {e})") from None

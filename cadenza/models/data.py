"""Language-model data: a corpus of text files tokenized once into a memory-mapped token file,
split into train and validation, and served as random windows from a seeded generator.

    >>> files = find_files(["src/"], extensions=[".py"])       # or default_corpus_files()
    >>> data = TokenData.build(files, ByteTokenizer(), "out/data")
    >>> g = cadenza.Generator().manual_seed(0)
    >>> x, y = data.batch("train", batch_size=16, block_size=128, generator=g)  # (16, 128) each

The batch position is entirely the generator's state, so saving ``g.get_state()`` in a
checkpoint and restoring it resumes the exact stream of batches.
"""
from __future__ import annotations

import hashlib
import json
import os
import sysconfig
from typing import List, Optional, Sequence

import numpy as np

import cadenza

DEFAULT_MAX_BYTES = 4_000_000
_SKIP_DIRS = {"site-packages", "dist-packages", "test", "tests", "idle_test", "encodings",
              "__pycache__", "lib2to3", "turtledemo"}


class DataError(ValueError):
    """Bad corpus input; the CLI turns it into a one-line error and exit code 2."""


def find_files(paths: Sequence[str], extensions: Optional[Sequence[str]] = None) -> List[str]:
    """Files named in ``paths``, and those under directories in it (recursively, sorted, only
    names ending in one of ``extensions`` when given)."""
    exts = tuple(e if e.startswith(".") else "." + e for e in extensions) if extensions else None
    out: List[str] = []
    for p in paths:
        if os.path.isdir(p):
            found = []
            for root, dirs, names in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for n in names:
                    if exts is None or n.endswith(exts):
                        found.append(os.path.join(root, n))
            out.extend(sorted(found))
        elif os.path.isfile(p):
            out.append(p)
        else:
            raise DataError(f"corpus: expected an existing file or directory, got {p!r}")
    if not out:
        what = f" with extension {', '.join(exts)}" if exts else ""
        raise DataError(f"corpus: found no files{what} in {', '.join(map(str, paths))}")
    return out


def default_corpus_files(max_bytes: int = DEFAULT_MAX_BYTES) -> List[str]:
    """The Python standard library's own .py sources (no tests, no site-packages), in sorted
    path order, up to about ``max_bytes``."""
    root = sysconfig.get_paths()["stdlib"]
    found = []
    for r, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        found.extend(os.path.join(r, n) for n in names if n.endswith(".py"))
    found.sort(key=lambda f: os.path.relpath(f, root))
    out, total = [], 0
    for f in found:
        size = os.path.getsize(f)
        if total + size > max_bytes:
            continue
        out.append(f)
        total += size
    if not out:
        raise DataError(f"corpus: no .py files found under the stdlib at {root}")
    return out


def token_dtype(vocab_size: int):
    if vocab_size <= 256:
        return np.uint8
    if vocab_size <= 65536:
        return np.uint16
    return np.uint32


def _fingerprint(files: Sequence[str], tokenizer_id: str, val_fraction: float) -> str:
    h = hashlib.sha256(f"{tokenizer_id}|{val_fraction}".encode())
    for f in files:
        st = os.stat(f)
        h.update(f"{os.path.abspath(f)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


class TokenData:
    """Train and validation token streams backed by one memory-mapped file."""

    def __init__(self, path: str, meta: dict):
        self.path, self.meta = path, meta
        tokens = np.memmap(path, dtype=np.dtype(meta["dtype"]), mode="r",
                           shape=(meta["n_tokens"],))
        n_train = meta["n_train"]
        self.splits = {"train": tokens[:n_train], "val": tokens[n_train:]}

    @classmethod
    def build(cls, files: Sequence[str], tokenizer, directory: str,
              val_fraction: float = 0.1, min_tokens: int = 2) -> "TokenData":
        """Tokenize ``files`` into ``directory/tokens.bin`` (reused when the files and tokenizer
        are unchanged). Each split must hold at least ``min_tokens`` tokens."""
        if not 0.0 < val_fraction < 1.0:
            raise DataError(f"corpus: expected 0 < val_fraction < 1, got {val_fraction}")
        tok_id = json.dumps({"kind": tokenizer.kind, "vocab": tokenizer.vocab_size})
        if tokenizer.kind != "byte":
            tok_id += hashlib.sha256(repr(tokenizer.encode("def f(x): return x")).encode()
                                     ).hexdigest()
        fp = _fingerprint(files, tok_id, val_fraction)
        path = os.path.join(directory, "tokens.bin")
        meta_path = os.path.join(directory, "tokens.json")
        if os.path.exists(meta_path) and os.path.exists(path):
            with open(meta_path) as f:
                meta = json.load(f)
            if meta.get("fingerprint") == fp:
                return cls(path, meta)
        dtype = token_dtype(tokenizer.vocab_size)
        chunks = []
        for fname in files:
            with open(fname, "rb") as f:
                data = f.read()
            if data:
                if not data.endswith(b"\n"):
                    data += b"\n"
                chunks.append(np.asarray(tokenizer.encode_bytes(data), dtype=dtype))
        n = int(sum(len(c) for c in chunks))
        n_val = int(n * val_fraction)
        if n == 0:
            raise DataError(f"corpus: the {len(files)} file(s) given are empty")
        if min(n - n_val, n_val) < min_tokens:
            raise DataError(f"corpus: {n} tokens give a train/val split of {n - n_val}/{n_val},"
                            f" but each split needs at least {min_tokens} tokens (one context "
                            "window + 1); give a larger corpus or a smaller --block-size")
        os.makedirs(directory, exist_ok=True)
        tmp = path + ".tmp"
        mm = np.memmap(tmp, dtype=dtype, mode="w+", shape=(n,))
        i = 0
        for c in chunks:
            mm[i:i + len(c)] = c
            i += len(c)
        mm.flush()
        del mm
        os.replace(tmp, path)
        meta = {"fingerprint": fp, "dtype": np.dtype(dtype).name, "n_tokens": n,
                "n_train": n - n_val, "n_files": len(files), "vocab_size": tokenizer.vocab_size}
        with open(meta_path + ".tmp", "w") as f:
            json.dump(meta, f)
        os.replace(meta_path + ".tmp", meta_path)
        return cls(path, meta)

    def __len__(self) -> int:
        return self.meta["n_tokens"]

    def check_block(self, block_size: int) -> None:
        for split, arr in self.splits.items():
            if len(arr) < block_size + 1:
                raise DataError(f"corpus: the {split} split has {len(arr)} tokens, fewer than "
                                f"one context window + 1 ({block_size + 1}); give a larger "
                                "corpus or a smaller --block-size")

    def batch(self, split: str, batch_size: int, block_size: int, generator=None):
        """Random windows: x (B, T) int64 and y = x shifted by one token (B, T)."""
        arr = self.splits[split]
        hi = len(arr) - block_size
        if hi < 1:
            self.check_block(block_size)
        starts = cadenza.randint(0, hi, (batch_size,), generator=generator).numpy()
        rows = np.stack([arr[s:s + block_size + 1] for s in starts]).astype(np.int64)
        return cadenza.from_numpy(rows[:, :-1].copy()), cadenza.from_numpy(rows[:, 1:].copy())

    def sequential_batches(self, split: str, batch_size: int, block_size: int,
                           max_batches: Optional[int] = None):
        """Non-overlapping windows in order (deterministic evaluation)."""
        arr = self.splits[split]
        n_win = (len(arr) - 1) // block_size
        starts = np.arange(n_win) * block_size
        if max_batches is not None and max_batches * batch_size < n_win:
            # spread the evaluated windows evenly over the split, not just its first files
            pick = np.linspace(0, n_win - 1, max_batches * batch_size).round().astype(np.int64)
            starts = starts[pick]
            n_win = len(starts)
        done = 0
        for i in range(0, n_win, batch_size):
            if max_batches is not None and done >= max_batches:
                return
            s = starts[i:i + batch_size]
            rows = np.stack([arr[j:j + block_size + 1] for j in s]).astype(np.int64)
            yield cadenza.from_numpy(rows[:, :-1].copy()), cadenza.from_numpy(rows[:, 1:].copy())
            done += 1

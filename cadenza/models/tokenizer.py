"""Tokenizers for the language model: bytes (the default, no dependency) and byte-level BPE
trained with the optional ``tokenizers`` package. Both save to and load from a
``tokenizer.json`` beside the checkpoint.

    >>> tok = ByteTokenizer()
    >>> tok.decode(tok.encode("def f():"))
    'def f():'
    >>> bpe = BPETokenizer.train(["a.py", "b.py"], vocab_size=1024)   # needs `tokenizers`
    >>> bpe.save("out/")        # out/tokenizer.json; load_tokenizer("out/") reads it back
"""
from __future__ import annotations

import codecs
import json
import os
from typing import Iterable, List, Sequence

FILENAME = "tokenizer.json"


class ByteTokenizer:
    """UTF-8 bytes as tokens: vocab 256, any text round-trips exactly."""

    kind = "byte"
    vocab_size = 256

    def encode(self, text: str) -> List[int]:
        return list(text.encode("utf-8"))

    def encode_bytes(self, data: bytes) -> List[int]:
        return list(data)

    def decode(self, ids: Iterable[int]) -> str:
        return bytes(int(i) for i in ids).decode("utf-8", errors="replace")

    def stream_decoder(self) -> "_ByteStream":
        """An object whose ``.push(ids) -> str`` returns the text completed so far, holding a
        partial multi-byte character until its last byte arrives."""
        return _ByteStream()

    def token_id(self, s: str) -> int:
        b = s.encode("utf-8")
        if len(b) != 1:
            raise ValueError(f"ByteTokenizer: expected a one-byte token, got {s!r}")
        return b[0]

    def save(self, directory: str) -> str:
        return _write_json(directory, {"cadenza_tokenizer": "byte", "vocab_size": 256})


class _ByteStream:
    def __init__(self):
        self._dec = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def push(self, ids: Sequence[int]) -> str:
        return self._dec.decode(bytes(int(i) for i in ids))

    def flush(self) -> str:
        return self._dec.decode(b"", final=True)


def _require_tokenizers():
    try:  # an optional extra (cadenza[llm]): imported on first use of the BPE tokenizer
        import tokenizers
    except ImportError:
        raise ImportError("BPE tokenizer: the optional package 'tokenizers' is not installed; "
                          "run `pip install tokenizers` or use the byte tokenizer") from None
    return tokenizers


class BPETokenizer:
    """Byte-level BPE (as GPT-2) backed by Hugging Face ``tokenizers``."""

    kind = "bpe"

    def __init__(self, tk):
        self._tk = tk
        self.vocab_size = tk.get_vocab_size()

    @classmethod
    def train(cls, files: Sequence[str], vocab_size: int = 4096,
              texts: Iterable[str] = None) -> "BPETokenizer":
        """Learn merges from ``files`` (paths) or ``texts`` (strings), deterministically."""
        tk_lib = _require_tokenizers()
        models, decoders = tk_lib.models, tk_lib.decoders
        pre_tokenizers, trainers = tk_lib.pre_tokenizers, tk_lib.trainers
        if vocab_size < 257:
            raise ValueError(f"BPETokenizer: expected vocab_size > 256, got {vocab_size}")
        tk = tk_lib.Tokenizer(models.BPE())
        tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tk.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                      special_tokens=["<|endoftext|>"])
        if texts is not None:
            tk.train_from_iterator(texts, trainer=trainer)
        else:
            tk.train([str(f) for f in files], trainer=trainer)
        return cls(tk)

    def encode(self, text: str, add_special_tokens: bool = True) -> List[int]:
        """``add_special_tokens=False`` skips the post-processor's extra tokens (a Llama
        tokenizer's BOS), for text that writes them itself, such as a rendered chat template."""
        return self._tk.encode(text, add_special_tokens=add_special_tokens).ids

    def encode_bytes(self, data: bytes) -> List[int]:
        return self.encode(data.decode("utf-8", errors="replace"))

    def decode(self, ids: Iterable[int]) -> str:
        return self._tk.decode([int(i) for i in ids])

    def stream_decoder(self) -> "_DiffStream":
        return _DiffStream(self)

    def token_id(self, s: str) -> int:
        i = self._tk.token_to_id(s)
        if i is None:
            ids = self.encode(s)
            if len(ids) != 1:
                raise ValueError(f"BPETokenizer: {s!r} is not a single token")
            i = ids[0]
        return i

    def save(self, directory: str) -> str:
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, FILENAME)
        tmp = path + ".tmp"
        self._tk.save(tmp)
        os.replace(tmp, path)
        return path


class _DiffStream:
    """Decodes the whole sequence each time and returns the new suffix (BPE tokens may merge
    bytes of one character across tokens)."""

    def __init__(self, tok):
        self.tok, self.ids, self.text = tok, [], ""

    def push(self, ids: Sequence[int]) -> str:
        self.ids.extend(int(i) for i in ids)
        full = self.tok.decode(self.ids)
        if full.endswith("\ufffd"):   # an unfinished character: wait for more bytes
            return ""
        new, self.text = full[len(self.text):], full
        return new

    def flush(self) -> str:
        full = self.tok.decode(self.ids)
        new, self.text = full[len(self.text):], full
        return new


def _write_json(directory: str, obj: dict) -> str:
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, FILENAME)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)
    return path


def load_tokenizer(directory: str):
    """Read ``directory/tokenizer.json`` written by a tokenizer's ``save``."""
    path = os.path.join(directory, FILENAME)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_tokenizer: expected {path}, found no such file")
    with open(path) as f:
        obj = json.load(f)
    if obj.get("cadenza_tokenizer") == "byte":
        return ByteTokenizer()
    tokenizers = _require_tokenizers()
    return BPETokenizer(tokenizers.Tokenizer.from_file(path))


def get_tokenizer(kind: str = "byte", files: Sequence[str] = (), vocab_size: int = 4096):
    """``'byte'`` -> ByteTokenizer(); ``'bpe'`` -> a BPETokenizer trained on ``files``."""
    if kind == "byte":
        return ByteTokenizer()
    if kind == "bpe":
        return BPETokenizer.train(files, vocab_size)
    raise ValueError(f"tokenizer: expected 'byte' or 'bpe', got {kind!r}")

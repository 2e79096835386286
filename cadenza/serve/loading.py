"""The model ``cadenza serve`` serves: a ``cadenza train`` checkpoint (``--ckpt DIR``, through
the loader ``cadenza generate`` uses) or a local Hugging Face GPT-2 / Llama directory (``--hf
DIR``, through :mod:`cadenza.models.hf`), with its tokenizer, chat template, special tokens and
end-of-sequence ids; ``--quantize int8`` applies :func:`cadenza.models.quant.quantize_int8`.

Every problem (a missing or damaged directory, a tokenizer that does not fit the model, a bad
chat template) is a :class:`ConfigError` with one line naming the file, so the command exits 2.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Optional, Tuple

from ..models.config import ConfigError
from ..models.hf import load_hf
from ..models.quant import quantize_int8
from ..models.tokenizer import BPETokenizer, load_tokenizer
from ..models.train import build_model, load_checkpoint
from .chat import ChatTemplate, default_render, read_tokenizer_config
from .protocol import ModelSpec

__all__ = ["ServedModel", "load_served_model", "quantize", "token_bytes_of"]


@dataclass
class ServedModel:
    model: object                   # cadenza.models.gpt.GPT in eval mode
    tokenizer: object
    name: str
    chat: Optional[ChatTemplate] = None          # None: chat.DEFAULT_TEMPLATE
    stop_token_ids: Tuple[int, ...] = ()
    special_tokens: dict = field(default_factory=dict)

    @property
    def block_size(self) -> int:
        return self.model.config.block_size

    def spec(self) -> ModelSpec:
        tok = self.tokenizer
        render = self.chat.render if self.chat is not None else default_render
        encode_chat = None
        if isinstance(tok, BPETokenizer):  # the template writes BOS itself, as transformers
            encode_chat = lambda text: tok.encode(text, add_special_tokens=False)
        return ModelSpec(name=self.name, block_size=self.block_size,
                         vocab_size=self.model.config.vocab_size, encode=tok.encode,
                         render_chat=render, encode_chat=encode_chat,
                         stop_token_ids=self.stop_token_ids, decode=tok.decode,
                         token_bytes=token_bytes_of(tok))


def _byte_level_alphabet() -> dict:
    """GPT-2's byte-level BPE alphabet, character -> byte: printable Latin-1 bytes stand for
    themselves, the other 68 bytes for the characters from U+0100 on, in byte order."""
    kept = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    out = {chr(b): b for b in kept}
    extra = 0
    for b in range(256):
        if b not in kept:
            out[chr(0x100 + extra)] = b
            extra += 1
    return out


def token_bytes_of(tok):
    """token id -> its bytes (for logprobs): the byte itself for the byte tokenizer; for BPE
    the vocabulary's piece read as byte-level BPE (GPT-2), a ``<0xNN>`` byte-fallback piece, or
    a SentencePiece piece with its '\u2581' as a space."""
    if not isinstance(tok, BPETokenizer):
        return lambda t: bytes([t]) if 0 <= t < 256 else b""
    alphabet = _byte_level_alphabet()
    cache: dict = {}

    def token_bytes(t: int) -> bytes:
        if t not in cache:
            piece = tok._tk.id_to_token(t) or ""
            if len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
                cache[t] = bytes([int(piece[3:5], 16)])
            elif piece and all(ch in alphabet for ch in piece):
                cache[t] = bytes(alphabet[ch] for ch in piece)
            else:
                cache[t] = piece.replace("\u2581", " ").encode("utf-8")
        return cache[t]
    return token_bytes


def _eos_ids(directory: str, tok, special: dict) -> Tuple[int, ...]:
    """End-of-sequence ids: generation_config.json, then config.json, then the eos_token of
    tokenizer_config.json."""
    for name in ("generation_config.json", "config.json"):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                eos = json.load(f).get("eos_token_id")
            if eos is not None:
                ids = eos if isinstance(eos, list) else [eos]
                return tuple(int(i) for i in ids)
    if special.get("eos_token"):
        try:
            return (tok.token_id(special["eos_token"]),)
        except ValueError:
            pass
    return ()


def quantize(model, how: Optional[str]):
    if how is None:
        return model
    if how != "int8":
        raise ConfigError(f"serve: --quantize: expected 'int8', got {how!r}")
    return quantize_int8(model)


def load_served_model(ckpt: Optional[str] = None, hf: Optional[str] = None, *,
                      name: Optional[str] = None, chat_template: Optional[str] = None,
                      quantize_mode: Optional[str] = None) -> ServedModel:
    """Load ``--ckpt`` or ``--hf`` (exactly one) for serving."""
    if (ckpt is None) == (hf is None):
        raise ConfigError("serve: give exactly one of --ckpt DIR and --hf DIR")
    if ckpt is not None:
        state, gcfg, _, tok, path = load_checkpoint(ckpt)
        model = build_model(gcfg, state)
        directory = os.path.dirname(path) or "."
    else:
        directory = hf
        try:
            model = load_hf(hf)
            tok = load_tokenizer(hf)
        except (OSError, ValueError, KeyError) as e:
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ConfigError(f"serve: --hf {hf}: {msg}") from None
        if tok.vocab_size > model.config.vocab_size:
            raise ConfigError(f"serve: --hf {hf}: the tokenizer has {tok.vocab_size} tokens, "
                              f"more than the model's vocabulary of {model.config.vocab_size}")
    model.eval()
    try:
        special = read_tokenizer_config(directory)
    except (OSError, ValueError) as e:
        raise ConfigError(f"serve: cannot read {directory}/tokenizer_config.json: {e}"
                          .splitlines()[0]) from None
    source = special.pop("chat_template", None)
    if chat_template is not None:
        try:
            with open(chat_template, encoding="utf-8") as f:
                source = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"serve: --chat-template {chat_template}: {e}"
                              .splitlines()[0]) from None
    chat = None
    if source is not None:
        try:
            chat = ChatTemplate(source, special)
        except ValueError as e:
            raise ConfigError(f"serve: {e}") from None
    stops = _eos_ids(directory, tok, special) if hf is not None or special else ()
    model = quantize(model, quantize_mode)
    return ServedModel(model=model, tokenizer=tok, name=name or (ckpt or hf), chat=chat,
                       stop_token_ids=stops, special_tokens=special)

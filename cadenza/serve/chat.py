"""Chat templates: messages -> prompt text.

A checkpoint with a Hugging Face ``tokenizer_config.json`` whose ``chat_template`` is set (or a
``chat_template.jinja`` file beside it, or ``cadenza serve --chat-template FILE``) is rendered
with jinja2 exactly as ``transformers``' ``apply_chat_template`` does: an
``ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)`` with the
``loopcontrols`` extension, the globals ``raise_exception`` and ``strftime_now``, a ``tojson``
filter that keeps non-ASCII text, and the variables ``messages``, ``add_generation_prompt``,
``tools`` (None), ``bos_token``, ``eos_token`` and the other special tokens of the config.

Otherwise (the byte-level models ``cadenza train`` writes have no template) the documented
default is plain text, one line per message and an open assistant turn::

    system: You are terse.
    user: Name a prime.
    assistant:

(:data:`DEFAULT_TEMPLATE`, the same as a jinja template.)
"""
from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Optional

from .protocol import APIError

__all__ = ["ChatTemplate", "DEFAULT_TEMPLATE", "default_render", "read_tokenizer_config"]

DEFAULT_TEMPLATE = ("{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"
                    "{% if add_generation_prompt %}assistant:{% endif %}")


def default_render(messages, add_generation_prompt: bool = True) -> str:
    """:data:`DEFAULT_TEMPLATE` without jinja2."""
    text = "".join(f"{m['role']}: {m['content']}\n" for m in messages)
    return text + ("assistant:" if add_generation_prompt else "")


def _token_text(v) -> Optional[str]:
    """tokenizer_config.json stores a special token as a string or an AddedToken dict."""
    if isinstance(v, dict):
        v = v.get("content")
    return v if isinstance(v, str) else None


def read_tokenizer_config(directory: str) -> dict:
    """``{"chat_template": str | None, "<name>_token": str, ...}`` from a Hugging Face
    checkpoint directory (empty when it has no tokenizer_config.json)."""
    out: dict = {}
    path = os.path.join(directory, "tokenizer_config.json")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            cfg = json.load(f)
        for k, v in cfg.items():
            if k.endswith("_token") and _token_text(v) is not None:
                out[k] = _token_text(v)
        tpl = cfg.get("chat_template")
        if isinstance(tpl, list):  # named templates: [{"name": "default", "template": ...}]
            named = {t.get("name"): t.get("template") for t in tpl if isinstance(t, dict)}
            tpl = named.get("default")
        if isinstance(tpl, str):
            out["chat_template"] = tpl
    jinja_file = os.path.join(directory, "chat_template.jinja")
    if "chat_template" not in out and os.path.isfile(jinja_file):
        with open(jinja_file, encoding="utf-8") as f:
            out["chat_template"] = f.read()
    return out


def _jinja():
    try:  # optional: only checkpoints that ship a chat template need it
        import jinja2.ext, jinja2.sandbox  # noqa: E401
    except ImportError:
        raise ImportError("chat template: the optional package 'jinja2' is not installed; run "
                          "`pip install jinja2` (in the serve extra)") from None
    return jinja2


class ChatTemplate:
    """A compiled jinja chat template (as transformers compiles it)."""

    def __init__(self, source: str, special_tokens: Optional[dict] = None):
        jinja2 = _jinja()

        def raise_exception(message):
            raise jinja2.exceptions.TemplateError(message)

        def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
            return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent,
                              separators=separators, sort_keys=sort_keys)

        env = jinja2.sandbox.ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
        env.filters["tojson"] = tojson
        env.globals["raise_exception"] = raise_exception
        env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
        try:
            self._template = env.from_string(source)
        except jinja2.TemplateSyntaxError as e:
            raise ValueError(f"chat template: syntax error on line {e.lineno}: {e.message}"
                             ) from None
        self._errors = (jinja2.TemplateError, TypeError, ValueError, KeyError, AttributeError,
                        IndexError, ZeroDivisionError, RecursionError)
        self.source = source
        self.special_tokens = {k: v for k, v in (special_tokens or {}).items()
                               if k.endswith("_token") and isinstance(v, str)}

    def render(self, messages, add_generation_prompt: bool = True) -> str:
        try:
            return self._template.render(messages=messages, tools=None, documents=None,
                                         add_generation_prompt=add_generation_prompt,
                                         **self.special_tokens)
        except self._errors as e:
            # the template's own raise_exception (e.g. "roles must alternate") or a message
            # shape it cannot handle: the client's request, so a 400
            raise APIError(400, f"the chat template rejected the messages: {e}",
                           param="messages") from None

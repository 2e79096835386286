"""OpenAI's request and response JSON for ``cadenza serve``: validation of the body of
``POST /v1/completions`` and ``POST /v1/chat/completions`` into token ids and sampling settings,
and the response / stream-chunk / error objects. No I/O here, so every rule is testable alone.

Rules (each broken one is an :class:`APIError`, answered as OpenAI's
``{"error": {"message", "type", "param", "code"}}`` with the status given):

- body: UTF-8 JSON object (400 naming the bad byte or the JSON error); unknown fields ignored.
- ``model``: the served model's name (404 ``model_not_found`` otherwise); may be omitted.
- ``prompt`` (completions): a string, a list of token ids, or a list of either (one choice set
  per prompt); ``messages`` (chat): a non-empty list of ``{"role", "content"}``, content a
  string or a list of ``{"type": "text", "text"}`` parts, rendered by the chat template.
- a prompt must leave room for one new token: at most ``block_size - 1`` tokens (400 naming
  the limit), unless ``truncate_prompt_tokens: k`` asks to keep only its last k tokens.
- ``max_tokens`` (chat also ``max_completion_tokens``, which wins): an integer >= 1 with
  prompt + max_tokens <= the context (400 with OpenAI's "maximum context length" message).
  Default: 16 for completions, the rest of the context for chat (OpenAI's defaults).
- ``temperature`` finite in [0, 2] (0 = greedy); ``top_p`` in (0, 1]; ``top_k`` integer >= 0
  (0 or -1 = off); ``seed`` a 64-bit integer (choice j of n samples with seed + j);
  ``n`` 1..128; ``stop`` a string or at most 4 non-empty strings of at most 256 characters;
  ``stream`` boolean; ``stream_options.include_usage`` boolean.
- ``presence_penalty`` / ``frequency_penalty`` finite in [-2, 2] (OpenAI's formula over the
  tokens generated so far); ``logit_bias`` an object {token id as a string: number in
  [-100, 100]} (ids in the vocabulary, at most 300 entries), added to the logits.
- ``logprobs``: completions an integer 0..5 (the sampled token's logprob and the top
  ``logprobs`` alternatives); chat a boolean, with ``top_logprobs`` 0..20 (which needs
  ``logprobs: true``). Values are the log-softmax of the model's raw logits, before the logit
  bias, penalties, temperature, top-k and top-p (vLLM's default, ``raw_logprobs``).
- ``echo`` (completions): the prompt's text leads each choice's text (and its tokens lead the
  logprobs, the first with a null logprob); with ``echo``, ``max_tokens: 0`` scores the prompt.
- ``user``, ``metadata``, ``store``, ``service_tier``, ``parallel_tool_calls`` and other
  bookkeeping fields are accepted and ignored (like any unknown field).
- ``best_of`` (completions) n..128 (best_of x prompts <= 128), not with ``stream``: best_of
  candidates per prompt (candidate j seeded seed + j), the n with the highest mean token
  logprob returned, best first; ``usage`` counts every candidate's tokens (as OpenAI bills).
- features this server does not implement (``suffix``, tools, a
  ``response_format`` other than text) are refused with a 400 naming them rather than ignored.
"""
from __future__ import annotations

import codecs
import json
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple

__all__ = ["APIError", "ModelSpec", "GenRequest", "parse_body", "parse_completion",
           "parse_chat", "completion_response", "chat_response", "completion_chunk",
           "chat_chunk", "usage", "error_body", "Logprobs", "MAX_STOP", "MAX_CHOICES"]

MAX_STOP = 4            # as OpenAI
MAX_STOP_CHARS = 256
MAX_CHOICES = 128       # n x number of prompts
MAX_SEED = 2 ** 64
MAX_LOGPROBS = 5        # completions' logprobs, as OpenAI
MAX_TOP_LOGPROBS = 20   # chat's top_logprobs, as OpenAI
MAX_LOGIT_BIAS = 300
MIN_LOGPROB = -9999.0   # JSON has no -Infinity: a token the model rules out reads as this
ROLES = ("system", "developer", "user", "assistant", "tool")


class APIError(Exception):
    """An error answered to the client as OpenAI's error object with ``status``."""

    TYPES = {400: "invalid_request_error", 404: "invalid_request_error",
             405: "invalid_request_error", 413: "invalid_request_error",
             429: "rate_limit_error", 500: "server_error", 503: "service_unavailable"}

    def __init__(self, status: int, message: str, param: Optional[str] = None,
                 code: Optional[str] = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code

    def body(self) -> dict:
        return error_body(self.status, self.message, self.param, self.code)


def error_body(status: int, message: str, param=None, code=None) -> dict:
    return {"error": {"message": message, "type": APIError.TYPES.get(status, "error"),
                      "param": param, "code": code}}


@dataclass
class ModelSpec:
    """What request validation needs to know about the served model."""
    name: str
    block_size: int
    vocab_size: int
    encode: Callable[[str], List[int]]
    render_chat: Callable[[list], str]          # messages -> prompt text (may raise APIError)
    encode_chat: Optional[Callable[[str], List[int]]] = None   # default: encode
    stop_token_ids: Tuple[int, ...] = ()
    created: int = field(default_factory=lambda: int(time.time()))
    decode: Optional[Callable[[List[int]], str]] = None    # for echo
    token_bytes: Optional[Callable[[int], bytes]] = None   # for logprobs' token strings


@dataclass
class GenRequest:
    """A validated request: one token-id list per prompt, n samples of each."""
    kind: str                       # "completion" | "chat"
    model: str
    prompts: List[List[int]]
    n: int
    stream: bool
    include_usage: bool
    sampling: dict                  # SamplingParams fields except max_tokens and seed
    max_tokens: List[int]           # per prompt
    seed: Optional[int]
    id: str = ""
    created: int = 0
    logprobs: Optional[int] = None  # None: off; else how many top alternatives per token
    echo: bool = False
    echo_texts: List[str] = field(default_factory=list)   # per prompt, with echo
    best_of: int = 0                # candidates generated per prompt (>= n; 0: n)

    def __post_init__(self):
        self.best_of = self.best_of or self.n

    def params(self, prompt: int, choice: int) -> dict:
        """The SamplingParams fields of choice ``choice`` of prompt ``prompt``."""
        seed = None if self.seed is None else (self.seed + choice) % MAX_SEED
        ranked = self.best_of > self.n      # best_of ranks candidates by their logprobs
        return dict(self.sampling, max_tokens=self.max_tokens[prompt], seed=seed,
                    logprobs=0 if ranked and self.logprobs is None else self.logprobs,
                    prompt_logprobs=self.logprobs if self.echo else None)


def parse_body(raw: bytes) -> dict:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise APIError(400, f"the request body is not valid UTF-8 (byte 0x{raw[e.start]:02x} "
                            f"at offset {e.start})") from None
    if not text.strip():
        raise APIError(400, "the request body is empty; expected a JSON object")
    try:
        body = json.loads(text)
    except json.JSONDecodeError as e:
        raise APIError(400, f"the request body is not valid JSON: {e}") from None
    except RecursionError:
        raise APIError(400, "the request body is not valid JSON: nested too deeply") from None
    if not isinstance(body, dict):
        raise APIError(400, f"expected a JSON object as the request body, got "
                            f"{_json_type(body)}")
    return body


def _json_type(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    return "an array" if isinstance(v, list) else "an object"


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _bad(param: str, expected: str, got) -> APIError:
    shown = json.dumps(got) if isinstance(got, (int, float, str, bool)) or got is None else None
    what = shown if shown is not None and len(shown) <= 40 else _json_type(got)
    return APIError(400, f"'{param}': expected {expected}, got {what}", param=param)


def _int(body, name, lo=None, hi=None, default=None):
    v = body.get(name)
    if v is None:
        return default
    rng = (f" >= {lo}" if hi is None else f" in [{lo}, {hi}]") if lo is not None else ""
    if not _is_int(v) or (lo is not None and v < lo) or (hi is not None and v > hi):
        raise _bad(name, f"an integer{rng}", v)
    return v


def _number(body, name, lo, hi, default, lo_open=False):
    v = body.get(name)
    if v is None:
        return default
    ok = (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
          and (v > lo if lo_open else v >= lo) and v <= hi)
    if not ok:
        rng = f"{'(' if lo_open else '['}{lo}, {hi}]"
        raise _bad(name, f"a finite number in {rng}", v)
    return float(v)


def _bool(body, name, default=False):
    v = body.get(name)
    if v is None:
        return default
    if not isinstance(v, bool):
        raise _bad(name, "a boolean", v)
    return v


def _stop(body) -> Tuple[str, ...]:
    v = body.get("stop")
    if v is None:
        return ()
    items = [v] if isinstance(v, str) else v
    if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
        raise _bad("stop", "a string or a list of strings", v)
    if len(items) > MAX_STOP:
        raise APIError(400, f"'stop': at most {MAX_STOP} stop strings are allowed, got "
                            f"{len(items)}", param="stop")
    for s in items:
        if not s or len(s) > MAX_STOP_CHARS:
            raise APIError(400, f"'stop': each stop string must have 1 to {MAX_STOP_CHARS} "
                                f"characters, got {len(s)}", param="stop")
    return tuple(dict.fromkeys(items))


_UNSUPPORTED = {  # field -> value(s) that mean "off" and are accepted
    "suffix": (None, ""), "tools": (None, []), "functions": (None, []),
    "tool_choice": (None, "none", "auto"), "function_call": (None, "none", "auto"),
}


def _refuse_unsupported(body):
    for name, off in _UNSUPPORTED.items():
        v = body.get(name)
        if v is not None and not any(v == o for o in off):
            raise APIError(400, f"'{name}' is not supported by this server", param=name)
    rf = body.get("response_format")
    if rf is not None and rf != {"type": "text"}:
        raise APIError(400, "'response_format': only {\"type\": \"text\"} is supported",
                       param="response_format")


def _common(body: dict, spec: ModelSpec, kind: str) -> dict:
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise _bad("model", "a string", model)
    if model is not None and model != spec.name:
        raise APIError(404, f"The model '{model[:200]}' does not exist; this server serves "
                            f"'{spec.name}'", param="model", code="model_not_found")
    _refuse_unsupported(body)
    top_k = _int(body, "top_k", -1, None, 0)
    sampling = dict(temperature=_number(body, "temperature", 0, 2, 1.0),
                    top_p=_number(body, "top_p", 0, 1, 1.0, lo_open=True),
                    top_k=max(top_k, 0), stop=_stop(body),
                    stop_token_ids=tuple(spec.stop_token_ids),
                    presence_penalty=_number(body, "presence_penalty", -2, 2, 0.0),
                    frequency_penalty=_number(body, "frequency_penalty", -2, 2, 0.0),
                    logit_bias=_logit_bias(body, spec))
    n = _int(body, "n", 1, MAX_CHOICES, 1)
    stream = _bool(body, "stream")
    best_of = n
    if kind == "completion" and body.get("best_of") is not None:
        best_of = _int(body, "best_of", n, MAX_CHOICES, None)
        if stream and best_of > n:
            raise APIError(400, "'best_of' greater than n cannot be streamed",
                           param="best_of")
    opts = body.get("stream_options")
    if opts is not None and not isinstance(opts, dict):
        raise _bad("stream_options", "an object", opts)
    include_usage = _bool(opts or {}, "include_usage")
    if opts is not None and not stream:
        raise APIError(400, "'stream_options' is only allowed when 'stream' is true",
                       param="stream_options")
    seed = _int(body, "seed", -(2 ** 63), MAX_SEED - 1, None)
    echo = False
    if kind == "chat":
        logprobs = _bool(body, "logprobs")
        top = _int(body, "top_logprobs", 0, MAX_TOP_LOGPROBS, None)
        if top and not logprobs:   # 0 without logprobs asks for nothing: accepted
            raise APIError(400, "'top_logprobs': needs 'logprobs' set to true",
                           param="top_logprobs")
        logprobs = (top or 0) if logprobs else None
    else:
        logprobs = (None if body.get("logprobs") is False   # false: off, as null
                    else _int(body, "logprobs", 0, MAX_LOGPROBS, None))
        echo = _bool(body, "echo")
    if kind == "chat":
        max_tokens = _int(body, "max_completion_tokens", 1, None, None)
        if max_tokens is None:
            max_tokens = _int(body, "max_tokens", 1, None, None)
        param = ("max_completion_tokens" if body.get("max_completion_tokens") is not None
                 else "max_tokens")
    else:
        # with echo, max_tokens 0 scores the prompt and generates nothing
        max_tokens = _int(body, "max_tokens", 0 if echo else 1, None, None)
        param = "max_tokens"
    trunc = _int(body, "truncate_prompt_tokens", 1, spec.block_size - 1, None)
    return dict(model=spec.name, sampling=sampling, n=n, stream=stream,
                include_usage=include_usage, seed=seed, max_tokens=max_tokens,
                max_param=param, truncate=trunc, logprobs=logprobs, echo=echo,
                best_of=best_of)


def _logit_bias(body: dict, spec: ModelSpec) -> Optional[dict]:
    """{"token id": bias} -> {int id: float bias}; None when absent or empty."""
    v = body.get("logit_bias")
    if v is None:
        return None
    if not isinstance(v, dict):
        raise _bad("logit_bias", "an object mapping token ids to numbers", v)
    if len(v) > MAX_LOGIT_BIAS:
        raise APIError(400, f"'logit_bias': at most {MAX_LOGIT_BIAS} entries, got {len(v)}",
                       param="logit_bias")
    out = {}
    for k, b in v.items():
        key = k.strip() if isinstance(k, str) else ""
        if not (key.isascii() and key.isdigit()) or not int(key) < spec.vocab_size:
            raise APIError(400, f"'logit_bias': expected token ids in [0, {spec.vocab_size}) "
                                f"as keys, got {json.dumps(k)[:40]}", param="logit_bias")
        if not (isinstance(b, (int, float)) and not isinstance(b, bool)
                and math.isfinite(b) and -100 <= b <= 100):
            raise _bad("logit_bias", f"a number in [-100, 100] for token {key}", b)
        if b:
            out[int(key)] = float(b)
    return out or None


def _fit(ids: List[int], c: dict, spec: ModelSpec, kind: str, what: str) -> Tuple[list, int]:
    """Truncate if asked, check the context; -> (ids, max_tokens)."""
    bs = spec.block_size
    if c["truncate"] is not None:
        ids = ids[-c["truncate"]:]
    if not ids:
        raise APIError(400, f"the {what} is empty; expected at least 1 token",
                       param="prompt" if kind == "completion" else "messages")
    if len(ids) > bs - 1:
        raise APIError(400, f"This model's maximum context length is {bs} tokens; the {what} "
                            f"is {len(ids)} tokens, so it can have at most {bs - 1} to leave "
                            f"room for one new token. Shorten it, or set "
                            f"'truncate_prompt_tokens' to keep only its last tokens.",
                       param="prompt" if kind == "completion" else "messages",
                       code="context_length_exceeded")
    room = bs - len(ids)
    mt = c["max_tokens"]
    if mt is None:
        return ids, min(16, room) if kind == "completion" else room
    if mt > room:
        raise APIError(400, f"This model's maximum context length is {bs} tokens. However, "
                            f"you requested {len(ids) + mt} tokens ({len(ids)} in the {what}, "
                            f"{mt} for the completion). Please reduce the length of the "
                            f"{what} or the completion.", param=c["max_param"],
                       code="context_length_exceeded")
    return ids, mt


def _token_ids(v, spec: ModelSpec) -> Optional[List[int]]:
    """A list of token ids, or None if ``v`` is not a list of integers."""
    if not isinstance(v, list) or not v or not all(_is_int(t) for t in v):
        return None
    bad = next((t for t in v if not 0 <= t < spec.vocab_size), None)
    if bad is not None:
        raise APIError(400, f"'prompt': token id {bad} is out of the vocabulary "
                            f"[0, {spec.vocab_size})", param="prompt")
    return v


def _request(kind, c, prompts_and_limits) -> GenRequest:
    prompts = [p for p, _ in prompts_and_limits]
    if c["best_of"] * len(prompts) > MAX_CHOICES:
        what, param = ("best_of", "best_of") if c["best_of"] > c["n"] else ("n", "n")
        raise APIError(400, f"at most {MAX_CHOICES} completions per request ({what} x "
                            f"prompts), got {c[what]} x {len(prompts)}", param=param)
    prefix = "cmpl-" if kind == "completion" else "chatcmpl-"
    return GenRequest(kind=kind, model=c["model"], prompts=prompts, n=c["n"],
                      stream=c["stream"], include_usage=c["include_usage"],
                      sampling=c["sampling"], max_tokens=[m for _, m in prompts_and_limits],
                      seed=c["seed"], id=prefix + uuid.uuid4().hex, created=int(time.time()),
                      logprobs=c["logprobs"], echo=c["echo"], best_of=c["best_of"])


def parse_completion(body: dict, spec: ModelSpec) -> GenRequest:
    c = _common(body, spec, "completion")
    p = body.get("prompt")
    if p is None:
        raise APIError(400, "'prompt' is required", param="prompt")
    if isinstance(p, str):
        items = [p]
    elif _token_ids(p, spec) is not None:
        items = [p]
    elif isinstance(p, list) and p:
        items = p
    else:
        raise _bad("prompt", "a string, a list of token ids, or a non-empty list of either", p)
    if len(items) > MAX_CHOICES:
        raise APIError(400, f"at most {MAX_CHOICES} prompts per request, got {len(items)}",
                       param="prompt")
    out = []
    for item in items:
        if isinstance(item, str):
            ids = spec.encode(item)
        else:
            ids = _token_ids(item, spec)
            if ids is None:
                raise _bad("prompt", "a string, a list of token ids, or a non-empty list of "
                                     "either", item)
        out.append(_fit(ids, c, spec, "completion", "prompt"))
    req = _request("completion", c, out)
    if req.echo:   # the text of the tokens served (a truncated prompt echoes what was kept)
        decode = spec.decode or (lambda ids: bytes(ids).decode("utf-8", errors="replace"))
        req.echo_texts = [decode(ids) for ids in req.prompts]
    return req


def _messages(v) -> list:
    if not isinstance(v, list) or not v:
        raise _bad("messages", "a non-empty array of messages", v)
    out = []
    for i, m in enumerate(v):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise _bad(where, "an object with 'role' and 'content'", m)
        role = m.get("role")
        if role not in ROLES:
            raise _bad(f"{where}.role", "one of " + ", ".join(repr(r) for r in ROLES), role)
        content = m.get("content")
        if isinstance(content, list):
            parts = []
            for part in content:
                if not (isinstance(part, dict) and part.get("type") == "text"
                        and isinstance(part.get("text"), str)):
                    raise _bad(f"{where}.content", "a string or a list of "
                               "{\"type\": \"text\", \"text\": ...} parts", part)
                parts.append(part["text"])
            content = "".join(parts)
        elif content is None and role == "assistant":
            content = ""
        elif not isinstance(content, str):
            raise _bad(f"{where}.content", "a string", content)
        msg = {"role": role, "content": content}
        if isinstance(m.get("name"), str):
            msg["name"] = m["name"]
        out.append(msg)
    return out


def parse_chat(body: dict, spec: ModelSpec) -> GenRequest:
    c = _common(body, spec, "chat")
    messages = _messages(body.get("messages"))
    text = spec.render_chat(messages)
    ids = (spec.encode_chat or spec.encode)(text)
    return _request("chat", c, [_fit(ids, c, spec, "chat", "messages")])


def usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def _head(req: GenRequest, obj: str) -> dict:
    return {"id": req.id, "object": obj, "created": req.created, "model": req.model}


def completion_response(req: GenRequest, texts: Sequence[str], finishes: Sequence[str],
                        use: dict, logprobs: Optional[Sequence[Optional[dict]]] = None) -> dict:
    lps = logprobs or [None] * len(texts)
    return {**_head(req, "text_completion"),
            "choices": [{"index": i, "text": t, "logprobs": lp, "finish_reason": f}
                        for i, (t, f, lp) in enumerate(zip(texts, finishes, lps))],
            "usage": use}


def chat_response(req: GenRequest, texts: Sequence[str], finishes: Sequence[str],
                  use: dict, logprobs: Optional[Sequence[Optional[dict]]] = None) -> dict:
    lps = logprobs or [None] * len(texts)
    return {**_head(req, "chat.completion"),
            "choices": [{"index": i, "message": {"role": "assistant", "content": t},
                         "logprobs": lp, "finish_reason": f}
                        for i, (t, f, lp) in enumerate(zip(texts, finishes, lps))],
            "usage": use}


def completion_chunk(req: GenRequest, index: Optional[int], text: str,
                     finish: Optional[str], use: Optional[dict] = None,
                     logprobs: Optional[dict] = None) -> dict:
    """One streamed event; ``index=None`` gives the final usage-only chunk."""
    choices = [] if index is None else [{"index": index, "text": text, "logprobs": logprobs,
                                         "finish_reason": finish}]
    out = {**_head(req, "text_completion"), "choices": choices}
    if req.include_usage:
        out["usage"] = use
    return out


def chat_chunk(req: GenRequest, index: Optional[int], delta: dict, finish: Optional[str],
               use: Optional[dict] = None, logprobs: Optional[dict] = None) -> dict:
    choices = [] if index is None else [{"index": index, "delta": delta, "logprobs": logprobs,
                                         "finish_reason": finish}]
    out = {**_head(req, "chat.completion.chunk"), "choices": choices}
    if req.include_usage:
        out["usage"] = use
    return out


class Logprobs:
    """One choice's logprobs in OpenAI's shape, built piece by piece (a streamed chunk gets
    the piece for its tokens). Entries are (token id, logprob or None, [(id, logprob)] top or
    None): None for an echoed prompt's first token, which nothing predicts.

    Completions: {"tokens", "token_logprobs", "top_logprobs", "text_offset"}, top_logprobs a
    {token: logprob} of the top alternatives plus the sampled token (OpenAI: "up to logprobs+1
    elements"); text_offset the character offset of each token in the choice's text (echoed
    prompt included). Chat: {"content": [{"token", "logprob", "bytes", "top_logprobs"}],
    "refusal": None}. A token whose bytes are not whole UTF-8 reads ``bytes:\\xNN...``."""

    def __init__(self, kind: str, token_bytes: Optional[Callable[[int], bytes]]):
        self.kind = kind
        self.token_bytes = token_bytes or (lambda t: bytes([t]) if 0 <= t < 256 else b"")
        self._dec = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.offset = 0

    def token(self, t: int) -> Tuple[str, bytes]:
        b = self.token_bytes(t)
        try:
            return b.decode("utf-8"), b
        except UnicodeDecodeError:
            return "bytes:" + "".join(f"\\x{x:02x}" for x in b), b

    def piece(self, entries: Sequence[tuple]) -> dict:
        if self.kind == "chat":
            return {"content": [self._chat(e) for e in entries], "refusal": None}
        out = {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
        for t, lp, top in entries:
            s, b = self.token(t)
            out["tokens"].append(s)
            out["token_logprobs"].append(None if lp is None else _finite(lp))
            if top is None:
                out["top_logprobs"].append(None)
            else:
                d = {self.token(i)[0]: _finite(v) for i, v in top}
                d.setdefault(s, _finite(lp))
                out["top_logprobs"].append(d)
            out["text_offset"].append(self.offset)
            self.offset += len(self._dec.decode(b))
        return out

    def _chat(self, entry) -> dict:
        t, lp, top = entry
        s, b = self.token(t)
        return {"token": s, "logprob": _finite(lp), "bytes": list(b),
                "top_logprobs": [{"token": ts, "logprob": _finite(v), "bytes": list(tb)}
                                 for (ts, tb), v in ((self.token(i), v) for i, v in top)]}


def _finite(lp: float) -> float:
    return max(float(lp), MIN_LOGPROB) if lp == lp else MIN_LOGPROB

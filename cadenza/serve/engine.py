"""The continuous-batching inference engine behind ``cadenza serve`` (the contract with the HTTP
server is fixed in SamplingParams, Event, Engine and Handle below).

One background thread runs engine steps. A step

1. finishes cancelled requests (freeing their slots) and admits queued requests into free
   slots of one preallocated ``SlotCache`` (max_batch slots x block_size tokens: memory is
   bounded and allocated once);
2. decodes one token for every sequence whose prompt is in the cache, in ONE batched forward
   where each row is at its own position (per-row positions, masks and in-place cache writes);
3. prefills waiting prompts in chunks, at most ``max_step_tokens`` prompt tokens per step, so
   a long new prompt never stalls the running sequences for more than one chunk; chunks of
   similar length share a right-padded forward, each row writing into its own slot.

Sampling is per request (temperature, top-k, top-p, a per-request seeded generator, stop
strings on the decoded text, stop token ids, max_tokens clamped to the context, OpenAI's
presence / frequency penalties over the tokens generated so far and a logit bias, both kept in
one (1, V) vector per request that is added to that row's logits only) and text is
streamed through the tokenizer's incremental decoder, so half a UTF-8 character is never
emitted and text that may be the start of a stop string is held back.

What batching guarantees: a row's tokens do not depend on which other requests share its
steps, up to floating-point rounding. Each row's maths is the same (its own positions, its own
mask, its own generator), but matrix products over a batch may round differently in the last
bit from the same products over one row (BLAS kernels block by matrix size), attention over a
longer padded key range sums masked zeros in a different order, and rows that are all at one
position skip the mask (sdpa's fused softmax). In float64 such differences are ~1e-16 and do
not change a greedy or seeded choice in practice: the tests run 32 concurrent requests in
float64 and get exactly the tokens of one-at-a-time runs and of ``model.generate``. In float32
a near-tie between the two best logits may flip (the `tiny` preset gave identical greedy
tokens for 32 requests x 40 tokens, batched and one at a time, but nothing promises it).

    >>> engine = Engine(model, tokenizer, max_batch=8)
    >>> engine.start()
    >>> handle = engine.submit(tokenizer.encode("def f("), SamplingParams(max_tokens=20),
    ...                        on_event=lambda ev: print(ev.text, end=""))
    >>> engine.stop(drain=True)
"""
from __future__ import annotations

import collections
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import Callable, List, Optional

import cadenza as torch
from cadenza.models.gpt import GPT, SlotCache
from cadenza.models.tokenizer import _DiffStream

__all__ = ["SamplingParams", "Event", "QueueFull", "EngineStopped", "Engine", "Handle"]


@dataclass
class SamplingParams:
    max_tokens: int = 16           # new tokens at most (0: prefill and score the prompt only);
                                   # clamped so prompt + new <= block_size
    temperature: float = 1.0       # 0 = greedy
    top_p: float = 1.0
    top_k: int = 0                 # 0 = off
    stop: tuple = ()               # stop strings on the decoded text (never emitted)
    stop_token_ids: tuple = ()     # e.g. an EOS id (its text is not emitted)
    seed: Optional[int] = None     # per-request generator: reproducible whatever the batch
    presence_penalty: float = 0.0  # OpenAI's: logit[j] -= presence * (count[j] > 0)
    frequency_penalty: float = 0.0  # ... and -= frequency * count[j], counts of generated tokens
    logit_bias: Optional[dict] = None   # token id -> number added to its logit
    logprobs: Optional[int] = None      # report each token's logprob and this many top ones
    prompt_logprobs: Optional[int] = None   # the same for prompt tokens 1.. (on the 1st event)

    @property
    def adjusted(self) -> bool:
        """Whether logits are changed before sampling (penalties or a bias)."""
        return bool(self.presence_penalty or self.frequency_penalty or self.logit_bias)

    def validate(self) -> "SamplingParams":
        def bad(name, expected):
            raise ValueError(f"SamplingParams.{name}: expected {expected}, "
                             f"got {getattr(self, name)!r}")
        if not _is_int(self.max_tokens) or self.max_tokens < 0:
            bad("max_tokens", "an int >= 0 (0: score the prompt, generate nothing)")
        if not isinstance(self.temperature, (int, float)) or not self.temperature >= 0:
            bad("temperature", "a number >= 0")
        if not isinstance(self.top_p, (int, float)) or not 0 < self.top_p <= 1:
            bad("top_p", "a number in (0, 1]")
        if not _is_int(self.top_k) or self.top_k < 0:
            bad("top_k", "an int >= 0")
        if isinstance(self.stop, str) or not all(isinstance(s, str) and s for s in self.stop):
            bad("stop", "a sequence of non-empty strings")
        if not all(_is_int(t) for t in self.stop_token_ids):
            bad("stop_token_ids", "a sequence of ints")
        if self.seed is not None and not _is_int(self.seed):
            bad("seed", "None or an int")
        for name in ("presence_penalty", "frequency_penalty"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not -1e9 < v < 1e9:
                bad(name, "a finite number")
        if self.logit_bias is not None and not (
                isinstance(self.logit_bias, dict)
                and all(_is_int(k) and isinstance(v, (int, float)) and -1e9 < v < 1e9
                        for k, v in self.logit_bias.items())):
            bad("logit_bias", "None or a dict {token id: finite number}")
        for name in ("logprobs", "prompt_logprobs"):
            v = getattr(self, name)
            if v is not None and (not _is_int(v) or v < 0):
                bad(name, "None or an int >= 0")
        return self


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


@dataclass
class Event:
    text: str                      # decoded text delta since the last event (may be "")
    token_ids: List[int]           # tokens of this delta
    finish_reason: Optional[str]   # None while running; "stop" | "length" | "cancelled" | "error"
    error: Optional[str] = None
    # with params.logprobs: one (token id, logprob, [(id, logprob)] top) per token_ids entry
    logprobs: Optional[list] = None
    # with params.prompt_logprobs, on the request's first event: the same for prompt tokens
    # 1..len-1 (the first prompt token has no logprob)
    prompt_logprobs: Optional[list] = None


class QueueFull(Exception):
    """submit() while max_queue requests already wait for a slot (HTTP 429)."""


class EngineStopped(Exception):
    """submit() after stop() began (HTTP 503)."""


class Handle:
    """The caller's side of one request: its id, its prompt length, and cancel()."""

    def __init__(self, engine: "Engine", req: "_Request"):
        self._engine, self._req = engine, req
        self.id, self.prompt_tokens = req.id, len(req.prompt)

    def cancel(self) -> None:
        """Give up the request (e.g. the client disconnected): its slot is freed before the
        next engine step, then a final Event(finish_reason="cancelled") is emitted (nothing if
        it already finished)."""
        self._engine._cancel(self._req)


class _Request:
    """Engine-thread state of one request."""

    def __init__(self, prompt, params: SamplingParams, on_event, limit: int, tokenizer):
        self.id = "req-" + uuid.uuid4().hex[:24]
        self.prompt, self.params, self.on_event, self.limit = prompt, params, on_event, limit
        self.slot: Optional[int] = None
        self.prefilled = 0                # prompt tokens in the cache
        self.generated: List[int] = []
        self.next_token: Optional[int] = None  # sampled, not yet in the cache
        self.cancelled = False            # set by Handle.cancel (any thread)
        self.done = False
        self.generator = (torch.Generator().manual_seed(params.seed)
                          if params.seed is not None else None)
        make = getattr(tokenizer, "stream_decoder", None)
        self.decoder = make() if make is not None else _DiffStream(tokenizer)
        self.held = ""                    # decoded text not emitted yet (a stop string's start?)
        self.adjust = None                # (1, V) bias + penalties so far, made at first use
        self.seen: set = set()            # generated token ids (presence penalty)
        self.prompt_lps: Optional[list] = [] if params.prompt_logprobs is not None else None

    def take_prompt_logprobs(self) -> Optional[list]:
        """The prompt's logprobs, once (for the request's first event)."""
        out, self.prompt_lps = self.prompt_lps, None
        return out


class Engine:
    """Continuous batching over a GPT model (see the module docstring).

    max_batch: sequences decoded together (= cache slots); max_queue: requests that may wait
    for a slot (QueueFull beyond); max_step_tokens: prompt tokens prefilled per step. The
    model is put in eval mode and its parameters stop requiring grad (serving only)."""

    def __init__(self, model: GPT, tokenizer, *, max_batch: int = 8, max_queue: int = 64,
                 max_step_tokens: int = 256, compile: bool = False):
        if compile:
            raise ValueError("Engine: compile=True is not supported: the batched decode step "
                             "changes shape (rows, cached length) every step; compile the "
                             "model for single-stream generation instead")
        for name, v, lo in (("max_batch", max_batch, 1), ("max_queue", max_queue, 0),
                            ("max_step_tokens", max_step_tokens, 1)):
            if not _is_int(v) or v < lo:
                raise ValueError(f"Engine: expected {name} an int >= {lo}, got {v!r}")
        # inference only: no parameter records a graph, so the engine thread never toggles
        # the grad mode (process-wide in Cadenza: a per-step no_grad in this thread would
        # race with no_grad blocks of other threads)
        self.model, self.tokenizer = model.eval().requires_grad_(False), tokenizer
        cfg = model.config
        self.block_size, self.vocab_size = cfg.block_size, cfg.vocab_size
        self.max_batch, self.max_queue, self.max_step_tokens = max_batch, max_queue, max_step_tokens
        self.cache = SlotCache(cfg, max_batch, dtype=model.kv_dtype)  # the only KV memory
        self._cond = threading.Condition()
        self._queue: collections.deque = collections.deque()   # waiting _Requests
        self._slots: List[Optional[_Request]] = [None] * max_batch
        self._order: List[_Request] = []                       # running, in admission order
        self._accepting, self._drain = True, True
        self._thread: Optional[threading.Thread] = None
        self._counts = collections.Counter()
        self._finished = collections.Counter()
        self._step_seconds: collections.deque = collections.deque(maxlen=256)

    # ------------------------------------------------------------------ caller-side API
    def start(self) -> None:
        """Start the background step-loop thread."""
        with self._cond:
            if self._thread is not None:
                raise RuntimeError("Engine.start: already started")
            if not self._accepting:
                raise EngineStopped("Engine.start: the engine was stopped")
            self._thread = threading.Thread(target=self._loop, name="cadenza-engine",
                                            daemon=True)
            self._thread.start()

    def submit(self, prompt_ids, params: SamplingParams,
               on_event: Callable[[Event], None]) -> Handle:
        """Queue a request (thread-safe); on_event is called from the engine thread."""
        prompt = [int(t) for t in prompt_ids]
        if not prompt:
            raise ValueError("Engine.submit: expected a prompt of at least 1 token, got 0")
        if len(prompt) > self.block_size - 1:
            raise ValueError(f"Engine.submit: expected a prompt of at most block_size - 1 = "
                             f"{self.block_size - 1} tokens, got {len(prompt)}")
        bad = [t for t in prompt if not 0 <= t < self.vocab_size]
        if bad:
            raise ValueError(f"Engine.submit: expected token ids in [0, {self.vocab_size}), "
                             f"got {bad[0]}")
        params.validate()
        limit = min(params.max_tokens, self.block_size - len(prompt))
        req = _Request(prompt, params, on_event, limit, self.tokenizer)
        with self._cond:
            if not self._accepting:
                raise EngineStopped("Engine.submit: the engine is stopping")
            # A cancelled request waits only for the engine step that finishes it: it holds
            # no place in the queue's bound (a client that disconnects frees its place now).
            waiting = sum(not r.cancelled for r in self._queue)
            if waiting >= self.max_queue:
                raise QueueFull(f"Engine.submit: {waiting} requests already wait "
                                f"(max_queue={self.max_queue})")
            self._queue.append(req)
            self._counts["requests_total"] += 1
            self._cond.notify_all()
        return Handle(self, req)

    def stop(self, drain: bool = True, timeout: Optional[float] = None) -> None:
        """Stop accepting requests. drain=True finishes the running and queued ones first;
        drain=False cancels them. Then the thread ends (waits for it up to ``timeout``)."""
        with self._cond:
            self._accepting = False
            self._drain = self._drain and drain
            self._cond.notify_all()
            thread = self._thread
        if thread is None:  # never started: nothing runs the queue
            self._cancel_all()
        elif thread is not threading.current_thread():
            thread.join(timeout)

    def stats(self) -> dict:
        with self._cond:
            return {
                "queue_depth": len(self._queue),
                "running": len(self._order),
                "max_batch": self.max_batch,
                "max_queue": self.max_queue,
                "max_step_tokens": self.max_step_tokens,
                "block_size": self.block_size,
                "requests_total": self._counts["requests_total"],
                "requests_finished": dict(self._finished),
                "prompt_tokens_total": self._counts["prompt_tokens_total"],
                "generation_tokens_total": self._counts["generation_tokens_total"],
                "steps_total": self._counts["steps_total"],
                "callback_errors_total": self._counts["callback_errors"],
                "step_seconds": list(self._step_seconds),
                "kv_cache_bytes": self.cache.nbytes,
                "accepting": self._accepting,
            }

    # ------------------------------------------------------------------ the engine thread
    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._accepting and not (self._queue or self._order):
                    self._cond.wait()
                if not self._accepting and not (self._drain and (self._queue or self._order)):
                    break
            try:
                self.step()
            except Exception:  # a bug outside the per-request guards: fail what runs, go on
                msg = traceback.format_exc(limit=3)
                for req in list(self._order):
                    self._finish(req, Event("", [], "error", msg))
        self._cancel_all()

    def step(self) -> bool:
        """One engine step (the thread calls this; tests may call it directly on an engine
        that was not started). Returns whether there was work."""
        t0 = time.perf_counter()
        self._admit()
        if not self._order:
            return False
        self._decode([r for r in self._order if r.next_token is not None])
        self._prefill([r for r in self._order if r.next_token is None and not r.done])
        with self._cond:
            self._counts["steps_total"] += 1
            self._step_seconds.append(time.perf_counter() - t0)
        return True

    def _admit(self) -> None:
        """Finish cancelled requests, then move queued ones into free slots."""
        with self._cond:
            gone = [r for r in self._queue if r.cancelled]
            for r in gone:
                self._queue.remove(r)
            gone += [r for r in self._order if r.cancelled]
        for r in gone:
            self._finish(r, Event("", [], "cancelled"))
        with self._cond:
            free = [s for s, r in enumerate(self._slots) if r is None]
            while self._queue and free:
                req = self._queue.popleft()
                req.slot = free.pop(0)
                self._slots[req.slot] = req
                self.cache.reset(req.slot)
                self._order.append(req)

    def _decode(self, rows: List[_Request]) -> None:
        """One token for every row, in one forward (rows sorted by slot: a run of slots is
        read from the cache as a view). If the forward raises, each row is retried alone (a
        failed forward advanced no slot, and a retry rewrites the same cache positions), so
        only the rows that fail by themselves end with "error"."""
        if not rows:
            return
        rows.sort(key=lambda r: r.slot)
        idx = torch.tensor([[r.next_token] for r in rows])              # (B, 1)
        try:
            logits, _ = self.model(idx, cache=self.cache.batch([r.slot for r in rows]))
            last = logits[:, -1]                                        # (B, V)
            greedy = last.argmax(dim=-1).tolist()
        except Exception as e:
            if len(rows) > 1:
                for r in rows:
                    self._decode([r])
                return
            self._finish(rows[0], Event("", [], "error", f"{type(e).__name__}: {e}"))
            return
        for b, r in enumerate(rows):   # a plain greedy row needs no logits of its own
            p = r.params
            own = p.temperature or p.adjusted or p.logprobs is not None
            self._sample(r, last[b:b + 1] if own else None, greedy[b])

    def _prefill(self, waiting: List[_Request]) -> None:
        """Up to max_step_tokens prompt tokens, oldest request first: a chunk per request,
        chunks of similar length right-padded into one forward (_pad_groups)."""
        budget, chunks = self.max_step_tokens, []
        for r in waiting:
            if budget <= 0:
                break
            n = min(budget, len(r.prompt) - r.prefilled)
            chunks.append((r, n))
            budget -= n
        for group in _pad_groups(chunks, self.cache.max_len):
            self._prefill_group(group)

    def _prefill_group(self, group) -> None:
        """One forward over the chunks (request, n tokens), padded to the longest; a forward
        that raises is retried per request (as in _decode)."""
        T = max(n for _, n in group)
        idx = torch.tensor([r.prompt[r.prefilled:r.prefilled + n] + [0] * (T - n)
                            for r, n in group])                          # (B, T)
        try:
            logits, _ = self.model(idx, cache=self.cache.batch([r.slot for r, _ in group],
                                                               [n for _, n in group]))
        except Exception as e:
            if len(group) > 1:
                for chunk in group:
                    self._prefill_group([chunk])
                return
            self._finish(group[0][0], Event("", [], "error", f"{type(e).__name__}: {e}"))
            return
        with self._cond:
            self._counts["prompt_tokens_total"] += sum(n for _, n in group)
        for b, (r, n) in enumerate(group):
            if r.prompt_lps is not None:
                self._prompt_logprobs(r, logits[b, :n])
            r.prefilled += n
            if r.prefilled < len(r.prompt):
                continue
            if r.limit == 0:                          # scoring only: nothing to generate
                self._finish(r, Event("", [], "length",
                                      prompt_logprobs=r.take_prompt_logprobs()))
            else:                                     # its first token: from its last real
                self._sample(r, logits[b:b + 1, n - 1], None)   # position (1, V)

    def _prompt_logprobs(self, r: _Request, logits) -> None:
        """Record the logprobs of the prompt tokens that this chunk's logits (n, V) predict."""
        k = r.params.prompt_logprobs
        start = r.prefilled
        m = min(logits.shape[0], len(r.prompt) - 1 - start)   # positions with a next token
        if m <= 0:
            return
        lp = logits[:m].log_softmax(dim=-1)
        targets = r.prompt[start + 1:start + 1 + m]
        chosen = lp.gather(-1, torch.tensor([[t] for t in targets])).reshape(-1).tolist()
        tops = _topk(lp, k)
        r.prompt_lps.extend((t, c, top) for t, c, top in zip(targets, chosen, tops))

    def _sample(self, r: _Request, logits, greedy: Optional[int]) -> None:
        """Pick r's next token from its logits (1, V) (or its argmax ``greedy``, known
        already) and emit it."""
        p = r.params
        try:
            raw = logits
            if p.adjusted:            # this row's bias and penalties, nobody else's
                logits, greedy = logits + self._adjustment(r, logits), None
            if p.temperature == 0:
                tok = greedy if greedy is not None else int(logits.argmax(dim=-1)[0])
            else:
                tok = int(GPT.sample(logits, p.temperature, p.top_k or None,
                                     p.top_p if p.top_p < 1 else None, r.generator)[0, 0])
            entry = None
            if p.logprobs is not None:   # the model's own distribution (vLLM's raw logprobs)
                lp = raw.log_softmax(dim=-1)
                entry = (tok, float(lp[0, tok]), _topk(lp, p.logprobs)[0])
        except Exception as e:
            self._finish(r, Event("", [], "error", f"{type(e).__name__}: {e}"))
            return
        self._emit_token(r, tok, entry)

    def _adjustment(self, r: _Request, logits):
        """r's (1, V) logit offset: its bias, then minus its penalties (updated per token)."""
        if r.adjust is None:
            r.adjust = torch.zeros(1, logits.shape[-1], dtype=logits.dtype)
            for t, v in (r.params.logit_bias or {}).items():
                if 0 <= t < logits.shape[-1]:
                    r.adjust[0, t] = float(v)
        return r.adjust

    def _emit_token(self, r: _Request, tok: int, entry=None) -> None:
        p = r.params
        if r.adjust is not None and (p.presence_penalty or p.frequency_penalty):
            pen = p.frequency_penalty + (p.presence_penalty if tok not in r.seen else 0.0)
            if pen:
                r.adjust[0, tok] = float(r.adjust[0, tok]) - pen
        r.seen.add(tok)
        r.generated.append(tok)
        with self._cond:
            self._counts["generation_tokens_total"] += 1
        cut = None
        if tok in r.params.stop_token_ids:   # its text is not emitted
            finish = "stop"
        else:
            r.held += r.decoder.push([tok])
            cut = _find_stop(r.held, r.params.stop)
            finish = "stop" if cut is not None else (
                "length" if len(r.generated) >= r.limit else None)
        lps, first = ([entry] if entry is not None else None), r.take_prompt_logprobs()
        if cut is not None:                  # the text before the stop string, no more
            self._finish(r, Event(r.held[:cut], [tok], finish, None, lps, first))
        elif finish is not None:             # no stop string can follow: release the rest
            self._finish(r, Event(r.held + r.decoder.flush(), [tok], finish, None, lps, first))
        else:                                # hold back what may start a stop string
            keep = len(r.held) - _stop_prefix_len(r.held, r.params.stop)
            text, r.held = r.held[:keep], r.held[keep:]
            r.next_token = tok
            self._send(r, Event(text, [tok], None, None, lps, first))

    def _send(self, r: _Request, ev: Event) -> None:
        """Call the request's on_event; a callback that raises ends the request (its client
        is gone or broken), never the engine."""
        try:
            r.on_event(ev)
        except Exception:
            with self._cond:
                self._counts["callback_errors"] += 1
            if ev.finish_reason is None:
                self._finish(r, None)

    def _finish(self, r: _Request, ev: Optional[Event]) -> None:
        """Free r's slot and send its final event (once)."""
        if r.done:
            return
        r.done, r.next_token = True, None
        with self._cond:
            if r.slot is not None:
                self._slots[r.slot] = None
                self._order.remove(r)
            elif r in self._queue:
                self._queue.remove(r)
            self._finished[ev.finish_reason if ev is not None else "error"] += 1
            self._cond.notify_all()
        if ev is not None:
            self._send(r, ev)

    def _cancel(self, r: _Request) -> None:
        with self._cond:
            r.cancelled = True
            self._cond.notify_all()

    def _cancel_all(self) -> None:
        with self._cond:
            left = list(self._queue) + list(self._order)
        for r in left:
            self._finish(r, Event("", [], "cancelled"))


def _topk(lp, k: int) -> list:
    """[(id, logprob)] of the k most likely tokens of each row of logprobs (R, V), best first."""
    if not k:
        return [[] for _ in range(lp.shape[0])]
    vals, ids = lp.topk(min(k, lp.shape[-1]), dim=-1)
    return [list(zip(i, v)) for i, v in zip(ids.tolist(), vals.tolist())]


def _pad_groups(chunks, max_len: int):
    """Split prefill chunks [(request, n tokens)] into forwards: longest first, a chunk joins
    the current group while padding stays at most half the group's tokens and its padded end
    stays inside the cache."""
    groups = []
    for r, n in sorted(chunks, key=lambda c: -c[1]):
        g = groups[-1] if groups else None
        if g is not None:
            T, real = g[0][1], sum(m for _, m in g) + n
            if (len(g) + 1) * T <= 2 * real and r.prefilled + T <= max_len:
                g.append((r, n))
                continue
        groups.append([(r, n)])
    return groups


def _find_stop(text: str, stops) -> Optional[int]:
    """Index of the earliest stop string in text, or None."""
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(found) if found else None


def _stop_prefix_len(text: str, stops) -> int:
    """Length of the longest suffix of text that is a proper prefix of a stop string (the
    text to hold back: the next tokens may complete the stop string)."""
    keep = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), keep, -1):
            if text.endswith(s[:k]):
                keep = k
                break
    return keep

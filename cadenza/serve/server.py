"""``cadenza serve``: an OpenAI-compatible HTTP server over :class:`cadenza.serve.Engine`.

Endpoints: ``POST /v1/completions``, ``POST /v1/chat/completions`` (JSON, or server-sent
events with ``"stream": true``, ending ``data: [DONE]``), ``GET /v1/models``,
``GET /v1/models/{name}``, ``GET /health`` (503 while draining), ``GET /metrics`` (Prometheus
text). Request rules live in :mod:`cadenza.serve.protocol`; every error is OpenAI's
``{"error": {"message", "type", "param", "code"}}``: 400 bad request, 404 unknown model or
path, 405 wrong method, 413 body over ``max_body`` (1 MiB by default), 429 engine queue
full, 503 shutting down, 500 an engine failure (the server keeps serving after each).

Stack: **aiohttp** (the ``serve`` extra), chosen over Starlette + uvicorn because

- dependencies: one package (plus its small aio-libs helpers: multidict, yarl, frozenlist,
  aiosignal, propcache, aiohappyeyeballs, attrs) that is both server and client, so the
  benchmark's concurrent streaming clients need nothing more; Starlette + uvicorn is two
  frameworks plus anyio, h11 and click, and still needs an HTTP client for the benchmark;
- streaming: ``StreamResponse.write`` per token, with back-pressure (``drain``) built in;
- body-size limit: ``client_max_size`` is enforced while reading (we also refuse an
  over-long ``Content-Length`` before reading anything); Starlette has no limit of its own;
- disconnects: ``handler_cancellation=True`` cancels the handler the moment the peer closes,
  streaming or not, so the request's engine slot is freed at once (``Handle.cancel``);
  with Starlette only streaming responses notice a disconnect;
- graceful shutdown: ``AppRunner.cleanup`` stops listening, closes idle keep-alive
  connections and waits up to ``shutdown_timeout`` for in-flight handlers; we own the signal
  handlers (SIGTERM / SIGINT: stop accepting, finish in-flight requests, drain the engine,
  exit 0; a second signal cancels what is left), where uvicorn re-raises the signal after
  shutdown and the exit status is then the signal's.

The engine runs its step loop in its own thread; its per-token callbacks are moved onto the
event loop with ``loop.call_soon_threadsafe`` into one queue per HTTP request.
"""
from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
import traceback
from typing import Callable, Dict, List, Optional, Tuple

from ..models.config import ConfigError
from .engine import EngineStopped, QueueFull, SamplingParams
from .loading import ServedModel
from .protocol import (APIError, GenRequest, Logprobs, chat_chunk, chat_response,
                       completion_chunk, completion_response, error_body, parse_body,
                       parse_chat, parse_completion, usage)

__all__ = ["OpenAIServer", "serve", "Metrics", "DEFAULT_MAX_BODY", "require_aiohttp"]

DEFAULT_MAX_BODY = 1 << 20
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
_ENDPOINTS = ("/v1/completions", "/v1/chat/completions", "/v1/models", "/v1/models/{model}",
              "/health", "/metrics")


def require_aiohttp():
    try:  # the serve extra: only `cadenza serve` needs it
        from aiohttp import web
    except ImportError:
        raise ImportError("cadenza serve: the optional package 'aiohttp' is not installed; "
                          "run `pip install 'cadenza[serve]'`") from None
    return web


class Histogram:
    """A Prometheus histogram (cumulative buckets, sum, count)."""

    def __init__(self, buckets: Tuple[float, ...]):
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.sum, self.count = 0.0, 0

    def observe(self, v: float) -> None:
        i = next((k for k, b in enumerate(self.buckets) if v <= b), len(self.buckets))
        self.counts[i] += 1
        self.sum += v
        self.count += 1

    def render(self, name: str) -> List[str]:
        out, acc = [], 0
        for b, c in zip(self.buckets, self.counts):
            acc += c
            out.append(f'{name}_bucket{{le="{b:g}"}} {acc}')
        out.append(f'{name}_bucket{{le="+Inf"}} {self.count}')
        out += [f"{name}_sum {self.sum:.6f}", f"{name}_count {self.count}"]
        return out


_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _label(v) -> str:
    return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _quantile(sorted_vals: List[float], q: float) -> float:
    if not sorted_vals:
        return float("nan")
    return sorted_vals[min(len(sorted_vals) - 1, int(q * len(sorted_vals)))]


class Metrics:
    """Counters and histograms of the HTTP side; the engine's own numbers come from
    ``engine.stats()`` when /metrics is read."""

    def __init__(self):
        self.requests: Dict[Tuple[str, int], int] = {}
        self.prompt_tokens = 0
        self.generation_tokens = 0
        self.ttft = Histogram(_LATENCY)
        self.itl = Histogram(_LATENCY)
        self.e2e = Histogram(_LATENCY)

    def count(self, endpoint: str, status: int) -> None:
        key = (endpoint, status)
        self.requests[key] = self.requests.get(key, 0) + 1

    def render(self, stats: dict) -> str:
        lines = []

        def metric(name, kind, help_, rows):
            lines.extend([f"# HELP {name} {help_}", f"# TYPE {name} {kind}"] + rows)

        metric("cadenza_http_requests_total", "counter", "HTTP requests by endpoint and status.",
               [f'cadenza_http_requests_total{{endpoint="{e}",status="{s}"}} {n}'
                for (e, s), n in sorted(self.requests.items())])
        metric("cadenza_prompt_tokens_total", "counter", "Prompt tokens of accepted requests.",
               [f"cadenza_prompt_tokens_total {self.prompt_tokens}"])
        metric("cadenza_generation_tokens_total", "counter", "Tokens generated and delivered.",
               [f"cadenza_generation_tokens_total {self.generation_tokens}"])
        metric("cadenza_queue_depth", "gauge", "Requests waiting for a batch slot.",
               [f"cadenza_queue_depth {stats.get('queue_depth', 0)}"])
        metric("cadenza_running_batch_size", "gauge", "Sequences in the running batch.",
               [f"cadenza_running_batch_size {stats.get('running', 0)}"])
        metric("cadenza_max_batch", "gauge", "Batch slots (KV-cache rows).",
               [f"cadenza_max_batch {stats.get('max_batch', 0)}"])
        for name, h, help_ in (
                ("cadenza_time_to_first_token_seconds", self.ttft,
                 "From request arrival to its first generated token."),
                ("cadenza_inter_token_latency_seconds", self.itl,
                 "Between consecutive tokens of one sequence."),
                ("cadenza_request_duration_seconds", self.e2e,
                 "From request arrival to its last token.")):
            metric(name, "histogram", help_, h.render(name))
        steps = sorted(float(s) for s in stats.get("step_seconds", ()) or ())
        metric("cadenza_engine_step_seconds", "summary",
               "Engine step time over its recent steps.",
               [f'cadenza_engine_step_seconds{{quantile="{q}"}} {_quantile(steps, q):.6f}'
                for q in (0.5, 0.9, 0.99)]
               + [f"cadenza_engine_step_seconds_sum {sum(steps):.6f}",
                  f"cadenza_engine_step_seconds_count {len(steps)}"])
        shown = {"queue_depth", "running", "max_batch", "step_seconds"}
        for k, v in sorted(stats.items()):  # whatever else the engine reports
            name = "cadenza_engine_" + "".join(c if c.isalnum() else "_" for c in k)
            if k in shown:
                continue
            if _is_number(v):
                kind = "counter" if k.endswith("_total") else "gauge"
                metric(name, kind, f"engine.stats()[{k!r}]", [f"{name} {v}"])
            elif isinstance(v, dict) and v and all(_is_number(x) for x in v.values()):
                # e.g. requests_finished {"stop": 3, "length": 5}: a counter by reason
                rows = [f'{name}_total{{reason="{_label(r)}"}} {x}' for r, x in sorted(v.items())]
                metric(name + "_total", "counter", f"engine.stats()[{k!r}] by reason", rows)
        return "\n".join(lines) + "\n"


class OpenAIServer:
    """The aiohttp application over an :class:`Engine` and a :class:`ServedModel`."""

    def __init__(self, engine, served: ServedModel, *, max_body: int = DEFAULT_MAX_BODY,
                 log: Callable[[str], None] = None):
        self.engine, self.served = engine, served
        self.spec = served.spec()
        self.max_body = max_body
        self.metrics = Metrics()
        self.log = log or (lambda s: print(s, file=sys.stderr, flush=True))
        self.stopping = False
        self.in_flight = 0
        self._web = None

    # ---------------------------------------------------------------- application
    def build_app(self):
        web = self._web = require_aiohttp()
        app = web.Application(client_max_size=self.max_body, middlewares=[self._middleware()])
        app.router.add_post("/v1/completions", self.completions)
        app.router.add_post("/v1/chat/completions", self.chat_completions)
        app.router.add_get("/v1/models", self.models)
        app.router.add_get("/v1/models/{model:.+}", self.model)   # names may hold '/'
        app.router.add_get("/health", self.health)
        app.router.add_get("/metrics", self.prometheus)
        return app

    def _json(self, obj, status: int = 200):
        return self._web.Response(status=status, text=json.dumps(obj, ensure_ascii=False),
                                  content_type="application/json")

    def _middleware(self):
        web = require_aiohttp()

        @web.middleware
        async def errors(request, handler):
            route = request.match_info.route.resource
            endpoint = route.canonical if route is not None else "other"
            endpoint = endpoint if endpoint in _ENDPOINTS else "other"
            try:
                resp = await handler(request)
            except APIError as e:
                resp = self._json(e.body(), e.status)
            except web.HTTPException as e:  # aiohttp's own: unknown path, wrong method
                if e.status == 413:
                    resp = self._json(error_body(413, self._too_large()), 413)
                else:
                    reason = {404: f"no such endpoint: {request.method} {request.path[:200]}",
                              405: f"method {request.method} is not allowed on "
                                   f"{request.path[:200]}"}.get(e.status, e.reason)
                    resp = self._json(error_body(e.status, reason), e.status)
                    if e.status == 405:
                        resp.headers["Allow"] = e.headers.get("Allow", "")
            except (asyncio.CancelledError, ConnectionResetError):
                self.metrics.count(endpoint, 499)   # the client went away (nginx's 499)
                raise
            except Exception as e:  # a bug or an engine failure: log it, keep serving
                self.log("cadenza serve: internal error:\n" + traceback.format_exc())
                resp = self._json(error_body(500, f"internal error: {type(e).__name__}: {e}"),
                                  500)
            self.metrics.count(endpoint, resp.status)
            return resp

        return errors

    def _too_large(self) -> str:
        return f"the request body is larger than the server's limit of {self.max_body} bytes"

    # ---------------------------------------------------------------- simple endpoints
    def _model_card(self) -> dict:
        return {"id": self.spec.name, "object": "model", "created": self.spec.created,
                "owned_by": "cadenza", "max_model_len": self.spec.block_size}

    async def models(self, request):
        return self._json({"object": "list", "data": [self._model_card()]})

    async def model(self, request):
        name = request.match_info["model"]
        if name != self.spec.name:
            raise APIError(404, f"The model '{name[:200]}' does not exist",
                           param="model", code="model_not_found")
        return self._json(self._model_card())

    async def health(self, request):
        if self.stopping:
            return self._json({"status": "stopping"}, 503)
        return self._json({"status": "ok"})

    async def prometheus(self, request):
        return self._web.Response(body=self.metrics.render(self.engine.stats()).encode(),
                                  headers={"Content-Type": PROMETHEUS_TEXT})

    # ---------------------------------------------------------------- generation
    async def completions(self, request):
        return await self._generate(request, parse_completion)

    async def chat_completions(self, request):
        return await self._generate(request, parse_chat)

    async def _read(self, request) -> bytes:
        if request.content_length is not None and request.content_length > self.max_body:
            raise APIError(413, self._too_large())
        try:
            return await request.read()
        except self._web.HTTPRequestEntityTooLarge:
            raise APIError(413, self._too_large()) from None

    def _submit(self, req: GenRequest, loop, queue) -> list:
        """One engine request per (prompt, choice); all or none (429 / 503 / 400)."""
        handles = []

        def bridge(index):
            def on_event(ev):  # called on the engine thread
                try:
                    loop.call_soon_threadsafe(queue.put_nowait, (index, ev))
                except RuntimeError:  # the loop is closed: nobody is listening any more
                    pass
            return on_event

        try:
            for p, ids in enumerate(req.prompts):
                for j in range(req.best_of):
                    params = SamplingParams(**req.params(p, j))
                    handles.append(self.engine.submit(list(ids), params,
                                                      bridge(p * req.best_of + j)))
        except QueueFull:
            self._cancel(handles)
            raise APIError(429, "the server's request queue is full; retry later",
                           code="queue_full") from None
        except EngineStopped:
            self._cancel(handles)
            raise APIError(503, "the server is shutting down") from None
        except ValueError as e:
            self._cancel(handles)
            raise APIError(400, str(e)) from None
        return handles

    @staticmethod
    def _cancel(handles, done=()):
        for i, h in enumerate(handles):
            if i not in done:
                h.cancel()

    async def _generate(self, request, parse):
        t0 = time.monotonic()
        if self.stopping:
            raise APIError(503, "the server is shutting down")
        body = parse_body(await self._read(request))
        req = parse(body, self.spec)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        handles = self._submit(req, loop, queue)
        self.metrics.prompt_tokens += sum(len(p) for p in req.prompts)
        finished: set = set()
        self.in_flight += 1
        try:
            events = self._events(queue, len(handles), finished, t0)
            if req.stream:
                return await self._stream(request, req, events)
            return await self._collect(req, events)
        finally:
            self.in_flight -= 1
            self._cancel(handles, finished)   # a disconnect or an error: free the slots now
            if len(finished) == len(handles):
                self.metrics.e2e.observe(time.monotonic() - t0)

    async def _events(self, queue, total: int, finished: set, t0: float):
        """(index, event) as the engine produces them, recording latencies and token counts."""
        last: Dict[int, float] = {}
        first = True
        while len(finished) < total:
            index, ev = await queue.get()
            now = time.monotonic()
            if ev.token_ids:
                self.metrics.generation_tokens += len(ev.token_ids)
                if first:
                    self.metrics.ttft.observe(now - t0)
                    first = False
                if index in last:
                    self.metrics.itl.observe(now - last[index])
                last[index] = now
            if ev.finish_reason is not None:
                finished.add(index)
            yield index, ev

    def _echo(self, req: GenRequest, i: int) -> Tuple[str, list]:
        """Choice i's echoed prompt: (its text, its first token's logprob entry)."""
        if not req.echo:
            return "", []
        prompt = req.prompts[i // req.best_of]
        return req.echo_texts[i // req.best_of], [(prompt[0], None, None)]

    @staticmethod
    def _entries(ev) -> list:
        return (ev.prompt_logprobs or []) + (ev.logprobs or [])

    async def _collect(self, req: GenRequest, events):
        total = len(req.prompts) * req.best_of
        echoes = [self._echo(req, i) for i in range(total)]
        texts: List[List[str]] = [[e[0]] for e in echoes]
        entries: List[list] = [list(e[1]) for e in echoes]
        scores: List[List[float]] = [[] for _ in range(total)]   # generated tokens' logprobs
        finish: List[Optional[str]] = [None] * total
        ntok = 0
        async for i, ev in events:
            texts[i].append(ev.text)
            entries[i] += self._entries(ev)
            scores[i] += [lp for _, lp, _ in ev.logprobs or ()]
            ntok += len(ev.token_ids)
            if ev.finish_reason == "error":
                raise APIError(500, f"generation failed: {ev.error or 'engine error'}")
            if ev.finish_reason is not None:
                finish[i] = ev.finish_reason
        use = usage(sum(len(p) for p in req.prompts), ntok)
        if req.best_of > req.n:   # per prompt, the n best by mean token logprob, best first
            keep = []
            for p in range(len(req.prompts)):
                cands = range(p * req.best_of, (p + 1) * req.best_of)
                mean = {i: sum(scores[i]) / max(len(scores[i]), 1) for i in cands}
                keep += sorted(cands, key=lambda i: -mean[i])[:req.n]
            texts, entries, finish = ([xs[i] for i in keep] for xs in (texts, entries, finish))
        build = completion_response if req.kind == "completion" else chat_response
        lps = None
        if req.logprobs is not None:
            lps = [Logprobs(req.kind, self.spec.token_bytes).piece(e) for e in entries]
        return self._json(build(req, ["".join(t) for t in texts], finish, use, lps))

    async def _stream(self, request, req: GenRequest, events):
        web = self._web
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                           "Cache-Control": "no-cache"})
        await resp.prepare(request)

        async def send(obj):
            await resp.write(b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n")

        chat = req.kind == "chat"
        if chat:  # OpenAI's first chunk of each choice carries the role
            for i in range(len(req.prompts) * req.n):
                await send(chat_chunk(req, i, {"role": "assistant", "content": ""}, None))
        ntok = 0
        total = len(req.prompts) * req.n   # best_of == n: checked when parsed
        echoes = [self._echo(req, i) for i in range(total)]   # sent with a choice's 1st chunk
        pending: List[list] = [list(e[1]) for e in echoes]      # logprobs not sent yet
        fmt = [Logprobs(req.kind, self.spec.token_bytes) for _ in range(total)]
        async for i, ev in events:
            ntok += len(ev.token_ids)
            if ev.finish_reason == "error":
                await send(error_body(500, f"generation failed: {ev.error or 'engine error'}"))
                continue
            pending[i] += self._entries(ev)
            text = echoes[i][0] + ev.text
            if not text and ev.finish_reason is None:
                continue   # held-back text: its tokens' logprobs go with the next chunk
            echoes[i] = ("", [])
            lp = fmt[i].piece(pending[i]) if req.logprobs is not None else None
            pending[i] = []
            if chat:
                delta = {"content": text} if text else {}
                await send(chat_chunk(req, i, delta, ev.finish_reason, logprobs=lp))
            else:
                await send(completion_chunk(req, i, text, ev.finish_reason, logprobs=lp))
        if req.include_usage:
            use = usage(sum(len(p) for p in req.prompts), ntok)
            await send(chat_chunk(req, None, {}, None, use) if chat
                       else completion_chunk(req, None, "", None, use))
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    # ---------------------------------------------------------------- running
    async def run(self, host: str = "127.0.0.1", port: int = 8000,
                  shutdown_timeout: float = 60.0,
                  ready: Optional[Callable[[str, int], None]] = None) -> int:
        """Start the engine, listen, serve until SIGTERM/SIGINT, then drain; returns 0."""
        web = require_aiohttp()
        app = self.build_app()
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None,
                               shutdown_timeout=shutdown_timeout)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as e:
            await runner.cleanup()
            raise ConfigError(f"serve: cannot listen on {host}:{port}: {e.strerror or e}"
                              ) from None
        self.engine.start()
        bound = runner.addresses[0][1] if runner.addresses else port
        self.log(f"cadenza serve: model '{self.spec.name}' (context {self.spec.block_size}) "
                 f"on http://{host}:{bound}/v1 ; Ctrl-C or SIGTERM stops it")
        if ready is not None:
            ready(host, bound)
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        sigs = (signal.SIGTERM, signal.SIGINT)
        for s in sigs:
            loop.add_signal_handler(s, stop.set)
        try:
            await stop.wait()
            self.stopping = True
            for open_site in list(runner.sites):   # stop listening before saying so
                await open_site.stop()
            self.log(f"cadenza serve: stopping: no new requests; finishing {self.in_flight} "
                     f"in flight (a second signal cancels them)")
            for s in sigs:
                loop.add_signal_handler(s, self._force_stop)
            await runner.cleanup()   # stop listening, wait for in-flight handlers
        finally:
            for s in sigs:
                loop.remove_signal_handler(s)
            await loop.run_in_executor(None, self.engine.stop, True, shutdown_timeout)
        self.log("cadenza serve: stopped")
        return 0

    def _force_stop(self):
        self.log("cadenza serve: cancelling the requests in flight")
        asyncio.get_running_loop().run_in_executor(None, self.engine.stop, False, 5.0)


def serve(engine, served: ServedModel, host: str = "127.0.0.1", port: int = 8000, *,
          max_body: int = DEFAULT_MAX_BODY, shutdown_timeout: float = 60.0,
          log: Callable[[str], None] = None) -> int:
    """Serve ``served`` through ``engine`` (not yet started) until SIGTERM or SIGINT; the
    exit status, 0 after a graceful stop."""
    server = OpenAIServer(engine, served, max_body=max_body, log=log)
    return asyncio.run(server.run(host, port, shutdown_timeout))

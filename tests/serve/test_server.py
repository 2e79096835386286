"""`cadenza serve` end to end: the official `openai` client (completions, chat, streaming, n,
seed, usage), raw HTTP for the bad-input table (each answered with a clear 4xx in OpenAI's
error shape while the server keeps serving and its memory stays flat), client disconnects
freeing their slots, and /metrics."""
import concurrent.futures as cf
import http.client
import json
import socket
import urllib.request

import pytest

from serve_util import BLOCK, wait_for

pytest.importorskip("aiohttp", reason="the serve extra (aiohttp) is not installed")
try:  # the official client; the raw-HTTP tests run without it
    import openai
except ImportError:
    openai = None


@pytest.fixture(scope="module")
def client(server):
    if openai is None:
        pytest.skip("the openai package is not installed")
    return openai.OpenAI(base_url=server.base + "/v1", api_key="none", timeout=30,
                         max_retries=0)


def test_models_health(server, client):
    assert [m.id for m in client.models.list().data] == ["tiny"]
    assert server.request("GET", "/health") == (200, {"status": "ok"})
    status, body = server.request("GET", "/v1/models/tiny")
    assert status == 200 and body["max_model_len"] == BLOCK
    status, body = server.request("GET", "/v1/models/gpt-4")
    assert status == 404 and body["error"]["code"] == "model_not_found"


def test_completion(client):
    r = client.completions.create(model="tiny", prompt="def ", max_tokens=7, temperature=0)
    assert r.object == "text_completion" and len(r.choices) == 1
    c = r.choices[0]
    assert c.index == 0 and c.finish_reason == "length" and isinstance(c.text, str)
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (4, 7, 11)
    again = client.completions.create(model="tiny", prompt="def ", max_tokens=7, temperature=0)
    assert again.choices[0].text == c.text   # greedy is deterministic


def test_prompt_as_token_ids_and_batch_of_prompts(client):
    r = client.completions.create(model="tiny", prompt=list(b"def "), max_tokens=5,
                                  temperature=0)
    s = client.completions.create(model="tiny", prompt="def ", max_tokens=5, temperature=0)
    assert r.choices[0].text == s.choices[0].text and r.usage.prompt_tokens == 4
    b = client.completions.create(model="tiny", prompt=["def ", "class "], max_tokens=5,
                                  temperature=0, n=2)
    assert [c.index for c in b.choices] == [0, 1, 2, 3]
    assert b.choices[0].text == b.choices[1].text == s.choices[0].text
    assert b.usage.prompt_tokens == 4 + 6 and b.usage.completion_tokens == 20


def test_seed_and_n(client):
    kw = dict(model="tiny", prompt="import ", max_tokens=12, temperature=1.0, seed=1234, n=3)
    a = client.completions.create(**kw)
    b = client.completions.create(**kw)
    assert [c.text for c in a.choices] == [c.text for c in b.choices]
    assert [c.index for c in a.choices] == [0, 1, 2]
    assert len({c.text for c in a.choices}) > 1   # choice j samples with seed + j
    other = client.completions.create(**dict(kw, seed=99, n=1))
    assert other.choices[0].text != a.choices[0].text


def test_stream_completion(client):
    kw = dict(model="tiny", prompt="def ", max_tokens=9, temperature=0)
    whole = client.completions.create(**kw).choices[0].text
    chunks = list(client.completions.create(stream=True, stream_options={"include_usage": True},
                                            **kw))
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == whole
    finals = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finals[-1] == "length" and not any(finals[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 9


def test_stream_n_choices_interleave(client):
    chunks = list(client.completions.create(model="tiny", prompt="x = ", max_tokens=6, n=2,
                                            seed=5, stream=True))
    by = {0: "", 1: ""}
    for c in chunks:
        by[c.choices[0].index] += c.choices[0].text
    plain = client.completions.create(model="tiny", prompt="x = ", max_tokens=6, n=2, seed=5)
    assert [by[0], by[1]] == [c.text for c in plain.choices]


def test_stop_strings(client):
    kw = dict(model="tiny", prompt="def ", max_tokens=60, temperature=1.0, seed=7)
    base = client.completions.create(**kw).choices[0].text
    stop = next((ch for ch in base[2:] if ch.isascii() and ch.isalnum()), None)
    assert stop is not None, base
    r = client.completions.create(stop=[stop, "\x00never"], **kw)
    c = r.choices[0]
    assert c.finish_reason == "stop" and c.text == base[:base.index(stop)]
    assert stop not in c.text


def test_chat_default_template(client, tiny_ckpt):
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    r = client.chat.completions.create(model="tiny", messages=msgs, max_completion_tokens=6,
                                       temperature=0)
    assert r.object == "chat.completion"
    m = r.choices[0].message
    assert m.role == "assistant" and isinstance(m.content, str)
    # the documented default: "system: Be brief.\nuser: hi\nassistant:" (byte tokenizer)
    assert r.usage.prompt_tokens == len("system: Be brief.\nuser: hi\nassistant:")
    assert r.usage.completion_tokens == 6
    s = list(client.chat.completions.create(model="tiny", messages=msgs, max_tokens=6,
                                            temperature=0, stream=True))
    assert s[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in s) == m.content
    assert s[-1].choices[0].finish_reason == "length"


def test_chat_default_max_tokens_fills_the_context(client):
    r = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "a"}],
                                       temperature=0)
    assert r.usage.prompt_tokens + r.usage.completion_tokens == BLOCK
    assert r.choices[0].finish_reason == "length"


def test_concurrent_greedy_equals_sequential(client):
    prompts = [f"def f{i}(" for i in range(8)]
    one = [client.completions.create(model="tiny", prompt=p, max_tokens=10, temperature=0)
           .choices[0].text for p in prompts]
    with cf.ThreadPoolExecutor(8) as ex:
        many = list(ex.map(lambda p: client.completions.create(
            model="tiny", prompt=p, max_tokens=10, temperature=0).choices[0].text, prompts))
    assert many == one


def test_openai_client_raises_on_errors(client):
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="other", prompt="a", max_tokens=2)
    with pytest.raises(openai.BadRequestError, match="maximum context length is 128"):
        client.completions.create(model="tiny", prompt="a" * 200, max_tokens=2)


LONG = "x" * (BLOCK + 5)
BAD = [  # (body, status, words the message must contain, param)
    (b"{not json", 400, "not valid JSON", None),
    (b"", 400, "empty", None),
    (b"[1, 2]", 400, "JSON object", None),
    (b'{"prompt": "\xff\xfe"}', 400, "UTF-8", None),
    (b'{"prompt": "a", "temperature": NaN}', 400, "temperature", "temperature"),
    (b'{"prompt": "a", "temperature": Infinity}', 400, "temperature", "temperature"),
    ({"prompt": "a", "temperature": -0.5}, 400, "temperature", "temperature"),
    ({"prompt": "a", "temperature": "hot"}, 400, "temperature", "temperature"),
    ({"prompt": "a", "max_tokens": -3}, 400, ">= 1", "max_tokens"),
    ({"prompt": "a", "max_tokens": 0}, 400, ">= 1", "max_tokens"),
    ({"prompt": "a", "max_tokens": 10 ** 12}, 400, "maximum context length", "max_tokens"),
    ({"prompt": "a", "max_tokens": 2.5}, 400, "integer", "max_tokens"),
    ({"prompt": "a", "max_tokens": True}, 400, "integer", "max_tokens"),
    ({"prompt": LONG}, 400, f"maximum context length is {BLOCK}", "prompt"),
    ({"prompt": 7}, 400, "prompt", "prompt"),
    ({"prompt": [1, 2, 99999]}, 400, "vocabulary", "prompt"),
    ({"prompt": ""}, 400, "empty", "prompt"),
    ({}, 400, "'prompt' is required", "prompt"),
    ({"prompt": "a", "model": "gpt-4"}, 404, "does not exist", "model"),
    ({"prompt": "a", "model": 3}, 400, "model", "model"),
    ({"prompt": "a", "stop": ["s"] * 5000}, 400, "at most 4", "stop"),
    ({"prompt": "a", "stop": [""]}, 400, "1 to", "stop"),
    ({"prompt": "a", "stop": 5}, 400, "stop", "stop"),
    ({"prompt": "a", "top_p": 0}, 400, "top_p", "top_p"),
    ({"prompt": "a", "top_k": -7}, 400, "top_k", "top_k"),
    ({"prompt": "a", "n": 0}, 400, "n", "n"),
    ({"prompt": "a", "n": 1000}, 400, "n", "n"),
    ({"prompt": "a", "seed": "x"}, 400, "seed", "seed"),
    ({"prompt": "a", "seed": 2 ** 70}, 400, "seed", "seed"),
    ({"prompt": "a", "stream": "yes"}, 400, "stream", "stream"),
    ({"prompt": "a", "logprobs": 6}, 400, "[0, 5]", "logprobs"),
    ({"prompt": "a", "logit_bias": {"x": 1}}, 400, "token ids", "logit_bias"),
    ({"prompt": "a", "presence_penalty": 3}, 400, "[-2, 2]", "presence_penalty"),
    ({"prompt": "a", "suffix": "x"}, 400, "not supported", "suffix"),
    ({"prompt": "a", "best_of": 2, "stream": True}, 400, "streamed", "best_of"),
    ({"prompt": "a", "stream_options": {"include_usage": True}}, 400, "stream", "stream_options"),
]
BAD_CHAT = [
    ({"messages": []}, 400, "messages", "messages"),
    ({"messages": "hi"}, 400, "messages", "messages"),
    ({"messages": [{"role": "wizard", "content": "x"}]}, 400, "role", "messages[0].role"),
    ({"messages": [{"role": "user", "content": 5}]}, 400, "content", "messages[0].content"),
    ({"messages": [{"role": "user", "content": "a"}], "max_completion_tokens": 500}, 400,
     "maximum context length", "max_completion_tokens"),
    ({"messages": [{"role": "user", "content": "a"}], "top_logprobs": 3}, 400, "logprobs",
     "top_logprobs"),
    ({"messages": [{"role": "user", "content": LONG}]}, 400, "maximum context length",
     "messages"),
]


def _post(server, path, body):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return server.request("POST", path, raw)


@pytest.mark.parametrize("body,status,words,param", BAD)
def test_bad_completion_request(server, body, status, words, param):
    got, resp = _post(server, "/v1/completions", body)
    assert got == status, resp
    err = resp["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert words in err["message"] and err["param"] == param
    assert err["type"] == "invalid_request_error"


@pytest.mark.parametrize("body,status,words,param", BAD_CHAT)
def test_bad_chat_request(server, body, status, words, param):
    got, resp = _post(server, "/v1/chat/completions", body)
    assert got == status, resp
    assert words in resp["error"]["message"] and resp["error"]["param"] == param


def test_unknown_fields_ignored_and_truncation_on_request(server):
    status, r = _post(server, "/v1/completions", {"prompt": "a", "max_tokens": 2,
                                                  "frobnicate": {"x": [1]}, "user": "me"})
    assert status == 200 and r["usage"]["completion_tokens"] == 2
    status, r = _post(server, "/v1/completions", {"prompt": LONG, "max_tokens": 2,
                                                  "truncate_prompt_tokens": 50})
    assert status == 200 and r["usage"]["prompt_tokens"] == 50


def test_wrong_path_and_method(server):
    status, r = server.request("GET", "/v1/nothing")
    assert status == 404 and "no such endpoint" in r["error"]["message"]
    status, r = server.request("GET", "/v1/completions")
    assert status == 405 and "not allowed" in r["error"]["message"]


def _huge_body(server, size=10 << 20):
    """POST a 10 MB body with http.client; the server may answer 413 before it is all sent."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest("POST", "/v1/completions")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(size))
        conn.endheaders()
        chunk = b"x" * (1 << 16)
        try:
            for _ in range(size // len(chunk)):
                conn.send(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def test_body_over_the_limit_is_413(server):
    status, r = _huge_body(server)
    assert status == 413 and "1048576 bytes" in r["error"]["message"]
    status, r = _post(server, "/v1/completions", {"prompt": "a" * (1 << 20)})
    assert status == 413


def test_burst_of_bad_requests_keeps_serving_and_memory_flat(server):
    def burst():
        for body, status, _, _ in BAD + BAD:
            assert _post(server, "/v1/completions", body)[0] == status
        for body, status, _, _ in BAD_CHAT:
            assert _post(server, "/v1/chat/completions", body)[0] == status
        assert _huge_body(server)[0] == 413

    burst()   # warm: first-use allocations are not growth
    before = server.rss_kb()
    for _ in range(3):
        burst()
    grown = server.rss_kb() - before
    assert grown < 20_000, f"RSS grew {grown} kB over 3 bursts of bad requests"
    status, r = _post(server, "/v1/completions", {"prompt": "def ", "max_tokens": 3})
    assert status == 200 and r["usage"]["completion_tokens"] == 3


def _stream_then_disconnect(server, body):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("POST", "/v1/completions", json.dumps(body),
                 {"Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 200
    first = r.readline()
    assert first.startswith(b"data: {")
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()


def test_disconnect_mid_stream_frees_the_slot(server):
    m0 = server.metrics()
    key = 'cadenza_http_requests_total{endpoint="/v1/completions",status="499"}'
    n = 4
    _stream_then_disconnect(server, {"prompt": "a", "max_tokens": BLOCK - 1, "n": n,
                                     "stream": True, "temperature": 1.0})
    assert wait_for(lambda: server.metrics().get(key, 0) == m0.get(key, 0) + 1), \
        "the disconnect was not noticed"
    assert wait_for(lambda: server.metrics()["cadenza_running_batch_size"] == 0)
    m1 = server.metrics()
    generated = (m1["cadenza_generation_tokens_total"] - m0["cadenza_generation_tokens_total"])
    assert generated < n * (BLOCK - 1) / 2, generated   # cancelled, not run to the end
    status, r = _post(server, "/v1/completions", {"prompt": "def ", "max_tokens": 2})
    assert status == 200


def test_disconnect_while_waiting_non_streaming(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    m0 = server.metrics()
    conn.request("POST", "/v1/completions", json.dumps(
        {"prompt": "a", "max_tokens": BLOCK - 1, "n": 4}), {"Content-Type": "application/json"})
    assert wait_for(lambda: server.metrics()["cadenza_running_batch_size"] > 0, 5)
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()
    assert wait_for(lambda: server.metrics()["cadenza_running_batch_size"] == 0)
    generated = (server.metrics()["cadenza_generation_tokens_total"]
                 - m0["cadenza_generation_tokens_total"])
    assert generated < 4 * (BLOCK - 1) / 2, generated


def test_metrics(server, client):
    client.completions.create(model="tiny", prompt="def ", max_tokens=3, stream=False)
    with urllib.request.urlopen(server.base + "/metrics", timeout=10) as r:
        assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    status, text = server.request("GET", "/metrics")
    assert status == 200
    for name in ("cadenza_http_requests_total", "cadenza_prompt_tokens_total",
                 "cadenza_generation_tokens_total", "cadenza_queue_depth",
                 "cadenza_running_batch_size", "cadenza_time_to_first_token_seconds_bucket",
                 "cadenza_inter_token_latency_seconds_count", "cadenza_engine_step_seconds"):
        assert name in text, name
    m = server.metrics()
    assert m['cadenza_http_requests_total{endpoint="/v1/completions",status="200"}'] >= 1
    assert m["cadenza_time_to_first_token_seconds_count"] >= 1
    assert m['cadenza_engine_requests_finished_total{reason="length"}'] >= 1
    assert m['cadenza_time_to_first_token_seconds_bucket{le="+Inf"}'] == \
        m["cadenza_time_to_first_token_seconds_count"]


# ------------------------------------------------------------------ logprobs, echo, penalties
@pytest.fixture(scope="module")
def oracle(tiny_ckpt):
    """The served checkpoint in this process: full forwards as the reference."""
    import cadenza as torch
    from cadenza.serve.loading import load_served_model
    model = load_served_model(ckpt=tiny_ckpt).model

    def logprobs(ids):   # (len(ids), V) log-softmax of the raw logits at each position
        logits, _ = model(torch.tensor([list(ids)]))
        return logits[0].detach().double().log_softmax(dim=-1).numpy()
    return logprobs


def _ids(tokens):
    """Byte-tokenizer token strings back to ids ('bytes:\\xNN' for a partial character)."""
    out = []
    for s in tokens:
        out += ([int(h, 16) for h in s[len("bytes:"):].split("\\x")[1:]]
                if s.startswith("bytes:") else list(s.encode()))
    return out


def test_completion_logprobs_are_the_models(client, oracle):
    kw = dict(model="tiny", prompt="def ", max_tokens=8, temperature=0.7, seed=3, logprobs=3)
    c = client.completions.create(**kw).choices[0]
    lp = c.logprobs
    gen = _ids(lp.tokens)
    assert len(gen) == 8 and len(lp.token_logprobs) == len(lp.top_logprobs) == 8
    ref = oracle(list(b"def ") + gen)
    for k, t in enumerate(gen):   # raw log-softmax: before temperature
        row = ref[3 + k]
        assert abs(lp.token_logprobs[k] - row[t]) < 1e-4
        top = sorted(range(len(row)), key=lambda j: -row[j])[:3]
        want = {j: row[j] for j in top + [t]}
        got = dict(zip(_ids(lp.top_logprobs[k]), lp.top_logprobs[k].values()))
        assert got.keys() == want.keys()
        assert all(abs(got[j] - want[j]) < 1e-4 for j in want)
    for off, tok in zip(lp.text_offset, lp.tokens):
        assert tok.startswith("bytes:") or c.text[off:off + len(tok)] == tok
    chunks = [ch.choices[0] for ch in client.completions.create(stream=True, **kw)]
    assert "".join(ch.text for ch in chunks) == c.text
    assert [t for ch in chunks if ch.logprobs for t in ch.logprobs.tokens] == lp.tokens
    assert [o for ch in chunks if ch.logprobs for o in ch.logprobs.text_offset] == \
        lp.text_offset


def test_echo_scores_the_prompt(client, oracle):
    r = client.completions.create(model="tiny", prompt="def f(x):", max_tokens=0, echo=True,
                                  logprobs=1)
    c = r.choices[0]
    assert c.text == "def f(x):" and r.usage.completion_tokens == 0
    assert c.logprobs.tokens == list("def f(x):") and c.logprobs.token_logprobs[0] is None
    assert c.logprobs.text_offset == list(range(9)) and c.logprobs.top_logprobs[0] is None
    ref = oracle(b"def f(x):")
    for k, t in enumerate(b"def f(x):"[1:]):
        assert abs(c.logprobs.token_logprobs[k + 1] - ref[k][t]) < 1e-4
    plain = client.completions.create(model="tiny", prompt="def ", max_tokens=4, temperature=0)
    e = client.completions.create(model="tiny", prompt="def ", max_tokens=4, temperature=0,
                                  echo=True)
    assert e.choices[0].text == "def " + plain.choices[0].text
    s = list(client.completions.create(model="tiny", prompt="def ", max_tokens=4,
                                       temperature=0, echo=True, stream=True))
    assert "".join(ch.choices[0].text for ch in s) == e.choices[0].text


def test_chat_logprobs(client, oracle):
    kw = dict(model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=5,
              temperature=0, logprobs=True, top_logprobs=2)
    r = client.chat.completions.create(**kw)
    content = r.choices[0].logprobs.content
    gen = [b for e in content for b in e.bytes]
    assert len(content) == 5 and bytes(gen).decode(errors="replace") == \
        r.choices[0].message.content
    ref = oracle(list(b"user: hi\nassistant:") + gen)
    for k, e in enumerate(content):
        row = ref[len(b"user: hi\nassistant:") - 1 + k]
        assert abs(e.logprob - row.max()) < 1e-4   # greedy: the most likely token
        assert len(e.top_logprobs) == 2 and e.top_logprobs[0].bytes == e.bytes
        assert e.top_logprobs[0].logprob >= e.top_logprobs[1].logprob
    s = list(client.chat.completions.create(stream=True, **kw))
    assert [e.token for ch in s if ch.choices and ch.choices[0].logprobs
            for e in ch.choices[0].logprobs.content] == [e.token for e in content]


def _penalized_greedy(oracle, prompt, steps, freq, pres, bias):
    """OpenAI's documented formula, step by step on full forwards."""
    ids, counts = list(prompt), {}
    for _ in range(steps):
        row = oracle(ids)[-1].copy()
        for t, c in counts.items():
            row[t] -= c * freq + pres
        for t, b in bias.items():
            row[t] += b
        t = int(row.argmax())
        counts[t] = counts.get(t, 0) + 1
        ids.append(t)
    return ids[len(prompt):]


def test_penalties_and_bias_do_not_leak_across_a_batch(client, oracle):
    prompt = "x = x + "
    plain = client.completions.create(model="tiny", prompt=prompt, max_tokens=10,
                                      temperature=0).choices[0].text
    jobs = [dict(frequency_penalty=2.0, presence_penalty=0.5), dict(logit_bias={"65": 100}),
            dict(), dict(logit_bias={str(ord(plain[0])): -100}, presence_penalty=-1.0)]
    with cf.ThreadPoolExecutor(4) as ex:
        out = list(ex.map(lambda kw: client.completions.create(
            model="tiny", prompt=prompt, max_tokens=10, temperature=0, **kw).choices[0].text,
            jobs))
    assert out[0].encode() == bytes(_penalized_greedy(oracle, prompt.encode(), 10, 2.0, 0.5, {}))
    assert out[1] == "A" * 10 and out[2] == plain and out[0] != plain != out[3]
    assert out[3].encode() == bytes(_penalized_greedy(oracle, prompt.encode(), 10, 0.0, -1.0,
                                                      {ord(plain[0]): -100}))


def test_best_of_returns_the_n_most_likely_candidates(client):
    kw = dict(model="tiny", prompt="if ", max_tokens=6, temperature=1.0, seed=11, logprobs=0)
    cands = client.completions.create(n=4, **kw).choices   # candidate j: seed + j, as best_of
    mean = {c.text: sum(c.logprobs.token_logprobs) / 6 for c in cands}
    assert len(mean) == 4
    r = client.completions.create(n=2, best_of=4, **kw)
    assert [c.text for c in r.choices] == sorted(mean, key=lambda t: -mean[t])[:2]
    assert [c.index for c in r.choices] == [0, 1] and r.usage.completion_tokens == 24
    plain = client.completions.create(n=1, best_of=4, **dict(kw, logprobs=None))
    assert plain.choices[0].text == r.choices[0].text and plain.choices[0].logprobs is None

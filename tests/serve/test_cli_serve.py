"""`cadenza serve` as a command: one-line errors with exit status 2 for bad flags and inputs,
429 when the engine queue is full, SIGTERM finishing the request in flight and exiting 0, and
`--hf` serving a Hugging Face directory with its own jinja chat template."""
import concurrent.futures as cf
import http.client
import json
import socket
import sys

import pytest

from serve_util import Server, wait_for

from cadenza.cli import main

try:
    import aiohttp  # noqa: F401
    HAVE_AIOHTTP = True
except ImportError:
    HAVE_AIOHTTP = False
needs_aiohttp = pytest.mark.skipif(not HAVE_AIOHTTP,
                                   reason="the serve extra (aiohttp) is not installed")


def _one_line_error(capsys, argv, *words):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cadenza") and "\n" not in err, err
    for w in words:
        assert w in err, err
    return err


@pytest.mark.parametrize("argv,words", [
    (["--port", "-1"], ["--port >= 0"]),
    (["--port", "70000"], ["--port <= 65535"]),
    (["--max-batch", "0"], ["--max-batch >= 1"]),
    (["--max-queue", "0"], ["--max-queue >= 1"]),
    (["--max-body", "10"], ["--max-body >= 1024"]),
    (["--shutdown-timeout", "nan"], ["--shutdown-timeout"]),
    (["--quantize", "int4"], ["int4"]),
    (["--ckpt", "a", "--hf", "b"], ["not allowed with"]),
    (["--bogus"], ["--bogus"]),
])
def test_bad_flags(capsys, argv, words):
    _one_line_error(capsys, ["serve", *argv], *words)


@needs_aiohttp
def test_missing_inputs(capsys, tmp_path):
    _one_line_error(capsys, ["serve", "--ckpt", str(tmp_path / "none")], "checkpoint")
    _one_line_error(capsys, ["serve", "--hf", str(tmp_path)], "--hf", "config.json")


@needs_aiohttp
def test_bad_chat_template_file(capsys, tiny_ckpt, tmp_path):
    bad = tmp_path / "t.jinja"
    bad.write_text("{% for m in messages %}")
    _one_line_error(capsys, ["serve", "--ckpt", tiny_ckpt, "--chat-template", str(bad)],
                    "chat template")
    _one_line_error(capsys, ["serve", "--ckpt", tiny_ckpt, "--chat-template",
                             str(tmp_path / "missing.jinja")], "--chat-template")


@needs_aiohttp
def test_port_in_use(capsys, tiny_ckpt):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        _one_line_error(capsys, ["serve", "--ckpt", tiny_ckpt, "--port", str(port)],
                        "cannot listen", str(port))


@needs_aiohttp
def test_quantized_server(tiny_ckpt):
    s = Server("--ckpt", tiny_ckpt, "--model-name", "q", "--quantize", "int8")
    try:
        status, r = s.request("POST", "/v1/completions",
                              {"prompt": "def ", "max_tokens": 4, "temperature": 0})
        assert status == 200 and r["usage"]["completion_tokens"] == 4
    finally:
        assert s.stop() == 0, s.log


def _post(port, body, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/v1/completions", json.dumps(body),
                     {"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


@needs_aiohttp
def test_full_queue_is_429(tiny_ckpt):
    s = Server("--ckpt", tiny_ckpt, "--model-name", "t", "--max-batch", "1", "--max-queue", "1")
    try:
        # n=3 asks for three engine slots at once: one runs, one waits, the third does not fit
        status, r = _post(s.port, {"prompt": "a", "max_tokens": 20, "n": 3})
        assert status == 429, r
        assert r["error"]["type"] == "rate_limit_error" and "queue is full" in \
            r["error"]["message"]
        # the two accepted choices were cancelled with the request; the engine reaps them
        assert wait_for(lambda: s.metrics()["cadenza_queue_depth"] == 0)
        with cf.ThreadPoolExecutor(6) as ex:
            codes = list(ex.map(lambda _: _post(s.port, {"prompt": "a", "max_tokens": 30})[0],
                                range(6)))
        assert set(codes) <= {200, 429} and 200 in codes, codes
        assert wait_for(lambda: s.metrics()["cadenza_queue_depth"] == 0)
        assert _post(s.port, {"prompt": "a", "max_tokens": 2})[0] == 200
    finally:
        assert s.stop() == 0, s.log


@needs_aiohttp
def test_sigterm_finishes_the_request_in_flight(tiny_ckpt):
    s = Server("--ckpt", tiny_ckpt, "--model-name", "t", "--max-batch", "2")
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    try:
        conn.request("POST", "/v1/completions", json.dumps(
            {"prompt": "a", "max_tokens": 120, "n": 2, "stream": True}),
            {"Content-Type": "application/json"})
        r = conn.getresponse()
        assert r.status == 200
        lines = [r.readline()]
        s.proc.send_signal(15)
        assert wait_for(lambda: "stopping" in s.log, 10), s.log
        with pytest.raises(OSError):   # no new connections while draining
            socket.create_connection(("127.0.0.1", s.port), timeout=2).close()
        for _ in range(10_000):
            line = r.readline()
            if not line:
                break
            lines.append(line)
        events = [ln[6:].strip() for ln in lines if ln.startswith(b"data: ")]
        assert events[-1] == b"[DONE]"
        chunks = [json.loads(e) for e in events[:-1]]
        finish = [c["choices"][0]["finish_reason"] for c in chunks]
        assert finish.count("length") == 2, finish
        assert s.proc.wait(30) == 0, s.log
        assert "finishing 1 in flight" in s.log and "stopped" in s.log
    finally:
        conn.close()
        s.kill()


TEMPLATE = ("{{ bos_token }}{% for m in messages %}"
            "{% if m.role not in ['system', 'user', 'assistant'] %}"
            "{{ raise_exception('unsupported role: ' + m.role) }}{% endif %}"
            "<|{{ m.role }}|>\n{{ m.content | trim }}{{ eos_token }}\n"
            "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}")


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    pytest.importorskip("safetensors")
    import cadenza
    from cadenza.models.gpt import GPT, GPTConfig
    from cadenza.models.hf import save_hf
    from cadenza.models.tokenizer import ByteTokenizer
    d = tmp_path_factory.mktemp("hf")
    cadenza.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=256, block_size=96, n_layer=1, n_head=2, n_kv_head=1,
                          n_embd=32, mlp="swiglu", norm="rmsnorm", pos="rope", bias=False))
    save_hf(model, str(d))
    ByteTokenizer().save(str(d))
    (d / "tokenizer_config.json").write_text(json.dumps(
        {"chat_template": TEMPLATE, "bos_token": {"content": "<s>"}, "eos_token": "\x01"}))
    (d / "generation_config.json").write_text(json.dumps({"eos_token_id": 1}))
    return str(d)


@needs_aiohttp
def test_hf_dir_with_chat_template(hf_dir):
    pytest.importorskip("jinja2")
    openai = pytest.importorskip("openai")
    s = Server("--hf", hf_dir, "--model-name", "hf-llama")
    try:
        client = openai.OpenAI(base_url=s.base + "/v1", api_key="x", timeout=30, max_retries=0)
        msgs = [{"role": "system", "content": " Be terse. "}, {"role": "user", "content": "Hi"}]
        r = client.chat.completions.create(model="hf-llama", messages=msgs, max_tokens=5,
                                           temperature=0)
        want = "<s><|system|>\nBe terse.\x01\n<|user|>\nHi\x01\n<|assistant|>\n"
        assert r.usage.prompt_tokens == len(want.encode())
        assert r.choices[0].finish_reason in ("length", "stop")
        with pytest.raises(openai.BadRequestError, match="unsupported role: tool"):
            client.chat.completions.create(model="hf-llama", max_tokens=2, messages=[
                {"role": "tool", "content": "x", "tool_call_id": "1"}])
        status, body = s.request("GET", "/v1/models")
        assert body["data"][0]["max_model_len"] == 96
    finally:
        assert s.stop() == 0, s.log


def test_missing_extra_is_one_line(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "aiohttp", None)   # as if not installed
    _one_line_error(capsys, ["serve", "--ckpt", "out"], "aiohttp", "cadenza[serve]")


def test_serve_help_lists_the_flags(capsys):
    assert main(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--ckpt", "--hf", "--host", "--port", "--max-batch", "--max-queue",
                 "--compile", "--quantize", "--model-name"):
        assert flag in out


def test_load_hf_gpt2_dir_with_bpe_tokenizer(tmp_path):
    """A GPT-2 directory whose tokenizer.json is a Hugging Face BPE tokenizer: eos from
    tokenizer_config.json becomes a stop id, chat text is encoded without special tokens."""
    pytest.importorskip("tokenizers")
    pytest.importorskip("safetensors")
    pytest.importorskip("jinja2")
    import cadenza
    from cadenza.models.gpt import GPT, GPTConfig
    from cadenza.models.hf import save_hf
    from cadenza.models.tokenizer import BPETokenizer
    from cadenza.serve.loading import load_served_model
    from cadenza.serve.protocol import parse_chat, parse_completion
    tok = BPETokenizer.train([], vocab_size=300, texts=["def f(x):\n    return x\n"] * 20)
    cadenza.manual_seed(0)
    save_hf(GPT(GPTConfig(vocab_size=320, block_size=64, n_layer=1, n_head=2, n_embd=32,
                          tie_weights=True)), str(tmp_path))
    tok.save(str(tmp_path))
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(
        {"eos_token": "<|endoftext|>", "chat_template": "{{ messages[0].content }}"}))
    served = load_served_model(hf=str(tmp_path))
    eos = tok.token_id("<|endoftext|>")
    assert served.stop_token_ids == (eos,) and served.name == str(tmp_path)
    spec = served.spec()
    r = parse_completion({"prompt": "def f(x):"}, spec)
    assert r.prompts == [tok.encode("def f(x):")] and r.params(0, 0)["stop_token_ids"] == (eos,)
    c = parse_chat({"messages": [{"role": "user", "content": "return x"}]}, spec)
    assert c.prompts == [tok.encode("return x", add_special_tokens=False)]

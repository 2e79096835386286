"""Request validation (cadenza.serve.protocol) and chat templates (cadenza.serve.chat) without a
server: each rule alone, and jinja templates rendered exactly as transformers'
apply_chat_template renders them."""
import pytest

from cadenza.serve.chat import ChatTemplate, default_render, read_tokenizer_config
from cadenza.serve.protocol import (MAX_CHOICES, APIError, ModelSpec, parse_body, parse_chat,
                                    parse_completion)

SPEC = ModelSpec(name="m", block_size=32, vocab_size=256, encode=lambda s: list(s.encode()),
                 render_chat=default_render, stop_token_ids=(0,))


def _err(fn, body, spec=SPEC):
    with pytest.raises(APIError) as e:
        fn(body, spec)
    return e.value


def test_body():
    assert parse_body(b'{"a": 1}') == {"a": 1}
    for raw, words in ((b"\xc3(", "UTF-8 (byte 0xc3 at offset 0)"), (b" ", "empty"),
                       (b"{", "not valid JSON"), (b"3", "got a number"),
                       (b"[" * 100_000 + b"]" * 100_000, "JSON")):
        e = _err(lambda b, s: parse_body(b), raw)
        assert e.status == 400 and words in e.message


def test_completion_defaults_and_params():
    r = parse_completion({"prompt": "abc"}, SPEC)
    assert r.prompts == [[97, 98, 99]] and r.max_tokens == [16] and r.n == 1 and not r.stream
    p = r.params(0, 0)
    assert p == {"temperature": 1.0, "top_p": 1.0, "top_k": 0, "stop": (),
                 "stop_token_ids": (0,), "max_tokens": 16, "seed": None,
                 "presence_penalty": 0.0, "frequency_penalty": 0.0, "logit_bias": None,
                 "logprobs": None, "prompt_logprobs": None}
    r = parse_completion({"prompt": "a" * 25, "seed": 5, "n": 3, "stop": "x",
                          "temperature": 0, "top_k": -1}, SPEC)
    assert r.max_tokens == [7]   # the default 16 clamped to the rest of the context
    assert [r.params(0, j)["seed"] for j in range(3)] == [5, 6, 7]
    assert r.params(0, 0)["stop"] == ("x",) and r.params(0, 0)["top_k"] == 0
    assert r.id.startswith("cmpl-")


def test_prompt_forms():
    assert parse_completion({"prompt": [1, 2, 3]}, SPEC).prompts == [[1, 2, 3]]
    assert parse_completion({"prompt": ["a", [5, 6]]}, SPEC).prompts == [[97], [5, 6]]
    for bad in (None, 3, [], [[]], [1.5], [True], {"a": 1}, ["a", 3]):
        assert _err(parse_completion, {"prompt": bad}).param == "prompt"


def test_context_limits():
    e = _err(parse_completion, {"prompt": "a" * 32})
    assert "maximum context length is 32" in e.message and "at most 31" in e.message
    assert e.code == "context_length_exceeded"
    assert parse_completion({"prompt": "a" * 31}, SPEC).max_tokens == [1]
    e = _err(parse_completion, {"prompt": "a" * 10, "max_tokens": 23})
    assert "you requested 33 tokens (10 in the prompt, 23 for the completion)" in e.message
    assert parse_completion({"prompt": "a" * 10, "max_tokens": 22}, SPEC).max_tokens == [22]
    r = parse_completion({"prompt": "abcdef" * 10, "truncate_prompt_tokens": 4}, SPEC)
    assert r.prompts == [list(b"cdef")]


def test_chat():
    r = parse_chat({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "hi "}, {"type": "text", "text": "there"}]}]}, SPEC)
    assert bytes(r.prompts[0]).decode() == "user: hi there\nassistant:"
    assert r.max_tokens == [32 - len("user: hi there\nassistant:")]
    r = parse_chat({"messages": [{"role": "user", "content": "x"}], "max_tokens": 3,
                    "max_completion_tokens": 2}, SPEC)
    assert r.max_tokens == [2] and r.id.startswith("chatcmpl-")
    assert _err(parse_chat, {"messages": [{"role": "user", "content": "x"}],
                             "max_completion_tokens": 0}).param == "max_completion_tokens"
    e = _err(parse_chat, {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})
    assert e.param == "messages[0].content"


def test_limits_and_unsupported():
    assert "at most 4" in _err(parse_completion, {"prompt": "a", "stop": list("abcde")}).message
    e = _err(parse_completion, {"prompt": ["a"] * 2, "n": MAX_CHOICES})
    assert f"at most {MAX_CHOICES}" in e.message and e.param == "n"
    for field, value in (("suffix", "x"), ("tools", [{"type": "function"}]),
                         ("response_format", {"type": "json_object"})):
        e = _err(parse_completion, {"prompt": "a", field: value})
        assert e.param == field and "not supported" in e.message or "only" in e.message
    ok = parse_completion({"prompt": "a", "logprobs": None, "echo": False, "suffix": "",
                           "presence_penalty": 0, "best_of": 1, "user": "u",
                           "metadata": {"k": "v"}, "store": True}, SPEC)
    assert ok.n == 1 and ok.logprobs is None and not ok.echo
    assert _err(parse_completion, {"prompt": "a", "model": "x"}).status == 404
    assert parse_completion({"prompt": "a", "model": "m"}, SPEC).model == "m"


def test_logprobs_echo_penalties_bias():
    r = parse_completion({"prompt": "ab", "logprobs": 0, "echo": True, "max_tokens": 0,
                          "presence_penalty": -2, "frequency_penalty": 1.5,
                          "logit_bias": {"7": 100, " 9": -0.5, "3": 0}}, SPEC)
    p = r.params(0, 0)
    assert (p["logprobs"], p["prompt_logprobs"], p["max_tokens"]) == (0, 0, 0)
    assert r.echo_texts == ["ab"] and p["presence_penalty"] == -2.0
    assert p["frequency_penalty"] == 1.5 and p["logit_bias"] == {7: 100.0, 9: -0.5}
    r = parse_completion({"prompt": "a", "n": 2, "best_of": 3}, SPEC)
    assert (r.n, r.best_of, r.logprobs, r.params(0, 2)["logprobs"]) == (2, 3, None, 0)
    assert parse_chat({"messages": [{"role": "user", "content": "x"}], "best_of": 9},
                      SPEC).best_of == 1   # not a chat parameter: ignored
    r = parse_chat({"messages": [{"role": "user", "content": "x"}], "logprobs": True,
                    "top_logprobs": 20}, SPEC)
    assert r.params(0, 0)["logprobs"] == 20 and r.params(0, 0)["prompt_logprobs"] is None
    assert parse_chat({"messages": [{"role": "user", "content": "x"}], "logprobs": True},
                      SPEC).logprobs == 0
    assert parse_chat({"messages": [{"role": "user", "content": "x"}], "logprobs": False,
                       "top_logprobs": 0}, SPEC).logprobs is None
    assert parse_completion({"prompt": "a", "logprobs": False}, SPEC).logprobs is None
    chat = {"messages": [{"role": "user", "content": "x"}]}
    for fn, body, param, words in (
            (parse_completion, {"logprobs": 6}, "logprobs", "[0, 5]"),
            (parse_completion, {"logprobs": True}, "logprobs", "integer"),
            (parse_completion, {"logprobs": -1}, "logprobs", "[0, 5]"),
            (parse_completion, {"max_tokens": 0}, "max_tokens", ">= 1"),
            (parse_completion, {"echo": "yes"}, "echo", "boolean"),
            (parse_completion, {"presence_penalty": 2.5}, "presence_penalty", "[-2, 2]"),
            (parse_completion, {"frequency_penalty": "x"}, "frequency_penalty", "[-2, 2]"),
            (parse_completion, {"logit_bias": [1]}, "logit_bias", "object"),
            (parse_completion, {"logit_bias": {"256": 1}}, "logit_bias", "[0, 256)"),
            (parse_completion, {"logit_bias": {"-1": 1}}, "logit_bias", "token ids"),
            (parse_completion, {"logit_bias": {"a": 1}}, "logit_bias", "token ids"),
            (parse_completion, {"logit_bias": {"1": 101}}, "logit_bias", "[-100, 100]"),
            (parse_completion, {"logit_bias": {str(i): 1 for i in range(301)}}, "logit_bias",
             "at most 300"),
            (parse_completion, {"n": 2, "best_of": 1}, "best_of", "[2, 128]"),
            (parse_completion, {"best_of": 3, "stream": True}, "best_of", "streamed"),
            (parse_completion, {"best_of": 65, "prompt": ["a", "b"]}, "best_of",
             "best_of x prompts"),
            (parse_chat, {"logprobs": 3}, "logprobs", "boolean"),
            (parse_chat, {"top_logprobs": 2}, "top_logprobs", "needs 'logprobs'"),
            (parse_chat, {"logprobs": True, "top_logprobs": 21}, "top_logprobs", "[0, 20]")):
        e = _err(fn, dict({"prompt": "a"} if fn is parse_completion else chat, **body))
        assert e.status == 400 and e.param == param and words in e.message, e.message


def test_logprobs_shape():
    from cadenza.serve.protocol import Logprobs
    f = Logprobs("completion", None)
    a = f.piece([(104, None, None), (0xC3, -1.5, [(0xC3, -1.5), (104, -2.0)])])
    assert a == {"tokens": ["h", "bytes:\\xc3"], "token_logprobs": [None, -1.5],
                 "top_logprobs": [None, {"bytes:\\xc3": -1.5, "h": -2.0}],
                 "text_offset": [0, 1]}
    b = f.piece([(0xA9, float("-inf"), [])])   # completes "é": offsets count characters
    assert b["text_offset"] == [1] and b["token_logprobs"] == [-9999.0]
    assert b["top_logprobs"] == [{"bytes:\\xa9": -9999.0}]
    assert f.piece([(104, -0.1, [])])["text_offset"] == [2]
    c = Logprobs("chat", None).piece([(104, -0.25, [(105, -0.5)])])
    assert c == {"refusal": None, "content": [{"token": "h", "logprob": -0.25, "bytes": [104],
                 "top_logprobs": [{"token": "i", "logprob": -0.5, "bytes": [105]}]}]}


def test_error_body_shape():
    e = APIError(429, "busy", code="queue_full")
    assert e.body() == {"error": {"message": "busy", "type": "rate_limit_error", "param": None,
                                  "code": "queue_full"}}


# ------------------------------------------------------------------ chat templates
CHATML = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
          "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
          "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + "
          "'\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
          "{% endif %}")
LLAMA2 = ("{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
          "{% set system_message = messages[0]['content'] %}{% else %}"
          "{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
          "{% for message in loop_messages %}"
          "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
          "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/"
          "...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}"
          "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + "
          "message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}"
          "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + "
          "' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + "
          "' ' + eos_token }}{% endif %}{% endfor %}")
BLOCKS = """{%- set ns = namespace(n=0) -%}
{% for m in messages %}
    {% if m.role == 'tool' %}{% continue %}{% endif %}
    {% set ns.n = ns.n + 1 %}
    [{{ ns.n }}] {{ m.role | upper }}: {{ m.content | tojson }}
    {% if ns.n >= 3 %}{% break %}{% endif %}
{% endfor %}
{% if add_generation_prompt %}
    [{{ ns.n + 1 }}] ASSISTANT:{{ eos_token if false else '' }}
{% endif %}"""
CONVERSATIONS = [
    [{"role": "user", "content": "Hello, wörld"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": " Hi "},
     {"role": "assistant", "content": "Hey."}, {"role": "user", "content": "\"quote\" <b>"}],
    [{"role": "user", "content": "a"}, {"role": "tool", "content": "t"},
     {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"},
     {"role": "assistant", "content": "d"}],
]


@pytest.fixture(scope="module")
def hf_tokenizer():
    transformers = pytest.importorskip("transformers")
    tokenizers = pytest.importorskip("tokenizers")
    tk = tokenizers.Tokenizer(tokenizers.models.WordLevel({"<s>": 0, "</s>": 1, "[UNK]": 2},
                                                          unk_token="[UNK]"))
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<s>",
                                                eos_token="</s>", unk_token="[UNK]")


@pytest.mark.parametrize("source", [CHATML, LLAMA2, BLOCKS], ids=["chatml", "llama2", "blocks"])
@pytest.mark.parametrize("gen", [True, False])
def test_template_matches_transformers(hf_tokenizer, source, gen):
    pytest.importorskip("jinja2")
    ours = ChatTemplate(source, {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "[UNK]"})
    for msgs in CONVERSATIONS:
        try:
            want = hf_tokenizer.apply_chat_template(msgs, tokenize=False, chat_template=source,
                                                    add_generation_prompt=gen)
        except Exception as e:   # the template refuses: ours must refuse with its message
            with pytest.raises(APIError) as got:
                ours.render(msgs, gen)
            assert got.value.status == 400 and str(e) in got.value.message
            continue
        assert ours.render(msgs, gen) == want


def test_template_is_sandboxed_and_errors_are_400():
    pytest.importorskip("jinja2")
    t = ChatTemplate("{{ messages.append({'role': 'x'}) }}")
    with pytest.raises(APIError, match="chat template"):
        t.render([{"role": "user", "content": "a"}])
    t = ChatTemplate("{{ messages[0].content.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(APIError):
        t.render([{"role": "user", "content": "a"}])
    with pytest.raises(ValueError, match="syntax error"):
        ChatTemplate("{% if %}")


def test_read_tokenizer_config(tmp_path):
    import json
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({
        "bos_token": {"content": "<s>", "lstrip": False}, "eos_token": "</s>",
        "pad_token": None, "model_max_length": 10,
        "chat_template": [{"name": "tool_use", "template": "T"},
                          {"name": "default", "template": "D"}]}))
    assert read_tokenizer_config(str(tmp_path)) == {"bos_token": "<s>", "eos_token": "</s>",
                                                    "chat_template": "D"}
    (tmp_path / "tokenizer_config.json").write_text("{}")
    (tmp_path / "chat_template.jinja").write_text("J")
    assert read_tokenizer_config(str(tmp_path)) == {"chat_template": "J"}
    assert read_tokenizer_config(str(tmp_path / "none")) == {}


def test_token_bytes_of_bpe_vocabularies():
    tokenizers = pytest.importorskip("tokenizers")
    from cadenza.models.tokenizer import BPETokenizer
    from cadenza.serve.loading import token_bytes_of
    tok = BPETokenizer.train([], vocab_size=300, texts=["h\u00e9llo w\u00f6rld \u2013 x\n"] * 9)
    f = token_bytes_of(tok)                      # GPT-2 byte-level pieces
    s = "h\u00e9llo w\u00f6rld \u2013 \u65e5\u672c\n\t x <|endoftext|>"
    assert b"".join(f(i) for i in tok.encode(s)) == s.encode()
    vocab = {"<0xC3>": 0, "\u2581hi": 1, "\u0120x": 2, "\u65e5": 3, "<unk>": 4}
    wl = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="<unk>"))
    f = token_bytes_of(BPETokenizer(wl))         # byte fallback, SentencePiece, byte-level
    assert [f(i) for i in range(4)] == [b"\xc3", b" hi", b" x", "\u65e5".encode()]
    assert token_bytes_of(object())(200) == b"\xc8"   # the byte tokenizer

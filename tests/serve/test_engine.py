"""The continuous-batching engine (cadenza.serve.engine) and the slot cache under it."""
import threading

import numpy as np
import pytest

import cadenza as torch
import cadenza.nn.functional as F
from cadenza.models.gpt import GPT, GPTConfig, SlotCache
from cadenza.models.tokenizer import ByteTokenizer
from cadenza.serve.engine import Engine, EngineStopped, QueueFull, SamplingParams

TOK = ByteTokenizer()
CONFIGS = {
    "gpt2": dict(),
    "llama-gqa": dict(pos="rope", n_kv_head=2, mlp="swiglu", norm="rmsnorm", bias=False),
    "moe-mqa": dict(pos="rope", n_kv_head=1, n_expert=4, n_expert_active=2),
}


def tiny(kind="gpt2", seed=0, block_size=64):
    """A random-init model in float64 (see the engine's docstring: float64 makes batched and
    unbatched rounding differences far too small to flip an argmax)."""
    torch.manual_seed(seed)
    cfg = GPTConfig(vocab_size=256, block_size=block_size, n_layer=2, n_head=4, n_embd=32,
                    **CONFIGS[kind])
    return GPT(cfg).eval().double()


class Collect:
    """on_event that records a request's events."""

    def __init__(self):
        self.events, self.done = [], threading.Event()

    def __call__(self, ev):
        self.events.append(ev)
        if ev.finish_reason is not None:
            self.done.set()

    @property
    def tokens(self):
        return [t for ev in self.events for t in ev.token_ids]

    @property
    def text(self):
        return "".join(ev.text for ev in self.events)

    @property
    def finish(self):
        return self.events[-1].finish_reason if self.done.is_set() else None


def run(engine, prompts, params):
    """Submit every prompt, then run steps on this thread until all finished."""
    outs = [Collect() for _ in prompts]
    for p, out in zip(prompts, outs):
        engine.submit(p, params, out)
    while engine.step():
        pass
    assert all(o.done.is_set() for o in outs)
    return outs


def prompts_of(n, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(1, 256, (1 + (7 * i) % 23,), generator=g).tolist() for i in range(n)]


# ----------------------------------------------------------------------------- slot cache
@pytest.mark.parametrize("kind", list(CONFIGS))
def test_slot_cache_rows_at_own_positions_match_full_forward(kind):
    m = tiny(kind)
    seqs = prompts_of(3, seed=2)
    cache = SlotCache(m.config, 4, dtype=torch.float64)
    slots = [3, 0, 2]                   # not a run: the read is a gather
    with torch.no_grad():
        for s, q in zip(slots, seqs):   # prefill each in two chunks into its slot
            q = torch.tensor([q + [5, 6]])
            a, _ = m(q[:, :2], cache=cache.batch([s]))
            b, _ = m(q[:, 2:], cache=cache.batch([s]))
            np.testing.assert_allclose(torch.cat([a, b], 1).numpy(), m(q)[0].numpy(),
                                       rtol=0, atol=1e-12)
        nxt = torch.tensor([[7], [8], [9]])
        logits, _ = m(nxt, cache=cache.batch(slots))   # one decode step, 3 lengths
        for b, q in enumerate(seqs):
            full, _ = m(torch.tensor([q + [5, 6, 7 + b]]))
            np.testing.assert_allclose(logits[b, -1].numpy(), full[0, -1].numpy(), rtol=0,
                                       atol=1e-12)
    assert [cache.lengths[s] for s in slots] == [len(q) + 3 for q in seqs]


@pytest.mark.parametrize("kind", ["gpt2", "moe-mqa"])
def test_slot_cache_right_padded_rows(kind):
    m = tiny(kind)
    a, b = prompts_of(12, seed=9)[10:12]             # 1 + 70 % 23 = 2 and 10 tokens
    cache = SlotCache(m.config, 2, dtype=torch.float64)
    T = max(len(a), len(b))
    idx = torch.tensor([a + [0] * (T - len(a)), b + [0] * (T - len(b))])
    with torch.no_grad():
        logits, _ = m(idx, cache=cache.batch([0, 1], [len(a), len(b)]))
        assert cache.lengths == [len(a), len(b)]
        for row, q in enumerate((a, b)):
            full, _ = m(torch.tensor([q]))
            np.testing.assert_allclose(logits[row, :len(q)].numpy(), full[0].numpy(), rtol=0,
                                       atol=1e-12)
        step, _ = m(torch.tensor([[3], [4]]), cache=cache.batch([0, 1]))  # over a's padding
        for row, q in enumerate((a + [3], b + [4])):
            full, _ = m(torch.tensor([q]))
            np.testing.assert_allclose(step[row, 0].numpy(), full[0, -1].numpy(), rtol=0,
                                       atol=1e-12)


def test_slot_cache_rejects_overflow_and_bad_slots():
    m = tiny(block_size=8)
    cache = SlotCache(m.config, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="at most 8 tokens"):
        m(torch.zeros(1, 9, dtype=torch.int64), cache=cache.batch([0]))
    with pytest.raises(ValueError, match="distinct slots"):
        cache.batch([1, 1])
    with pytest.raises(ValueError, match="distinct slots"):
        cache.batch([2])


# ---------------------------------------------------------------------- batching invariance
@pytest.mark.parametrize("max_batch", [8, 32])
def test_greedy_batched_equals_one_at_a_time_and_generate(max_batch):
    m = tiny()
    prompts = prompts_of(32)
    params = SamplingParams(max_tokens=10, temperature=0)
    batched = run(Engine(m, TOK, max_batch=max_batch, max_step_tokens=16), prompts, params)
    single = run(Engine(m, TOK, max_batch=1), prompts, params)   # one request at a time
    with torch.no_grad():
        ref = [m.generate(torch.tensor([p]), 10, temperature=0)[0, len(p):].tolist()
               for p in prompts]
    assert [o.tokens for o in batched] == [o.tokens for o in single] == ref
    assert all(o.finish == "length" for o in batched)


@pytest.mark.parametrize("kind", ["llama-gqa", "moe-mqa"])
def test_greedy_batched_equals_generate_rope_gqa_moe(kind):
    m = tiny(kind)
    prompts = prompts_of(8, seed=3)
    outs = run(Engine(m, TOK, max_batch=4, max_step_tokens=8), prompts,
               SamplingParams(max_tokens=8, temperature=0))
    with torch.no_grad():
        ref = [m.generate(torch.tensor([p]), 8, temperature=0)[0, len(p):].tolist()
               for p in prompts]
    assert [o.tokens for o in outs] == ref


def test_seeded_sampling_does_not_depend_on_the_batch():
    m = tiny()
    prompt = prompts_of(1, seed=4)[0]
    params = SamplingParams(max_tokens=12, temperature=0.9, top_k=50, top_p=0.95, seed=123)
    alone = run(Engine(m, TOK, max_batch=4), [prompt], params)[0].tokens
    others = SamplingParams(max_tokens=12, temperature=1.0, seed=7)
    eng = Engine(m, TOK, max_batch=4, max_step_tokens=8)
    outs = [Collect() for _ in range(4)]
    eng.submit(prompts_of(1, seed=5)[0], others, outs[0])
    eng.step()
    eng.submit(prompt, params, outs[1])          # joins a running batch
    eng.submit(prompts_of(1, seed=6)[0] * 3, others, outs[2])
    eng.submit(prompt, SamplingParams(max_tokens=12, temperature=0.9, seed=124), outs[3])
    while eng.step():
        pass
    assert outs[1].tokens == alone
    assert outs[3].tokens != alone               # another seed, another sample
    with torch.no_grad():                        # the same draws as generate's
        g = torch.Generator().manual_seed(123)
        ref = m.generate(torch.tensor([prompt]), 12, temperature=0.9, top_k=50, top_p=0.95,
                         generator=g)[0, len(prompt):].tolist()
    assert alone == ref


# ------------------------------------------------------------- text: stops, UTF-8, length
class Scripted(GPT):
    """A GPT whose logits after position p pick SCRIPT[p + 1]: a prompt SCRIPT[:P] continues
    with SCRIPT[P:]. ``fail_on``: a token whose presence in a forward's input raises;
    ``fail_at``: a position whose presence raises (after the cache writes of the first
    layer)."""

    def __init__(self, script: bytes, fail_on=None, fail_at=None):
        super().__init__(GPTConfig(vocab_size=256, block_size=64, n_layer=2, n_head=2,
                                   n_embd=16))
        self.script, self.fail_on, self.fail_at = list(script), fail_on, fail_at
        if fail_at is not None:
            self.transformer.h[1].register_forward_pre_hook(self._check_positions)

    def _check_positions(self, module, args):
        if self.fail_at in args[2].positions.flatten().tolist():
            raise RuntimeError(f"position {self.fail_at}")

    def forward(self, idx, targets=None, cache=None):
        if self.fail_on is not None and self.fail_on in idx.flatten().tolist():
            raise RuntimeError("poisoned input")
        logits, _ = super().forward(idx, cache=cache)
        nxt = [[self.script[p + 1] for p in row] for row in cache.positions.tolist()]
        return F.one_hot(torch.tensor(nxt), 256).to(logits.dtype), None


SCRIPT = "> héllo wörld; ok END more text after END".encode()


def scripted_run(stop=(), stop_token_ids=(), max_tokens=len(SCRIPT) - 2, prompt_len=2):
    out = run(Engine(Scripted(SCRIPT), TOK, max_batch=2), [list(SCRIPT[:prompt_len])],
              SamplingParams(max_tokens=max_tokens, temperature=0, stop=stop,
                             stop_token_ids=stop_token_ids))[0]
    return out


def test_stop_string_is_never_emitted_and_text_before_it_is():
    out = scripted_run(stop=("END", "xyz"))
    assert out.text == "héllo wörld; ok "
    assert out.finish == "stop"
    assert out.tokens == list(SCRIPT[2:SCRIPT.index(b"END") + 3])  # up to the stop's last
    # "E", then "EN", were held back until the stop completed: no event text has them
    assert all("E" not in ev.text for ev in out.events)
    assert [ev.text for ev in out.events][-4:] == [" ", "", "", ""]


def test_held_back_stop_prefix_is_released_when_it_does_not_complete():
    out = scripted_run(stop=("ok!",))   # "ok" appears, "ok!" never does
    assert out.text == SCRIPT[2:].decode() and out.finish == "length"
    texts = [ev.text for ev in out.events]
    at = SCRIPT[2:].index(b"ok")        # the "o" token's event, then "k"'s, then " "'s
    assert texts[at:at + 3] == ["", "", "ok "]


def test_stop_edge_cases():
    end = SCRIPT.index(b"END") + 3 - 2          # tokens up to the end of the first "END"
    for stop, text, finish, kw in (
            (("w\u00f6rld", "ld;"), "h\u00e9llo ", "stop", {}),     # the earliest match wins
            (("ok!", "k E"), "h\u00e9llo w\u00f6rld; o", "stop", {}),  # overlapping held prefixes
            (("h",), "", "stop", {}),                             # the first token
            (("\u00f6",), "h\u00e9llo w", "stop", {}),               # a two-byte character
            (("END",), "h\u00e9llo w\u00f6rld; ok ", "stop", {"max_tokens": end}),  # at the limit
            ((">",), SCRIPT[3:].decode(), "length",
             {"prompt_len": 3, "max_tokens": len(SCRIPT) - 3})):      # in the prompt: no
        out = scripted_run(stop=stop, **kw)
        assert (out.text, out.finish) == (text, finish), stop


def test_utf8_is_emitted_whole_characters_only():
    out = scripted_run(max_tokens=10)
    assert out.text == "héllo wö"
    assert [ev.text for ev in out.events][:3] == ["h", "", "é"]  # 'é' is two bytes
    assert out.finish == "length"
    out = scripted_run(max_tokens=9)    # ends inside 'ö': flushed as U+FFFD
    assert out.text == "héllo w\ufffd"


def test_stop_token_ids_and_length_clamped_to_context():
    out = scripted_run(stop_token_ids=(ord(";"),))
    assert out.text == "héllo wörld" and out.finish == "stop"
    assert out.tokens[-1] == ord(";")
    # prompt 2 + 60 new > block_size 64 -> 62 tokens at most, finish "length"
    out = run(Engine(tiny(), TOK, max_batch=2), [[1, 2]], SamplingParams(max_tokens=100,
                                                                         temperature=0))[0]
    assert len(out.tokens) == 62 and out.finish == "length"


# ------------------------------------------------------------------------ scheduling
def test_chunked_prefill_running_sequences_keep_decoding():
    m = tiny()
    eng = Engine(m, TOK, max_batch=4, max_step_tokens=4)
    short = [Collect(), Collect()]
    for c in short:
        eng.submit([1, 2, 3], SamplingParams(max_tokens=30, temperature=0), c)
    eng.step()                                   # 4-token budget: 3 of a, 1 of b
    eng.step()                                   # a decodes, b's last 2
    assert all(len(c.tokens) >= 1 for c in short)
    long = Collect()
    eng.submit(list(range(10, 40)), SamplingParams(max_tokens=5, temperature=0), long)
    before = [len(c.tokens) for c in short]
    prompt_before = eng.stats()["prompt_tokens_total"]
    steps = 0
    while not long.tokens:
        eng.step()
        steps += 1
        # every step: one new token for each running sequence, at most 4 prompt tokens
        assert [len(c.tokens) for c in short] == [b + steps for b in before]
        assert eng.stats()["prompt_tokens_total"] - prompt_before <= 4 * steps
    assert steps == 8                            # 30 prompt tokens, 4 a step
    while eng.step():
        pass
    with torch.no_grad():
        ref = m.generate(torch.tensor([[1, 2, 3]]), 30, temperature=0)[0, 3:].tolist()
    assert short[0].tokens == short[1].tokens == ref


def test_cancel_frees_the_slot_before_the_next_step():
    eng = Engine(tiny(), TOK, max_batch=1)
    a, b = Collect(), Collect()
    ha = eng.submit([1, 2], SamplingParams(max_tokens=50, temperature=0), a)
    eng.submit([3, 4], SamplingParams(max_tokens=3, temperature=0), b)
    eng.step()
    eng.step()
    assert len(a.tokens) == 2 and not b.events  # b waits: one slot
    ha.cancel()
    eng.step()                                   # a leaves, b takes the slot and prefills
    assert a.finish == "cancelled" and a.events[-1].token_ids == []
    assert len(a.tokens) == 2 and len(b.tokens) == 1
    ha.cancel()                                  # no second final event
    while eng.step():
        pass
    assert b.finish == "length" and len(a.events) == 3
    stats = eng.stats()
    assert stats["running"] == 0 and stats["requests_finished"] == {"cancelled": 1,
                                                                     "length": 1}


def test_cancel_while_queued():
    eng = Engine(tiny(), TOK, max_batch=1)
    a, b = Collect(), Collect()
    eng.submit([1], SamplingParams(max_tokens=2, temperature=0), a)
    hb = eng.submit([2], SamplingParams(max_tokens=2, temperature=0), b)
    hb.cancel()
    while eng.step():
        pass
    assert a.finish == "length" and b.finish == "cancelled" and b.tokens == []


def test_cancelled_requests_free_their_queue_place_at_once():
    eng = Engine(tiny(), TOK, max_batch=1, max_queue=1)
    p = SamplingParams(max_tokens=2, temperature=0)
    first = eng.submit([1], p, Collect())
    first.cancel()                        # no engine step yet: still in the queue, cancelled
    late = Collect()
    eng.submit([2], p, late)              # takes the cancelled request's place
    with pytest.raises(QueueFull, match="1 requests already wait"):
        eng.submit([3], p, Collect())
    while eng.step():
        pass
    assert late.finish == "length" and eng.stats()["requests_finished"] == {"cancelled": 1,
                                                                              "length": 1}


def test_queue_bound_validation_and_stopped():
    eng = Engine(tiny(), TOK, max_batch=1, max_queue=2)
    p = SamplingParams(max_tokens=2)
    eng.submit([1], p, Collect())
    eng.submit([1], p, Collect())
    with pytest.raises(QueueFull, match="max_queue=2"):
        eng.submit([1], p, Collect())
    with pytest.raises(ValueError, match="at least 1 token"):
        eng.submit([], p, Collect())
    with pytest.raises(ValueError, match="at most block_size - 1 = 63 tokens, got 64"):
        eng.submit([1] * 64, p, Collect())
    with pytest.raises(ValueError, match=r"token ids in \[0, 256\)"):
        eng.submit([256], p, Collect())
    with pytest.raises(ValueError, match="temperature"):
        eng.submit([1], SamplingParams(temperature=-1), Collect())
    eng.stop()                                   # never started: the queue is cancelled
    with pytest.raises(EngineStopped):
        eng.submit([1], p, Collect())
    assert eng.stats()["requests_finished"] == {"cancelled": 2}


def test_thread_drain_and_stop_without_drain():
    m = tiny()
    eng = Engine(m, TOK, max_batch=2)
    eng.start()
    outs = [Collect() for _ in range(5)]
    for i, o in enumerate(outs):
        eng.submit([i + 1, 7], SamplingParams(max_tokens=6, temperature=0), o)
    eng.stop(drain=True, timeout=60)
    assert not eng._thread.is_alive()
    assert all(o.finish == "length" and len(o.tokens) == 6 for o in outs)
    with pytest.raises(EngineStopped):
        eng.submit([1], SamplingParams(), Collect())

    eng = Engine(m, TOK, max_batch=1)
    gate, release = threading.Event(), threading.Event()
    first = Collect()

    def hold(ev):                               # the engine thread waits in the callback
        first(ev)
        gate.set()
        release.wait(30)
    eng.submit([1], SamplingParams(max_tokens=60, temperature=0), hold)
    queued = Collect()
    eng.submit([2], SamplingParams(max_tokens=60), queued)
    eng.start()
    assert gate.wait(30)
    stopper = threading.Thread(target=eng.stop, kwargs=dict(drain=False, timeout=60))
    stopper.start()
    while eng.stats()["accepting"]:
        pass
    release.set()
    stopper.join(60)
    assert not eng._thread.is_alive()
    assert first.finish == "cancelled" and queued.finish == "cancelled"


def test_errors_end_only_the_affected_requests():
    poison = ord("!")
    eng = Engine(Scripted(SCRIPT, fail_on=poison), TOK, max_batch=4, max_step_tokens=64)
    eng.start()
    ok, bad, broken = Collect(), Collect(), Collect()
    params = SamplingParams(max_tokens=20, temperature=0)
    eng.submit(list(SCRIPT[:2]), params, ok)
    eng.submit([poison, 1], params, bad)               # its prefill raises

    def callback_raises(ev):
        broken(ev)
        raise OSError("client went away")
    eng.submit(list(SCRIPT[:2]), params, callback_raises)
    assert ok.done.wait(30) and bad.done.wait(30)
    assert ok.finish == "length" and ok.text == SCRIPT[2:22].decode(errors="replace")
    assert bad.finish == "error" and "poisoned input" in bad.events[-1].error
    assert len(broken.events) == 1                     # ended at its first event
    again = Collect()                                  # the engine still serves
    eng.submit(list(SCRIPT[:5]), params, again)
    assert again.done.wait(30) and again.finish == "length"
    eng.stop(timeout=60)
    assert eng.stats()["requests_finished"] == {"length": 2, "error": 2}


def test_a_failing_row_of_a_decode_batch_ends_alone():
    eng = Engine(Scripted(SCRIPT, fail_at=30), TOK, max_batch=4)
    a, b = Collect(), Collect()
    params = SamplingParams(max_tokens=40, temperature=0)
    eng.submit(list(SCRIPT[:2]), params, a)
    for _ in range(20):
        eng.step()
    eng.submit(list(SCRIPT[:2]), SamplingParams(max_tokens=15, temperature=0), b)
    while eng.step():
        pass
    assert a.finish == "error" and "position 30" in a.events[-1].error
    assert len(a.tokens) == 29           # tokens at positions 2..30; 30 never went in
    assert b.finish == "length" and b.text == SCRIPT[2:17].decode()


def test_memory_is_one_cache_allocated_once():
    m = tiny()
    eng = Engine(m, TOK, max_batch=3, max_step_tokens=8)
    bufs = [id(b) for b in eng.cache.kv]
    cfg = m.config
    assert eng.stats()["kv_cache_bytes"] == (cfg.n_layer * 3 * 2 * cfg.n_kv_head
                                             * cfg.block_size * cfg.head_dim * 8)
    outs = [Collect() for _ in range(10)]
    for p, o in zip(prompts_of(10), outs):
        eng.submit(p, SamplingParams(max_tokens=5, temperature=0), o)
    running = []
    while eng.step():
        running.append(eng.stats()["running"])
    assert [id(b) for b in eng.cache.kv] == bufs
    assert all(o.finish == "length" for o in outs)
    assert max(running) == 3 and running[-1] == 0
    stats = eng.stats()
    assert stats["generation_tokens_total"] == 50 and stats["requests_total"] == 10
    assert stats["prompt_tokens_total"] == sum(map(len, prompts_of(10)))
    assert stats["queue_depth"] == 0 and stats["max_batch"] == 3
    assert len(stats["step_seconds"]) == stats["steps_total"] == len(running)


def test_compile_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="compile=True is not supported"):
        Engine(tiny(), TOK, compile=True)


def test_the_engine_thread_records_no_graph_and_leaves_grad_mode_alone():
    m = tiny()
    eng = Engine(m, TOK, max_batch=2)
    assert not any(p.requires_grad for p in m.parameters())
    out = run(eng, [[1, 2, 3]], SamplingParams(max_tokens=3, temperature=0))[0]
    assert out.finish == "length" and torch.is_grad_enabled()
    assert all(b.grad_fn is None and not b.requires_grad for b in eng.cache.kv)


# ----------------------------------------------------------- logprobs, penalties, logit bias
def test_logprobs_and_chunked_prompt_logprobs_are_the_forwards():
    m = tiny()
    prompt = prompts_of(3, seed=8)[2]            # 15 tokens: prefilled in chunks of 4
    eng = Engine(m, TOK, max_batch=2, max_step_tokens=4)
    params = SamplingParams(max_tokens=5, temperature=0.8, seed=3, logprobs=2,
                            prompt_logprobs=1)
    out, score = Collect(), Collect()
    eng.submit(prompt, params, out)
    eng.submit(prompt, SamplingParams(max_tokens=0, prompt_logprobs=0), score)
    while eng.step():
        pass
    with torch.no_grad():
        ref = m(torch.tensor([prompt + out.tokens]))[0][0].log_softmax(dim=-1).numpy()
    entries = [e for ev in out.events for e in ev.logprobs or []]
    assert [e[0] for e in entries] == out.tokens
    for k, (t, lp, top) in enumerate(entries):   # before temperature: the raw distribution
        row = ref[len(prompt) - 1 + k]
        assert abs(lp - row[t]) < 1e-9 and [i for i, _ in top] == list(np.argsort(-row)[:2])
    first = out.events[0].prompt_logprobs
    assert [t for t, _, _ in first] == prompt[1:] and len(first[0][2]) == 1
    assert np.allclose([lp for _, lp, _ in first],
                       [ref[j, t] for j, t in enumerate(prompt[1:])], atol=1e-9)
    assert all(ev.prompt_logprobs is None for ev in out.events[1:])
    (ev,) = score.events                         # max_tokens 0: the prompt's score, no token
    assert ev.finish_reason == "length" and ev.token_ids == [] and ev.prompt_logprobs == \
        [(t, lp, []) for t, lp, _ in first]


def test_penalties_and_bias_stay_in_their_row():
    m = tiny()
    prompt = prompts_of(1, seed=9)[0]
    kinds = [SamplingParams(max_tokens=10, temperature=0, frequency_penalty=-1.0,
                            presence_penalty=0.5),
             SamplingParams(max_tokens=10, temperature=0, logit_bias={7: 100.0}),
             SamplingParams(max_tokens=10, temperature=0),
             SamplingParams(max_tokens=10, temperature=0.5, seed=1, presence_penalty=-0.5,
                            logit_bias={3: -100.0})]
    alone = [run(Engine(m, TOK, max_batch=1), [prompt], p)[0].tokens for p in kinds]
    eng = Engine(m, TOK, max_batch=4, max_step_tokens=64)
    outs = [Collect() for _ in kinds]
    for p, o in zip(kinds, outs):
        eng.submit(prompt, p, o)
    while eng.step():
        pass
    assert [o.tokens for o in outs] == alone
    assert alone[1] == [7] * 10 and 3 not in alone[3] and alone[0] != alone[2]
    ids, counts = list(prompt), {}               # OpenAI's formula on full forwards
    with torch.no_grad():
        for _ in range(10):
            row = m(torch.tensor([ids]))[0][0, -1].numpy().copy()
            for t, c in counts.items():
                row[t] -= c * -1.0 + 0.5
            ids.append(int(row.argmax()))
            counts[ids[-1]] = counts.get(ids[-1], 0) + 1
    assert alone[0] == ids[len(prompt):]
    for bad in (dict(logprobs=-1), dict(presence_penalty="x"), dict(logit_bias={"1": 2}),
                dict(max_tokens=-1)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            SamplingParams(**bad).validate()

"""The llamacpp engine on a tiny random-weight model with a real tokenizer: real llama.cpp decoding."""

from __future__ import annotations

import asyncio
import math
from contextlib import aclosing

import pytest

from aimo.engines.base import EngineError, GenerationRequest, complete

MESSAGES = [{"role": "user", "content": "What is the remainder when 2^100 is divided by 7?"}]


@pytest.fixture(scope="module")
def engine(tiny_model):
    from aimo.engines.llamacpp import LlamaCppEngine

    eng = LlamaCppEngine(str(tiny_model), n_ctx=4096, max_sequences=8)
    yield eng
    asyncio.run(eng.aclose())


def request(**kw) -> GenerationRequest:
    base = {"messages": MESSAGES, "max_tokens": 24, "temperature": 0.8, "seed": 1}
    return GenerationRequest(**{**base, **kw})


def test_chat_template_is_the_models_own(engine):
    prompt = engine.render_prompt(request(assistant_prefix="Let me think."))
    assert prompt.startswith("<|im_start|>system") or "<|im_start|>user\nWhat is the remainder" in prompt
    assert prompt.endswith("<|im_start|>assistant\nLet me think.")


def test_stream_reports_tokens_and_finish_reason(engine):
    async def go():
        chunks = [c async for c in engine.stream(request())]
        return chunks

    chunks = asyncio.run(go())
    last = chunks[-1]
    assert last.finish_reason == "length"
    assert last.completion_tokens == 24
    assert sum(c.tokens for c in chunks) == 24
    assert last.prompt_tokens == engine.count_tokens(engine.render_prompt(request()))
    assert all(c.finish_reason is None for c in chunks[:-1])


def test_same_seed_same_text_and_greedy_is_deterministic(engine):
    a = asyncio.run(complete(engine, request(seed=7)))
    b = asyncio.run(complete(engine, request(seed=7)))
    c = asyncio.run(complete(engine, request(seed=8)))
    assert a.text == b.text
    assert a.text != c.text
    g1 = asyncio.run(complete(engine, request(temperature=0.0)))
    g2 = asyncio.run(complete(engine, request(temperature=0.0, seed=99)))
    assert g1.text == g2.text


def test_stop_string_ends_generation_and_is_not_emitted(engine):
    free = asyncio.run(complete(engine, request(max_tokens=40, temperature=0.0)))
    assert len(free.text) > 10
    stop = free.text[8:12]
    got = asyncio.run(complete(engine, request(max_tokens=40, temperature=0.0, stop=[stop])))
    assert got.finish_reason == "stop"
    assert got.text == free.text[: free.text.index(stop)]
    assert stop not in got.text


def test_concurrent_samples_are_decoded_in_one_batch_and_share_the_prompt(engine):
    before = engine.stats.prompt_tokens_reused
    n = 8

    async def go():
        return await asyncio.gather(*(complete(engine, request(seed=i, max_tokens=16)) for i in range(n)))

    results = asyncio.run(go())
    assert all(r.completion_tokens == 16 for r in results)
    assert len({r.text for r in results}) > 1  # different seeds, different samples
    assert engine.stats.peak_batch >= n  # all 8 decoded in the same step
    prompt_len = results[0].prompt_tokens
    # The shared prompt is computed once: the other samples reuse (at least) all but its last token.
    assert engine.stats.prompt_tokens_reused - before >= (n - 1) * (prompt_len - 1)


def test_batched_output_matches_single_stream_output(engine):
    """Batching must not change what a seeded sample says."""
    alone = asyncio.run(complete(engine, request(seed=3, temperature=0.0, max_tokens=12))).text

    async def go():
        return await asyncio.gather(
            *(complete(engine, request(seed=i, temperature=0.0, max_tokens=12)) for i in range(4))
        )

    together = asyncio.run(go())
    assert together[0].text == alone


def test_cancel_stops_generation_on_the_engine(engine):
    async def go():
        got = 0
        async with aclosing(engine.stream(request(max_tokens=3000))) as stream:
            async for chunk in stream:
                got += chunk.tokens
                if got >= 5:
                    break
        generated_at_cancel = engine.stats.tokens_generated
        for _ in range(200):
            if engine.stats.cancelled > cancelled_before:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        return generated_at_cancel

    cancelled_before = engine.stats.cancelled
    at_cancel = asyncio.run(go())
    assert engine.stats.cancelled == cancelled_before + 1
    # After the drop, nothing more is generated for it (a step or two may have been in flight).
    assert engine.stats.tokens_generated - at_cancel < 10


def test_task_cancellation_also_aborts(engine):
    async def go():
        task = asyncio.create_task(complete(engine, request(max_tokens=3000)))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(200):
            if engine.stats.cancelled > before:
                return
            await asyncio.sleep(0.01)

    before = engine.stats.cancelled
    asyncio.run(go())
    assert engine.stats.cancelled == before + 1


def test_continuation_reuses_the_cached_prefix(engine):
    first = asyncio.run(complete(engine, request(max_tokens=20, seed=11)))
    reused = engine.stats.prompt_tokens_reused
    asyncio.run(
        complete(engine, request(max_tokens=5, assistant_prefix=first.text + "\n```output\n4\n```\n"))
    )
    # The continuation's prompt starts with the first request's prompt and (most of) its output.
    assert engine.stats.prompt_tokens_reused - reused >= first.prompt_tokens


def test_prompt_longer_than_context_is_a_clear_error(engine):
    long = [{"role": "user", "content": "seven " * 5000}]
    with pytest.raises(EngineError, match="context"):
        asyncio.run(complete(engine, GenerationRequest(messages=long, max_tokens=4)))


def test_missing_or_broken_model_file_is_a_clear_error(tmp_path):
    from aimo.engines.llamacpp import LlamaCppEngine

    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(EngineError, match="could not load"):
        LlamaCppEngine(str(bad))


def test_full_kv_cache_ends_the_longest_sequence_with_length_not_an_error(tiny_model):
    from aimo.engines.llamacpp import LlamaCppEngine

    small = LlamaCppEngine(str(tiny_model), n_ctx=512, max_sequences=4)

    async def go():
        try:
            return await asyncio.gather(
                *(complete(small, request(seed=i, max_tokens=400, temperature=1.0)) for i in range(4))
            )
        finally:
            await small.aclose()

    results = asyncio.run(go())
    assert all(r.finish_reason == "length" for r in results)
    assert small.stats.evicted_full >= 1
    assert any(r.completion_tokens < 400 for r in results)
    assert sum(r.completion_tokens + r.prompt_tokens for r in results) > small.n_ctx  # cells were reused


def test_logprobs_one_normalised_top5_per_generated_token(engine):
    async def go():
        return [c async for c in engine.stream(request(logprobs=True, max_tokens=12))]

    chunks = asyncio.run(go())
    positions = [p for c in chunks for p in c.logprobs]
    assert len(positions) == chunks[-1].completion_tokens == 12
    for top in positions:
        assert len(top) == 5 and top == sorted(top, reverse=True)
        # Log-probabilities of a normalised distribution: the top five hold at most all of its mass.
        assert all(lp <= 1e-6 for lp in top) and sum(math.exp(lp) for lp in top) <= 1 + 1e-5
    assert all(not c.logprobs for c in asyncio.run(_chunks(engine, request(max_tokens=4))))


async def _chunks(engine, req):
    return [c async for c in engine.stream(req)]

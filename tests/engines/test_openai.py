"""The openai engine against real servers on 127.0.0.1: llama.cpp's server, and a scripted SSE server."""

from __future__ import annotations

import asyncio
import logging
from contextlib import aclosing

import pytest
from servers import ScriptedSSE, chat_delta, free_port, llama_server

from aimo.engines.base import EngineError, GenerationRequest, complete
from aimo.engines.openai import OpenAIEngine, normalize_base_url

MESSAGES = [{"role": "user", "content": "Count to ten."}]


def request(**kw) -> GenerationRequest:
    return GenerationRequest(**{"messages": MESSAGES, "max_tokens": 16, "temperature": 0.8, "seed": 1, **kw})


@pytest.fixture(scope="module")
def server_and_log(tiny_model, tmp_path_factory):
    pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server]")
    log = tmp_path_factory.mktemp("server") / "server.log"
    with llama_server(tiny_model, log=log) as url:
        yield url, log


@pytest.fixture(scope="module")
def server(server_and_log):
    return server_and_log[0]


def run(coro):
    return asyncio.run(coro)


async def _with_engine(urls, fn, **kw):
    engine = OpenAIEngine(urls, **kw)
    try:
        return await fn(engine)
    finally:
        await engine.aclose()


def test_base_url_gets_v1_when_it_has_no_path():
    assert normalize_base_url("http://h:8000") == "http://h:8000/v1"
    assert normalize_base_url("http://h:8000/v1/") == "http://h:8000/v1"
    assert normalize_base_url("http://h/openai/v1") == "http://h/openai/v1"


def test_chat_stream_from_llama_cpp_server(server):
    result = run(_with_engine([server], lambda e: complete(e, request())))
    assert result.finish_reason == "length"
    assert result.completion_tokens == 16  # llama.cpp's server sends no usage: counted from the chunks
    assert result.text


def test_completions_api_with_a_raw_prompt(server):
    req = GenerationRequest(prompt="1, 2, 3,", max_tokens=8, temperature=0.0)
    result = run(_with_engine([server], lambda e: complete(e, req), api="completions"))
    assert result.finish_reason == "length"
    assert result.completion_tokens == 8


ABORT_WAIT_S = 300  # far above the seconds this takes even on a loaded machine


def test_stream_cancelled_midway_makes_the_server_abort_it(server_and_log):
    server, log = server_and_log
    aborted_before = log.read_text(errors="replace").count("Disconnected from client")

    async def give_up_then_ask(engine):
        got = []
        async with aclosing(engine.stream(request(max_tokens=1500))) as stream:
            async for chunk in stream:
                got.append(chunk)
                if len(got) >= 3:
                    break
        # The server takes requests one at a time: this one runs once the first is aborted.
        return got, await complete(engine, request(max_tokens=4))

    async def go(engine):
        # An engine that reads the given-up stream to its end, or leaves the server blocked writing
        # to it, would hang here: the bound turns that into a failure.
        return await asyncio.wait_for(give_up_then_ask(engine), ABORT_WAIT_S)

    got, after = run(_with_engine([server], go))
    assert len(got) == 3 and all(c.finish_reason is None for c in got)
    assert after.finish_reason == "length"
    # The server's own account: it saw the client go and stopped the generation.
    aborted = log.read_text(errors="replace").count("Disconnected from client") - aborted_before
    assert aborted == 1, log.read_text(errors="replace")[-2000:]


def test_server_that_is_down_is_a_clear_error_naming_the_url():
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(EngineError, match=f"no answer from the server: {url}.*ConnectError"):
        run(_with_engine([url], lambda e: complete(e, request()), connect_retries=1, backoff_s=0.01))


def test_retries_after_5xx_before_the_first_token():
    ok = [chat_delta("4"), chat_delta("2", finish="stop"), "[DONE]"]
    with ScriptedSSE([503, 502, ok]) as s:
        result = run(_with_engine([s.url], lambda e: complete(e, request()), backoff_s=0.01))
    assert result.text == "42" and result.finish_reason == "stop"
    assert len(s.requests) == 3


def test_stream_without_finish_reason_is_a_failure_not_an_empty_answer():
    with (
        ScriptedSSE([[chat_delta("partial")]]) as s,
        pytest.raises(EngineError, match="without a finish reason"),
    ):
        run(_with_engine([s.url], lambda e: complete(e, request())))
    with ScriptedSSE([["[DONE]"]]) as s, pytest.raises(EngineError, match="without a finish reason"):
        run(_with_engine([s.url], lambda e: complete(e, request())))


def test_4xx_is_not_retried_and_says_why():
    with ScriptedSSE([400, 400]) as s, pytest.raises(EngineError, match="refused the request: HTTP 400"):
        run(_with_engine([s.url], lambda e: complete(e, request()), backoff_s=0.01))
    assert len(s.requests) == 1


def test_request_body_carries_sampling_stop_and_continuation():
    ok = [chat_delta("x", finish="stop"), "[DONE]"]
    with ScriptedSSE([ok]) as s:
        req = request(stop=["```output"], min_p=0.05, assistant_prefix="```python\nprint(1)\n```\n")
        run(_with_engine([s.url], lambda e: complete(e, req)))
    body = s.requests[0]
    assert body["stop"] == ["```output"] and body["min_p"] == 0.05 and body["seed"] == 1
    assert body["messages"][-1] == {"role": "assistant", "content": "```python\nprint(1)\n```\n"}
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
    assert body["stream"] is True and body["model"] == "scripted"


def test_extra_body_and_reasoning_effort_go_into_every_request():
    engine = OpenAIEngine(["http://127.0.0.1:9/v1"], reasoning_effort="low", extra_body={"top_k": 20})
    _, chat = engine.request_body(request(), "m")
    assert chat["reasoning_effort"] == "low" and chat["top_k"] == 20
    _, raw = engine.request_body(GenerationRequest(prompt="2+2=", max_tokens=4), "m")
    assert raw["top_k"] == 20 and raw["prompt"] == "2+2="
    asyncio.run(engine.aclose())


def test_load_is_spread_across_two_servers(tiny_model):
    pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server]")
    with llama_server(tiny_model) as a, llama_server(tiny_model) as b:

        async def go(engine):
            return await asyncio.gather(*(complete(engine, request(max_tokens=4, seed=i)) for i in range(6)))

        engine = OpenAIEngine([a, b])

        async def main():
            try:
                return await go(engine)
            finally:
                await engine.aclose()

        results = run(main())
    assert all(r.finish_reason == "length" for r in results)
    assert engine.requests_sent[a] >= 2 and engine.requests_sent[b] >= 2
    assert engine.requests_sent[a] + engine.requests_sent[b] == 6


def test_concurrent_streams_on_an_interrupting_server_fail_loudly(tiny_model):
    """llama.cpp's server with --interrupt_requests True ends concurrent streams without a finish
    reason; the engine must report that as an error, never as an empty answer."""
    pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server]")
    with llama_server(tiny_model, interrupt_requests=True) as url:

        async def go(engine):
            return await asyncio.gather(
                *(complete(engine, request(max_tokens=200, seed=i)) for i in range(3)), return_exceptions=True
            )

        results = run(_with_engine([url], go))
    errors = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(e, EngineError) for e in errors)
    assert all(r.text or r.finish_reason for r in results if not isinstance(r, Exception))
    assert errors, "expected at least one interrupted stream to be reported as an error"


def test_overhead_benchmark_measures_both_clients_on_the_same_server(server):
    from aimo.bench.overhead import measure_overhead

    result = run(measure_overhead(server, rounds=2, concurrency=1, max_tokens=8))
    direct, through_engine = result.rows
    assert (direct["client"], through_engine["client"]) == ("direct", "engine")
    # Greedy decoding of the same body: both clients get every one of the 2 rounds × 8 tokens.
    assert direct["tokens"] == through_engine["tokens"] == 2 * 8
    assert all(len(row["tok/s (each round)"].split(", ")) == 2 for row in result.rows)
    ratio = through_engine["tok/s (all rounds)"] / direct["tok/s (all rounds)"]
    assert result.ratios["engine / direct tok/s"] == pytest.approx(ratio)
    assert result.settings["url"] == server


# -- reasoning deltas, token accounting ---------------------------------------------------------------


def reasoning_delta(
    text: str, field: str = "reasoning_content", finish: str | None = None
) -> dict[str, object]:
    return {"choices": [{"index": 0, "delta": {field: text}, "finish_reason": finish}]}


def _chunks(script, req=None, **kw):
    async def go(engine):
        return [c async for c in engine.stream(req or request())]

    with ScriptedSSE([script]) as s:
        return run(_with_engine([s.url], go, **kw))


def test_vllm_reasoning_content_is_kept_inside_think_markers():
    script = [
        reasoning_delta("Compute it.\n```python\nprint(6*7)\n```\n"),
        reasoning_delta("So \\boxed{42}."),
        chat_delta("\n\nThe answer is \\boxed{42}."),
        chat_delta("", finish="stop"),
        "[DONE]",
    ]
    chunks = _chunks(script)
    text = "".join(c.text for c in chunks)
    assert text == (
        "<think>\nCompute it.\n```python\nprint(6*7)\n```\nSo \\boxed{42}."
        "</think>\n\nThe answer is \\boxed{42}."
    )
    assert sum(c.tokens for c in chunks) == 3  # each reasoning delta counts
    assert chunks[-1].completion_tokens == 3 and chunks[-1].finish_reason == "stop"


def test_newer_vllm_reasoning_field_cut_by_length_stays_open():
    script = [reasoning_delta("\nhmm ", "reasoning"), reasoning_delta("still thinking", "reasoning")]
    chunks = _chunks([*script, reasoning_delta("", "reasoning", finish="length"), "[DONE]"])
    assert "".join(c.text for c in chunks) == "<think>\nhmm still thinking"  # a continuation goes on thinking
    assert chunks[-1].finish_reason == "length" and chunks[-1].completion_tokens == 2


def test_reasoning_cut_by_a_stop_string_stays_open_and_end_of_turn_closes_it():
    stopped = {"index": 0, "delta": {}, "finish_reason": "stop", "stop_reason": "```output"}
    chunks = _chunks([reasoning_delta("```python\nx=1\n```\n"), {"choices": [stopped]}, "[DONE]"])
    assert "".join(c.text for c in chunks) == "<think>\n```python\nx=1\n```\n"
    eos = {"index": 0, "delta": {}, "finish_reason": "stop", "stop_reason": None}
    chunks = _chunks([reasoning_delta("done"), {"choices": [eos]}, "[DONE]"])
    assert "".join(c.text for c in chunks) == "<think>\ndone</think>"


def test_a_continuation_inside_the_thinking_opens_no_second_marker():
    req = request(assistant_prefix="<think>\nx\n```python\nprint(1)\n```\n```output\n1\n```\n")
    script = [reasoning_delta("so 1"), chat_delta(" Answer: 1", finish="stop"), "[DONE]"]
    assert "".join(c.text for c in _chunks(script, req)) == "so 1</think> Answer: 1"


def test_auto_engine_on_a_real_server_uses_the_model_it_serves(server, tmp_path, monkeypatch):
    import aimo.engines.factory as factory
    from aimo.engines.config import EngineConfig

    monkeypatch.setenv("AIMO_CACHE_DIR", str(tmp_path))  # an empty cache: nothing may land in it
    monkeypatch.setattr(factory, "resolve_model", lambda *a, **kw: pytest.fail("resolve_model was called"))
    engine = factory.create_engine(EngineConfig(base_urls=[server, server]))

    async def go():
        try:
            return await engine.model_name(engine.base_urls[0]), await complete(engine, request(max_tokens=4))
        finally:
            await engine.aclose()

    name, result = run(go())
    assert name.endswith("tiny-qwen2-64x2.gguf") and result.finish_reason == "length"
    assert not list(tmp_path.iterdir())


def completion_event(text: str, n_tokens: int, finish: str | None = None) -> dict[str, object]:
    top = [{"a": -0.1, "b": -2.0}] * n_tokens
    return {
        "choices": [{"index": 0, "text": text, "logprobs": {"top_logprobs": top}, "finish_reason": finish}]
    }


def test_tokens_are_counted_from_logprobs_and_the_usage_is_the_final_count():
    req = GenerationRequest(prompt="1, 2,", max_tokens=16, logprobs=True)
    script = [completion_event(" 3, 4,", 4), completion_event(" 5", 2, finish="length"), "[DONE]"]
    chunks = _chunks(script, req, api="completions")
    # The scripted server writes its events at once, so they may arrive as one Chunk: count the sum.
    assert sum(c.tokens for c in chunks[:-1]) == 6 and chunks[-1].completion_tokens == 6
    assert "".join(c.text for c in chunks) == " 3, 4, 5"
    usage = {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 7}}
    chunks = _chunks([*script[:2], usage, "[DONE]"], req, api="completions")
    assert chunks[-1].completion_tokens == 7 and chunks[-1].prompt_tokens == 5


def test_running_usage_counts_several_tokens_per_chunk():
    def event(text, used, finish=None):
        return {
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}],
            "usage": {"prompt_tokens": 3, "completion_tokens": used},
        }

    chunks = _chunks([event("abc", 3), event("de", 7, finish="stop"), "[DONE]"])
    assert sum(c.tokens for c in chunks[:-1]) == 7 and chunks[-1].completion_tokens == 7


# -- the model name with several base URLs -------------------------------------------------------------


def test_auto_engine_with_base_urls_asks_each_server_its_model_and_resolves_nothing(tmp_path, monkeypatch):
    import aimo.engines.factory as factory
    from aimo.engines.config import EngineConfig

    monkeypatch.setenv("AIMO_CACHE_DIR", str(tmp_path))

    def no_resolving(*args, **kw):
        raise AssertionError(f"resolve_model was called: {args}")

    monkeypatch.setattr(factory, "resolve_model", no_resolving)
    ok = [chat_delta("x", finish="stop"), "[DONE]"]
    with ScriptedSSE([ok] * 2, model_id="model-a") as a, ScriptedSSE([ok] * 2, model_id="model-b") as b:
        engine = factory.create_engine(EngineConfig(base_urls=[a.url, b.url]))

        async def main():
            try:
                for i in range(4):
                    await complete(engine, request(seed=i))
            finally:
                await engine.aclose()

        run(main())
    assert engine.name == "openai"
    assert [r["model"] for r in a.requests] == ["model-a", "model-a"]
    assert [r["model"] for r in b.requests] == ["model-b", "model-b"]
    assert not list(tmp_path.iterdir())  # nothing was fetched
    named = factory.create_engine(EngineConfig(base_urls=[a.url], model="org/served-name"))
    assert named.model == "org/served-name"
    run(named.aclose())


# -- several endpoints: one dies, is taken out, and is taken back ------------------------------------


def test_endpoint_killed_mid_run_is_taken_out_and_taken_back(tiny_model, caplog):
    pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server]")
    from servers import llama_server_process

    caplog.set_level(logging.WARNING, logger="aimo.engines.openai")
    port_b = free_port()
    with llama_server(tiny_model) as a, llama_server_process(tiny_model, port=port_b) as (proc_b, b):
        engine = OpenAIEngine([a, b], probe_interval_s=0.3, backoff_s=0.05)
        streaming = [asyncio.Event(), asyncio.Event()]

        async def long_sample(i):
            got = []
            async with aclosing(engine.stream(request(max_tokens=400, seed=i))) as stream:
                async for chunk in stream:
                    got.append(chunk)
                    streaming[i].set()
            return got

        async def kill_b_mid_stream():
            tasks = [asyncio.create_task(long_sample(i)) for i in range(2)]  # one on each endpoint
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in streaming)), 60)
            proc_b.kill()
            proc_b.wait()
            return await asyncio.gather(*tasks, return_exceptions=True)

        async def take_back():
            sent_before = engine.requests_sent[b]
            with llama_server_process(tiny_model, port=port_b):
                for _ in range(300):
                    if engine.is_up(b):
                        break
                    await asyncio.sleep(0.1)
                back = await asyncio.gather(
                    *(complete(engine, request(max_tokens=4, seed=i)) for i in range(4))
                )
                return back, engine.requests_sent[b] - sent_before

        async def whole():
            try:
                first = await kill_b_mid_stream()
                sent_b = engine.requests_sent[b]
                after = [await complete(engine, request(max_tokens=4, seed=i)) for i in range(3)]
                assert engine.requests_sent[b] == sent_b and not engine.is_up(b)  # b is out
                back, sent_to_b = await take_back()
                return first, after, back, sent_to_b
            finally:
                await engine.aclose()

        first, after, back, sent_to_b = run(whole())
    failed = [r for r in first if isinstance(r, BaseException)]
    assert len(failed) == 1 and isinstance(failed[0], EngineError), first  # only b's stream is lost
    assert all(r.finish_reason == "length" for r in after)
    assert sent_to_b >= 1 and all(r.finish_reason == "length" for r in back)  # b was taken back
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len([m for m in lines if "is not answering" in m]) == 1, lines
    assert len([m for m in lines if "answers again" in m]) == 1, lines


class _Watched:
    """The real engine, noting which of its streams are producing text right now."""

    def __init__(self, engine: OpenAIEngine) -> None:
        self.engine = engine
        self.name = engine.name
        self.streaming: set[object] = set()
        self.two_streaming = asyncio.Event()

    async def stream(self, req):
        key = object()
        try:
            async with aclosing(self.engine.stream(req)) as chunks:
                async for chunk in chunks:
                    self.streaming.add(key)
                    if len(self.streaming) >= 2:
                        self.two_streaming.set()
                    yield chunk
        finally:
            self.streaming.discard(key)

    async def aclose(self) -> None:
        await self.engine.aclose()


def test_solve_run_with_one_of_two_servers_killed_loses_only_its_streaming_sample(tiny_model, caplog):
    """llama.cpp's server streams one request at a time, so two streams producing text at once run on
    the two servers; killing b then loses b's streaming sample only (its queued one is retried on a),
    every later problem runs on a, the user gets one warning line, and the summary counts the loss."""
    pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server]")
    from servers import llama_server_process

    from aimo.cli.progress import lost_samples
    from aimo.problems import Problem
    from aimo.solve.config import BudgetConfig, SamplingConfig, StrategyConfig
    from aimo.solve.run import RunSettings, solve_problems

    caplog.set_level(logging.WARNING, logger="aimo.engines.openai")
    problems = [Problem(id=f"p{i}", text=f"What is {i} + {i}?", answer=str(2 * i)) for i in range(2)]
    settings = RunSettings(
        StrategyConfig(samples=4, force_answer=False), SamplingConfig(max_tokens=100), BudgetConfig()
    )
    with llama_server(tiny_model) as a, llama_server_process(tiny_model) as (proc_b, b):
        engine = OpenAIEngine([a, b], probe_interval_s=60, backoff_s=0.05)
        watched = _Watched(engine)
        sent_to_b: list[int] = []

        async def kill_b_while_it_streams():
            await asyncio.wait_for(watched.two_streaming.wait(), 120)
            proc_b.kill()
            proc_b.wait()
            sent_to_b.append(engine.requests_sent[b])

        async def main():
            killer = asyncio.create_task(kill_b_while_it_streams())
            try:
                return await solve_problems(watched, problems, settings)
            finally:
                await killer
                await engine.aclose()

        results = run(main())
    errors = [[s.index for s in r.samples if s.finish_reason == "error"] for r in results]
    assert [len(e) for e in errors] == [1, 0], errors
    assert all(len(r.samples) == 4 for r in results)
    assert engine.requests_sent[b] == sent_to_b[0]  # nothing went to b after it died
    assert engine.requests_sent[a] >= 4 + 2  # the later problem, and b's queued sample, ran on a
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "is not answering" in warnings[0], warnings
    assert lost_samples(results) == "; 1 of 8 samples lost to engine errors"


def test_sse_payloads_take_any_line_ending_and_lines_split_across_pieces():
    from aimo.engines.openai import _SSEPayloads

    body = 'data: {"a": 1}\r\n\r\ndata: {"b"' + ': 2}\r\rdata: {"c": 3}\n\ndata: [DONE]\r\n\r\n'
    splitter = _SSEPayloads()
    got = [p for piece in (body[:15], body[15:16], body[16:33], body[33:]) for p in splitter.feed(piece)]
    assert got == ['{"a": 1}', '{"b": 2}', '{"c": 3}'] and splitter.done

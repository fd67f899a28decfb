from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import pytest

from aimo.engines.base import Chunk, Engine, EngineError, GenerationRequest, complete
from aimo.engines.config import EngineConfig
from aimo.engines.replay import ReplayEngine, plan_playback
from aimo.engines.traces import TraceProblem, TraceSample, write_traces

TIR_TEXT = "We compute it.\n```python\nprint(6 * 7)\n```\n```output\n42\n```\nSo the answer is \\boxed{42}."
PROBLEMS = [
    TraceProblem(
        "p1",
        "What is six times seven?",
        "42",
        (
            TraceSample(text=TIR_TEXT, completion_tokens=30),
            TraceSample(answer="41", completion_tokens=400),
            TraceSample(answer=None, completion_tokens=50),
        ),
    ),
    TraceProblem("p2", "What is 1+1?", "2", (TraceSample(text="Easy: \\boxed{2}"),)),
]


def request(meta: dict | None = None, **fields: object) -> GenerationRequest:
    if "prompt" not in fields:
        fields.setdefault("messages", [{"role": "user", "content": "Solve."}])
    return GenerationRequest(meta=meta or {}, **fields)  # type: ignore[arg-type]


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def chunks_of(engine: ReplayEngine, req: GenerationRequest) -> list[Chunk]:
    return [chunk async for chunk in engine.stream(req)]


def test_is_an_engine_and_streams_a_full_text() -> None:
    engine = ReplayEngine(PROBLEMS, chunk_tokens=4)
    assert isinstance(engine, Engine) and engine.name == "replay"
    chunks = run(chunks_of(engine, request({"problem_id": "p1", "sample_index": 0})))
    assert len(chunks) > 3
    assert "".join(c.text for c in chunks) == TIR_TEXT
    assert all(c.finish_reason is None for c in chunks[:-1])
    assert chunks[-1].finish_reason == "stop" and chunks[-1].completion_tokens == 30
    assert chunks[-1].prompt_tokens and chunks[-1].prompt_tokens > 0
    assert sum(c.tokens for c in chunks) == 30 and all(c.tokens > 0 for c in chunks)


def test_stop_string_ends_the_stream_without_it_and_a_continuation_resumes() -> None:
    engine = ReplayEngine(PROBLEMS, chunk_tokens=2)
    meta = {"problem_id": "p1", "sample_index": 0}
    first = run(complete(engine, request(meta, stop=["```output", "never"])))
    assert first.text == "We compute it.\n```python\nprint(6 * 7)\n```\n"
    assert first.finish_reason == "stop"
    assert 0 < first.completion_tokens < 30
    # The harness appends the real tool output and continues the same sample.
    prefix = first.text + "```output\n42\n```\n"
    second = run(complete(engine, request(meta, assistant_prefix=prefix, stop=["```output"])))
    assert second.text == "So the answer is \\boxed{42}."
    assert first.completion_tokens + second.completion_tokens <= 30
    # With a different tool output the sample resumes after its last stop string.
    engine = ReplayEngine(PROBLEMS, chunk_tokens=2)
    run(complete(engine, request(meta, stop=["```output"])))
    other = run(complete(engine, request(meta, assistant_prefix=first.text + "```output\n41\n```\n")))
    assert other.text == "\n42\n```\nSo the answer is \\boxed{42}."


def test_earliest_stop_string_wins() -> None:
    playback = plan_playback("abc STOP def END", 16, 0, 100, ["END", "STOP"])
    assert (playback.text[playback.start : playback.end], playback.finish_reason) == ("abc ", "stop")


def test_max_tokens_truncates() -> None:
    engine = ReplayEngine(PROBLEMS)
    done = run(complete(engine, request({"problem_id": "p1", "sample_index": 0}, max_tokens=10)))
    assert done.finish_reason == "length" and done.completion_tokens == 10
    assert TIR_TEXT.startswith(done.text) and 0 < len(done.text) < len(TIR_TEXT)
    # An answer-only sample cut short loses its answer, like a real truncated generation.
    cut = run(complete(engine, request({"problem_id": "p1", "sample_index": 1}, max_tokens=100)))
    assert cut.finish_reason == "length" and "boxed" not in cut.text


def test_a_truncation_never_emits_part_of_a_stop_string() -> None:
    playback = plan_playback("abcdefSTOPxyz", 13, 0, 8, ["STOP"])
    assert playback.finish_reason == "length" and playback.text[playback.start : playback.end] == "abcdef"


def test_answer_only_samples() -> None:
    engine = ReplayEngine(PROBLEMS)
    done = run(complete(engine, request({"problem_id": "p1", "sample_index": 1})))
    assert done.text.endswith("\\boxed{41}") and done.completion_tokens == 400
    chunks = run(chunks_of(engine, request({"problem_id": "p1", "sample_index": 1}, max_tokens=250)))
    assert sum(c.tokens for c in chunks) == 250 == chunks[-1].completion_tokens
    no_answer = run(complete(engine, request({"problem_id": "p1", "sample_index": 2})))
    assert "boxed" not in no_answer.text and no_answer.completion_tokens == 50


def test_problem_from_text_and_samples_in_order() -> None:
    engine = ReplayEngine(PROBLEMS)
    messages = [{"role": "user", "content": "Please solve:\nWhat is six   times seven?\n"}]
    texts = [run(complete(engine, request(messages=messages))).text for _ in range(3)]
    assert texts[0] == TIR_TEXT and "boxed{41}" in texts[1] and "No final answer" in texts[2]
    with pytest.raises(EngineError, match="3 recorded samples"):
        run(complete(engine, request(messages=messages)))
    assert run(complete(engine, request(prompt="Q: What is 1+1?"))).text == "Easy: \\boxed{2}"
    with pytest.raises(EngineError, match="no recorded problem"):
        run(complete(engine, request(prompt="something else")))
    with pytest.raises(EngineError, match="'nope'"):
        run(complete(engine, request({"problem_id": "nope"})))


def test_wrap_reuses_samples() -> None:
    engine = ReplayEngine(PROBLEMS, wrap=True)
    assert run(complete(engine, request({"problem_id": "p2", "sample_index": 5}))).text == "Easy: \\boxed{2}"


@pytest.fixture()
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The delays the replay engine asks asyncio to sleep (it still sleeps them)."""
    asked: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(delay: float, *args: object) -> object:
        asked.append(delay)
        return await real_sleep(delay, *args)

    monkeypatch.setattr("aimo.engines.replay.asyncio.sleep", recording_sleep)
    return asked


def test_closing_the_stream_stops_it(waits: list[float]) -> None:
    engine = ReplayEngine(PROBLEMS, tokens_per_s=50, chunk_tokens=1)

    async def go() -> int:
        stream = engine.stream(request({"problem_id": "p1", "sample_index": 1}))  # 400 tokens: 8 s
        first = await anext(stream)
        assert first.finish_reason is None and engine.active_streams == 1
        await stream.aclose()
        assert engine.active_streams == 0
        asked = len(waits)
        later = asyncio.get_running_loop().create_future()  # a pause that is not a (recorded) sleep
        asyncio.get_running_loop().call_later(0.05, later.set_result, None)
        await later
        with pytest.raises(StopAsyncIteration):
            await anext(stream)
        return len(waits) - asked

    assert run(go()) == 0  # nothing goes on playing after the close


def test_cancelling_the_task_stops_the_stream() -> None:
    engine = ReplayEngine(PROBLEMS, tokens_per_s=50)

    async def consume() -> None:
        async for _ in engine.stream(request({"problem_id": "p1", "sample_index": 1})):
            pass

    async def go() -> None:
        task = asyncio.create_task(consume())
        await asyncio.sleep(0.05)
        assert engine.active_streams == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(go())
    assert engine.active_streams == 0


def test_pacing_follows_tokens_per_second_and_streams_play_at_once(waits: list[float]) -> None:
    async def timed(engine: ReplayEngine, indexes: Sequence[int]) -> tuple[float, list[tuple[int, str]]]:
        events: list[tuple[int, str]] = []

        async def play(n: int, index: int) -> None:
            async for _ in engine.stream(request({"problem_id": "p1", "sample_index": index})):
                if not any(e == (n, "first") for e in events):
                    events.append((n, "first"))
            events.append((n, "done"))

        started = time.monotonic()
        await asyncio.gather(*(play(n, i) for n, i in enumerate(indexes)))
        return time.monotonic() - started, events

    # 400 tokens at 2,000 tok/s: the last one is not due before 0.2 s.
    seconds, _ = run(timed(ReplayEngine(PROBLEMS, tokens_per_s=2000), [1]))
    assert seconds >= 0.199
    # Three streams play at once: each has begun before any has ended.
    _, events = run(timed(ReplayEngine(PROBLEMS, tokens_per_s=2000), [1, 1, 2]))
    assert {e for e in events[:3]} == {(0, "first"), (1, "first"), (2, "first")}, events
    # Unlimited speed only takes turns: it never waits.
    waits.clear()
    run(timed(ReplayEngine(PROBLEMS, tokens_per_s=0), [1]))
    assert waits and all(delay == 0 for delay in waits)


def test_closed_engine_refuses_and_from_config(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "t.jsonl"
    write_traces(path, PROBLEMS)
    engine = ReplayEngine.from_config(EngineConfig(engine="replay", traces=str(path), replay_tokens_per_s=99))
    assert engine.tokens_per_s == 99 and set(engine.problems) == {"p1", "p2"}
    run(engine.aclose())
    with pytest.raises(EngineError, match="closed"):
        run(complete(engine, request({"problem_id": "p2", "sample_index": 0})))
    with pytest.raises(EngineError, match="--traces"):
        ReplayEngine.from_config(EngineConfig(engine="replay"))

"""The planner under real deadlines: replay at a batching engine's speed, and llama.cpp on a tiny model.

The budget guarantee is checked against the run's own clock; nothing here asserts a speed."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from aimo.engines.base import GenerationRequest
from aimo.engines.replay import ReplayEngine
from aimo.engines.throughput import ThroughputCurve
from aimo.engines.traces import TraceProblem, TraceSample
from aimo.problems import Problem
from aimo.solve.config import BudgetConfig, SamplingConfig, StrategyConfig
from aimo.solve.run import RunSettings, solve_problems

NATURAL_OR_CAPPED = {"boxed", "stop", "length", "think", "code_answer"}


@pytest.fixture(autouse=True)
def private_measurements(tmp_path, monkeypatch):
    """Each test gets its own measurement store (the planner reads and writes one)."""
    monkeypatch.setenv("AIMO_CACHE_DIR", str(tmp_path / "cache"))


def traces(n_problems: int, answers: list[str], tokens: int) -> list[TraceProblem]:
    return [
        TraceProblem(
            f"p{i}",
            f"Problem number {i}?",
            answers[0],
            tuple(TraceSample(answer=a, completion_tokens=tokens) for a in answers),
        )
        for i in range(n_problems)
    ]


def test_replay_with_a_throughput_curve_slows_each_stream_as_streams_are_added():
    engine = ReplayEngine(traces(1, ["1", "1"], 50), throughput=ThroughputCurve({1: 100.0, 2: 100.0}))

    async def play(index: int) -> None:
        request = GenerationRequest(prompt="x", meta={"problem_id": "p0", "sample_index": index})
        async for _ in engine.stream(request):
            pass

    async def go() -> tuple[float, float]:
        start = time.monotonic()
        await play(0)
        alone = time.monotonic() - start
        start = time.monotonic()
        await asyncio.gather(play(0), play(1))
        return alone, time.monotonic() - start

    alone, together = asyncio.run(go())
    assert alone >= 0.45  # 50 tokens at 100 tok/s
    assert together >= 0.9  # two streams share 100 tok/s: 50 tok/s each


def test_planner_on_a_fast_batching_replay_starts_many_samples_and_stays_inside_the_budget():
    engine = ReplayEngine(traces(4, ["7"] * 8, 200), throughput=ThroughputCurve({1: 400.0, 8: 3200.0}))
    problems = [Problem(id=f"p{i}", text=f"Problem number {i}?", answer="7") for i in range(4)]
    settings = RunSettings(
        StrategyConfig(samples=8),
        SamplingConfig(max_tokens=1000),
        BudgetConfig(total_s=12.0, reserve_s=0.5, fallback_s=0.1),
    )
    start = time.monotonic()
    results = asyncio.run(solve_problems(engine, problems, settings))
    assert time.monotonic() - start <= 12.0
    # Even the prior's 500 tokens at 400 tok/s each with 8 at once fit the ~2.8 s share: all 8 start.
    assert all(len(r.samples) == 8 for r in results)
    assert all(r.correct for r in results)


def test_planner_on_a_slow_engine_starts_one_sample_and_it_finishes():
    # 200 tokens at 100 tok/s alone take 2 s; two or more at once could not finish in the ~2.4 s share.
    engine = ReplayEngine(traces(3, ["7", "7", "7"], 200), throughput=ThroughputCurve({1: 100.0, 4: 120.0}))
    problems = [Problem(id=f"p{i}", text=f"Problem number {i}?", answer="7") for i in range(3)]
    settings = RunSettings(
        StrategyConfig(samples=3),
        SamplingConfig(max_tokens=400),
        BudgetConfig(total_s=9.0, reserve_s=0.5, fallback_s=0.1, prior_tokens=200),
    )
    start = time.monotonic()
    results = asyncio.run(solve_problems(engine, problems, settings))
    assert time.monotonic() - start <= 9.0
    assert [len(r.samples) for r in results] == [1, 1, 1]
    assert all(s.finish_reason in NATURAL_OR_CAPPED for r in results for s in r.samples)
    assert all(r.answer == "7" for r in results)


@pytest.mark.parametrize("total_s", [6.0, 20.0])
def test_real_engine_run_ends_inside_its_budget_and_started_samples_finish(tiny_model, tmp_path, total_s):
    """llama.cpp on the tiny model (random weights: it never boxes, so every sample runs to its cap).

    The planner measures the engine (a calibration, then the run's streams), caps each sample at
    what it can generate before its deadline, and the run ends inside its budget."""
    from aimo.engines.config import EngineConfig
    from aimo.engines.factory import open_engine

    problems = [Problem(id=f"q{i}", text=f"What is {i} + {i}?", answer=str(2 * i)) for i in range(4)]
    settings = RunSettings(
        StrategyConfig(samples=4),
        SamplingConfig(max_tokens=4000),
        BudgetConfig(total_s=total_s, reserve_s=1.0),
    )
    config = EngineConfig(model=str(tiny_model), n_ctx=8192, max_sequences=4)

    async def go():
        async with open_engine(config) as engine:
            start = time.monotonic()
            results = await solve_problems(engine, problems, settings)
            return results, time.monotonic() - start

    results, seconds = asyncio.run(go())
    assert seconds <= total_s
    assert len(results) == 4
    samples = [s for r in results for s in r.samples]
    # Every sample the planner started finished (reached its planned cap), none was cut or cancelled.
    assert samples and all(s.finish_reason in NATURAL_OR_CAPPED for s in samples), [
        (s.finish_reason, s.error) for s in samples
    ]
    assert all(s.completion_tokens <= (s.max_tokens or 0) + 16 for s in samples)  # + forcing
    if total_s >= 20:  # long enough to measure a level for at least TRUSTED_SECONDS
        from aimo.solve.measurements import store_path

        [entry] = json.loads(store_path().read_text()).values()
        assert entry["throughput"]  # what the run measured is kept for the next run

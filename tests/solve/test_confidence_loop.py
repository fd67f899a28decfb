"""Confidence in the sample loop, on the replay engine playing recorded per-token logprobs: summaries,
DeepConf online stopping, --record-logprobs records that replay with the same confidences, pools."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from aimo.engines.replay import ReplayEngine
from aimo.engines.traces import TraceProblem, TraceSample, load_traces
from aimo.problems import Problem
from aimo.solve import BudgetConfig, RunSettings, SamplingConfig, StrategyConfig, solve_problems
from aimo.solve.records import RecordWriter

SURE = [-0.01, -6.0, -7.0]
UNSURE = [-0.7, -0.8, -1.0]
TOKENS = 40


def _recorded(answer: str, position: list[float]) -> TraceSample:
    text = "x " * 30 + f"so \\boxed{{{answer}}}"
    return TraceSample(text=text, completion_tokens=TOKENS, meta={"logprobs": [position] * TOKENS})


# Two sure warm-up samples, then an unsure one that answers wrongly, then a sure one.
TRACES = [
    TraceProblem(
        "p",
        "What is 6 times 7?",
        "42",
        (_recorded("42", SURE), _recorded("42", SURE), _recorded("41", UNSURE), _recorded("42", SURE)),
    )
]
PROBLEM = Problem("p", "What is 6 times 7?", "42")


def _solve(strategy: StrategyConfig, traces=TRACES, output=None):  # type: ignore[no-untyped-def]
    engine = ReplayEngine(traces, chunk_tokens=4)
    settings = RunSettings(strategy, SamplingConfig(max_tokens=100), BudgetConfig())
    [result] = asyncio.run(solve_problems(engine, [PROBLEM], settings, output=output))
    return result


def test_samples_record_confidence_summaries_when_logprobs_are_on():
    result = _solve(StrategyConfig(samples=4, logprobs=True, greedy_first=False, confidence_window=8))
    by_index = {s.index: s for s in result.samples}
    assert by_index[0].confidence["lowest_group"] > 4 > by_index[2].confidence["lowest_group"]
    assert by_index[0].logprobs is None  # the series only with --record-logprobs
    assert _solve(StrategyConfig(samples=1)).samples[0].confidence is None


def test_online_gate_stops_the_unsure_sample_after_the_warmup_and_it_does_not_vote():
    # A pool of 2: the warm-up (samples 0 and 1) finishes before the unsure sample 2 starts.
    strategy = StrategyConfig(
        samples=4,
        confidence_warmup=2,
        confidence_keep=90,
        confidence_window=8,
        in_flight=2,
        greedy_first=False,
    )
    result = _solve(strategy)
    unsure = next(s for s in result.samples if s.index == 2)
    assert unsure.finish_reason == "low_confidence" and unsure.answer is None
    assert unsure.completion_tokens < TOKENS
    assert result.votes == {"42": 3.0} and (result.confidence_threshold or 0) > 4
    off = _solve(strategy.model_copy(update={"confidence_warmup": 0}))
    assert off.votes == {"42": 3.0, "41": 1.0}


def test_recorded_logprobs_replay_with_the_same_confidences(tmp_path):
    strategy = StrategyConfig(samples=4, record_logprobs=True, greedy_first=False, confidence_window=8)
    path = tmp_path / "run.jsonl"
    first = _solve(strategy, output=RecordWriter(path))
    assert len(first.samples[0].logprobs or []) == TOKENS
    replayed = load_traces(path)
    again = _solve(strategy.model_copy(update={"record_logprobs": False, "logprobs": True}), traces=replayed)
    summary = {s.index: s.confidence for s in first.samples}
    assert {s.index: s.confidence for s in again.samples} == summary


def test_a_bounded_pool_runs_no_more_samples_at_once_than_asked():
    engine = ReplayEngine(TRACES, chunk_tokens=4)
    peak = 0
    original = engine.stream

    async def watched(request):  # type: ignore[no-untyped-def]
        nonlocal peak
        async for chunk in original(request):
            peak = max(peak, engine.active_streams)
            yield chunk

    engine.stream = watched  # type: ignore[method-assign]
    settings = RunSettings(
        StrategyConfig(samples=4, in_flight=2), SamplingConfig(max_tokens=100), BudgetConfig()
    )
    [result] = asyncio.run(solve_problems(engine, [PROBLEM], settings))
    assert peak == 2 and len(result.samples) == 4


def test_run_scope_warmup_on_the_first_problem_cuts_an_unsure_sample_of_the_next():
    # Two samples a problem, warm-up of 2: a problem's own warm-up ends only with its last sample, so
    # per problem nothing is cut; run-wide, problem a's samples set the threshold that cuts b's unsure one.
    traces = [
        TraceProblem("a", "What is 6 times 7?", "42", (_recorded("42", SURE), _recorded("42", SURE))),
        TraceProblem("b", "What is 5 times 8?", "40", (_recorded("40", SURE), _recorded("41", UNSURE))),
    ]
    problems = [Problem("a", "What is 6 times 7?", "42"), Problem("b", "What is 5 times 8?", "40")]
    strategy = StrategyConfig(
        samples=2, confidence_warmup=2, confidence_window=8, in_flight=1, greedy_first=False
    )

    def solve(scope: str):  # type: ignore[no-untyped-def]
        settings = RunSettings(
            strategy.model_copy(update={"confidence_scope": scope}),
            SamplingConfig(max_tokens=100),
            BudgetConfig(),
        )
        return asyncio.run(solve_problems(ReplayEngine(traces, chunk_tokens=4), problems, settings))

    per_problem = solve("problem")
    assert per_problem[1].votes == {"40": 1.0, "41": 1.0}
    run_wide = solve("run")
    unsure = next(s for s in run_wide[1].samples if s.index == 1)
    assert unsure.finish_reason == "low_confidence" and run_wide[1].votes == {"40": 1.0}
    assert run_wide[1].confidence_threshold == run_wide[0].confidence_threshold


def test_the_gate_spares_a_problems_last_running_sample_while_it_has_no_answer():
    traces = [
        TraceProblem("a", "What is 6 times 7?", "42", (_recorded("42", SURE), _recorded("42", SURE))),
        TraceProblem(
            "b", "What is 5 times 8?", "40", tuple(_recorded(answer, UNSURE) for answer in ("41", "40", "40"))
        ),
    ]
    problems = [Problem("a", "What is 6 times 7?", "42"), Problem("b", "What is 5 times 8?", "40")]
    strategy = StrategyConfig(
        samples=3, confidence_warmup=2, confidence_window=8, greedy_first=False, confidence_scope="run"
    )
    settings = RunSettings(strategy, SamplingConfig(max_tokens=100), BudgetConfig())
    _, b = asyncio.run(solve_problems(ReplayEngine(traces, chunk_tokens=4), problems, settings))
    ends = sorted(s.finish_reason for s in b.samples)
    assert ends == ["boxed", "low_confidence", "low_confidence"] and b.answer is not None


def test_one_at_a_time_the_gate_cuts_unsure_samples_while_more_are_to_start():
    traces = [
        TraceProblem("a", "What is 6 times 7?", "42", (_recorded("42", SURE), _recorded("42", SURE))),
        TraceProblem(
            "b",
            "What is 5 times 8?",
            "40",
            (_recorded("41", UNSURE), _recorded("41", UNSURE), _recorded("40", SURE)),
        ),
    ]
    problems = [Problem("a", "What is 6 times 7?", "42"), Problem("b", "What is 5 times 8?", "40")]
    strategy = StrategyConfig(
        samples=3,
        in_flight=1,
        confidence_warmup=2,
        confidence_window=8,
        greedy_first=False,
        confidence_scope="run",
    )
    settings = RunSettings(strategy, SamplingConfig(max_tokens=100), BudgetConfig())
    _, b = asyncio.run(solve_problems(ReplayEngine(traces, chunk_tokens=4), problems, settings))
    assert [s.finish_reason for s in sorted(b.samples, key=lambda s: s.index)] == [
        "low_confidence",
        "low_confidence",
        "boxed",
    ]
    assert b.answer == "40"


def test_first_window_triage_cuts_the_unsure_sample_one_window_in_when_all_run_at_once():
    strategy = StrategyConfig(
        samples=4,
        confidence_warmup=8,  # a problem's own warm-up: at most its 4 samples
        confidence_keep=50,
        confidence_window=8,
        confidence_warmup_on="first_window",
        greedy_first=False,
    )
    result = _solve(strategy)
    unsure = next(s for s in result.samples if s.index == 2)
    assert unsure.finish_reason == "low_confidence" and unsure.completion_tokens < TOKENS
    assert result.votes == {"42": 3.0}
    finished = _solve(strategy.model_copy(update={"confidence_warmup_on": "finished"}))
    assert finished.votes == {"42": 3.0, "41": 1.0}  # a finished warm-up comes too late to cut


def test_first_window_triage_is_per_problem_only():
    with pytest.raises(ValidationError, match="needs confidence_scope"):
        StrategyConfig(confidence_warmup=8, confidence_warmup_on="first_window", confidence_scope="run")

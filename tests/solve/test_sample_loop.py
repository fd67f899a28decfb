"""The chain-of-thought sample loop and one problem's orchestration, driven by a scripted engine."""

from __future__ import annotations

import asyncio
import time

import pytest
from scripted import ScriptedEngine

from aimo.engines.base import Chunk
from aimo.problems import Problem
from aimo.solve.budget import ProblemBudget
from aimo.solve.config import SamplingConfig, StrategyConfig
from aimo.solve.problem import ProblemSolver
from aimo.solve.sample import FORCE_CUE, SampleRunner
from aimo.solve.stopping import AgreeRule
from aimo.solve.types import Sample

PROBLEM = Problem(id="p1", text="What is 6 times 7?", answer="42")


def solve(engine, strategy: StrategyConfig, budget: ProblemBudget | None = None, max_tokens: int = 200):
    runner = SampleRunner(engine, strategy, SamplingConfig(max_tokens=max_tokens, seed=5))
    return asyncio.run(ProblemSolver(runner, strategy).solve(PROBLEM, budget))


def test_majority_of_boxed_answers_with_tally():
    answers = ["42", "42", "41", "42"]
    engine = ScriptedEngine(lambda i, call, req: f"Six sevens. \\boxed{{{answers[i]}}}")
    result = solve(engine, StrategyConfig(samples=4))
    assert result.answer == "42"
    assert result.votes == {"42": 3.0, "41": 1.0}
    assert result.stop_reason == "all_finished"
    assert sorted(s.index for s in result.samples) == [0, 1, 2, 3]
    assert all(s.completion_tokens > 0 and s.finish_reason == "boxed" for s in result.samples)
    assert all(s.max_tokens == 200 for s in result.samples)  # the cap each was launched with
    # Each sample asked with its own seed (base + index).
    assert sorted(r.seed for r in engine.calls) == [5, 6, 7, 8]


def test_sample_stops_at_the_first_boxed_answer():
    engine = ScriptedEngine(lambda i, call, req: "So \\boxed{42}. Wait, maybe \\boxed{41} and more text " * 3)
    result = solve(engine, StrategyConfig(samples=1))
    sample = result.samples[0]
    assert sample.text == "So \\boxed{42}"
    assert sample.answer == "42" and engine.closed_early == 1


def test_token_cap_without_answer_forces_one():
    def script(i, call, req):
        return "thinking " * 100 if call == 0 else "42"

    engine = ScriptedEngine(script)
    result = solve(engine, StrategyConfig(samples=1), max_tokens=10)
    sample = result.samples[0]
    assert sample.answer == "42"
    assert sample.forced is True
    forced_request = engine.calls[1]
    assert forced_request.assistant_prefix.endswith(FORCE_CUE) and forced_request.temperature == 0.0
    assert sample.text.endswith(FORCE_CUE + "42}")


@pytest.mark.parametrize(
    ("forced", "mode"),
    [
        (r"The value of\(f(-2)+f(-1)+f(", "integer"),
        (r"The value of\(f(-2)+f(-1)+f(", "math"),
        ("twelve or thirteen", "integer"),
        ("1234567890" * 10, "integer"),  # cut by the forcing's token cap: a truncated box
        (r"\sqrt{2", "math"),  # cut at the inner `}` by the stop string: a truncated box
    ],
)
def test_a_forced_answer_that_is_not_an_answer_in_the_mode_is_no_answer(forced: str, mode: str):
    engine = ScriptedEngine(lambda i, call, req: "thinking " * 100 if call == 0 else forced)
    result = solve(engine, StrategyConfig(samples=1, answer_mode=mode), max_tokens=10)
    sample = result.samples[0]
    assert sample.forced is True and sample.answer is None and result.votes == {}
    assert FORCE_CUE in sample.text and not sample.text.endswith("}")


def test_a_forced_short_math_answer_still_counts():
    engine = ScriptedEngine(lambda i, call, req: "thinking " * 100 if call == 0 else r"2\sqrt 2")
    result = solve(engine, StrategyConfig(samples=1, answer_mode="math"), max_tokens=10)
    assert result.samples[0].answer == r"2 \sqrt{2}"


def test_no_answer_stays_none_when_forcing_is_off():
    engine = ScriptedEngine(lambda i, call, req: "thinking " * 100)
    result = solve(engine, StrategyConfig(samples=2, force_answer=False), max_tokens=10)
    assert result.answer is None and result.votes == {}
    assert all(s.answer is None and s.finish_reason == "length" for s in result.samples)


def test_stop_rule_cancels_the_remaining_samples_on_the_engine():
    def script(i, call, req):
        return "\\boxed{42}" if i < 3 else "slow " * 2000 + "\\boxed{7}"

    engine = ScriptedEngine(script, delay=0.001)
    result = solve(engine, StrategyConfig(samples=8, stop_rules=[AgreeRule(3, 3)]), max_tokens=5000)
    assert result.stop_reason == "3/3"
    assert result.answer == "42"
    cancelled = [s for s in result.samples if s.finish_reason == "cancelled"]
    assert len(cancelled) == 5
    assert engine.closed_early >= 5  # their streams were closed, i.e. generation aborted
    # Tokens of cancelled samples are still accounted for.
    assert all(s.completion_tokens > 0 for s in cancelled)


def test_deadline_cancels_and_forces_answers():
    def script(i, call, req):
        return "slow " * 5000 if call == 0 else "13"

    engine = ScriptedEngine(script, delay=0.002)
    now = time.monotonic()
    budget = ProblemBudget(index=0, started=now, deadline=now + 1.0, soft_deadline=now + 0.8)
    strategy = StrategyConfig(samples=2, force_answer_timeout_s=0.4)
    result = solve(engine, strategy, budget=budget, max_tokens=100_000)
    assert result.seconds < 5
    assert result.answer == "13"
    assert all(s.forced for s in result.samples)


def test_a_problem_whose_samples_all_fail_answers_nothing_and_says_why():
    from aimo.engines.base import EngineError

    class Broken(ScriptedEngine):
        async def stream(self, request):
            raise EngineError("server down")
            yield  # pragma: no cover

    result = solve(Broken(lambda *a: ""), StrategyConfig(samples=2))
    assert result.answer is None and result.stop_reason == "error"
    assert "server down" in str(result.error)
    assert all(s.finish_reason == "error" and "server down" in str(s.error) for s in result.samples)


def test_a_sample_failing_with_any_exception_loses_only_that_sample():
    class FlakySession(ScriptedEngine):
        async def stream(self, request):
            if request.meta.get("sample_index") == 1:
                raise RuntimeError("sandbox session failed to open")
            async for chunk in super().stream(request):
                yield chunk

    result = solve(FlakySession(lambda *a: "\\boxed{42}"), StrategyConfig(samples=3))
    assert result.answer == "42" and result.votes == {"42": 2.0}
    [failed] = [s for s in result.samples if s.finish_reason == "error"]
    assert failed.index == 1 and "RuntimeError: sandbox session failed" in str(failed.error)


def test_a_run_goes_on_after_a_failed_problem_and_stops_when_the_engine_is_gone(tmp_path):
    from aimo.engines.base import EngineError
    from aimo.solve.config import BudgetConfig
    from aimo.solve.records import RecordWriter, read_records
    from aimo.solve.run import RunSettings, solve_problems

    class DiesOnSecond(ScriptedEngine):
        async def stream(self, request):
            if request.meta.get("problem_id") != "p0":
                raise EngineError("server down")
            async for chunk in super().stream(request):
                yield chunk

    problems = [Problem(id=f"p{i}", text=f"Problem {i}", answer="42") for i in range(6)]
    settings = RunSettings(StrategyConfig(samples=1), SamplingConfig(max_tokens=50), BudgetConfig())
    writer = RecordWriter(tmp_path / "out.jsonl")
    with pytest.raises(EngineError, match="3 problems in a row failed"):
        asyncio.run(solve_problems(DiesOnSecond(lambda *a: "\\boxed{42}"), problems, settings, output=writer))
    writer.close()
    records = [r for r in read_records(tmp_path / "out.jsonl") if r.get("kind") == "problem"]
    assert [r["problem_id"] for r in records] == ["p0", "p1", "p2", "p3"]
    assert records[0]["correct"] is True and all(r["stop_reason"] == "error" for r in records[1:])


def test_sample_record_round_trip():
    engine = ScriptedEngine(lambda i, call, req: "\\boxed{42}")
    result = solve(engine, StrategyConfig(samples=2))
    from aimo.solve.types import ProblemResult

    again = ProblemResult.from_record(result.to_record())
    assert again == result
    assert isinstance(again.samples[0], Sample)


def test_thinking_that_ends_without_a_box_is_forced_to_answer():
    def script(i, call, req):
        return "<think>hmm, 6 times 7</think> and then more" if call == 0 else "42"

    engine = ScriptedEngine(script)
    result = solve(engine, StrategyConfig(samples=1, stop_at_think_end=True))
    sample = result.samples[0]
    assert sample.answer == "42" and sample.forced is True
    cue = engine.calls[1].assistant_prefix
    assert cue.count("</think>") == 1  # the thinking was closed already: not closed twice


class TemplateOpensThinking(ScriptedEngine):
    """A scripted engine whose chat template opens `<think>` for the assistant (like R1 distills)."""

    def render_prompt(self, request):
        return "<|User|>question<|Assistant|><think>\n" + request.assistant_prefix


def test_forcing_closes_thinking_that_the_chat_template_opened():
    engine = TemplateOpensThinking(lambda i, call, req: "let me think " * 50 if call == 0 else "42")
    result = solve(engine, StrategyConfig(samples=1), max_tokens=10)
    cue = engine.calls[1].assistant_prefix
    assert "<think>" not in cue and cue.endswith("</think>" + FORCE_CUE)
    assert result.samples[0].answer == "42"


def test_sample_zero_is_greedy_and_wins_a_tie():
    answers = ["7", "8"]
    engine = ScriptedEngine(lambda i, call, req: f"\\boxed{{{answers[i]}}}", delay=0.0)
    strategy = StrategyConfig(samples=2)
    runner = SampleRunner(engine, strategy, SamplingConfig(max_tokens=50, temperature=0.9))
    result = asyncio.run(ProblemSolver(runner, strategy).solve(PROBLEM, None))
    temps = {r.meta["sample_index"]: r.temperature for r in engine.calls}
    assert temps == {0: 0.0, 1: 0.9}
    assert result.votes == {"7": 1.0, "8": 1.0} and result.answer == "7"


def test_a_stream_that_ends_without_a_finish_reason_is_an_error_not_an_answer():
    class Truncated(ScriptedEngine):
        async def stream(self, request):
            yield Chunk(text="The answer is \\bo", tokens=3)  # and then the stream just stops

    result = solve(Truncated(lambda *a: ""), StrategyConfig(samples=1))
    [sample] = result.samples
    assert sample.finish_reason == "error" and "without a finish reason" in str(sample.error)
    assert sample.text == "The answer is \\bo"  # what came is kept


def test_prompt_tokens_count_every_rounds_prefill():
    from aimo.sandbox import Sandbox, SandboxConfig

    class OneChunk(ScriptedEngine):
        """Each stream is one chunk carrying its text, its finish reason and its prompt size."""

        async def stream(self, request):
            self.calls.append(request)
            first = len(self.calls) == 1
            text = "```python\nprint(42)\n```\n" if first else "So \\boxed{42}."
            yield Chunk(text=text, tokens=5, finish_reason="stop", prompt_tokens=10 if first else 30)

    engine = OneChunk(lambda *a: "")
    strategy = StrategyConfig(strategy="tir", samples=1)

    async def go():
        async with Sandbox(SandboxConfig()) as sandbox:
            runner = SampleRunner(
                engine, strategy, SamplingConfig(max_tokens=200), open_session=sandbox.session
            )
            return await ProblemSolver(runner, strategy).solve(PROBLEM, None)

    result = asyncio.run(go())
    assert len(engine.calls) == 2 and result.answer == "42"
    assert result.samples[0].prompt_tokens == 40  # the continuation re-read its longer prompt

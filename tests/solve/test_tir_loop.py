"""The tool-integrated sample loop with a scripted engine and the real sandbox (real processes)."""

from __future__ import annotations

import asyncio

from scripted import ScriptedEngine

from aimo.problems import Problem
from aimo.sandbox import Sandbox, SandboxConfig
from aimo.solve.config import SamplingConfig, StrategyConfig
from aimo.solve.problem import ProblemSolver
from aimo.solve.sample import SampleRunner
from aimo.solve.stopping import AgreeRule
from aimo.solve.types import Sample

PROBLEM = Problem(id="p", text="What is 2^10 mod 1000?", answer="24")
CODE = "We compute.\n```python\nx = 2**10 % 1000\nprint(x)\n```\n"


async def _run(engine, strategy: StrategyConfig, samples: int = 1, max_tokens: int = 400):
    async with Sandbox(SandboxConfig()) as sandbox:
        runner = SampleRunner(
            engine, strategy, SamplingConfig(max_tokens=max_tokens), open_session=sandbox.session
        )
        result = await ProblemSolver(runner, strategy).solve(PROBLEM, None)
        return result, sandbox


def run(engine, **strategy):
    return asyncio.run(_run(engine, StrategyConfig(strategy="tir", samples=1, **strategy)))[0]


def sample_of(result) -> Sample:
    return result.samples[0]


def test_code_block_runs_and_its_output_goes_back_to_the_model():
    def script(i, call, req):
        if call == 0:
            return CODE + "```output\n999 (a made-up output the model must not get to write)\n```"
        assert req.assistant_prefix.endswith(
            "```python\nx = 2**10 % 1000\nprint(x)\n```\n```output\n24\n```\n"
        )
        return "The program printed 24, so the answer is \\boxed{24}."

    engine = ScriptedEngine(script)
    result = run(engine)
    sample = sample_of(result)
    assert result.answer == "24"
    assert [r.output for r in sample.code_runs] == ["24"]
    assert sample.code_runs[0].answer == "24" and not sample.code_runs[0].error
    assert "999" not in sample.text  # the made-up output block was never accepted
    assert engine.calls[0].stop == ("```output",)


def test_state_persists_between_code_blocks_of_a_sample():
    blocks = ["```python\ny = 6\n```\n", "```python\nprint(y * 7)\n```\n", "So \\boxed{42}."]
    result = run(ScriptedEngine(lambda i, call, req: blocks[call]))
    assert [r.output for r in sample_of(result).code_runs] == ["", "42"]
    assert result.answer == "42"


def test_errors_come_back_as_trimmed_tracebacks():
    blocks = ["```python\nimport math\nmath.sqrt(-1)\n```\n", "Hmm. \\boxed{0}"]
    sample = sample_of(run(ScriptedEngine(lambda i, call, req: blocks[call])))
    run_ = sample.code_runs[0]
    assert run_.error and run_.answer is None
    assert "ValueError: math domain error" in run_.output
    assert "worker" not in run_.output.lower()  # no harness frames


def test_timeout_is_reported_and_the_sample_goes_on():
    blocks = ["```python\nwhile True:\n    pass\n```\n", "Too slow. \\boxed{1}"]
    sample = sample_of(run(ScriptedEngine(lambda i, call, req: blocks[call]), code_timeout_s=1.0))
    assert sample.code_runs[0].timed_out and sample.code_runs[0].error
    assert "time" in sample.code_runs[0].output.lower()
    assert sample.answer == "1"


def test_code_rounds_are_capped():
    block = "```python\nprint(1)\n```\n"
    engine = ScriptedEngine(lambda i, call, req: block if call < 10 else "\\boxed{1}")
    sample = sample_of(run(engine, code_rounds=2))
    assert len(sample.code_runs) == 2
    assert len(engine.calls) == 3  # two code rounds, then a round in which code is no longer run


def test_stop_on_first_code_answer():
    engine = ScriptedEngine(lambda i, call, req: CODE if call == 0 else "never asked")
    sample = sample_of(run(engine, stop_on_code_answer=True, answer_from_code=True))
    assert sample.finish_reason == "code_answer" and sample.answer == "24"
    assert len(engine.calls) == 1


def test_cancelled_tir_samples_release_their_sessions():
    def script(i, call, req):
        if i == 0:
            return "\\boxed{24}"
        return "```python\nimport time\ntime.sleep(30)\n```\n"

    async def go():
        engine = ScriptedEngine(script)
        strategy = StrategyConfig(strategy="tir", samples=3, stop_rules=[AgreeRule(1, 1)], code_timeout_s=60)
        async with Sandbox(SandboxConfig()) as sandbox:
            runner = SampleRunner(
                engine, strategy, SamplingConfig(max_tokens=400), open_session=sandbox.session
            )
            result = await ProblemSolver(runner, strategy).solve(PROBLEM, None)
            # The pool keeps serving after sessions were closed mid-call.
            async with await sandbox.session() as session:
                after = await session.run("print(6 * 7)")
            return result, after

    # Well under the 30 s the cancelled code sleeps: closing a session does not wait for its code.
    result, after = asyncio.run(asyncio.wait_for(go(), 25))
    assert result.answer == "24" and result.stop_reason == "1/1"
    assert sum(s.finish_reason == "cancelled" for s in result.samples) == 2
    assert after.stdout == "42\n"


def test_mix_strategy_runs_both_kinds():
    engine = ScriptedEngine(lambda i, call, req: "\\boxed{24}")
    result = asyncio.run(_run(engine, StrategyConfig(strategy="mix", samples=4)))[0]
    assert sorted(s.prompt_kind for s in result.samples) == ["cot", "cot", "tir", "tir"]
    systems = {req.messages[0]["content"] for req in engine.calls}
    assert len(systems) == 2


def test_code_answer_is_kept_when_stopping_on_it_without_answer_from_code():
    engine = ScriptedEngine(lambda i, call, req: CODE if call == 0 else "never asked")
    sample = sample_of(run(engine, stop_on_code_answer=True, answer_from_code=False))
    assert sample.finish_reason == "code_answer" and sample.answer == "24"


def test_a_sample_cut_by_its_token_cap_right_after_a_code_round_is_forced():
    # The code block alone uses up the cap, so the loop ends right after running it.
    def script(i, call, req):
        return "```python\nprint(6 * 7)\n```\n" if not req.assistant_prefix.endswith("\\boxed{") else "42"

    engine = ScriptedEngine(script, chunk_chars=1)
    result = asyncio.run(
        _run(
            engine, StrategyConfig(strategy="tir", samples=1), max_tokens=len("```python\nprint(6 * 7)\n```")
        )
    )[0]
    sample = sample_of(result)
    assert sample.code_runs and sample.code_runs[0].output == "42"
    assert sample.finish_reason == "length" and sample.forced is True
    assert sample.answer == "42"

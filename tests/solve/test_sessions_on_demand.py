"""Tool-integrated samples take a sandbox session at their first code block, not at their start
(real sandbox processes; a scripted engine for the text)."""

from __future__ import annotations

import asyncio

from scripted import ScriptedEngine

from aimo.problems import Problem
from aimo.sandbox import Sandbox, SandboxConfig
from aimo.solve.config import SamplingConfig, StrategyConfig
from aimo.solve.problem import ProblemSolver
from aimo.solve.sample import SampleRunner

PROBLEM = Problem(id="p", text="What is 2^10 mod 1000?", answer="24")
THINKING = "Let me think about it for a while. " * 6
CODE = "```python\nx = 2**10 % 1000\nprint(x)\n```\n"


class StreamCounter(ScriptedEngine):
    """Counts streams generating at once."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.live = self.peak = 0

    async def stream(self, request):
        self.live += 1
        self.peak = max(self.peak, self.live)
        try:
            async for chunk in super().stream(request):
                yield chunk
        finally:
            self.live -= 1


def script(index: int, call: int, request) -> str:
    """Samples 0 and 1 think, then write code; sample 2 answers without code."""
    if index == 2:
        return THINKING + "\\boxed{24}"
    return THINKING + CODE if call == 0 else "So \\boxed{24}"


def test_samples_beyond_max_sessions_generate_and_code_free_ones_take_no_session():
    engine = StreamCounter(script, delay=0.002)
    strategy = StrategyConfig(strategy="tir", samples=3, code_rounds=2)
    opened: list[object] = []

    async def go():
        async with Sandbox(SandboxConfig(max_sessions=1, warm_sessions=1)) as sandbox:

            async def open_session():
                session = await sandbox.session()
                opened.append(session)
                return session

            runner = SampleRunner(engine, strategy, SamplingConfig(max_tokens=400), open_session=open_session)
            return await ProblemSolver(runner, strategy).solve(PROBLEM, None)

    result = asyncio.run(go())
    # One session for three samples, yet all three generated at once: none waited for a session.
    assert engine.peak == 3
    assert len(opened) == 2  # the two samples that wrote code, one after the other; none for sample 2
    assert [s.answer for s in sorted(result.samples, key=lambda s: s.index)] == ["24", "24", "24"]
    assert all(s.code_runs[0].output.strip() == "24" for s in result.samples if s.index < 2)

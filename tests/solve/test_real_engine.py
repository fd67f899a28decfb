"""Tool-integrated reasoning end to end on a real local model (the built-in default, llama.cpp)."""

from __future__ import annotations

import asyncio

import pytest

from aimo.engines.config import EngineConfig
from aimo.engines.factory import open_engine
from aimo.problems import Problem
from aimo.sandbox import Sandbox, SandboxConfig
from aimo.solve.config import BudgetConfig, SamplingConfig, StrategyConfig
from aimo.solve.run import RunSettings, solve_problems


@pytest.mark.slow
def test_default_model_writes_code_that_runs_and_answers():
    pytest.importorskip("llama_cpp", reason="needs llama-cpp-python: pip install -e '.[llamacpp]'")
    problem = Problem(id="divisors", text="Find the sum of all positive divisors of 360.", answer="1170")
    settings = RunSettings(
        strategy=StrategyConfig(strategy="tir", samples=1, code_rounds=2),
        sampling=SamplingConfig(max_tokens=400, temperature=0.0),
        budget=BudgetConfig(),
    )

    async def go():
        async with (
            open_engine(EngineConfig(n_ctx=4096, max_sequences=2)) as engine,
            Sandbox(SandboxConfig()) as sb,
        ):
            return await solve_problems(engine, [problem], settings, sandbox=sb)

    [result] = asyncio.run(go())
    sample = result.samples[0]
    assert sample.code_runs, sample.text
    assert any(run.output.strip() == "1170" for run in sample.code_runs), sample.text
    assert result.answer == "1170" and result.correct is True

"""Solving problems: prompts, the sample loop, voting and stopping rules, the time planner.

The public surface:

>>> import asyncio
>>> from aimo.engines.replay import ReplayEngine
>>> from aimo.engines.traces import TraceProblem, TraceSample
>>> from aimo.solve import RunSettings, StrategyConfig, SamplingConfig, BudgetConfig, solve_problems
>>> from aimo.problems import Problem
>>> samples = tuple(TraceSample(answer=a) for a in ("42", "42", "41"))
>>> engine = ReplayEngine([TraceProblem("p", "What is 6 times 7?", "42", samples)])
>>> settings = RunSettings(StrategyConfig(samples=3), SamplingConfig(), BudgetConfig())
>>> problem = Problem("p", "What is 6 times 7?", "42")
>>> [result] = asyncio.run(solve_problems(engine, [problem], settings))
>>> result.answer, sorted(result.votes.items()), result.correct
('42', [('41', 1.0), ('42', 2.0)], True)
"""

from aimo.solve.budget import BudgetManager, ProblemBudget
from aimo.solve.config import BudgetConfig, SamplingConfig, StrategyConfig
from aimo.solve.planner import Planner, TokenModel
from aimo.solve.problem import ProblemSolver
from aimo.solve.run import RunSettings, solve_problems
from aimo.solve.sample import SampleRunner
from aimo.solve.types import CodeRun, ProblemResult, Sample
from aimo.solve.voting import VoteConfig

__all__ = [
    "BudgetConfig",
    "BudgetManager",
    "CodeRun",
    "Planner",
    "ProblemBudget",
    "ProblemResult",
    "ProblemSolver",
    "RunSettings",
    "Sample",
    "SampleRunner",
    "SamplingConfig",
    "StrategyConfig",
    "TokenModel",
    "VoteConfig",
    "solve_problems",
]

"""`aimo bench harness`: is the harness ever the bottleneck?

Two measurements in one result:

- scanning capacity: recorded samples played by the replay engine at unlimited speed through the
  full solve path (`solve_problems`: the sample loop with its incremental scanner, answer
  extraction, votes; grading left out), in tokens per CPU second of this process. Far above any engine's
  tok/s means the harness keeps up with it on one core.
- efficiency: on a real engine, in the same run, tok/s through the solve path (N samples of each
  problem, answers extracted, votes) over tok/s of the bare engine (the same N requests as plain
  concurrent `engine.stream` calls: same prompts, max_tokens, temperature and seeds, and no early
  stop on either side), so both generate comparable token counts. 1.0 means no overhead.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aimo.bench.engine import run_concurrently
from aimo.bench.result import BenchResult
from aimo.engines.base import Engine, GenerationRequest
from aimo.problems import Problem
from aimo.solve.config import BudgetConfig, SamplingConfig, StrategyConfig
from aimo.solve.prompts import PROMPTS
from aimo.solve.run import RunSettings, problems_from_traces, solve_problems

EFFICIENCY_PROBLEMS: tuple[str, ...] = (
    "What is the remainder when 2^100 is divided by 7?",
    "How many positive divisors does 360 have?",
    "Find the sum of all positive integers n < 100 such that n^2 + 1 is divisible by 5.",
    "What is the smallest positive integer whose digits sum to 30?",
)
UNCAPPED_TOKENS = 1_000_000  # replayed samples play to their recorded end


@dataclass(frozen=True)
class Measured:
    """Tokens processed, and the wall and CPU seconds (of this whole process) they took."""

    tokens: int
    wall_s: float
    cpu_s: float

    def __add__(self, other: Measured) -> Measured:
        return Measured(self.tokens + other.tokens, self.wall_s + other.wall_s, self.cpu_s + other.cpu_s)

    def row(self, part: str) -> dict[str, Any]:
        return {
            "part": part,
            "tokens": self.tokens,
            "wall s": self.wall_s,
            "cpu s": self.cpu_s,
            "tok/s": self.tokens / self.wall_s if self.wall_s > 0 else 0.0,
            "tok/cpu-s": self.tokens / self.cpu_s if self.cpu_s > 0 else 0.0,
        }


async def measure(action: Callable[[], Awaitable[int]]) -> Measured:
    """Run `action` (which returns the tokens it processed) under a wall clock and a CPU clock."""
    wall, cpu = time.perf_counter(), time.process_time()
    tokens = await action()
    return Measured(tokens, time.perf_counter() - wall, time.process_time() - cpu)


def cot_strategy(samples: int) -> StrategyConfig:
    """The solve path with nothing that changes how much is generated: no early stop, no forcing."""
    return StrategyConfig(strategy="cot", samples=samples, stop_on_boxed=False, force_answer=False)


async def scanning_capacity(traces: Path, repeats: int = 1, chunk_tokens: int = 1) -> Measured:
    """Replay every recorded sample at unlimited speed through `solve_problems`, `repeats` times.

    `chunk_tokens=1` streams a token per chunk, as llama.cpp and OpenAI-compatible servers do: the
    per-chunk cost is what limits the harness, so bigger chunks would flatter it."""
    from aimo.engines.replay import ReplayEngine

    # Without gold answers: grading is per problem, not per token, and math mode grades in a child
    # process whose CPU time this process's clock would not see.
    problems = [replace(p, answer=None) for p in problems_from_traces(str(traces))]
    engine = ReplayEngine.from_file(traces, wrap=True, chunk_tokens=chunk_tokens)
    samples = max((len(p.samples) for p in engine.problems.values()), default=1)
    settings = RunSettings(cot_strategy(samples), SamplingConfig(max_tokens=UNCAPPED_TOKENS), BudgetConfig())

    async def run() -> int:
        tokens = 0
        for _ in range(repeats):
            results = await solve_problems(engine, problems, settings)
            tokens += sum(s.completion_tokens for r in results for s in r.samples)
        return tokens

    try:
        return await measure(run)
    finally:
        await engine.aclose()


def efficiency_problems(count: int) -> list[Problem]:
    """The first `count` of the fixed problems (no gold answers: nothing is graded)."""
    return [Problem(id=f"bench-{i}", text=text) for i, text in enumerate(EFFICIENCY_PROBLEMS[:count])]


async def bare_engine(
    engine: Engine, problems: Sequence[Problem], sampling: SamplingConfig, samples: int
) -> int:
    """Each problem's `samples` requests as plain concurrent streams, exactly as the sample loop asks."""
    tokens = 0
    for problem in problems:
        requests = [
            GenerationRequest.sampled(
                sampling,
                i,
                messages=PROMPTS["cot"].messages(problem.text),
                meta={"problem_id": problem.id, "sample_index": i},
            )
            for i in range(samples)
        ]
        timings, _ = await run_concurrently(engine, requests)
        tokens += sum(t.tokens for t in timings)
    return tokens


async def solve_path(
    engine: Engine, problems: Sequence[Problem], sampling: SamplingConfig, samples: int
) -> int:
    """The same problems through `solve_problems` (sample loop, extraction, votes)."""
    settings = RunSettings(cot_strategy(samples), sampling, BudgetConfig())
    results = await solve_problems(engine, problems, settings)
    return sum(s.completion_tokens for r in results for s in r.samples)


async def efficiency(
    engine: Engine, problems: Sequence[Problem], sampling: SamplingConfig, samples: int, repeats: int = 2
) -> tuple[Measured, Measured]:
    """(bare engine, solve path) totals over `repeats` passes.

    The two sides take turns problem by problem, and which goes first alternates, so that a machine
    whose speed drifts (other work, heat) weighs on both alike."""
    warm = sampling.model_copy(update={"max_tokens": min(8, sampling.max_tokens)})
    await bare_engine(engine, problems, warm, samples)  # loads weights, fills the prompt cache
    sides = {"bare": bare_engine, "solve": solve_path}
    totals = dict.fromkeys(sides, Measured(0, 0.0, 0.0))
    turn = 0
    for _ in range(repeats):
        for problem in problems:
            order = ("bare", "solve") if turn % 2 == 0 else ("solve", "bare")
            turn += 1
            for side in order:
                run = sides[side]
                totals[side] += await measure(lambda run=run, p=problem: run(engine, [p], sampling, samples))
    return totals["bare"], totals["solve"]


async def bench_harness(
    traces: Path | None,
    engine: Engine | None = None,
    sampling: SamplingConfig | None = None,
    samples: int = 8,
    problems: int = 2,
    repeats: int = 2,
    scan_repeats: int = 1,
    chunk_tokens: int = 1,
    settings: dict[str, Any] | None = None,
) -> BenchResult:
    """Scanning capacity on `traces` (skipped with a note when absent) and, with an engine, efficiency."""
    result = BenchResult(name="harness", settings={**(settings or {}), "traces": str(traces)})
    scan: Measured | None = None
    if traces is not None and traces.is_file():
        scan = await scanning_capacity(traces, scan_repeats, chunk_tokens)
        result.rows.append(scan.row("scanning (replay, unlimited speed)"))
        result.ratios["scanning tok/s per core"] = scan.tokens / scan.cpu_s if scan.cpu_s > 0 else 0.0
        result.settings.update(scan_repeats=scan_repeats, chunk_tokens=chunk_tokens)
    else:
        result.notes.append(f"scanning skipped: trace file {traces} not found (see ../shared/data/README.md)")
    if engine is not None:
        sampling = sampling or SamplingConfig(max_tokens=512, seed=0)
        if sampling.seed is None:
            sampling = sampling.model_copy(update={"seed": 0})  # both sides must draw the same samples
        chosen = efficiency_problems(problems)
        bare, solve = await efficiency(engine, chosen, sampling, samples, repeats)
        result.rows.append(bare.row("bare engine"))
        result.rows.append(solve.row("solve path"))
        _add_efficiency(result, bare, solve, scan)
        result.settings.update(
            {
                "engine": engine.name,
                "samples": samples,
                "problems": len(chosen),
                "repeats": repeats,
                **sampling.model_dump(),
            }
        )
    else:
        result.notes.append("efficiency skipped: no engine (--no-efficiency)")
    return result


def _add_efficiency(result: BenchResult, bare: Measured, solve: Measured, scan: Measured | None) -> None:
    bare_rate = bare.tokens / bare.wall_s if bare.wall_s > 0 else 0.0
    solve_rate = solve.tokens / solve.wall_s if solve.wall_s > 0 else 0.0
    ratios = result.ratios
    ratios["efficiency (solve path / bare engine tok/s)"] = solve_rate / bare_rate if bare_rate else 0.0
    ratios["token ratio (solve path / bare engine)"] = solve.tokens / bare.tokens if bare.tokens else 0.0
    if scan is not None and bare_rate > 0 and scan.cpu_s > 0:
        ratios["scanning headroom (scan tok/cpu-s / engine tok/s)"] = scan.tokens / scan.cpu_s / bare_rate
    if bare.tokens and abs(solve.tokens / bare.tokens - 1) > 0.05:
        result.notes.append(
            "the two sides generated token counts more than 5% apart (sampling differs between runs "
            "on this engine): compare tok/s, not seconds"
        )
    result.notes.append(
        "cpu s is the whole process (an in-process engine's threads included); efficiency 1.0 means the "
        "solve path adds no overhead over the bare engine"
    )

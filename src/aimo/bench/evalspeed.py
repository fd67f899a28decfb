"""How close `aimo eval` comes to the engine's own speed: eval tok/s ÷ saturated engine tok/s.

In one run on one engine: the engine alone at the eval's in-flight cap K (`aimo bench engine`'s
long-output streams, before and after, averaged so drift weighs on both), then the evaluation with K
samples in flight across problems, then (unless skipped) the one-problem-at-a-time evaluation. Tokens
are the samples' completion tokens (cancelled ones included); seconds are wall-clock.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from aimo.bench.engine import level_requests, run_concurrently
from aimo.bench.result import BenchResult
from aimo.config import RunConfig
from aimo.engines.base import Engine
from aimo.evaluate.rundir import RunDir, RunInfo
from aimo.evaluate.runner import run_eval
from aimo.problems import Problem


async def engine_tok_s(engine: Engine, streams: int, max_tokens: int, seed: int, nonce: str) -> float:
    """Output tok/s of `streams` long-output requests started at once."""
    timings, wall = await run_concurrently(engine, level_requests(streams, max_tokens, 0.7, seed, nonce))
    return sum(t.tokens for t in timings) / wall if wall > 0 else 0.0


async def eval_tok_s(
    engine: Engine, config: RunConfig, problems: Sequence[Problem], concurrency: int | None, out: Path
) -> tuple[float, int, float]:
    """(tok/s, tokens, seconds) of one evaluation of `problems` into the run directory `out`."""
    info = RunInfo(config=config, dataset={"spec": "bench"}, problem_ids=[p.id for p in problems], seed=0)
    run = RunDir.create(out, info)
    started = time.perf_counter()
    await run_eval(engine, problems, run, concurrency=concurrency)
    seconds = time.perf_counter() - started
    tokens = sum(s.completion_tokens for r in run.records() for s in r.result.samples)
    return tokens / seconds if seconds > 0 else 0.0, tokens, seconds


async def bench_eval(
    engine: Engine,
    config: RunConfig,
    problems: Sequence[Problem],
    concurrency: int,
    sequential: bool = True,
    settings: dict[str, object] | None = None,
) -> BenchResult:
    """Engine tok/s at `concurrency`, eval tok/s with that many samples in flight (and one problem at
    a time); the ratios eval / engine."""
    max_tokens = config.sampling.max_tokens
    seed = config.sampling.seed or 0
    await run_concurrently(engine, level_requests(1, min(8, max_tokens), 0.7, seed, "warm-up"))
    before = await engine_tok_s(engine, concurrency, max_tokens, seed, "before")
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="aimo-bench-eval-") as tmp:
        runs = {f"eval, {concurrency} in flight": concurrency}
        if sequential:
            runs["eval, one problem at a time"] = None
        measured = {}
        for i, (name, k) in enumerate(runs.items()):
            measured[name] = await eval_tok_s(engine, config, problems, k, Path(tmp) / f"run{i}")
    after = await engine_tok_s(engine, concurrency, max_tokens, seed, "after")
    saturated = (before + after) / 2
    rows.append({"run": f"engine alone, {concurrency} streams", "tok/s": saturated, "tokens": "", "s": ""})
    ratios = {}
    for name, (rate, tokens, seconds) in measured.items():
        rows.append({"run": name, "tok/s": rate, "tokens": tokens, "s": round(seconds, 2)})
        ratios[f"{name} / engine"] = rate / saturated if saturated > 0 else 0.0
    return BenchResult(
        name="eval-speed",
        settings={
            "engine": engine.name,
            **(settings or {}),
            "problems": len(problems),
            "samples": config.strategy.samples,
            "max_tokens": max_tokens,
            "concurrency": concurrency,
            "engine tok/s before, after": [round(before, 1), round(after, 1)],
        },
        rows=rows,
        ratios=ratios,
        notes=["goal: eval / engine ≥ 0.9 (issue 12)"],
    )

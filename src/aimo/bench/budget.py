"""`aimo bench budget`: aimo under a time budget against the plain single pass of the same model.

The plain pass is what a user would write without aimo: llama-cpp-python's own
`Llama.create_chat_completion` with the model's chat template, the chain-of-thought system prompt,
greedy decoding, one problem after another, the answer taken from the last `\\boxed{}`. Its wall time
(model loading excluded) sets the budget: aimo then solves the same problems with
`--time-budget factor × that time` for each factor (0.5, 1, 2 by default), in the same run, and the
result lists both scores and times and their difference. Both sides are graded by the same grader.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aimo.answers import ExtractionConfig, extract_answer, grade
from aimo.bench.result import BenchResult
from aimo.config import RunConfig
from aimo.engines.base import EngineError
from aimo.problems import Problem, load_problems
from aimo.solve.prompts import COT_SYSTEM

DEFAULT_FACTORS = (0.5, 1.0, 2.0)
Progress = Callable[[str], None]


@dataclass(frozen=True)
class PassResult:
    """One side's outcome on the problems."""

    label: str
    budget_s: float | None
    score: int
    problems: int
    seconds: float
    tokens: int
    answers: dict[str, str | None]


def draw_problems(
    path: str | Path, n: int, seed: int, levels: Sequence[int] = (1, 2, 3), integer_only: bool = True
) -> list[Problem]:
    """A seeded draw of `n` problems of the given MATH levels (integer gold answers only by default).

    Problems without a `level` field are all eligible (e.g. AIME files)."""
    wanted = {f"Level {lv}" for lv in levels}
    pool = [
        p
        for p in load_problems(str(path))
        if p.answer is not None
        and (p.meta.get("level") is None or p.meta.get("level") in wanted)
        and (not integer_only or re.fullmatch(r"-?\d+", p.answer.strip()))
    ]
    if len(pool) < n:
        raise ValueError(f"{path}: only {len(pool)} problems match (levels {list(levels)}), {n} asked for")
    return random.Random(seed).sample(pool, n)


def plain_pass(
    model_path: str,
    problems: Sequence[Problem],
    *,
    max_tokens: int = 1024,
    n_ctx: int = 4096,
    n_threads: int | None = None,
    progress: Progress | None = None,
) -> PassResult:
    """The single greedy pass through llama-cpp-python directly (not through aimo's engine)."""
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise EngineError("aimo bench budget needs llama-cpp-python: pip install 'aimo[llamacpp]'") from exc
    llm = Llama(model_path=model_path, n_ctx=n_ctx, n_threads=n_threads, verbose=False)
    extraction = ExtractionConfig(mode="integer")
    answers: dict[str, str | None] = {}
    score = tokens = 0
    started = time.monotonic()
    try:
        for i, problem in enumerate(problems):
            response: Any = llm.create_chat_completion(
                messages=[
                    {"role": "system", "content": COT_SYSTEM},
                    {"role": "user", "content": problem.text},
                ],
                temperature=0.0,
                max_tokens=max_tokens,
            )
            text = response["choices"][0]["message"]["content"] or ""
            tokens += response["usage"]["completion_tokens"]
            answer = extract_answer(text, extraction)
            answers[problem.id] = answer
            score += bool(answer is not None and problem.answer is not None and grade(answer, problem.answer))
            if progress:
                progress(
                    f"plain pass {i + 1}/{len(problems)}: {score} right, {time.monotonic() - started:.0f}s"
                )
    finally:
        seconds = time.monotonic() - started
        with contextlib.suppress(Exception):
            llm.close()
    return PassResult("plain", None, score, len(problems), seconds, tokens, answers)


async def aimo_pass(
    config: RunConfig, problems: Sequence[Problem], budget_s: float, progress: Progress | None = None
) -> PassResult:
    """`aimo solve --time-budget budget_s` on the problems (model loading excluded from the budget)."""
    from aimo.engines.factory import open_engine
    from aimo.solve.run import RunSettings, solve_problems

    config = config.override(budget={"total_s": budget_s})
    settings = RunSettings(strategy=config.strategy, sampling=config.sampling, budget=config.budget)
    done: list[bool] = []

    def count(result: Any) -> None:
        done.append(bool(result.correct))
        if progress:
            progress(f"aimo ×{budget_s:.0f}s: {len(done)}/{len(problems)}, {sum(done)} right")

    async with open_engine(config.engine_for_run()) as engine:
        started = time.monotonic()
        results = await solve_problems(engine, problems, settings, on_result=count)
        seconds = time.monotonic() - started
    return PassResult(
        "aimo",
        budget_s,
        sum(bool(r.correct) for r in results),
        len(problems),
        seconds,
        sum(s.completion_tokens for r in results for s in r.samples),
        {r.problem_id: r.answer for r in results},
    )


def bench_budget(
    model_path: str,
    problems: Sequence[Problem],
    config: RunConfig,
    factors: Sequence[float] = DEFAULT_FACTORS,
    *,
    max_tokens: int = 1024,
    n_ctx: int = 4096,
    progress: Progress | None = None,
    settings: dict[str, Any] | None = None,
    on_pass: Callable[[BenchResult], None] | None = None,
) -> BenchResult:
    """The plain pass, then aimo at each factor × its time; rows, ratios and notes for the report.

    `on_pass` gets the result so far after each pass (a long benchmark that is stopped keeps them)."""
    plain = plain_pass(
        model_path,
        problems,
        max_tokens=max_tokens,
        n_ctx=n_ctx,
        n_threads=config.engine.n_threads,
        progress=progress,
    )
    passes = [plain]
    for factor in factors:
        if on_pass:
            on_pass(_result(passes, problems, config, factors, max_tokens, n_ctx, model_path, settings))
        passes.append(asyncio.run(aimo_pass(config, problems, factor * plain.seconds, progress)))
    return _result(passes, problems, config, factors, max_tokens, n_ctx, model_path, settings)


def _result(
    passes: Sequence[PassResult],
    problems: Sequence[Problem],
    config: RunConfig,
    factors: Sequence[float],
    max_tokens: int,
    n_ctx: int,
    model_path: str,
    settings: dict[str, Any] | None,
) -> BenchResult:
    plain = passes[0]
    rows = [
        {
            "run": p.label if p.budget_s is None else f"aimo {p.budget_s / plain.seconds:g}×",
            "budget s": p.budget_s,
            "seconds": p.seconds,
            "score": p.score,
            "of": p.problems,
            "vs plain": p.score - plain.score,
            "tokens": p.tokens,
        }
        for p in passes
    ]
    ratios = {
        f"score at {p.budget_s / plain.seconds:g}× / plain": p.score / max(1, plain.score)
        for p in passes[1:]
        if p.budget_s
    }
    notes = [
        "plain: llama-cpp-python create_chat_completion, greedy, max_tokens "
        f"{max_tokens}, n_ctx {n_ctx}; aimo: `aimo solve --time-budget` with the config below",
        "a timed aimo run must end inside its budget: "
        + ", ".join(f"{p.seconds:.0f}s of {p.budget_s:.0f}s" for p in passes[1:] if p.budget_s),
    ]
    return BenchResult(
        name="budget",
        settings={
            **(settings or {}),
            "model_path": model_path,
            "problems": [p.id for p in problems],
            "factors": list(factors),
            "config": json.loads(config.model_dump_json()),
            "answers": {
                p.label if p.budget_s is None else f"aimo {p.budget_s:.0f}s": p.answers for p in passes
            },
        },
        rows=rows,
        ratios=ratios,
        notes=notes,
    )


def budget_chart(result: BenchResult) -> str:
    """Score against seconds: aimo at each budget as a line, the plain pass as a reference line."""
    from aimo.svg import Series, line_chart

    plain = next(r for r in result.rows if r["budget s"] is None)
    timed = [r for r in result.rows if r["budget s"] is not None]
    series = [Series("aimo (time budget)", [r["budget s"] for r in timed], [r["score"] for r in timed])]
    return line_chart(
        series,
        x_label="time budget (s)",
        y_label=f"problems right (of {plain['of']})",
        marks=[(plain["score"], f"plain single pass ({plain['seconds']:.0f}s)", "#888")],
    )

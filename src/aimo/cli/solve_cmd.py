"""`aimo solve` and `aimo models`."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from aimo.cli.interrupt import command_line, interruptible
from aimo.cli.options import AnswerFieldOpt, IdFieldOpt, TextFieldOpt, with_run_options
from aimo.cli.progress import lost_samples, progress_bar
from aimo.config import RunConfig
from aimo.engines.factory import open_engine
from aimo.errors import AimoError
from aimo.problems import FieldNames, Problem, load_problems, problem_from_text
from aimo.solve.records import RecordWriter
from aimo.solve.run import RunSettings, problems_from_traces, results_in, sandbox_for, solve_problems
from aimo.solve.types import ProblemResult

err = Console(stderr=True)
out = Console()


def looks_like_file(value: str) -> bool:
    """A problem argument is a file when it names one (or has a problem-file extension)."""
    return Path(value).is_file() or (
        "\n" not in value and len(value) < 300 and value.endswith((".jsonl", ".json", ".csv", ".parquet"))
    )


@with_run_options
def solve(
    problem: Annotated[
        str, typer.Argument(help="Problem text, or a problem file (.jsonl .json .csv .parquet).")
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write one JSON line per problem.")
    ] = None,
    resume: Annotated[bool, typer.Option(help="Skip problems already in --output.")] = False,
    id_field: IdFieldOpt = None,
    text_field: TextFieldOpt = None,
    answer_field: AnswerFieldOpt = None,
    *,
    run_config: RunConfig,
    run_flags: dict[str, Any],
) -> None:
    """Solve a problem (or a file of problems): N samples, majority vote of the boxed answers."""
    traces = run_config.engine.traces
    if (
        traces is not None
        and Path(problem.split("#")[0]).resolve() == Path(str(traces).split("#")[0]).resolve()
    ):
        problems = problems_from_traces(problem)  # replaying a trace file: its own problems
    elif looks_like_file(problem):
        problems = load_problems(problem, FieldNames(id=id_field, text=text_field, answer=answer_field))
    else:
        problems = [problem_from_text(problem)]
    if resume and output is None:
        raise AimoError("--resume continues a results file: give it with -o FILE")
    writer = RecordWriter(output, resume=resume) if output else None
    ids = {p.id for p in problems}
    earlier = [r for r in results_in(output) if r.problem_id in ids] if writer and resume else []
    new: list[ProblemResult] = []

    def kept() -> str:
        if writer is None:
            return "nothing was saved (give -o FILE to keep results and resume later)"
        return (
            f"{len(earlier) + len(new)} of {len(problems)} problems are in {output}; "
            f"continue with: {command_line('--resume')}"
        )

    started = time.monotonic()
    try:
        with interruptible(err, kept):
            asyncio.run(_solve(run_config, problems, writer, len(earlier), new.append))
    finally:
        if writer:
            writer.close()
    _print_summary(new, earlier, len(problems), time.monotonic() - started)


async def _solve(
    config: RunConfig,
    problems: list[Problem],
    writer: RecordWriter | None,
    done_before: int,
    collect: Callable[[ProblemResult], None],
) -> None:
    from aimo.data.scheduler import token_prior

    settings = RunSettings(
        config.strategy, config.sampling, config.budget, token_prior(config.budget.token_scheduler)
    )
    async with contextlib.AsyncExitStack() as stack:
        with err.status("loading the model…"):
            engine = await stack.enter_async_context(
                open_engine(config.engine_for_run(), progress=lambda msg: err.print(f"[dim]{msg}[/dim]"))
            )
        sandbox = await stack.enter_async_context(sandbox_for(config.strategy, config.sandbox))
        if len(problems) == 1:

            def show(result: ProblemResult) -> None:
                collect(result)
                _print_result(result)

            with err.status(f"solving with {config.strategy.samples} samples…"):
                await solve_problems(engine, problems, settings, sandbox, writer, on_result=show)
            return
        with progress_bar(err) as progress:
            task = progress.add_task("problems", total=len(problems), completed=done_before)

            def advance(result: ProblemResult) -> None:
                collect(result)
                progress.advance(task)
                _print_result(result, console=progress.console)

            await solve_problems(engine, problems, settings, sandbox, writer, on_result=advance)


def format_votes(votes: dict[str, float], limit: int = 5) -> str:
    """`42 ×5, 7 ×2` — the tally, best first."""
    ranked = sorted(votes.items(), key=lambda kv: -kv[1])
    text = ", ".join(f"{a} ×{w:g}" for a, w in ranked[:limit])
    return (
        text + (f", … ({len(ranked) - limit} more)" if len(ranked) > limit else "")
        if ranked
        else "no answers"
    )


def _print_result(result: ProblemResult, console: Console = out) -> None:
    mark = {True: " [green]✓[/green]", False: f" [red]✗[/red] (gold {result.gold})", None: ""}[result.correct]
    console.print(
        f"[bold]{result.problem_id}[/bold]: answer [bold cyan]{result.answer}[/bold cyan]{mark}  "
        f"votes: {format_votes(result.votes)}  [dim]{result.seconds:.1f}s, "
        f"{sum(s.completion_tokens for s in result.samples)} tokens, stop: {result.stop_reason}[/dim]",
        highlight=False,
    )


def _print_summary(
    new: list[ProblemResult], earlier: list[ProblemResult], total: int, seconds: float
) -> None:
    """One line: problems done of the file (with those an earlier run wrote), correct, lost samples."""
    results = earlier + new
    lost = lost_samples(new)
    if total == 1 and not lost:
        return  # the problem's own line says it all
    line = f"{len(results)}/{total} problems done"
    line += f" ({len(new)} in this run, {seconds:.1f}s)" if earlier else f" in {seconds:.1f}s"
    graded = [r for r in results if r.correct is not None]
    if graded:
        right = sum(bool(r.correct) for r in graded)
        line += f"; correct {right}/{len(graded)} ({right / len(graded):.1%})"
    out.print(line + lost, highlight=False)


def models(
    fetch: Annotated[str | None, typer.Option(help="Fetch a built-in model into the cache.")] = None,
) -> None:
    """List models available locally and the built-in models aimo can fetch."""
    from aimo.models import (
        BUILTIN_MODELS,
        builtin_model,
        default_model_name,
        ensure_builtin,
        list_local_models,
    )

    if fetch:
        if (builtin := builtin_model(fetch)) is None:
            raise typer.BadParameter(f"not a built-in model: {fetch} (see `aimo models`)")
        path = ensure_builtin(builtin, progress=lambda m: err.print(f"[dim]{m}[/dim]"))
        out.print(f"{fetch}: {path}")
        return
    local = list_local_models()
    table = Table(title="Local models")
    for column in ("name", "size", "source", "location"):
        table.add_column(column, overflow="fold")
    for model in local:
        table.add_row(model.name, f"{model.size / 2**20:,.0f} MiB", model.source, model.location)
    out.print(table if local else "no local models yet")
    builtin = Table(title="Built-in models (fetched on first use)")
    for column in ("name", "", "description"):
        builtin.add_column(column, overflow="fold")
    default = default_model_name()
    for name, model in BUILTIN_MODELS.items():
        builtin.add_row(name, "default" if name == default else "", model.description)
    out.print(builtin)


def register(app: typer.Typer, bench_app: typer.Typer) -> Any:
    app.command()(solve)
    app.command()(models)

"""`aimo eval` (resumable validation runs: repeats, competition orders), `aimo report`, `aimo compare`."""

from __future__ import annotations

import asyncio
import shlex
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from aimo.cli.interrupt import interruptible
from aimo.cli.options import AnswerFieldOpt, IdFieldOpt, TextFieldOpt, with_run_options
from aimo.cli.progress import lost_samples, progress_bar
from aimo.config import RunConfig
from aimo.errors import AimoError
from aimo.evaluate.analysis import Analysis, analyze
from aimo.evaluate.compare import compare_runs, render_comparison
from aimo.evaluate.launch import EvalRequest, Session, execute, resume, start
from aimo.evaluate.report import fmt, fmt_ci, fmt_spread, headline, reference_line, write_report
from aimo.evaluate.rundir import RunDir
from aimo.evaluate.shards import merge_shards, parse_shard
from aimo.problems import FieldNames
from aimo.solve.types import ProblemResult

err = Console(stderr=True)
out = Console()

DEFAULT_ORDERS = 4


@with_run_options
def eval_(
    dataset: Annotated[
        str | None,
        typer.Argument(
            help="Problem file, trace file (with --engine replay --traces), a dataset name "
            "(aime2024, aime2025, math500, aimo-validation-aime, aimo-validation-amc, aimo2-reference), "
            "or with --resume alone a run directory."
        ),
    ] = None,
    repeats: Annotated[
        int, typer.Option("--repeats", "-r", min=1, help="Runs of the whole set, seeds base + 1000 r.")
    ] = 1,
    out_dir: Annotated[
        Path | None, typer.Option("--out", "-o", help="Run directory (default runs/<dataset>-<time>).")
    ] = None,
    resume_run: Annotated[
        bool, typer.Option("--resume", help="Continue the run in --out (or: aimo eval --resume DIR).")
    ] = False,
    simulate_budget: Annotated[
        float | None,
        typer.Option(help="Competition mode: each order of the problems under this many seconds in total."),
    ] = None,
    orders: Annotated[
        int | None,
        typer.Option(min=1, help=f"Competition mode: problem orders to run (default {DEFAULT_ORDERS})."),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N problems.")] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            "-k",
            min=1,
            help="Most samples in flight across problems and repeats (default: what saturates the "
            "engine: llama.cpp's --max-sequences, 256 for servers). Competition mode runs one problem "
            "at a time.",
        ),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            help="Do only shard i/n of the (repeat, problem) work, into OUT/shard-i-of-n (needs --out); "
            "`aimo merge OUT` joins the shards."
        ),
    ] = None,
    ray: Annotated[
        str | None,
        typer.Option(
            help="Run the shards as tasks on this Ray cluster (`local`: start one here), then merge "
            "them into --out (storage every node sees). Needs pip install 'aimo[ray]'."
        ),
    ] = None,
    shards: Annotated[
        int | None,
        typer.Option(min=1, help="With --ray: shards (default: the server URLs given, at least 2)."),
    ] = None,
    report: Annotated[bool, typer.Option(help="Write report.html and report.md at the end.")] = True,
    id_field: IdFieldOpt = None,
    text_field: TextFieldOpt = None,
    answer_field: AnswerFieldOpt = None,
    *,
    run_config: RunConfig,
    run_flags: dict[str, Any],
) -> None:
    """Evaluate on a dataset: metrics with intervals, repeats, competition orders; resumable."""
    if dataset is None:
        raise typer.BadParameter("give a DATASET (or --resume RUN_DIR)")
    if resume_run and out_dir is None:  # `aimo eval --resume RUN_DIR`
        if run_flags:
            given = "--" + next(iter(run_flags)).replace("_", "-")
            raise AimoError(f"--resume RUN_DIR takes its options from the run's config.json; drop {given}")
        session = resume(Path(dataset))
    else:
        mode = "eval"
        if simulate_budget is not None:
            run_config = run_config.override(budget={"total_s": simulate_budget})
            mode, repeats = "competition", orders or DEFAULT_ORDERS
        elif orders is not None:
            raise typer.BadParameter("--orders goes with --simulate-budget")
        request = EvalRequest(
            dataset=dataset,
            config=run_config,
            repeats=repeats,
            mode=mode,
            out=out_dir,
            fields=FieldNames(id=id_field, text=text_field, answer=answer_field),
            limit=limit,
            shard=None if shard is None else parse_shard(shard),
        )
        if ray is not None:
            from aimo.evaluate.distributed import run_on_ray

            count = shards or max(2, len(run_config.engine.base_urls))
            with err.status(f"{count} shards on Ray ({ray})…"):
                merged = run_on_ray(request, ray, count, resume=resume_run, concurrency=concurrency)
            _finish(merged, report)
            return
        session = start(request, resume=resume_run)
    _run(session, concurrency)
    _finish(session.run, report)


def _finish(run: RunDir, report: bool) -> None:
    """The summary on the console, and the report files when asked for."""
    print_summary(analyze(run))
    if report:
        html, md = write_report(run.path)
        out.print(f"report: {html}  {md}")


def _run(session: Session, concurrency: int | None = None) -> None:
    info = session.run.info
    done, total = len(session.done), info.repeats * len(session.problems)
    err.print(
        f"[dim]{session.run.path}: {len(session.problems)} problems × {info.repeats} "
        f"{'orders' if info.mode == 'competition' else 'repeats'}"
        + (f", {done} done before" if done else "")
        + "[/dim]"
    )
    tally = {"right": 0, "graded": 0}
    results: list[ProblemResult] = []
    started = time.monotonic()

    def kept() -> str:
        return (
            f"{done + len(results)} of {total} problem runs are in {session.run.path}; "
            f"continue with: aimo eval --resume {shlex.quote(str(session.run.path))}"
        )

    with progress_bar(err) as progress, interruptible(err, kept):
        task = progress.add_task("eval", total=total, completed=done)

        def advance(repeat: int, result: ProblemResult) -> None:
            results.append(result)
            if result.correct is not None:
                tally["graded"] += 1
                tally["right"] += bool(result.correct)
            score = f" · right {tally['right']}/{tally['graded']}" if tally["graded"] else ""
            progress.update(task, advance=1, description=f"repeat {repeat + 1}/{info.repeats}{score}")

        slots = asyncio.run(
            execute(
                session,
                on_result=advance,
                progress=lambda msg: progress.console.print(f"[dim]{msg}[/dim]"),
                concurrency=concurrency,
            )
        )
    in_flight = f", up to {slots.peak} of {slots.limit} samples at once" if slots else ""
    err.print(
        f"[dim]{done + len(results)}/{total} problem runs done ({len(results)} in this run, "
        f"{time.monotonic() - started:.1f}s{in_flight})[/dim][yellow]{lost_samples(results)}[/yellow]"
    )


def print_summary(analysis: Analysis) -> None:
    """The metrics table, the trace file's own scores and the competition score, on the console."""
    table = Table(title=headline(analysis), title_justify="left")
    for column in ("metric", "value", "95% CI", "across repeats", "problems"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for name, estimate in analysis.summary.metrics.items():
        table.add_row(
            name,
            fmt(name, estimate.value),
            fmt_ci(name, estimate),
            fmt_spread(name, estimate),
            str(estimate.problems),
        )
    out.print(table)
    if (line := reference_line(analysis)) is not None:
        out.print(line)
    if (c := analysis.competition) is not None:
        out.print(
            f"competition ({len(c.orders)} orders, {c.budget_s:g}s each): score {c.score.mean:.2f} ± "
            f"{c.score.std:.2f} of {c.orders[0].graded} (min {c.score.min:g}, max {c.score.max:g}); "
            f"time used up to {c.elapsed.max:.1f}s, {c.overruns} overruns"
        )
    if analysis.estimate:
        rows = analysis.estimate["policies"]
        out.print(
            f"offline estimate ({analysis.estimate['setup']['runs']} simulated orders): "
            + ", ".join(f"{p} {r['mean_score']:.2f} ± {r['sd']:.2f}" for p, r in rows.items())
        )
    for note in analysis.notes:
        out.print(f"[yellow]{note}[/yellow]")


def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by aimo eval.")],
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Where to write the report (default: the run directory)."),
    ] = None,
) -> None:
    """Write report.html (self-contained, inline charts) and report.md for a run."""
    html, md = write_report(run_dir, out_dir)
    out.print(f"{headline(analyze(RunDir.open(run_dir)))}\nreport: {html}  {md}")


def compare(
    run_a: Annotated[Path, typer.Argument(help="Run directory A (the baseline).")],
    run_b: Annotated[Path, typer.Argument(help="Run directory B.")],
    metric: Annotated[str, typer.Option(help="accuracy, pass@K, maj@K, tokens/problem, …")] = "accuracy",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write the Markdown here.")
    ] = None,
) -> None:
    """Paired comparison of two runs on their common problems: B − A with an interval, what flipped."""
    try:
        comparison = compare_runs(RunDir.open(run_a), RunDir.open(run_b), metric)
    except ValueError as exc:
        raise AimoError(str(exc)) from None
    text = render_comparison(comparison)
    out.print(text, markup=False, highlight=False)
    if output:
        output.write_text(text, encoding="utf-8")


def merge(
    shards: Annotated[
        list[Path],
        typer.Argument(help="Shard run directories, or the --out DIR that holds shard-i-of-n ones."),
    ],
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="The merged run directory (default: the one DIR given)."),
    ] = None,
    report: Annotated[bool, typer.Option(help="Write report.html and report.md.")] = True,
) -> None:
    """Join the shards of `aimo eval --shard i/n` into one run (all shards present and finished)."""
    if out_dir is None:
        if len(shards) != 1:
            raise typer.BadParameter("give --out for the merged run when merging several directories")
        out_dir = shards[0]
    _finish(merge_shards(shards, out_dir), report)


def register(app: typer.Typer, bench_app: typer.Typer) -> Any:
    app.command("eval")(eval_)
    app.command()(report)
    app.command()(merge)
    app.command()(compare)

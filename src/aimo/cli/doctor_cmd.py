"""`aimo doctor`: a checklist of what a long run depends on, run in a minute before it."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from rich.console import Console

from aimo.cli.options import with_run_options
from aimo.config import RunConfig

err = Console(stderr=True)
out = Console()

MARKS = {
    "pass": "[green]✓[/green]",
    "fail": "[red]✗[/red]",
    "warn": "[yellow]![/yellow]",
    "skip": "[dim]–[/dim]",
}


@with_run_options
def doctor(
    typical_tokens: Annotated[
        int | None,
        typer.Option(min=1, help="Tokens a sample usually takes, for the estimate (default: the cap)."),
    ] = None,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds allowed for each check.")] = 300.0,
    *,
    run_config: RunConfig,
    run_flags: dict[str, Any],
) -> None:
    """Check the engine answers, the chat template, stop strings, answer extraction and the sandbox,
    and estimate seconds per problem; exit 1 with the reason when a check fails."""
    from aimo.doctor import CheckResult, run_doctor

    def show(result: CheckResult) -> None:
        out.print(
            f"{MARKS[result.status]} {result.name:<14} {result.detail} [dim]({result.seconds:.1f}s)[/dim]",
            highlight=False,
        )

    results = asyncio.run(
        run_doctor(
            run_config,
            on_check=show,
            timeout_s=timeout,
            typical_tokens=typical_tokens,
            progress=lambda m: err.print(f"[dim]{m}[/dim]"),
        )
    )
    failed = [r for r in results if r.status == "fail"]
    if failed:
        for result in failed:
            err.print(f"doctor: FAILED {result.name}: {result.detail}", highlight=False)
        raise typer.Exit(1)
    warned = sum(r.status == "warn" for r in results)
    out.print(f"doctor: all checks passed{f' ({warned} warnings)' if warned else ''}")


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add `aimo doctor`."""
    app.command()(doctor)

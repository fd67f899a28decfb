"""`aimo sandbox run FILE.py` and `aimo bench sandbox`."""

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer

from aimo.sandbox import ExecResult, Sandbox, SandboxConfig


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add the `sandbox` command group and the `bench sandbox` benchmark."""
    sandbox_app = typer.Typer(
        help="Run untrusted Python the way model-written code is run.", no_args_is_help=True
    )
    app.add_typer(sandbox_app, name="sandbox")

    @sandbox_app.command("run")
    def run(
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Python file to run.")],
        timeout: Annotated[float | None, typer.Option(help="Wall-clock seconds (default: config).")] = None,
    ) -> None:
        """Run FILE in a fresh sandbox session and print the result as JSON."""
        result = asyncio.run(_run_once(file.read_text(), timeout))
        typer.echo(json.dumps(dataclasses.asdict(result), indent=2))

    @bench_app.command("sandbox")
    def bench(
        json_out: Annotated[Path | None, typer.Option("--json", help="Write the result here too.")] = None,
        n: Annotated[int, typer.Option("--n", min=1, help="Samples per fast operation.")] = 20,
        jupyter: Annotated[bool, typer.Option(help="Include the Jupyter kernel column.")] = True,
    ) -> None:
        """Latency of sandbox calls and session starts vs a fresh subprocess and a Jupyter kernel."""
        from aimo.bench.sandbox import run_bench

        result = run_bench(n=n, jupyter=jupyter)
        result.print()
        if json_out is not None:
            result.write(json_out)


async def _run_once(code: str, timeout: float | None) -> ExecResult:
    async with Sandbox(SandboxConfig(warm_sessions=0)) as sandbox, await sandbox.session() as session:
        return await session.run(code, timeout)

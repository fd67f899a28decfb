"""The `aimo` command: subcommands are registered here from their own modules."""

from __future__ import annotations

import importlib
import sys

import typer

from aimo.errors import AimoError

app = typer.Typer(
    name="aimo",
    help="Solve competition mathematics with open-weight language models, and measure how well it works.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(
    help="Benchmarks: engines, harness, sandbox, answer extraction.", no_args_is_help=True
)
app.add_typer(bench_app, name="bench")

# Each command module has `register(app, bench_app)`; add new modules to this tuple.
_COMMAND_MODULES: tuple[str, ...] = (
    "solve_cmd",
    "grade_cmd",
    "sandbox_cmd",
    "simulate_cmd",
    "bench_cmd",
    "doctor_cmd",
    "eval_cmd",
    "kaggle_cmd",
    "quantize_cmd",
    "data_cmd",
)

for _name in _COMMAND_MODULES:
    importlib.import_module(f"aimo.cli.{_name}").register(app, bench_app)


def main() -> None:
    """Entry point of the `aimo` console script: user-facing errors are one line, exit code 2."""
    try:
        app()
    except AimoError as exc:
        print(f"aimo: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None

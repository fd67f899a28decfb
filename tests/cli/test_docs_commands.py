"""Every `aimo …` command line shown in README.md and docs/*.md parses against the real CLI."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer.core
import typer.main

from aimo.cli.app import app
from aimo.config import RunConfig

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
SYNOPSIS = re.compile(r"\[([^\]|]*?)(?:\|[^\]]*)?\]")  # an optional part, its first alternative


def shown_commands(path: Path) -> list[tuple[str, list[str]]]:
    """(line, argv after `aimo`) of each `aimo …` command in the file's code blocks."""
    found = []
    for block in FENCE.findall(path.read_text(encoding="utf-8")):
        for line in block.replace("\\\n", " ").splitlines():
            command = SYNOPSIS.sub(r"\1", line.strip().removeprefix("$ "))  # `[--mode a|b]` → `--mode a`
            if "&& aimo " in command:
                command = "aimo " + command.split("&& aimo ", 1)[1]
            if command.startswith("aimo "):
                found.append((line.strip(), shlex.split(command, comments=True)[1:]))
    return found


COMMANDS = [(f"{path.name}: {line}", argv) for path in DOCS for line, argv in shown_commands(path)]


def parse(argv: list[str]) -> None:
    """Parse `argv` down to its subcommand the way `aimo` does, without running anything."""
    command = typer.main.get_command(app)
    name, ctx = "aimo", None
    while isinstance(command, typer.core.TyperGroup):  # aimo's groups take no options of their own
        ctx = command.make_context(name, [], parent=ctx, resilient_parsing=True)
        name, *argv = argv
        command = command.get_command(ctx, name)
        assert command is not None, f"no command {name!r}"
    command.make_context(name, argv, parent=ctx)


def test_the_docs_show_commands_of_every_kind():
    shown = {argv[0] for _, argv in COMMANDS}
    assert {"solve", "eval", "grade", "bench", "doctor", "sandbox"} <= shown, shown


@pytest.mark.parametrize(("where", "argv"), COMMANDS, ids=[where for where, _ in COMMANDS])
def test_command_shown_in_the_docs_parses(where, argv):
    try:
        parse(argv)
    except typer.BadParameter as exc:
        if "does not exist" not in exc.format_message():  # example files need not exist here
            raise


@pytest.mark.parametrize("path", sorted((ROOT / "docs" / "examples").glob("*.toml")), ids=lambda p: p.name)
def test_example_configs_load(path: Path) -> None:
    RunConfig.load(path)  # raises ConfigError naming the bad key

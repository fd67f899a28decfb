"""Ctrl-C in a long command: say what was kept and how to go on, then exit 130 (128 + SIGINT)."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console

INTERRUPTED_EXIT = 130


@contextmanager
def interruptible(console: Console, kept: Callable[[], str]) -> Iterator[None]:
    """Turn a KeyboardInterrupt inside the block into one line `interrupted: <kept()>` and exit 130."""
    try:
        yield
    except KeyboardInterrupt:
        console.print(f"interrupted: {kept()}", highlight=False, markup=False, soft_wrap=True)
        raise SystemExit(INTERRUPTED_EXIT) from None


def command_line(*ensure: str) -> str:
    """This command as the user typed it (`aimo …`), with the flags in `ensure` added if missing."""
    args = sys.argv[1:]
    return shlex.join(["aimo", *args, *(flag for flag in ensure if flag not in args)])
